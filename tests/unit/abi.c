// SPDX-License-Identifier: GPL-2.0
/*
 * Layout test of include/uapi/linux/kqemu.h, the ABI between /dev/kqemu and
 * its users.  The expected sizes and offsets below were worked out by hand
 * from the header: every field is fixed-width and naturally aligned, so
 * there is no padding, and a 32-bit process sees what the 64-bit kernel
 * sees.  A change to any of them is an ABI break, not a test to update.
 *
 * The static_asserts stop the build; the same checks run again to print one
 * TAP-like line each, so that the -m64 and -m32 runs can be compared.
 */
#include <assert.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <linux/kqemu.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The old kqemu ABI (2005-2009) used ioctl type 'q', numbers 1 to 5. */
#define OLD_KQEMU_IOCTL_TYPE 'q'

static int checks, failures;

__attribute__((format(printf, 2, 3)))
static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	checks++;
	if (!ok)
		failures++;
	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* sizeof(struct), and a multiple of 8 so arrays match on -m32 too. */
#define SIZE(type, size) do {						\
	static_assert(sizeof(type) == (size), "sizeof(" #type ")");	\
	static_assert(sizeof(type) % 8 == 0, "sizeof(" #type ") % 8");	\
	check(sizeof(type) == (size) && sizeof(type) % 8 == 0,		\
	      "sizeof(" #type ") = %zu", sizeof(type));			\
} while (0)

/* Where a flexible array member starts. */
#define TAIL(type, member, off) do {					\
	static_assert(offsetof(type, member) == (off),			\
		      "offsetof(" #type ", " #member ")");		\
	check(offsetof(type, member) == (off),				\
	      "offsetof(" #type ", " #member ") = %zu",			\
	      offsetof(type, member));					\
} while (0)

/* A member's offset and size: type changes show even if sizeof does not. */
#define FIELD(type, member, off, size) do {				\
	static_assert(offsetof(type, member) == (off),			\
		      "offsetof(" #type ", " #member ")");		\
	static_assert(sizeof(((type *)0)->member) == (size),		\
		      "sizeof(" #type "." #member ")");			\
	check(offsetof(type, member) == (off) &&			\
	      sizeof(((type *)0)->member) == (size),			\
	      "offsetof(" #type ", " #member ") = %zu, size %zu",	\
	      offsetof(type, member), sizeof(((type *)0)->member));	\
} while (0)

static void check_layouts(void)
{
	SIZE(struct kqemu_capability, 32);
	FIELD(struct kqemu_capability, cap, 0, 4);
	FIELD(struct kqemu_capability, flags, 4, 4);
	FIELD(struct kqemu_capability, value, 8, 8);
	FIELD(struct kqemu_capability, reserved, 16, 16);

	SIZE(struct kqemu_create_vm, 32);
	FIELD(struct kqemu_create_vm, flags, 0, 4);
	FIELD(struct kqemu_create_vm, reserved, 4, 28);

	SIZE(struct kqemu_memory_slot, 64);
	FIELD(struct kqemu_memory_slot, slot, 0, 4);
	FIELD(struct kqemu_memory_slot, flags, 4, 4);
	FIELD(struct kqemu_memory_slot, guest_phys_addr, 8, 8);
	FIELD(struct kqemu_memory_slot, size, 16, 8);
	FIELD(struct kqemu_memory_slot, userspace_addr, 24, 8);
	FIELD(struct kqemu_memory_slot, reserved, 32, 32);

	SIZE(struct kqemu_slot_id, 32);
	FIELD(struct kqemu_slot_id, slot, 0, 4);
	FIELD(struct kqemu_slot_id, flags, 4, 4);
	FIELD(struct kqemu_slot_id, reserved, 8, 24);

	SIZE(struct kqemu_msr_index_list, 16);
	FIELD(struct kqemu_msr_index_list, nmsrs, 0, 4);
	TAIL(struct kqemu_msr_index_list, indices, 16);
	SIZE(struct kqemu_msr_entry, 16);
	FIELD(struct kqemu_msr_entry, data, 8, 8);
	SIZE(struct kqemu_msr_list, 16);
	TAIL(struct kqemu_msr_list, entries, 16);
	SIZE(struct kqemu_xsave, 64 + 4096);
	FIELD(struct kqemu_xsave, xcr0, 0, 8);
	FIELD(struct kqemu_xsave, size, 8, 4);
	FIELD(struct kqemu_xsave, region, 64, 4096);
	SIZE(struct kqemu_vcpu_events, 64);
	FIELD(struct kqemu_vcpu_events, exception, 0, 8);
	FIELD(struct kqemu_vcpu_events, interrupt, 8, 4);
	FIELD(struct kqemu_vcpu_events, nmi, 12, 4);
	FIELD(struct kqemu_vcpu_events, reinject, 16, 16);
	FIELD(struct kqemu_vcpu_events, flags, 32, 4);
	FIELD(struct kqemu_vcpu_events, reserved, 36, 28);
	FIELD(struct kqemu_run, request_nmi_window, 2, 1);
	SIZE(struct kqemu_cpuid_entry, 32);
	FIELD(struct kqemu_cpuid_entry, eax, 12, 4);
	FIELD(struct kqemu_cpuid_entry, padding, 28, 4);
	SIZE(struct kqemu_cpuid, 16);
	SIZE(struct kqemu_debugregs, 96);
	FIELD(struct kqemu_debugregs, dr7, 40, 8);
	FIELD(struct kqemu_debugregs, flags, 48, 4);
	TAIL(struct kqemu_cpuid, entries, 16);
}

struct ioctl_cmd {
	const char *name;
	unsigned int cmd;
	unsigned int dir;
	unsigned int nr;
	size_t size;		/* of the argument struct, 0 for none */
};

#define CMD(c, d, n, s) { #c, c, d, n, s }

static const struct ioctl_cmd cmds[] = {
	CMD(KQEMU_GET_API_VERSION, _IOC_NONE, 0x00, 0),
	CMD(KQEMU_CHECK_CAPABILITY, _IOC_READ | _IOC_WRITE, 0x01,
	    sizeof(struct kqemu_capability)),
	CMD(KQEMU_CREATE_VM, _IOC_WRITE, 0x02, sizeof(struct kqemu_create_vm)),
	CMD(KQEMU_ADD_MEMORY_SLOT, _IOC_WRITE, 0x10,
	    sizeof(struct kqemu_memory_slot)),
	CMD(KQEMU_DELETE_MEMORY_SLOT, _IOC_WRITE, 0x11,
	    sizeof(struct kqemu_slot_id)),
	CMD(KQEMU_GET_MSR_INDEX_LIST, _IOC_READ | _IOC_WRITE, 0x03,
	    sizeof(struct kqemu_msr_index_list)),
	CMD(KQEMU_GET_SUPPORTED_CPUID, _IOC_READ | _IOC_WRITE, 0x04, sizeof(struct kqemu_cpuid)),
	CMD(KQEMU_SET_CPUID, _IOC_WRITE, 0x2e, sizeof(struct kqemu_cpuid)),
	CMD(KQEMU_GET_DEBUGREGS, _IOC_READ, 0x2f, sizeof(struct kqemu_debugregs)),
	CMD(KQEMU_SET_DEBUGREGS, _IOC_WRITE, 0x30, sizeof(struct kqemu_debugregs)),
	CMD(KQEMU_CREATE_VCPU, _IOC_WRITE, 0x20, sizeof(struct kqemu_create_vcpu)),
	CMD(KQEMU_GET_REGS, _IOC_READ, 0x21, sizeof(struct kqemu_regs)),
	CMD(KQEMU_SET_REGS, _IOC_WRITE, 0x22, sizeof(struct kqemu_regs)),
	CMD(KQEMU_GET_SREGS, _IOC_READ, 0x23, sizeof(struct kqemu_sregs)),
	CMD(KQEMU_SET_SREGS, _IOC_WRITE, 0x24, sizeof(struct kqemu_sregs)),
	CMD(KQEMU_RUN, _IOC_NONE, 0x25, 0),
	CMD(KQEMU_INTERRUPT, _IOC_WRITE, 0x26, sizeof(struct kqemu_interrupt)),
	CMD(KQEMU_GET_MSRS, _IOC_READ | _IOC_WRITE, 0x27, sizeof(struct kqemu_msr_list)),
	CMD(KQEMU_SET_MSRS, _IOC_WRITE, 0x28, sizeof(struct kqemu_msr_list)),
	CMD(KQEMU_GET_XSAVE, _IOC_READ, 0x29, sizeof(struct kqemu_xsave)),
	CMD(KQEMU_SET_XSAVE, _IOC_WRITE, 0x2a, sizeof(struct kqemu_xsave)),
	CMD(KQEMU_NMI, _IOC_NONE, 0x2b, 0),
	CMD(KQEMU_GET_VCPU_EVENTS, _IOC_READ, 0x2c, sizeof(struct kqemu_vcpu_events)),
	CMD(KQEMU_SET_VCPU_EVENTS, _IOC_WRITE, 0x2d, sizeof(struct kqemu_vcpu_events)),
};

static void check_ioctls(void)
{
	size_t i, j;

	check(KQEMUIO == 0xEB, "KQEMUIO = 0x%X", KQEMUIO);
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		const struct ioctl_cmd *c = &cmds[i];
		int unique = 1;

		check(_IOC_TYPE(c->cmd) == 0xEB, "%s = 0x%08x: type 0x%X",
		      c->name, c->cmd, _IOC_TYPE(c->cmd));
		check(_IOC_DIR(c->cmd) == c->dir, "%s: direction %u",
		      c->name, _IOC_DIR(c->cmd));
		check(_IOC_NR(c->cmd) == c->nr, "%s: number 0x%02x",
		      c->name, _IOC_NR(c->cmd));
		check(_IOC_SIZE(c->cmd) == c->size, "%s: size %u",
		      c->name, _IOC_SIZE(c->cmd));
		/* The old clients must hit ENOTTY, never one of these. */
		check(_IOC_TYPE(c->cmd) != OLD_KQEMU_IOCTL_TYPE,
		      "%s: not the old kqemu ABI's type 'q'", c->name);
		for (j = 0; j < ARRAY_SIZE(cmds); j++)
			if (j != i && cmds[j].cmd == c->cmd)
				unique = 0;
		check(unique, "%s: no other command has its number", c->name);
	}
}

int main(void)
{
	check_layouts();
	check_ioctls();
	printf("1..%d\n", checks);
	if (failures)
		printf("# %d of %d checks failed\n", failures, checks);
	return failures ? 1 : 0;
}
