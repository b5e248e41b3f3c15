// SPDX-License-Identifier: GPL-2.0
/*
 * Counts timer interrupts (vector 0x20) that kqemu-run injects, one per
 * HLT, and exits with 0 when it saw exactly the number asked for (--arg).
 * With --arg 0x10000+N it raises each one itself (port 0x510) with
 * interrupts off and turns them on later: kqemu-run must wait for the
 * interrupt window before it can inject.  With --arg 0x20000+N each
 * interrupt's handler runs for a long while (tens of milliseconds under
 * QEMU, many host timer ticks) and counts the interrupts that arrive while
 * it runs: with its IF clear there must be none.
 */
#include "guest.h"

static struct idt_gate idt[256] __attribute__((aligned(16)));
static volatile unsigned long ticks, spins, depth, nested;

void timer_entry(void);
asm(".text\n"
    "timer_entry:\n"
    "	lock incq ticks(%rip)\n"
    "	cmpq $0, spins(%rip)\n"
    "	je 2f\n"
    "	incq depth(%rip)\n"
    "	cmpq $1, depth(%rip)\n"
    "	je 1f\n"
    "	lock incq nested(%rip)\n"
    "1:	pushq %rcx\n"
    "	movq spins(%rip), %rcx\n"
    "3:	decq %rcx\n"
    "	jnz 3b\n"
    "	popq %rcx\n"
    "	decq depth(%rip)\n"
    "2:	iretq\n");

int main(unsigned long vcpu, unsigned long want, unsigned long nvcpus)
{
	idt[0x20] = interrupt_gate(timer_entry);
	load_idt(idt, 256);
	if (want & 0x20000) {
		want &= ~0x20000UL;
		spins = 20000000;
	}
	if (want & 0x10000) {
		want &= 0xffff;
		while (ticks < want) {
			unsigned long before = ticks;
			int i;

			outb(0x510, 1);
			for (i = 0; i < 100; i++)
				asm volatile("pause");
			/* Open the window until the interrupt has come. */
			while (ticks == before)
				asm volatile("sti; nop; cli" ::: "memory");
		}
	}
	while (ticks < want)
		asm volatile("sti; hlt; cli" ::: "memory");
	puts_serial("timer: counted ");
	put_dec(ticks);
	puts_serial(" interrupts\n");
	if (spins) {
		puts_serial("timer: ");
		put_dec(nested);
		puts_serial(" taken inside the handler\n");
	}
	return ticks == want && !nested ? 0 : 1;
}
