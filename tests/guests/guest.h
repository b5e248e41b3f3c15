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

int main(unsigned long vcpu, unsigned long arg, unsigned long nvcpus);

#endif
