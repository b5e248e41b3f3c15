/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KQEMU_H
#define KQEMU_H

#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/mutex.h>
#include <linux/kref.h>
#include <linux/refcount.h>
#include <linux/rwsem.h>
#include <linux/types.h>
#include <linux/kqemu.h>

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
	u64 pinned_bytes;
};

struct kqemu_user *kqemu_user_get(kuid_t uid);
void kqemu_user_put(struct kqemu_user *user);
int kqemu_user_charge_vm(struct kqemu_user *user);
void kqemu_user_uncharge_vm(struct kqemu_user *user);
int kqemu_user_charge_pinned(struct kqemu_user *user, u64 bytes);
void kqemu_user_uncharge_pinned(struct kqemu_user *user, u64 bytes);
int kqemu_user_charge_vcpu(struct kqemu_user *user);
void kqemu_user_uncharge_vcpu(struct kqemu_user *user);
u64 kqemu_max_pinned_bytes(void);
unsigned int kqemu_max_vms(void);
unsigned int kqemu_max_vcpus(void);

/*
 * Who opened /dev/kqemu, as each fd derived from that open remembers it.
 * Creds never change, so whether the opener was an administrator is fixed
 * at open; what can change is the policy, which every ioctl re-checks when
 * its generation has moved on.
 */
struct kqemu_client {
	const struct cred *cred;
	struct kqemu_user *user;
	bool admin;
	bool revoked;
	unsigned int policy_gen;
};

int kqemu_client_init(struct kqemu_client *client, struct file *file);
void kqemu_client_copy(struct kqemu_client *dst, const struct kqemu_client *src);
void kqemu_client_release(struct kqemu_client *client);
int kqemu_client_check(struct kqemu_client *client);
void kqemu_acl_exit(void);

/* Counters shown in sysfs for the helper's status. */
struct kqemu_stats {
	atomic_long_t vms;
	atomic_long_t vcpus;
	atomic64_t pinned_bytes;
	atomic_long_t denials;
	atomic_long_t revocations;
};

extern struct kqemu_stats kqemu_stats;

long kqemu_create_vm(struct kqemu_client *client, void __user *argp);

/* --- the VM and its memory (vm.c) --- */

struct kqemu_slot {
	u64 gpa;
	u64 size;
	u64 uaddr;
	u32 flags;
	unsigned long npages;
	struct page **pages;
};

struct kqemu_vcpu;

struct kqemu_vm {
	struct kref kref;		/* the VM fd and each vCPU hold one */
	struct kqemu_client client;
	struct mm_struct *mm;
	struct mutex lock;		/* slots and vcpus: changes */
	/*
	 * Held for read while a vCPU is in the guest or reads guest memory,
	 * for write while a slot is added or removed: a slot's pages are
	 * unpinned only once no vCPU can reach them.
	 */
	struct rw_semaphore mmu_lock;
	struct kqemu_slot *slots[KQEMU_MAX_MEMORY_SLOTS];
	struct kqemu_vcpu *vcpus[KQEMU_MAX_VCPUS];
	void *arch;			/* the backend's, e.g. nested page tables */
	atomic_t tlb_gen;		/* bumped when a mapping goes away */
};

int kqemu_new_file(const char *name, const struct file_operations *fops,
		   void *priv, struct file **filep);
void kqemu_vm_put(struct kqemu_vm *vm);
struct kqemu_slot *kqemu_slot_find(struct kqemu_vm *vm, u64 gpa);
int kqemu_read_guest(struct kqemu_vm *vm, u64 gpa, void *buf, size_t len);
long kqemu_create_vcpu(struct kqemu_vm *vm, void __user *argp);

/* --- vCPUs (vcpu.c) and the backends behind them --- */

/* A decoded MMIO instruction (emulate.c). */
struct kqemu_insn {
	u8 len;			/* bytes */
	u8 size;		/* operand bytes: 1, 2, 4, 8 */
	bool is_write;		/* to memory */
	bool sign_extend;	/* a read: MOVSX */
	bool has_imm;
	u8 reg;			/* x86 register number; 4-7 with high_byte: AH..BH */
	bool high_byte;
	u8 dst_size;		/* a read: the register's width */
	u64 imm;
};

struct kqemu_vcpu {
	struct kqemu_vm *vm;
	struct kqemu_client client;
	unsigned int id;
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
	struct {
		bool pending;
		u8 vector;
		bool has_error;
		u32 error;
	} exception;			/* to inject at the next entry */
	u32 pending_exit;		/* an exit userspace must answer at the next RUN */
	u64 next_rip;			/* where the guest goes on once it is answered */
	u8 io_size;			/* for an IN: how much of RAX it fills */
	struct kqemu_insn mmio_insn;	/* for an MMIO read: where the data goes */
	union kqemu_fpu_area {
		u8 bytes[512];
	} __aligned(16) fpu;
	void *arch;
};

/* What a backend gives the generic vCPU code. */
struct kqemu_backend {
	const char *name;
	u32 id;				/* KQEMU_BACKEND_* */
	bool nrip_save, decode_assists;
	int (*vm_init)(struct kqemu_vm *vm);
	void (*vm_free)(struct kqemu_vm *vm);
	int (*map)(struct kqemu_vm *vm, u64 gpa, phys_addr_t hpa, bool writable);
	void (*unmap)(struct kqemu_vm *vm, u64 gpa);
	int (*vcpu_init)(struct kqemu_vcpu *vcpu);
	void (*vcpu_free)(struct kqemu_vcpu *vcpu);
	void (*get_regs)(struct kqemu_vcpu *vcpu, struct kqemu_regs *regs);
	void (*set_regs)(struct kqemu_vcpu *vcpu, const struct kqemu_regs *regs);
	void (*get_sregs)(struct kqemu_vcpu *vcpu, struct kqemu_sregs *sregs);
	int (*set_sregs)(struct kqemu_vcpu *vcpu, const struct kqemu_sregs *sregs);
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


/* A guest-physical table, NPT or EPT alike (gpt.c). */
struct kqemu_gpt {
	u64 *root;
	u64 table_bits;		/* what an entry pointing to a table carries */
	u64 present;		/* an entry with any of these bits is in use */
};

int kqemu_gpt_init(struct kqemu_gpt *gpt, u64 table_bits, u64 present);
void kqemu_gpt_free(struct kqemu_gpt *gpt);
u64 *kqemu_gpt_leaf(struct kqemu_gpt *gpt, u64 gpa, bool create);

/* Emulation helpers shared by the backends (emulate.c). */
int kqemu_decode_mmio(const u8 *bytes, unsigned int avail, int mode,
		      struct kqemu_insn *insn);
int kqemu_gva_to_gpa(struct kqemu_vm *vm, u64 cr0, u64 cr3, u64 cr4, u64 efer,
		     u64 gva, u64 *gpa);
u64 kqemu_reg_read(const u64 *gprs, const struct kqemu_insn *insn);
void kqemu_reg_write(u64 *gprs, const struct kqemu_insn *insn, u64 value);

#endif /* KQEMU_H */
