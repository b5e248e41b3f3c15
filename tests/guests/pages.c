// SPDX-License-Identifier: GPL-2.0
/*
 * Every guest page is the VMM's page at the same offset, both ways.
 * kqemu-run --pages wrote into each page from 2 MiB up to RSI the value
 * PAGES_MAGIC ^ its guest-physical address; the guest checks each one and
 * writes back the address's complement at offset 8, which kqemu-run then
 * checks in its own buffer.  A nested table of the wrong depth (a 4-level
 * root walked as a PML5 on a 5-level-paging host) or a leaf pointing at the
 * wrong host page cannot pass: each page names itself.
 */
#include "guest.h"

#define PAGES_START	0x200000UL
#define PAGES_MAGIC	0x6b71656d75706773UL

int main(unsigned long vcpu, unsigned long end, unsigned long nvcpus)
{
	unsigned long gpa, pages = 0, wrong = 0;

	for (gpa = PAGES_START; gpa < end; gpa += 4096) {
		volatile uint64_t *page = (volatile uint64_t *)gpa;

		if (page[0] != (PAGES_MAGIC ^ gpa)) {
			if (wrong++ < 4) {
				puts_serial("pages: at ");
				put_hex(gpa);
				puts_serial(" the guest reads ");
				put_hex(page[0]);
				puts_serial("\n");
			}
		}
		page[1] = ~gpa;
		pages++;
	}
	puts_serial("pages: the guest checked ");
	put_dec(pages);
	puts_serial(" pages, ");
	put_dec(wrong);
	puts_serial(" wrong\n");
	return wrong ? 1 : 0;
}
