// SPDX-License-Identifier: GPL-2.0
/*
 * Hello over the serial port.  With --arg 1 it also asks CPUID for the
 * vendor, and does RDMSR/WRMSR/RDMSR round trips: of IA32_PAT, which kqemu
 * keeps for the guest itself, and of kqemu-run's own scratch MSR, which
 * exits to kqemu-run; after each the guest must go on at the next
 * instruction.
 */
#include "guest.h"

#define MSR_IA32_PAT	0x277
#define SCRATCH_MSR	0x40000100

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

		wrmsr(SCRATCH_MSR, 0x1234567890abcdefULL);
		if (rdmsr(SCRATCH_MSR) != 0x1234567890abcdefULL) {
			puts_serial("msr: the VMM's MSR did not keep what was written\n");
			return 1;
		}
		puts_serial("msr: the VMM's own MSR, written and read back\n");
	}
	return 0;
}
