// SPDX-License-Identifier: GPL-2.0
/*
 * The AMD SVM backend, with nested paging.
 *
 * kqemu sets EFER.SVME only around its own VMRUN, with interrupts off, and
 * puts back exactly what it found: kvm_amd refuses to enable SVM when SVME
 * is already set, and with SVME clear outside our window it never sees it
 * set.  Where another hypervisor (kvm_amd, which on 6.12+ enables SVM when it
 * loads) already has SVME set, VMRUN only needs a host save area while it
 * runs, so we borrow the CPU: point VM_HSAVE_PA at our own area for the
 * window, put the other's back, and flush the TLB of every ASID on entry,
 * since ASIDs are not ours alone.  share_svm=0 refuses instead (EBUSY).
 *
 * The VMCB layout is the one in the AMD64 Architecture Programmer's Manual,
 * vol. 2, appendix B; it is written out here rather than taken from the
 * kernel's asm/svm.h, whose field names change between releases.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/stddef.h>
#include <linux/io.h>
#include <trace/events/ipi.h>	/* smp_send_reschedule() traces the IPI on 6.3+ */
#include <asm/fpu/api.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>

#include "kqemu.h"

static bool share_svm = true;
module_param(share_svm, bool, 0644);
MODULE_PARM_DESC(share_svm, "Run guests while another hypervisor has SVM enabled (default: yes)");

struct vmcb_seg {
	u16 selector;
	u16 attrib;
	u32 limit;
	u64 base;
} __packed;

struct vmcb_control {
	u32 intercept_cr;
	u32 intercept_dr;
	u32 intercept_exceptions;
	u32 intercept_misc1;
	u32 intercept_misc2;
	u32 intercept_misc3;
	u8 reserved1[0x3c - 0x18];
	u16 pause_filter_thresh;
	u16 pause_filter_count;
	u64 iopm_base_pa;
	u64 msrpm_base_pa;
	u64 tsc_offset;
	u32 asid;
	u8 tlb_ctl;
	u8 reserved2[3];
	u64 int_ctl;
	u64 int_state;
	u64 exit_code;
	u64 exit_info1;
	u64 exit_info2;
	u64 exit_int_info;
	u64 nested_ctl;
	u64 avic_vapic_bar;
	u64 ghcb_gpa;
	u64 event_inj;
	u64 nested_cr3;
	u64 virt_ext;
	u32 clean;
	u32 reserved3;
	u64 next_rip;
	u8 insn_len;
	u8 insn_bytes[15];
	u8 reserved4[0x400 - 0xe0];
} __packed;

struct vmcb_save {
	struct vmcb_seg es, cs, ss, ds, fs, gs, gdtr, ldtr, idtr, tr;
	u8 reserved1[0xcb - 0xa0];
	u8 cpl;
	u32 reserved2;
	u64 efer;
	u8 reserved3[0x148 - 0xd8];
	u64 cr4, cr3, cr0, dr7, dr6, rflags, rip;
	u8 reserved4[0x1d8 - 0x180];
	u64 rsp;
	u64 s_cet, ssp, isst_addr;
	u64 rax;
	u64 star, lstar, cstar, sfmask, kernel_gs_base;
	u64 sysenter_cs, sysenter_esp, sysenter_eip;
	u64 cr2;
	u8 reserved5[0x268 - 0x248];
	u64 g_pat;
	u64 dbgctl;
} __packed;

struct vmcb {
	struct vmcb_control control;
	struct vmcb_save save;
} __packed;

static_assert(offsetof(struct vmcb_control, iopm_base_pa) == 0x040);
static_assert(offsetof(struct vmcb_control, int_ctl) == 0x060);
static_assert(offsetof(struct vmcb_control, exit_code) == 0x070);
static_assert(offsetof(struct vmcb_control, event_inj) == 0x0a8);
static_assert(offsetof(struct vmcb_control, next_rip) == 0x0c8);
static_assert(offsetof(struct vmcb_control, insn_bytes) == 0x0d1);
static_assert(sizeof(struct vmcb_control) == 0x400);
static_assert(offsetof(struct vmcb_save, tr) == 0x090);
static_assert(offsetof(struct vmcb_save, cpl) == 0x0cb);
static_assert(offsetof(struct vmcb_save, efer) == 0x0d0);
static_assert(offsetof(struct vmcb_save, cr4) == 0x148);
static_assert(offsetof(struct vmcb_save, rip) == 0x178);
static_assert(offsetof(struct vmcb_save, rsp) == 0x1d8);
static_assert(offsetof(struct vmcb_save, rax) == 0x1f8);
static_assert(offsetof(struct vmcb_save, cr2) == 0x240);
static_assert(offsetof(struct vmcb_save, g_pat) == 0x268);
static_assert(sizeof(struct vmcb) <= PAGE_SIZE);

/* Intercept bits, misc1 (VMCB offset 0x00c). */
#define I1_INTR		BIT(0)
#define I1_NMI		BIT(1)
#define I1_SMI		BIT(2)
#define I1_INIT		BIT(3)
#define I1_VINTR	BIT(4)
#define I1_RDPMC	BIT(15)
#define I1_CPUID	BIT(18)
#define I1_RSM		BIT(19)
#define I1_INVD		BIT(22)
#define I1_HLT		BIT(24)
#define I1_INVLPGA	BIT(26)
#define I1_IOIO		BIT(27)
#define I1_MSR		BIT(28)
#define I1_IRET		BIT(20)
#define I1_FERR_FREEZE	BIT(30)
#define I1_SHUTDOWN	BIT(31)
/* misc2 (0x010): VMRUN, VMMCALL, VMLOAD, VMSAVE, STGI, CLGI, SKINIT (0-6), WBINVD (9), MONITOR, MWAIT, MWAIT_COND (10-12), XSETBV (13), RDPRU (14) */
#define I2_ALL		(GENMASK(6, 0) | BIT(9) | GENMASK(14, 10))
/* misc3 (0x014): INVLPGB, INVLPGB illegal, TLBSYNC */
#define I3_ALL		(BIT(0) | BIT(1) | BIT(4))

#define INTERCEPT_CR4_WRITE	BIT(16 + 4)
#define EXIT_CR4_WRITE	0x014
#define EXIT_DR_BASE	0x020
#define EXIT_EXCP_BASE	0x040
#define EXIT_INTR	0x060
#define EXIT_NMI	0x061
#define EXIT_SMI	0x062
#define EXIT_INIT	0x063
#define EXIT_VINTR	0x064
#define EXIT_RDPMC	0x06f
#define EXIT_CPUID	0x072
#define EXIT_RSM	0x073
#define EXIT_IRET	0x074
#define EXIT_INVD	0x076
#define EXIT_HLT	0x078
#define EXIT_INVLPGA	0x07a
#define EXIT_IOIO	0x07b
#define EXIT_MSR	0x07c
#define EXIT_FERR_FREEZE 0x07e
#define EXIT_SHUTDOWN	0x07f
#define EXIT_VMRUN	0x080
#define EXIT_WBINVD	0x089
#define EXIT_XSETBV	0x08d
#define EXIT_RDPRU	0x08e
#define EXIT_INVLPGB	0x0a0
#define EXIT_TLBSYNC	0x0a4
#define EXIT_NPF	0x400
#define EXIT_ERR	0xffffffffU	/* VMEXIT_INVALID, -1 in the low 32 bits */

#define INT_CTL_V_IRQ		BIT_ULL(8)
#define INT_CTL_V_PRIO_MAX	(0xfULL << 16)
#define INT_CTL_V_IGN_TPR	BIT_ULL(20)
#define INT_CTL_V_INTR_MASKING	BIT_ULL(24)

#define EVENT_VALID		BIT_ULL(31)
#define EVENT_ERROR_VALID	BIT_ULL(11)
#define EVENT_TYPE_MASK		(7ULL << 8)
#define EVENT_TYPE_INTR		(0ULL << 8)
#define EVENT_TYPE_NMI		(2ULL << 8)
#define EVENT_TYPE_EXCEPTION	(3ULL << 8)

#define TLB_CTL_FLUSH_ALL		1
#define TLB_CTL_FLUSH_ASID		3
#define NESTED_CTL_NP		BIT_ULL(0)

#define SVM_RFLAGS_IF		BIT_ULL(9)
#define SVM_CR0_PE		BIT_ULL(0)
#define SVM_CR0_PG		BIT_ULL(31)
#define SVM_CR4_PAE		BIT_ULL(5)
#define SEG_ATTR_L		BIT(9)
#define SVM_MSR_VM_CR		0xc0010114
#define SVM_MSR_VM_HSAVE_PA	0xc0010117
#define SVM_VM_CR_SVMDIS	BIT_ULL(4)
#define SEG_ATTR_DB		BIT(10)

#define VEC_DB	1
#define VEC_UD	6
#define VEC_GP	13
#define VEC_PF	14
#define VEC_AC	17
#define VEC_MC	18

/* NPT entries: present, writable, user (nested walks are user accesses). */
#define NPT_P	BIT_ULL(0)
#define NPT_RW	BIT_ULL(1)
#define NPT_US	BIT_ULL(2)
#define NPT_PS	BIT_ULL(7)	/* in a PDE: a 2 MiB page */

struct svm_cpu {
	struct page *hsave;		/* VM_HSAVE_PA: where VMRUN puts the host */
	struct page *host_save;		/* VMSAVE of the host's FS/GS/TR/... */
	struct page *scrub_vmcb;	/* svm_scrub_asid()'s empty guest */
	u32 next_asid;
	u32 asid_gen;
};

static DEFINE_PER_CPU(struct svm_cpu, svm_cpus);
static struct page *iopm_pages, *msrpm_pages;	/* every port and MSR intercepted */
static struct page *empty_npt;			/* the scrub guest's nested table */
static u32 min_asid = 1, max_asid;	/* the ASIDs kqemu uses: not SEV's */
static bool flush_by_asid;	/* TLB_CONTROL 3 flushes one ASID's translations */

struct svm_vcpu {
	struct vmcb *vmcb;
	u64 vmcb_pa;
	u32 asid, asid_gen;
	int last_cpu;
	int tlb_gen;
	u64 reinject;			/* an event a VM exit interrupted */
	bool flush_guest_tlb;		/* an emulated CR4 write changed paging */
	/*
	 * NMI masking, which SVM leaves to the hypervisor (short of vNMI):
	 * from an NMI's injection until the guest is seen past the IRET that
	 * ends its handler (intercepted: iret_rip is where it was).
	 */
	bool nmi_masked, awaiting_iret;
	u64 iret_rip;
	/* The guest runs with its debug registers and no DR intercept (handle_dr()). */
	bool db_owned;
	struct vmcb_save entered;	/* the state the last VMRUN was given */
};

/* Our own, as the kernel's cpuid helpers moved between releases. */
static void svm_cpuid(u32 leaf, u32 *eax, u32 *ebx, u32 *ecx, u32 *edx)
{
	asm volatile("cpuid"
		     : "=a"(*eax), "=b"(*ebx), "=c"(*ecx), "=d"(*edx)
		     : "a"(leaf), "c"(0));
}

void __kqemu_svm_vmrun(u64 vmcb_pa, u64 *gprs, u64 host_save_pa);
void __kqemu_svm_scrub(u64 vmcb_pa);

/* --- nested page tables ------------------------------------------------ */

/*
 * The nested table has the host's depth: the CPU walks it in the host's
 * paging mode, 5 levels where the host runs with CR4.LA57 (as KVM's
 * get_npt_level() says), and a 4-level root there would be read as a PML5.
 * CR4.LA57 cannot change while the kernel runs.
 */
static int svm_npt_levels(void)
{
	unsigned long cr4;

	asm volatile("mov %%cr4, %0" : "=r"(cr4));
	return (cr4 & X86_CR4_LA57) ? 5 : 4;
}

static int svm_vm_init(struct kqemu_vm *vm)
{
	/* Nested walks are user accesses: tables are present, writable, user. */
	return kqemu_gpt_init(&vm->gpt, svm_npt_levels(), NPT_P | NPT_RW | NPT_US, NPT_P,
			      kqemu_svm_backend.leaf_huge);
}

static void svm_vm_free(struct kqemu_vm *vm)
{
	kqemu_gpt_free(&vm->gpt);
}

/* --- vCPU state -------------------------------------------------------- */

static void seg_to_vmcb(struct vmcb_seg *v, const struct kqemu_segment *s)
{
	v->selector = s->selector;
	v->attrib = s->attrib & 0xfff;
	v->limit = s->limit;
	v->base = s->base;
}

static void seg_from_vmcb(struct kqemu_segment *s, const struct vmcb_seg *v)
{
	s->selector = v->selector;
	s->attrib = v->attrib;
	s->limit = v->limit;
	s->base = v->base;
}

static void svm_reset_state(struct vmcb_save *save)
{
	/* Real mode at 0:0, as userspace most often wants to start. */
	struct vmcb_seg data = { .attrib = 0x93, .limit = 0xffff };

	save->cs = (struct vmcb_seg){ .attrib = 0x9b, .limit = 0xffff };
	save->ds = save->es = save->fs = save->gs = save->ss = data;
	save->ldtr = (struct vmcb_seg){ .attrib = 0x82, .limit = 0xffff };
	save->tr = (struct vmcb_seg){ .attrib = 0x8b, .limit = 0xffff };
	save->gdtr.limit = 0xffff;
	save->idtr.limit = 0xffff;
	save->cr0 = 0x10;		/* ET */
	save->efer = EFER_SVME;		/* VMRUN requires it; userspace never sees it */
	save->rflags = 2;
	save->dr6 = 0xffff0ff0;
	save->dr7 = 0x400;
}

static int svm_vcpu_init(struct kqemu_vcpu *vcpu)
{
	struct svm_vcpu *sv;
	struct vmcb_control *c;

	sv = kzalloc(sizeof(*sv), GFP_KERNEL_ACCOUNT);
	if (!sv)
		return -ENOMEM;
	sv->vmcb = (struct vmcb *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!sv->vmcb) {
		kfree(sv);
		return -ENOMEM;
	}
	sv->vmcb_pa = virt_to_phys(sv->vmcb);
	sv->last_cpu = -1;
	sv->tlb_gen = atomic_read(&vcpu->vm->tlb_gen);

	c = &sv->vmcb->control;
	/* The first MOV DR after each exit hands the guest its debug registers. */
	c->intercept_dr = ~0U;
	/* CR4 bits a guest does not get (KQEMU_CR4_GUEST) are checked here. */
	c->intercept_cr = INTERCEPT_CR4_WRITE;
	/*
	 * #DB and #AC: a guest must not loop in microcode delivering them.
	 * #MC: a machine check is the host's to handle, not the guest's.
	 */
	c->intercept_exceptions = BIT(VEC_DB) | BIT(VEC_AC) | BIT(VEC_MC);
	/* RDPMC: the performance counters are the host's (guests have no PMU). */
	c->intercept_misc1 = I1_INTR | I1_NMI | I1_SMI | I1_INIT | I1_RDPMC | I1_CPUID |
			     I1_RSM | I1_INVD | I1_HLT | I1_INVLPGA | I1_IOIO |
			     I1_MSR | I1_FERR_FREEZE | I1_SHUTDOWN;
	c->intercept_misc2 = I2_ALL;
	c->intercept_misc3 = I3_ALL;
	c->iopm_base_pa = page_to_phys(iopm_pages);
	c->msrpm_base_pa = page_to_phys(msrpm_pages);
	c->int_ctl = INT_CTL_V_INTR_MASKING;
	c->nested_ctl = NESTED_CTL_NP;
	c->nested_cr3 = virt_to_phys(vcpu->vm->gpt.root);
	svm_reset_state(&sv->vmcb->save);
	vcpu->rflags = 2;
	vcpu->arch = sv;
	return 0;
}

static void svm_vcpu_free(struct kqemu_vcpu *vcpu)
{
	struct svm_vcpu *sv = vcpu->arch;

	free_page((unsigned long)sv->vmcb);
	kfree(sv);
	vcpu->arch = NULL;
}

static void svm_get_regs(struct kqemu_vcpu *vcpu, struct kqemu_regs *regs)
{
	u64 *r = vcpu->gprs;

	regs->rax = r[0]; regs->rcx = r[1]; regs->rdx = r[2]; regs->rbx = r[3];
	regs->rsp = r[4]; regs->rbp = r[5]; regs->rsi = r[6]; regs->rdi = r[7];
	regs->r8 = r[8]; regs->r9 = r[9]; regs->r10 = r[10]; regs->r11 = r[11];
	regs->r12 = r[12]; regs->r13 = r[13]; regs->r14 = r[14]; regs->r15 = r[15];
	regs->rip = vcpu->rip;
	regs->rflags = vcpu->rflags;
}

static void svm_set_regs(struct kqemu_vcpu *vcpu, const struct kqemu_regs *regs)
{
	u64 *r = vcpu->gprs;

	r[0] = regs->rax; r[1] = regs->rcx; r[2] = regs->rdx; r[3] = regs->rbx;
	r[4] = regs->rsp; r[5] = regs->rbp; r[6] = regs->rsi; r[7] = regs->rdi;
	r[8] = regs->r8; r[9] = regs->r9; r[10] = regs->r10; r[11] = regs->r11;
	r[12] = regs->r12; r[13] = regs->r13; r[14] = regs->r14; r[15] = regs->r15;
	vcpu->rip = regs->rip;
	/*
	 * Bit 1 is always 1, the reserved bits 0; and no virtual-8086 mode
	 * (VM, bit 17): no kqemu guest needs it, and emulators get it wrong.
	 */
	vcpu->rflags = (regs->rflags & 0x3d7fd7ULL) | 2;
	/* Whatever was waiting on the old state no longer applies. */
	vcpu->pending_exit = 0;
}

/* The guest's MOV to CR8 writes V_TPR (V_INTR_MASKING). */
static u64 *svm_seg_base(struct kqemu_vcpu *vcpu, bool gs)
{
	struct vmcb_save *save = &((struct svm_vcpu *)vcpu->arch)->vmcb->save;

	/* VMSAVE wrote them back at the exit; VMLOAD loads them at entry. */
	return gs ? &save->gs.base : &save->fs.base;
}

static u64 svm_get_cr8(struct kqemu_vcpu *vcpu)
{
	return ((struct svm_vcpu *)vcpu->arch)->vmcb->control.int_ctl & 0xf;
}

static void svm_get_sregs(struct kqemu_vcpu *vcpu, struct kqemu_sregs *s)
{
	struct vmcb_save *save = &((struct svm_vcpu *)vcpu->arch)->vmcb->save;

	seg_from_vmcb(&s->cs, &save->cs);
	seg_from_vmcb(&s->ds, &save->ds);
	seg_from_vmcb(&s->es, &save->es);
	seg_from_vmcb(&s->fs, &save->fs);
	seg_from_vmcb(&s->gs, &save->gs);
	seg_from_vmcb(&s->ss, &save->ss);
	seg_from_vmcb(&s->tr, &save->tr);
	seg_from_vmcb(&s->ldt, &save->ldtr);
	s->gdt.base = save->gdtr.base;
	s->gdt.limit = save->gdtr.limit;
	s->idt.base = save->idtr.base;
	s->idt.limit = save->idtr.limit;
	s->cr0 = save->cr0;
	s->cr2 = save->cr2;
	s->cr3 = save->cr3;
	s->cr4 = save->cr4;
	s->efer = save->efer & ~EFER_SVME;
	s->cr8 = svm_get_cr8(vcpu);
}

static u64 svm_get_cr4(struct kqemu_vcpu *vcpu)
{
	return ((struct svm_vcpu *)vcpu->arch)->vmcb->save.cr4;
}

static u64 svm_get_efer(struct kqemu_vcpu *vcpu)
{
	return ((struct svm_vcpu *)vcpu->arch)->vmcb->save.efer & ~EFER_SVME;
}

static int svm_set_efer(struct kqemu_vcpu *vcpu, u64 efer, bool host)
{
	struct vmcb_save *save = &((struct svm_vcpu *)vcpu->arch)->vmcb->save;
	int ret;

	ret = kqemu_check_efer(efer, save->efer & ~EFER_SVME, save->cr0, save->cr4, host, &efer);
	if (!ret)
		save->efer = efer | EFER_SVME;
	return ret;
}

#define EFER_ALLOWED	KQEMU_EFER_GUEST
#define CR4_ALLOWED	kqemu_cr4_guest()
#define SVM_CR0_CD	BIT_ULL(30)
#define SVM_CR0_NW	BIT_ULL(29)
#define SVM_CR4_PCIDE	BIT_ULL(17)
#define SVM_CR3_MBZ	GENMASK_ULL(63, 52)

static int svm_set_sregs(struct kqemu_vcpu *vcpu, const struct kqemu_sregs *s)
{
	struct vmcb_save *save = &((struct svm_vcpu *)vcpu->arch)->vmcb->save;
	u64 efer = s->efer & ~EFER_LMA;

	if ((s->efer & ~EFER_ALLOWED) || (s->cr0 >> 32) || (s->cr4 & ~CR4_ALLOWED))
		return -EINVAL;
	if ((s->cr0 & SVM_CR0_PG) && !(s->cr0 & SVM_CR0_PE))
		return -EINVAL;
	/* VMRUN's own consistency checks, which emulators check only in part. */
	if ((s->cr0 & SVM_CR0_NW) && !(s->cr0 & SVM_CR0_CD))
		return -EINVAL;
	if (s->cr3 & SVM_CR3_MBZ)
		return -EINVAL;
	/*
	 * EFER.LME without CR4.PAE: hardware refuses to turn paging on from
	 * there, and QEMU's SVM (7.2) cannot even leave such a guest: its
	 * #VMEXIT gives the host back its CR4 only after trying its CR0 with
	 * the guest's, and the host goes on with paging off and GIF clear.
	 */
	if ((efer & EFER_LME) && !(s->cr4 & SVM_CR4_PAE))
		return -EINVAL;
	if ((efer & EFER_LME) && (s->cr0 & SVM_CR0_PG))
		efer |= EFER_LMA;
	if ((s->cr4 & SVM_CR4_PCIDE) && !(efer & EFER_LMA))
		return -EINVAL;
	seg_to_vmcb(&save->cs, &s->cs);
	seg_to_vmcb(&save->ds, &s->ds);
	seg_to_vmcb(&save->es, &s->es);
	seg_to_vmcb(&save->fs, &s->fs);
	seg_to_vmcb(&save->gs, &s->gs);
	seg_to_vmcb(&save->ss, &s->ss);
	seg_to_vmcb(&save->tr, &s->tr);
	seg_to_vmcb(&save->ldtr, &s->ldt);
	save->gdtr.base = s->gdt.base;
	save->gdtr.limit = s->gdt.limit;
	save->idtr.base = s->idt.base;
	save->idtr.limit = s->idt.limit;
	save->cr0 = s->cr0;
	save->cr2 = s->cr2;
	save->cr3 = s->cr3;
	save->cr4 = s->cr4;
	save->efer = efer | EFER_SVME;
	save->cpl = (s->cr0 & SVM_CR0_PE) ? (s->ss.attrib >> 5) & 3 : 0;
	if (s->flags & KQEMU_SREGS_CR8) {
		struct vmcb_control *c = &((struct svm_vcpu *)vcpu->arch)->vmcb->control;

		c->int_ctl = (c->int_ctl & ~0xfULL) | s->cr8;
	}
	return 0;
}

/* --- entering the guest ------------------------------------------------ */

static bool guest_can_take_irq(struct vmcb *vmcb)
{
	return (vmcb->save.rflags & SVM_RFLAGS_IF) && !(vmcb->control.int_state & 1);
}

static void arm_irq_window(struct vmcb *vmcb)
{
	vmcb->control.int_ctl |= INT_CTL_V_IRQ | INT_CTL_V_PRIO_MAX | INT_CTL_V_IGN_TPR;
	vmcb->control.intercept_misc1 |= I1_VINTR;
}

static void disarm_irq_window(struct vmcb *vmcb)
{
	vmcb->control.int_ctl &= ~(INT_CTL_V_IRQ | INT_CTL_V_PRIO_MAX | INT_CTL_V_IGN_TPR);
	vmcb->control.intercept_misc1 &= ~I1_VINTR;
}

static u64 exception_event(u8 vector, bool has_error, u32 error)
{
	u64 ev = vector | EVENT_TYPE_EXCEPTION | EVENT_VALID;

	if (has_error)
		ev |= EVENT_ERROR_VALID | ((u64)error << 32);
	return ev;
}

static bool svm_can_take_nmi(struct svm_vcpu *sv)
{
	return !sv->nmi_masked && !(sv->vmcb->control.int_state & 1);
}

/* Masked: until the guest's next IRET is done, which is intercepted. */
static void svm_mask_nmi(struct svm_vcpu *sv, bool masked)
{
	sv->nmi_masked = masked;
	sv->awaiting_iret = false;
	if (masked)
		sv->vmcb->control.intercept_misc1 |= I1_IRET;
	else
		sv->vmcb->control.intercept_misc1 &= ~I1_IRET;
}

/*
 * What the guest takes at this entry, by priority: an event an exit cut
 * short, an exception, a queued interrupt.  Returns 1 when userspace asked
 * for an interrupt window that is already open: exit without entering.
 */
static int svm_prepare_events(struct kqemu_vcpu *vcpu, struct svm_vcpu *sv)
{
	struct vmcb *vmcb = sv->vmcb;

	vmcb->control.event_inj = 0;
	if (sv->reinject) {
		vmcb->control.event_inj = sv->reinject;
		sv->reinject = 0;
	} else if (vcpu->exception.pending) {
		u8 vector = vcpu->exception.vector;

		vmcb->control.event_inj =
			exception_event(vector, vcpu->exception.has_error &&
					kqemu_exception_has_error(vector, vmcb->save.cr0 & SVM_CR0_PE),
					vcpu->exception.error);
		vcpu->exception.pending = false;
	} else if (vcpu->nmi_pending && svm_can_take_nmi(sv)) {
		vmcb->control.event_inj = 2 | EVENT_TYPE_NMI | EVENT_VALID;
		vcpu->nmi_pending = false;
		svm_mask_nmi(sv, true);
	} else if (vcpu->pending_irq >= 0 && guest_can_take_irq(vmcb)) {
		vmcb->control.event_inj = vcpu->pending_irq | EVENT_TYPE_INTR | EVENT_VALID;
		vcpu->pending_irq = -1;
	}

	/* No exit tells SVM when NMIs open: the first exit after it does. */
	if (READ_ONCE(vcpu->run->request_nmi_window) && !vcpu->nmi_pending &&
	    !vmcb->control.event_inj && svm_can_take_nmi(sv)) {
		vcpu->run->exit_reason = KQEMU_EXIT_NMI_WINDOW;
		return 1;
	}
	if (vcpu->pending_irq >= 0) {
		arm_irq_window(vmcb);
	} else if (READ_ONCE(vcpu->run->request_interrupt_window)) {
		if (!vmcb->control.event_inj && guest_can_take_irq(vmcb)) {
			vcpu->run->exit_reason = KQEMU_EXIT_IRQ_WINDOW;
			return 1;
		}
		arm_irq_window(vmcb);
	}
	return 0;
}

/*
 * A new ASID for this vCPU on this CPU.  Returns true when the numbers
 * wrapped around: every ASID may then hold another vCPU's translations,
 * and the entry flushes them all.
 */
static bool svm_new_asid(struct svm_vcpu *sv, struct svm_cpu *sc)
{
	bool wrapped = sc->next_asid > max_asid;

	if (wrapped) {
		sc->asid_gen++;
		sc->next_asid = min_asid;
	}
	sv->asid = sc->next_asid++;
	sv->asid_gen = sc->asid_gen;
	sv->vmcb->control.asid = sv->asid;
	/* The ASID may hold what another vCPU of ours left in it. */
	sv->flush_guest_tlb = true;
	return wrapped;
}

/*
 * A VMRUN that only flushes ASID's translations: its guest has an empty
 * nested table, so its first instruction fetch ends it in a nested page
 * fault before it has run anything or filled any TLB entry.
 */
static void svm_scrub_asid(struct svm_cpu *sc, u32 asid)
{
	struct vmcb *scrub = page_address(sc->scrub_vmcb);

	scrub->control.asid = asid;
	scrub->control.tlb_ctl = flush_by_asid ? TLB_CTL_FLUSH_ASID : TLB_CTL_FLUSH_ALL;
	scrub->control.clean = 0;
	__kqemu_svm_scrub(page_to_phys(sc->scrub_vmcb));
}

/*
 * CR2 by hand around VMRUN, where the CPU does not load the VMCB's: Bochs
 * (2.7) reads it at VMRUN but leaves its own CR2 as it was, so a #PF that
 * kqemu gives the guest (string I/O) would find the host's last fault
 * address there.  The APM's VMRUN loads it; writing the same value first
 * changes nothing there, and it is written only where it differs (MOV to
 * CR2 is serializing): after an exit CR2 holds the guest's already.
 */
static void svm_load_cr2(u64 cr2)
{
	unsigned long now;

	asm volatile("mov %%cr2, %0" : "=r"(now));
	if (now != cr2)
		asm volatile("mov %0, %%cr2" : : "r"((unsigned long)cr2) : "memory");
}

/* With interrupts off: borrow SVM on this CPU, VMRUN once, give it back. */
static int svm_enter(struct kqemu_vcpu *vcpu, struct svm_vcpu *sv)
{
	struct svm_cpu *sc = this_cpu_ptr(&svm_cpus);
	struct vmcb_control *c = &sv->vmcb->control;
	int cpu = smp_processor_id();
	u64 efer = kqemu_rdmsr(MSR_EFER), hsave;
	bool shared = efer & EFER_SVME;
	/* Another hypervisor's translations may be in any ASID. */
	bool flush_all = shared;
	struct kqemu_host_msrs host_msrs;
	struct kqemu_host_dr host_dr;
	unsigned long host_db[4];
	bool guest_db;
	u64 host_xcr0;
	int tlb_gen;

	if (shared && !READ_ONCE(share_svm))
		return -EBUSY;
	if (!shared)
		kqemu_wrmsr(MSR_EFER, efer | EFER_SVME);
	hsave = kqemu_rdmsr(SVM_MSR_VM_HSAVE_PA);
	/*
	 * Where kqemu enables SVM itself, it leaves VM_HSAVE_PA at its own
	 * page afterwards (see below).  Any other hypervisor that ran a guest
	 * on this CPU since had to point it at its own: then its guests'
	 * translations may be in any ASID, ours included, so a new
	 * generation starts and the entry flushes them all.
	 */
	if (!shared && hsave != page_to_phys(sc->hsave)) {
		sc->asid_gen++;
		sc->next_asid = min_asid;
		flush_all = true;
	}
	kqemu_wrmsr(SVM_MSR_VM_HSAVE_PA, page_to_phys(sc->hsave));

	if (sv->last_cpu != cpu || sv->asid_gen != sc->asid_gen) {
		flush_all |= svm_new_asid(sv, sc);
		sv->last_cpu = cpu;
	}
	tlb_gen = atomic_read(&vcpu->vm->tlb_gen);
	if (tlb_gen != sv->tlb_gen) {
		sv->flush_guest_tlb = true;
		sv->tlb_gen = tlb_gen;
	}
	if (flush_all)
		c->tlb_ctl = TLB_CTL_FLUSH_ALL;
	else if (sv->flush_guest_tlb)
		c->tlb_ctl = flush_by_asid ? TLB_CTL_FLUSH_ASID : TLB_CTL_FLUSH_ALL;
	sv->flush_guest_tlb = false;
	c->clean = 0;

	/*
	 * After an interrupt given through EVENTINJ the guest exits at once,
	 * as under KVM: a host interrupt pending at VMRUN is taken right after
	 * the injection.  QEMU's SVM (7.2, and its source today) delivers the
	 * interrupt inside VMRUN but leaves it as the CPU's pending exception,
	 * and delivers it a second time if that CPU is kicked before the
	 * guest's next #VMEXIT.  Elsewhere this costs one more exit per
	 * injected interrupt.
	 */
	if ((c->event_inj & (EVENT_VALID | EVENT_TYPE_MASK)) == (EVENT_VALID | EVENT_TYPE_INTR))
		smp_send_reschedule(cpu);

	kqemu_save_host_dr(&host_dr);
	guest_db = kqemu_load_guest_db(&vcpu->dr, sv->db_owned, host_db);
	kqemu_load_guest_msrs(&vcpu->msrs, &host_msrs, false);
	host_xcr0 = kqemu_fpu_load(vcpu);
	kqemu_spec_before_entry(vcpu->uid);
	svm_load_cr2(sv->vmcb->save.cr2);
	__kqemu_svm_vmrun(sv->vmcb_pa, vcpu->gprs, page_to_phys(sc->host_save));
	kqemu_fpu_put(vcpu, host_xcr0);
	kqemu_put_host_msrs(&vcpu->msrs, &host_msrs, false);
	if (guest_db)
		kqemu_put_host_db(&vcpu->dr, sv->db_owned, host_db);
	kqemu_restore_host_dr(&host_dr);
	c->tlb_ctl = 0;

	/*
	 * Beside another hypervisor, which keeps its ASIDs' translations
	 * across its own entries and may give this vCPU's ASID to a guest of
	 * its own next, nothing of our guest may stay in the TLB: a second,
	 * empty VMRUN flushes the ASID (svm_scrub_asid()).  Otherwise the
	 * other one starts with a flush of every ASID when it enables SVM,
	 * and VM_HSAVE_PA stays ours, so that our next entry can tell that
	 * no one else has run a guest here meanwhile.
	 */
	if (shared) {
		svm_scrub_asid(sc, sv->asid);
		kqemu_wrmsr(SVM_MSR_VM_HSAVE_PA, hsave);
	} else {
		kqemu_wrmsr(MSR_EFER, efer);
	}

	/*
	 * A machine check that hit while the guest ran is the host's: hand
	 * it to the host's handler now, on this CPU and with interrupts still
	 * off, as if it had come outside the guest (as KVM does), not later
	 * from the exit handler with the state it reports long gone.
	 */
	if ((u32)c->exit_code == EXIT_EXCP_BASE + VEC_MC)
		asm volatile("int $0x12");
	return 0;
}

/* --- exits -------------------------------------------------------------- */

static u64 next_rip(struct svm_vcpu *sv, u64 rip, unsigned int len)
{
	if (kqemu_svm_backend.nrip_save && sv->vmcb->control.next_rip)
		return sv->vmcb->control.next_rip;
	return rip + len;
}

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

/* 64, 32 or 16: the code segment's default operand size. */
static int svm_cpu_mode(const struct vmcb_save *save)
{
	if ((save->efer & EFER_LMA) && (save->cs.attrib & SEG_ATTR_L))
		return 64;
	return (save->cr0 & SVM_CR0_PE) && (save->cs.attrib & SEG_ATTR_DB) ? 32 : 16;
}

/* The guest as the MMIO emulator and the instruction fetch see it. */
static void svm_guest_view(const struct kqemu_vcpu *vcpu, const struct vmcb_save *save,
			   struct kqemu_guest_view *g)
{
	g->mode = svm_cpu_mode(save);
	g->paging = (struct kqemu_paging){
		.cr0 = save->cr0, .cr3 = save->cr3, .cr4 = save->cr4,
		.efer = save->efer, .rflags = vcpu->rflags, .cpl = save->cpl,
	};
	g->seg_base[KQEMU_SEG_ES] = save->es.base;
	g->seg_base[KQEMU_SEG_CS] = save->cs.base;
	g->seg_base[KQEMU_SEG_SS] = save->ss.base;
	g->seg_base[KQEMU_SEG_DS] = save->ds.base;
	g->seg_base[KQEMU_SEG_FS] = save->fs.base;
	g->seg_base[KQEMU_SEG_GS] = save->gs.base;
}

/* Up to 15 bytes at the guest's RIP, stopping where memory ends. */
static unsigned int fetch_insn(struct kqemu_vcpu *vcpu, struct vmcb_save *save,
			       u8 *bytes)
{
	struct kqemu_guest_view g;

	svm_guest_view(vcpu, save, &g);
	return kqemu_fetch_insn(vcpu, &g, bytes, NULL);
}

/*
 * IN, OUT, INS, OUTS.  EXITINFO1 has the port, size, direction, string and
 * REP bits; EXITINFO2 the next RIP, with or without NRIP save.  For INS and
 * OUTS it also has the address size (bits 7-9: 16, 32, 64) and, with decode
 * assists, OUTS's segment (10-12); without decode assists both come from
 * the instruction's prefixes instead.  That is also what makes this work
 * under QEMU (7.2, and its source today), which has no decode assists and
 * sets the address-size bit one above where the APM puts it (bit 8 for 16
 * bits, 10 for 64).
 */
static int handle_io(struct kqemu_vcpu *vcpu, struct svm_vcpu *sv)
{
	struct vmcb_control *c = &sv->vmcb->control;
	struct vmcb_save *save = &sv->vmcb->save;
	u64 info = c->exit_info1;
	struct kqemu_io io = {
		.in = info & BIT(0),
		.string = info & BIT(2),
		.rep = info & BIT(3),
		.size = (info & BIT(6)) ? 4 : (info & BIT(5)) ? 2 : 1,
		.port = info >> 16,
		.next_rip = c->exit_info2,
		.mode64 = svm_cpu_mode(save) == 64,
	};
	const struct vmcb_seg *segs[] = {
		&save->es, &save->cs, &save->ss, &save->ds, &save->fs, &save->gs,
	};
	int ret;

	if (io.string) {
		int seg, bits;

		if (kqemu_svm_backend.decode_assists) {
			seg = (info >> 10) & 7;
			bits = (info & BIT(9)) ? 64 : (info & BIT(8)) ? 32 : 16;
		} else {
			u8 bytes[15];

			if (kqemu_decode_string_io(bytes, fetch_insn(vcpu, save, bytes),
						   svm_cpu_mode(save), &seg, &bits))
				return exit_internal(vcpu, KQEMU_INTERNAL_ERROR_EMULATION,
						     EXIT_IOIO, info);
		}
		if (io.in)
			seg = KQEMU_SEG_ES;
		if (seg > KQEMU_SEG_GS)
			return exit_internal(vcpu, KQEMU_INTERNAL_ERROR_EMULATION, EXIT_IOIO, info);
		io.seg = seg;
		io.addr_bits = bits;
		io.seg_base = segs[seg]->base;
		io.paging = (struct kqemu_paging){
			.cr0 = save->cr0, .cr3 = save->cr3, .cr4 = save->cr4,
			.efer = save->efer, .rflags = vcpu->rflags, .cpl = save->cpl,
		};
		/* The instruction has begun: an interrupt shadow before it is over. */
		c->int_state = 0;
	}
	ret = kqemu_handle_io(vcpu, &io);
	if (ret == KQEMU_IO_PAGE_FAULT) {
		save->cr2 = io.fault_addr;
		kqemu_queue_exception(vcpu, VEC_PF, true, io.fault_error);
		return 0;
	}
	return ret;
}

/*
 * A guest's MOV to CR4, intercepted so that no bit outside
 * KQEMU_CR4_GUEST reaches the hardware.  Decode assists name the source
 * register; without them (QEMU) the instruction is fetched and decoded.
 */
static int handle_cr4_write(struct kqemu_vcpu *vcpu, struct svm_vcpu *sv)
{
	struct vmcb_control *c = &sv->vmcb->control;
	struct vmcb_save *save = &sv->vmcb->save;
	unsigned int cr = 4, gpr, len;
	u64 val, changed;
	u8 bytes[15];

	if (kqemu_svm_backend.decode_assists && (c->exit_info1 & BIT_ULL(63))) {
		gpr = c->exit_info1 & 15;
		len = 0;
	} else if (kqemu_decode_mov_to_cr(bytes, fetch_insn(vcpu, save, bytes),
					  svm_cpu_mode(save), &cr, &gpr, &len) || cr != 4) {
		return exit_internal(vcpu, KQEMU_INTERNAL_ERROR_EMULATION, EXIT_CR4_WRITE, 0);
	}
	val = vcpu->gprs[gpr];
	if (svm_cpu_mode(save) != 64)
		val = (u32)val;
	if (kqemu_guest_cr4_write(save->cr4, val, save->efer, save->cr3)) {
		kqemu_queue_exception(vcpu, VEC_GP, true, 0);
		return 0;
	}
	changed = save->cr4 ^ val;
	save->cr4 = val;
	/* What MOV to CR4 flushes on a CPU; an ASID flush at the next entry. */
	if (changed & (X86_CR4_PGE | X86_CR4_PAE | X86_CR4_PSE | X86_CR4_PCIDE |
		       X86_CR4_SMEP | X86_CR4_SMAP))
		sv->flush_guest_tlb = true;
	vcpu->rip = len ? vcpu->rip + len : next_rip(sv, vcpu->rip, 3);
	return 0;
}

/*
 * The guest's first MOV DR since its last exit: the debug registers become
 * the guest's own in the hardware until the next exit (svm_enter() loads
 * DR0-3, the VMCB has DR6 and DR7), and the instruction runs again without
 * the intercept, as KVM does it.  A guest that writes them often pays one
 * exit per burst, not one per MOV; and the CPU, not kqemu, arms what its
 * DR7 enables (which QEMU's SVM, before 9.1, does only for a MOV to DR7
 * it runs itself, not for the DR7 VMRUN loads).
 */
static int handle_dr(struct kqemu_vcpu *vcpu, struct svm_vcpu *sv)
{
	sv->vmcb->control.intercept_dr = 0;
	sv->db_owned = true;
	return 0;
}

static int handle_npf(struct kqemu_vcpu *vcpu, struct svm_vcpu *sv)
{
	struct vmcb_control *c = &sv->vmcb->control;
	u64 gpa = c->exit_info2, err = c->exit_info1;
	struct kqemu_guest_view g;
	int ret = kqemu_nested_fault(vcpu, gpa, err & NPT_RW);

	if (ret != KQEMU_FAULT_MMIO)
		return ret;
	/* Delivering an event touched it, not the instruction at RIP. */
	if (c->exit_int_info & EVENT_VALID)
		return exit_internal(vcpu, KQEMU_INTERNAL_ERROR_EXCEPTION,
				     (u32)c->exit_int_info, gpa);
	/* Code where no slot is: nothing to run, and re-entering would loop. */
	if (err & BIT_ULL(4))
		return kqemu_exit_fetch(vcpu, gpa);
	/* The guest's own page walk: its tables are not in memory. */
	if (err & BIT_ULL(33))
		return exit_internal(vcpu, KQEMU_INTERNAL_ERROR_EMULATION, gpa, 0);

	svm_guest_view(vcpu, &sv->vmcb->save, &g);
	/*
	 * With decode assists the CPU gives the bytes it fetched (the count
	 * in bits 0-3; 0 where its fetch failed: then ours).
	 */
	if (kqemu_svm_backend.decode_assists)
		return kqemu_emulate_mmio(vcpu, &g, gpa, c->insn_bytes, c->insn_len & 0xf);
	return kqemu_emulate_mmio(vcpu, &g, gpa, NULL, 0);
}

static void vmcb_iret_seen(struct svm_vcpu *sv, u64 rip)
{
	sv->vmcb->control.intercept_misc1 &= ~I1_IRET;
	sv->awaiting_iret = true;
	sv->iret_rip = rip;
}

static int svm_handle_exit(struct kqemu_vcpu *vcpu, struct svm_vcpu *sv)
{
	struct vmcb_control *c = &sv->vmcb->control;
	struct kqemu_run *run = vcpu->run;
	/* Exit codes are 32 bits wide; the high half is zero but for VMEXIT_INVALID. */
	u32 code = c->exit_code;

	/* An event whose delivery the exit cut short is delivered again. */
	if (c->exit_int_info & EVENT_VALID)
		sv->reinject = c->exit_int_info;

	switch (code) {
	case EXIT_INTR:
	case EXIT_NMI:
	case EXIT_SMI:
	case EXIT_INIT:
		return 0;	/* the host takes it once interrupts are back on */
	case EXIT_IRET:
		/*
		 * The NMI handler's IRET, not yet executed: NMIs open once the
		 * guest is seen past it, at its next exit (a host interrupt
		 * brings one within a tick).
		 */
		vmcb_iret_seen(sv, vcpu->rip);
		return 0;
	case EXIT_VINTR:
		disarm_irq_window(sv->vmcb);
		if (vcpu->pending_irq < 0 && READ_ONCE(run->request_interrupt_window)) {
			run->exit_reason = KQEMU_EXIT_IRQ_WINDOW;
			return 1;
		}
		return 0;
	case EXIT_CPUID:
		if (kqemu_cpuid(vcpu)) {
			vcpu->rip = next_rip(sv, vcpu->rip, 2);
			return 0;
		}
		run->exit_reason = KQEMU_EXIT_CPUID;
		run->cpuid.function = vcpu->gprs[0];
		run->cpuid.index = vcpu->gprs[1];
		run->cpuid.eax = run->cpuid.ebx = run->cpuid.ecx = run->cpuid.edx = 0;
		vcpu->pending_exit = KQEMU_EXIT_CPUID;
		vcpu->next_rip = next_rip(sv, vcpu->rip, 2);
		return 1;
	case EXIT_HLT:
		vcpu->rip = next_rip(sv, vcpu->rip, 1);
		run->exit_reason = KQEMU_EXIT_HLT;
		return 1;
	case EXIT_IOIO:
		return handle_io(vcpu, sv);
	case EXIT_MSR:
		return kqemu_handle_msr_exit(vcpu, c->exit_info1 & 1, next_rip(sv, vcpu->rip, 2));
	case EXIT_NPF:
		return handle_npf(vcpu, sv);
	case EXIT_CR4_WRITE:
		return handle_cr4_write(vcpu, sv);
	case EXIT_XSETBV:
		if (kqemu_guest_xsetbv(vcpu, vcpu->gprs[1],
				       (u32)vcpu->gprs[0] | (vcpu->gprs[2] << 32)))
			kqemu_queue_exception(vcpu, VEC_GP, true, 0);
		else
			vcpu->rip = next_rip(sv, vcpu->rip, 3);
		return 0;
	case EXIT_SHUTDOWN:
		run->exit_reason = KQEMU_EXIT_SHUTDOWN;
		return 1;
	case EXIT_EXCP_BASE + VEC_DB:
	case EXIT_EXCP_BASE + VEC_AC:
		/* Give it to the guest, one exit at a time. */
		kqemu_queue_exception(vcpu, code - EXIT_EXCP_BASE, code == EXIT_EXCP_BASE + VEC_AC, 0);
		return 0;
	case EXIT_EXCP_BASE + VEC_MC:
		return 0;	/* handed to the host in svm_enter() already */
	case EXIT_RDPMC:
		/* As on a CPU whose PMU the guest does not have. */
		kqemu_queue_exception(vcpu, VEC_GP, true, 0);
		return 0;
	case EXIT_INVD:
	case EXIT_WBINVD:
		/* Caches are the host's: the guest's flush does nothing. */
		vcpu->rip = next_rip(sv, vcpu->rip, 2);
		return 0;
	case EXIT_DR_BASE ... EXIT_DR_BASE + 0x1f:
		return handle_dr(vcpu, sv);
	case EXIT_RSM:
	case EXIT_INVLPGA:
	case EXIT_FERR_FREEZE:
	case EXIT_VMRUN ... EXIT_WBINVD - 1:	/* SVM instructions */
	case EXIT_WBINVD + 1 ... EXIT_XSETBV - 1:	/* MONITOR, MWAIT */
	case EXIT_XSETBV + 1 ... EXIT_RDPRU:
	case EXIT_INVLPGB ... EXIT_TLBSYNC:
		/* As on a CPU without them. */
		kqemu_queue_exception(vcpu, VEC_UD, false, 0);
		return 0;
	case EXIT_ERR:
		run->exit_reason = KQEMU_EXIT_FAIL_ENTRY;
		run->fail_entry.hardware_exit_reason = code;
		run->fail_entry.info1 = c->exit_info1;
		run->fail_entry.info2 = c->exit_info2;
		return 1;
	}
	run->exit_reason = KQEMU_EXIT_UNKNOWN;
	run->fail_entry.hardware_exit_reason = code;
	run->fail_entry.info1 = c->exit_info1;
	run->fail_entry.info2 = c->exit_info2;
	return 1;
}

/*
 * The guest's syscall, SYSENTER, SWAPGS and PAT MSRs, where VMLOAD loads
 * them from and VMSAVE stores them to; the host's are VMSAVEd to the
 * CPU's host_save page around the guest (svm_vmrun.S).
 */
static void svm_load_msrs(struct vmcb_save *save, const struct kqemu_msrs *m)
{
	save->star = m->star;
	save->lstar = m->lstar;
	save->cstar = m->cstar;
	save->sfmask = m->sfmask;
	save->kernel_gs_base = m->kernel_gs_base;
	save->sysenter_cs = m->sysenter_cs;
	save->sysenter_esp = m->sysenter_esp;
	save->sysenter_eip = m->sysenter_eip;
	save->g_pat = m->pat;
}

static void svm_get_events(struct kqemu_vcpu *vcpu, struct kqemu_vcpu_events *ev)
{
	struct svm_vcpu *sv = vcpu->arch;
	u64 r = sv->reinject;

	/* SVM has one interrupt-shadow bit, for STI and MOV SS alike. */
	ev->interrupt.shadow = (sv->vmcb->control.int_state & 1) ? KQEMU_SHADOW_STI : 0;
	ev->nmi.masked = sv->nmi_masked;
	if (r & EVENT_VALID) {
		ev->reinject.valid = 1;
		ev->reinject.type = (r & EVENT_TYPE_MASK) >> 8;
		ev->reinject.vector = r & 0xff;
		ev->reinject.has_error = !!(r & EVENT_ERROR_VALID);
		ev->reinject.error = r >> 32;
	}
}

static int svm_set_events(struct kqemu_vcpu *vcpu, const struct kqemu_vcpu_events *ev)
{
	struct svm_vcpu *sv = vcpu->arch;
	u64 r = 0;

	if (ev->reinject.valid) {
		if (ev->reinject.type == KQEMU_EVENT_PRIV_SOFT_EXC ||
		    ev->reinject.type == KQEMU_EVENT_SOFT_EXC)
			return -EINVAL;
		r = ev->reinject.vector | ((u64)ev->reinject.type << 8) | EVENT_VALID;
		if (ev->reinject.has_error)
			r |= EVENT_ERROR_VALID | ((u64)ev->reinject.error << 32);
	}
	sv->reinject = r;
	sv->vmcb->control.int_state = ev->interrupt.shadow ? 1 : 0;
	/* The shadow belongs to the instruction at RIP as it is now. */
	sv->vmcb->save.rip = vcpu->rip;
	svm_mask_nmi(sv, ev->nmi.masked);
	return 0;
}

static int svm_run(struct kqemu_vcpu *vcpu)
{
	struct svm_vcpu *sv = vcpu->arch;
	struct vmcb *vmcb = sv->vmcb;
	struct kqemu_vm *vm = vcpu->vm;
	int ret;

	/* Past the instruction an exit stopped at: its interrupt shadow is gone. */
	if (vmcb->save.rip != vcpu->rip)
		vmcb->control.int_state = 0;
	/* Past the NMI handler's IRET: NMIs are open again. */
	if (sv->awaiting_iret && vcpu->rip != sv->iret_rip)
		svm_mask_nmi(sv, false);
	/*
	 * V_INTR_MASKING is what lets a host interrupt end a guest that runs
	 * with IF=0; without it the host gets no interrupt, IPI or timer on
	 * this CPU until the guest exits by itself.  Set it again at every
	 * entry: QEMU's SVM (7.2) refuses some states (CR3 bits above its
	 * physical address width, CR4 bits its CPU model lacks) with a
	 * #VMEXIT before it has read INT_CTL, and then writes its empty
	 * INT_CTL back into the VMCB.
	 */
	vmcb->control.int_ctl |= INT_CTL_V_INTR_MASKING;
	vmcb->save.rax = vcpu->gprs[0];
	vmcb->save.rsp = vcpu->gprs[4];
	vmcb->save.rip = vcpu->rip;
	vmcb->save.rflags = vcpu->rflags;
	svm_load_msrs(&vmcb->save, &vcpu->msrs);
	vmcb->control.tsc_offset = vcpu->tsc_offset;
	vmcb->save.dr6 = vcpu->dr.dr6;
	vmcb->save.dr7 = vcpu->dr.dr7;
	if (svm_prepare_events(vcpu, sv))
		goto out_to_user;

	sv->entered = vmcb->save;
	down_read(&vm->mmu_lock);
	kernel_fpu_begin();
	local_irq_disable();
	kqemu_mark_in_guest(vm, true);
	ret = svm_enter(vcpu, sv);
	kqemu_mark_in_guest(vm, false);
	local_irq_enable();
	kernel_fpu_end();
	up_read(&vm->mmu_lock);
	if (ret)
		return ret;

	/*
	 * A refused VMRUN ran no guest, so the guest's state is what it was
	 * given.  QEMU's SVM (7.2) writes the host's own state into the save
	 * area on that #VMEXIT (kernel RIP, RSP, CR3), which GET_REGS and
	 * GET_SREGS would otherwise hand to userspace.
	 */
	if ((u32)vmcb->control.exit_code == EXIT_ERR)
		vmcb->save = sv->entered;

	vcpu->gprs[0] = vmcb->save.rax;
	vcpu->gprs[4] = vmcb->save.rsp;
	vcpu->rip = vmcb->save.rip;
	vcpu->rflags = vmcb->save.rflags;
	/* SWAPGS changes it without a WRMSR; the others only WRMSR does. */
	vcpu->msrs.kernel_gs_base = vmcb->save.kernel_gs_base;
	/* A #DB in the guest set DR6 as the CPU does, before the intercept. */
	vcpu->dr.dr6 = vmcb->save.dr6;
	/* Its own MOV DRs ran since the last exit: intercept them again. */
	if (sv->db_owned) {
		vcpu->dr.dr7 = vmcb->save.dr7;
		vmcb->control.intercept_dr = ~0U;
		sv->db_owned = false;
	}
	ret = svm_handle_exit(vcpu, sv);
	if (ret <= 0)
		return ret;
out_to_user:
	vcpu->run->if_flag = !!(vmcb->save.rflags & SVM_RFLAGS_IF);
	vcpu->run->ready_for_interrupt_injection =
		guest_can_take_irq(vmcb) && vcpu->pending_irq < 0;
	return 1;
}

struct kqemu_backend kqemu_svm_backend = {
	.name		= "svm",
	.id		= KQEMU_BACKEND_SVM,
	.vm_init	= svm_vm_init,
	.vm_free	= svm_vm_free,
	.leaf_ro	= NPT_P | NPT_US,
	.leaf_rw	= NPT_P | NPT_US | NPT_RW,
	.leaf_huge	= NPT_PS,
	.vcpu_init	= svm_vcpu_init,
	.vcpu_free	= svm_vcpu_free,
	.get_regs	= svm_get_regs,
	.set_regs	= svm_set_regs,
	.get_sregs	= svm_get_sregs,
	.set_sregs	= svm_set_sregs,
	.get_efer	= svm_get_efer,
	.set_efer	= svm_set_efer,
	.get_cr4	= svm_get_cr4,
	.get_cr8	= svm_get_cr8,
	.seg_base	= svm_seg_base,
	.get_events	= svm_get_events,
	.set_events	= svm_set_events,
	.nmi		= true,
	.run		= svm_run,
};

/* --- detection --------------------------------------------------------- */

static void svm_free_pages(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct svm_cpu *sc = per_cpu_ptr(&svm_cpus, cpu);

		if (sc->hsave)
			__free_page(sc->hsave);
		if (sc->host_save)
			__free_page(sc->host_save);
		if (sc->scrub_vmcb)
			__free_page(sc->scrub_vmcb);
		sc->hsave = sc->host_save = sc->scrub_vmcb = NULL;
	}
	if (empty_npt)
		__free_page(empty_npt);
	empty_npt = NULL;
	if (iopm_pages)
		__free_pages(iopm_pages, 2);
	if (msrpm_pages)
		__free_pages(msrpm_pages, 1);
	iopm_pages = msrpm_pages = NULL;
}

/*
 * The scrub guest: real mode at 0 with an empty nested table, every event
 * intercepted (VMRUN's own intercept is required), so that its first fetch
 * is a nested page fault.
 */
static void svm_scrub_init(struct vmcb *v)
{
	struct vmcb_control *c = &v->control;

	c->intercept_exceptions = ~0U;
	c->intercept_misc1 = I1_INTR | I1_NMI | I1_SMI | I1_INIT | I1_SHUTDOWN;
	c->intercept_misc2 = I2_ALL;
	c->iopm_base_pa = page_to_phys(iopm_pages);
	c->msrpm_base_pa = page_to_phys(msrpm_pages);
	c->int_ctl = INT_CTL_V_INTR_MASKING;
	c->nested_ctl = NESTED_CTL_NP;
	c->nested_cr3 = page_to_phys(empty_npt);
	svm_reset_state(&v->save);
}

/* Module exit, on each CPU: no VM_HSAVE_PA left pointing at a page we free. */
static void svm_forget_hsave(void *unused)
{
	struct svm_cpu *sc = this_cpu_ptr(&svm_cpus);

	if (sc->hsave && !(kqemu_rdmsr(MSR_EFER) & EFER_SVME) &&
	    kqemu_rdmsr(SVM_MSR_VM_HSAVE_PA) == page_to_phys(sc->hsave))
		kqemu_wrmsr(SVM_MSR_VM_HSAVE_PA, 0);
}

/* 0, or the positive errno that KQEMU_CAP_BACKEND_ERROR reports. */
int kqemu_svm_init(void)
{
	u32 eax, ebx, ecx, edx;
	int cpu;

	svm_cpuid(0x80000000, &eax, &ebx, &ecx, &edx);
	if (eax < 0x8000000a)
		return ENODEV;
	svm_cpuid(0x80000001, &eax, &ebx, &ecx, &edx);
	if (!(ecx & BIT(2)))
		return ENODEV;
	if (kqemu_rdmsr(SVM_MSR_VM_CR) & SVM_VM_CR_SVMDIS) {
		pr_info("AMD-V is disabled by the firmware (VM_CR.SVMDIS): enable SVM in the firmware setup\n");
		return EPERM;
	}
	svm_cpuid(0x8000000a, &eax, &ebx, &ecx, &edx);
	if (!(edx & BIT(0))) {
		pr_info("this CPU has AMD-V but no nested paging; kqemu needs both\n");
		return ENODEV;
	}
	max_asid = ebx - 1;
	/*
	 * With SEV, ASIDs 1 to the number of encrypted guests are theirs, and
	 * the memory controller keys guest memory by ASID: kqemu takes none
	 * of them, as KVM takes none for its unencrypted guests.
	 */
	svm_cpuid(0x80000000, &eax, &ebx, &ecx, &edx);
	if (eax >= 0x8000001f) {
		svm_cpuid(0x8000001f, &eax, &ebx, &ecx, &edx);
		if (eax & BIT(1))
			min_asid = ecx + 1;
	}
	svm_cpuid(0x8000000a, &eax, &ebx, &ecx, &edx);
	if (min_asid > max_asid) {
		pr_info("this CPU's ASIDs are all SEV's; kqemu needs one of its own\n");
		return ENODEV;
	}
	kqemu_svm_backend.nrip_save = edx & BIT(3);
	kqemu_svm_backend.decode_assists = edx & BIT(7);
	flush_by_asid = edx & BIT(6);

	iopm_pages = alloc_pages(GFP_KERNEL, 2);
	msrpm_pages = alloc_pages(GFP_KERNEL, 1);
	if (!iopm_pages || !msrpm_pages)
		goto out_nomem;
	memset(page_address(iopm_pages), 0xff, PAGE_SIZE << 2);
	memset(page_address(msrpm_pages), 0xff, PAGE_SIZE << 1);
	empty_npt = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!empty_npt)
		goto out_nomem;
	for_each_possible_cpu(cpu) {
		struct svm_cpu *sc = per_cpu_ptr(&svm_cpus, cpu);

		sc->hsave = alloc_page(GFP_KERNEL | __GFP_ZERO);
		sc->host_save = alloc_page(GFP_KERNEL | __GFP_ZERO);
		sc->scrub_vmcb = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!sc->hsave || !sc->host_save || !sc->scrub_vmcb)
			goto out_nomem;
		svm_scrub_init(page_address(sc->scrub_vmcb));
		sc->next_asid = max_asid + 1;	/* the first entry starts a generation */
		sc->asid_gen = 1;
	}
	pr_info("AMD SVM with nested paging (ASIDs %u-%u, NRIP save %s, decode assists %s)\n",
		min_asid, max_asid, kqemu_svm_backend.nrip_save ? "yes" : "no",
		kqemu_svm_backend.decode_assists ? "yes" : "no");
	return 0;

out_nomem:
	svm_free_pages();
	return ENOMEM;
}

void kqemu_svm_exit(void)
{
	on_each_cpu(svm_forget_hsave, NULL, 1);
	svm_free_pages();
}
