// SPDX-License-Identifier: GPL-2.0
/*
 * Speculative-execution mitigations around the guest, the C half (the asm
 * half is spec.h, in both entry files).  Each is decided by the kernel's own
 * X86_FEATURE_ and X86_BUG_ flags, which say what this CPU needs under the
 * mitigations the kernel was booted with, never by kernel version:
 *
 * - IBPB when this CPU enters a different vCPU than it last entered, so
 *   that one guest's branch training does not steer another (as KVM does
 *   when it loads another VMCB or VMCS), where the kernel uses IBPB;
 * - the L1D flush before a VMX entry where the CPU has L1TF (through
 *   IA32_FLUSH_CMD, or by reading 64 KiB where the CPU lacks it);
 * - and, in spec.h: VERW before entry, RSB filling, RET untraining, IBPB
 *   on exit (SRSO) and the BHI history clearing after exit.
 *
 * A step that this kernel gives kqemu no way to take (a function exported
 * to KVM's own modules only) leaves a CPU
 * that needs it without a backend: vCPUs are refused (EOPNOTSUPP,
 * KQEMU_CAP_BACKEND_ERROR says EOPNOTSUPP) and the kernel log says which
 * step, unless kqemu was loaded with allow_unmitigated=1.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cache.h>
#include <linux/gfp.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <asm/cpufeature.h>
#include <asm/msr-index.h>

#include "kqemu.h"
#include "spec.h"

static bool allow_unmitigated;
module_param(allow_unmitigated, bool, 0444);
MODULE_PARM_DESC(allow_unmitigated,
		 "Run guests even where a speculation mitigation the CPU needs cannot be applied (default: no)");

static DEFINE_PER_CPU(u64, last_vcpu_uid);
static bool ibpb_between_guests, l1d_flush;

#define L1D_FLUSH_ORDER	4
#define L1D_FLUSH_SIZE	(PAGE_SIZE << L1D_FLUSH_ORDER)
static u8 *l1d_flush_buf;	/* the software L1D flush's, where there is no MSR */

void kqemu_spec_exit(void)
{
	if (l1d_flush_buf)
		free_pages((unsigned long)l1d_flush_buf, L1D_FLUSH_ORDER);
	l1d_flush_buf = NULL;
}

/* What the kernel itself uses IBPB for: its spectre_v2_user choice. */
static bool kernel_uses_ibpb(void)
{
#ifdef X86_FEATURE_USE_IBPB
	return boot_cpu_has(X86_FEATURE_USE_IBPB);
#else
	return boot_cpu_has(X86_FEATURE_IBPB);
#endif
}

/*
 * At module load, after the backend is chosen: 0, or EOPNOTSUPP where
 * this CPU needs a step kqemu cannot take on this kernel.
 */
int kqemu_spec_init(bool vmx)
{
	const char *missing = NULL;

	ibpb_between_guests = kernel_uses_ibpb();
	l1d_flush = vmx && boot_cpu_has_bug(X86_BUG_L1TF);
	if (l1d_flush && !boot_cpu_has(X86_FEATURE_FLUSH_L1D)) {
		l1d_flush_buf = (u8 *)__get_free_pages(GFP_KERNEL | __GFP_ZERO, L1D_FLUSH_ORDER);
		if (!l1d_flush_buf)
			return ENOMEM;
	}
#ifndef KQEMU_HAVE_UNTRAIN_RET
	if (boot_cpu_has(X86_FEATURE_UNRET) || boot_cpu_has(X86_FEATURE_SRSO_ALIAS))
		missing = "retbleed's or SRSO's RET untraining (this kernel does not export it to kqemu)";
#endif
#if defined(KQEMU_BHB_VMEXIT) && !defined(KQEMU_HAVE_CLEAR_BHB_LOOP)
	if (boot_cpu_has(KQEMU_BHB_VMEXIT))
		missing = "BHI's branch history clearing (this kernel exports clear_bhb_loop to KVM alone)";
#endif
#ifdef X86_FEATURE_CALL_DEPTH
	if (boot_cpu_has(X86_FEATURE_CALL_DEPTH))
		missing = "retbleed=stuff's call depth tracking";
#endif
	if (!missing)
		return 0;
	if (allow_unmitigated) {
		pr_warn("running guests without %s, as allow_unmitigated=1 asks\n", missing);
		return 0;
	}
	pr_warn("this CPU needs %s, which kqemu cannot apply here: no guests (load kqemu with allow_unmitigated=1 to run them anyway, unprotected)\n",
		missing);
	return EOPNOTSUPP;
}

/*
 * The L1D flush where the CPU has no IA32_FLUSH_CMD: read 64 KiB, twice
 * the size of any L1D that L1TF affects, so that none of the host's lines
 * are left for the guest to sample.  Each page is touched first, so that
 * the reads of the second pass all hit the TLB and only the cache moves.
 */
static void l1d_flush_sw(void)
{
	const volatile u8 *p = l1d_flush_buf;
	size_t i;

	for (i = 0; i < L1D_FLUSH_SIZE; i += PAGE_SIZE)
		(void)p[i];
	for (i = 0; i < L1D_FLUSH_SIZE; i += L1_CACHE_BYTES)
		(void)p[i];
}

/*
 * With interrupts off, right before the entry: IBPB when this CPU last
 * ran another vCPU, and the L1D flush.  UID names the vCPU for good (an
 * address could be reused by the next vCPU).
 */
void kqemu_spec_before_entry(u64 uid)
{
	if (__this_cpu_read(last_vcpu_uid) != uid) {
		__this_cpu_write(last_vcpu_uid, uid);
		if (ibpb_between_guests)
			kqemu_wrmsr(MSR_IA32_PRED_CMD, PRED_CMD_IBPB);
	}
	if (!l1d_flush)
		return;
	if (!l1d_flush_buf) {
		kqemu_wrmsr(MSR_IA32_FLUSH_CMD, L1D_FLUSH);
		return;
	}
	l1d_flush_sw();
}

/* Whether the kernel's flag F is set, where this kernel has that flag. */
#define flag_set(f)	boot_cpu_has(f)

/* The steps this CPU takes, in words, for sysfs (stats/mitigations). */
ssize_t kqemu_spec_show(char *buf)
{
	const struct { const char *name; bool on; } steps[] = {
		{ "ibpb-between-guests", ibpb_between_guests },
		{ "l1d-flush", l1d_flush },
#ifdef X86_FEATURE_CLEAR_CPU_BUF_VM
		{ "verw", flag_set(X86_FEATURE_CLEAR_CPU_BUF_VM) },
#endif
		{ "rsb-fill", flag_set(X86_FEATURE_RSB_VMEXIT) },
		{ "rsb-fill-lite", flag_set(X86_FEATURE_RSB_VMEXIT_LITE) },
#ifdef KQEMU_HAVE_UNTRAIN_RET
		{ "untrain-ret", flag_set(X86_FEATURE_UNRET) || flag_set(X86_FEATURE_SRSO_ALIAS) },
#endif
		{ "ibpb-vmexit", flag_set(X86_FEATURE_IBPB_ON_VMEXIT) },
#if defined(KQEMU_HAVE_CLEAR_BHB_LOOP) && defined(KQEMU_BHB_VMEXIT)
		{ "bhb-clear", flag_set(KQEMU_BHB_VMEXIT) },
#endif
	};
	unsigned int i;
	int len = 0;

	for (i = 0; i < ARRAY_SIZE(steps); i++)
		if (steps[i].on)
			len += sysfs_emit_at(buf, len, "%s%s", len ? " " : "", steps[i].name);
	len += sysfs_emit_at(buf, len, "%s\n", len ? "" : "none");
	return len;
}
