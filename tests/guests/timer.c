// SPDX-License-Identifier: GPL-2.0
/*
 * Counts timer interrupts (vector 0x20) that kqemu-run injects, one per
 * HLT, and exits with 0 when it saw exactly the number asked for (--arg).
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
	while (ticks < want)
		asm volatile("sti; hlt; cli" ::: "memory");
	puts_serial("timer: counted ");
	put_dec(ticks);
	puts_serial(" interrupts\n");
	return ticks == want ? 0 : 1;
}
