// SPDX-License-Identifier: GPL-2.0
/*
 * Counts timer interrupts (vector 0x20) that kqemu-run injects, one per
 * HLT, and exits with 0 when it saw exactly the number asked for (--arg).
 * With --arg 0x10000+N it raises each one itself (port 0x510) with
 * interrupts off and turns them on later: kqemu-run must wait for the
 * interrupt window before it can inject.
 */
#include "guest.h"

struct idt_gate {
	uint16_t offset_lo, selector;
	uint8_t ist, type;
	uint16_t offset_mid;
	uint32_t offset_hi, zero;
} __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(16)));
static volatile unsigned long ticks;

void timer_entry(void);
asm(".text\n"
    "timer_entry:\n"
    "	lock incq ticks(%rip)\n"
    "	iretq\n");

int main(unsigned long vcpu, unsigned long want, unsigned long nvcpus)
{
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idtr = {
		sizeof(idt) - 1, (uint64_t)idt
	};
	uint64_t entry = (uint64_t)timer_entry;

	idt[0x20] = (struct idt_gate){
		.offset_lo = entry, .selector = 0x08, .type = 0x8e,
		.offset_mid = entry >> 16, .offset_hi = entry >> 32,
	};
	asm volatile("lidt %0" : : "m"(idtr));
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
