// SPDX-License-Identifier: GPL-2.0
/*
 * Random ioctls on /dev/kqemu and on VM fds: random commands (fully random,
 * or our type with a random number, direction and size, or our real
 * commands), random buffers, random pointers.  It checks nothing but that
 * every call returns; the kernel log, read by the host, is the verdict.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "vmtest.h"

#define MAX_VMS	8

static const unsigned long real_cmds[] = {
	KQEMU_GET_API_VERSION, KQEMU_CHECK_CAPABILITY, KQEMU_CREATE_VM,
	KQEMU_ADD_MEMORY_SLOT, KQEMU_DELETE_MEMORY_SLOT,
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/*
 * The VFS answers some commands itself, before kqemu sees them: freezing the
 * file system behind the node ('X') would hang the VM, and chattr ('f') could
 * make the node immutable for the rest of the suite.
 */
static bool harmful(unsigned long cmd)
{
	return _IOC_TYPE(cmd) == 'X' || _IOC_TYPE(cmd) == 'f';
}

static unsigned long random_cmd(void)
{
	switch (rnd() % 3) {
	case 0:
		return (uint32_t)rnd();
	case 1:
		return _IOC(rnd() % 4, KQEMUIO, rnd() % 0x20, rnd() % 512);
	default:
		return real_cmds[rnd() % (sizeof(real_cmds) / sizeof(real_cmds[0]))];
	}
}

int fuzz(long calls, unsigned int seed, const char *who)
{
	unsigned char *buf = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int devfd = kqemu_open(), vms[MAX_VMS], nvms = 0, i;
	long n, created = 0, ok = 0;

	if (devfd < 0 || buf == MAP_FAILED) {
		printf("# fuzz as %s: cannot start: %s\n", who, strerror(errno));
		return 1;
	}
	rng_state = seed * 2654435761u + 1;
	for (n = 0; n < calls; n++) {
		unsigned long cmd = random_cmd();
		int fd = nvms && rnd() % 2 ? vms[rnd() % nvms] : devfd;
		void *arg;
		long ret;

		if (harmful(cmd))
			continue;
		for (i = 0; i < 64; i++)
			((uint64_t *)buf)[i] = rnd() % 4 ? rnd() % 0x10000 : rnd();
		switch (rnd() % 8) {
		case 0:
			arg = NULL;
			break;
		case 1:
			arg = (void *)(uintptr_t)rnd();
			break;
		case 2:
			arg = buf + 8192 - rnd() % 64;	/* runs off the mapping */
			break;
		default:
			arg = buf + (rnd() % 64) * 8;
		}
		ret = ioctl(fd, cmd, arg);
		if (ret >= 0)
			ok++;
		if (ret > 2 && cmd == KQEMU_CREATE_VM && fd == devfd) {
			created++;
			if (nvms < MAX_VMS)
				vms[nvms++] = ret;
			else
				close(ret);
		}
		if (nvms && rnd() % 1000 == 0)
			close(vms[--nvms]);
	}
	printf("# fuzz as %s: %ld calls, %ld succeeded, %ld VMs created\n", who,
	       calls, ok, created);
	return 0;
}
