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

#endif /* _UAPI_LINUX_KQEMU_H */
