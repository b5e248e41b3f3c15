// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmark guest.  --arg 1: 100,000 port writes (the exit round
 * trip).  --arg 2: 100,000 CPUIDs (answered in the kernel, with kqemu-run
 * --cpuid host, as KVM does).  --arg 3: 1 MiB out through REP OUTSB to
 * port 0x80, 64 KiB at a time (string I/O throughput).  --arg N >= 16:
 * touch every 4 KiB page from 16 MiB to N MiB.
 */
#include "guest.h"

int main(unsigned long vcpu, unsigned long what, unsigned long nvcpus)
{
	unsigned long i;

	if (what == 1) {
		for (i = 0; i < 100000; i++)
			outb(0x80, i);
		return 0;
	}
	if (what == 2) {
		uint32_t a, b, c, d;

		for (i = 0; i < 100000; i++)
			asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
		return 0;
	}
	if (what == 3) {
		static uint8_t buf[65536];

		for (i = 0; i < 16; i++) {
			const void *src = buf;
			unsigned long n = sizeof(buf);

			asm volatile("rep outsb" : "+S"(src), "+c"(n) : "d"(0x80) : "memory");
		}
		return 0;
	}
	if (what >= 16) {
		/* what = MiB of guest memory: touch each page above 16 MiB. */
		for (i = 16UL << 20; i < what << 20; i += 4096)
			*(volatile uint8_t *)i = 1;
		return 0;
	}
	return 1;
}
