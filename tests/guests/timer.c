// SPDX-License-Identifier: GPL-2.0
/*
 * Counts timer interrupts (vector 0x20) that kqemu-run injects, one per
 * HLT, and exits with 0 when it saw exactly the number asked for (--arg).
 * With --arg 0x10000+N it raises each one itself (port 0x510) with
 * interrupts off and turns them on later: kqemu-run must wait for the
 * interrupt window before it can inject.
 */
#include "guest.h"

static struct idt_gate idt[256] __attribute__((aligned(16)));
static volatile unsigned long ticks;

void timer_entry(void);
asm(".text\n"
    "timer_entry:\n"
    "	lock incq ticks(%rip)\n"
    "	iretq\n");

int main(unsigned long vcpu, unsigned long want, unsigned long nvcpus)
{
	idt[0x20] = interrupt_gate(timer_entry);
	load_idt(idt, 256);
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
	return ticks == want ? 0 : 1;
}
