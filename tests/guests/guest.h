/* SPDX-License-Identifier: GPL-2.0 */
/* What the freestanding guests share: ports, the serial line, exit. */
#ifndef KQEMU_GUEST_H
#define KQEMU_GUEST_H

#include <stdint.h>

#define SERIAL_PORT	0x3f8
#define EXIT_PORT	0xf4
#define RESULT_PORT	0x500
#define MMIO_BASE	0xd0000000UL
#define ROM_BASE	0xe0000000UL
#define DATA_BASE	0x400000UL

static inline void outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	asm volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline void putc_serial(char c)
{
	while (!(inb(SERIAL_PORT + 5) & 0x20))
		;
	outb(SERIAL_PORT, c);
}

static inline void puts_serial(const char *s)
{
	while (*s)
		putc_serial(*s++);
}

static inline void put_hex(uint64_t v)
{
	int i;

	puts_serial("0x");
	for (i = 60; i >= 0; i -= 4)
		putc_serial("0123456789abcdef"[(v >> i) & 15]);
}

static inline void put_dec(unsigned long v)
{
	char buf[24];
	int i = 23;

	buf[i] = 0;
	do {
		buf[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	puts_serial(buf + i);
}

static inline void __attribute__((noreturn)) guest_exit(uint8_t code)
{
	outb(EXIT_PORT, code);
	for (;;)
		asm volatile("cli; hlt");
}

struct idt_gate {
	uint16_t offset_lo, selector;
	uint8_t ist, type;
	uint16_t offset_mid;
	uint32_t offset_hi, zero;
} __attribute__((packed));

/* A 64-bit interrupt gate to HANDLER in the code segment kqemu-run sets up. */
static inline struct idt_gate interrupt_gate(void (*handler)(void))
{
	uint64_t entry = (uint64_t)handler;

	return (struct idt_gate){
		.offset_lo = entry, .selector = 0x08, .type = 0x8e,
		.offset_mid = entry >> 16, .offset_hi = entry >> 32,
	};
}

static inline void load_idt(const struct idt_gate *idt, unsigned int entries)
{
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idtr = {
		entries * sizeof(*idt) - 1, (uint64_t)idt
	};

	asm volatile("lidt %0" : : "m"(idtr));
}

int main(unsigned long vcpu, unsigned long arg, unsigned long nvcpus);

#endif
