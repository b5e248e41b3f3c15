// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's debug registers are its own and work as on a CPU:
 * 1. MOV to DR0-DR3, DR6 and DR7 and back gives what was written (with
 *    DR6's and DR7's fixed bits).
 * 2. A single step (RFLAGS.TF) raises #DB after one instruction, DR6.BS.
 * 3. A write watchpoint (DR1, DR7 L1 with RW 01) raises #DB right after the
 *    write, with DR6.B1.  Without it (--arg 1) only 1 and 2 are checked: a
 *    host whose SVM emulation never arms the breakpoints the VMCB's DR7
 *    enables (QEMU before 9.1) has no watchpoints for any hypervisor's
 *    guests, KVM's included, which the suite shows in the same boot.
 * 4. An execution breakpoint (DR2, L2 with RW 00) raises #DB before the
 *    instruction, with DR6.B2 (also only without --arg 1).
 * --arg 2 (or 3) leaves out what DR6 says: Bochs's SVM does not set DR6 for
 * a #DB the hypervisor intercepts, so that no guest there, KVM's
 * included, sees the bits; the #DBs themselves and where they hit are
 * still checked.
 * Exits 0 when all hold; prints each result.
 */
#include "guest.h"

static struct idt_gate idt[32];
static volatile unsigned long db_count, db_dr6, db_rip;
static volatile uint8_t watched;

void db_entry(void);
void db_handler(uint64_t *frame);
/*
 * The handler runs between any two instructions: every register the C
 * code may change is saved (a trap that came back with RAX changed once
 * made the breakpoint check compare the wrong address).
 */
asm(".text\n"
    "db_entry:\n"
    "	push %rax\n push %rcx\n push %rdx\n push %rsi\n push %rdi\n"
    "	push %r8\n push %r9\n push %r10\n push %r11\n"
    "	lea 72(%rsp), %rdi\n"
    "	call db_handler\n"
    "	pop %r11\n pop %r10\n pop %r9\n pop %r8\n"
    "	pop %rdi\n pop %rsi\n pop %rdx\n pop %rcx\n pop %rax\n"
    "	iretq\n");

/* FRAME: RIP, CS, RFLAGS, RSP, SS as the #DB pushed them. */
void db_handler(uint64_t *frame)
{
	uint64_t dr6;

	asm volatile("mov %%dr6, %0" : "=r"(dr6));
	db_dr6 = dr6;
	db_rip = frame[0];
	db_count++;
	frame[2] &= ~0x100ULL;			/* TF: one step only */
	frame[2] |= 1ULL << 16;			/* RF: go on past an execution breakpoint */
	asm volatile("mov %0, %%dr6" : : "r"(0xffff0ff0UL));
}

static int check(int ok, const char *what)
{
	puts_serial(ok ? "debug: ok: " : "debug: FAILED: ");
	puts_serial(what);
	puts_serial("\n");
	return !ok;
}

static void __attribute__((noinline)) breakpoint_target(void)
{
	asm volatile("nop");
}

int main(unsigned long vcpu, unsigned long arg, unsigned long nvcpus)
{
	uint64_t v0, v1, v6, v7;
	int bad = 0, dr6 = !(arg & 2);

	idt[1] = interrupt_gate(db_entry);
	load_idt(idt, 32);

	asm volatile("mov %0, %%dr0" : : "r"(0x1111000ULL));
	asm volatile("mov %0, %%dr3" : : "r"(0xffff800012345678ULL));
	asm volatile("mov %0, %%dr6" : : "r"(0ULL));
	asm volatile("mov %0, %%dr7" : : "r"(0x400ULL));
	asm volatile("mov %%dr0, %0" : "=r"(v0));
	asm volatile("mov %%dr3, %0" : "=r"(v1));
	asm volatile("mov %%dr6, %0" : "=r"(v6));
	asm volatile("mov %%dr7, %0" : "=r"(v7));
	bad += check(v0 == 0x1111000 && v1 == 0xffff800012345678ULL && v6 == 0xffff0ff0 &&
		     v7 == 0x400, "DR0, DR3, DR6 and DR7 read back what was written");

	asm volatile("pushfq; orq $0x100, (%%rsp); popfq; nop" : : : "memory", "cc");
	bad += check(db_count == 1 && (!dr6 || (db_dr6 & (1 << 14))),
		     dr6 ? "a single step raises #DB with DR6.BS" : "a single step raises #DB");

	if (!(arg & 1)) {
		asm volatile("mov %0, %%dr1" : : "r"((uint64_t)&watched));
		asm volatile("mov %0, %%dr7" : : "r"(0x400ULL | (1 << 2) | (1ULL << 20)));
		watched = 1;
		bad += check(db_count == 2 && (!dr6 || (db_dr6 & 2)),
			     dr6 ? "a write watchpoint raises #DB with DR6.B1" : "a write watchpoint raises #DB");
		asm volatile("mov %0, %%dr2" : : "r"((uint64_t)breakpoint_target));
		asm volatile("mov %0, %%dr7" : : "r"(0x400ULL | (1 << 4)));
		breakpoint_target();
		if (db_count != 3 || (dr6 && !(db_dr6 & 4)) || db_rip != (uint64_t)breakpoint_target) {
			puts_serial("debug: after the execution breakpoint: #DBs ");
			put_dec(db_count);
			puts_serial(", DR6 ");
			put_hex(db_dr6);
			puts_serial(", at ");
			put_hex(db_rip);
			puts_serial(", target ");
			put_hex((uint64_t)breakpoint_target);
			puts_serial("\n");
		}
		bad += check(db_count == 3 && (!dr6 || (db_dr6 & 4)) &&
			     db_rip == (uint64_t)breakpoint_target,
			     dr6 ? "an execution breakpoint raises #DB before the instruction, DR6.B2" :
				   "an execution breakpoint raises #DB before the instruction");
		asm volatile("mov %0, %%dr7" : : "r"(0x400ULL));
	}
	if (bad)
		guest_exit(1);
	puts_serial("debug: all checks passed\n");
	return 0;
}
