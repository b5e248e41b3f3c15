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
 * Where the CPU and kqemu have AVX-512 (CPUID leaf 7 and leaf 0xD), XCR0
 * takes its three components too, and the same holds for all of ZMM0-31
 * (ZMM0-7 zeroed, ZMM8-31 the guest's pattern in all eight lanes) and for
 * the opmask registers K1-K7; ymm-marker then fills those as well.
 * --arg N: rounds (default 2000).  Exits 0 when all held.
 */
#include "guest.h"
#include "ymm.h"

#define MARKER	0x4d41524b45525f21ULL	/* ymm-marker's "MARKER_!" */
#define PATTERN	0x6775657374000000ULL	/* "guest", then the register */

static uint64_t regs[16][4] __attribute__((aligned(32)));
static uint64_t zregs[32][8] __attribute__((aligned(64)));
static uint64_t kregs[8];
static int avx512;

/* The pattern a register holds in lane L: ZMM/YMM R, or K R (R + 32). */
static uint64_t pattern(int r, int l)
{
	return PATTERN | (r << 8) | l;
}

static void dump_zmm(void)
{
	/* zregs[n] at n * 64: vmovdqa64 to base + n * 0x40. */
	asm volatile(
		"vmovdqa64 %%zmm0, 0x000(%0)\n vmovdqa64 %%zmm1, 0x040(%0)\n"
		"vmovdqa64 %%zmm2, 0x080(%0)\n vmovdqa64 %%zmm3, 0x0c0(%0)\n"
		"vmovdqa64 %%zmm4, 0x100(%0)\n vmovdqa64 %%zmm5, 0x140(%0)\n"
		"vmovdqa64 %%zmm6, 0x180(%0)\n vmovdqa64 %%zmm7, 0x1c0(%0)\n"
		"vmovdqa64 %%zmm8, 0x200(%0)\n vmovdqa64 %%zmm9, 0x240(%0)\n"
		"vmovdqa64 %%zmm10, 0x280(%0)\n vmovdqa64 %%zmm11, 0x2c0(%0)\n"
		"vmovdqa64 %%zmm12, 0x300(%0)\n vmovdqa64 %%zmm13, 0x340(%0)\n"
		"vmovdqa64 %%zmm14, 0x380(%0)\n vmovdqa64 %%zmm15, 0x3c0(%0)\n"
		"vmovdqa64 %%zmm16, 0x400(%0)\n vmovdqa64 %%zmm17, 0x440(%0)\n"
		"vmovdqa64 %%zmm18, 0x480(%0)\n vmovdqa64 %%zmm19, 0x4c0(%0)\n"
		"vmovdqa64 %%zmm20, 0x500(%0)\n vmovdqa64 %%zmm21, 0x540(%0)\n"
		"vmovdqa64 %%zmm22, 0x580(%0)\n vmovdqa64 %%zmm23, 0x5c0(%0)\n"
		"vmovdqa64 %%zmm24, 0x600(%0)\n vmovdqa64 %%zmm25, 0x640(%0)\n"
		"vmovdqa64 %%zmm26, 0x680(%0)\n vmovdqa64 %%zmm27, 0x6c0(%0)\n"
		"vmovdqa64 %%zmm28, 0x700(%0)\n vmovdqa64 %%zmm29, 0x740(%0)\n"
		"vmovdqa64 %%zmm30, 0x780(%0)\n vmovdqa64 %%zmm31, 0x7c0(%0)\n"
		"kmovq %%k1, 0x08(%1)\n kmovq %%k2, 0x10(%1)\n kmovq %%k3, 0x18(%1)\n"
		"kmovq %%k4, 0x20(%1)\n kmovq %%k5, 0x28(%1)\n kmovq %%k6, 0x30(%1)\n"
		"kmovq %%k7, 0x38(%1)\n"
		: : "r"(zregs), "r"(kregs) : "memory");
}

/* ZMM8-31 and K1-K7 the guest's pattern; ZMM0-7 zero (after vzeroall). */
static void load_own_zmm(void)
{
	int r, l;

	for (r = 0; r < 32; r++)
		for (l = 0; l < 8; l++)
			zregs[r][l] = r < 8 ? 0 : pattern(r, l);
	for (r = 1; r < 8; r++)
		kregs[r] = pattern(r + 32, 0);
	asm volatile(
		"vmovdqa64 0x200(%0), %%zmm8\n vmovdqa64 0x240(%0), %%zmm9\n"
		"vmovdqa64 0x280(%0), %%zmm10\n vmovdqa64 0x2c0(%0), %%zmm11\n"
		"vmovdqa64 0x300(%0), %%zmm12\n vmovdqa64 0x340(%0), %%zmm13\n"
		"vmovdqa64 0x380(%0), %%zmm14\n vmovdqa64 0x3c0(%0), %%zmm15\n"
		"vmovdqa64 0x400(%0), %%zmm16\n vmovdqa64 0x440(%0), %%zmm17\n"
		"vmovdqa64 0x480(%0), %%zmm18\n vmovdqa64 0x4c0(%0), %%zmm19\n"
		"vmovdqa64 0x500(%0), %%zmm20\n vmovdqa64 0x540(%0), %%zmm21\n"
		"vmovdqa64 0x580(%0), %%zmm22\n vmovdqa64 0x5c0(%0), %%zmm23\n"
		"vmovdqa64 0x600(%0), %%zmm24\n vmovdqa64 0x640(%0), %%zmm25\n"
		"vmovdqa64 0x680(%0), %%zmm26\n vmovdqa64 0x6c0(%0), %%zmm27\n"
		"vmovdqa64 0x700(%0), %%zmm28\n vmovdqa64 0x740(%0), %%zmm29\n"
		"vmovdqa64 0x780(%0), %%zmm30\n vmovdqa64 0x7c0(%0), %%zmm31\n"
		"kmovq 0x08(%1), %%k1\n kmovq 0x10(%1), %%k2\n kmovq 0x18(%1), %%k3\n"
		"kmovq 0x20(%1), %%k4\n kmovq 0x28(%1), %%k5\n kmovq 0x30(%1), %%k6\n"
		"kmovq 0x38(%1), %%k7\n"
		: : "r"(zregs), "r"(kregs) : "memory");
}

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
	asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
	avx512 = (b >> 16) & 1;
	if (avx512) {
		asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0xd), "c"(0));
		avx512 = (a & 0xe0) == 0xe0;
	}
	asm volatile("xsetbv" : : "c"(0), "a"(avx512 ? 0xe7 : 7), "d"(0));
	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	if (lo != (avx512 ? 0xe7u : 7u) || hi) {
		puts_serial("xsave: XCR0 did not take x87|SSE|AVX, and AVX-512 where offered\n");
		return 3;
	}
	puts_serial(avx512 ? "xsave: AVX-512 too: ZMM0-31 and K1-K7\n" : "xsave: AVX (no AVX-512 here)\n");
	load_own();
	if (avx512)
		load_own_zmm();
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
		if (avx512) {
			dump_zmm();
			for (r = 0; r < 40; r++)
				for (l = 0; l < (r < 32 ? 8 : 1); l++) {
					uint64_t got = r < 32 ? zregs[r][l] : kregs[r - 32];
					uint64_t want = r < 8 ? 0 : r < 32 ? pattern(r, l) :
							r == 32 ? got : pattern(r, 0);

					if (got == want)
						continue;
					if (got == MARKER)
						foreign++;
					if (wrong++ < 4) {
						puts_serial(r < 32 ? "xsave: zmm" : "xsave: k");
						put_dec(r < 32 ? r : r - 32);
						puts_serial(" lane ");
						put_dec(l);
						puts_serial(" holds ");
						put_hex(got);
						puts_serial("\n");
					}
				}
		}
		if (wrong) {
			load_own();
			if (avx512)
				load_own_zmm();
		}
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
