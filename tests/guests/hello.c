// SPDX-License-Identifier: GPL-2.0
/*
 * Hello over the serial port.  With --arg 1 it also asks CPUID for the
 * vendor and does an RDMSR/WRMSR/RDMSR round trip of IA32_PAT: exits that
 * kqemu-run answers, and after which the guest must go on at the next
 * instruction.
 */
#include "guest.h"

#define MSR_IA32_PAT	0x277

static uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static void wrmsr(uint32_t msr, uint64_t v)
{
	asm volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

int main(unsigned long vcpu, unsigned long arg, unsigned long nvcpus)
{
	puts_serial("Hello from a kqemu guest\n");
	if (arg & 1) {
		uint32_t max, vendor[4] = { 0 };
		uint64_t pat, want = 0x0000000000070406ULL;

		asm volatile("cpuid" : "=a"(max), "=b"(vendor[0]), "=d"(vendor[1]), "=c"(vendor[2])
			     : "a"(0), "c"(0));
		puts_serial("cpuid: vendor ");
		puts_serial((const char *)vendor);
		puts_serial("\n");

		pat = rdmsr(MSR_IA32_PAT);
		wrmsr(MSR_IA32_PAT, want);
		if (rdmsr(MSR_IA32_PAT) != want) {
			puts_serial("msr: PAT did not keep what was written\n");
			return 1;
		}
		wrmsr(MSR_IA32_PAT, pat);
		puts_serial("msr: PAT ");
		put_hex(pat);
		puts_serial(", written and read back\n");
	}
	return 0;
}
