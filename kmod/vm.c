// SPDX-License-Identifier: GPL-2.0
/*
 * VMs and their guest memory.
 *
 * A VM belongs to the process that created it: every VM ioctl from another
 * mm fails with EIO, since guest memory is that process's memory.  Nothing
 * of it is pinned: the guest's first touch of a page is a nested fault
 * that looks the page up in the VMM's address space and maps it
 * (kqemu_map_gpa), and an MMU notifier on that mm takes pages out of the
 * table before the host unmaps, moves, swaps, merges or frees them, so the
 * guest always sees what the VMM sees.  What is mapped is charged to the
 * user's quota; the memory itself stays the VMM's, in its memory cgroup.
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

static void vm_kick_nop(void *unused)
{
}

/*
 * Take mmu_lock for write, first interrupting every CPU in one of the VM's
 * guests: the interrupt makes it exit, and its next entry waits for the
 * lock.  A CPU that enters after the kick is waited for until its next
 * exit, at worst its next timer tick.
 */
static void vm_kick_guests(struct kqemu_vm *vm)
{
	preempt_disable();
	smp_call_function_many(&vm->in_guest, vm_kick_nop, NULL, false);
	preempt_enable();
}

static void vm_lock_out_guests(struct kqemu_vm *vm)
{
	vm_kick_guests(vm);
	down_write(&vm->mmu_lock);
}

/* Every vCPU flushes its TLB before it enters the guest again. */
static void vm_flush_tlbs(struct kqemu_vm *vm)
{
	atomic_inc(&vm->tlb_gen);
}

/*
 * What removing COUNT leaves, and the tables that went with them (TABLES
 * before), gives back.  Under mmu_lock for write.
 */
static void vm_unmapped(struct kqemu_vm *vm, unsigned long count, unsigned long tables)
{
	u64 bytes = (u64)count * PAGE_SIZE;

	if (!count && tables == vm->gpt.pages)
		return;
	vm->mapped_pages -= count;
	atomic64_sub(bytes, &kqemu_stats.mapped_bytes);
	kqemu_user_uncharge_mapped(vm->client.user,
				   bytes + (u64)(tables - vm->gpt.pages) * PAGE_SIZE);
	vm_flush_tlbs(vm);
}

/* Take [gpa, gpa + size) out of the table.  Under mmu_lock for write. */
static void vm_unmap_gpa(struct kqemu_vm *vm, u64 gpa, u64 size)
{
	unsigned long tables = vm->gpt.pages;

	vm_unmapped(vm, kqemu_gpt_unmap(&vm->gpt, gpa, size, true), tables);
}

/*
 * The guest-physical [*gpa, *gpa + *size) that slot S backs with the VMM's
 * [start, end); false where S is empty or backs none of it.
 */
static bool slot_hva_range(const struct kqemu_slot *s, unsigned long start,
			   unsigned long end, u64 *gpa, u64 *size)
{
	u64 lo, hi;

	if (!s || end <= s->uaddr || start >= s->uaddr + s->size)
		return false;
	lo = max_t(u64, start, s->uaddr);
	hi = min_t(u64, end, s->uaddr + s->size);
	*gpa = s->gpa + (lo - s->uaddr);
	*size = hi - lo;
	return true;
}

/*
 * Take out whatever the VMM's [start, end) backs, in every slot; returns
 * whether anything was mapped there.  Under mmu_lock for write.
 */
static bool vm_unmap_hva(struct kqemu_vm *vm, unsigned long start, unsigned long end,
			 bool may_sleep)
{
	unsigned long tables = vm->gpt.pages, count = 0;
	unsigned int i;

	for (i = 0; i < KQEMU_MAX_MEMORY_SLOTS; i++) {
		u64 gpa, size;

		if (slot_hva_range(vm->slots[i], start, end, &gpa, &size))
			count += kqemu_gpt_unmap(&vm->gpt, gpa, size, may_sleep);
	}
	vm_unmapped(vm, count, tables);
	return count;
}

static struct kqemu_vm *mn_vm(struct mmu_notifier *mn)
{
	return container_of(mn, struct kqemu_vm, mn);
}

/*
 * The host is about to change or free the pages of [start, end): take them
 * out of the guest's view first.  Until the matching invalidate_range_end
 * no fault maps anything (mmu_busy), and a fault that looked its page up
 * before sees mmu_seq moved and looks again.
 */
static int kqemu_mn_invalidate_range_start(struct mmu_notifier *mn,
					   const struct mmu_notifier_range *range)
{
	struct kqemu_vm *vm = mn_vm(mn);
	bool may_sleep = mmu_notifier_range_blockable(range);

	if (may_sleep) {
		vm_lock_out_guests(vm);
	} else if (!down_write_trylock(&vm->mmu_lock)) {
		/* The OOM reaper comes back: have the guests out by then. */
		vm_kick_guests(vm);
		return -EAGAIN;
	}
	spin_lock(&vm->gpt_lock);
	vm->mmu_busy++;
	spin_unlock(&vm->gpt_lock);
	vm_unmap_hva(vm, range->start, range->end, may_sleep);
	up_write(&vm->mmu_lock);
	return 0;
}

static void kqemu_mn_invalidate_range_end(struct mmu_notifier *mn,
					  const struct mmu_notifier_range *range)
{
	struct kqemu_vm *vm = mn_vm(mn);

	spin_lock(&vm->gpt_lock);
	vm->mmu_seq++;
	vm->mmu_busy--;
	spin_unlock(&vm->gpt_lock);
}

/* int before 7.x, bool since: whatever this kernel's ops declare. */
typedef typeof(((struct mmu_notifier_ops *)NULL)->clear_young(NULL, NULL, 0, 0)) kqemu_young_t;

/* Whether the guest has anything of the VMM's [start, end) mapped; under mmu_lock. */
static bool vm_hva_mapped(struct kqemu_vm *vm, unsigned long start, unsigned long end)
{
	unsigned int i;

	for (i = 0; i < KQEMU_MAX_MEMORY_SLOTS; i++) {
		u64 gpa, size;

		if (slot_hva_range(vm->slots[i], start, end, &gpa, &size) &&
		    kqemu_gpt_mapped(&vm->gpt, gpa, size))
			return true;
	}
	return false;
}

/*
 * Reclaim (and DAMON) asks whether the guest used [start, end) since it
 * last asked, from under the host's page-table lock: nothing here may
 * sleep.  The tables as kqemu builds them do not record use (no A/D bits
 * on EPT), so a mapped page counts as used and is taken out: the guest's
 * next touch faults it in again, which marks it accessed for the host, and
 * a page the guest leaves alone reads as unused next time.  While a vCPU
 * is in the guest nothing can be taken out, and what is mapped counts as
 * used.
 */
static kqemu_young_t kqemu_mn_clear_young(struct mmu_notifier *mn, struct mm_struct *mm,
					  unsigned long start, unsigned long end)
{
	struct kqemu_vm *vm = mn_vm(mn);
	bool young = false;

	if (down_write_trylock(&vm->mmu_lock)) {
		young = vm_unmap_hva(vm, start, end, false);
		up_write(&vm->mmu_lock);
	} else if (down_read_trylock(&vm->mmu_lock)) {
		young = vm_hva_mapped(vm, start, end);
		up_read(&vm->mmu_lock);
	}
	return young;
}

/* The mm goes away (its last user exited): nothing of it may stay mapped. */
static void kqemu_mn_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct kqemu_vm *vm = mn_vm(mn);

	vm_lock_out_guests(vm);
	vm_unmap_gpa(vm, 0, KQEMU_MAX_GUEST_PHYS);
	spin_lock(&vm->gpt_lock);
	vm->mmu_seq++;
	spin_unlock(&vm->gpt_lock);
	up_write(&vm->mmu_lock);
}

/* int before 7.x, bool since. */
typedef typeof(((struct mmu_notifier_ops *)NULL)->test_young(NULL, NULL, 0)) kqemu_test_young_t;

/* Whether the guest may have used the page at ADDR: whether it is mapped. */
static kqemu_test_young_t kqemu_mn_test_young(struct mmu_notifier *mn, struct mm_struct *mm,
					      unsigned long addr)
{
	struct kqemu_vm *vm = mn_vm(mn);
	bool young = false;

	if (down_read_trylock(&vm->mmu_lock)) {
		young = vm_hva_mapped(vm, addr, addr + PAGE_SIZE);
		up_read(&vm->mmu_lock);
	}
	return young;
}

static const struct mmu_notifier_ops kqemu_mn_ops = {
	.invalidate_range_start	= kqemu_mn_invalidate_range_start,
	.invalidate_range_end	= kqemu_mn_invalidate_range_end,
	.clear_flush_young	= kqemu_mn_clear_young,
	.clear_young		= kqemu_mn_clear_young,
	.test_young		= kqemu_mn_test_young,
	.release		= kqemu_mn_release,
};

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

	mutex_lock(&vm->lock);
	if (vm->slots[s.slot] || slot_overlaps(vm, slot->gpa, slot->size)) {
		mutex_unlock(&vm->lock);
		kfree(slot);
		return -EEXIST;
	}
	/* Nothing is mapped yet: the guest's first touch of each page faults. */
	vm_lock_out_guests(vm);
	vm->slots[s.slot] = slot;
	up_write(&vm->mmu_lock);
	mutex_unlock(&vm->lock);
	return 0;
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
		vm_lock_out_guests(vm);
		vm_unmap_gpa(vm, slot->gpa, slot->size);
		vm->slots[id.slot] = NULL;
		/* A fault that looked the slot up before maps nothing now. */
		spin_lock(&vm->gpt_lock);
		vm->mmu_seq++;
		spin_unlock(&vm->gpt_lock);
		up_write(&vm->mmu_lock);
	}
	mutex_unlock(&vm->lock);
	if (!slot)
		return -ENOENT;
	kfree(slot);
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

	/* Waits for a callback that runs now; none comes after. */
	if (vm->mn_registered)
		mmu_notifier_unregister(&vm->mn, vm->mm);
	if (vm->gpt.root) {
		down_write(&vm->mmu_lock);
		vm_unmap_gpa(vm, 0, KQEMU_MAX_GUEST_PHYS);
		up_write(&vm->mmu_lock);
		WARN_ON_ONCE(vm->mapped_pages);
		kqemu_backend->vm_free(vm);
	}
	for (i = 0; i < KQEMU_MAX_MEMORY_SLOTS; i++)
		kfree(vm->slots[i]);
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
 * Whether a slot backs gpa now, for a write too when WRITE is set.  The
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

/*
 * The VMM's address of guest-physical GPA, for a write too when WRITE is
 * set: 0, or -EFAULT where no slot (no writable slot) backs it.  What the
 * address holds is looked at after mmu_lock is dropped: a slot deleted
 * meanwhile leaves the VMM's own memory there, which is all the guest
 * could ever reach through it.
 */
static int gpa_to_hva(struct kqemu_vm *vm, u64 gpa, bool write, unsigned long *hva,
		      bool *writable, u64 *slot_gpa, u64 *slot_size)
{
	const struct kqemu_slot *slot;
	int ret = -EFAULT;

	down_read(&vm->mmu_lock);
	slot = kqemu_slot_find(vm, gpa);
	if (slot && !(write && (slot->flags & KQEMU_MEM_READONLY))) {
		*hva = slot->uaddr + (gpa - slot->gpa);
		if (writable) {
			*writable = !(slot->flags & KQEMU_MEM_READONLY);
			*slot_gpa = slot->gpa;
			*slot_size = slot->size;
		}
		ret = 0;
	}
	up_read(&vm->mmu_lock);
	return ret;
}

/*
 * Guest memory is read and written through the VMM's own mappings, on the
 * vCPU's thread (its ioctls come from the VM's mm alone), so an access
 * faults pages in and follows the VMM's protections as the VMM's would.
 * Never under mmu_lock: a fault may reclaim, and reclaim may call the MMU
 * notifier.
 */
static bool guest_access_ok(struct kqemu_vm *vm)
{
	return !WARN_ON_ONCE(current->mm != vm->mm);
}

/* Copy guest memory that slots back; -EFAULT where none does. */
int kqemu_read_guest(struct kqemu_vm *vm, u64 gpa, void *buf, size_t len)
{
	if (!guest_access_ok(vm))
		return -EFAULT;
	while (len) {
		size_t chunk = min_t(size_t, len, PAGE_SIZE - offset_in_page(gpa));
		unsigned long hva;

		if (gpa_to_hva(vm, gpa, false, &hva, NULL, NULL, NULL) ||
		    copy_from_user(buf, (const void __user *)hva, chunk))
			return -EFAULT;
		buf += chunk;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

/*
 * Copy into guest memory that writable slots back; -EFAULT where none
 * does or the slot is read-only (nothing is written then, unless the VMM's
 * own mapping refuses a later page of it).
 */
int kqemu_write_guest(struct kqemu_vm *vm, u64 gpa, const void *buf, size_t len)
{
	u64 at;

	if (!guest_access_ok(vm))
		return -EFAULT;
	for (at = gpa; at < gpa + len; at = (at | (PAGE_SIZE - 1)) + 1)
		if (!kqemu_slot_backs(vm, at, true))
			return -EFAULT;
	while (len) {
		size_t chunk = min_t(size_t, len, PAGE_SIZE - offset_in_page(gpa));
		unsigned long hva;

		if (gpa_to_hva(vm, gpa, true, &hva, NULL, NULL, NULL) ||
		    copy_to_user((void __user *)hva, buf, chunk))
			return -EFAULT;
		buf += chunk;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

/*
 * Set BITS in the 32-bit word at gpa (4-byte aligned), atomically, as the
 * CPU sets accessed and dirty bits in a page-table entry that another vCPU
 * may be changing.  A table in a read-only slot, or in memory the VMM
 * cannot write, is left as it is: the CPU's write would have been refused
 * too.
 */
void kqemu_guest_set_bits(struct kqemu_vm *vm, u64 gpa, u32 bits)
{
	struct page *page;
	unsigned long hva;
	void *kaddr;

	if ((gpa & 3) || !guest_access_ok(vm) || gpa_to_hva(vm, gpa, true, &hva, NULL, NULL, NULL) ||
	    get_user_pages_unlocked(hva & PAGE_MASK, 1, &page, FOLL_WRITE) != 1)
		return;
	kaddr = kmap_local_page(page);
	atomic_or(bits, (atomic_t *)(kaddr + offset_in_page(hva)));
	kunmap_local(kaddr);
	set_page_dirty_lock(page);
	put_page(page);
}

/*
 * Whether the VMM maps HVA with a 2 MiB page (THP or hugetlbfs), writable
 * too for WRITABLE; *PFN its first frame.  A lockless walk of the VMM's
 * tables, as fast GUP makes one: with interrupts off no table is freed
 * under it.  What it sees may change right after; the caller's sequence
 * count tells, since any change to it goes through the MMU notifier.
 */
static bool host_maps_2m(struct mm_struct *mm, unsigned long hva, bool writable,
			 unsigned long *pfn)
{
	unsigned long flags;
	bool huge = false;
	pgd_t *pgd;
	p4d_t *p4d;
	pud_t *pud, pudv;
	pmd_t pmd;

	local_irq_save(flags);
	pgd = pgd_offset(mm, hva);
	if (pgd_none(READ_ONCE(*pgd)))
		goto out;
	p4d = p4d_offset(pgd, hva);
	if (p4d_none(READ_ONCE(*p4d)))
		goto out;
	pud = pud_offset(p4d, hva);
	pudv = READ_ONCE(*pud);
	if (pud_none(pudv) || pud_leaf(pudv))
		goto out;
	pmd = READ_ONCE(*pmd_offset(pud, hva));
	if (!pmd_present(pmd) || !pmd_leaf(pmd) || (writable && !pmd_write(pmd)))
		goto out;
	*pfn = pmd_pfn(pmd);
	huge = IS_ALIGNED(*pfn, PTRS_PER_PMD);
out:
	local_irq_restore(flags);
	return huge;
}

/*
 * A nested page fault at GPA, on the vCPU's thread: look the VMM's page up
 * (faulting it in as the VMM would) and map it, writable where the slot
 * and the VMM's mapping allow it, then let the page go: the MMU notifier
 * takes it out of the table before the host may reuse it.  Where the VMM
 * maps the whole 2 MiB around it with one huge page, and the slot holds
 * all of it at the same offset, one 2 MiB leaf maps it all.
 *
 * Returns 0 (mapped, or an invalidation raced: enter again and see), 1 (no
 * slot backs GPA for this access: MMIO), -EFAULT (the VMM's memory refuses
 * the access: KQEMU_INTERNAL_ERROR_MEMORY), or another -errno for KQEMU_RUN:
 * EDQUOT, ENOMEM, EINTR.
 */
int kqemu_map_gpa(struct kqemu_vcpu *vcpu, u64 gpa, bool write)
{
	struct kqemu_vm *vm = vcpu->vm;
	unsigned long hva, seq, tables, old_pages, pfn, npages;
	u64 slot_gpa, slot_size, worst, refund, gpa_2m, entry;
	bool slot_rw, writable, huge;
	struct page *page;
	int level, ret;
	long got;

	gpa &= PAGE_MASK;
	if (!guest_access_ok(vm))
		return -EFAULT;
	/* Read before the lookup: an invalidation from now on moves it. */
	seq = READ_ONCE(vm->mmu_seq);
	smp_rmb();
	if (gpa_to_hva(vm, gpa, write, &hva, &slot_rw, &slot_gpa, &slot_size))
		return 1;
	writable = write;
	if (write) {
		got = get_user_pages_unlocked(hva, 1, &page, FOLL_WRITE);
	} else if (slot_rw && get_user_page_fast_only(hva, FOLL_WRITE, &page)) {
		/* Writable in the VMM already: spare the guest a second fault. */
		writable = true;
		got = 1;
	} else {
		got = get_user_pages_unlocked(hva, 1, &page, 0);
	}
	if (got != 1)
		return got == 0 || got == -EHWPOISON ? -EFAULT : got;
	/*
	 * A page the guest may write is dirty from now on: the host cleans a
	 * page only after taking it out of every mapping, this one included.
	 * For a huge page that is the whole folio.
	 */
	if (writable)
		set_page_dirty_lock(page);
	gpa_2m = gpa & ~(u64)(PMD_SIZE - 1);
	huge = vm->gpt.huge && !((gpa ^ hva) & (PMD_SIZE - 1)) &&
	       gpa_2m >= slot_gpa && gpa_2m + PMD_SIZE <= slot_gpa + slot_size &&
	       host_maps_2m(vm->mm, hva, writable, &pfn) &&
	       (page_to_pfn(page) & ~(unsigned long)(PTRS_PER_PMD - 1)) == pfn;
	ret = kqemu_gpt_cache_fill(&vcpu->gpt_cache, vm->gpt.levels - 1);
	if (ret)
		goto out_put;

	down_read(&vm->mmu_lock);
	spin_lock(&vm->gpt_lock);
	if (vm->mmu_busy || vm->mmu_seq != seq)
		goto out_unlock;	/* ret 0: fault again */
again:
	level = huge ? 2 : 1;
	npages = huge ? PTRS_PER_PMD : 1;
	entry = (huge ? (u64)pfn << PAGE_SHIFT | vm->gpt.huge : page_to_phys(page)) |
		(writable ? kqemu_backend->leaf_rw : kqemu_backend->leaf_ro);
	/* The leaf and every table it might need; what is not used goes back. */
	worst = (npages + vm->gpt.levels - level) * PAGE_SIZE;
	ret = kqemu_user_charge_mapped(vm->client.user, worst);
	if (ret)
		goto out_unlock;
	tables = vm->gpt.pages;
	ret = kqemu_gpt_map(&vm->gpt, huge ? gpa_2m : gpa, entry, level, &vcpu->gpt_cache,
			    &old_pages);
	if (ret) {
		/* Tables it added on the way stay, and stay charged. */
		kqemu_user_uncharge_mapped(vm->client.user,
					   worst - (vm->gpt.pages - tables) * PAGE_SIZE);
		/* 4 KiB leaves are there already: this page joins them. */
		if (ret == -EEXIST) {
			huge = false;
			goto again;
		}
		goto out_unlock;
	}
	refund = worst - (npages + vm->gpt.pages - tables) * PAGE_SIZE + old_pages * PAGE_SIZE;
	vm->mapped_pages += npages - old_pages;
	atomic64_add((s64)(npages - old_pages) * PAGE_SIZE, &kqemu_stats.mapped_bytes);
	kqemu_user_uncharge_mapped(vm->client.user, refund);
	/*
	 * A leaf was there already (read-only, now writable; another vCPU's
	 * fault first; a 2 MiB leaf now a table): a TLB may still hold the old
	 * one, which would fault again for ever.  The pages stay the VMM's
	 * until a notifier says otherwise, so running vCPUs may go on with
	 * them until their next entry flushes.
	 */
	if (old_pages)
		vm_flush_tlbs(vm);
out_unlock:
	spin_unlock(&vm->gpt_lock);
	up_read(&vm->mmu_lock);
out_put:
	put_page(page);
	return ret;
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
	spin_lock_init(&vm->gpt_lock);
	mmgrab(current->mm);
	vm->mm = current->mm;
	atomic_long_inc(&kqemu_stats.vms);
	vm->mn.ops = &kqemu_mn_ops;
	ret = mmu_notifier_register(&vm->mn, current->mm);
	if (ret) {
		kqemu_vm_put(vm);
		return ret;
	}
	vm->mn_registered = true;

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
