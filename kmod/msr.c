// SPDX-License-Identifier: GPL-2.0
/*
 * The MSRs a guest owns, for both backends.
 *
 * Some MSRs steer the hardware while the guest runs: where SYSCALL and
 * SYSENTER go (STAR, LSTAR, CSTAR, SFMASK, SYSENTER_*), what SWAPGS swaps
 * in (KERNEL_GS_BASE), what RDTSCP and RDPID read (TSC_AUX), memory types
 * (PAT), speculation controls (SPEC_CTRL).  The host's values must never be
 * live in a guest: LSTAR is the host's syscall entry point, so a guest's
 * SYSCALL would land there and its page fault would hand the guest the
 * host's KASLR base.  So each vCPU keeps its own copies, the guest's RDMSR
 * and WRMSR of them are answered here without a trip to userspace, and each
 * backend loads them for the guest and puts the host's back around every
 * entry (SVM: the VMCB and VMLOAD/VMSAVE, plus TSC_AUX and SPEC_CTRL by
 * hand; VMX: by hand, SYSENTER through the VMCS).  Every other MSR still
 * exits to userspace.
 */
#include <linux/kernel.h>
#include <asm/cpufeature.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>
#include <asm/tsc.h>

#include "kqemu.h"

#define PAT_POWER_ON	0x0007040600070406ULL

void kqemu_msrs_reset(struct kqemu_msrs *m)
{
	memset(m, 0, sizeof(*m));
	m->pat = PAT_POWER_ON;
}

/* Sign-extended from bit 47: the addresses these MSRs may hold. */
static bool canonical(u64 v)
{
	return (u64)(((s64)v << 16) >> 16) == v;
}

/* Each PAT entry one of UC, WC, WT, WP, WB, UC- (0, 1, 4, 5, 6, 7). */
static bool pat_valid(u64 v)
{
	int i;

	for (i = 0; i < 8; i++) {
		u8 type = (v >> (8 * i)) & 0xff;

		if (type > 7 || type == 2 || type == 3)
			return false;
	}
	return true;
}

/* The SPEC_CTRL bits a guest may set: those the host's CPU has. */
static u64 spec_ctrl_valid_bits(void)
{
	u64 bits = 0;

	if (boot_cpu_has(X86_FEATURE_MSR_SPEC_CTRL))
		bits |= SPEC_CTRL_IBRS;
	if (boot_cpu_has(X86_FEATURE_STIBP))
		bits |= SPEC_CTRL_STIBP;
	if (boot_cpu_has(X86_FEATURE_SPEC_CTRL_SSBD) || boot_cpu_has(X86_FEATURE_AMD_SSBD))
		bits |= SPEC_CTRL_SSBD;
	return bits;
}

bool kqemu_has_tsc_aux(void)
{
	return boot_cpu_has(X86_FEATURE_RDTSCP) || boot_cpu_has(X86_FEATURE_RDPID);
}

/* The guest's copy of MSR index, or NULL where kqemu does not own it. */
static u64 *owned(struct kqemu_msrs *m, u32 index)
{
	switch (index) {
	case MSR_STAR:			return &m->star;
	case MSR_LSTAR:			return &m->lstar;
	case MSR_CSTAR:			return &m->cstar;
	case MSR_SYSCALL_MASK:		return &m->sfmask;
	case MSR_KERNEL_GS_BASE:	return &m->kernel_gs_base;
	case MSR_IA32_SYSENTER_CS:	return &m->sysenter_cs;
	case MSR_IA32_SYSENTER_ESP:	return &m->sysenter_esp;
	case MSR_IA32_SYSENTER_EIP:	return &m->sysenter_eip;
	case MSR_IA32_CR_PAT:		return &m->pat;
	case MSR_TSC_AUX:
		return kqemu_has_tsc_aux() ? &m->tsc_aux : NULL;
	case MSR_IA32_SPEC_CTRL:
		return boot_cpu_has(X86_FEATURE_MSR_SPEC_CTRL) ? &m->spec_ctrl : NULL;
	default:
		return NULL;
	}
}

/* -EINVAL: the #GP a CPU raises for this value. */
static int check_value(u32 index, u64 v)
{
	switch (index) {
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_KERNEL_GS_BASE:
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
		return canonical(v) ? 0 : -EINVAL;
	case MSR_SYSCALL_MASK:
	case MSR_TSC_AUX:
		return v >> 32 ? -EINVAL : 0;
	case MSR_IA32_CR_PAT:
		return pat_valid(v) ? 0 : -EINVAL;
	case MSR_IA32_SPEC_CTRL:
		return v & ~spec_ctrl_valid_bits() ? -EINVAL : 0;
	default:
		return 0;
	}
}

/* What KQEMU_GET_MSR_INDEX_LIST lists: every index owned() or below answers. */
static const u32 kept_msrs[] = {
	MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SYSCALL_MASK, MSR_KERNEL_GS_BASE,
	MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
	MSR_IA32_CR_PAT, MSR_EFER, MSR_IA32_TSC, MSR_TSC_AUX, MSR_IA32_SPEC_CTRL,
};

static bool kept(u32 index)
{
	switch (index) {
	case MSR_EFER:
	case MSR_IA32_TSC:
		return true;
	default:
		return owned(&(struct kqemu_msrs){}, index);
	}
}

/* Fills up to ROOM indices; returns how many there are. */
unsigned int kqemu_msr_indices(u32 *out, unsigned int room)
{
	unsigned int i, n = 0;

	for (i = 0; i < ARRAY_SIZE(kept_msrs); i++) {
		if (!kept(kept_msrs[i]))
			continue;
		if (n < room)
			out[n] = kept_msrs[i];
		n++;
	}
	return n;
}

/*
 * The guest's TSC is the host's plus the vCPU's offset, which the backend
 * gives the hardware at each entry (a new VM's vCPUs start at 0 together).
 */
static u64 host_tsc(void)
{
	return rdtsc();
}

/*
 * One of the vCPU's own MSRs, for its guest's RDMSR (HOST false) or for
 * KQEMU_GET_MSRS.  -ENOENT: not one kqemu keeps.
 */
int kqemu_get_msr(struct kqemu_vcpu *vcpu, u32 index, u64 *data)
{
	u64 *mine = owned(&vcpu->msrs, index);

	if (mine) {
		*data = *mine;
		return 0;
	}
	switch (index) {
	case MSR_EFER:
		*data = kqemu_backend->get_efer(vcpu);
		return 0;
	case MSR_IA32_TSC:
		*data = host_tsc() + vcpu->tsc_offset;
		return 0;
	}
	return -ENOENT;
}

/*
 * Sets one, for the guest's WRMSR (HOST false) or KQEMU_SET_MSRS.
 * -EINVAL: the value the CPU refuses with #GP; -ENOENT: not one kqemu keeps.
 */
int kqemu_set_msr(struct kqemu_vcpu *vcpu, u32 index, u64 data, bool host)
{
	u64 *mine = owned(&vcpu->msrs, index);

	if (mine) {
		if (check_value(index, data))
			return -EINVAL;
		*mine = data;
		return 0;
	}
	switch (index) {
	case MSR_EFER:
		return kqemu_backend->set_efer(vcpu, data, host);
	case MSR_IA32_TSC:
		vcpu->tsc_offset = data - host_tsc();
		return 0;
	}
	return -ENOENT;
}

/*
 * FS and GS bases: the segment registers' own, which a 64-bit kernel
 * writes at every task switch (where it has no FSGSBASE), so answered
 * here as the CPU does; KQEMU_GET/SET_SREGS hold them for the VMM.
 * 0, -EINVAL for a non-canonical write (a #GP), -ENOENT for another MSR.
 */
static int kqemu_seg_base_msr(struct kqemu_vcpu *vcpu, u32 index, bool is_write, u64 *data)
{
	u64 *base;

	if (index != MSR_FS_BASE && index != MSR_GS_BASE)
		return -ENOENT;
	base = kqemu_backend->seg_base(vcpu, index == MSR_GS_BASE);
	if (!is_write)
		*data = *base;
	else if (canonical(*data))
		*base = *data;
	else
		return -EINVAL;
	return 0;
}

/*
 * A guest's RDMSR or WRMSR, stopped at its instruction (NEXT is the one
 * after).  Returns 0 when kqemu answered it (the guest goes on, or takes
 * #GP), 1 when it is userspace's: run->msr is filled and the exit waits
 * for its answer at the next KQEMU_RUN.
 */
int kqemu_handle_msr_exit(struct kqemu_vcpu *vcpu, bool is_write, u64 next)
{
	u32 index = vcpu->gprs[1];
	u64 data = (u32)vcpu->gprs[0] | (vcpu->gprs[2] << 32);
	struct kqemu_run *run = vcpu->run;
	int ret;

	ret = kqemu_seg_base_msr(vcpu, index, is_write, &data);
	if (ret == -ENOENT)
		ret = is_write ? kqemu_set_msr(vcpu, index, data, false) :
				 kqemu_get_msr(vcpu, index, &data);
	if (!ret && !is_write) {
		vcpu->gprs[0] = (u32)data;
		vcpu->gprs[2] = data >> 32;
	}
	if (ret == -EINVAL) {
		kqemu_queue_gp(vcpu);
		return 0;
	}
	if (!ret) {
		vcpu->rip = next;
		return 0;
	}
	run->exit_reason = KQEMU_EXIT_MSR;
	run->msr.index = index;
	run->msr.is_write = is_write;
	run->msr.error = 0;
	run->msr.data = is_write ? data : 0;
	vcpu->pending_exit = KQEMU_EXIT_MSR;
	vcpu->next_rip = next;
	return 1;
}

/*
 * With interrupts off, right before entry: the guest's values of the MSRs
 * the backend does not switch itself (SYSCALL's only where SYSCALL_MSRS:
 * VMX; SVM's VMLOAD loads them), the host's kept in H.  A write is skipped
 * where the values agree, as WRMSR is slow.
 */
void kqemu_load_guest_msrs(const struct kqemu_msrs *g, struct kqemu_host_msrs *h,
			   bool syscall_msrs)
{
	/*
	 * Not CSTAR: only VMX asks for these, and Intel's SYSCALL never reads
	 * it (no SYSCALL in compatibility mode); the guest keeps its value.
	 */
	if (syscall_msrs) {
		h->star = kqemu_rdmsr(MSR_STAR);
		h->lstar = kqemu_rdmsr(MSR_LSTAR);
		h->sfmask = kqemu_rdmsr(MSR_SYSCALL_MASK);
		kqemu_wrmsr(MSR_STAR, g->star);
		kqemu_wrmsr(MSR_LSTAR, g->lstar);
		kqemu_wrmsr(MSR_SYSCALL_MASK, g->sfmask);
	}
	if (kqemu_has_tsc_aux()) {
		h->tsc_aux = kqemu_rdmsr(MSR_TSC_AUX);
		if (h->tsc_aux != g->tsc_aux)
			kqemu_wrmsr(MSR_TSC_AUX, g->tsc_aux);
	}
	/*
	 * The guest runs with its SPEC_CTRL bits and the host's together:
	 * the host's protections (IBRS, SSBD) then hold from the exit on,
	 * before the C code below puts the host's value back, and no RET in
	 * between runs with less.  The guest reads back its own value.
	 */
	if (boot_cpu_has(X86_FEATURE_MSR_SPEC_CTRL)) {
		h->spec_ctrl = kqemu_rdmsr(MSR_IA32_SPEC_CTRL);
		if ((h->spec_ctrl | g->spec_ctrl) != h->spec_ctrl)
			kqemu_wrmsr(MSR_IA32_SPEC_CTRL, h->spec_ctrl | g->spec_ctrl);
	}
}

/* Right after the exit, interrupts still off: the host's values again. */
void kqemu_put_host_msrs(const struct kqemu_msrs *g, const struct kqemu_host_msrs *h,
			 bool syscall_msrs)
{
	if (boot_cpu_has(X86_FEATURE_MSR_SPEC_CTRL) && (h->spec_ctrl | g->spec_ctrl) != h->spec_ctrl)
		kqemu_wrmsr(MSR_IA32_SPEC_CTRL, h->spec_ctrl);
	if (kqemu_has_tsc_aux() && h->tsc_aux != g->tsc_aux)
		kqemu_wrmsr(MSR_TSC_AUX, h->tsc_aux);
	if (syscall_msrs) {
		kqemu_wrmsr(MSR_STAR, h->star);
		kqemu_wrmsr(MSR_LSTAR, h->lstar);
		kqemu_wrmsr(MSR_SYSCALL_MASK, h->sfmask);
	}
}

/*
 * EFER as a guest's WRMSR (HOST false) or userspace (KQEMU_SET_MSRS) would
 * set it, over OLD_EFER with CR0 and CR4 as they are: the bits kqemu gives
 * guests only; LMA is not written but computed (LME with CR0.PG); a guest
 * cannot change LME while paging is on (#GP, as on a CPU); paging in long
 * mode needs CR4.PAE.  0 and the new value in OUT, or -EINVAL.
 */
int kqemu_check_efer(u64 efer, u64 old_efer, u64 cr0, u64 cr4, bool host, u64 *out)
{
	bool paging = cr0 & X86_CR0_PG;

	if (efer & ~KQEMU_EFER_GUEST)
		return -EINVAL;
	if (!host && paging && ((efer ^ old_efer) & EFER_LME))
		return -EINVAL;
	if (paging && (efer & EFER_LME) && !(cr4 & X86_CR4_PAE))
		return -EINVAL;
	efer &= ~EFER_LMA;
	if (paging && (efer & EFER_LME))
		efer |= EFER_LMA;
	*out = efer;
	return 0;
}
