// SPDX-License-Identifier: GPL-2.0
/*
 * A 32-bit process on the 64-bit kernel: the structs have one layout for
 * both, so the same ioctls must work through compat_ioctl unchanged.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "vmtest.h"

int main(void)
{
	struct kqemu_capability cap = { .cap = KQEMU_CAP_MAX_MEMORY_SLOTS };
	struct kqemu_memory_slot s = { .slot = 3, .guest_phys_addr = 1 << 20,
				       .size = 8192 };
	struct kqemu_slot_id id = { .slot = 3 };
	void *mem = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int devfd, vmfd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	devfd = kqemu_open();
	expect_ok(devfd, "32-bit: open /dev/kqemu");
	report(ioctl(devfd, KQEMU_GET_API_VERSION) == KQEMU_API_VERSION,
	       "32-bit: KQEMU_GET_API_VERSION");
	report(ioctl(devfd, KQEMU_CHECK_CAPABILITY, &cap) == 0 &&
	       cap.value == KQEMU_MAX_MEMORY_SLOTS, "32-bit: CHECK_CAPABILITY");
	vmfd = create_vm(devfd);
	expect_ok(vmfd, "32-bit: CREATE_VM");
	s.userspace_addr = (uintptr_t)mem;
	expect_ok(ioctl(vmfd, KQEMU_ADD_MEMORY_SLOT, &s), "32-bit: ADD_MEMORY_SLOT");
	report(read_stat("mapped_bytes") == 0, "32-bit: the slot maps nothing until a guest touches it");
	expect_ok(ioctl(vmfd, KQEMU_DELETE_MEMORY_SLOT, &id), "32-bit: DELETE_MEMORY_SLOT");
	s.flags = 1u << 9;
	expect_errno(ioctl(vmfd, KQEMU_ADD_MEMORY_SLOT, &s), EINVAL,
		     "32-bit: ADD_MEMORY_SLOT with an unknown flag");
	return 0;
}
