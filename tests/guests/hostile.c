// SPDX-License-Identifier: GPL-2.0
/*
 * Guests that try to hurt the host, one per --arg.  Each must end in a
 * clean exit that kqemu-run reports, never in a host crash.  Where kqemu
 * must give the guest an exception (#GP for a refused MSR, #UD for what a
 * CPU without virtualization would refuse), the guest's own handler
 * checks the vector and that RIP still points at the instruction, and
 * exits with 100 + the vector.
 */
#include "guest.h"

static struct idt_gate idt[32] __attribute__((aligned(16)));
static volatile uint64_t faulting_rip;	/* where the exception must point */

void ud_entry(void);
void gp_entry(void);
void on_fault(uint64_t rip, unsigned long vector);
asm(".text\n"
    "ud_entry:\n"
    "	movq (%rsp), %rdi\n"		/* no error code */
    "	movl $6, %esi\n"
    "	call on_fault\n"
    "gp_entry:\n"
    "	movq 8(%rsp), %rdi\n"		/* past the error code */
    "	movl $13, %esi\n"
    "	call on_fault\n");

void on_fault(uint64_t rip, unsigned long vector)
{
	puts_serial(vector == 6 ? "hostile: #UD" : "hostile: #GP");
	if (rip == faulting_rip) {
		puts_serial(" at the faulting instruction\n");
	} else {
		puts_serial(" at ");
		put_hex(rip);
		puts_serial(", not at ");
		put_hex(faulting_rip);
		puts_serial("\n");
	}
	guest_exit(100 + vector);
}

/* Case 12: each #GP is counted and the 3-byte MOV to CR4 skipped. */
static volatile unsigned long gp_skipped;
void gp_skip_entry(void);
asm(".text\n"
    "gp_skip_entry:\n"
    "	addq $8, %rsp\n"		/* the error code */
    "	addq $3, (%rsp)\n"		/* past mov %rax, %cr4 (0f 22 e0) */
    "	incq gp_skipped(%rip)\n"
    "	iretq\n");

static uint64_t read_cr4(void)
{
	uint64_t v;

	asm volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

/* Sets CR4 to v with exactly mov %rax, %cr4; true when it took #GP. */
static int write_cr4_faults(uint64_t v)
{
	unsigned long before = gp_skipped;

	asm volatile(".byte 0x0f, 0x22, 0xe0" : : "a"(v) : "memory");
	return gp_skipped != before;
}

/*
 * The CR4 bits kqemu does not give a guest: each MOV to CR4 that sets one
 * must fault with #GP and leave CR4 as it was.  A bit it does give (PGE)
 * must still work.  (OSXSAVE is given, with XSAVE state of the guest's
 * own: xsave.bin.)
 */
static int cr4_bits(void)
{
	static const struct { int bit; const char *name; } denied[] = {
		{ 12, "LA57" }, { 13, "VMXE" }, { 14, "SMXE" }, { 15, "reserved 15" },
		{ 19, "reserved 19" }, { 22, "PKE" },
		{ 23, "CET" }, { 24, "PKS" },
	};
	struct idt_gate gp_idt[14] __attribute__((aligned(16))) = { 0 };
	uint64_t cr4 = read_cr4();
	unsigned int i, bad = 0;

	gp_idt[13] = interrupt_gate(gp_skip_entry);
	load_idt(gp_idt, 14);
	for (i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		int faulted = write_cr4_faults(cr4 | (1ULL << denied[i].bit));
		uint64_t now = read_cr4();

		if (!faulted || now != cr4) {
			puts_serial("hostile: CR4.");
			puts_serial(denied[i].name);
			puts_serial(faulted ? " faulted but CR4 is now " : " was set without #GP: CR4 ");
			put_hex(now);
			puts_serial("\n");
			bad++;
			if (now != cr4)
				write_cr4_faults(cr4);
		}
	}
	if (write_cr4_faults(cr4 ^ (1 << 7)) || read_cr4() != (cr4 ^ (1 << 7)) ||
	    write_cr4_faults(cr4) || read_cr4() != cr4) {
		puts_serial("hostile: toggling CR4.PGE did not work\n");
		bad++;
	}
	if (bad)
		return 1;
	puts_serial("hostile: every CR4 bit kqemu keeps took #GP, CR4 unchanged; PGE toggles\n");
	return 100 + 13;
}

static void catch_faults(void)
{
	idt[6] = interrupt_gate(ud_entry);
	idt[13] = interrupt_gate(gp_entry);
	load_idt(idt, 32);
}

/* Where each exception must point: the instruction's own address. */
#define MARK	"lea 1f(%%rip), %%r11\n mov %%r11, %0\n1: "

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
	case 4:		/* RDMSR of FEATURE_CONTROL (not kqemu's): kqemu-run refuses it, so #GP */
		catch_faults();
		asm volatile(MARK "rdmsr" : "=m"(faulting_rip) : "c"(0x3a)
			     : "rax", "rdx", "r11", "memory");
		break;
	case 5:		/* cache flushes are skipped; SVM/VMX instructions #UD */
		catch_faults();
		asm volatile("wbinvd; invd");
		puts_serial("hostile: wbinvd and invd ran as no-ops\n");
		asm volatile(MARK "vmmcall" : "=m"(faulting_rip) : : "r11", "memory");
		break;
	case 6:		/* HLT forever with interrupts off */
		for (;;)
			asm volatile("cli; hlt");
	case 7:		/* spin forever: only the timeout ends it */
		for (;;)
			;
	case 8:		/* DR7 with bits above 31: #GP, as on a CPU */
		catch_faults();
		asm volatile(MARK "mov %%rax, %%dr7" : "=m"(faulting_rip) : "a"(1ULL << 32)
			     : "r11", "memory");
		break;
	case 9:		/* VMCALL, VMX's: #UD too */
		catch_faults();
		asm volatile(MARK "vmcall" : "=m"(faulting_rip) : : "r11", "memory");
		break;
	case 10:	/* a #GP delivered onto a stack no slot backs */
	case 11:	/* ... or onto one in the read-only slot */
		catch_faults();
		asm volatile("mov %1, %%rsp\n"
			     "movl $1, (%0)"
			     : : "r"(0x8000000000000000UL),
				 "r"(what == 10 ? 0x3fff0000UL : ROM_BASE + 0x1000)
			     : "memory");
		break;
	case 12:	/* the CR4 bits a guest does not get */
		return cr4_bits();
	case 13:	/* RDPMC: the host's performance counters, #GP */
		catch_faults();
		asm volatile(MARK "rdpmc" : "=m"(faulting_rip) : "c"(0)
			     : "rax", "rdx", "r11", "memory");
		break;
	}
	return 42;
}
