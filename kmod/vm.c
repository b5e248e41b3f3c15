// SPDX-License-Identifier: GPL-2.0
/*
 * VMs and their guest memory.
 *
 * A VM belongs to the process that created it: every VM ioctl from another
 * mm fails with EIO, since guest memory is that process's memory.  Guest
 * memory is pinned when a slot is added, so that the hardware backends can
 * map it without faulting, and it is charged like VFIO charges it: to the
 * creator's RLIMIT_MEMLOCK (mm->locked_vm) and to its user's quota.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <asm/tsc.h>

#include "kqemu.h"

static bool reserved_clear(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

static int slot_validate(const struct kqemu_memory_slot *s)
{
	if (s->flags & ~KQEMU_MEM_FLAGS)
		return -EINVAL;
	if (!reserved_clear(s->reserved, sizeof(s->reserved)))
		return -EINVAL;
	if (s->slot >= KQEMU_MAX_MEMORY_SLOTS)
		return -EINVAL;
	if (!s->size || s->size > KQEMU_MAX_SLOT_SIZE)
		return -EINVAL;
	if (!PAGE_ALIGNED(s->guest_phys_addr) || !PAGE_ALIGNED(s->size) ||
	    !PAGE_ALIGNED(s->userspace_addr))
		return -EINVAL;
	if (s->guest_phys_addr >= KQEMU_MAX_GUEST_PHYS ||
	    s->size > KQEMU_MAX_GUEST_PHYS - s->guest_phys_addr)
		return -EINVAL;
	if (s->userspace_addr + s->size < s->userspace_addr ||
	    !access_ok(u64_to_user_ptr(s->userspace_addr), s->size))
		return -EINVAL;
	return 0;
}

static bool slot_overlaps(const struct kqemu_vm *vm, u64 gpa, u64 size)
{
	unsigned int i;

	for (i = 0; i < KQEMU_MAX_MEMORY_SLOTS; i++) {
		const struct kqemu_slot *s = vm->slots[i];

		if (s && gpa < s->gpa + s->size && s->gpa < gpa + size)
			return true;
	}
	return false;
}

/* Pin in chunks so that a huge slot can be interrupted and does not stall. */
static int slot_pin(struct kqemu_slot *slot)
{
	unsigned int gup_flags = FOLL_LONGTERM;
	unsigned long done = 0;

	if (!(slot->flags & KQEMU_MEM_READONLY))
		gup_flags |= FOLL_WRITE;
	while (done < slot->npages) {
		int chunk = min_t(unsigned long, slot->npages - done, 512);
		int ret;

		if (fatal_signal_pending(current)) {
			ret = -EINTR;
		} else {
			ret = pin_user_pages_fast(slot->uaddr + done * PAGE_SIZE,
						  chunk, gup_flags,
						  slot->pages + done);
			if (ret == 0)
				ret = -EFAULT;
		}
		if (ret < 0) {
			unpin_user_pages(slot->pages, done);
			return ret;
		}
		done += ret;
		cond_resched();
	}
	return 0;
}

/* Give the backend's page tables the slot's pages; under mmu_lock for write. */
static int slot_map(struct kqemu_vm *vm, struct kqemu_slot *slot)
{
	unsigned long i;
	u64 bits;
	int ret;

	/* No backend, no table: the VM only holds the memory. */
	if (!vm->gpt.root)
		return 0;
	bits = (slot->flags & KQEMU_MEM_READONLY) ? kqemu_backend->leaf_ro :
						    kqemu_backend->leaf_rw;
	for (i = 0; i < slot->npages; i++) {
		ret = kqemu_gpt_map(&vm->gpt, slot->gpa + i * PAGE_SIZE,
				    page_to_phys(slot->pages[i]) | bits);
		if (ret)
			return ret;
		if (!(i % 4096))
			cond_resched();
	}
	return 0;
}

/* Under mmu_lock for write; frees the tables the slot alone needed. */
static void slot_unmap(struct kqemu_vm *vm, struct kqemu_slot *slot)
{
	kqemu_gpt_unmap(&vm->gpt, slot->gpa, slot->size);
	/* Every vCPU flushes its TLB before it enters the guest again. */
	atomic_inc(&vm->tlb_gen);
}

static void slot_free(struct kqemu_vm *vm, struct kqemu_slot *slot)
{
	unpin_user_pages_dirty_lock(slot->pages, slot->npages,
				    !(slot->flags & KQEMU_MEM_READONLY));
	account_locked_vm(vm->mm, slot->npages, false);
	kqemu_user_uncharge_pinned(vm->client.user, slot->size);
	atomic64_sub(slot->size, &kqemu_stats.pinned_bytes);
	kvfree(slot->pages);
	kfree(slot);
}

static long vm_add_slot(struct kqemu_vm *vm, void __user *argp)
{
	struct kqemu_memory_slot s;
	struct kqemu_slot *slot;
	int ret;

	if (copy_from_user(&s, argp, sizeof(s)))
		return -EFAULT;
	ret = slot_validate(&s);
	if (ret)
		return ret;

	slot = kzalloc(sizeof(*slot), GFP_KERNEL_ACCOUNT);
	if (!slot)
		return -ENOMEM;
	slot->gpa = s.guest_phys_addr;
	slot->size = s.size;
	slot->uaddr = s.userspace_addr;
	slot->flags = s.flags;
	slot->npages = s.size >> PAGE_SHIFT;

	mutex_lock(&vm->lock);
	if (vm->slots[s.slot] || slot_overlaps(vm, slot->gpa, slot->size)) {
		ret = -EEXIST;
		goto out_unlock;
	}
	ret = kqemu_user_charge_pinned(vm->client.user, slot->size);
	if (ret)
		goto out_unlock;
	ret = account_locked_vm(vm->mm, slot->npages, true);
	if (ret)
		goto out_uncharge_user;
	/*
	 * Only once the quota and RLIMIT_MEMLOCK allow the pinning: the page
	 * array of the largest slot is 128 MiB.
	 */
	slot->pages = kvmalloc_array(slot->npages, sizeof(*slot->pages),
				     GFP_KERNEL_ACCOUNT);
	if (!slot->pages) {
		ret = -ENOMEM;
		goto out_uncharge_locked;
	}
	ret = slot_pin(slot);
	if (ret)
		goto out_free_pages;
	down_write(&vm->mmu_lock);
	ret = slot_map(vm, slot);
	if (ret) {
		slot_unmap(vm, slot);
		up_write(&vm->mmu_lock);
		goto out_unpin;
	}
	vm->slots[s.slot] = slot;
	up_write(&vm->mmu_lock);
	atomic64_add(slot->size, &kqemu_stats.pinned_bytes);
	mutex_unlock(&vm->lock);
	return 0;

out_unpin:
	unpin_user_pages(slot->pages, slot->npages);
out_free_pages:
	kvfree(slot->pages);
out_uncharge_locked:
	account_locked_vm(vm->mm, slot->npages, false);
out_uncharge_user:
	kqemu_user_uncharge_pinned(vm->client.user, slot->size);
out_unlock:
	mutex_unlock(&vm->lock);
	kfree(slot);
	return ret;
}

static long vm_delete_slot(struct kqemu_vm *vm, void __user *argp)
{
	struct kqemu_slot_id id;
	struct kqemu_slot *slot;

	if (copy_from_user(&id, argp, sizeof(id)))
		return -EFAULT;
	if (id.flags || !reserved_clear(id.reserved, sizeof(id.reserved)) ||
	    id.slot >= KQEMU_MAX_MEMORY_SLOTS)
		return -EINVAL;

	mutex_lock(&vm->lock);
	slot = vm->slots[id.slot];
	if (slot) {
		/* Waits for every vCPU to leave the guest. */
		down_write(&vm->mmu_lock);
		slot_unmap(vm, slot);
		vm->slots[id.slot] = NULL;
		up_write(&vm->mmu_lock);
	}
	mutex_unlock(&vm->lock);
	if (!slot)
		return -ENOENT;
	slot_free(vm, slot);
	return 0;
}

static long kqemu_vm_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	struct kqemu_vm *vm = file->private_data;
	void __user *argp = (void __user *)arg;
	int ret;

	ret = kqemu_client_check(&vm->client);
	if (ret)
		return ret;
	if (current->mm != vm->mm)
		return -EIO;

	switch (cmd) {
	case KQEMU_ADD_MEMORY_SLOT:
		return vm_add_slot(vm, argp);
	case KQEMU_DELETE_MEMORY_SLOT:
		return vm_delete_slot(vm, argp);
	case KQEMU_CREATE_VCPU:
		return kqemu_create_vcpu(vm, argp);
	default:
		return -ENOTTY;
	}
}

static void kqemu_vm_free(struct kref *kref)
{
	struct kqemu_vm *vm = container_of(kref, struct kqemu_vm, kref);
	unsigned int i;

	for (i = 0; i < KQEMU_MAX_MEMORY_SLOTS; i++)
		if (vm->slots[i])
			slot_free(vm, vm->slots[i]);
	if (vm->gpt.root)
		kqemu_backend->vm_free(vm);
	mmdrop(vm->mm);
	kqemu_user_uncharge_vm(vm->client.user);
	kqemu_client_release(&vm->client);
	atomic_long_dec(&kqemu_stats.vms);
	kfree(vm);
}

void kqemu_vm_put(struct kqemu_vm *vm)
{
	kref_put(&vm->kref, kqemu_vm_free);
}

static int kqemu_vm_release(struct inode *inode, struct file *file)
{
	kqemu_vm_put(file->private_data);
	return 0;
}

/* Under vm->lock or mmu_lock. */
static struct kqemu_slot *kqemu_slot_find(struct kqemu_vm *vm, u64 gpa)
{
	unsigned int i;

	for (i = 0; i < KQEMU_MAX_MEMORY_SLOTS; i++) {
		struct kqemu_slot *s = vm->slots[i];

		if (s && gpa >= s->gpa && gpa - s->gpa < s->size)
			return s;
	}
	return NULL;
}

/*
 * Whether a slot backs gpa now, for a write too when WRITE is set: a nested
 * fault on such an address raced with a slot change and is retried.  The
 * slot is looked at only under mmu_lock, since a slot delete may free it
 * the moment the lock is dropped.
 */
bool kqemu_slot_backs(struct kqemu_vm *vm, u64 gpa, bool write)
{
	const struct kqemu_slot *slot;
	bool backs;

	down_read(&vm->mmu_lock);
	slot = kqemu_slot_find(vm, gpa);
	backs = slot && !(write && (slot->flags & KQEMU_MEM_READONLY));
	up_read(&vm->mmu_lock);
	return backs;
}

/* Copy guest memory that slots back; -EFAULT where none does. Under mmu_lock. */
int kqemu_read_guest(struct kqemu_vm *vm, u64 gpa, void *buf, size_t len)
{
	while (len) {
		struct kqemu_slot *slot = kqemu_slot_find(vm, gpa);
		size_t offset = offset_in_page(gpa);
		size_t chunk = min_t(size_t, len, PAGE_SIZE - offset);
		void *page;

		if (!slot)
			return -EFAULT;
		page = kmap_local_page(slot->pages[(gpa - slot->gpa) >> PAGE_SHIFT]);
		memcpy(buf, page + offset, chunk);
		kunmap_local(page);
		buf += chunk;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

/*
 * Copy into guest memory that writable slots back; -EFAULT where none
 * does or the slot is read-only (nothing is written then).  Under mmu_lock.
 */
int kqemu_write_guest(struct kqemu_vm *vm, u64 gpa, const void *buf, size_t len)
{
	u64 at;

	for (at = gpa; at < gpa + len; at = (at | (PAGE_SIZE - 1)) + 1)
		if (!kqemu_guest_ram(vm, at, true))
			return -EFAULT;
	while (len) {
		struct kqemu_slot *slot = kqemu_slot_find(vm, gpa);
		size_t offset = offset_in_page(gpa);
		size_t chunk = min_t(size_t, len, PAGE_SIZE - offset);
		void *page;

		page = kmap_local_page(slot->pages[(gpa - slot->gpa) >> PAGE_SHIFT]);
		memcpy(page + offset, buf, chunk);
		kunmap_local(page);
		buf += chunk;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

/* Whether a slot backs gpa, and lets the guest write it for WRITE.  Under mmu_lock. */
bool kqemu_guest_ram(struct kqemu_vm *vm, u64 gpa, bool write)
{
	const struct kqemu_slot *slot = kqemu_slot_find(vm, gpa);

	return slot && !(write && (slot->flags & KQEMU_MEM_READONLY));
}

/*
 * Set BITS in the 32-bit word at gpa (4-byte aligned), atomically, as the
 * CPU sets accessed and dirty bits in a page-table entry that another vCPU
 * may be changing.  A table in a read-only slot is left as it is: the CPU's
 * write would have been refused too.  Under mmu_lock.
 */
void kqemu_guest_set_bits(struct kqemu_vm *vm, u64 gpa, u32 bits)
{
	struct kqemu_slot *slot = kqemu_slot_find(vm, gpa);
	void *page;

	if (!slot || (slot->flags & KQEMU_MEM_READONLY) || (gpa & 3))
		return;
	page = kmap_local_page(slot->pages[(gpa - slot->gpa) >> PAGE_SHIFT]);
	atomic_or(bits, (atomic_t *)(page + offset_in_page(gpa)));
	kunmap_local(page);
}

static const struct file_operations kqemu_vm_fops = {
	.owner		= THIS_MODULE,
	.release	= kqemu_vm_release,
	.unlocked_ioctl	= kqemu_vm_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

/*
 * A new O_CLOEXEC fd and its file, not yet installed: the caller makes the
 * object reachable and then calls fd_install(), which cannot fail.
 * Returns the fd, or -errno with nothing left behind.
 */
int kqemu_new_file(const char *name, const struct file_operations *fops,
		   void *priv, struct file **filep)
{
	int fd = get_unused_fd_flags(O_CLOEXEC);

	if (fd < 0)
		return fd;
	*filep = anon_inode_getfile(name, fops, priv, O_RDWR);
	if (IS_ERR(*filep)) {
		put_unused_fd(fd);
		return PTR_ERR(*filep);
	}
	return fd;
}

long kqemu_create_vm(struct kqemu_client *client, void __user *argp)
{
	struct kqemu_create_vm args;
	struct kqemu_vm *vm;
	struct file *file;
	int fd, ret;

	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	if (args.flags || !reserved_clear(args.reserved, sizeof(args.reserved)))
		return -EINVAL;

	ret = kqemu_user_charge_vm(client->user);
	if (ret)
		return ret;
	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm) {
		ret = -ENOMEM;
		goto out_uncharge;
	}
	kref_init(&vm->kref);
	/* Its vCPUs' TSCs start at 0 together. */
	vm->tsc_origin = rdtsc();
	kqemu_client_copy(&vm->client, client, "fd=vm");
	mutex_init(&vm->lock);
	init_rwsem(&vm->mmu_lock);
	mmgrab(current->mm);
	vm->mm = current->mm;
	atomic_long_inc(&kqemu_stats.vms);

	/* Without a backend the VM still holds memory; vCPUs are refused. */
	if (kqemu_backend) {
		ret = kqemu_backend->vm_init(vm);
		if (ret) {
			kqemu_vm_put(vm);
			return ret;
		}
	}
	fd = kqemu_new_file("kqemu-vm", &kqemu_vm_fops, vm, &file);
	if (fd < 0) {
		kqemu_vm_put(vm);
		return fd;
	}
	fd_install(fd, file);
	return fd;

out_uncharge:
	kqemu_user_uncharge_vm(client->user);
	return ret;
}
