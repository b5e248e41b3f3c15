/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The world switch of the SVM backend.
 *
 * void __kqemu_svm_vmrun(u64 vmcb_pa, u64 *gprs, u64 host_save_pa)
 *
 * Called with interrupts off.  VMRUN itself swaps only RAX, RSP, RIP,
 * RFLAGS, the control registers, EFER, GDTR/IDTR and CS/SS/DS/ES; the other
 * general registers are loaded from and stored to gprs[] here (RAX and RSP
 * live in the VMCB), and VMSAVE/VMLOAD of host_save_pa keep the host's FS,
 * GS, TR, LDTR, KernelGSBase and syscall MSRs across the guest.
 *
 * Between CLGI and STGI no interrupt or NMI reaches the host.  The
 * speculation steps (spec.h) come right before VMRUN and right after the
 * host's VMLOAD, before the first RET.  STI before
 * VMRUN makes the host's saved RFLAGS.IF 1, so that with V_INTR_MASKING a
 * physical interrupt in the guest becomes an INTR exit instead of waiting
 * for the guest to enable interrupts.
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/segment.h>

#include "spec.h"

/* gprs[] is indexed by x86 register number. */
#define G_RCX	(1 * 8)
#define G_RDX	(2 * 8)
#define G_RBX	(3 * 8)
#define G_RBP	(5 * 8)
#define G_RSI	(6 * 8)
#define G_RDI	(7 * 8)
#define G_R8	(8 * 8)
#define G_R9	(9 * 8)
#define G_R10	(10 * 8)
#define G_R11	(11 * 8)
#define G_R12	(12 * 8)
#define G_R13	(13 * 8)
#define G_R14	(14 * 8)
#define G_R15	(15 * 8)

	.text
SYM_FUNC_START(__kqemu_svm_vmrun)
	push	$__KERNEL_DS		/* 72(%rsp) at VMRUN: VERW's operand */
	push	%rbp
	push	%rbx
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	push	%rdi			/* 16(%rsp): vmcb_pa */
	push	%rsi			/*  8(%rsp): gprs */
	push	%rdx			/*  0(%rsp): host_save_pa */

	clgi
	mov	%rdx, %rax
	vmsave	%rax

	mov	G_RCX(%rsi), %rcx
	mov	G_RDX(%rsi), %rdx
	mov	G_RBX(%rsi), %rbx
	mov	G_RBP(%rsi), %rbp
	mov	G_RDI(%rsi), %rdi
	mov	G_R8(%rsi), %r8
	mov	G_R9(%rsi), %r9
	mov	G_R10(%rsi), %r10
	mov	G_R11(%rsi), %r11
	mov	G_R12(%rsi), %r12
	mov	G_R13(%rsi), %r13
	mov	G_R14(%rsi), %r14
	mov	G_R15(%rsi), %r15
	mov	G_RSI(%rsi), %rsi

	mov	16(%rsp), %rax
	sti
	vmload	%rax
	KQEMU_SPEC_ENTER 72(%rsp)
	vmrun	%rax
	vmsave	%rax
	cli

	mov	8(%rsp), %rax
	mov	%rcx, G_RCX(%rax)
	mov	%rdx, G_RDX(%rax)
	mov	%rbx, G_RBX(%rax)
	mov	%rbp, G_RBP(%rax)
	mov	%rsi, G_RSI(%rax)
	mov	%rdi, G_RDI(%rax)
	mov	%r8, G_R8(%rax)
	mov	%r9, G_R9(%rax)
	mov	%r10, G_R10(%rax)
	mov	%r11, G_R11(%rax)
	mov	%r12, G_R12(%rax)
	mov	%r13, G_R13(%rax)
	mov	%r14, G_R14(%rax)
	mov	%r15, G_R15(%rax)

	/* Leave no guest value in a register the host might speculate on. */
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%edi, %edi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d

	pop	%rax			/* host_save_pa */
	vmload	%rax
	KQEMU_SPEC_EXIT %rax
	stgi
	xor	%eax, %eax

	add	$16, %rsp
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbx
	pop	%rbp
	add	$8, %rsp		/* VERW's operand */
	RET
SYM_FUNC_END(__kqemu_svm_vmrun)

/*
 * void __kqemu_svm_scrub(u64 vmcb_pa)
 *
 * Called with interrupts off, after __kqemu_svm_vmrun: one VMRUN of the
 * scrub VMCB, whose guest ends at its first instruction fetch.  VMRUN and
 * #VMEXIT load only RAX, RSP, RIP and RFLAGS of the general registers, and
 * the guest runs nothing, so the others are untouched; no VMLOAD either,
 * as the host's FS, GS, TR and syscall MSRs stay live throughout.
 */
SYM_FUNC_START(__kqemu_svm_scrub)
	mov	%rdi, %rax
	clgi
	vmrun	%rax
	stgi
	RET
SYM_FUNC_END(__kqemu_svm_scrub)
