// SPDX-License-Identifier: GPL-2.0
/*
 * ymm-marker CPU SECONDS: a host process that keeps a marker in all sixteen
 * YMM registers on CPU, yielding after each round so that a guest's vCPU
 * thread pinned to the same CPU runs in between, for SECONDS or until
 * killed (SIGTERM).  The guest must never see the marker (xsave.bin), and
 * the marker must never find anything else in its own registers: the
 * world switch must neither leak host state into a guest nor leave guest
 * state in a host process.  Where the CPU and the kernel have AVX-512
 * (XCR0 bits 5-7), ZMM16-31 and K1-K7 hold the marker too.  Prints one
 * line of counts at the end.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cpuid.h>

#include "../../guests/ymm.h"

#define MARKER	0x4d41524b45525f21ULL

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	stop = 1;
}

static int has_avx512(void)
{
	unsigned int a, b, c, d, lo, hi;

	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1 << 16)))
		return 0;
	__get_cpuid(1, &a, &b, &c, &d);
	if (!(c & (1 << 27)))		/* OSXSAVE */
		return 0;
	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (lo & 0xe0) == 0xe0;
}

/* ZMM16-31 and K1-K7 filled with the marker, then checked: lanes not the marker. */
static unsigned long zmm_round(const uint64_t *marker)
{
	static uint64_t z[16][8] __attribute__((aligned(64)));
	static uint64_t k[8];
	unsigned long wrong = 0;
	int r, l;

	asm volatile("vpbroadcastq %0, %%zmm16\n"
		     "vmovdqa64 %%zmm16, %%zmm17\n vmovdqa64 %%zmm16, %%zmm18\n"
		     "vmovdqa64 %%zmm16, %%zmm19\n vmovdqa64 %%zmm16, %%zmm20\n"
		     "vmovdqa64 %%zmm16, %%zmm21\n vmovdqa64 %%zmm16, %%zmm22\n"
		     "vmovdqa64 %%zmm16, %%zmm23\n vmovdqa64 %%zmm16, %%zmm24\n"
		     "vmovdqa64 %%zmm16, %%zmm25\n vmovdqa64 %%zmm16, %%zmm26\n"
		     "vmovdqa64 %%zmm16, %%zmm27\n vmovdqa64 %%zmm16, %%zmm28\n"
		     "vmovdqa64 %%zmm16, %%zmm29\n vmovdqa64 %%zmm16, %%zmm30\n"
		     "vmovdqa64 %%zmm16, %%zmm31\n"
		     "kmovq %0, %%k1\n kmovq %0, %%k2\n kmovq %0, %%k3\n kmovq %0, %%k4\n"
		     "kmovq %0, %%k5\n kmovq %0, %%k6\n kmovq %0, %%k7\n"
		     : : "m"(*marker));
	sched_yield();
	asm volatile("vmovdqa64 %%zmm16, 0x000(%0)\n vmovdqa64 %%zmm17, 0x040(%0)\n"
		     "vmovdqa64 %%zmm18, 0x080(%0)\n vmovdqa64 %%zmm19, 0x0c0(%0)\n"
		     "vmovdqa64 %%zmm20, 0x100(%0)\n vmovdqa64 %%zmm21, 0x140(%0)\n"
		     "vmovdqa64 %%zmm22, 0x180(%0)\n vmovdqa64 %%zmm23, 0x1c0(%0)\n"
		     "vmovdqa64 %%zmm24, 0x200(%0)\n vmovdqa64 %%zmm25, 0x240(%0)\n"
		     "vmovdqa64 %%zmm26, 0x280(%0)\n vmovdqa64 %%zmm27, 0x2c0(%0)\n"
		     "vmovdqa64 %%zmm28, 0x300(%0)\n vmovdqa64 %%zmm29, 0x340(%0)\n"
		     "vmovdqa64 %%zmm30, 0x380(%0)\n vmovdqa64 %%zmm31, 0x3c0(%0)\n"
		     "kmovq %%k1, 0x08(%1)\n kmovq %%k2, 0x10(%1)\n kmovq %%k3, 0x18(%1)\n"
		     "kmovq %%k4, 0x20(%1)\n kmovq %%k5, 0x28(%1)\n kmovq %%k6, 0x30(%1)\n"
		     "kmovq %%k7, 0x38(%1)\n"
		     : : "r"(z), "r"(k) : "memory");
	for (r = 0; r < 16; r++)
		for (l = 0; l < 8; l++)
			wrong += z[r][l] != *marker;
	for (r = 1; r < 8; r++)
		wrong += k[r] != *marker;
	return wrong;
}

int main(int argc, char **argv)
{
	static uint64_t regs[16][4] __attribute__((aligned(32)));
	static const uint64_t marker = MARKER;
	unsigned long rounds = 0, wrong = 0;
	int avx512;
	cpu_set_t set;
	time_t end;
	int r, l;

	if (argc != 3) {
		fprintf(stderr, "usage: ymm-marker CPU SECONDS\n");
		return 2;
	}
	CPU_ZERO(&set);
	CPU_SET(atoi(argv[1]), &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		perror("ymm-marker: sched_setaffinity");
		return 2;
	}
	signal(SIGTERM, on_term);
	avx512 = has_avx512();
	end = time(NULL) + atoi(argv[2]);
	while (!stop && time(NULL) < end) {
		asm volatile("vbroadcastsd %0, %%ymm0\n"
			     "vmovdqa %%ymm0, %%ymm1\n vmovdqa %%ymm0, %%ymm2\n"
			     "vmovdqa %%ymm0, %%ymm3\n vmovdqa %%ymm0, %%ymm4\n"
			     "vmovdqa %%ymm0, %%ymm5\n vmovdqa %%ymm0, %%ymm6\n"
			     "vmovdqa %%ymm0, %%ymm7\n vmovdqa %%ymm0, %%ymm8\n"
			     "vmovdqa %%ymm0, %%ymm9\n vmovdqa %%ymm0, %%ymm10\n"
			     "vmovdqa %%ymm0, %%ymm11\n vmovdqa %%ymm0, %%ymm12\n"
			     "vmovdqa %%ymm0, %%ymm13\n vmovdqa %%ymm0, %%ymm14\n"
			     "vmovdqa %%ymm0, %%ymm15\n"
			     : : "m"(marker));
		sched_yield();
		asm volatile(YMM_STORE_ALL("%0")
			     : : "r"(regs) : "memory");
		for (r = 0; r < 16; r++)
			for (l = 0; l < 4; l++)
				wrong += regs[r][l] != MARKER;
		if (avx512)
			wrong += zmm_round(&marker);
		rounds++;
	}
	printf("marker: %lu rounds%s, %lu lanes not its own\n", rounds,
	       avx512 ? " (with ZMM16-31 and K1-K7)" : "", wrong);
	return wrong ? 1 : 0;
}
