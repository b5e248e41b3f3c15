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
#include <signal.h>
#include <sys/mman.h>
#include <sys/time.h>

#include "vmtest.h"

#define MAX_FDS	16

static const unsigned long real_cmds[] = {
	KQEMU_GET_API_VERSION, KQEMU_CHECK_CAPABILITY, KQEMU_CREATE_VM,
	KQEMU_ADD_MEMORY_SLOT, KQEMU_DELETE_MEMORY_SLOT, KQEMU_CREATE_VCPU,
	KQEMU_GET_REGS, KQEMU_SET_REGS, KQEMU_GET_SREGS, KQEMU_SET_SREGS,
	KQEMU_RUN, KQEMU_INTERRUPT,
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
		return _IOC(rnd() % 4, KQEMUIO, rnd() % 0x30, rnd() % 512);
	default:
		return real_cmds[rnd() % (sizeof(real_cmds) / sizeof(real_cmds[0]))];
	}
}

static void on_alarm(int sig)
{
	(void)sig;	/* only to make a guest that spins return EINTR */
}

/* Guest code for the VMs the fuzzer makes: random bytes at guest address 0. */
static void give_memory(int vmfd, unsigned char *guest, size_t size)
{
	struct kqemu_memory_slot s = {
		.slot = 0, .size = size, .userspace_addr = (uintptr_t)guest,
	};
	size_t i;

	for (i = 0; i < size; i++)
		guest[i] = rnd();
	ioctl(vmfd, KQEMU_ADD_MEMORY_SLOT, &s);
}

int fuzz(long calls, unsigned int seed, const char *who)
{
	size_t guest_size = 64 * 1024;
	unsigned char *buf = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *guest = mmap(NULL, guest_size, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval tick = { { 0, 20000 }, { 0, 20000 } };
	int devfd = kqemu_open(), fds[MAX_FDS], nfds = 0, i;
	long n, created = 0, ok = 0, runs = 0;

	if (devfd < 0 || buf == MAP_FAILED || guest == MAP_FAILED) {
		printf("# fuzz as %s: cannot start: %s\n", who, strerror(errno));
		return 1;
	}
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &tick, NULL);
	rng_state = seed * 2654435761u + 1;
	for (n = 0; n < calls; n++) {
		unsigned long cmd = random_cmd();
		int fd = nfds && rnd() % 4 ? fds[rnd() % nfds] : devfd;
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
			if (cmd == KQEMU_CREATE_VCPU && rnd() % 2)
				*(uint64_t *)arg = rnd() % KQEMU_MAX_VCPUS;	/* id, no flags */
		}
		ret = ioctl(fd, cmd, arg);
		if (ret >= 0)
			ok++;
		if (cmd == KQEMU_RUN)
			runs++;
		if (ret > 2 && (cmd == KQEMU_CREATE_VM || cmd == KQEMU_CREATE_VCPU)) {
			created++;
			if (cmd == KQEMU_CREATE_VM && rnd() % 2)
				give_memory(ret, guest, guest_size);
			if (nfds < MAX_FDS)
				fds[nfds++] = ret;
			else
				close(ret);
		}
		if (nfds && rnd() % 1000 == 0)
			close(fds[--nfds]);
	}
	setitimer(ITIMER_REAL, &(struct itimerval){ 0 }, NULL);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	printf("# fuzz as %s: %ld calls, %ld succeeded, %ld RUNs, %ld VMs and vCPUs created\n",
	       who, calls, ok, runs, created);
	return 0;
}
