// SPDX-License-Identifier: GPL-2.0
/*
 * String I/O: INS and OUTS through kqemu-run's test device (STRIO_DATA),
 * checked by the guest itself.  What the guest writes, the device hashes
 * (FNV-1a) and counts, and the guest compares with its own hash of the
 * same bytes in the order the port must see them; what it reads is the
 * device's pattern, which the guest computes too.  Every form the CPU
 * has: REP and not, 8/16/32-bit, across page boundaries and with an
 * element straddling one, DF set, a 32-bit address size in 64-bit mode,
 * a segment override, REP with RCX 0, the serial port, and #PF for a page
 * the guest's tables do not map or map read-only.
 *
 * --arg 1: REP OUTSB from memory no slot backs; --arg 2: REP INSB into the
 * read-only slot.  Both must end in kqemu-run's INTERNAL_ERROR line.
 */
#include "guest.h"

#define STRIO_DATA	0x540
#define STRIO_HASH	0x544
#define STRIO_OUT_COUNT	0x548
#define STRIO_IN_COUNT	0x54c
#define STRIO_RESET	0x550
#define STRIO_EXITS	0x554

#define PAGE		4096UL
/* The 2 MiB at DATA_BASE, remapped in 4 KiB pages for the #PF checks. */
#define PT_HOLE		5	/* not present */
#define PT_RO		6	/* read-only */

static uint8_t bufs[4][16384] __attribute__((aligned(4096)));
static uint64_t pt[512] __attribute__((aligned(4096)));
static uint64_t gdt[4] __attribute__((aligned(16)));
static struct idt_gate idt[32] __attribute__((aligned(16)));
static int failures;

/* Filled by pf_entry, the #PF handler. */
volatile uint64_t pf_count, pf_cr2, pf_error, pf_rip, pf_rdi, pf_rsi, pf_rcx, pf_resume;
void pf_entry(void);
asm(".text\n"
    "pf_entry:\n"
    "	mov %rdi, pf_rdi(%rip)\n"
    "	mov %rsi, pf_rsi(%rip)\n"
    "	mov %rcx, pf_rcx(%rip)\n"
    "	popq pf_error(%rip)\n"
    "	push %rax\n"
    "	mov 8(%rsp), %rax\n"
    "	mov %rax, pf_rip(%rip)\n"
    "	mov %cr2, %rax\n"
    "	mov %rax, pf_cr2(%rip)\n"
    "	incq pf_count(%rip)\n"
    "	mov pf_resume(%rip), %rax\n"
    "	mov %rax, 8(%rsp)\n"
    "	pop %rax\n"
    "	iretq\n");

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* Byte N of what STRIO_DATA gives: the same formula is in kqemu-run. */
static uint8_t pattern(uint32_t n)
{
	return n * 131 + (n >> 8) + 7;
}

static uint32_t fnv(uint32_t h, const uint8_t *p, unsigned long len, long step)
{
	for (; len; len--, p += step)
		h = (h ^ *p) * 16777619u;
	return h;
}

static void fail(const char *what, uint64_t got, uint64_t want)
{
	puts_serial("strio: FAIL: ");
	puts_serial(what);
	puts_serial(": got ");
	put_hex(got);
	puts_serial(", want ");
	put_hex(want);
	puts_serial("\n");
	failures++;
}

static void expect(const char *what, uint64_t got, uint64_t want)
{
	if (got != want)
		fail(what, got, want);
}

static void fill(uint8_t *p, unsigned long len, uint8_t seed)
{
	unsigned long i;

	for (i = 0; i < len; i++)
		p[i] = seed + i * 37 + (i >> 7);
}

/* A string instruction with its registers in and out. */
struct regs {
	uint64_t rsi, rdi, rcx;
};

#define STRING_OP(name, insn)						\
static void name(struct regs *r)					\
{									\
	asm volatile(insn						\
		     : "+S"(r->rsi), "+D"(r->rdi), "+c"(r->rcx)		\
		     : "d"(STRIO_DATA) : "memory");			\
}

STRING_OP(rep_outsb, "rep outsb")
STRING_OP(rep_outsw, "rep outsw")
STRING_OP(rep_outsl, "rep outsl")
STRING_OP(rep_insb, "rep insb")
STRING_OP(rep_insw, "rep insw")
STRING_OP(rep_insl, "rep insl")
STRING_OP(outsb, "outsb")
STRING_OP(outsw, "outsw")
STRING_OP(outsl, "outsl")
STRING_OP(insb, "insb")
STRING_OP(insw, "insw")
STRING_OP(insl, "insl")
STRING_OP(rep_outsb_down, "std; rep outsb; cld")
STRING_OP(rep_insw_down, "std; rep insw; cld")
STRING_OP(rep_outsl_down, "std; rep outsl; cld")
STRING_OP(rep_outsb_a32, "addr32 rep outsb")
STRING_OP(rep_insl_a32, "addr32 rep insl")
STRING_OP(rep_outsb_fs, "rep outsb %%fs:(%%rsi), %%dx")
STRING_OP(rep_outsb_gs_a32, "addr32 rep outsb %%gs:(%%esi), %%dx")

static void reset(void)
{
	outb(STRIO_RESET, 0);
}

/* The device saw LEN bytes whose hash is WANT. */
static void expect_out(const char *what, unsigned long len, uint32_t want)
{
	expect(what, inl(STRIO_OUT_COUNT), len);
	expect(what, inl(STRIO_HASH), want);
}

/* LEN bytes at P are the pattern's bytes from FIRST on. */
static void expect_pattern(const char *what, const uint8_t *p, unsigned long len,
			   uint32_t first)
{
	unsigned long i;

	for (i = 0; i < len; i++)
		if (p[i] != pattern(first + i)) {
			puts_serial("strio: at byte ");
			put_dec(i);
			puts_serial(":\n");
			fail(what, p[i], pattern(first + i));
			return;
		}
}

static void check_outs(void)
{
	uint8_t *b = bufs[0] + PAGE - 123;	/* across three pages */
	struct regs r;
	uint32_t exits;

	fill(bufs[0], sizeof(bufs[0]), 1);

	reset();
	r = (struct regs){ .rsi = (uint64_t)b, .rcx = 3000 };
	rep_outsb(&r);
	expect_out("rep outsb 3000", 3000, fnv(2166136261u, b, 3000, 1));
	expect("rep outsb: RSI", r.rsi, (uint64_t)b + 3000);
	expect("rep outsb: RCX", r.rcx, 0);
	exits = inl(STRIO_EXITS);
	/* In batches: more than one exit (at most 512 bytes each), far fewer than 3000. */
	if (exits < 6 || exits > 64)
		fail("rep outsb 3000: exits of the data port", exits, 8);

	reset();
	r = (struct regs){ .rsi = (uint64_t)b + 1, .rcx = 1500 };	/* words across pages */
	rep_outsw(&r);
	expect_out("rep outsw 1500", 3000, fnv(2166136261u, b + 1, 3000, 1));
	expect("rep outsw: RSI", r.rsi, (uint64_t)b + 3001);
	expect("rep outsw: RCX", r.rcx, 0);

	reset();
	r = (struct regs){ .rsi = (uint64_t)bufs[0] + 2 * PAGE - 2, .rcx = 1000 };
	rep_outsl(&r);	/* the first dword straddles a page boundary */
	expect_out("rep outsl 1000", 4000, fnv(2166136261u, bufs[0] + 2 * PAGE - 2, 4000, 1));
	expect("rep outsl: RSI", r.rsi, (uint64_t)bufs[0] + 2 * PAGE - 2 + 4000);

	reset();
	r = (struct regs){ .rsi = (uint64_t)b, .rcx = 0x1234 };
	outsb(&r);
	outsw(&r);
	outsl(&r);
	expect_out("outsb, outsw, outsl", 7, fnv(2166136261u, b, 7, 1));
	expect("outsb, outsw, outsl: RSI", r.rsi, (uint64_t)b + 7);
	expect("outsb, outsw, outsl: RCX untouched", r.rcx, 0x1234);

	/* DF: from the last element down, in the port's order. */
	reset();
	r = (struct regs){ .rsi = (uint64_t)b + 2999, .rcx = 3000 };
	rep_outsb_down(&r);
	expect_out("std; rep outsb 3000", 3000, fnv(2166136261u, b + 2999, 3000, -1));
	expect("std; rep outsb: RSI", r.rsi, (uint64_t)b - 1);
	expect("std; rep outsb: RCX", r.rcx, 0);

	reset();
	{
		uint8_t *last = bufs[0] + 3 * PAGE - 1;	/* straddles, then down */
		uint32_t h = 2166136261u;
		int i;

		r = (struct regs){ .rsi = (uint64_t)last, .rcx = 600 };
		rep_outsl_down(&r);
		for (i = 0; i < 600; i++)
			h = fnv(h, last - 4 * i, 4, 1);
		expect_out("std; rep outsl 600", 2400, h);
		expect("std; rep outsl: RSI", r.rsi, (uint64_t)last - 2400);
	}

	/* Address size 32: RSI's and RCX's upper halves are not used, and cleared. */
	reset();
	r = (struct regs){ .rsi = 0xabcd000000000000ULL | (uint64_t)b,
			   .rcx = 0x5555000000000000ULL | 1000 };
	rep_outsb_a32(&r);
	expect_out("addr32 rep outsb 1000", 1000, fnv(2166136261u, b, 1000, 1));
	expect("addr32 rep outsb: RSI", r.rsi, (uint32_t)((uint64_t)b + 1000));
	expect("addr32 rep outsb: RCX", r.rcx, 0);

	/* REP with RCX 0: nothing, not even an exit of the data port. */
	reset();
	r = (struct regs){ .rsi = (uint64_t)b, .rcx = 0 };
	rep_outsb(&r);
	expect_out("rep outsb, RCX 0", 0, 2166136261u);
	expect("rep outsb, RCX 0: exits", inl(STRIO_EXITS), 0);
	expect("rep outsb, RCX 0: RSI", r.rsi, (uint64_t)b);

	/* From the read-only slot: "ROM!" */
	reset();
	r = (struct regs){ .rsi = ROM_BASE, .rcx = 4 };
	rep_outsb(&r);
	expect_out("rep outsb from the read-only slot", 4,
		   fnv(2166136261u, (const uint8_t *)"ROM!", 4, 1));
}

static void check_ins(void)
{
	uint8_t *b = bufs[1] + PAGE - 77;
	struct regs r;
	unsigned long i;

	reset();
	for (i = 0; i < sizeof(bufs[1]); i++)
		bufs[1][i] = 0xcc;
	r = (struct regs){ .rdi = (uint64_t)b, .rcx = 3000 };
	rep_insb(&r);
	expect_pattern("rep insb 3000", b, 3000, 0);
	expect("rep insb: RDI", r.rdi, (uint64_t)b + 3000);
	expect("rep insb: RCX", r.rcx, 0);
	expect("rep insb: bytes read", inl(STRIO_IN_COUNT), 3000);
	expect("rep insb: the byte before untouched", b[-1], 0xcc);
	expect("rep insb: the byte after untouched", b[3000], 0xcc);

	reset();
	r = (struct regs){ .rdi = (uint64_t)b + 1, .rcx = 2000 };	/* a word straddles */
	rep_insw(&r);
	expect_pattern("rep insw 2000", b + 1, 4000, 0);
	expect("rep insw: RDI", r.rdi, (uint64_t)b + 4001);

	reset();
	r = (struct regs){ .rdi = (uint64_t)bufs[1] + 2 * PAGE - 3, .rcx = 1500 };
	rep_insl(&r);
	expect_pattern("rep insl 1500", bufs[1] + 2 * PAGE - 3, 6000, 0);
	expect("rep insl: RDI", r.rdi, (uint64_t)bufs[1] + 2 * PAGE - 3 + 6000);
	expect("rep insl: RCX", r.rcx, 0);

	reset();
	r = (struct regs){ .rdi = (uint64_t)b, .rcx = 0x4321 };
	insb(&r);
	insw(&r);
	insl(&r);
	expect_pattern("insb, insw, insl", b, 7, 0);
	expect("insb, insw, insl: RDI", r.rdi, (uint64_t)b + 7);
	expect("insb, insw, insl: RCX untouched", r.rcx, 0x4321);

	/* DF: word k of the stream at the k-th word down from the first. */
	reset();
	{
		uint8_t *top = bufs[2] + 2 * PAGE - 1;	/* straddles at the start */
		int k;

		r = (struct regs){ .rdi = (uint64_t)top, .rcx = 1000 };
		rep_insw_down(&r);
		for (k = 0; k < 1000; k++)
			if (top[-2 * k] != pattern(2 * k) || top[-2 * k + 1] != pattern(2 * k + 1)) {
				fail("std; rep insw 1000: the low byte of word k (got k)", k, 0);
				break;
			}
		expect("std; rep insw: RDI", r.rdi, (uint64_t)top - 2000);
		expect("std; rep insw: RCX", r.rcx, 0);
	}

	reset();
	r = (struct regs){ .rdi = 0x1234000000000000ULL | (uint64_t)bufs[3],
			   .rcx = 0xffffffff00000000ULL | 700 };
	rep_insl_a32(&r);
	expect_pattern("addr32 rep insl 700", bufs[3], 2800, 0);
	expect("addr32 rep insl: RDI", r.rdi, (uint32_t)((uint64_t)bufs[3] + 2800));
	expect("addr32 rep insl: RCX", r.rcx, 0);

	reset();
	bufs[3][0] = 0x5a;
	r = (struct regs){ .rdi = (uint64_t)bufs[3], .rcx = 0 };
	rep_insb(&r);
	expect("rep insb, RCX 0: memory untouched", bufs[3][0], 0x5a);
	expect("rep insb, RCX 0: nothing read", inl(STRIO_IN_COUNT), 0);
	expect("rep insb, RCX 0: RDI", r.rdi, (uint64_t)bufs[3]);
}

/*
 * A segment override: FS and GS from a descriptor whose base is BASE (in
 * 64-bit mode a segment load takes a 32-bit base from the GDT).
 */
static void check_override(void)
{
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) gdtr = {
		sizeof(gdt) - 1, (uint64_t)gdt
	};
	uint64_t base = (uint64_t)bufs[0] - 0x80000;
	uint8_t *b = bufs[0] + 500;
	struct regs r;

	gdt[0] = 0;
	gdt[1] = 0x00af9a000000ffffULL;		/* 64-bit code, as kqemu-run's */
	gdt[2] = 0x00cf92000000ffffULL;		/* data */
	gdt[3] = 0x00cf92000000ffffULL | ((base & 0xffffff) << 16) |
		 ((base >> 24) << 56);		/* data at BASE */
	asm volatile("lgdt %0; mov %1, %%fs; mov %1, %%gs" : : "m"(gdtr), "r"(0x18) : "memory");

	reset();
	r = (struct regs){ .rsi = (uint64_t)b - base, .rcx = 2500 };
	rep_outsb_fs(&r);
	expect_out("rep outsb %fs:(%rsi)", 2500, fnv(2166136261u, b, 2500, 1));
	expect("rep outsb %fs:(%rsi): RSI", r.rsi, (uint64_t)b - base + 2500);

	reset();
	r = (struct regs){ .rsi = 0xffffffff00000000ULL | ((uint64_t)b - base), .rcx = 100 };
	rep_outsb_gs_a32(&r);
	expect_out("addr32 rep outsb %gs:(%esi)", 100, fnv(2166136261u, b, 100, 1));

	asm volatile("mov %0, %%fs; mov %0, %%gs" : : "r"(0x10));
}

/* Remap DATA_BASE's 2 MiB in 4 KiB pages, one of them absent, one read-only. */
static void map_4k(void)
{
	uint64_t *pd = (uint64_t *)0x3000;	/* kqemu-run's first page directory */
	uint64_t cr3;
	int i;

	for (i = 0; i < 512; i++)
		pt[i] = (DATA_BASE + i * PAGE) | 3;
	pt[PT_HOLE] = 0;
	pt[PT_RO] &= ~2ULL;
	pd[DATA_BASE >> 21] = (uint64_t)pt | 3;
	asm volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
}

static void set_wp(int on)
{
	uint64_t cr0;

	asm volatile("mov %%cr0, %0" : "=r"(cr0));
	cr0 = on ? cr0 | (1UL << 16) : cr0 & ~(1UL << 16);
	asm volatile("mov %0, %%cr0" : : "r"(cr0) : "memory");
}

/* INS or OUTS (rep) at ADDR, COUNT bytes; returns where it faulted (0: it did not). */
static uint64_t faulting(int in, uint64_t addr, uint64_t count, struct regs *r)
{
	uint64_t at;

	pf_count = 0;
	*r = (struct regs){ .rsi = addr, .rdi = addr, .rcx = count };
	if (in)
		asm volatile("lea 1f(%%rip), %%rax; mov %%rax, pf_resume(%%rip)\n"
			     "lea 0f(%%rip), %0\n"
			     "0: rep insb\n1:"
			     : "=&r"(at), "+S"(r->rsi), "+D"(r->rdi), "+c"(r->rcx)
			     : "d"(STRIO_DATA) : "rax", "memory");
	else
		asm volatile("lea 1f(%%rip), %%rax; mov %%rax, pf_resume(%%rip)\n"
			     "lea 0f(%%rip), %0\n"
			     "0: rep outsb\n1:"
			     : "=&r"(at), "+S"(r->rsi), "+D"(r->rdi), "+c"(r->rcx)
			     : "d"(STRIO_DATA) : "rax", "memory");
	return pf_count ? at : 0;
}

static void check_faults(void)
{
	uint64_t hole = DATA_BASE + PT_HOLE * PAGE, ro = DATA_BASE + PT_RO * PAGE;
	uint64_t at;
	struct regs r;

	idt[14] = interrupt_gate(pf_entry);
	load_idt(idt, 32);
	map_4k();

	/* 100 bytes into the page before the hole, then #PF at the hole. */
	reset();
	at = faulting(1, hole - 100, 300, &r);
	expect("rep insb into an absent page: #PF taken", pf_count, 1);
	expect("rep insb into an absent page: #PF at the instruction", pf_rip, at);
	expect("rep insb into an absent page: CR2", pf_cr2, hole);
	expect("rep insb into an absent page: error code (write, not present)", pf_error, 2);
	expect("rep insb into an absent page: RDI at the fault", pf_rdi, hole);
	expect("rep insb into an absent page: RCX at the fault", pf_rcx, 200);
	expect_pattern("rep insb into an absent page: the bytes before it", (uint8_t *)hole - 100,
		       100, 0);
	/* As the CPU's own access would: accessed and dirty (the guest never wrote there itself). */
	expect("rep insb: A and D in the PTE of the page it wrote", pt[PT_HOLE - 1] & 0x60, 0x60);

	reset();
	at = faulting(0, hole + 10, 5, &r);
	expect("rep outsb from an absent page: #PF taken", pf_count, 1);
	expect("rep outsb from an absent page: CR2", pf_cr2, hole + 10);
	expect("rep outsb from an absent page: error code (read, not present)", pf_error, 0);
	expect("rep outsb from an absent page: nothing written", inl(STRIO_OUT_COUNT), 0);
	expect("rep outsb from an absent page: #PF at the instruction", pf_rip, at);

	/* A read-only page: written at CPL 0 without CR0.WP, #PF with it. */
	reset();
	faulting(1, ro, 64, &r);
	expect("rep insb into a read-only page, WP clear: no #PF", pf_count, 0);
	expect_pattern("rep insb into a read-only page, WP clear", (uint8_t *)ro, 64, 0);
	set_wp(1);
	reset();
	faulting(1, ro + 8, 64, &r);
	set_wp(0);
	expect("rep insb into a read-only page, WP set: #PF taken", pf_count, 1);
	expect("rep insb into a read-only page, WP set: CR2", pf_cr2, ro + 8);
	expect("rep insb into a read-only page, WP set: error code (write, present)", pf_error, 3);
	expect("rep insb into a read-only page, WP set: nothing read", inl(STRIO_IN_COUNT), 0);
	reset();
	faulting(0, DATA_BASE + 7 * PAGE, 16, &r);
	expect("rep outsb: A, and not D, in the PTE of the page it read", pt[7] & 0x60, 0x20);
	reset();
	faulting(0, ro, 16, &r);
	expect("rep outsb from a read-only page: no #PF", pf_count, 0);
	expect_out("rep outsb from a read-only page", 16, fnv(2166136261u, (uint8_t *)ro, 16, 1));
}

static void serial_outs(const char *s)
{
	struct regs r = { .rsi = (uint64_t)s, .rcx = 0 };

	while (s[r.rcx])
		r.rcx++;
	asm volatile("rep outsb" : "+S"(r.rsi), "+c"(r.rcx) : "d"(SERIAL_PORT) : "memory");
}

int main(unsigned long vcpu, unsigned long arg, unsigned long nvcpus)
{
	struct regs r;

	if (arg == 1) {
		puts_serial("strio: rep outsb from memory no slot backs\n");
		r = (struct regs){ .rsi = 0x3ffff000, .rcx = 16 };
		rep_outsb(&r);
		return 1;
	}
	if (arg == 2) {
		puts_serial("strio: rep insb into the read-only slot\n");
		r = (struct regs){ .rdi = ROM_BASE, .rcx = 16 };
		rep_insb(&r);
		return 1;
	}
	check_outs();
	check_ins();
	check_override();
	check_faults();
	serial_outs("strio: rep outsb to the serial port\n");
	if (failures) {
		puts_serial("strio: ");
		put_dec(failures);
		puts_serial(" checks failed\n");
		return 1;
	}
	puts_serial("strio: all checks passed\n");
	return 0;
}
