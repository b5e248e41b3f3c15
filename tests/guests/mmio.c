// SPDX-License-Identifier: GPL-2.0
/*
 * MMIO of every width and form: kqemu-run's device keeps what is written to
 * its registers, so every read must give back what was written.  Also reads
 * a read-only slot (plain memory) and writes to it (an MMIO exit).
 */
#include "guest.h"

static int failures;

static void check(const char *what, uint64_t got, uint64_t want)
{
	if (got == want)
		return;
	failures++;
	puts_serial("mmio guest: ");
	puts_serial(what);
	puts_serial(" got ");
	put_hex(got);
	puts_serial(" want ");
	put_hex(want);
	puts_serial("\n");
}

int main(unsigned long vcpu, unsigned long arg, unsigned long nvcpus)
{
	volatile uint64_t *r64 = (volatile uint64_t *)MMIO_BASE;
	volatile uint32_t *r32 = (volatile uint32_t *)(MMIO_BASE + 8);
	volatile uint16_t *r16 = (volatile uint16_t *)(MMIO_BASE + 16);
	volatile uint8_t *r8 = (volatile uint8_t *)(MMIO_BASE + 24);
	volatile uint32_t *rom = (volatile uint32_t *)ROM_BASE;
	uint64_t v;
	uint32_t zx;
	int64_t sx;

	*r64 = 0x1122334455667788ULL;
	check("64-bit", *r64, 0x1122334455667788ULL);
	*r32 = 0xdeadbeef;
	check("32-bit", *r32, 0xdeadbeef);
	*r16 = 0xbeef;
	check("16-bit", *r16, 0xbeef);
	*r8 = 0x5a;
	check("8-bit", *r8, 0x5a);
	/* An immediate store (C7 /0) and MOVZX / MOVSX loads. */
	asm volatile("movl $0x80000001, (%0)" : : "r"(r32) : "memory");
	check("immediate", *r32, 0x80000001);
	asm volatile("movzwl (%1), %0" : "=r"(zx) : "r"(r16));
	check("movzx", zx, 0xbeef);
	asm volatile("movsbq (%1), %0" : "=r"(sx) : "r"((volatile uint8_t *)r32 + 3));
	check("movsx", (uint64_t)sx, 0xffffffffffffff80ULL);
	/* AH: a byte register that needs no REX. */
	asm volatile("movb $0x42, %%ah; movb %%ah, (%1); movb (%1), %%ah; movzbl %%ah, %k0"
		     : "=&a"(v) : "r"(r8) : "memory");
	check("ah", v, 0x42);
	check("rom", *rom, 0x214d4f52);	/* "ROM!" */
	*rom = 0x12345678;		/* to a read-only slot: an MMIO write */
	check("rom after write", *rom, 0x214d4f52);
	puts_serial(failures ? "mmio: FAILED\n" : "mmio: all checks passed\n");
	return failures ? 1 : 0;
}
