/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kqemu: the userspace ABI of /dev/kqemu.
 *
 * Three levels of file descriptors, as with KVM:
 *   /dev/kqemu  --KQEMU_CREATE_VM-->  VM fd
 *
 * Rules that hold for every ioctl below:
 *   - Every struct has a flags field and reserved fields.  Unknown flags and
 *     nonzero reserved fields are refused with EINVAL, so that later ABI
 *     versions can give them meaning.
 *   - The ABI grows through KQEMU_CHECK_CAPABILITY and new ioctl numbers,
 *     never by changing a struct.
 *   - Unknown commands, including the old kqemu ABI (type 'q', 1-5), fail
 *     with ENOTTY.
 *   - Every ioctl on every fd fails with EACCES once the fd's opener is no
 *     longer allowed by the in-kernel access policy (revocation).  It stays
 *     that way even if the policy later allows the opener again: open anew.
 *     This holds whatever the fd did meanwhile: an fd left idle while its
 *     opener was denied and then allowed again is revoked all the same.
 *   - A VM fd used by a process other than the one that created the VM
 *     (another mm) fails with EIO.
 *   - Pointers travel as __u64.
 */
#ifndef _UAPI_LINUX_KQEMU_H
#define _UAPI_LINUX_KQEMU_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KQEMU_API_VERSION	1

/* Fixed misc minor, from the range devices.txt reserves for local use. */
#define KQEMU_MINOR		250

#define KQEMUIO			0xEB

/*
 * KQEMU_GET_API_VERSION: no argument.
 * Returns KQEMU_API_VERSION.  Errors: EACCES (revoked).
 */
#define KQEMU_GET_API_VERSION	_IO(KQEMUIO, 0x00)

/*
 * KQEMU_CHECK_CAPABILITY: in: cap; out: value.
 * A capability this module does not know reads as value 0 with success.
 * Errors: EFAULT, EINVAL (flags or reserved nonzero), EACCES (revoked).
 */
struct kqemu_capability {
	__u32 cap;
	__u32 flags;		/* none defined, must be 0 */
	__u64 value;		/* out */
	__u64 reserved[2];	/* must be 0 */
};

#define KQEMU_CAP_API_VERSION		1	/* KQEMU_API_VERSION */
#define KQEMU_CAP_MAX_MEMORY_SLOTS	2	/* slots per VM */
#define KQEMU_CAP_READONLY_MEMORY	3	/* 1: KQEMU_MEM_READONLY works */
#define KQEMU_CAP_MAX_VMS_PER_USER	4	/* current quota, 0 = unlimited */
#define KQEMU_CAP_MAX_VCPUS_PER_USER	5	/* current quota, 0 = unlimited */
#define KQEMU_CAP_MAX_PINNED_PER_USER	6	/* bytes, 0 = only RLIMIT_MEMLOCK */
#define KQEMU_CAP_REVOCATION		7	/* 1: policy changes revoke fds */
#define KQEMU_CAP_BACKEND		8	/* KQEMU_BACKEND_*, see below */
#define KQEMU_CAP_BACKEND_ERROR		9	/* why none: errno (positive), 0 if one */
#define KQEMU_CAP_MAX_VCPUS		10	/* vCPUs per VM */
#define KQEMU_CAP_EXITS			11	/* bit (1 << KQEMU_EXIT_*) per exit */
#define KQEMU_CAP_NRIP_SAVE		12	/* 1: the CPU gives the next RIP (VMX: always) */
#define KQEMU_CAP_DECODE_ASSISTS	13	/* 1: the CPU gives MMIO insn bytes */
/*
 * The XCR0 bits a guest may enable with XSETBV (x87, SSE, AVX, AVX-512, as
 * far as the host has them), whose state kqemu keeps per vCPU; 0: the host
 * has no XSAVE, guests get FXSAVE's x87 and SSE state and no CR4.OSXSAVE.
 */
#define KQEMU_CAP_XFEATURES		14
/*
 * 1: INS and OUTS (any size, REP or not, any address size, DF, segment
 * override) are KQEMU_EXIT_IO exits with count elements, not internal
 * errors.
 */
#define KQEMU_CAP_STRING_IO		20

/* Values of KQEMU_CAP_BACKEND. */
#define KQEMU_BACKEND_NONE	0
#define KQEMU_BACKEND_SVM	1	/* AMD-V with nested paging */
#define KQEMU_BACKEND_VMX	2	/* Intel VT-x with EPT */

#define KQEMU_CHECK_CAPABILITY	_IOWR(KQEMUIO, 0x01, struct kqemu_capability)

/*
 * KQEMU_CREATE_VM: returns a new VM fd (O_CLOEXEC).
 * Errors: EFAULT, EINVAL (flags or reserved nonzero), EACCES (revoked),
 *         EDQUOT (the caller's user already holds max_vms_per_user VMs),
 *         ENOMEM, EMFILE/ENFILE (no fd).
 */
struct kqemu_create_vm {
	__u32 flags;		/* none defined, must be 0 */
	__u32 reserved[7];	/* must be 0 */
};

#define KQEMU_CREATE_VM		_IOW(KQEMUIO, 0x02, struct kqemu_create_vm)

/*
 * VM ioctls.
 *
 * KQEMU_ADD_MEMORY_SLOT: back guest-physical [guest_phys_addr, +size) with
 * the caller's memory at userspace_addr.  The pages are pinned for the
 * slot's lifetime and charged to the caller's RLIMIT_MEMLOCK (unless it
 * has CAP_IPC_LOCK) and to its user's pinned-memory quota.
 * Errors:
 *   EINVAL  flags unknown or reserved nonzero; slot >= KQEMU_MAX_MEMORY_SLOTS;
 *           size 0; address or size not page-aligned; a range that wraps
 *           or lies beyond KQEMU_MAX_GUEST_PHYS / the user address space;
 *           size above KQEMU_MAX_SLOT_SIZE.
 *   EEXIST  the slot number is in use, or the guest range overlaps another
 *           slot's.
 *   EFAULT  the struct, or some of the user range, is not mapped (or, for a
 *           writable slot, not writable).
 *   ENOMEM  over RLIMIT_MEMLOCK, or out of memory.
 *   EDQUOT  over the user's pinned-memory quota (max_pinned_mb_per_user).
 *   EACCES  revoked.  EIO  wrong process.
 */
struct kqemu_memory_slot {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 size;
	__u64 userspace_addr;
	__u64 reserved[4];	/* must be 0 */
};

#define KQEMU_MEM_READONLY	(1U << 0)	/* guest writes become exits */
#define KQEMU_MEM_FLAGS		KQEMU_MEM_READONLY

#define KQEMU_MAX_MEMORY_SLOTS	32
#define KQEMU_MAX_GUEST_PHYS	(1ULL << 48)
#define KQEMU_MAX_SLOT_SIZE	(64ULL << 30)

#define KQEMU_ADD_MEMORY_SLOT	_IOW(KQEMUIO, 0x10, struct kqemu_memory_slot)

/*
 * KQEMU_DELETE_MEMORY_SLOT: unpin and forget a slot.
 * Errors: EFAULT; EINVAL (flags or reserved nonzero, slot out of range);
 *         ENOENT (no such slot); EACCES (revoked); EIO (wrong process).
 */
struct kqemu_slot_id {
	__u32 slot;
	__u32 flags;		/* none defined, must be 0 */
	__u64 reserved[3];	/* must be 0 */
};

#define KQEMU_DELETE_MEMORY_SLOT _IOW(KQEMUIO, 0x11, struct kqemu_slot_id)

/*
 * KQEMU_CREATE_VCPU (VM ioctl): returns a new vCPU fd (O_CLOEXEC).  mmap
 * KQEMU_RUN_SIZE bytes of it at offset 0 for its struct kqemu_run; mmap
 * follows the rules of an ioctl: EACCES once revoked, EIO from another
 * process, EINVAL for another size or offset.
 * Errors:
 *   EINVAL      flags or reserved nonzero, id >= KQEMU_MAX_VCPUS
 *   EEXIST      a vCPU with this id exists in the VM
 *   EOPNOTSUPP  no usable hardware virtualization: KQEMU_CAP_BACKEND is
 *               KQEMU_BACKEND_NONE, and KQEMU_CAP_BACKEND_ERROR says why:
 *               ENODEV (the CPU has neither AMD-V with nested paging nor
 *               Intel VT-x with EPT and unrestricted guest),
 *               EPERM (disabled by the firmware: on AMD VM_CR.SVMDIS, on
 *               Intel IA32_FEATURE_CONTROL locked without VMXON outside SMX),
 *               EOPNOTSUPP (the CPU needs a speculative-execution
 *               mitigation kqemu cannot apply on this kernel, e.g. one whose
 *               kernel function is exported to KVM alone; the kernel log
 *               names it; module parameter allow_unmitigated=1 overrides)
 *   EBUSY       another hypervisor holds the CPU's virtualization (e.g.
 *               kvm_amd or kvm_intel with enable_virt_at_load=1, or while
 *               KVM has VMs); checked again at each KQEMU_RUN, which fails
 *               the same way.  SVM: only with share_svm=0.  VMX: whenever
 *               CR4.VMXE is set on the CPU (kqemu never shares VT-x)
 *   EDQUOT      the user already holds max_vcpus_per_user vCPUs
 *   EACCES, EIO, ENOMEM, EMFILE as for the VM
 */
struct kqemu_create_vcpu {
	__u32 id;
	__u32 flags;		/* none defined, must be 0 */
	__u64 reserved[3];	/* must be 0 */
};

#define KQEMU_MAX_VCPUS		16
#define KQEMU_CREATE_VCPU	_IOW(KQEMUIO, 0x20, struct kqemu_create_vcpu)

/* vCPU ioctls.  All fail with EACCES (revoked) and EIO (wrong process). */

/*
 * General registers.  GET: EFAULT.  SET: EFAULT, EINVAL (flags/reserved).
 * SET keeps RFLAGS bit 1 set and its reserved bits and VM (virtual-8086
 * mode, which kqemu does not offer) clear.
 */
struct kqemu_regs {
	__u64 rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	__u64 r8, r9, r10, r11, r12, r13, r14, r15;
	__u64 rip, rflags;
	__u32 flags;		/* none defined, must be 0 */
	__u32 reserved0;
	__u64 reserved[3];	/* must be 0 */
};

#define KQEMU_GET_REGS		_IOR(KQEMUIO, 0x21, struct kqemu_regs)
#define KQEMU_SET_REGS		_IOW(KQEMUIO, 0x22, struct kqemu_regs)

/*
 * A segment as the CPU holds it.  attrib: bits 0-7 are the descriptor's
 * type (0-3), S (4), DPL (5-6) and P (7); bits 8-11 are AVL, L, D/B, G.
 */
struct kqemu_segment {
	__u64 base;
	__u32 limit;
	__u16 selector;
	__u16 attrib;
};

struct kqemu_dtable {
	__u64 base;
	__u16 limit;
	__u16 reserved[3];	/* must be 0 */
};

/*
 * Special registers.  SET refuses (EINVAL) flags or reserved set, and
 * states that no CPU can enter or go on from: CR0.PG without CR0.PE,
 * EFER.LME without CR4.PAE, CR0.NW without CR0.CD, CR3 bits above 51,
 * CR4.PCIDE outside long mode, bits of CR0 (above 31), CR4 (OSXSAVE,
 * LA57, VMXE, SMXE, PKE, CET, PKS, reserved) and EFER (other than SCE, LME,
 * LMA, NXE, FFXSR) that kqemu does not give guests, and EFER.SVME.
 * EFER.LMA is computed: LME with CR0.PG.
 * A guest's floating-point state is x87 and SSE, what FXSAVE holds: XSETBV
 * is #UD and OSXSAVE refused, so a VMM must not offer XSAVE or AVX in CPUID.
 */
struct kqemu_sregs {
	struct kqemu_segment cs, ds, es, fs, gs, ss, tr, ldt;
	struct kqemu_dtable gdt, idt;
	__u64 cr0, cr2, cr3, cr4, efer;
	__u32 flags;		/* none defined, must be 0 */
	__u32 reserved0;
	__u64 reserved[4];	/* must be 0 */
};

#define KQEMU_GET_SREGS		_IOR(KQEMUIO, 0x23, struct kqemu_sregs)
#define KQEMU_SET_SREGS		_IOW(KQEMUIO, 0x24, struct kqemu_sregs)

/*
 * KQEMU_RUN: enter the guest until an exit userspace must handle; the
 * exit is described in the mmap'ed struct kqemu_run.  Returns 0.
 * Errors: EINTR (a signal is pending, or immediate_exit was set: exit
 *         reason KQEMU_EXIT_INTR), EBUSY (see KQEMU_CREATE_VCPU),
 *         EINVAL (a previous exit was answered with an invalid value),
 *         EACCES, EIO.
 * The exits:
 *   IO          port I/O: port, size (1, 2, 4), direction, and count
 *               elements of size bytes each, packed at data_offset in the
 *               run area (OUT: the guest's; IN: fill them in before the next
 *               KQEMU_RUN).  count is 1 for IN and OUT.  For INS and OUTS
 *               (KQEMU_CAP_STRING_IO) it is one batch of the instruction,
 *               1 to 512 / size elements in the order the port sees them:
 *               a REP instruction is done in as many exits as it takes.
 *               OUTS: the data was read from guest memory, and RSI, RCX and
 *               RIP already moved on past this batch.  INS: at the next
 *               KQEMU_RUN kqemu writes the data to ES:RDI and moves RDI,
 *               RCX and RIP on.  RIP passes the instruction once its REP
 *               count is done; until then the guest executes it again.
 *               A string operand in memory no slot backs (or, for INS, in
 *               a read-only slot) is INTERNAL_ERROR EMULATION, data[0] its
 *               guest-physical address (~0: the guest's page tables are
 *               there), data[1] its linear address; a page the guest's
 *               tables do not map for the access is a #PF for the guest.
 *   MMIO        an access to guest-physical memory no slot backs, or a write
 *               to a read-only slot: phys_addr, len, is_write, data (fill it
 *               in for a read).
 *   HLT         the guest executed HLT (RIP is past it).
 *   SHUTDOWN    triple fault.
 *   CPUID       function/index; fill in eax..edx before the next KQEMU_RUN.
 *   MSR         RDMSR/WRMSR of any MSR: index, data; for RDMSR fill in data;
 *               set error to make the guest take #GP instead.
 *   IRQ_WINDOW  request_interrupt_window was set and the guest can now take
 *               an interrupt (ready_for_interrupt_injection).
 *   FAIL_ENTRY  the CPU refused the guest state: hardware_exit_reason.
 *               SVM: VMEXIT_INVALID (0xffffffff), info1/info2 EXITINFO1/2.
 *               VMX: the exit reason with bit 31 set (33: invalid guest
 *               state), info1 the exit qualification; or 0xffffffff when
 *               VMLAUNCH itself failed, info1 the VM-instruction error.
 *   INTERNAL_ERROR  kqemu cannot go on with this guest (suberror).
 *   INTR        see EINTR above.
 *   UNKNOWN     an exit the hardware gave that kqemu does not handle, in
 *               fail_entry: hardware_exit_reason the exit code, info1 and
 *               info2 its details.  The guest is left as it stopped.
 */
struct kqemu_run {
	/* in */
	__u8 request_interrupt_window;
	__u8 immediate_exit;
	__u8 padding0[6];
	/* out */
	__u32 exit_reason;
	__u8 ready_for_interrupt_injection;
	__u8 if_flag;
	__u16 padding1;
	__u64 reserved[4];
	union {
		struct {
			__u64 hardware_exit_reason;
			__u64 info1;
			__u64 info2;
		} fail_entry;
		struct {
			__u8 direction;		/* KQEMU_EXIT_IO_IN or _OUT */
			__u8 size;
			__u16 port;
			__u32 count;		/* elements of size bytes at data_offset */
			__u64 data_offset;	/* from the start of kqemu_run */
		} io;
		struct {
			__u64 phys_addr;
			__u8 data[8];
			__u32 len;
			__u8 is_write;
			__u8 padding[3];
		} mmio;
		struct {
			__u32 function;
			__u32 index;
			__u32 eax, ebx, ecx, edx;
		} cpuid;
		struct {
			__u32 index;
			__u8 is_write;
			__u8 error;		/* in: 1 = #GP */
			__u16 padding;
			__u64 data;
		} msr;
		struct {
			__u32 suberror;
			__u32 padding;
			__u64 data[4];
		} internal;
		__u8 padding2[256];
	};
	__u8 io_data[512];	/* where data_offset points */
};

#define KQEMU_RUN_SIZE		4096

#define KQEMU_EXIT_UNKNOWN		0
#define KQEMU_EXIT_IO			1
#define KQEMU_EXIT_MMIO			2
#define KQEMU_EXIT_HLT			3
#define KQEMU_EXIT_SHUTDOWN		4
#define KQEMU_EXIT_CPUID		5
#define KQEMU_EXIT_MSR			6
#define KQEMU_EXIT_IRQ_WINDOW		7
#define KQEMU_EXIT_FAIL_ENTRY		8
#define KQEMU_EXIT_INTERNAL_ERROR	9
#define KQEMU_EXIT_INTR			10

#define KQEMU_EXIT_IO_IN	0
#define KQEMU_EXIT_IO_OUT	1

/* Values of internal.suberror. */
#define KQEMU_INTERNAL_ERROR_EMULATION	1	/* an MMIO instruction kqemu cannot decode */
/*
 * INS/OUTS, before KQEMU_CAP_STRING_IO: no longer returned, kept so that
 * programs that name it still build.
 */
#define KQEMU_INTERNAL_ERROR_STRING_IO	2
/*
 * An event the guest cannot take: delivering an exception or interrupt
 * touched memory no slot backs, or wrote to a read-only slot (its stack,
 * IDT or GDT is there).  data[0] is the event (SVM EXITINTINFO, VMX
 * IDT-vectoring information), data[1] the guest-physical address.
 */
#define KQEMU_INTERNAL_ERROR_EXCEPTION	3

#define KQEMU_RUN		_IO(KQEMUIO, 0x25)

/*
 * KQEMU_INTERRUPT: queue an external interrupt vector, as a PIC would
 * raise it.  It is delivered at the next entry when the guest can take it
 * (RFLAGS.IF, no interrupt shadow); ask for KQEMU_EXIT_IRQ_WINDOW to learn
 * when.  Errors: EFAULT, EINVAL (flags/reserved, vector < 32 or > 255),
 * EBUSY (one is already queued), EACCES, EIO.
 */
struct kqemu_interrupt {
	__u32 vector;
	__u32 flags;		/* none defined, must be 0 */
	__u64 reserved;		/* must be 0 */
};

#define KQEMU_INTERRUPT		_IOW(KQEMUIO, 0x26, struct kqemu_interrupt)

#endif /* _UAPI_LINUX_KQEMU_H */
