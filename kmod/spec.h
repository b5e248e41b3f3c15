/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The speculation steps of the world switch, for both entry files: every
 * step KVM's vmenter.S takes, each named by the kernel's own flag that
 * calls for it, so that the kernel's choice of mitigations (its command
 * line, its CPU bug list) decides, at run time, through alternatives.
 * Where a step needs a kernel function that this kernel does not export to
 * kqemu (7.x exports some to KVM's modules alone), kmod/Makefile leaves
 * KQEMU_HAVE_* undefined, and spec.c refuses to run guests on a CPU that
 * needs it (KQEMU_CAP_BACKEND_ERROR EOPNOTSUPP), unless the admin loaded
 * kqemu with allow_unmitigated=1.
 */
#ifndef KQEMU_SPEC_H
#define KQEMU_SPEC_H

#include <asm/alternative.h>
#include <asm/cpufeatures.h>
#include <asm/msr-index.h>
#include <asm/nospec-branch.h>
#include <asm/segment.h>
#include <linux/stringify.h>

/* The kernel renamed the flag for the BHI loop at VM exit. */
#if defined(X86_FEATURE_CLEAR_BHB_VMEXIT)
#define KQEMU_BHB_VMEXIT	X86_FEATURE_CLEAR_BHB_VMEXIT
#elif defined(X86_FEATURE_CLEAR_BHB_LOOP_ON_VMEXIT)
#define KQEMU_BHB_VMEXIT	X86_FEATURE_CLEAR_BHB_LOOP_ON_VMEXIT
#endif

#ifdef __ASSEMBLY__

/*
 * Right before VMRUN or VMLAUNCH, after the last load of guest state:
 * VERW clears the CPU's buffers, so that nothing the host left in them is
 * sampled by the guest (MDS, TAA, MMIO stale data on Intel; TSA on AMD).
 * Only VERW's memory form clears them, and any selector does; \sel is a
 * stack slot the caller filled with __KERNEL_DS (a symbol would need a
 * relocation in the alternative, which objtool refuses there on 6.1, and
 * the stack may not move inside one).  Changes ZF only.
 */
.macro KQEMU_SPEC_ENTER sel:req
#ifdef X86_FEATURE_CLEAR_CPU_BUF_VM
	ALTERNATIVE "", "verw \sel", X86_FEATURE_CLEAR_CPU_BUF_VM
#endif
.endm

/*
 * Right after the exit, before the host's first RET or indirect branch,
 * with the host's GS base back (SVM's VMLOAD), interrupts and NMIs still
 * held off.  Clobbers \reg, RAX, RCX, RDX and the flags.
 */
.macro KQEMU_SPEC_EXIT reg:req
	/* Return predictions the guest trained must not steer the host. */
	FILL_RETURN_BUFFER \reg, RSB_CLEAR_LOOPS, X86_FEATURE_RSB_VMEXIT, X86_FEATURE_RSB_VMEXIT_LITE
#ifdef KQEMU_HAVE_UNTRAIN_RET
	/* Retbleed and SRSO (AMD): untrain RET before the host's first one. */
	ALTERNATIVE_2 "", "call entry_untrain_ret", X86_FEATURE_UNRET, \
		"call srso_alias_untrain_ret", X86_FEATURE_SRSO_ALIAS
#endif
	/* SRSO's ibpb-vmexit mode: flush every branch prediction. */
	ALTERNATIVE "", __stringify(mov $MSR_IA32_PRED_CMD, %ecx; mov $PRED_CMD_IBPB, %eax; \
				    xor %edx, %edx; wrmsr), X86_FEATURE_IBPB_ON_VMEXIT
#if defined(KQEMU_HAVE_CLEAR_BHB_LOOP) && defined(KQEMU_BHB_VMEXIT)
	/* BHI (Intel): overwrite the branch history the guest left. */
	ALTERNATIVE "", "call clear_bhb_loop", KQEMU_BHB_VMEXIT
#endif
.endm

#endif /* __ASSEMBLY__ */
#endif /* KQEMU_SPEC_H */
