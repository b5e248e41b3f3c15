// SPDX-License-Identifier: GPL-2.0
/*
 * SMP bring-up as an operating system does it (kqemu-run --smp N --sipi):
 * vCPU 0 copies a trampoline to 0x8000 and starts each other vCPU with a
 * SIPI of vector 0x08 (kqemu-run puts it in its reset state, in real mode
 * at 0800:0000, as a local APIC would).  The trampoline goes from real
 * mode to long mode by itself (CR4.PAE, CR3, EFER.LME by WRMSR, CR0.PG
 * and PE at once, a far jump) and enters ap_main() on a stack of its own.
 * Each AP counts itself in; vCPU 0 waits for them all.  Exits 0 when every
 * AP came up in long mode at CPL 0.
 */
#include "guest.h"

#define TRAMPOLINE	0x8000UL
#define SIPI_PORT	0x520

extern const uint8_t tramp_start[], tramp_end[];
volatile unsigned long next_ap, aps_up, aps_wrong;
uint8_t ap_stacks[16][4096] __attribute__((aligned(16)));

void ap_main(unsigned long index);

asm(".section .rodata\n"
    ".code16\n"
    "tramp_start:\n"
    "	cli\n"
    "	mov %cs, %ax\n"
    "	mov %ax, %ds\n"
    "	lgdtl tramp_gdtr - tramp_start\n"
    "	mov $0x20, %eax\n"			/* CR4.PAE */
    "	mov %eax, %cr4\n"
    "	mov $0x1000, %eax\n"		/* kqemu-run's identity map */
    "	mov %eax, %cr3\n"
    "	mov $0xc0000080, %ecx\n"
    "	rdmsr\n"
    "	or $0x100, %eax\n"			/* EFER.LME */
    "	wrmsr\n"
    "	mov $0x80000011, %eax\n"		/* PG, ET, PE */
    "	mov %eax, %cr0\n"
    "	.byte 0x66, 0xea\n"			/* ljmpl $0x08, $tramp64 */
    "	.long 0x8000 + tramp64 - tramp_start\n"
    "	.word 0x08\n"
    "tramp_gdtr:\n"
    "	.word 23\n"
    "	.long 0x500\n"			/* kqemu-run's GDT: 0x08 code, 0x10 data */
    ".code64\n"
    "tramp64:\n"
    "	mov $0x10, %eax\n"
    "	mov %eax, %ds\n"
    "	mov %eax, %es\n"
    "	mov %eax, %ss\n"
    "	mov $1, %edi\n"
    "	lock xadd %rdi, next_ap\n"
    "	mov %rdi, %rsp\n"
    "	inc %rsp\n"
    "	shl $12, %rsp\n"
    "	add $ap_stacks, %rsp\n"
    "	movabs $ap_main, %rax\n"
    "	call *%rax\n"
    /*
     * Done: HLT with IF set, which ends this vCPU's thread in kqemu-run.
     * Not a spin with IF clear: under Bochs that keeps the host from its
     * interrupts, and on Bochs's one CPU vCPU 0's thread would never run
     * again (the machine wedged, under kqemu and kvm_intel alike).
     */
    "	sti\n"
    "1:	hlt\n"
    "	jmp 1b\n"
    "tramp_end:\n"
    ".text\n");

void ap_main(unsigned long index)
{
	uint64_t cs, efer = rdmsr(0xc0000080);

	asm volatile("mov %%cs, %0" : "=r"(cs));
	if (cs != 0x08 || !(efer & (1 << 10)) || index > 15)
		__atomic_add_fetch(&aps_wrong, 1, __ATOMIC_SEQ_CST);
	else
		__atomic_add_fetch(&aps_up, 1, __ATOMIC_SEQ_CST);
}

int main(unsigned long vcpu, unsigned long arg, unsigned long nvcpus)
{
	unsigned long i, spins;
	uint8_t *dst = (uint8_t *)TRAMPOLINE;

	if (vcpu != 0)
		return 2;	/* APs never start here under --sipi */
	for (i = 0; i < (unsigned long)(tramp_end - tramp_start); i++)
		dst[i] = tramp_start[i];
	for (i = 1; i < nvcpus; i++)
		outl(SIPI_PORT, i << 8 | (TRAMPOLINE >> 12));
	/*
	 * Wait with IF set, as smp.bin does: Bochs masks the host's interrupts
	 * while a guest has IF clear, and on its one CPU the APs' threads
	 * would never run (under kvm_intel that wedged the machine).  No
	 * interrupt comes to this guest: kqemu-run injects none here.
	 */
	asm volatile("sti" ::: "memory");
	for (spins = 0; aps_up + aps_wrong < nvcpus - 1 && spins < 2000000000UL; spins++)
		asm volatile("pause");
	asm volatile("cli" ::: "memory");
	puts_serial("sipi: ");
	put_dec(aps_up);
	puts_serial(" of ");
	put_dec(nvcpus - 1);
	puts_serial(" APs started by SIPI in long mode, ");
	put_dec(aps_wrong);
	puts_serial(" wrong\n");
	return aps_up == nvcpus - 1 && !aps_wrong ? 0 : 1;
}
