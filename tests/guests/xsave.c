// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's vector registers are its own.  With CR4.OSXSAVE and XCR0 =
 * x87|SSE|AVX of its own, the guest zeroes YMM0-7 and puts a pattern of
 * its own in YMM8-15, then spins and exits to the VMM over and over; the
 * host reschedules other work on the CPU meanwhile (the engine suite runs
 * ymm-marker beside it, which fills its YMM registers with a marker).
 * After each exit every YMM register must still hold exactly what the
 * guest put there: the marker, or anything else another context left in
 * the upper halves, means the world switch leaked host state.
 * --arg N: rounds (default 2000).  Exits 0 when all held.
 */
#include "guest.h"
#include "ymm.h"

#define MARKER	0x4d41524b45525f21ULL	/* ymm-marker's "MARKER_!" */
#define PATTERN	0x6775657374000000ULL	/* "guest", then the register */

static uint64_t regs[16][4] __attribute__((aligned(32)));

static void dump_ymm(void)
{
	asm volatile(YMM_STORE_ALL("%0")
		     : : "r"(regs) : "memory");
}

static void load_own(void)
{
	int r, l;

	for (r = 8; r < 16; r++)
		for (l = 0; l < 4; l++)
			regs[r][l] = PATTERN | (r << 8) | l;
	asm volatile("vzeroall\n"
		     "vmovdqa 0x100(%0), %%ymm8\n vmovdqa 0x120(%0), %%ymm9\n"
		     "vmovdqa 0x140(%0), %%ymm10\n vmovdqa 0x160(%0), %%ymm11\n"
		     "vmovdqa 0x180(%0), %%ymm12\n vmovdqa 0x1a0(%0), %%ymm13\n"
		     "vmovdqa 0x1c0(%0), %%ymm14\n vmovdqa 0x1e0(%0), %%ymm15\n"
		     : : "r"(regs) : "memory");
}

int main(unsigned long vcpu, unsigned long arg, unsigned long nvcpus)
{
	unsigned long rounds = arg ? arg : 2000, i, foreign = 0, wrong = 0;
	uint32_t a, b, c, d, lo, hi;
	uint64_t cr4;
	int r, l;

	asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	if (!(c & (1 << 26)) || !(c & (1 << 28))) {
		puts_serial("xsave: this CPU has no XSAVE or AVX\n");
		return 2;
	}
	asm volatile("mov %%cr4, %0" : "=r"(cr4));
	asm volatile("mov %0, %%cr4" : : "r"(cr4 | (1 << 18)));
	asm volatile("xsetbv" : : "c"(0), "a"(7), "d"(0));
	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	if (lo != 7 || hi) {
		puts_serial("xsave: XCR0 did not take x87|SSE|AVX\n");
		return 3;
	}
	load_own();
	for (i = 0; i < rounds; i++) {
		volatile unsigned long spin;

		for (spin = 0; spin < 20000; spin++)
			;
		outb(0x80, 0);		/* an exit to the VMM */
		dump_ymm();
		for (r = 0; r < 16; r++)
			for (l = 0; l < 4; l++) {
				uint64_t want = r < 8 ? 0 : PATTERN | (r << 8) | l;

				if (regs[r][l] == want)
					continue;
				if (regs[r][l] == MARKER)
					foreign++;
				if (wrong++ < 4) {
					puts_serial("xsave: ymm");
					put_dec(r);
					puts_serial(" lane ");
					put_dec(l);
					puts_serial(" holds ");
					put_hex(regs[r][l]);
					puts_serial("\n");
				}
			}
		if (wrong)
			load_own();
	}
	puts_serial("xsave: ");
	put_dec(rounds);
	puts_serial(" rounds, ");
	put_dec(wrong);
	puts_serial(" lanes not the guest's, ");
	put_dec(foreign);
	puts_serial(" of them another process's marker\n");
	return wrong ? 1 : 0;
}
