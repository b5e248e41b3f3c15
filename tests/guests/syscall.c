// SPDX-License-Identifier: GPL-2.0
/*
 * SYSCALL and SYSRET as an operating system sets them up: the guest builds
 * its own GDT (kernel code and data, user data and 64-bit code), opens its
 * identity map to CPL 3, points STAR, LSTAR and SFMASK at its own entry,
 * drops to CPL 3 and makes --arg N system calls (default 10,000), each one
 * SYSCALL to CPL 0 and SYSRET back.  The entry checks that it runs at
 * CPL 0 with the flags SFMASK masks (IF, TF, DF, AC) clear, that RCX and
 * R11 hold the user's RIP and RFLAGS, and counts; user mode checks that it
 * came back at CPL 3 with its registers.  Exits 0 when all held.
 */
#include "guest.h"

#define MSR_EFER	0xc0000080
#define MSR_STAR	0xc0000081
#define MSR_LSTAR	0xc0000082
#define MSR_SFMASK	0xc0000084
#define PAGE_TABLES	0x1000UL	/* kqemu-run's identity map */

#define KCODE	0x08
#define KDATA	0x10
#define UDATA	0x18	/* SYSRET: SS = STAR[63:48] + 8, CS = + 16 */
#define UCODE	0x20

static uint64_t gdt[5] __attribute__((aligned(16))) = {
	0,
	0x00af9a000000ffffULL,	/* kernel code, 64-bit */
	0x00cf92000000ffffULL,	/* kernel data */
	0x00cff2000000ffffULL,	/* user data, DPL 3 */
	0x00affa000000ffffULL,	/* user code, 64-bit, DPL 3 */
};

static uint8_t kstack[4096] __attribute__((aligned(16)));
static uint8_t ustack[4096] __attribute__((aligned(16)));
volatile uint64_t calls, bad_entries, kstack_top;

/*
 * The kernel side: RCX is the user's RIP, R11 its RFLAGS.  CS must be
 * KCODE (CPL 0) and RFLAGS must have SFMASK's bits clear.
 */
void syscall_entry(void);
asm(".text\n"
    "syscall_entry:\n"
    "	mov %rsp, %r8\n"
    "	mov kstack_top(%rip), %rsp\n"
    "	cmp $1, %rax\n"			/* the last call: report, from CPL 0 */
    "	je finish\n"
    "	mov %cs, %rax\n"
    "	cmp $0x08, %rax\n"
    "	jne 1f\n"
    "	pushfq\n"
    "	pop %rax\n"
    "	test $0x40700, %rax\n"		/* TF, IF, DF, AC */
    "	jnz 1f\n"
    "	cmp %rcx, %r9\n"			/* the user put its return RIP in R9 */
    "	jne 1f\n"
    "	incq calls(%rip)\n"
    "	jmp 2f\n"
    "1:	incq bad_entries(%rip)\n"
    "2:	mov %r8, %rsp\n"
    "	sysretq\n");

/* User mode: N system calls, then back to CPL 0 the only way it can: an exit. */
void user_main(uint64_t n);
asm(".text\n"
    "user_main:\n"
    "	mov %rdi, %r12\n"
    "3:	xor %eax, %eax\n"
    "	lea 4f(%rip), %r9\n"
    "	pushfq\n"
    "	orq $0x600, (%rsp)\n"		/* IF, DF on: SFMASK must clear them */
    "	popfq\n"
    "	syscall\n"
    "4:	cld\n"
    "	mov %cs, %rax\n"
    "	and $3, %rax\n"
    "	cmp $3, %rax\n"
    "	jne 5f\n"
    "	dec %r12\n"
    "	jnz 3b\n"
    "	mov $1, %eax\n"			/* done: the reporting call */
    "	syscall\n"
    "5:	ud2\n");				/* not at CPL 3: a triple fault ends it */

static uint64_t wanted;

/* The last system call, on the kernel stack: the verdict. */
void __attribute__((noreturn)) finish(void)
{
	puts_serial("syscall: ");
	put_dec(calls);
	puts_serial(" SYSCALL/SYSRET round trips from CPL 3, ");
	put_dec(bad_entries);
	puts_serial(" entered wrong\n");
	guest_exit(calls == wanted && !bad_entries ? 0 : 1);
}

static void open_to_user(void)
{
	uint64_t *pml4 = (uint64_t *)PAGE_TABLES, *pdpt = (uint64_t *)(PAGE_TABLES + 0x1000);
	uint64_t *pd = (uint64_t *)(PAGE_TABLES + 0x2000);
	uint64_t cr3;
	int i;

	pml4[0] |= 4;
	pdpt[0] |= 4;
	for (i = 0; i < 512; i++)
		pd[i] |= 4;
	asm volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
}

int main(unsigned long vcpu, unsigned long arg, unsigned long nvcpus)
{
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) gdtr = {
		sizeof(gdt) - 1, (uint64_t)gdt
	};
	uint64_t n = arg ? arg : 10000;

	wanted = n;

	asm volatile("lgdt %0\n"
		     "mov %1, %%ds\n mov %1, %%es\n mov %1, %%ss\n"
		     "pushq $0x08\n lea 1f(%%rip), %%rax\n pushq %%rax\n lretq\n1:"
		     : : "m"(gdtr), "r"(KDATA) : "rax", "memory");
	open_to_user();
	kstack_top = (uint64_t)(kstack + sizeof(kstack));
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1);		/* SCE */
	wrmsr(MSR_STAR, ((uint64_t)UDATA - 8) << 48 | (uint64_t)KCODE << 32);
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(MSR_SFMASK, 0x40700);
	puts_serial("syscall: dropping to CPL 3\n");
	/* IRETQ to user_main at CPL 3: SS, RSP, RFLAGS, CS, RIP. */
	/* IOPL 3: user mode may not need it, but its PUSHF/POPF of IF may. */
	asm volatile("pushq %0\n pushq %1\n pushq $0x3002\n pushq %2\n pushq %3\n"
		     "mov %4, %%rdi\n iretq"
		     : : "r"((uint64_t)UDATA | 3), "r"((uint64_t)(ustack + sizeof(ustack))),
		       "r"((uint64_t)UCODE | 3), "r"((uint64_t)user_main), "r"(n)
		     : "rdi", "memory");
	return 1;	/* never reached */
}
