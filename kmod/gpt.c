// SPDX-License-Identifier: GPL-2.0
/*
 * Guest-physical tables: the radix tree from guest-physical to host-physical
 * addresses that both AMD's nested page tables and Intel's extended page
 * tables are.  Only the bits of an entry differ, so each backend says which
 * mark an entry as in use and which a table pointer carries, and gives the
 * leaves' bits; the tree itself lives here.
 *
 * The depth is the backend's to choose, and getting it wrong is a hole, not
 * a bug: AMD walks the nested table in the host's own paging mode, so on a
 * host with 5-level paging (CR4.LA57) a 4-level root would be read as a
 * PML5, each level one too high, and the guest's own pages would end up
 * being walked as page tables, which lets a guest map any host-physical
 * page it likes.
 *
 * A table is freed as soon as its last entry goes away, so adding and
 * deleting slots in a loop cannot grow kernel memory, and each table page
 * is charged to the memory cgroup of the thread that faulted it in
 * (GFP_KERNEL_ACCOUNT).  Leaves are added under a spinlock, by several
 * vCPUs at once, so the tables a new leaf needs come from a cache each
 * vCPU fills beforehand, where it may sleep.
 */
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/string.h>

#include "kqemu.h"

#define GPT_ADDR	GENMASK_ULL(51, 12)

static u64 *gpt_table(u64 entry)
{
	return phys_to_virt(entry & GPT_ADDR);
}

/* The shift of the guest-physical bits that index a table at LEVEL (1: leaves). */
static unsigned int level_shift(int level)
{
	return PAGE_SHIFT + 9 * (level - 1);
}

static void gpt_count_table(struct kqemu_gpt *gpt)
{
	gpt->pages++;
	atomic_long_inc(&kqemu_stats.page_tables);
}

static u64 *gpt_alloc_table(struct kqemu_gpt *gpt)
{
	u64 *table = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);

	if (table)
		gpt_count_table(gpt);
	return table;
}

/* Fill CACHE up to N tables; may sleep, so never under a VM's locks. */
int kqemu_gpt_cache_fill(struct kqemu_gpt_cache *cache, unsigned int n)
{
	while (cache->n < min_t(unsigned int, n, ARRAY_SIZE(cache->table))) {
		u64 *table = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);

		if (!table)
			return -ENOMEM;
		cache->table[cache->n++] = table;
	}
	return 0;
}

void kqemu_gpt_cache_free(struct kqemu_gpt_cache *cache)
{
	while (cache->n)
		free_page((unsigned long)cache->table[--cache->n]);
}

static void gpt_free_one(struct kqemu_gpt *gpt, u64 *table)
{
	free_page((unsigned long)table);
	gpt->pages--;
	atomic_long_dec(&kqemu_stats.page_tables);
}

/* Whether E, an entry of a table at LEVEL, is a 2 MiB leaf. */
static bool is_huge(const struct kqemu_gpt *gpt, u64 e, int level)
{
	return level == 2 && (e & gpt->present) && (e & gpt->huge);
}

int kqemu_gpt_init(struct kqemu_gpt *gpt, int levels, u64 table_bits, u64 present, u64 huge)
{
	if (WARN_ON_ONCE(levels < 4 || levels > 5))
		return -EINVAL;
	gpt->levels = levels;
	gpt->huge = huge;
	gpt->table_bits = table_bits;
	gpt->present = present;
	gpt->pages = 0;
	gpt->root = gpt_alloc_table(gpt);
	return gpt->root ? 0 : -ENOMEM;
}

static void gpt_free_table(struct kqemu_gpt *gpt, u64 *table, int level)
{
	int i;

	if (level > 1)
		for (i = 0; i < 512; i++)
			if ((table[i] & gpt->present) && !is_huge(gpt, table[i], level))
				gpt_free_table(gpt, gpt_table(table[i]), level - 1);
	gpt_free_one(gpt, table);
}

void kqemu_gpt_free(struct kqemu_gpt *gpt)
{
	if (!gpt->root)
		return;
	gpt_free_table(gpt, gpt->root, gpt->levels);
	gpt->root = NULL;
	WARN_ON_ONCE(gpt->pages);
}

/*
 * Point gpa's leaf at LEVEL (1: 4 KiB, 2: 2 MiB) at ENTRY (host-physical
 * address and the backend's bits), with the tables it needs from CACHE.
 * *OLD_PAGES counts the 4 KiB pages the leaves it replaced mapped: the
 * leaf itself (an upgrade to writable, or another vCPU's fault first), or
 * a 2 MiB leaf where a 4 KiB one goes now, which a table replaces.
 * -EEXIST: a 2 MiB leaf was asked where a table holds 4 KiB ones.
 *
 * Under the VM's gpt_lock with mmu_lock held for read, so CPUs may be in
 * the guest, walking these tables: a table is complete before the entry
 * that points to it, and only leaves go away here (never a table), each
 * to a page the VMM still maps (the caller's sequence count says so).
 */
int kqemu_gpt_map(struct kqemu_gpt *gpt, u64 gpa, u64 entry, int level,
		  struct kqemu_gpt_cache *cache, unsigned long *old_pages)
{
	u64 *table = gpt->root, *e;
	int l;

	*old_pages = 0;
	for (l = gpt->levels; l > level; l--) {
		e = &table[(gpa >> level_shift(l)) & 511];
		if (is_huge(gpt, *e, l)) {
			*old_pages += 512;
			WRITE_ONCE(*e, 0);
		}
		if (!(*e & gpt->present)) {
			u64 *next;

			if (!cache->n)
				return -ENOMEM;
			next = cache->table[--cache->n];
			gpt_count_table(gpt);
			WRITE_ONCE(*e, virt_to_phys(next) | gpt->table_bits);
		}
		table = gpt_table(*e);
	}
	e = &table[(gpa >> level_shift(level)) & 511];
	if (level == 2 && (*e & gpt->present) && !is_huge(gpt, *e, 2))
		return -EEXIST;
	if (*e & gpt->present)
		*old_pages += level == 2 ? 512 : 1;
	WRITE_ONCE(*e, entry);
	return 0;
}

static bool table_empty(const struct kqemu_gpt *gpt, const u64 *table)
{
	int i;

	for (i = 0; i < 512; i++)
		if (table[i] & gpt->present)
			return false;
	return true;
}

/*
 * Clear the leaves of [start, end) below TABLE, which maps the guest-physical
 * range starting at BASE, and free every table that is left empty.
 * Returns how many leaves were in use.
 */
static unsigned long gpt_clear(struct kqemu_gpt *gpt, u64 *table, int level, u64 base,
			       u64 start, u64 end, bool may_sleep)
{
	unsigned long cleared = 0;
	unsigned int shift = level_shift(level);
	u64 span = 1ULL << shift;
	unsigned int i = (start - base) >> shift;

	for (; i < 512 && base + i * span < end; i++) {
		u64 *e = &table[i];
		u64 lo = base + i * span;

		if (!(*e & gpt->present))
			continue;
		if (level == 1) {
			*e = 0;
			cleared++;
			continue;
		}
		/* A 2 MiB leaf goes whole, however little of it the range is. */
		if (is_huge(gpt, *e, level)) {
			*e = 0;
			cleared += 512;
			continue;
		}
		cleared += gpt_clear(gpt, gpt_table(*e), level - 1, lo, max(start, lo),
				     min(end, lo + span), may_sleep);
		if (table_empty(gpt, gpt_table(*e))) {
			gpt_free_one(gpt, gpt_table(*e));
			*e = 0;
		}
		/* A 64 GiB slot has 16M leaves. */
		if (level == 2 && may_sleep)
			cond_resched();
	}
	return cleared;
}

/* Whether any leaf of [start, end) below TABLE (mapping from BASE) is in use. */
static bool gpt_any(const struct kqemu_gpt *gpt, const u64 *table, int level, u64 base,
		    u64 start, u64 end)
{
	unsigned int shift = level_shift(level);
	u64 span = 1ULL << shift;
	unsigned int i = (start - base) >> shift;

	for (; i < 512 && base + i * span < end; i++) {
		u64 e = READ_ONCE(table[i]), lo = base + i * span;

		if (!(e & gpt->present))
			continue;
		if (level == 1 || is_huge(gpt, e, level) || gpt_any(gpt, gpt_table(e), level - 1, lo, max(start, lo),
					  min(end, lo + span)))
			return true;
	}
	return false;
}

/* Whether anything of [gpa, gpa + size) is mapped; under mmu_lock. */
bool kqemu_gpt_mapped(const struct kqemu_gpt *gpt, u64 gpa, u64 size)
{
	return gpt->root && size && gpt_any(gpt, gpt->root, gpt->levels, 0, gpa, gpa + size);
}

/*
 * Unmap [gpa, gpa + size) and return how many 4 KiB pages were mapped there
 * (a 2 MiB leaf that overlaps it counts, and goes, whole).
 * The caller holds the VM's mmu_lock for write, so that no CPU is in the
 * guest, and makes every vCPU flush its TLB before it enters again.
 */
unsigned long kqemu_gpt_unmap(struct kqemu_gpt *gpt, u64 gpa, u64 size, bool may_sleep)
{
	if (!gpt->root || !size)
		return 0;
	return gpt_clear(gpt, gpt->root, gpt->levels, 0, gpa, gpa + size, may_sleep);
}
