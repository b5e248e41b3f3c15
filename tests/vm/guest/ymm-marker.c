// SPDX-License-Identifier: GPL-2.0
/*
 * ymm-marker CPU SECONDS: a host process that keeps a marker in all sixteen
 * YMM registers on CPU, yielding after each round so that a guest's vCPU
 * thread pinned to the same CPU runs in between, for SECONDS or until
 * killed (SIGTERM).  The guest must never see the marker (xsave.bin), and
 * the marker must never find anything else in its own registers: the
 * world switch must neither leak host state into a guest nor leave guest
 * state in a host process.  Prints one line of counts at the end.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../../guests/ymm.h"

#define MARKER	0x4d41524b45525f21ULL

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	stop = 1;
}

int main(int argc, char **argv)
{
	static uint64_t regs[16][4] __attribute__((aligned(32)));
	static const uint64_t marker = MARKER;
	unsigned long rounds = 0, wrong = 0;
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
		rounds++;
	}
	printf("marker: %lu rounds, %lu lanes not its own\n", rounds, wrong);
	return wrong ? 1 : 0;
}
