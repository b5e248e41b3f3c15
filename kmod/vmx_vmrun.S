/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The world switch of the VMX backend.
 *
 * int __kqemu_vmx_vmrun(u64 *gprs)
 *
 * Called with interrupts off, in VMX root operation, with the vCPU's VMCS
 * current and clear (so VMLAUNCH, never VMRESUME) and every field but
 * HOST_RSP and HOST_RIP written.  VM entry and exit switch RSP, RIP, RFLAGS
 * and the control, segment and descriptor-table registers through the
 * VMCS; the other general registers are loaded from and stored to gprs[]
 * here (the guest's RSP lives in the VMCS).
 *
 * VM exit and a failed VMLAUNCH both arrive at .Lvmx_exit with the stack
 * as it was at VMLAUNCH: an exit through HOST_RIP/HOST_RSP with RFLAGS
 * cleared, a failure by falling through with CF or ZF set.  The flags are
 * kept until the return value is taken from them.
 * Returns 0 after a VM exit, 1 when VMLAUNCH failed (VM-instruction error).
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/segment.h>

#include "spec.h"

#define G_RAX	(0 * 8)
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

#define VMCS_HOST_RSP	0x6c14
#define VMCS_HOST_RIP	0x6c16

	.text
SYM_FUNC_START(__kqemu_vmx_vmrun)
	push	$__KERNEL_DS		/* 56(%rsp) at VMLAUNCH: VERW's operand */
	push	%rbp
	push	%rbx
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	push	%rdi			/* 0(%rsp): gprs */

	mov	$VMCS_HOST_RSP, %eax
	vmwrite	%rsp, %rax
	lea	.Lvmx_exit(%rip), %rbx
	mov	$VMCS_HOST_RIP, %eax
	vmwrite	%rbx, %rax

	mov	%rdi, %rax
	mov	G_RCX(%rax), %rcx
	mov	G_RDX(%rax), %rdx
	mov	G_RBX(%rax), %rbx
	mov	G_RBP(%rax), %rbp
	mov	G_RSI(%rax), %rsi
	mov	G_RDI(%rax), %rdi
	mov	G_R8(%rax), %r8
	mov	G_R9(%rax), %r9
	mov	G_R10(%rax), %r10
	mov	G_R11(%rax), %r11
	mov	G_R12(%rax), %r12
	mov	G_R13(%rax), %r13
	mov	G_R14(%rax), %r14
	mov	G_R15(%rax), %r15
	mov	G_RAX(%rax), %rax

	KQEMU_SPEC_ENTER 56(%rsp)
	vmlaunch

.Lvmx_exit:
	/* Only MOV, PUSH and POP until SETBE: they leave the flags alone. */
	push	%rax
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
	pop	%rcx
	mov	%rcx, G_RAX(%rax)
	setbe	%bl

	/* Leave no guest value in a register the host might speculate on. */
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%edi, %edi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d

	/* Before the first RET; RBX (the result) survives the calls. */
	KQEMU_SPEC_EXIT %rcx
	movzbl	%bl, %eax

	add	$8, %rsp
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbx
	pop	%rbp
	add	$8, %rsp		/* VERW's operand */
	RET
SYM_FUNC_END(__kqemu_vmx_vmrun)
