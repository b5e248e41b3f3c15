// SPDX-License-Identifier: GPL-2.0
/*
 * The MSRs the hardware uses while a guest runs are the guest's own.
 *
 * 1. A new vCPU reads 0 from each of them: not the host's values (the
 *    host's LSTAR is its syscall entry point, and would hand the guest the
 *    host's KASLR base), and not what another guest wrote before.
 * 2. Each keeps what the guest writes, across exits to the VMM.
 * 3. SYSCALL goes where the guest's LSTAR says, 1000 times over.
 * 4. RDTSCP returns the guest's TSC_AUX.
 * 5. SWAPGS swaps the guest's GS base with its KERNEL_GS_BASE, and the
 *    swapped value survives an exit.
 * 6. FS and GS bases written through their MSRs (as a 64-bit kernel does
 *    at each task switch) are what %fs and %gs address, across an exit,
 *    and read back.
 * 7. CR8 keeps the guest's task priority across an exit.
 * 8. A non-canonical LSTAR or GS base is #GP, as on a CPU, and changes nothing
 *    (not with --arg 1: KVM lets the guest write LSTAR to the CPU itself,
 *    and QEMU's emulated CPU takes any value).
 * Exits 0 when all hold; prints what did not.
 */
#include "guest.h"

#define MSR_SYSENTER_CS		0x174
#define MSR_SYSENTER_ESP	0x175
#define MSR_SYSENTER_EIP	0x176
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SFMASK		0xc0000084
#define MSR_FS_BASE		0xc0000100
#define MSR_GS_BASE		0xc0000101
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MSR_TSC_AUX		0xc0000103

static const struct { uint32_t index; const char *name; uint64_t value; } msrs[] = {
	{ MSR_STAR, "STAR", 0x0023001000080000ULL },
	{ MSR_LSTAR, "LSTAR", 0xffff800012345000ULL },
	{ MSR_CSTAR, "CSTAR", 0x0000700000001000ULL },
	{ MSR_SFMASK, "SFMASK", 0x47700 },
	{ MSR_KERNEL_GS_BASE, "KERNEL_GS_BASE", 0x0000123456789000ULL },
	{ MSR_SYSENTER_CS, "SYSENTER_CS", 0x10 },
	{ MSR_SYSENTER_ESP, "SYSENTER_ESP", 0xffff800000abc000ULL },
	{ MSR_SYSENTER_EIP, "SYSENTER_EIP", 0xffff800000def000ULL },
	{ MSR_TSC_AUX, "TSC_AUX", 0x5a5a },
};
#define NR_MSRS	(sizeof(msrs) / sizeof(msrs[0]))

/* A #GP is counted and its 2-byte WRMSR skipped. */
static volatile unsigned long gp_count;
void gp_skip_wrmsr(void);
asm(".text\n"
    "gp_skip_wrmsr:\n"
    "	addq $8, %rsp\n"
    "	addq $2, (%rsp)\n"
    "	incq gp_count(%rip)\n"
    "	iretq\n");

/* SYSCALL lands here: count it and go back, flags as they were. */
static volatile unsigned long syscalls;
void syscall_entry(void);
asm(".text\n"
    "syscall_entry:\n"
    "	incq syscalls(%rip)\n"
    "	pushq %r11\n"
    "	popfq\n"
    "	jmpq *%rcx\n");

static unsigned int bad;
static volatile uint64_t gs_marker = 0x6773206d61726b21ULL;
static volatile uint64_t fs_marker = 0x6673206d61726b21ULL;

static void fail(const char *what, const char *name, uint64_t got)
{
	puts_serial("msrs: ");
	puts_serial(what);
	puts_serial(name);
	puts_serial(": ");
	put_hex(got);
	puts_serial("\n");
	bad++;
}

int main(unsigned long vcpu, unsigned long arg, unsigned long nvcpus)
{
	static struct idt_gate idt[14] __attribute__((aligned(16)));
	uint64_t v;
	unsigned int i, aux;

	for (i = 0; i < NR_MSRS; i++)
		if ((v = rdmsr(msrs[i].index)) != 0)
			fail("a new vCPU does not read 0 from ", msrs[i].name, v);
	for (i = 0; i < NR_MSRS; i++)
		wrmsr(msrs[i].index, msrs[i].value);
	puts_serial("msrs: written; an exit to the VMM in between\n");
	for (i = 0; i < NR_MSRS; i++)
		if ((v = rdmsr(msrs[i].index)) != msrs[i].value)
			fail("did not keep what was written: ", msrs[i].name, v);

	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(MSR_STAR, 0x08ULL << 32);		/* SYSCALL's CS: ours */
	wrmsr(MSR_SFMASK, 0);
	for (i = 0; i < 1000; i++)
		asm volatile("syscall" : : : "rcx", "r11", "memory");
	if (syscalls != 1000)
		fail("SYSCALL did not land at the guest's LSTAR every time, count ", "", syscalls);

	asm volatile("rdtscp" : "=c"(aux) : : "rax", "rdx");
	if (aux != 0x5a5a)
		fail("RDTSCP did not return the guest's ", "TSC_AUX", aux);

	/* GS base is 0 (kqemu-run's flat segments); %gs:0 reads where it points. */
	wrmsr(MSR_KERNEL_GS_BASE, (uint64_t)&gs_marker);
	asm volatile("swapgs");
	puts_serial("msrs: swapped GS; an exit to the VMM in between\n");
	asm volatile("movq %%gs:0, %0" : "=r"(v));
	if (v != gs_marker)
		fail("SWAPGS did not bring in the guest's KERNEL_GS_BASE, %gs:0 reads ", "", v);
	if ((v = rdmsr(MSR_KERNEL_GS_BASE)) != 0)
		fail("after SWAPGS and an exit the wrong ", "KERNEL_GS_BASE", v);
	asm volatile("swapgs");

	wrmsr(MSR_FS_BASE, (uint64_t)&fs_marker);
	wrmsr(MSR_GS_BASE, (uint64_t)&gs_marker);
	puts_serial("msrs: FS and GS bases written; an exit to the VMM in between\n");
	asm volatile("movq %%fs:0, %0" : "=r"(v));
	if (v != fs_marker)
		fail("the FS base WRMSR wrote is not where %fs points, %fs:0 reads ", "", v);
	asm volatile("movq %%gs:0, %0" : "=r"(v));
	if (v != gs_marker)
		fail("the GS base WRMSR wrote is not where %gs points, %gs:0 reads ", "", v);
	if ((v = rdmsr(MSR_FS_BASE)) != (uint64_t)&fs_marker)
		fail("did not keep what was written: ", "FS_BASE", v);
	if ((v = rdmsr(MSR_GS_BASE)) != (uint64_t)&gs_marker)
		fail("did not keep what was written: ", "GS_BASE", v);

	/* CR8, the task priority, is the guest's too, across an exit. */
	asm volatile("mov %0, %%cr8" : : "r"(7UL));
	puts_serial("msrs: CR8 written; an exit to the VMM in between\n");
	outl(0x524, 7);		/* kqemu-run: the run area's cr8 must say 7 */
	asm volatile("mov %%cr8, %0" : "=r"(v));
	if (v != 7)
		fail("CR8 did not keep what was written: ", "CR8", v);
	asm volatile("mov %0, %%cr8" : : "r"(0UL));

	if (!(arg & 1)) {
		idt[13] = interrupt_gate(gp_skip_wrmsr);
		load_idt(idt, 14);
		asm volatile("wrmsr" : : "c"(MSR_LSTAR), "a"(0), "d"(0x00008000));
		if (gp_count != 1)
			fail("a non-canonical LSTAR was not #GP, #GPs ", "", gp_count);
		if ((v = rdmsr(MSR_LSTAR)) != (uint64_t)syscall_entry)
			fail("a refused write changed ", "LSTAR", v);
		asm volatile("wrmsr" : : "c"(MSR_GS_BASE), "a"(0), "d"(0x00008000));
		if (gp_count != 2)
			fail("a non-canonical GS base was not #GP, #GPs ", "", gp_count);
		if ((v = rdmsr(MSR_GS_BASE)) != (uint64_t)&gs_marker)
			fail("a refused write changed ", "GS_BASE", v);
	}
	wrmsr(MSR_FS_BASE, 0);
	wrmsr(MSR_GS_BASE, 0);

	if (bad)
		return 1;
	puts_serial("msrs: every MSR the hardware uses is the guest's own\n");
	return 0;
}
