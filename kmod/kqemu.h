/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KQEMU_H
#define KQEMU_H

#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/mutex.h>
#include <linux/kref.h>
#include <linux/mmu_notifier.h>
#include <linux/refcount.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/kqemu.h>
#include <asm/msr-index.h>

/*
 * What a user holds, so that one user cannot take the whole host.  Keyed by
 * the opener's real uid: a setuid wrapper cannot move a user's use elsewhere.
 */
struct kqemu_user {
	struct hlist_node node;
	kuid_t uid;
	refcount_t ref;
	unsigned int vms;		/* under kqemu_users_lock */
	unsigned int vcpus;
	u64 mapped_bytes;		/* guest pages and tables mapped for its guests */
};

struct kqemu_user *kqemu_user_get(kuid_t uid);
void kqemu_user_put(struct kqemu_user *user);
int kqemu_user_charge_vm(struct kqemu_user *user);
void kqemu_user_uncharge_vm(struct kqemu_user *user);
int kqemu_user_charge_mapped(struct kqemu_user *user, u64 bytes);
void kqemu_user_uncharge_mapped(struct kqemu_user *user, u64 bytes);
int kqemu_user_charge_vcpu(struct kqemu_user *user);
void kqemu_user_uncharge_vcpu(struct kqemu_user *user);
u64 kqemu_max_mapped_bytes(void);
unsigned int kqemu_max_vms(void);
unsigned int kqemu_max_vcpus(void);

/*
 * Who opened /dev/kqemu, as each fd derived from that open remembers it.
 * Creds never change, so whether the opener was an administrator is fixed
 * at open; what can change is the policy, and each change revokes at once
 * every registered client it no longer allows (acl.c).
 */
struct kqemu_client {
	struct list_head node;		/* in acl.c's list of clients */
	const char *what;		/* the fd, for records: "fd=kqemu", "fd=vm", ... */
	pid_t pid;			/* the opener's process, for records */
	char comm[TASK_COMM_LEN];
	const struct cred *cred;
	struct kqemu_user *user;
	bool admin;
	bool revoked;			/* for good; set under acl.c's clients_lock */
};

int kqemu_client_init(struct kqemu_client *client, struct file *file);
void kqemu_client_copy(struct kqemu_client *dst, const struct kqemu_client *src,
		       const char *what);
ssize_t kqemu_recent_show(char *buf);
void kqemu_client_release(struct kqemu_client *client);
int kqemu_client_check(struct kqemu_client *client);
void kqemu_acl_exit(void);

/* Counters shown in sysfs for the helper's status. */
struct kqemu_stats {
	atomic_long_t vms;
	atomic_long_t vcpus;
	atomic64_t mapped_bytes;	/* guest pages in NPT/EPT leaves of every VM */
	atomic_long_t page_tables;	/* NPT/EPT table pages of every VM */
	atomic_long_t denials;
	atomic_long_t revocations;
};

extern struct kqemu_stats kqemu_stats;

long kqemu_create_vm(struct kqemu_client *client, void __user *argp);

/* --- the VM and its memory (vm.c) --- */

/* Guest-physical [gpa, gpa + size) is the VMM's memory at uaddr. */
struct kqemu_slot {
	u64 gpa;
	u64 size;
	u64 uaddr;
	u32 flags;
};

struct kqemu_vcpu;

/*
 * A guest-physical table, NPT or EPT alike (gpt.c): leaves are added under
 * the VM's gpt_lock (mmu_lock held for read), removed under mmu_lock held
 * for write.
 */
struct kqemu_gpt {
	u64 *root;		/* NULL: no backend */
	int levels;		/* 4 or 5 */
	u64 table_bits;		/* what an entry pointing to a table carries */
	u64 present;		/* an entry with any of these bits is in use */
	u64 huge;		/* what marks a 2 MiB leaf; 0: none are made */
	unsigned long pages;	/* table pages, the root included */
};

/* Table pages a vCPU allocated before it took the locks to add a leaf. */
struct kqemu_gpt_cache {
	unsigned int n;
	u64 *table[4];		/* a 5-level table: at most 4 below the root */
};

struct kqemu_vm {
	struct kref kref;		/* the VM fd and each vCPU hold one */
	struct kqemu_client client;
	struct mm_struct *mm;
	struct mutex lock;		/* slots and vcpus: changes */
	/*
	 * Guest memory is the VMM's, mapped into the table page by page as the
	 * guest touches it (vm.c), and taken out again by the MMU notifier
	 * before the host changes or frees a page.
	 *
	 * mmu_lock is held for read while a vCPU is in the guest and while it
	 * adds a leaf, for write while leaves are removed and while slots[]
	 * changes: once a writer holds it, no CPU runs on what it removes, and
	 * tlb_gen makes each vCPU flush before it enters again.  No holder
	 * faults, allocates or sleeps on memory, since reclaim may call the
	 * notifier, which takes it for write.
	 */
	struct rw_semaphore mmu_lock;
	spinlock_t gpt_lock;		/* leaves added; mmu_seq, mmu_busy */
	unsigned long mmu_seq;		/* bumped at the end of each invalidation */
	unsigned int mmu_busy;		/* invalidations begun, not ended */
	u64 mapped_pages;		/* leaves in the table (gpt_lock, or mmu_lock for write) */
	struct mmu_notifier mn;
	bool mn_registered;
	/*
	 * The CPUs where a vCPU of this VM is in the guest now, set and
	 * cleared with interrupts off around each entry: a writer of mmu_lock
	 * interrupts them (kqemu_vm_kick), so it waits for one exit, not for
	 * their next timer tick.
	 */
	struct cpumask in_guest;
	struct kqemu_slot *slots[KQEMU_MAX_MEMORY_SLOTS];
	struct kqemu_vcpu *vcpus[KQEMU_MAX_VCPUS];
	struct kqemu_gpt gpt;		/* the backend's nested or extended table */
	atomic_t tlb_gen;		/* bumped when a mapping goes away */
	u64 tsc_origin;			/* the host's TSC when the guest's was 0 */
};

/* Around a backend's entry, with interrupts off and mmu_lock held for read. */
static inline void kqemu_mark_in_guest(struct kqemu_vm *vm, bool in)
{
	if (in)
		cpumask_set_cpu(smp_processor_id(), &vm->in_guest);
	else
		cpumask_clear_cpu(smp_processor_id(), &vm->in_guest);
}

int kqemu_new_file(const char *name, const struct file_operations *fops,
		   void *priv, struct file **filep);
void kqemu_vm_put(struct kqemu_vm *vm);
bool kqemu_slot_backs(struct kqemu_vm *vm, u64 gpa, bool write);
int kqemu_map_gpa(struct kqemu_vcpu *vcpu, u64 gpa, bool write);
int kqemu_read_guest(struct kqemu_vm *vm, u64 gpa, void *buf, size_t len);
int kqemu_write_guest(struct kqemu_vm *vm, u64 gpa, const void *buf, size_t len);
void kqemu_guest_set_bits(struct kqemu_vm *vm, u64 gpa, u32 bits);
long kqemu_create_vcpu(struct kqemu_vm *vm, void __user *argp);

/* --- vCPUs (vcpu.c) and the backends behind them --- */

/* A decoded MMIO instruction (emulate.c). */
enum {
	KQEMU_OP_MOV,		/* a load (MOV, MOVZX, MOVSX, MOVSXD) or a store */
	KQEMU_OP_ALU,		/* alu says which */
	KQEMU_OP_XCHG,
	KQEMU_OP_MOVS,
	KQEMU_OP_STOS,
	KQEMU_OP_LODS,
};

/* 0-7 as group 1's ModRM reg field numbers them, then the others. */
enum {
	KQEMU_ALU_ADD, KQEMU_ALU_OR, KQEMU_ALU_ADC, KQEMU_ALU_SBB,
	KQEMU_ALU_AND, KQEMU_ALU_SUB, KQEMU_ALU_XOR, KQEMU_ALU_CMP,
	KQEMU_ALU_TEST, KQEMU_ALU_INC, KQEMU_ALU_DEC, KQEMU_ALU_NOT, KQEMU_ALU_NEG,
};

struct kqemu_insn {
	u8 len;			/* bytes */
	u8 op;			/* KQEMU_OP_* */
	u8 alu;			/* KQEMU_OP_ALU: KQEMU_ALU_* */
	u8 size;		/* memory operand bytes: 1, 2, 4, 8 */
	u8 dst_size;		/* a load: the register's width */
	u8 addr_size;		/* string ops: rSI, rDI, rCX bytes (2, 4, 8) */
	u8 seg;			/* string ops: the source's segment, KQEMU_SEG_* */
	u8 reg;			/* x86 register number; 4-7 with high_byte: AH..BH */
	bool high_byte;
	bool is_write;		/* KQEMU_OP_MOV: a store */
	bool mem_dst;		/* KQEMU_OP_ALU: the result goes to memory, not reg */
	bool sign_extend;	/* a load: MOVSX, MOVSXD */
	bool has_imm;		/* the other operand is imm, not reg */
	bool rep;		/* string ops: F3 or F2 */
	u64 imm;		/* sign-extended, cut to size */
};

/* Segment numbers, in the order SVM's VMCB and VMX's encodings share. */
enum { KQEMU_SEG_ES, KQEMU_SEG_CS, KQEMU_SEG_SS, KQEMU_SEG_DS, KQEMU_SEG_FS, KQEMU_SEG_GS };

/* What a walk of the guest's page tables depends on (emulate.c). */
struct kqemu_paging {
	u64 cr0, cr3, cr4, efer;
	u64 rflags;		/* AC, for SMAP */
	u8 cpl;
};

#define KQEMU_ACCESS_CHECK	BIT(0)	/* as the guest's own access: permissions, A/D */
#define KQEMU_ACCESS_WRITE	BIT(1)

/* What the MMIO emulator needs of a guest beyond vcpu->gprs, rip, rflags. */
struct kqemu_guest_view {
	int mode;			/* CS's default operand size: 16, 32, 64 */
	struct kqemu_paging paging;	/* for walks of the guest's page tables */
	u64 seg_base[6];		/* KQEMU_SEG_* */
};

/*
 * A port I/O exit as the backend's hardware reports it (vcpu.c turns it
 * into KQEMU_EXIT_IO).  The string fields matter for INS and OUTS only.
 */
struct kqemu_io {
	bool in, string, rep;
	u8 size;		/* 1, 2, 4 */
	u16 port;
	u64 next_rip;		/* past the instruction */
	u8 addr_bits;		/* 16, 32, 64 */
	bool mode64;		/* 64-bit code: only FS and GS have a base */
	u8 seg;			/* OUTS's source segment, KQEMU_SEG_*; INS uses ES */
	u64 seg_base;		/* that segment's base */
	struct kqemu_paging paging;
	/* Out, when kqemu_handle_io() returns KQEMU_IO_PAGE_FAULT. */
	u64 fault_addr;
	u32 fault_error;
};

#define KQEMU_IO_PAGE_FAULT	2	/* give the guest #PF(fault_error) at fault_addr */

#define KQEMU_FAULT_MMIO	2	/* kqemu_nested_fault(): no slot backs it, emulate */
int kqemu_nested_fault(struct kqemu_vcpu *vcpu, u64 gpa, bool write);

/*
 * The MSRs the hardware uses while the guest runs, which are the guest's
 * own (msr.c): loaded around every entry, never the host's.
 */
struct kqemu_msrs {
	u64 star, lstar, cstar, sfmask, kernel_gs_base;
	u64 sysenter_cs, sysenter_esp, sysenter_eip;
	u64 pat, tsc_aux, spec_ctrl;
};

/* The host's values of those a backend loads by hand, while a guest runs. */
struct kqemu_host_msrs {
	u64 star, lstar, sfmask;
	u64 tsc_aux, spec_ctrl;
};

/* The guest's debug registers (dr.c). */
struct kqemu_dr {
	u64 db[4];
	u64 dr6, dr7;
};

struct kqemu_vcpu {
	struct kqemu_vm *vm;
	struct kqemu_client client;
	unsigned int id;
	u64 uid;			/* unique for the module's life (spec.c) */
	struct mutex mutex;		/* one ioctl at a time */
	struct kqemu_run *run;		/* the shared page */
	/*
	 * RAX..R15 by x86 number, RIP and RFLAGS: the backend copies the ones
	 * its hardware keeps elsewhere in before each entry, out after each
	 * exit, so that exit handling works on these alone.
	 */
	u64 gprs[16];
	u64 rip, rflags;
	int pending_irq;		/* vector, or -1 */
	bool nmi_pending;		/* KQEMU_NMI's, not yet delivered */
	struct {
		bool pending;
		u8 vector;
		bool has_error;
		u32 error;
	} exception;			/* to inject at the next entry */
	u32 pending_exit;		/* an exit userspace must answer at the next RUN */
	u64 next_rip;			/* where the guest goes on once it is answered */
	u8 io_size;			/* for an IN: how much of RAX it fills */
	/* For an INS: where its data goes and how its registers move on. */
	struct {
		bool active;
		bool rep, df;
		u8 size, addr_bits;
		u32 count;
		u64 gpa[2];		/* the destination: one page, or two for an element across */
		u32 len[2];
	} ins;
	struct {
		struct kqemu_insn insn;	/* for an MMIO read: what to do with the data */
		u64 gpa;		/* the read's, where an RMW writes back */
		u64 dst_gpa;		/* MOVS: where the element goes */
		bool dst_mmio;		/* ... by a write exit, not into guest memory */
	} mmio;
	struct kqemu_msrs msrs;
	void *fpu;			/* XSAVE area, or FXSAVE's, 64-byte aligned (fpu.c) */
	void *fpu_alloc;		/* what kzalloc gave, for kfree */
	u64 xcr0;			/* the guest's */
	u64 tsc_offset;			/* the guest's TSC less the host's */
	struct kqemu_dr dr;
	/* KQEMU_SET_CPUID's table, sorted; NULL: CPUID exits to userspace. */
	struct kqemu_cpuid_entry *cpuid;
	unsigned int cpuid_nent;
	u64 cpuid_xcr0;			/* what the table lets XSETBV enable */
	struct kqemu_gpt_cache gpt_cache;	/* for kqemu_map_gpa() */
	void *arch;
};

/* An exception for the guest to take at the next entry, RIP where it faulted. */
static inline void kqemu_queue_exception(struct kqemu_vcpu *vcpu, u8 vector, bool has_error,
					 u32 error)
{
	vcpu->exception.pending = true;
	vcpu->exception.vector = vector;
	vcpu->exception.has_error = has_error;
	vcpu->exception.error = error;
}

/* What a backend gives the generic vCPU code. */
struct kqemu_backend {
	const char *name;
	u32 id;				/* KQEMU_BACKEND_* */
	bool nrip_save, decode_assists;
	bool nmi;			/* KQEMU_NMI works */
	/* Sets up vm->gpt with the backend's depth and bits. */
	int (*vm_init)(struct kqemu_vm *vm);
	void (*vm_free)(struct kqemu_vm *vm);
	u64 leaf_ro, leaf_rw;		/* a table leaf's bits, read-only or writable */
	u64 leaf_huge;			/* with them, a 2 MiB leaf; 0: the CPU has none */
	int (*vcpu_init)(struct kqemu_vcpu *vcpu);
	void (*vcpu_free)(struct kqemu_vcpu *vcpu);
	void (*get_regs)(struct kqemu_vcpu *vcpu, struct kqemu_regs *regs);
	void (*set_regs)(struct kqemu_vcpu *vcpu, const struct kqemu_regs *regs);
	void (*get_sregs)(struct kqemu_vcpu *vcpu, struct kqemu_sregs *sregs);
	int (*set_sregs)(struct kqemu_vcpu *vcpu, const struct kqemu_sregs *sregs);
	u64 (*get_efer)(struct kqemu_vcpu *vcpu);
	/* -EINVAL: refused (a guest's WRMSR: with #GP); HOST: KQEMU_SET_MSRS. */
	int (*set_efer)(struct kqemu_vcpu *vcpu, u64 efer, bool host);
	/* Interrupt shadow, NMI masking and the reinjected event (KQEMU_*_VCPU_EVENTS). */
	u64 (*get_cr4)(struct kqemu_vcpu *vcpu);	/* as the guest sees it */
	u64 (*get_cr8)(struct kqemu_vcpu *vcpu);
	/* Where the guest's FS (GS: GS) base lives between exits. */
	u64 *(*seg_base)(struct kqemu_vcpu *vcpu, bool gs);
	void (*get_events)(struct kqemu_vcpu *vcpu, struct kqemu_vcpu_events *ev);
	int (*set_events)(struct kqemu_vcpu *vcpu, const struct kqemu_vcpu_events *ev);
	/* Enter the guest once. >0: exit to userspace; 0: enter again; <0: error. */
	int (*run)(struct kqemu_vcpu *vcpu);
};

extern const struct kqemu_backend *kqemu_backend;
extern int kqemu_backend_error;		/* why there is none */

int kqemu_svm_init(void);
void kqemu_svm_exit(void);
extern struct kqemu_backend kqemu_svm_backend;
int kqemu_vmx_init(void);
void kqemu_vmx_exit(void);
extern struct kqemu_backend kqemu_vmx_backend;


int kqemu_gpt_init(struct kqemu_gpt *gpt, int levels, u64 table_bits, u64 present, u64 huge);
void kqemu_gpt_free(struct kqemu_gpt *gpt);
int kqemu_gpt_cache_fill(struct kqemu_gpt_cache *cache, unsigned int n);
void kqemu_gpt_cache_free(struct kqemu_gpt_cache *cache);
int kqemu_gpt_map(struct kqemu_gpt *gpt, u64 gpa, u64 entry, int level,
		  struct kqemu_gpt_cache *cache, unsigned long *old_pages);
unsigned long kqemu_gpt_unmap(struct kqemu_gpt *gpt, u64 gpa, u64 size, bool may_sleep);
bool kqemu_gpt_mapped(const struct kqemu_gpt *gpt, u64 gpa, u64 size);

/*
 * The CR4 bits a guest may have, on either backend: VME..UMIP (0-11),
 * FSGSBASE and PCIDE (16, 17), SMEP and SMAP (20, 21).  Not VMXE, SMXE,
 * LA57 (kqemu walks only 4-level guest tables), PKE (WRPKRU would change
 * the host's PKRU), CET, PKS, nor the reserved 15 and 19.  OSXSAVE (18)
 * only where kqemu switches the XSAVE state and XCR0 (kqemu_cr4_guest()):
 * with the host's XCR0 and only FXSAVE's state switched, a guest with AVX
 * would see the upper register halves another context left.  SET_SREGS
 * refuses the others, and a guest's own MOV to CR4 that sets one takes #GP
 * (SVM intercepts CR4 writes; VMX masks these bits).
 */
#define KQEMU_CR4_GUEST	(GENMASK_ULL(11, 0) | GENMASK_ULL(17, 16) | GENMASK_ULL(21, 20))
#define KQEMU_EFER_GUEST (EFER_SCE | EFER_LME | EFER_LMA | EFER_NX | EFER_FFXSR)

/* The guest's FPU and XSAVE state (fpu.c). */
extern u64 kqemu_xfeatures;
void kqemu_fpu_setup(void);
int kqemu_fpu_init(struct kqemu_vcpu *vcpu);
void kqemu_fpu_free(struct kqemu_vcpu *vcpu);
u64 kqemu_fpu_load(struct kqemu_vcpu *vcpu);
void kqemu_fpu_put(struct kqemu_vcpu *vcpu, u64 host_xcr0);
int kqemu_guest_xsetbv(struct kqemu_vcpu *vcpu, u32 index, u64 value);
long kqemu_fpu_get_xsave(struct kqemu_vcpu *vcpu, void __user *argp);
long kqemu_fpu_set_xsave(struct kqemu_vcpu *vcpu, void __user *argp);
u64 kqemu_cr4_guest(void);
unsigned int kqemu_xsave_size(u64 xcr0);

/* CPUID (cpuid.c). */
long kqemu_supported_cpuid(void __user *argp);
long kqemu_set_cpuid(struct kqemu_vcpu *vcpu, void __user *argp);
bool kqemu_cpuid(struct kqemu_vcpu *vcpu);

/* Speculation mitigations (spec.c, spec.h). */
int kqemu_spec_init(bool vmx);
void kqemu_spec_exit(void);
void kqemu_spec_before_entry(u64 vcpu_uid);
ssize_t kqemu_spec_show(char *buf);

/* Guest MSRs (msr.c). */
void kqemu_msrs_reset(struct kqemu_msrs *m);
bool kqemu_has_tsc_aux(void);
int kqemu_handle_msr_exit(struct kqemu_vcpu *vcpu, bool is_write, u64 next);
unsigned int kqemu_msr_indices(u32 *out, unsigned int room);
int kqemu_get_msr(struct kqemu_vcpu *vcpu, u32 index, u64 *data);
int kqemu_set_msr(struct kqemu_vcpu *vcpu, u32 index, u64 data, bool host);
int kqemu_check_efer(u64 efer, u64 old_efer, u64 cr0, u64 cr4, bool host, u64 *out);
void kqemu_load_guest_msrs(const struct kqemu_msrs *g, struct kqemu_host_msrs *h,
			   bool syscall_msrs);
void kqemu_put_host_msrs(const struct kqemu_msrs *g, const struct kqemu_host_msrs *h,
			 bool syscall_msrs);
void kqemu_queue_gp(struct kqemu_vcpu *vcpu);

/*
 * RDMSR and WRMSR, our own: the kernel's accessors changed names (rdmsrl,
 * rdmsrq) between the releases kqemu builds for, and these are only ever
 * used on MSRs the CPU is known to have, with interrupts off.
 */
static inline u64 kqemu_rdmsr(u32 msr)
{
	u32 lo, hi;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((u64)hi << 32) | lo;
}

static inline void kqemu_wrmsr(u32 msr, u64 val)
{
	asm volatile("wrmsr" : : "c"(msr), "a"((u32)val), "d"((u32)(val >> 32))
		     : "memory");
}

/*
 * The host's debug registers around a guest: VM exit leaves DR7 at 0x400
 * (every breakpoint off) and DR6 may hold what the guest's debug events
 * set, so both are put back as they were, for the host's own breakpoints
 * and #DB handler.  DR0-3 are the guest's only while its DR7 enables a
 * breakpoint (kqemu_load_guest_db()).
 */
struct kqemu_host_dr {
	unsigned long dr6, dr7;
};

static inline void kqemu_save_host_dr(struct kqemu_host_dr *h)
{
	asm volatile("mov %%dr6, %0" : "=r"(h->dr6));
	asm volatile("mov %%dr7, %0" : "=r"(h->dr7));
}

static inline void kqemu_restore_host_dr(const struct kqemu_host_dr *h)
{
	unsigned long dr6;

	if (h->dr7 & 0xff)
		asm volatile("mov %0, %%dr7" : : "r"(h->dr7));
	asm volatile("mov %%dr6, %0" : "=r"(dr6));
	if (dr6 != h->dr6)
		asm volatile("mov %0, %%dr6" : : "r"(h->dr6));
}

/* Debug registers (dr.c). */
void kqemu_dr_reset(struct kqemu_dr *d);
bool kqemu_load_guest_db(const struct kqemu_dr *d, bool owned, unsigned long host[4]);
void kqemu_put_host_db(struct kqemu_dr *d, bool owned, const unsigned long host[4]);
void kqemu_dr_debug_exit(struct kqemu_vcpu *vcpu, u64 qual);
int kqemu_mov_dr(struct kqemu_vcpu *vcpu, unsigned int dr, bool to_dr, unsigned int gpr,
		 bool long_mode, u64 cr4, unsigned int cpl);
long kqemu_get_debugregs(struct kqemu_vcpu *vcpu, void __user *argp);
long kqemu_set_debugregs(struct kqemu_vcpu *vcpu, void __user *argp);

/*
 * Whether an exception pushes an error code: only in protected mode, and
 * only #DF, #TS, #NP, #SS, #GP, #PF and #AC.  Injected with one otherwise,
 * it would push a word the guest's handler does not expect (and SVM's
 * VMRUN refuses it in real mode), so the backends drop it.
 */
static inline bool kqemu_exception_has_error(u8 vector, bool protected_mode)
{
	return protected_mode && (vector == 8 || (vector >= 10 && vector <= 14) || vector == 17);
}

/* Emulation helpers shared by the backends (emulate.c). */
int kqemu_guest_cr4_write(u64 old, u64 val, u64 efer, u64 cr3);
int kqemu_decode_mmio(const u8 *bytes, unsigned int avail, int mode,
		      struct kqemu_insn *insn);
int kqemu_decode_mov_to_cr(const u8 *bytes, unsigned int avail, int mode,
			   unsigned int *cr, unsigned int *gpr, unsigned int *len);
int kqemu_gva_to_gpa(struct kqemu_vm *vm, u64 cr0, u64 cr3, u64 cr4, u64 efer,
		     u64 gva, u64 *gpa);
int kqemu_gva_translate(struct kqemu_vm *vm, const struct kqemu_paging *pg,
			u64 gva, unsigned int access, u64 *gpa, u32 *pf_error);
int kqemu_decode_string_io(const u8 *bytes, unsigned int avail, int mode,
			   int *seg, int *addr_bits);
int kqemu_handle_io(struct kqemu_vcpu *vcpu, struct kqemu_io *io);
u64 kqemu_reg_read(const u64 *gprs, const struct kqemu_insn *insn);
void kqemu_reg_write(u64 *gprs, const struct kqemu_insn *insn, u64 value);
u64 kqemu_alu(unsigned int alu, u64 a, u64 b, unsigned int size, u64 *rflags);
unsigned int kqemu_fetch_insn(struct kqemu_vcpu *vcpu, const struct kqemu_guest_view *g,
			      u8 *bytes, u64 *stop);
int kqemu_emulate_mmio(struct kqemu_vcpu *vcpu, const struct kqemu_guest_view *g,
		       u64 gpa, const u8 *hint, unsigned int hint_len);
int kqemu_mmio_complete(struct kqemu_vcpu *vcpu);
int kqemu_exit_fetch(struct kqemu_vcpu *vcpu, u64 gpa);

#endif /* KQEMU_H */
