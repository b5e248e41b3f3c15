// SPDX-License-Identifier: GPL-2.0
/*
 * The Intel VT-x backend, with EPT and unrestricted guest.
 *
 * kqemu is in VMX operation only for one guest entry at a time: with
 * interrupts off it sets CR4.VMXE, executes VMXON, makes the vCPU's VMCS
 * current, writes every field, enters the guest, reads back what it needs,
 * VMCLEARs the VMCS and leaves with VMXOFF, putting CR4 back as it found
 * it.  So no VMX state outlives the window: a vCPU that moves to another
 * CPU needs nothing special (its VMCS is clear, and is launched afresh each
 * time), CPU hotplug and suspend never find kqemu in VMX operation, and
 * kvm_intel, which refuses to enable VMX where CR4.VMXE is set, never sees
 * it set.  The price is a VMXON/VMXOFF pair per entry.
 *
 * Only one VMXON per CPU: where CR4.VMXE is already set, another hypervisor
 * (kvm_intel, which on 6.12+ enables VMX when it loads, VirtualBox, VMware)
 * owns VMX operation and kqemu refuses with EBUSY.  Sharing it as the SVM
 * backend does is not safe here: the VMCS that is current belongs to the
 * other, and VMXON is not ours to repeat.
 *
 * The guest state is kept in struct vmx_vcpu, not in the VMCS, since the
 * VMCS can only be read inside the window.  Field encodings and control
 * bits are those of the Intel SDM, vol. 3C, appendices A-C, written out here
 * rather than taken from the kernel's asm/vmx.h, whose names change.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/idr.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/namei.h>
#include <linux/notifier.h>
#include <linux/percpu.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/stddef.h>
#include <asm/asm.h>
#include <asm/cpu.h>
#include <asm/cpufeature.h>
#include <asm/desc.h>
#include <asm/fpu/api.h>
#include <asm/msr-index.h>
#include <asm/reboot.h>
#include <asm/segment.h>
#include <asm/tlbflush.h>
#include <asm/tsc.h>

#include "kqemu.h"

/* MSRs */
#define VMX_MSR_FEATURE_CONTROL	0x03a
#define VMX_MSR_BASIC		0x480
#define VMX_MSR_PINBASED	0x481
#define VMX_MSR_PROCBASED	0x482
#define VMX_MSR_EXIT		0x483
#define VMX_MSR_ENTRY		0x484
#define VMX_MSR_MISC		0x485
#define VMX_MSR_CR0_FIXED0	0x486
#define VMX_MSR_CR0_FIXED1	0x487
#define VMX_MSR_CR4_FIXED0	0x488
#define VMX_MSR_CR4_FIXED1	0x489
#define VMX_MSR_PROCBASED2	0x48b
#define VMX_MSR_EPT_VPID_CAP	0x48c
#define VMX_MSR_TRUE_PINBASED	0x48d
#define VMX_MSR_TRUE_PROCBASED	0x48e
#define VMX_MSR_TRUE_EXIT	0x48f
#define VMX_MSR_TRUE_ENTRY	0x490
#define VMX_MSR_FS_BASE		0xc0000100
#define VMX_MSR_GS_BASE		0xc0000101
#define VMX_MSR_KERNEL_GS_BASE	0xc0000102
#define VMX_MSR_SYSENTER_CS	0x174
#define VMX_MSR_SYSENTER_ESP	0x175
#define VMX_MSR_SYSENTER_EIP	0x176
#define VMX_MSR_DEBUGCTL	0x1d9

#define FC_LOCKED		BIT_ULL(0)
#define FC_VMXON_OUTSIDE_SMX	BIT_ULL(2)

/* VMCS fields: 16-bit */
#define F_VPID			0x0000
#define F_GUEST_ES_SEL		0x0800	/* ES, CS, SS, DS, FS, GS, LDTR, TR: +2 each */
#define F_HOST_ES_SEL		0x0c00
#define F_HOST_CS_SEL		0x0c02
#define F_HOST_SS_SEL		0x0c04
#define F_HOST_DS_SEL		0x0c06
#define F_HOST_FS_SEL		0x0c08
#define F_HOST_GS_SEL		0x0c0a
#define F_HOST_TR_SEL		0x0c0c
/* 64-bit */
#define F_TSC_OFFSET		0x2010
#define F_EPT_POINTER		0x201a
#define F_GUEST_PHYS_ADDR	0x2400
#define F_VMCS_LINK		0x2800
#define F_GUEST_DEBUGCTL	0x2802
#define F_GUEST_EFER		0x2806
#define F_GUEST_PDPTE0		0x280a	/* 0-3: +2 each */
#define F_HOST_EFER		0x2c02
/* 32-bit */
#define F_PIN_CTLS		0x4000
#define F_PROC_CTLS		0x4002
#define F_EXCEPTION_BITMAP	0x4004
#define F_CR3_TARGET_COUNT	0x400a
#define F_EXIT_CTLS		0x400c
#define F_EXIT_MSR_STORE_COUNT	0x400e
#define F_EXIT_MSR_LOAD_COUNT	0x4010
#define F_ENTRY_CTLS		0x4012
#define F_ENTRY_MSR_LOAD_COUNT	0x4014
#define F_ENTRY_INTR_INFO	0x4016
#define F_ENTRY_ERROR_CODE	0x4018
#define F_ENTRY_INSN_LEN	0x401a
#define F_PROC_CTLS2		0x401e
#define F_VM_INSN_ERROR		0x4400
#define F_EXIT_REASON		0x4402
#define F_EXIT_INTR_INFO	0x4404
#define F_EXIT_INTR_ERROR	0x4406
#define F_IDT_VECT_INFO		0x4408
#define F_IDT_VECT_ERROR	0x440a
#define F_EXIT_INSN_LEN		0x440c
#define F_EXIT_INSN_INFO	0x440e
#define F_GUEST_ES_LIMIT	0x4800	/* ES..TR as above, then GDTR, IDTR */
#define F_GUEST_GDTR_LIMIT	0x4810
#define F_GUEST_IDTR_LIMIT	0x4812
#define F_GUEST_ES_AR		0x4814	/* ES..TR */
#define F_GUEST_INTR_STATE	0x4824
#define F_GUEST_ACTIVITY	0x4826
#define F_GUEST_SYSENTER_CS	0x482a
#define F_GUEST_PREEMPT_TIMER	0x482e
#define F_HOST_SYSENTER_CS	0x4c00
/* natural width */
#define F_CR0_MASK		0x6000
#define F_CR4_MASK		0x6002
#define F_CR0_SHADOW		0x6004
#define F_CR4_SHADOW		0x6006
#define F_EXIT_QUAL		0x6400
#define F_GUEST_CR0		0x6800
#define F_GUEST_CR3		0x6802
#define F_GUEST_CR4		0x6804
#define F_GUEST_ES_BASE		0x6806	/* ES..TR */
#define F_GUEST_GDTR_BASE	0x6816
#define F_GUEST_IDTR_BASE	0x6818
#define F_GUEST_DR7		0x681a
#define F_GUEST_RSP		0x681c
#define F_GUEST_RIP		0x681e
#define F_GUEST_RFLAGS		0x6820
#define F_GUEST_PENDING_DBG	0x6822
#define F_GUEST_SYSENTER_ESP	0x6824
#define F_GUEST_SYSENTER_EIP	0x6826
#define F_HOST_CR0		0x6c00
#define F_HOST_CR3		0x6c02
#define F_HOST_CR4		0x6c04
#define F_HOST_FS_BASE		0x6c06
#define F_HOST_GS_BASE		0x6c08
#define F_HOST_TR_BASE		0x6c0a
#define F_HOST_GDTR_BASE	0x6c0c
#define F_HOST_IDTR_BASE	0x6c0e
#define F_HOST_SYSENTER_ESP	0x6c10
#define F_HOST_SYSENTER_EIP	0x6c12

/* Pin-based controls */
#define PIN_EXT_INTR		BIT(0)
#define PIN_NMI			BIT(3)
#define PIN_VIRTUAL_NMI		BIT(5)
#define PIN_PREEMPT_TIMER	BIT(6)
/* Primary processor-based controls */
#define PROC_INTR_WINDOW	BIT(2)
#define PROC_TSC_OFFSET		BIT(3)
#define PROC_HLT		BIT(7)
#define PROC_MWAIT		BIT(10)
#define PROC_RDPMC		BIT(11)
#define PROC_CR3_LOAD		BIT(15)
#define PROC_CR3_STORE		BIT(16)
#define PROC_CR8_LOAD		BIT(19)
#define PROC_CR8_STORE		BIT(20)
#define PROC_NMI_WINDOW		BIT(22)
#define PROC_MOV_DR		BIT(23)
#define PROC_UNCOND_IO		BIT(24)
#define PROC_MONITOR		BIT(29)
#define PROC_SECONDARY		BIT(31)
/* Secondary */
#define PROC2_EPT		BIT(1)
#define PROC2_RDTSCP		BIT(3)
#define PROC2_VPID		BIT(5)
#define PROC2_WBINVD		BIT(6)
#define PROC2_UNRESTRICTED	BIT(7)
#define PROC2_INVPCID		BIT(12)
/* Exit controls */
#define EXIT_SAVE_DEBUG		BIT(2)
#define EXIT_HOST_64		BIT(9)
#define EXIT_ACK_INTR		BIT(15)
#define EXIT_SAVE_EFER		BIT(20)
#define EXIT_LOAD_EFER		BIT(21)
/* Entry controls */
#define ENTRY_LOAD_DEBUG	BIT(2)
#define ENTRY_IA32E		BIT(9)
#define ENTRY_LOAD_EFER		BIT(15)

/* Basic exit reasons */
#define XR_EXCEPTION		0
#define XR_EXT_INTR		1
#define XR_TRIPLE_FAULT		2
#define XR_INIT			3
#define XR_SIPI			4
#define XR_IO_SMI		5
#define XR_OTHER_SMI		6
#define XR_INTR_WINDOW		7
#define XR_NMI_WINDOW		8
#define XR_TASK_SWITCH		9
#define XR_CPUID		10
#define XR_GETSEC		11
#define XR_HLT			12
#define XR_INVD			13
#define XR_RDPMC		15
#define XR_RSM			17
#define XR_VMCALL		18	/* 18-27: the VMX instructions */
#define XR_VMXON		27
#define XR_CR_ACCESS		28
#define XR_MCE_DURING_ENTRY	41
#define XR_DR_ACCESS		29
#define XR_IO			30
#define XR_RDMSR		31
#define XR_WRMSR		32
#define XR_MWAIT		36
#define XR_MONITOR		39
#define XR_EPT_VIOLATION	48
#define XR_EPT_MISCONFIG	49
#define XR_INVEPT		50
#define XR_INVVPID		53
#define XR_WBINVD		54
#define XR_PREEMPT_TIMER	52
#define XR_XSETBV		55
#define XR_VMFUNC		59
#define XR_ENTRY_FAILED		BIT(31)

/* Interruption information (entry, exit, IDT vectoring) */
#define INTR_VALID		BIT(31)
#define INTR_ERROR_VALID	BIT(11)
#define INTR_TYPE_MASK		(7U << 8)
#define INTR_TYPE_EXT		(0U << 8)
#define INTR_TYPE_NMI		(2U << 8)
#define INTR_TYPE_HW_EXC	(3U << 8)
#define INTR_TYPE_SW_INT	(4U << 8)
#define INTR_TYPE_PRIV_SW_EXC	(5U << 8)
#define INTR_TYPE_SW_EXC	(6U << 8)

#define INTR_STATE_STI		BIT(0)
#define INTR_STATE_MOV_SS	BIT(1)
#define INTR_STATE_NMI		BIT(3)	/* with virtual NMIs: in the guest's NMI handler */
#define INTR_STATE_SHADOW	(INTR_STATE_STI | INTR_STATE_MOV_SS)
#define PENDING_DBG_BS		BIT_ULL(14)

/* Access rights as the VMCS holds them */
#define AR_UNUSABLE		BIT(16)

/* EPT entries: read, write, execute; leaves write-back, guest PAT ignored. */
#define EPT_R			BIT_ULL(0)
#define EPT_W			BIT_ULL(1)
#define EPT_X			BIT_ULL(2)
#define EPT_RWX			(EPT_R | EPT_W | EPT_X)
#define EPT_WB			(6ULL << 3)
#define EPT_IPAT		BIT_ULL(6)
#define EPT_LARGE		BIT_ULL(7)	/* in a level-2 entry: a 2 MiB page */
#define EPTP_WB_4LEVEL		(6ULL | (3ULL << 3))

#define CAP_EPT_4LEVEL		BIT_ULL(6)
#define CAP_EPT_WB		BIT_ULL(14)
#define CAP_EPT_2MB		BIT_ULL(16)
#define CAP_INVEPT		BIT_ULL(20)
#define CAP_INVEPT_SINGLE	BIT_ULL(25)
#define CAP_INVEPT_ALL		BIT_ULL(26)
#define CAP_INVVPID		BIT_ULL(32)
#define CAP_INVVPID_SINGLE	BIT_ULL(41)
#define CAP_INVVPID_ALL		BIT_ULL(42)

#define VMX_CR0_PE		BIT_ULL(0)
#define VMX_CR0_NE		BIT_ULL(5)
#define VMX_CR0_NW		BIT_ULL(29)
#define VMX_CR0_CD		BIT_ULL(30)
#define VMX_CR0_PG		BIT_ULL(31)
#define VMX_CR4_PAE		BIT_ULL(5)
#define VMX_CR4_VMXE		BIT_ULL(13)
#define VMX_CR4_PCIDE		BIT_ULL(17)
#define VMX_RFLAGS_TF		BIT_ULL(8)
#define VMX_RFLAGS_IF		BIT_ULL(9)
#define SEG_ATTR_P		BIT(7)
#define SEG_ATTR_L		BIT(9)
#define SEG_ATTR_DB		BIT(10)
#define SEG_ATTR_G		BIT(11)

#define VEC_DB	1
#define VEC_NMI	2
#define VEC_UD	6
#define VEC_GP	13
#define VEC_PF	14
#define VEC_AC	17
#define VEC_MC	18

/* What one CPU needs to enter VMX operation. */
struct vmx_cpu {
	void *vmxon_region;
};

static DEFINE_PER_CPU(struct vmx_cpu, vmx_cpus);
static DEFINE_IDA(vmx_vpids);

static struct {
	u32 revision;
	u32 pin, proc, proc2, exit, entry;	/* the controls, fixed bits applied */
	u64 cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	u64 cr0_forced;				/* set in the guest's CR0, hidden from it */
	u32 time_slice;				/* VMX-preemption timer ticks, or 0 */
	u64 ept_vpid_cap;
	bool ins_outs_info;			/* INS/OUTS exits say address size, segment */
} vmx;

/* One segment register as the VMCS has it. */
struct vmx_segment {
	u64 base;
	u32 limit;
	u32 ar;
	u16 selector;
};

struct vmx_vcpu {
	void *vmcs;
	u64 vmcs_pa;
	u16 vpid;			/* 0: none */
	/* The guest's state, between entries.  cr0 and cr4 as it sees them. */
	struct vmx_segment seg[8];	/* ES, CS, SS, DS, FS, GS, LDTR, TR */
	u64 gdt_base, idt_base;
	u32 gdt_limit, idt_limit;
	u64 cr0, cr2, cr3, cr4, efer, cr8;
	u64 pdpte[4];
	bool pdptes_stale;		/* load them from guest memory at entry */
	u32 intr_state;
	u64 pending_dbg;
	u64 exit_rip;			/* where the last exit left the guest */
	bool irq_window, nmi_window;
	/* The event this entry injects, and one an exit cut short. */
	u32 inject_info, inject_error, inject_len;
	u32 reinject_info, reinject_error, reinject_len;
	/* What the last exit said. */
	u32 exit_reason, exit_intr_info, exit_intr_error, idt_info, idt_error;
	u32 exit_insn_len, insn_error;
	u32 exit_insn_info;		/* of INS and OUTS, where vmx.ins_outs_info */
	u64 exit_qual, exit_gpa;
	bool exit_nmi, exit_mce;	/* the host's, handed to it after the exit */
};

/* The order of kqemu_sregs' segments in the VMCS's. */
enum { S_ES, S_CS, S_SS, S_DS, S_FS, S_GS, S_LDTR, S_TR };

static void vmx_cpuid(u32 leaf, u32 *eax, u32 *ebx, u32 *ecx, u32 *edx)
{
	asm volatile("cpuid"
		     : "=a"(*eax), "=b"(*ebx), "=c"(*ecx), "=d"(*edx)
		     : "a"(leaf), "c"(0));
}

/*
 * CR4.VMXE is set only with interrupts off and cleared again before they
 * come back.  Where the kernel exports its CR4 helper to modules (6.1,
 * 6.12: kmod/Makefile's feature test), VMXE goes through it, so that the
 * kernel's shadow of CR4 is right even for an NMI inside the window; 7.x
 * exports it to KVM alone, and there CR4 is written directly.
 */
static inline unsigned long vmx_read_cr4(void)
{
	unsigned long val;

	asm volatile("mov %%cr4, %0" : "=r"(val));
	return val;
}

static inline void vmx_set_vmxe(unsigned long cr4, bool on)
{
#ifdef KQEMU_HAVE_CR4_UPDATE_IRQSOFF
	if (on)
		cr4_update_irqsoff(VMX_CR4_VMXE, 0);
	else
		cr4_update_irqsoff(0, VMX_CR4_VMXE);
#else
	cr4 = on ? cr4 | VMX_CR4_VMXE : cr4 & ~VMX_CR4_VMXE;
	asm volatile("mov %0, %%cr4" : : "r"(cr4) : "memory");
#endif
}

static inline unsigned long vmx_read_cr0(void)
{
	unsigned long val;

	asm volatile("mov %%cr0, %0" : "=r"(val));
	return val;
}

static inline unsigned long vmx_read_cr3(void)
{
	unsigned long val;

	asm volatile("mov %%cr3, %0" : "=r"(val));
	return val;
}

static inline unsigned long vmx_read_cr2(void)
{
	unsigned long val;

	asm volatile("mov %%cr2, %0" : "=r"(val));
	return val;
}

static inline void vmx_write_cr2(unsigned long val)
{
	asm volatile("mov %0, %%cr2" : : "r"(val));
}

/* VMX instructions: true on success (neither CF nor ZF set). */
static inline bool vmx_on(u64 pa)
{
	bool ok;

	asm volatile("vmxon %1; seta %0" : "=qm"(ok) : "m"(pa) : "cc", "memory");
	return ok;
}

static inline void vmx_off(void)
{
	asm volatile("vmxoff" : : : "cc", "memory");
}

static inline bool vmcs_clear(u64 pa)
{
	bool ok;

	asm volatile("vmclear %1; seta %0" : "=qm"(ok) : "m"(pa) : "cc", "memory");
	return ok;
}

static inline bool vmcs_load(u64 pa)
{
	bool ok;

	asm volatile("vmptrld %1; seta %0" : "=qm"(ok) : "m"(pa) : "cc", "memory");
	return ok;
}

static inline void vmwrite(unsigned long field, unsigned long value)
{
	/* A failure leaves the field as it was; VM entry's checks catch it. */
	asm volatile("vmwrite %1, %0" : : "r"(field), "rm"(value) : "cc", "memory");
}

static inline unsigned long vmread(unsigned long field)
{
	unsigned long value = 0;

	asm volatile("vmread %1, %0" : "+rm"(value) : "r"(field) : "cc");
	return value;
}

static inline void vmx_invept(unsigned long type, u64 eptp)
{
	struct { u64 eptp, zero; } desc = { eptp, 0 };

	asm volatile("invept %0, %1" : : "m"(desc), "r"(type) : "cc", "memory");
}

static inline void vmx_invvpid(unsigned long type, u16 vpid)
{
	struct { u64 vpid, addr; } desc = { vpid, 0 };

	asm volatile("invvpid %0, %1" : : "m"(desc), "r"(type) : "cc", "memory");
}

int __kqemu_vmx_vmrun(u64 *gprs);

/* --- extended page tables ---------------------------------------------- */

/*
 * EPT's depth is set in the EPT pointer and does not follow the host's
 * paging mode: 4 levels map 48 bits of guest-physical address, all that
 * KQEMU_MAX_GUEST_PHYS lets a slot reach.
 */
static_assert(KQEMU_MAX_GUEST_PHYS <= 1ULL << 48);

static int vmx_vm_init(struct kqemu_vm *vm)
{
	return kqemu_gpt_init(&vm->gpt, 4, EPT_RWX, EPT_RWX, kqemu_vmx_backend.leaf_huge);
}

static void vmx_vm_free(struct kqemu_vm *vm)
{
	kqemu_gpt_free(&vm->gpt);
}

static u64 vmx_eptp(struct kqemu_vm *vm)
{
	return virt_to_phys(vm->gpt.root) | EPTP_WB_4LEVEL;
}

/* --- vCPU state -------------------------------------------------------- */

/*
 * kqemu's attrib has AVL, L, D/B, G in bits 8-11; the VMCS's access rights
 * in bits 12-15, and "unusable" in bit 16, which a segment without P is.
 */
static void seg_in(struct vmx_segment *v, const struct kqemu_segment *s)
{
	v->selector = s->selector;
	v->limit = s->limit;
	v->base = s->base;
	v->ar = (s->attrib & 0xff) | ((s->attrib & 0xf00) << 4);
	if (!(s->attrib & SEG_ATTR_P))
		v->ar |= AR_UNUSABLE;
}

static void seg_out(struct kqemu_segment *s, const struct vmx_segment *v)
{
	s->selector = v->selector;
	s->limit = v->limit;
	s->base = v->base;
	s->attrib = (v->ar & 0xff) | ((v->ar >> 4) & 0xf00);
	if (v->ar & AR_UNUSABLE)
		s->attrib &= ~SEG_ATTR_P;
}

/*
 * The access rights VM entry accepts for what SVM takes as is: SVM uses the
 * byte limit and ignores G, VMX insists that G agrees with the limit;
 * VMX wants code and data segments marked accessed, as loading them would.
 */
static u32 seg_ar_for_entry(const struct vmx_segment *v)
{
	u32 ar = v->ar;

	/* Unusable: only SS's DPL (the CPL) still counts. */
	if (ar & AR_UNUSABLE)
		return ar;
	if (v->limit > 0xfffff)
		ar |= BIT(15);
	else if ((v->limit & 0xfff) != 0xfff)
		ar &= ~BIT(15);
	if (ar & BIT(4))	/* S: code or data */
		ar |= 1;
	return ar;
}

static void vmx_reset_state(struct vmx_vcpu *vx)
{
	static const struct kqemu_segment data = { .attrib = 0x93, .limit = 0xffff };
	int i;

	for (i = 0; i < 6; i++)
		seg_in(&vx->seg[i], &data);
	seg_in(&vx->seg[S_CS], &(struct kqemu_segment){ .attrib = 0x9b, .limit = 0xffff });
	seg_in(&vx->seg[S_LDTR], &(struct kqemu_segment){ .attrib = 0x82, .limit = 0xffff });
	seg_in(&vx->seg[S_TR], &(struct kqemu_segment){ .attrib = 0x8b, .limit = 0xffff });
	vx->gdt_limit = 0xffff;
	vx->idt_limit = 0xffff;
	vx->cr0 = 0x10;		/* ET */
}

static int vmx_vcpu_init(struct kqemu_vcpu *vcpu)
{
	struct vmx_vcpu *vx;
	int vpid;

	/* Refused here already, not only at the first run, where we can tell. */
	preempt_disable();
	if (vmx_read_cr4() & VMX_CR4_VMXE) {
		preempt_enable();
		return -EBUSY;
	}
	preempt_enable();

	vx = kzalloc(sizeof(*vx), GFP_KERNEL_ACCOUNT);
	if (!vx)
		return -ENOMEM;
	vx->vmcs = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!vx->vmcs) {
		kfree(vx);
		return -ENOMEM;
	}
	*(u32 *)vx->vmcs = vmx.revision;
	vx->vmcs_pa = virt_to_phys(vx->vmcs);
	if (vmx.proc2 & PROC2_VPID) {
		vpid = ida_alloc_range(&vmx_vpids, 1, 0xffff, GFP_KERNEL);
		/* Out of VPIDs: run without one, flushing at each entry and exit. */
		vx->vpid = vpid > 0 ? vpid : 0;
	}
	vmx_reset_state(vx);
	vx->exit_rip = ~0ULL;
	vcpu->rflags = 2;
	vcpu->arch = vx;
	return 0;
}

static void vmx_vcpu_free(struct kqemu_vcpu *vcpu)
{
	struct vmx_vcpu *vx = vcpu->arch;

	if (vx->vpid)
		ida_free(&vmx_vpids, vx->vpid);
	free_page((unsigned long)vx->vmcs);
	kfree(vx);
	vcpu->arch = NULL;
}

static void vmx_get_regs(struct kqemu_vcpu *vcpu, struct kqemu_regs *regs)
{
	u64 *r = vcpu->gprs;

	regs->rax = r[0]; regs->rcx = r[1]; regs->rdx = r[2]; regs->rbx = r[3];
	regs->rsp = r[4]; regs->rbp = r[5]; regs->rsi = r[6]; regs->rdi = r[7];
	regs->r8 = r[8]; regs->r9 = r[9]; regs->r10 = r[10]; regs->r11 = r[11];
	regs->r12 = r[12]; regs->r13 = r[13]; regs->r14 = r[14]; regs->r15 = r[15];
	regs->rip = vcpu->rip;
	regs->rflags = vcpu->rflags;
}

static void vmx_set_regs(struct kqemu_vcpu *vcpu, const struct kqemu_regs *regs)
{
	u64 *r = vcpu->gprs;

	r[0] = regs->rax; r[1] = regs->rcx; r[2] = regs->rdx; r[3] = regs->rbx;
	r[4] = regs->rsp; r[5] = regs->rbp; r[6] = regs->rsi; r[7] = regs->rdi;
	r[8] = regs->r8; r[9] = regs->r9; r[10] = regs->r10; r[11] = regs->r11;
	r[12] = regs->r12; r[13] = regs->r13; r[14] = regs->r14; r[15] = regs->r15;
	vcpu->rip = regs->rip;
	/* As on SVM: bit 1 set, reserved bits and VM clear. */
	vcpu->rflags = (regs->rflags & 0x3d7fd7ULL) | 2;
	vcpu->pending_exit = 0;
}

static void vmx_get_sregs(struct kqemu_vcpu *vcpu, struct kqemu_sregs *s)
{
	struct vmx_vcpu *vx = vcpu->arch;

	seg_out(&s->es, &vx->seg[S_ES]);
	seg_out(&s->cs, &vx->seg[S_CS]);
	seg_out(&s->ss, &vx->seg[S_SS]);
	seg_out(&s->ds, &vx->seg[S_DS]);
	seg_out(&s->fs, &vx->seg[S_FS]);
	seg_out(&s->gs, &vx->seg[S_GS]);
	seg_out(&s->ldt, &vx->seg[S_LDTR]);
	seg_out(&s->tr, &vx->seg[S_TR]);
	s->gdt.base = vx->gdt_base;
	s->gdt.limit = vx->gdt_limit;
	s->idt.base = vx->idt_base;
	s->idt.limit = vx->idt_limit;
	s->cr0 = vx->cr0;
	s->cr2 = vx->cr2;
	s->cr3 = vx->cr3;
	s->cr4 = vx->cr4;
	s->efer = vx->efer;
	s->cr8 = vx->cr8;	/* MOV to and from CR8 exit (CR8-load/store exiting) */
}

/* The same rules as the SVM backend's, so that both accept the same states. */
#define EFER_ALLOWED	KQEMU_EFER_GUEST
#define CR4_ALLOWED	kqemu_cr4_guest()
#define VMX_CR3_MBZ	GENMASK_ULL(63, 52)

static bool pae_paging(u64 cr0, u64 cr4, u64 efer)
{
	return (cr0 & VMX_CR0_PG) && (cr4 & VMX_CR4_PAE) && !(efer & EFER_LMA);
}

static u64 vmx_get_cr4(struct kqemu_vcpu *vcpu)
{
	return ((struct vmx_vcpu *)vcpu->arch)->cr4;
}

static u64 *vmx_seg_base(struct kqemu_vcpu *vcpu, bool gs)
{
	struct vmx_vcpu *vx = vcpu->arch;

	/* Read at each exit, written to the VMCS at each entry. */
	return &vx->seg[gs ? S_GS : S_FS].base;
}

static u64 vmx_get_cr8(struct kqemu_vcpu *vcpu)
{
	return ((struct vmx_vcpu *)vcpu->arch)->cr8;
}

static u64 vmx_get_efer(struct kqemu_vcpu *vcpu)
{
	return ((struct vmx_vcpu *)vcpu->arch)->efer;
}

static int vmx_set_efer(struct kqemu_vcpu *vcpu, u64 efer, bool host)
{
	struct vmx_vcpu *vx = vcpu->arch;
	int ret;

	ret = kqemu_check_efer(efer, vx->efer, vx->cr0, vx->cr4, host, &vx->efer);
	if (!ret)
		vx->pdptes_stale = pae_paging(vx->cr0, vx->cr4, vx->efer);
	return ret;
}

static int vmx_set_sregs(struct kqemu_vcpu *vcpu, const struct kqemu_sregs *s)
{
	struct vmx_vcpu *vx = vcpu->arch;
	u64 efer = s->efer & ~EFER_LMA;

	if ((s->efer & ~EFER_ALLOWED) || (s->cr0 >> 32) || (s->cr4 & ~CR4_ALLOWED))
		return -EINVAL;
	if ((s->cr0 & VMX_CR0_PG) && !(s->cr0 & VMX_CR0_PE))
		return -EINVAL;
	if ((s->cr0 & VMX_CR0_NW) && !(s->cr0 & VMX_CR0_CD))
		return -EINVAL;
	if (s->cr3 & VMX_CR3_MBZ)
		return -EINVAL;
	if ((efer & EFER_LME) && !(s->cr4 & VMX_CR4_PAE))
		return -EINVAL;
	if ((efer & EFER_LME) && (s->cr0 & VMX_CR0_PG))
		efer |= EFER_LMA;
	if ((s->cr4 & VMX_CR4_PCIDE) && !(efer & EFER_LMA))
		return -EINVAL;
	/* And what this CPU cannot hold in VMX operation. */
	if (((s->cr0 | vmx.cr0_forced) & ~vmx.cr0_fixed1) ||
	    ((s->cr4 | vmx.cr4_fixed0) & ~vmx.cr4_fixed1))
		return -EINVAL;

	seg_in(&vx->seg[S_ES], &s->es);
	seg_in(&vx->seg[S_CS], &s->cs);
	seg_in(&vx->seg[S_SS], &s->ss);
	seg_in(&vx->seg[S_DS], &s->ds);
	seg_in(&vx->seg[S_FS], &s->fs);
	seg_in(&vx->seg[S_GS], &s->gs);
	seg_in(&vx->seg[S_LDTR], &s->ldt);
	seg_in(&vx->seg[S_TR], &s->tr);
	vx->gdt_base = s->gdt.base;
	vx->gdt_limit = s->gdt.limit;
	vx->idt_base = s->idt.base;
	vx->idt_limit = s->idt.limit;
	vx->cr0 = s->cr0;
	vx->cr2 = s->cr2;
	vx->cr3 = s->cr3;
	vx->cr4 = s->cr4;
	vx->efer = efer;
	vx->pdptes_stale = pae_paging(vx->cr0, vx->cr4, vx->efer);
	if (s->flags & KQEMU_SREGS_CR8)
		vx->cr8 = s->cr8;
	return 0;
}

/* --- entering the guest ------------------------------------------------ */

static bool guest_can_take_irq(struct kqemu_vcpu *vcpu, struct vmx_vcpu *vx)
{
	return (vcpu->rflags & VMX_RFLAGS_IF) &&
	       !(vx->intr_state & (INTR_STATE_STI | INTR_STATE_MOV_SS));
}

static bool guest_can_take_nmi(struct vmx_vcpu *vx)
{
	return !(vx->intr_state & (INTR_STATE_SHADOW | INTR_STATE_NMI));
}

/* As svm_prepare_events: what the guest takes at this entry, by priority. */
static int vmx_prepare_events(struct kqemu_vcpu *vcpu, struct vmx_vcpu *vx)
{
	vx->inject_info = 0;
	vx->inject_len = 0;
	if (vx->reinject_info) {
		vx->inject_info = vx->reinject_info;
		vx->inject_error = vx->reinject_error;
		vx->inject_len = vx->reinject_len;
		vx->reinject_info = 0;
	} else if (vcpu->exception.pending) {
		u8 vector = vcpu->exception.vector;

		vx->inject_info = vector | INTR_TYPE_HW_EXC | INTR_VALID;
		if (vcpu->exception.has_error &&
		    kqemu_exception_has_error(vector, vx->cr0 & VMX_CR0_PE)) {
			vx->inject_info |= INTR_ERROR_VALID;
			vx->inject_error = vcpu->exception.error;
		}
		vcpu->exception.pending = false;
	} else if (vcpu->nmi_pending && guest_can_take_nmi(vx)) {
		/* The CPU sets blocking by NMI as it delivers it, until IRET. */
		vx->inject_info = 2 | INTR_TYPE_NMI | INTR_VALID;
		vcpu->nmi_pending = false;
	} else if (vcpu->pending_irq >= 0 && guest_can_take_irq(vcpu, vx)) {
		vx->inject_info = vcpu->pending_irq | INTR_TYPE_EXT | INTR_VALID;
		vcpu->pending_irq = -1;
	}

	vx->nmi_window = false;
	if (vcpu->nmi_pending) {
		vx->nmi_window = true;
	} else if (READ_ONCE(vcpu->run->request_nmi_window)) {
		if (!vx->inject_info && guest_can_take_nmi(vx)) {
			vcpu->run->exit_reason = KQEMU_EXIT_NMI_WINDOW;
			return 1;
		}
		vx->nmi_window = true;
	}
	/* Without virtual NMIs there is no NMI-window exit (nor KQEMU_NMI). */
	if (!(vmx.pin & PIN_VIRTUAL_NMI))
		vx->nmi_window = false;

	vx->irq_window = false;
	if (vcpu->pending_irq >= 0) {
		vx->irq_window = true;
	} else if (READ_ONCE(vcpu->run->request_interrupt_window)) {
		if (!vx->inject_info && guest_can_take_irq(vcpu, vx)) {
			vcpu->run->exit_reason = KQEMU_EXIT_IRQ_WINDOW;
			return 1;
		}
		vx->irq_window = true;
	}
	return 0;
}

static void write_controls(struct kqemu_vcpu *vcpu, struct vmx_vcpu *vx)
{
	u32 proc = vmx.proc, entry = vmx.entry;

	if (vx->irq_window)
		proc |= PROC_INTR_WINDOW;
	if (vx->nmi_window)
		proc |= PROC_NMI_WINDOW;
	if (vx->efer & EFER_LMA)
		entry |= ENTRY_IA32E;
	vmwrite(F_PIN_CTLS, vmx.pin);
	vmwrite(F_PROC_CTLS, proc);
	vmwrite(F_PROC_CTLS2, vmx.proc2 & (vx->vpid ? ~0U : ~PROC2_VPID));
	vmwrite(F_EXIT_CTLS, vmx.exit);
	vmwrite(F_ENTRY_CTLS, entry);
	/*
	 * #DB and #AC: a guest must not loop in microcode delivering them.
	 * #MC: a machine check is the host's to handle, not the guest's.
	 */
	vmwrite(F_EXCEPTION_BITMAP, BIT(VEC_DB) | BIT(VEC_AC) | BIT(VEC_MC));
	vmwrite(F_CR3_TARGET_COUNT, 0);
	vmwrite(F_EXIT_MSR_STORE_COUNT, 0);
	vmwrite(F_EXIT_MSR_LOAD_COUNT, 0);
	vmwrite(F_ENTRY_MSR_LOAD_COUNT, 0);
	vmwrite(F_EPT_POINTER, vmx_eptp(vcpu->vm));
	vmwrite(F_TSC_OFFSET, vcpu->tsc_offset);
	if (vx->vpid)
		vmwrite(F_VPID, vx->vpid);
	vmwrite(F_VMCS_LINK, ~0UL);
	/* The bits VMX operation forces: the guest sees and sets its own. */
	vmwrite(F_CR0_MASK, vmx.cr0_forced);
	vmwrite(F_CR0_SHADOW, vx->cr0);
	/*
	 * CR4: the bits VMX operation forces, and every bit a guest does not
	 * get (KQEMU_CR4_GUEST), are the host's: the guest reads them from
	 * the shadow, and a MOV to CR4 that would change one exits, where
	 * handle_cr() gives it #GP.
	 */
	vmwrite(F_CR4_MASK, vmx.cr4_fixed0 | ~CR4_ALLOWED);
	vmwrite(F_CR4_SHADOW, vx->cr4);
	vmwrite(F_ENTRY_INTR_INFO, vx->inject_info);
	vmwrite(F_ENTRY_ERROR_CODE, vx->inject_error);
	vmwrite(F_ENTRY_INSN_LEN, vx->inject_len);
}

static void write_guest_state(struct kqemu_vcpu *vcpu, struct vmx_vcpu *vx)
{
	u64 pending_dbg = vx->pending_dbg & ~PENDING_DBG_BS;
	int i;

	for (i = 0; i < 8; i++) {
		const struct vmx_segment *sg = &vx->seg[i];

		vmwrite(F_GUEST_ES_SEL + 2 * i, sg->selector);
		vmwrite(F_GUEST_ES_LIMIT + 2 * i, sg->limit);
		vmwrite(F_GUEST_ES_AR + 2 * i, seg_ar_for_entry(sg));
		vmwrite(F_GUEST_ES_BASE + 2 * i, sg->base);
	}
	vmwrite(F_GUEST_GDTR_BASE, vx->gdt_base);
	vmwrite(F_GUEST_GDTR_LIMIT, vx->gdt_limit);
	vmwrite(F_GUEST_IDTR_BASE, vx->idt_base);
	vmwrite(F_GUEST_IDTR_LIMIT, vx->idt_limit);
	vmwrite(F_GUEST_CR0, vx->cr0 | vmx.cr0_forced);
	vmwrite(F_GUEST_CR3, vx->cr3);
	vmwrite(F_GUEST_CR4, vx->cr4 | vmx.cr4_fixed0);
	vmwrite(F_GUEST_EFER, vx->efer);
	vmwrite(F_GUEST_DR7, vcpu->dr.dr7);
	vmwrite(F_GUEST_DEBUGCTL, 0);
	vmwrite(F_GUEST_RSP, vcpu->gprs[4]);
	vmwrite(F_GUEST_RIP, vcpu->rip);
	vmwrite(F_GUEST_RFLAGS, vcpu->rflags);
	vmwrite(F_GUEST_SYSENTER_CS, vcpu->msrs.sysenter_cs);
	vmwrite(F_GUEST_SYSENTER_ESP, vcpu->msrs.sysenter_esp);
	vmwrite(F_GUEST_SYSENTER_EIP, vcpu->msrs.sysenter_eip);
	vmwrite(F_GUEST_ACTIVITY, 0);
	if (vmx.time_slice)
		vmwrite(F_GUEST_PREEMPT_TIMER, vmx.time_slice);
	vmwrite(F_GUEST_INTR_STATE, vx->intr_state);
	/* With STI or MOV-SS blocking, VM entry wants BS to say whether TF is. */
	if ((vx->intr_state & (INTR_STATE_STI | INTR_STATE_MOV_SS)) &&
	    (vcpu->rflags & VMX_RFLAGS_TF))
		pending_dbg |= PENDING_DBG_BS;
	vmwrite(F_GUEST_PENDING_DBG, pending_dbg);
	if (pae_paging(vx->cr0, vx->cr4, vx->efer))
		for (i = 0; i < 4; i++)
			vmwrite(F_GUEST_PDPTE0 + 2 * i, vx->pdpte[i]);
}

struct vmx_host {
	u16 ds, es, fs, gs, ldt, tr;
	u64 fs_base, debugctl;
	struct kqemu_host_dr dr;
	struct desc_ptr gdt, idt;
};

/* The base of the TSS that TR selects, from its 16-byte GDT descriptor. */
static u64 host_tr_base(const struct vmx_host *h)
{
	const u8 *d = (const u8 *)h->gdt.address + (h->tr & ~7);
	u64 base;

	base = d[2] | (d[3] << 8) | (d[4] << 16) | ((u64)d[7] << 24);
	base |= (u64)(*(const u32 *)(d + 8)) << 32;
	return base;
}

static void write_host_state(struct vmx_host *h, unsigned long cr4)
{
	asm volatile("sgdt %0" : "=m"(h->gdt));
	asm volatile("sidt %0" : "=m"(h->idt));
	asm volatile("str %0" : "=r"(h->tr));
	asm volatile("sldt %0" : "=r"(h->ldt));
	savesegment(ds, h->ds);
	savesegment(es, h->es);
	savesegment(fs, h->fs);
	savesegment(gs, h->gs);
	h->fs_base = kqemu_rdmsr(VMX_MSR_FS_BASE);

	vmwrite(F_HOST_CR0, vmx_read_cr0());
	vmwrite(F_HOST_CR3, vmx_read_cr3());
	vmwrite(F_HOST_CR4, cr4);
	/* Host selectors must have RPL and TI clear; the rest is put back below. */
	vmwrite(F_HOST_CS_SEL, __KERNEL_CS);
	vmwrite(F_HOST_SS_SEL, __KERNEL_DS);
	vmwrite(F_HOST_DS_SEL, 0);
	vmwrite(F_HOST_ES_SEL, 0);
	vmwrite(F_HOST_FS_SEL, 0);
	vmwrite(F_HOST_GS_SEL, 0);
	vmwrite(F_HOST_TR_SEL, h->tr);
	vmwrite(F_HOST_FS_BASE, h->fs_base);
	vmwrite(F_HOST_GS_BASE, kqemu_rdmsr(VMX_MSR_GS_BASE));
	vmwrite(F_HOST_TR_BASE, host_tr_base(h));
	vmwrite(F_HOST_GDTR_BASE, h->gdt.address);
	vmwrite(F_HOST_IDTR_BASE, h->idt.address);
	vmwrite(F_HOST_SYSENTER_CS, kqemu_rdmsr(VMX_MSR_SYSENTER_CS));
	vmwrite(F_HOST_SYSENTER_ESP, kqemu_rdmsr(VMX_MSR_SYSENTER_ESP));
	vmwrite(F_HOST_SYSENTER_EIP, kqemu_rdmsr(VMX_MSR_SYSENTER_EIP));
	vmwrite(F_HOST_EFER, kqemu_rdmsr(MSR_EFER));
}

/*
 * What VM exit leaves wrong: GDT and IDT limits of 0xffff, a TR limit of
 * 0x67, null LDTR, DS, ES, FS and GS selectors.
 */
static void restore_host_state(const struct vmx_host *h)
{
	asm volatile("lgdt %0" : : "m"(h->gdt));
	asm volatile("lidt %0" : : "m"(h->idt));
	/*
	 * SS from the GDT again: under Bochs 2.7 a 32-bit VMM, returned to
	 * by SYSRET right after a VM exit, once ran on with a 16-bit stack
	 * (a segfault at SP's low 16 bits, 0xe090 for SP 0xff97e090), as if
	 * the exit had left SS's cached attributes with D/B clear.  SYSRET
	 * takes SS's selector but not always its attributes (AMD's behaves
	 * so on real CPUs too), so they must be right before it.
	 */
	loadsegment(ss, __KERNEL_DS);
	if (h->ldt)
		asm volatile("lldt %0" : : "r"(h->ldt));
	loadsegment(ds, h->ds);
	loadsegment(es, h->es);
	if (h->fs) {
		loadsegment(fs, h->fs);
		kqemu_wrmsr(VMX_MSR_FS_BASE, h->fs_base);
	}
	if (h->gs)
		load_gs_index(h->gs);	/* before KernelGSBase is put back */
	/* The TSS limit: reloaded now if this task uses an I/O bitmap, else lazily. */
	invalidate_tss_limit();
}

static void read_guest_state(struct kqemu_vcpu *vcpu, struct vmx_vcpu *vx)
{
	int i;

	for (i = 0; i < 8; i++) {
		struct vmx_segment *sg = &vx->seg[i];
		u32 ar = vmread(F_GUEST_ES_AR + 2 * i);

		sg->selector = vmread(F_GUEST_ES_SEL + 2 * i);
		sg->limit = vmread(F_GUEST_ES_LIMIT + 2 * i);
		sg->base = vmread(F_GUEST_ES_BASE + 2 * i);
		/* An unusable segment keeps the attributes it was given. */
		if (ar & AR_UNUSABLE)
			sg->ar = (sg->ar & ~SEG_ATTR_P) | AR_UNUSABLE;
		else
			sg->ar = ar;
	}
	vx->gdt_base = vmread(F_GUEST_GDTR_BASE);
	vx->gdt_limit = vmread(F_GUEST_GDTR_LIMIT);
	vx->idt_base = vmread(F_GUEST_IDTR_BASE);
	vx->idt_limit = vmread(F_GUEST_IDTR_LIMIT);
	vx->cr0 = (vmread(F_GUEST_CR0) & ~vmx.cr0_forced) | (vx->cr0 & vmx.cr0_forced);
	vx->cr3 = vmread(F_GUEST_CR3);
	vx->cr4 = (vmread(F_GUEST_CR4) & ~vmx.cr4_fixed0) | (vx->cr4 & vmx.cr4_fixed0);
	vx->efer = vmread(F_GUEST_EFER);
	vcpu->gprs[4] = vmread(F_GUEST_RSP);
	vcpu->rip = vmread(F_GUEST_RIP);
	vcpu->rflags = vmread(F_GUEST_RFLAGS);
	vx->intr_state = vmread(F_GUEST_INTR_STATE) &
			 (INTR_STATE_SHADOW | ((vmx.pin & PIN_VIRTUAL_NMI) ? INTR_STATE_NMI : 0));
	vx->pending_dbg = vmread(F_GUEST_PENDING_DBG);
	if (pae_paging(vx->cr0, vx->cr4, vx->efer))
		for (i = 0; i < 4; i++)
			vx->pdpte[i] = vmread(F_GUEST_PDPTE0 + 2 * i);
}

static void read_exit_info(struct vmx_vcpu *vx)
{
	vx->exit_reason = vmread(F_EXIT_REASON);
	vx->exit_qual = vmread(F_EXIT_QUAL);
	vx->exit_intr_info = vmread(F_EXIT_INTR_INFO);
	vx->exit_intr_error = vmread(F_EXIT_INTR_ERROR);
	vx->idt_info = vmread(F_IDT_VECT_INFO);
	vx->idt_error = vmread(F_IDT_VECT_ERROR);
	vx->exit_insn_len = vmread(F_EXIT_INSN_LEN);
	if ((vx->exit_reason & 0xffff) == XR_IO && vmx.ins_outs_info)
		vx->exit_insn_info = vmread(F_EXIT_INSN_INFO);
	vx->exit_gpa = vmread(F_GUEST_PHYS_ADDR);
}

/*
 * A crash's NMI shootdown or an emergency reboot that finds a CPU inside
 * vmx_enter() must still take it out of VMX operation, which blocks INIT
 * (the next kernel could not start that CPU).  Where kqemu is, with
 * interrupts off, only an NMI can find it there.
 *
 * 7.x leaves VMX operation itself in those paths, by CR4.VMXE (and exports
 * its callback to KVM alone).  6.1 and 6.12 do only what the one callback
 * a hypervisor registers does (cpu_emergency_register_virt_callback(),
 * where exported: kmod/Makefile's feature test).  kvm_intel registers one
 * that leaves VMX operation by CR4.VMXE, kqemu's window included, and
 * warns if another is registered already; kvm_amd registers too.  So
 * kqemu holds the callback only while neither is loaded: it gives it up
 * when one of them starts loading (before its init) and takes it back
 * once it is gone, as the module notifier tells.  A KVM module loaded
 * before kqemu is found in sysfs.
 */
#ifdef KQEMU_HAVE_EMERGENCY_VIRT_CALLBACK
static DEFINE_MUTEX(vmx_emergency_lock);
static bool vmx_emergency_held, vmx_kvm_intel, vmx_kvm_amd;

/* In NMI context, on the CPU it stops. */
static void vmx_emergency_off(void)
{
	if (!(vmx_read_cr4() & VMX_CR4_VMXE))
		return;
	/* CR4.VMXE is set before VMXON: then VMXOFF is #UD, and skipped. */
	asm goto("1: vmxoff\n\t" _ASM_EXTABLE(1b, %l[not_on]) : : : "cc", "memory" : not_on);
not_on:
	vmx_set_vmxe(vmx_read_cr4(), false);
}

/* With vmx_emergency_lock: hold the callback when no KVM module is loaded. */
static void vmx_emergency_update(void)
{
	bool want = !vmx_kvm_intel && !vmx_kvm_amd;

	if (want == vmx_emergency_held)
		return;
	if (want) {
		cpu_emergency_register_virt_callback(vmx_emergency_off);
		pr_info("the kernel's emergency paths leave VMX operation through kqemu's callback\n");
	} else {
		cpu_emergency_unregister_virt_callback(vmx_emergency_off);
		pr_info("%s is loading: its emergency-virtualization callback leaves VMX operation for kqemu too\n",
			vmx_kvm_intel ? "kvm_intel" : "kvm_amd");
	}
	vmx_emergency_held = want;
}

static bool *vmx_kvm_flag(const char *name)
{
	if (!strcmp(name, "kvm_intel"))
		return &vmx_kvm_intel;
	if (!strcmp(name, "kvm_amd"))
		return &vmx_kvm_amd;
	return NULL;
}

static int vmx_module_event(struct notifier_block *nb, unsigned long state, void *data)
{
	struct module *mod = data;
	bool *loaded = vmx_kvm_flag(mod->name);

	if (!loaded || (state != MODULE_STATE_COMING && state != MODULE_STATE_GOING))
		return NOTIFY_DONE;
	mutex_lock(&vmx_emergency_lock);
	*loaded = state == MODULE_STATE_COMING;
	vmx_emergency_update();
	mutex_unlock(&vmx_emergency_lock);
	return NOTIFY_OK;
}

static struct notifier_block vmx_module_nb = {
	.notifier_call = vmx_module_event,
};

/*
 * A module's sysfs folder exists from before its COMING notice until after
 * its GOING one: with the notifier registered first, a KVM module that is
 * loaded is never missed (one that just went may be seen as loaded, which
 * only leaves the callback to the next notice).
 */
static bool vmx_module_in_sysfs(const char *name)
{
	char path[32];
	struct path p;

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	if (kern_path(path, 0, &p))
		return false;
	path_put(&p);
	return true;
}

static void vmx_emergency_init(void)
{
	if (register_module_notifier(&vmx_module_nb)) {
		pr_warn("no module notifier: the kernel's emergency paths leave VMX operation only where kvm_intel is loaded\n");
		return;
	}
	mutex_lock(&vmx_emergency_lock);
	vmx_kvm_intel |= vmx_module_in_sysfs("kvm_intel");
	vmx_kvm_amd |= vmx_module_in_sysfs("kvm_amd");
	vmx_emergency_update();
	mutex_unlock(&vmx_emergency_lock);
}

static void vmx_emergency_exit(void)
{
	unregister_module_notifier(&vmx_module_nb);
	mutex_lock(&vmx_emergency_lock);
	if (vmx_emergency_held)
		cpu_emergency_unregister_virt_callback(vmx_emergency_off);
	vmx_emergency_held = false;
	mutex_unlock(&vmx_emergency_lock);
}
#else
static void vmx_emergency_init(void) { }
static void vmx_emergency_exit(void) { }
#endif

/*
 * With interrupts off: enter VMX operation, run the guest once, leave.
 * Returns 0, or -EBUSY when another hypervisor holds VMX on this CPU.
 */
static int vmx_enter(struct kqemu_vcpu *vcpu, struct vmx_vcpu *vx)
{
	struct vmx_cpu *vc = this_cpu_ptr(&vmx_cpus);
	unsigned long cr4 = vmx_read_cr4();
	struct kqemu_host_msrs host_msrs;
	struct vmx_host h;
	u64 host_kgs, host_xcr0;
	unsigned long host_db[4];
	bool guest_db;
	int failed;

	if (cr4 & VMX_CR4_VMXE)
		return -EBUSY;
	vmx_set_vmxe(cr4, true);
	if (!vmx_on(virt_to_phys(vc->vmxon_region))) {
		/* VMXON refused: someone is in VMX operation after all. */
		vmx_set_vmxe(cr4, false);
		return -EBUSY;
	}
	/*
	 * Translations of this EPT root may have been left by an earlier VM
	 * whose root page this one reuses, or by kqemu before a slot changed,
	 * and VPIDs may have been used by another hypervisor since: flush.
	 */
	if (vmx.ept_vpid_cap & CAP_INVEPT_SINGLE)
		vmx_invept(1, vmx_eptp(vcpu->vm));
	else
		vmx_invept(2, 0);
	if (vx->vpid) {
		if (vmx.ept_vpid_cap & CAP_INVVPID_SINGLE)
			vmx_invvpid(1, vx->vpid);
		else
			vmx_invvpid(2, 0);
	}
	if (!vmcs_clear(vx->vmcs_pa) || !vmcs_load(vx->vmcs_pa)) {
		vmx_off();
		vmx_set_vmxe(cr4, false);
		return -EIO;
	}

	write_controls(vcpu, vx);
	write_guest_state(vcpu, vx);
	write_host_state(&h, cr4 | VMX_CR4_VMXE);

	/*
	 * What VMX does not switch: the syscall MSRs, TSC_AUX, SPEC_CTRL,
	 * KernelGSBase (SWAPGS), CR2, debug state.
	 */
	host_kgs = kqemu_rdmsr(VMX_MSR_KERNEL_GS_BASE);
	kqemu_wrmsr(VMX_MSR_KERNEL_GS_BASE, vcpu->msrs.kernel_gs_base);
	kqemu_load_guest_msrs(&vcpu->msrs, &host_msrs, true);
	kqemu_save_host_dr(&h.dr);
	/*
	 * DR0-3 by hand where the guest has a breakpoint on; its DR7 goes
	 * through the VMCS.  Not DR6: every #DB exits, and the CPU sets DR6
	 * for none of them (the exit qualification says what it would have).
	 */
	guest_db = kqemu_load_guest_db(&vcpu->dr, false, host_db);
	h.debugctl = kqemu_rdmsr(VMX_MSR_DEBUGCTL);
	host_xcr0 = kqemu_fpu_load(vcpu);
	vmx_write_cr2(vx->cr2);
	kqemu_spec_before_entry(vcpu->uid);

	failed = __kqemu_vmx_vmrun(vcpu->gprs);

	vx->cr2 = vmx_read_cr2();
	kqemu_fpu_put(vcpu, host_xcr0);
	/*
	 * The guest's KernelGSBase before restore_host_state(): loading a
	 * nonzero host GS selector (a 32-bit VMM's TLS) goes through SWAPGS
	 * and overwrites the MSR.
	 */
	vcpu->msrs.kernel_gs_base = kqemu_rdmsr(VMX_MSR_KERNEL_GS_BASE);
	kqemu_put_host_msrs(&vcpu->msrs, &host_msrs, true);
	restore_host_state(&h);
	kqemu_wrmsr(VMX_MSR_KERNEL_GS_BASE, host_kgs);
	if (guest_db)
		kqemu_put_host_db(&vcpu->dr, false, host_db);
	kqemu_restore_host_dr(&h.dr);
	if (h.debugctl)
		kqemu_wrmsr(VMX_MSR_DEBUGCTL, h.debugctl);

	vx->exit_nmi = vx->exit_mce = false;
	if (failed) {
		vx->exit_reason = ~0U;
		vx->insn_error = vmread(F_VM_INSN_ERROR);
	} else {
		read_exit_info(vx);
		if (!(vx->exit_reason & XR_ENTRY_FAILED))
			read_guest_state(vcpu, vx);
		vx->exit_nmi = (vx->exit_reason & 0xffff) == XR_EXCEPTION &&
			       (vx->exit_intr_info & INTR_TYPE_MASK) == INTR_TYPE_NMI;
		vx->exit_mce = (vx->exit_reason & 0xffff) == XR_MCE_DURING_ENTRY ||
			       ((vx->exit_reason & 0xffff) == XR_EXCEPTION &&
				(vx->exit_intr_info & 0xff) == VEC_MC &&
				(vx->exit_intr_info & INTR_TYPE_MASK) == INTR_TYPE_HW_EXC);
	}

	vmcs_clear(vx->vmcs_pa);
	vmx_off();
	vmx_set_vmxe(cr4, false);

	/*
	 * An NMI that arrived in the guest ended it and was not delivered:
	 * give it to the host's handler now that we are out of VMX operation.
	 */
	if (vx->exit_nmi)
		asm volatile("int $2");
	/*
	 * Likewise a machine check, which hardware reported while the guest
	 * ran (a guest's own INT 0x12 is a software interrupt, which the
	 * exception bitmap does not catch, so it cannot get here).  No
	 * emulator here raises #MC in a guest without killing the host, so
	 * this path is untested.
	 */
	if (vx->exit_mce)
		asm volatile("int $0x12");
	return 0;
}

/* --- exits -------------------------------------------------------------- */

static int exit_internal(struct kqemu_vcpu *vcpu, u32 suberror, u64 d0, u64 d1)
{
	struct kqemu_run *run = vcpu->run;

	run->exit_reason = KQEMU_EXIT_INTERNAL_ERROR;
	run->internal.suberror = suberror;
	run->internal.flags = 0;
	run->internal.data[0] = d0;
	run->internal.data[1] = d1;
	run->internal.data[2] = vcpu->rip;
	return 1;
}

static bool long_mode_cs(struct vmx_vcpu *vx)
{
	return (vx->efer & EFER_LMA) && (vx->seg[S_CS].ar & BIT(13));
}

static int vmx_cpu_mode(struct vmx_vcpu *vx)
{
	return long_mode_cs(vx) ? 64 :
	       (vx->cr0 & VMX_CR0_PE) && (vx->seg[S_CS].ar & BIT(14)) ? 32 : 16;
}

/* The guest as the MMIO emulator and the instruction fetch see it. */
static void vmx_guest_view(const struct kqemu_vcpu *vcpu, struct vmx_vcpu *vx,
			   struct kqemu_guest_view *g)
{
	int i;

	g->mode = vmx_cpu_mode(vx);
	/* The bits VMX forces (with unrestricted guest: NE) are the CPU's. */
	g->paging = (struct kqemu_paging){
		.cr0 = vx->cr0 | vmx.cr0_forced, .cr3 = vx->cr3, .cr4 = vx->cr4,
		.efer = vx->efer, .rflags = vcpu->rflags,
		.cpl = (vx->cr0 & VMX_CR0_PE) ? (vx->seg[S_SS].ar >> 5) & 3 : 0,
	};
	for (i = 0; i < 6; i++)		/* ES..GS: the same order as KQEMU_SEG_* */
		g->seg_base[i] = vx->seg[i].base;
}

/* Up to 15 bytes at the guest's RIP, stopping where memory ends. */
static unsigned int fetch_insn(struct kqemu_vcpu *vcpu, struct vmx_vcpu *vx, u8 *bytes)
{
	struct kqemu_guest_view g;

	vmx_guest_view(vcpu, vx, &g);
	return kqemu_fetch_insn(vcpu, &g, bytes, NULL);
}

/*
 * IN, OUT, INS, OUTS.  The exit qualification has size - 1 (bits 0-2),
 * direction (3, 1 = IN), string (4), REP (5) and the port (16-31); the
 * VM-exit instruction information has INS and OUTS's address size (7-9:
 * 16, 32, 64 bits) and OUTS's segment (15-17), where the CPU reports it
 * (IA32_VMX_BASIC bit 54); elsewhere both come from the prefixes.
 */
static int handle_io(struct kqemu_vcpu *vcpu, struct vmx_vcpu *vx)
{
	u64 q = vx->exit_qual;
	u8 size = (q & 7) + 1;
	struct kqemu_io io = {
		.in = q & BIT(3),
		.string = q & BIT(4),
		.rep = q & BIT(5),
		.size = size == 4 ? 4 : size == 2 ? 2 : 1,
		.port = q >> 16,
		.next_rip = vcpu->rip + vx->exit_insn_len,
		.mode64 = long_mode_cs(vx),
	};
	int ret;

	if (io.string) {
		int seg, bits;

		if (vmx.ins_outs_info) {
			bits = 16 << ((vx->exit_insn_info >> 7) & 7);
			seg = (vx->exit_insn_info >> 15) & 7;
		} else {
			u8 bytes[15];

			if (kqemu_decode_string_io(bytes, fetch_insn(vcpu, vx, bytes),
						   vmx_cpu_mode(vx), &seg, &bits))
				return exit_internal(vcpu, KQEMU_INTERNAL_ERROR_EMULATION,
						     XR_IO, q);
		}
		if (io.in)
			seg = S_ES;
		if (seg > S_GS || bits > 64)
			return exit_internal(vcpu, KQEMU_INTERNAL_ERROR_EMULATION, XR_IO, q);
		io.seg = seg;
		io.addr_bits = bits;
		io.seg_base = vx->seg[seg].base;
		io.paging = (struct kqemu_paging){
			.cr0 = vx->cr0 | vmx.cr0_forced, .cr3 = vx->cr3, .cr4 = vx->cr4,
			.efer = vx->efer, .rflags = vcpu->rflags,
			.cpl = (vx->cr0 & VMX_CR0_PE) ? (vx->seg[S_SS].ar >> 5) & 3 : 0,
		};
		/* The instruction has begun: an interrupt shadow before it is over. */
		vx->intr_state &= ~(INTR_STATE_STI | INTR_STATE_MOV_SS);
	}
	ret = kqemu_handle_io(vcpu, &io);
	if (ret == KQEMU_IO_PAGE_FAULT) {
		vx->cr2 = io.fault_addr;
		kqemu_queue_exception(vcpu, VEC_PF, true, io.fault_error);
		return 0;
	}
	return ret;
}

static int handle_ept_violation(struct kqemu_vcpu *vcpu, struct vmx_vcpu *vx)
{
	u64 gpa = vx->exit_gpa, q = vx->exit_qual;
	struct kqemu_guest_view g;
	int ret = kqemu_nested_fault(vcpu, gpa, q & BIT(1));

	if (ret != KQEMU_FAULT_MMIO)
		return ret;
	/* Delivering an event touched it, not the instruction at RIP. */
	if (vx->idt_info & INTR_VALID)
		return exit_internal(vcpu, KQEMU_INTERNAL_ERROR_EXCEPTION, vx->idt_info, gpa);
	/* Code where no slot is: nothing to run, and re-entering would loop. */
	if (q & BIT(2))
		return kqemu_exit_fetch(vcpu, gpa);
	/* The guest's own page walk (a linear address, but not the access's). */
	if ((q & BIT(7)) && !(q & BIT(8)))
		return exit_internal(vcpu, KQEMU_INTERNAL_ERROR_EMULATION, gpa, 0);

	vmx_guest_view(vcpu, vx, &g);
	return kqemu_emulate_mmio(vcpu, &g, gpa, NULL, 0);
}

/*
 * MOV to or from a control register that exits: CR0 and CR4 when the guest
 * changes a bit VMX operation forces, CR3 where the CPU insists on exiting,
 * and CR8, whose real register is the host's task priority.
 */
static int handle_cr(struct kqemu_vcpu *vcpu, struct vmx_vcpu *vx)
{
	u64 q = vx->exit_qual, val;
	unsigned int cr = q & 15, type = (q >> 4) & 3, reg = (q >> 8) & 15;

	if (type == 1) {		/* MOV from CR */
		if (cr == 3)
			vcpu->gprs[reg] = vx->cr3;
		else if (cr == 8)
			vcpu->gprs[reg] = vx->cr8;
		else
			return exit_internal(vcpu, KQEMU_INTERNAL_ERROR_EMULATION, q, 0);
		vcpu->rip += vx->exit_insn_len;
		return 0;
	}
	if (type != 0)			/* CLTS, LMSW of a forced bit */
		return exit_internal(vcpu, KQEMU_INTERNAL_ERROR_EMULATION, q, 0);

	/* Outside 64-bit mode the operand is the register's low half. */
	val = long_mode_cs(vx) ? vcpu->gprs[reg] : (u32)vcpu->gprs[reg];
	switch (cr) {
	case 0:
		if ((val >> 32) || ((val & VMX_CR0_PG) && !(val & VMX_CR0_PE)) ||
		    ((val & VMX_CR0_NW) && !(val & VMX_CR0_CD)) ||
		    ((val & VMX_CR0_PG) && (vx->efer & EFER_LME) && !(vx->cr4 & VMX_CR4_PAE)) ||
		    ((val | vmx.cr0_forced) & ~vmx.cr0_fixed1))
			goto gp;
		if ((val & VMX_CR0_PG) && (vx->efer & EFER_LME))
			vx->efer |= EFER_LMA;
		else
			vx->efer &= ~EFER_LMA;
		vx->cr0 = val;
		vx->pdptes_stale = pae_paging(vx->cr0, vx->cr4, vx->efer);
		break;
	case 3:
		vx->cr3 = val & ~BIT_ULL(63);
		vx->pdptes_stale = pae_paging(vx->cr0, vx->cr4, vx->efer);
		break;
	case 4:
		if (kqemu_guest_cr4_write(vx->cr4, val, vx->efer, vx->cr3) ||
		    ((val | vmx.cr4_fixed0) & ~vmx.cr4_fixed1))
			goto gp;
		vx->cr4 = val;
		vx->pdptes_stale = pae_paging(vx->cr0, vx->cr4, vx->efer);
		break;
	case 8:
		if (val & ~0xfULL)
			goto gp;
		vx->cr8 = val;
		break;
	default:
		return exit_internal(vcpu, KQEMU_INTERNAL_ERROR_EMULATION, q, 0);
	}
	vcpu->rip += vx->exit_insn_len;
	return 0;
gp:
	kqemu_queue_exception(vcpu, VEC_GP, true, 0);
	return 0;
}

/*
 * An #AC the guest asked for: alignment checking on (CR0.AM, RFLAGS.AC)
 * at CPL 3.  Any other #AC is the host's split-lock detection (its
 * MSR_TEST_CTRL stays live in the guest), and follows the host's policy.
 */
static bool legacy_alignment_check(struct kqemu_vcpu *vcpu, struct vmx_vcpu *vx)
{
	return (vx->cr0 & X86_CR0_AM) && (vcpu->rflags & X86_EFLAGS_AC) &&
	       ((vx->seg[S_SS].ar >> 5) & 3) == 3;
}

/*
 * A guest's split lock: the host's split_lock_detect policy decides, as
 * for its own processes.  Where the kernel exports its handler (6.1,
 * 6.12), "warn" lets the guest go on and "fatal" sends the VMM SIGBUS;
 * where it does not (7.x exports it to KVM alone) kqemu takes the strict
 * side and sends SIGBUS.  Either way the run ends at the signal.
 */
static int handle_split_lock(struct kqemu_vcpu *vcpu)
{
#ifdef KQEMU_HAVE_GUEST_SPLIT_LOCK
	if (handle_guest_split_lock(vcpu->rip))
		return 0;
#else
	pr_warn_ratelimited("guest split lock at %#llx (pid %d, %s): SIGBUS, as with split_lock_detect=fatal\n",
			    vcpu->rip, task_pid_nr(current), current->comm);
	force_sig(SIGBUS);
#endif
	return 0;
}

static int vmx_handle_exit(struct kqemu_vcpu *vcpu, struct vmx_vcpu *vx)
{
	struct kqemu_run *run = vcpu->run;
	u32 reason = vx->exit_reason & 0xffff;

	if (vx->exit_reason == ~0U) {
		/* VMLAUNCH itself failed: a control or host field VMX refused. */
		run->exit_reason = KQEMU_EXIT_FAIL_ENTRY;
		run->fail_entry.hardware_exit_reason = ~0U;
		run->fail_entry.info1 = vx->insn_error;
		run->fail_entry.info2 = 0;
		return 1;
	}
	if (vx->exit_reason & XR_ENTRY_FAILED) {
		/* The guest state: 33 invalid state, 34 MSR loading, 41 machine check. */
		run->exit_reason = KQEMU_EXIT_FAIL_ENTRY;
		run->fail_entry.hardware_exit_reason = vx->exit_reason;
		run->fail_entry.info1 = vx->exit_qual;
		run->fail_entry.info2 = 0;
		return 1;
	}
	vx->exit_rip = vcpu->rip;

	/* An event whose delivery the exit cut short is delivered again. */
	if (vx->idt_info & INTR_VALID) {
		u32 type = vx->idt_info & INTR_TYPE_MASK;

		vx->reinject_info = vx->idt_info & (INTR_VALID | INTR_ERROR_VALID |
						    INTR_TYPE_MASK | 0xff);
		vx->reinject_error = vx->idt_error;
		vx->reinject_len = (type == INTR_TYPE_SW_INT || type == INTR_TYPE_SW_EXC ||
				    type == INTR_TYPE_PRIV_SW_EXC) ? vx->exit_insn_len : 0;
		/*
		 * An NMI cut short: the exit left blocking by NMI clear, and
		 * so must the entry that delivers it again.
		 */
		if (type == INTR_TYPE_NMI)
			vx->intr_state &= ~INTR_STATE_NMI;
	}

	switch (reason) {
	case XR_EXCEPTION: {
		u32 info = vx->exit_intr_info;
		u8 vector = info & 0xff;

		if (vx->exit_nmi || vx->exit_mce)
			return 0;	/* the host's, given to it already */
		if (vector == VEC_AC && !legacy_alignment_check(vcpu, vx))
			return handle_split_lock(vcpu);
		if (vector == VEC_DB)
			kqemu_dr_debug_exit(vcpu, vx->exit_qual);
		if (vector == VEC_DB || vector == VEC_AC) {
			/* Give it to the guest, one exit at a time. */
			kqemu_queue_exception(vcpu, vector, vector == VEC_AC, 0);
			return 0;
		}
		break;
	}
	case XR_EXT_INTR:
	case XR_PREEMPT_TIMER:
	case XR_INIT:
	case XR_SIPI:
	case XR_IO_SMI:
	case XR_OTHER_SMI:
		return 0;	/* the host takes it once interrupts are back on */
	case XR_NMI_WINDOW:
		vx->nmi_window = false;
		if (!vcpu->nmi_pending && READ_ONCE(run->request_nmi_window)) {
			run->exit_reason = KQEMU_EXIT_NMI_WINDOW;
			return 1;
		}
		return 0;
	case XR_INTR_WINDOW:
		vx->irq_window = false;
		if (vcpu->pending_irq < 0 && READ_ONCE(run->request_interrupt_window)) {
			run->exit_reason = KQEMU_EXIT_IRQ_WINDOW;
			return 1;
		}
		return 0;
	case XR_TRIPLE_FAULT:
		run->exit_reason = KQEMU_EXIT_SHUTDOWN;
		return 1;
	case XR_CPUID:
		if (kqemu_cpuid(vcpu)) {
			vcpu->rip += vx->exit_insn_len;
			return 0;
		}
		run->exit_reason = KQEMU_EXIT_CPUID;
		run->cpuid.function = vcpu->gprs[0];
		run->cpuid.index = vcpu->gprs[1];
		run->cpuid.eax = run->cpuid.ebx = run->cpuid.ecx = run->cpuid.edx = 0;
		vcpu->pending_exit = KQEMU_EXIT_CPUID;
		vcpu->next_rip = vcpu->rip + vx->exit_insn_len;
		return 1;
	case XR_HLT:
		vcpu->rip += vx->exit_insn_len;
		run->exit_reason = KQEMU_EXIT_HLT;
		return 1;
	case XR_IO:
		return handle_io(vcpu, vx);
	case XR_RDMSR:
	case XR_WRMSR:
		return kqemu_handle_msr_exit(vcpu, reason == XR_WRMSR,
					     vcpu->rip + vx->exit_insn_len);
	case XR_EPT_VIOLATION:
		return handle_ept_violation(vcpu, vx);
	case XR_CR_ACCESS:
		return handle_cr(vcpu, vx);
	case XR_XSETBV:
		if (kqemu_guest_xsetbv(vcpu, vcpu->gprs[1],
				       (u32)vcpu->gprs[0] | (vcpu->gprs[2] << 32)))
			kqemu_queue_exception(vcpu, VEC_GP, true, 0);
		else
			vcpu->rip += vx->exit_insn_len;
		return 0;
	case XR_RDPMC:
		/* As on a CPU whose PMU the guest does not have. */
		kqemu_queue_exception(vcpu, VEC_GP, true, 0);
		return 0;
	case XR_INVD:
	case XR_WBINVD:
		/* Caches are the host's: the guest's flush does nothing. */
		vcpu->rip += vx->exit_insn_len;
		return 0;
	case XR_DR_ACCESS: {
		/* Qualification: DR (0-2), from DR (4), the GPR (8-11). */
		u64 q = vx->exit_qual;
		unsigned int cpl = (vx->cr0 & VMX_CR0_PE) ? (vx->seg[S_SS].ar >> 5) & 3 : 0;
		int vector = kqemu_mov_dr(vcpu, q & 7, !(q & BIT(4)), (q >> 8) & 15,
					  long_mode_cs(vx), vx->cr4, cpl);

		if (vector)
			kqemu_queue_exception(vcpu, vector, vector == VEC_GP, 0);
		else
			vcpu->rip += vx->exit_insn_len;
		return 0;
	}
	case XR_GETSEC:
	case XR_RSM:
	case XR_VMCALL ... XR_VMXON:
	case XR_MWAIT:
	case XR_MONITOR:
	case XR_INVEPT:
	case XR_INVVPID:
	case XR_VMFUNC:
		/* As on a CPU without them. */
		kqemu_queue_exception(vcpu, VEC_UD, false, 0);
		return 0;
	}
	run->exit_reason = KQEMU_EXIT_UNKNOWN;
	run->fail_entry.hardware_exit_reason = vx->exit_reason;
	run->fail_entry.info1 = vx->exit_qual;
	run->fail_entry.info2 = vx->exit_intr_info;
	return 1;
}

/* The PAE page-directory pointers VM entry loads from the VMCS, not memory. */
static void load_pdptes(struct kqemu_vcpu *vcpu, struct vmx_vcpu *vx)
{
	int i;

	if (kqemu_read_guest(vcpu->vm, vx->cr3 & GENMASK_ULL(31, 5), vx->pdpte,
			     sizeof(vx->pdpte)))
		for (i = 0; i < 4; i++)
			vx->pdpte[i] = 0;	/* not present: the guest faults */
	vx->pdptes_stale = false;
}

static void vmx_get_events(struct kqemu_vcpu *vcpu, struct kqemu_vcpu_events *ev)
{
	struct vmx_vcpu *vx = vcpu->arch;

	ev->interrupt.shadow = (vx->intr_state & INTR_STATE_STI ? KQEMU_SHADOW_STI : 0) |
			       (vx->intr_state & INTR_STATE_MOV_SS ? KQEMU_SHADOW_MOV_SS : 0);
	ev->nmi.masked = !!(vx->intr_state & INTR_STATE_NMI);
	if (vx->reinject_info & INTR_VALID) {
		ev->reinject.valid = 1;
		ev->reinject.type = (vx->reinject_info & INTR_TYPE_MASK) >> 8;
		ev->reinject.vector = vx->reinject_info & 0xff;
		ev->reinject.has_error = !!(vx->reinject_info & INTR_ERROR_VALID);
		ev->reinject.error = vx->reinject_error;
		ev->reinject.insn_len = vx->reinject_len;
	}
}

static int vmx_set_events(struct kqemu_vcpu *vcpu, const struct kqemu_vcpu_events *ev)
{
	struct vmx_vcpu *vx = vcpu->arch;
	u32 state = 0;

	if (ev->nmi.masked && !(vmx.pin & PIN_VIRTUAL_NMI))
		return -EINVAL;
	/* VM entry refuses both shadows at once: MOV SS's is the longer. */
	if (ev->interrupt.shadow & KQEMU_SHADOW_MOV_SS)
		state = INTR_STATE_MOV_SS;
	else if (ev->interrupt.shadow & KQEMU_SHADOW_STI)
		state = INTR_STATE_STI;
	if (ev->nmi.masked)
		state |= INTR_STATE_NMI;
	vx->reinject_info = 0;
	vx->reinject_error = vx->reinject_len = 0;
	if (ev->reinject.valid) {
		vx->reinject_info = ev->reinject.vector | ((u32)ev->reinject.type << 8) | INTR_VALID;
		if (ev->reinject.has_error)
			vx->reinject_info |= INTR_ERROR_VALID;
		vx->reinject_error = ev->reinject.error;
		vx->reinject_len = ev->reinject.insn_len;
		if (ev->reinject.type == KQEMU_EVENT_NMI)
			state &= ~INTR_STATE_NMI;
	}
	vx->intr_state = state;
	/* The shadow belongs to the instruction at RIP as it is now. */
	vx->exit_rip = vcpu->rip;
	return 0;
}

static int vmx_run(struct kqemu_vcpu *vcpu)
{
	struct vmx_vcpu *vx = vcpu->arch;
	struct kqemu_vm *vm = vcpu->vm;
	int ret;

	/* Past the instruction an exit stopped at: its interrupt shadow is gone. */
	if (vcpu->rip != vx->exit_rip)
		vx->intr_state &= ~INTR_STATE_SHADOW;
	if (!(vcpu->rflags & VMX_RFLAGS_IF))
		vx->intr_state &= ~INTR_STATE_STI;
	if (vmx_prepare_events(vcpu, vx))
		goto out_to_user;

	/* Guest memory, read through the VMM's mappings: before mmu_lock. */
	if (vx->pdptes_stale)
		load_pdptes(vcpu, vx);
	down_read(&vm->mmu_lock);
	kernel_fpu_begin();
	local_irq_disable();
	kqemu_mark_in_guest(vm, true);
	ret = vmx_enter(vcpu, vx);
	kqemu_mark_in_guest(vm, false);
	local_irq_enable();
	kernel_fpu_end();
	up_read(&vm->mmu_lock);
	if (ret)
		return ret;

	ret = vmx_handle_exit(vcpu, vx);
	if (ret <= 0)
		return ret;
out_to_user:
	vcpu->run->if_flag = !!(vcpu->rflags & VMX_RFLAGS_IF);
	vcpu->run->ready_for_interrupt_injection =
		guest_can_take_irq(vcpu, vx) && vcpu->pending_irq < 0;
	return 1;
}

struct kqemu_backend kqemu_vmx_backend = {
	.name		= "vmx",
	.id		= KQEMU_BACKEND_VMX,
	/* The exit's instruction length is always there. */
	.nrip_save	= true,
	.vm_init	= vmx_vm_init,
	.vm_free	= vmx_vm_free,
	.leaf_ro	= EPT_R | EPT_X | EPT_WB | EPT_IPAT,
	.leaf_rw	= EPT_R | EPT_W | EPT_X | EPT_WB | EPT_IPAT,
	.vcpu_init	= vmx_vcpu_init,
	.vcpu_free	= vmx_vcpu_free,
	.get_regs	= vmx_get_regs,
	.set_regs	= vmx_set_regs,
	.get_sregs	= vmx_get_sregs,
	.set_sregs	= vmx_set_sregs,
	.get_efer	= vmx_get_efer,
	.set_efer	= vmx_set_efer,
	.get_cr4	= vmx_get_cr4,
	.get_cr8	= vmx_get_cr8,
	.seg_base	= vmx_seg_base,
	.get_events	= vmx_get_events,
	.set_events	= vmx_set_events,
	.run		= vmx_run,
};

/* --- detection --------------------------------------------------------- */

/*
 * The setting of a control: the bits kqemu wants and the ones the CPU
 * insists on, or false when it cannot give a bit kqemu needs.
 */
static bool adjust_controls(u32 msr, u32 want, u32 need, u32 *out)
{
	u64 allowed = kqemu_rdmsr(msr);
	u32 ctl = (want | (u32)allowed) & (u32)(allowed >> 32);

	*out = ctl;
	return (ctl & need) == need;
}

static void vmx_free_pages(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct vmx_cpu *vc = per_cpu_ptr(&vmx_cpus, cpu);

		if (vc->vmxon_region)
			free_page((unsigned long)vc->vmxon_region);
		vc->vmxon_region = NULL;
	}
}

/* 0, or the positive errno that KQEMU_CAP_BACKEND_ERROR reports. */
int kqemu_vmx_init(void)
{
	u32 eax, ebx, ecx, edx, need, pin_msr, proc_msr, exit_msr, entry_msr;
	u64 basic, fc;
	int cpu;

	vmx_cpuid(0, &eax, &ebx, &ecx, &edx);
	if (eax < 1)
		return ENODEV;
	vmx_cpuid(1, &eax, &ebx, &ecx, &edx);
	if (!(ecx & BIT(5)))
		return ENODEV;
	fc = kqemu_rdmsr(VMX_MSR_FEATURE_CONTROL);
	if (!(fc & FC_LOCKED) || !(fc & FC_VMXON_OUTSIDE_SMX)) {
		pr_info("VT-x is disabled by the firmware (IA32_FEATURE_CONTROL): enable VT-x in the firmware setup\n");
		return EPERM;
	}
#ifdef X86_FEATURE_FRED
	/* An NMI that ends a guest is handed to the host with INT 2, which FRED does not take. */
	if (cpu_feature_enabled(X86_FEATURE_FRED)) {
		pr_info("VT-x with FRED enabled is not supported yet; boot with fred=off\n");
		return ENODEV;
	}
#endif

	basic = kqemu_rdmsr(VMX_MSR_BASIC);
	if (((basic >> 32) & 0x1fff) > PAGE_SIZE || ((basic >> 50) & 15) != 6 ||
	    (basic & BIT_ULL(48))) {
		pr_info("this CPU's VMCS does not fit a write-back page\n");
		return ENODEV;
	}
	vmx.revision = basic & 0x7fffffff;
	vmx.ins_outs_info = basic & BIT_ULL(54);
	/* With the TRUE_* MSRs, some controls the old MSRs force become optional. */
	if (basic & BIT_ULL(55)) {
		pin_msr = VMX_MSR_TRUE_PINBASED;
		proc_msr = VMX_MSR_TRUE_PROCBASED;
		exit_msr = VMX_MSR_TRUE_EXIT;
		entry_msr = VMX_MSR_TRUE_ENTRY;
	} else {
		pin_msr = VMX_MSR_PINBASED;
		proc_msr = VMX_MSR_PROCBASED;
		exit_msr = VMX_MSR_EXIT;
		entry_msr = VMX_MSR_ENTRY;
	}

	need = PIN_EXT_INTR | PIN_NMI;
	if (!adjust_controls(pin_msr, need | PIN_PREEMPT_TIMER | PIN_VIRTUAL_NMI, need, &vmx.pin))
		goto no_controls;
	/*
	 * Each entry gets a time slice of about a millisecond from the
	 * VMX-preemption timer, where there is one: the host gets the CPU
	 * back even where an external interrupt would not end the guest.
	 * Bochs 2.7 is such a place: a guest entered with RFLAGS.IF clear
	 * takes no external-interrupt exit there, and one spinning with
	 * interrupts off would hold the CPU forever.
	 */
	if (vmx.pin & PIN_PREEMPT_TIMER)
		vmx.time_slice = clamp_t(u64, (tsc_khz ?: 1000000) >> (kqemu_rdmsr(VMX_MSR_MISC) & 31),
					 1, U32_MAX);
	/* RDPMC exits: the performance counters are the host's. */
	/* TSC offsetting: the guest's TSC is its own (kqemu_get_msr()). */
	need = PROC_HLT | PROC_MWAIT | PROC_RDPMC | PROC_MOV_DR | PROC_UNCOND_IO | PROC_MONITOR |
	       PROC_CR8_LOAD | PROC_CR8_STORE | PROC_SECONDARY | PROC_TSC_OFFSET;
	if (!adjust_controls(proc_msr, need | PROC_INTR_WINDOW | PROC_NMI_WINDOW,
			     need | PROC_INTR_WINDOW, &vmx.proc))
		goto no_controls;
	/*
	 * Guests get NMIs (KQEMU_NMI) with virtual NMIs, which let the CPU
	 * keep the guest's NMI masking, and NMI-window exiting, which needs
	 * them.
	 */
	if (!(vmx.proc & PROC_NMI_WINDOW))
		vmx.pin &= ~PIN_VIRTUAL_NMI;
	kqemu_vmx_backend.nmi = vmx.pin & PIN_VIRTUAL_NMI;
	/* The window exits are set per entry; CR3 exits only where forced. */
	vmx.proc &= ~(PROC_INTR_WINDOW | PROC_NMI_WINDOW);
	/*
	 * Without "enable RDTSCP" a guest's RDTSCP and RDPID are #UD, and
	 * without "enable INVPCID" its INVPCID: give them where the CPU can
	 * (RDTSCP and RDPID read the guest's own TSC_AUX, INVPCID acts on the
	 * guest's own VPID-tagged translations).
	 */
	need = PROC2_EPT | PROC2_UNRESTRICTED;
	if (!adjust_controls(VMX_MSR_PROCBASED2,
			     need | PROC2_VPID | PROC2_WBINVD | PROC2_RDTSCP | PROC2_INVPCID,
			     need, &vmx.proc2)) {
		pr_info("this CPU has VT-x but not EPT with unrestricted guest; kqemu needs both\n");
		return ENODEV;
	}
	need = EXIT_HOST_64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER;
	/* Interrupts stay pending in the APIC, for the host to take. */
	if (!adjust_controls(exit_msr, need | EXIT_SAVE_DEBUG, need, &vmx.exit) ||
	    (vmx.exit & EXIT_ACK_INTR))
		goto no_controls;
	need = ENTRY_LOAD_EFER;
	if (!adjust_controls(entry_msr, need | ENTRY_LOAD_DEBUG | ENTRY_IA32E, need | ENTRY_IA32E,
			     &vmx.entry))
		goto no_controls;
	vmx.entry &= ~ENTRY_IA32E;

	vmx.ept_vpid_cap = kqemu_rdmsr(VMX_MSR_EPT_VPID_CAP);
	if (!(vmx.ept_vpid_cap & CAP_EPT_4LEVEL) || !(vmx.ept_vpid_cap & CAP_EPT_WB) ||
	    !(vmx.ept_vpid_cap & CAP_INVEPT) ||
	    !(vmx.ept_vpid_cap & (CAP_INVEPT_SINGLE | CAP_INVEPT_ALL))) {
		pr_info("this CPU's EPT lacks 4-level write-back tables or INVEPT\n");
		return ENODEV;
	}
	if (!(vmx.ept_vpid_cap & CAP_INVVPID) ||
	    !(vmx.ept_vpid_cap & (CAP_INVVPID_SINGLE | CAP_INVVPID_ALL)))
		vmx.proc2 &= ~PROC2_VPID;
	/* 2 MiB EPT leaves where the VMM's memory has 2 MiB pages. */
	kqemu_vmx_backend.leaf_huge = (vmx.ept_vpid_cap & CAP_EPT_2MB) ? EPT_LARGE : 0;

	vmx.cr0_fixed0 = kqemu_rdmsr(VMX_MSR_CR0_FIXED0);
	vmx.cr0_fixed1 = kqemu_rdmsr(VMX_MSR_CR0_FIXED1);
	vmx.cr4_fixed0 = kqemu_rdmsr(VMX_MSR_CR4_FIXED0);
	vmx.cr4_fixed1 = kqemu_rdmsr(VMX_MSR_CR4_FIXED1);
	/* Unrestricted guest lifts PE and PG; what is left (NE) kqemu hides. */
	vmx.cr0_forced = vmx.cr0_fixed0 & ~(VMX_CR0_PE | VMX_CR0_PG);

	for_each_possible_cpu(cpu) {
		struct vmx_cpu *vc = per_cpu_ptr(&vmx_cpus, cpu);

		vc->vmxon_region = (void *)get_zeroed_page(GFP_KERNEL);
		if (!vc->vmxon_region) {
			vmx_free_pages();
			return ENOMEM;
		}
		*(u32 *)vc->vmxon_region = vmx.revision;
	}
	pr_info("Intel VT-x with EPT and unrestricted guest (VPID %s, preemption timer %s, INS/OUTS information %s, 2 MiB EPT pages %s)\n",
		(vmx.proc2 & PROC2_VPID) ? "yes" : "no", vmx.time_slice ? "yes" : "no",
		vmx.ins_outs_info ? "yes" : "no", kqemu_vmx_backend.leaf_huge ? "yes" : "no");
	vmx_emergency_init();
	return 0;

no_controls:
	pr_info("this CPU's VT-x lacks controls kqemu needs\n");
	return ENODEV;
}

void kqemu_vmx_exit(void)
{
	vmx_emergency_exit();
	vmx_free_pages();
	ida_destroy(&vmx_vpids);
}
