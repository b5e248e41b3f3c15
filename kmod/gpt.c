// SPDX-License-Identifier: GPL-2.0
/*
 * Guest-physical tables: the 4-level radix tree from guest-physical to
 * host-physical addresses that both AMD's nested page tables and Intel's
 * extended page tables are.  Only the bits of an entry differ, so each
 * backend says which mark an entry as in use and which a table pointer
 * carries; the leaves are its own.
 */
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/mm.h>

#include "kqemu.h"

#define GPT_ADDR	GENMASK_ULL(51, 12)

static u64 *gpt_table(u64 entry)
{
	return phys_to_virt(entry & GPT_ADDR);
}

int kqemu_gpt_init(struct kqemu_gpt *gpt, u64 table_bits, u64 present)
{
	gpt->root = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!gpt->root)
		return -ENOMEM;
	gpt->table_bits = table_bits;
	gpt->present = present;
	return 0;
}

static void gpt_free_table(const struct kqemu_gpt *gpt, u64 *table, int level)
{
	int i;

	if (level > 1)
		for (i = 0; i < 512; i++)
			if (table[i] & gpt->present)
				gpt_free_table(gpt, gpt_table(table[i]), level - 1);
	free_page((unsigned long)table);
}

void kqemu_gpt_free(struct kqemu_gpt *gpt)
{
	gpt_free_table(gpt, gpt->root, 4);
	gpt->root = NULL;
}

/* The leaf entry for gpa, creating the tables above it when create is set. */
u64 *kqemu_gpt_leaf(struct kqemu_gpt *gpt, u64 gpa, bool create)
{
	u64 *table = gpt->root;
	int shift;

	for (shift = 39; shift > 12; shift -= 9) {
		u64 *entry = &table[(gpa >> shift) & 511];

		if (!(*entry & gpt->present)) {
			u64 *next;

			if (!create)
				return NULL;
			next = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
			if (!next)
				return NULL;
			*entry = virt_to_phys(next) | gpt->table_bits;
		}
		table = gpt_table(*entry);
	}
	return &table[(gpa >> 12) & 511];
}
