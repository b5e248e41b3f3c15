// SPDX-License-Identifier: GPL-2.0
#include "guest.h"

int main(unsigned long vcpu, unsigned long arg, unsigned long nvcpus)
{
	puts_serial("Hello from a kqemu guest\n");
	return 0;
}
