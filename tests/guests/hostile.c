// SPDX-License-Identifier: GPL-2.0
/*
 * Guests that try to hurt the host, one per --arg.  Each must end in a
 * clean exit that kqemu-run reports, never in a host crash.
 */
#include "guest.h"

int main(unsigned long vcpu, unsigned long what, unsigned long nvcpus)
{
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) none = { 0, 0 };

	switch (what) {
	case 1:		/* triple fault: no IDT, then an exception */
		asm volatile("lidt %0; int3" : : "m"(none));
		break;
	case 2:		/* a wild write far from any memory: MMIO */
		*(volatile uint32_t *)0x30000000UL = 0xbad;
		*(volatile uint64_t *)0x3ffff000UL = 0xbadbad;
		break;
	case 3:		/* jump into memory no slot backs */
		((void (*)(void))0x20000000UL)();
		break;
	case 4:		/* RDMSR of EFER: refused, #GP, no IDT: triple fault */
		asm volatile("rdmsr" : : "c"(0xc0000080) : "rax", "rdx");
		break;
	case 5:		/* SVM instructions and cache flushes */
		asm volatile("wbinvd; invd");
		puts_serial("hostile: wbinvd and invd ran as no-ops\n");
		asm volatile("lidt %0; vmmcall" : : "m"(none));	/* #UD: triple fault */
		break;
	case 6:		/* HLT forever with interrupts off */
		for (;;)
			asm volatile("cli; hlt");
	case 7:		/* spin forever: only the timeout ends it */
		for (;;)
			;
	case 8:		/* debug registers: #UD */
		asm volatile("lidt %0; mov %%rax, %%dr0" : : "m"(none), "a"(0));
		break;
	}
	return 42;
}
