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
/*
 * 6 was the pinned-memory quota (bytes, 0: RLIMIT_MEMLOCK alone) while
 * slots were pinned when added; it now reads as KQEMU_CAP_MAX_MAPPED_PER_USER.
 */
#define KQEMU_CAP_MAX_PINNED_PER_USER	6
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
#define KQEMU_CAP_MSRS			15	/* 1: KQEMU_GET/SET_MSRS, the index list */
#define KQEMU_CAP_TSC_OFFSET		16	/* 1: the guest's TSC is its own (MSR 0x10) */
#define KQEMU_CAP_XSAVE_STATE		17	/* 1: KQEMU_GET/SET_XSAVE */
/*
 * 1: KQEMU_NMI, NMI masking and KQEMU_EXIT_NMI_WINDOW; 0 on VMX without
 * virtual NMIs.  Vectors 0-255 and KQEMU_GET/SET_VCPU_EVENTS work either
 * way wherever KQEMU_CAP_MSRS is 1 (the same ABI version).
 */
#define KQEMU_CAP_VCPU_EVENTS		18
#define KQEMU_CAP_CPUID			19	/* 1: KQEMU_GET_SUPPORTED_CPUID, KQEMU_SET_CPUID */
/*
 * 1: INS and OUTS (any size, REP or not, any address size, DF, segment
 * override) are KQEMU_EXIT_IO exits with count elements, not internal
 * errors.
 */
#define KQEMU_CAP_STRING_IO		20
/*
 * 1: kqemu carries out the MMIO instructions listed at KQEMU_EXIT_MMIO
 * below (ALU read-modify-write, XCHG, string ops): a read exit then a
 * write exit, or one element of a string op per exit.
 */
#define KQEMU_CAP_MMIO_RMW		21
#define KQEMU_CAP_DEBUGREGS		22	/* 1: guest MOV DR, KQEMU_GET/SET_DEBUGREGS */
#define KQEMU_CAP_SREGS_CR8		23	/* 1: kqemu_sregs.cr8, KQEMU_SREGS_CR8, kqemu_run.cr8 */
/*
 * The quota on what one user's guests have mapped at once, in bytes: guest
 * pages present in the nested tables plus the table pages (module
 * parameter max_mapped_mb_per_user; 0: none).
 */
#define KQEMU_CAP_MAX_MAPPED_PER_USER	24
/*
 * 1: guest memory is faulted in as the guest touches it and follows the
 * VMM's mappings (see KQEMU_ADD_MEMORY_SLOT); nothing is pinned, nothing
 * is charged to RLIMIT_MEMLOCK.  0 (older modules): pinned at add.
 */
#define KQEMU_CAP_MEMORY_ON_DEMAND	25
/*
 * 1: where the VMM maps guest memory with 2 MiB pages (THP, hugetlbfs) at
 * the same offset within 2 MiB as the guest-physical address, and a slot
 * holds all of those 2 MiB, kqemu maps them with one 2 MiB nested leaf
 * (split again when the host splits its page).  0: 4 KiB leaves only.
 */
#define KQEMU_CAP_HUGE_LEAVES		26

/* Values of KQEMU_CAP_BACKEND. */
#define KQEMU_BACKEND_NONE	0
#define KQEMU_BACKEND_SVM	1	/* AMD-V with nested paging */
#define KQEMU_BACKEND_VMX	2	/* Intel VT-x with EPT */

#define KQEMU_CHECK_CAPABILITY	_IOWR(KQEMUIO, 0x01, struct kqemu_capability)

/*
 * KQEMU_GET_MSR_INDEX_LIST (on /dev/kqemu): the MSRs each vCPU keeps and
 * switches itself (KQEMU_GET_MSRS reads them, a guest's RDMSR and WRMSR of
 * them never exit), for a VMM that saves and migrates a vCPU.  in: nmsrs,
 * the room in indices; out: nmsrs, how many there are.
 * Errors: EFAULT, EINVAL (flags or reserved nonzero), E2BIG (not enough
 * room: nmsrs says how much is needed), EACCES.
 */
struct kqemu_msr_index_list {
	__u32 nmsrs;
	__u32 flags;		/* none defined, must be 0 */
	__u64 reserved;		/* must be 0 */
	__u32 indices[];
};

#define KQEMU_GET_MSR_INDEX_LIST _IOWR(KQEMUIO, 0x03, struct kqemu_msr_index_list)

/*
 * CPUID tables.  An entry answers CPUID with EAX = function and, where
 * flags has KQEMU_CPUID_INDEXED, ECX = index (otherwise any ECX).
 *
 * KQEMU_GET_SUPPORTED_CPUID (on /dev/kqemu): what kqemu can give a guest on
 * this host, as a VMM's "-cpu host" would take it: the host's own leaves
 * with every feature kqemu does not give a guest cleared (VMX, SVM,
 * MONITOR, PKU, LA57, the PMU, XSAVE components beyond
 * KQEMU_CAP_XFEATURES, XSAVES, the thermal and RDT leaves...), the
 * hypervisor bit set, no topology (leaves 0xB, 0x1F: the VMM's), and
 * guest-physical addresses of at most 48 bits.  in: nent, the room in
 * entries; out: nent, how many.
 * Errors: EFAULT, EINVAL (flags or reserved nonzero), E2BIG (not enough
 * room: nent says how much is needed), EACCES.
 *
 * KQEMU_SET_CPUID (vCPU): from now on the guest's CPUID is answered in the
 * kernel from this table, without an exit; a function and index the table
 * lacks reads as all 0.  Two bits follow the guest as on a CPU: OSXSAVE
 * (leaf 1 ECX bit 27) is CR4.OSXSAVE, and leaf 0xD index 0 EBX is the size
 * of the XSAVE area for the guest's XCR0.  The guest's XSETBV may enable
 * only the components leaf 0xD index 0 names (EDX:EAX).  nent 0 goes back
 * to KQEMU_EXIT_CPUID for every CPUID.
 * Errors: EFAULT, EINVAL (flags, reserved or padding nonzero, unknown entry
 * flags, two entries for one function and index), E2BIG (nent above
 * KQEMU_MAX_CPUID_ENTRIES), ENOMEM, EACCES, EIO.
 */
struct kqemu_cpuid_entry {
	__u32 function;
	__u32 index;
	__u32 flags;		/* KQEMU_CPUID_INDEXED */
	__u32 eax, ebx, ecx, edx;
	__u32 padding;		/* must be 0 */
};

#define KQEMU_CPUID_INDEXED	(1U << 0)

struct kqemu_cpuid {
	__u32 nent;
	__u32 flags;		/* none defined, must be 0 */
	__u64 reserved;		/* must be 0 */
	struct kqemu_cpuid_entry entries[];
};

#define KQEMU_MAX_CPUID_ENTRIES	128
#define KQEMU_GET_SUPPORTED_CPUID _IOWR(KQEMUIO, 0x04, struct kqemu_cpuid)
#define KQEMU_SET_CPUID		_IOW(KQEMUIO, 0x2e, struct kqemu_cpuid)	/* vCPU */

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
 * the caller's memory at userspace_addr.  Nothing is pinned or faulted in
 * at add (KQEMU_CAP_MEMORY_ON_DEMAND): each page is looked up in the
 * caller's address space when the guest first touches it, as the VMM
 * would fault it in (writable only where the VMM's mapping is), and taken
 * out of the guest's view before the host changes or frees it (munmap,
 * madvise, mprotect, fork's copy-on-write, swap, migration, KSM, THP), so
 * the guest and the VMM always see the same memory.  Anonymous, memfd,
 * shmem, hugetlbfs and shared file mappings all work; a range the VMM has
 * not mapped is allowed, and a guest access there is an INTERNAL_ERROR
 * KQEMU_INTERNAL_ERROR_MEMORY exit.  What the guests of a user have mapped
 * counts against max_mapped_mb_per_user (KQEMU_RUN: EDQUOT); the memory
 * itself is the VMM's, in its memory cgroup, and so are the table pages.
 * Errors:
 *   EINVAL  flags unknown or reserved nonzero; slot >= KQEMU_MAX_MEMORY_SLOTS;
 *           size 0; address or size not page-aligned; a range that wraps
 *           or lies beyond KQEMU_MAX_GUEST_PHYS / the user address space;
 *           size above KQEMU_MAX_SLOT_SIZE.
 *   EEXIST  the slot number is in use, or the guest range overlaps another
 *           slot's.
 *   EFAULT  the struct is not readable.
 *   ENOMEM  out of memory.
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
 * CR4.PCIDE outside long mode, bits of CR0 (above 31), CR4 (LA57, VMXE,
 * SMXE, PKE, CET, PKS, reserved; OSXSAVE where KQEMU_CAP_XFEATURES is 0)
 * and EFER (other than SCE, LME, LMA, NXE, FFXSR) that kqemu does not give
 * guests, and EFER.SVME.  EFER.LMA is computed: LME with CR0.PG.
 * The guest's floating-point state is KQEMU_GET/SET_XSAVE's.
 * cr8 (KQEMU_CAP_SREGS_CR8): the guest's task priority, 0-15, which its
 * MOV to CR8 sets and a userspace APIC takes as its TPR.  GET gives it
 * with flags KQEMU_SREGS_CR8; SET takes it only with that flag (without,
 * cr8 must be 0, as the reserved field it was, and CR8 stays as it is).
 */
struct kqemu_sregs {
	struct kqemu_segment cs, ds, es, fs, gs, ss, tr, ldt;
	struct kqemu_dtable gdt, idt;
	__u64 cr0, cr2, cr3, cr4, efer;
	__u32 flags;		/* KQEMU_SREGS_CR8 */
	__u32 reserved0;
	__u64 cr8;
	__u64 reserved[3];	/* must be 0 */
};

#define KQEMU_SREGS_CR8		(1U << 0)

#define KQEMU_GET_SREGS		_IOR(KQEMUIO, 0x23, struct kqemu_sregs)
#define KQEMU_SET_SREGS		_IOW(KQEMUIO, 0x24, struct kqemu_sregs)

/*
 * KQEMU_GET_MSRS, KQEMU_SET_MSRS: read or write the vCPU's own MSRs, those
 * KQEMU_GET_MSR_INDEX_LIST names: STAR, LSTAR, CSTAR, SFMASK,
 * KERNEL_GS_BASE, SYSENTER_CS/ESP/EIP, PAT, EFER, TSC (0x10: the guest's
 * TSC, which a new VM starts at 0; setting it sets the vCPU's offset from
 * the host's), and where the host has them TSC_AUX and SPEC_CTRL.
 * Entries are done in order; the return value is how many were, stopping at
 * the first index kqemu does not keep, the first nonzero entry reserved
 * field, or (SET) the first value the CPU would refuse (a #GP for a guest's
 * WRMSR; EFER as KQEMU_SET_SREGS takes it, LMA computed).
 * Errors: EFAULT, EINVAL (flags or reserved nonzero), E2BIG (nmsrs above
 * KQEMU_MAX_MSR_ENTRIES), EACCES, EIO.
 */
struct kqemu_msr_entry {
	__u32 index;
	__u32 reserved;		/* must be 0 */
	__u64 data;
};

struct kqemu_msr_list {
	__u32 nmsrs;
	__u32 flags;		/* none defined, must be 0 */
	__u64 reserved;		/* must be 0 */
	struct kqemu_msr_entry entries[];
};

#define KQEMU_MAX_MSR_ENTRIES	256
#define KQEMU_GET_MSRS		_IOWR(KQEMUIO, 0x27, struct kqemu_msr_list)
#define KQEMU_SET_MSRS		_IOW(KQEMUIO, 0x28, struct kqemu_msr_list)

/*
 * KQEMU_GET_XSAVE, KQEMU_SET_XSAVE: the vCPU's floating-point state, as
 * XSAVE writes it in the standard (not compacted) form: the legacy area
 * FXSAVE writes (x87, MXCSR, XMM0-15) in bytes 0-511, the XSAVE header at
 * 512, then each component at the offset CPUID leaf 0xD gives.  size (out)
 * is how many bytes of region are in use: 512 where the host has no XSAVE
 * (KQEMU_CAP_XFEATURES 0: only the legacy area counts), else the standard
 * size of the components in KQEMU_CAP_XFEATURES; the rest reads as 0.
 * xcr0 is the guest's XCR0 (1, x87, where the host has no XSAVE).
 * A new vCPU has FCW 0x37F, MXCSR 0x1F80, every component in its initial
 * state, XCR0 1.  SET refuses (EINVAL) flags or reserved nonzero, an XCR0
 * a guest's XSETBV could not set, MXCSR bits the CPU does not have, and a
 * header that XRSTOR would refuse (XSTATE_BV bits outside
 * KQEMU_CAP_XFEATURES, a compacted form, reserved bytes).
 * Errors: EFAULT, EINVAL, EACCES, EIO.
 */
struct kqemu_xsave {
	__u64 xcr0;
	__u32 size;		/* out; ignored by SET */
	__u32 flags;		/* none defined, must be 0 */
	__u64 reserved[6];	/* must be 0 */
	__u8 region[4096];	/* at offset 64 */
};

#define KQEMU_GET_XSAVE		_IOR(KQEMUIO, 0x29, struct kqemu_xsave)
#define KQEMU_SET_XSAVE		_IOW(KQEMUIO, 0x2a, struct kqemu_xsave)

/*
 * KQEMU_GET_DEBUGREGS, KQEMU_SET_DEBUGREGS: the guest's DR0-DR3, DR6, DR7,
 * which its own MOV DR reads and writes (kqemu checks it as a CPU would:
 * #UD for DR4/5 with CR4.DE, #GP at CPL > 0, #DB with DR7.GD) and which
 * the hardware uses while the guest runs: its breakpoints and single steps
 * raise #DB in the guest, with DR6 set.  A new vCPU has DR6 0xFFFF0FF0,
 * DR7 0x400, DR0-3 0.  SET keeps DR6's and DR7's fixed bits as the CPU
 * has them; it refuses (EINVAL) flags or reserved nonzero and DR6 or DR7
 * bits above 31.  Errors: EFAULT, EINVAL, EACCES, EIO.
 */
struct kqemu_debugregs {
	__u64 db[4];
	__u64 dr6, dr7;
	__u32 flags;		/* none defined, must be 0 */
	__u32 reserved0;
	__u64 reserved[5];	/* must be 0 */
};

#define KQEMU_GET_DEBUGREGS	_IOR(KQEMUIO, 0x2f, struct kqemu_debugregs)
#define KQEMU_SET_DEBUGREGS	_IOW(KQEMUIO, 0x30, struct kqemu_debugregs)

/*
 * KQEMU_RUN: enter the guest until an exit userspace must handle; the
 * exit is described in the mmap'ed struct kqemu_run.  Returns 0.
 * Errors: EINTR (a signal is pending, or immediate_exit was set: exit
 *         reason KQEMU_EXIT_INTR), EBUSY (see KQEMU_CREATE_VCPU),
 *         EINVAL (a previous exit was answered with an invalid value),
 *         EDQUOT (the guest touched a page its user's max_mapped_mb_per_user
 *         has no room for; it is left at the access), ENOMEM (no memory
 *         for the page or its tables), EACCES, EIO.
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
 *               in for a read; only len bytes of it are used).  The
 *               instruction is decoded and carried out by kqemu, in 16-,
 *               32- and 64-bit code, with operand-size, address-size, REX
 *               and segment prefixes:
 *                 MOV (88-8B, C6/C7, moffs A0-A3), MOVZX, MOVSX (0F B6/B7/
 *                 BE/BF), MOVSXD (63, 64-bit code): one exit, a read or
 *                 a write.
 *                 ADD, OR, ADC, SBB, AND, SUB, XOR with memory the
 *                 destination (00/01, 08/09, ... 30/31; 80-83 with an
 *                 immediate), INC, DEC (FE/FF /0 /1), NOT, NEG (F6/F7 /2
 *                 /3), XCHG (86/87): a read exit; at the next KQEMU_RUN
 *                 kqemu computes the result and RFLAGS (CF, PF, AF, ZF,
 *                 SF, OF as the CPU sets them; AF cleared where the
 *                 manuals leave it undefined), moves RIP past the
 *                 instruction and gives a write exit of the result to the
 *                 same address, which needs no answer.  The same ops with
 *                 memory the source (02/03, ... 32/33), CMP (38-3B, 80-83
 *                 /7) and TEST (84/85, F6/F7 /0): the read exit alone.
 *                 LOCK is accepted; the two exits are not atomic towards
 *                 other vCPUs.
 *                 MOVS, STOS, LODS (A4-AD), with or without REP: one
 *                 element per exit (MOVS from MMIO to MMIO: a read, then a
 *                 write), rSI/rDI stepped by RFLAGS.DF and rCX counted
 *                 down as the CPU does; RIP moves past the instruction
 *                 once rCX is 0, until then the guest executes it again
 *                 (elements in memory slots back run in the guest).  The
 *                 other operand, if in a slot, is read or written by
 *                 kqemu.  An element that crosses a page, or an operand
 *                 the guest's page tables do not map, is not carried out.
 *               Others end in INTERNAL_ERROR, KQEMU_INTERNAL_ERROR_EMULATION
 *               (KQEMU_CAP_MMIO_RMW 0: only MOV, MOVZX, MOVSX).
 *   HLT         the guest executed HLT (RIP is past it).
 *   SHUTDOWN    triple fault.
 *   CPUID       function/index; fill in eax..edx before the next KQEMU_RUN.
 *               Not once KQEMU_SET_CPUID gave a table: kqemu answers then.
 *   MSR         RDMSR/WRMSR of any MSR: index, data; for RDMSR fill in data;
 *               set error to make the guest take #GP instead.
 *   IRQ_WINDOW  request_interrupt_window was set and the guest can now take
 *               an interrupt (ready_for_interrupt_injection).
 *   NMI_WINDOW  request_nmi_window was set, no NMI is queued, and the guest
 *               can now take one (not in its NMI handler, no interrupt
 *               shadow).  SVM learns that an NMI handler's IRET is done at
 *               the guest's next exit after it, VMX at once.
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
	__u8 request_nmi_window;	/* KQEMU_CAP_VCPU_EVENTS */
	__u8 padding0[5];
	/* out */
	__u32 exit_reason;
	__u8 ready_for_interrupt_injection;
	__u8 if_flag;
	__u16 padding1;
	__u64 cr8;		/* the guest's CR8 (KQEMU_CAP_SREGS_CR8), for a userspace APIC's TPR */
	__u64 reserved[3];
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
			__u32 flags;		/* KQEMU_INTERNAL_* (0 before KQEMU_CAP_MMIO_RMW) */
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
#define KQEMU_EXIT_NMI_WINDOW		11

#define KQEMU_EXIT_IO_IN	0
#define KQEMU_EXIT_IO_OUT	1

/*
 * Values of internal.suberror.  Unless said otherwise data[0] and data[1]
 * are the backend's details and data[2] is the guest's RIP.
 *
 * An instruction kqemu does not carry out.  With KQEMU_INTERNAL_INSN in
 * internal.flags, an MMIO access, for the VMM to emulate or report:
 * data[0] is the guest-physical address, data[1] how many bytes from RIP
 * on follow in data[2] and data[3] (1-15: as many as guest memory holds
 * there; the instruction first, its length not known to kqemu), in memory
 * order (byte 0 in data[2]'s lowest).  RIP, the registers and segments
 * are KQEMU_GET_REGS' and KQEMU_GET_SREGS'; the guest is left at the
 * instruction.  Without it: INS or OUTS whose memory kqemu cannot reach
 * (data[0] its guest-physical address, all ones where the guest's tables
 * do not map it, data[1] its linear address), an I/O or control-register
 * instruction kqemu cannot decode (data[0] the backend's exit code,
 * data[1] its details), or a guest page table where no slot is (data[0]
 * its address).
 */
#define KQEMU_INTERNAL_ERROR_EMULATION	1
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
/*
 * An instruction fetch from guest-physical memory no slot backs (code in
 * an MMIO region, such as a ROM the VMM emulates, or a jump into
 * nothing): data[0] is the address of the first byte that could not be
 * fetched (all ones where the guest's own page tables do not map it),
 * data[2] RIP.  The guest is left as it stopped; entering it again without
 * a slot there ends the same way.
 */
#define KQEMU_INTERNAL_ERROR_FETCH	4
/*
 * A guest access to a slot whose memory the VMM does not have there: the
 * range is not mapped (munmap), its mapping refuses the access (PROT_NONE,
 * or a write to memory the VMM mapped read-only in a writable slot), or the
 * page is poisoned.  data[0] is the guest-physical address, data[1] 1 for a
 * write and 0 for a read, data[2] RIP.  The guest is left at the access:
 * once the VMM maps memory there, KQEMU_RUN goes on with it.
 */
#define KQEMU_INTERNAL_ERROR_MEMORY	5

/* internal.flags. */
#define KQEMU_INTERNAL_INSN	(1U << 0)	/* data[1..3]: the instruction's bytes */

#define KQEMU_RUN		_IO(KQEMUIO, 0x25)

/*
 * KQEMU_INTERRUPT: queue an external interrupt vector, as a PIC would
 * raise it: any vector 0-255 (a real-mode PIC uses 8-15).  It is delivered
 * at the next entry when the guest can take it (RFLAGS.IF, no interrupt
 * shadow); ask for KQEMU_EXIT_IRQ_WINDOW to learn when.
 * Errors: EFAULT, EINVAL (flags/reserved, vector > 255), EBUSY (one is
 * already queued), EACCES, EIO.
 */
struct kqemu_interrupt {
	__u32 vector;
	__u32 flags;		/* none defined, must be 0 */
	__u64 reserved;		/* must be 0 */
};

#define KQEMU_INTERRUPT		_IOW(KQEMUIO, 0x26, struct kqemu_interrupt)

/*
 * KQEMU_NMI: no argument.  Queue an NMI, delivered at the next entry where
 * the guest is not in its NMI handler (NMIs are masked from delivery to
 * the handler's IRET, as on a CPU) and not in an interrupt shadow.  A
 * second NMI while one is queued is the same NMI, as on a CPU.
 * Errors: EOPNOTSUPP (VMX without virtual NMIs), EACCES, EIO.
 */
#define KQEMU_NMI		_IO(KQEMUIO, 0x2b)

/*
 * KQEMU_GET_VCPU_EVENTS, KQEMU_SET_VCPU_EVENTS: every event the vCPU holds,
 * so that a VMM can save, restore and reset it exactly (a reset: all 0).
 * SET replaces them all; it refuses (EINVAL) flags, padding or reserved
 * nonzero, an exception vector above 31 or 2 (an NMI is nmi.pending), a
 * reinjected event whose type and vector disagree (NMI: 2, exception:
 * below 32) or of a type this backend has no such encoding for (SVM: 5, 6),
 * and shadow bits other than the two below.  Errors also EFAULT, EACCES,
 * EIO.
 */
struct kqemu_vcpu_events {
	struct {
		__u8 pending;		/* delivered at the next entry, before interrupts */
		__u8 vector;
		__u8 has_error;		/* in protected mode, for the vectors with one */
		__u8 padding;
		__u32 error;
	} exception;
	struct {
		__u8 pending;		/* KQEMU_INTERRUPT's, not yet taken */
		__u8 vector;
		__u8 shadow;		/* KQEMU_SHADOW_*: for one instruction */
		__u8 padding;
	} interrupt;
	struct {
		__u8 pending;		/* KQEMU_NMI's, not yet taken */
		__u8 masked;		/* in the guest's NMI handler, until its IRET */
		__u8 padding[2];
	} nmi;
	/* An event whose delivery an exit cut short: delivered again, first. */
	struct {
		__u8 valid;
		__u8 type;		/* KQEMU_EVENT_* */
		__u8 vector;
		__u8 has_error;
		__u32 error;
		__u32 insn_len;		/* software interrupts and exceptions (VMX) */
		__u32 padding;
	} reinject;
	__u32 flags;		/* none defined, must be 0 */
	__u32 reserved[7];	/* must be 0 */
};

#define KQEMU_SHADOW_STI	(1 << 0)	/* after STI */
#define KQEMU_SHADOW_MOV_SS	(1 << 1)	/* after MOV SS or POP SS */

/* Event types, as both SVM and VMX encode them. */
#define KQEMU_EVENT_EXT_INTR		0
#define KQEMU_EVENT_NMI			2
#define KQEMU_EVENT_EXCEPTION		3
#define KQEMU_EVENT_SOFT_INT		4	/* INT n */
#define KQEMU_EVENT_PRIV_SOFT_EXC	5	/* INT1 (VMX) */
#define KQEMU_EVENT_SOFT_EXC		6	/* INT3, INTO (VMX) */

#define KQEMU_GET_VCPU_EVENTS	_IOR(KQEMUIO, 0x2c, struct kqemu_vcpu_events)
#define KQEMU_SET_VCPU_EVENTS	_IOW(KQEMUIO, 0x2d, struct kqemu_vcpu_events)

#endif /* _UAPI_LINUX_KQEMU_H */
