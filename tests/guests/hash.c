// SPDX-License-Identifier: GPL-2.0
/*
 * CPU-bound work whose result the host checks: FNV-1a over the 1 MiB that
 * kqemu-run filled at DATA_BASE, four times over.  The host computes the
 * same hash; a guest that ran wrong cannot hit it by chance.
 */
#include "guest.h"

int main(unsigned long vcpu, unsigned long arg, unsigned long nvcpus)
{
	const volatile uint8_t *p = (const uint8_t *)DATA_BASE;
	uint64_t h = 0xcbf29ce484222325ULL;
	unsigned long i;
	int round;

	for (round = 0; round < 4; round++)
		for (i = 0; i < (1 << 20); i++) {
			h ^= p[i];
			h *= 0x100000001b3ULL;
		}
	outl(RESULT_PORT, (uint32_t)h);
	outl(RESULT_PORT + 4, h >> 32);
	puts_serial("hash: ");
	put_hex(h);
	puts_serial("\n");
	return 0;
}
