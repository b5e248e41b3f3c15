// SPDX-License-Identifier: GPL-2.0
/*
 * The structured fuzzer: it knows the ABI.  Threads of one process race
 * what a buggy or hostile VMM can race: runs of random guest code, slot
 * adds and deletes with valid, near-valid and overlapping values, munmap
 * of memory under live slots, vCPU and VM fds closed while in use, and fds
 * passed to another process (which must get EIO).  A second process flips
 * the access policy meanwhile.  Every call must come back; the kernel log
 * is the verdict.
 *
 * Usage: sfuzz CALLS SEED      (run as a kvm-users member)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "vmtest.h"

#define NTHREADS	4
#define GUEST_PAGES	32

static atomic_long calls_left;
static atomic_long calls_done, runs, slot_ok, errors_seen;
static atomic_int vmfd = -1;
static int devfd;
static int sock[2];

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static bool take_call(void)
{
	return atomic_fetch_sub(&calls_left, 1) > 0;
}

static long call(int fd, unsigned long cmd, void *arg)
{
	long ret = ioctl(fd, cmd, arg);

	atomic_fetch_add(&calls_done, 1);
	if (ret < 0)
		atomic_fetch_add(&errors_seen, 1);
	return ret;
}

/* Values at and around the limits. */
static uint64_t edgy(uint64_t *s)
{
	static const uint64_t edges[] = {
		0, 1, 4095, 4096, 4097, 1ULL << 20, KQEMU_MAX_GUEST_PHYS - 4096,
		KQEMU_MAX_GUEST_PHYS, KQEMU_MAX_SLOT_SIZE, KQEMU_MAX_SLOT_SIZE + 4096,
		~0ULL, ~0ULL - 4095, 1ULL << 47, 0xffff800000000000ULL,
	};

	return rnd(s) % 2 ? edges[rnd(s) % (sizeof(edges) / sizeof(edges[0]))] :
			    (rnd(s) % 64) * 4096;
}

static void *slot_thread(void *arg)
{
	uint64_t s = (uintptr_t)arg;

	while (take_call()) {
		int fd = atomic_load(&vmfd);
		uint8_t *mem = mmap(NULL, GUEST_PAGES * 4096, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		struct kqemu_memory_slot m = {
			.slot = rnd(&s) % (KQEMU_MAX_MEMORY_SLOTS + 2),
			.flags = rnd(&s) % 8 ? (rnd(&s) % 2) * KQEMU_MEM_READONLY : rnd(&s),
			.guest_phys_addr = rnd(&s) % 4 ? (rnd(&s) % 16) * 4096 : edgy(&s),
			.size = rnd(&s) % 4 ? (1 + rnd(&s) % GUEST_PAGES) * 4096 : edgy(&s),
			.userspace_addr = rnd(&s) % 8 ? (uintptr_t)mem : edgy(&s),
		};
		struct kqemu_slot_id id = { .slot = rnd(&s) % (KQEMU_MAX_MEMORY_SLOTS + 2) };
		size_t i;

		if (mem == MAP_FAILED)
			continue;
		if (m.size > GUEST_PAGES * 4096 && m.userspace_addr == (uintptr_t)mem)
			m.size = GUEST_PAGES * 4096;
		for (i = 0; i < GUEST_PAGES * 4096; i += 64)
			mem[i] = rnd(&s);
		if (rnd(&s) % 16 == 0)
			m.reserved[rnd(&s) % 4] = 1;
		if (call(fd, KQEMU_ADD_MEMORY_SLOT, &m) == 0)
			atomic_fetch_add(&slot_ok, 1);
		/* The slot holds its pages: unmapping them must not hurt. */
		munmap(mem, GUEST_PAGES * 4096);
		if (rnd(&s) % 2)
			call(fd, KQEMU_DELETE_MEMORY_SLOT, &id);
	}
	return NULL;
}

static void *vcpu_thread(void *arg)
{
	uint64_t s = (uintptr_t)arg;

	while (take_call()) {
		struct kqemu_create_vcpu c = { .id = rnd(&s) % KQEMU_MAX_VCPUS };
		int fd = call(atomic_load(&vmfd), KQEMU_CREATE_VCPU, &c), i;
		struct kqemu_run *run;

		if (fd < 0)
			continue;
		run = mmap(NULL, KQEMU_RUN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		for (i = 0; i < 8 && take_call(); i++) {
			struct kqemu_regs r = { .rip = edgy(&s) % 0x20000, .rflags = rnd(&s) };
			struct kqemu_sregs sr;
			struct kqemu_interrupt irq = { .vector = 32 + rnd(&s) % 224 };

			switch (rnd(&s) % 6) {
			case 0:
				call(fd, KQEMU_SET_REGS, &r);
				break;
			case 1:
				if (call(fd, KQEMU_GET_SREGS, &sr) == 0) {
					sr.cr0 ^= 1ULL << (rnd(&s) % 32);
					sr.cr4 ^= 1ULL << (rnd(&s) % 24);
					sr.efer ^= 1ULL << (rnd(&s) % 16);
					sr.cs.attrib ^= 1 << (rnd(&s) % 12);
					call(fd, KQEMU_SET_SREGS, &sr);
				}
				break;
			case 2:
				call(fd, KQEMU_INTERRUPT, &irq);
				break;
			default:
				if (run != MAP_FAILED)
					run->request_interrupt_window = rnd(&s) % 2;
				call(fd, KQEMU_RUN, NULL);
				atomic_fetch_add(&runs, 1);
			}
		}
		if (run != MAP_FAILED && rnd(&s) % 2)
			munmap(run, KQEMU_RUN_SIZE);
		close(fd);	/* while other threads may be using the VM */
	}
	return NULL;
}

/* Replace the VM under the other threads' feet, and pass fds away. */
static void *vm_thread(void *arg)
{
	uint64_t s = (uintptr_t)arg;

	while (take_call()) {
		int fresh = create_vm(devfd), old;

		atomic_fetch_add(&calls_done, 1);
		if (fresh < 0) {
			usleep(1000);
			continue;
		}
		old = atomic_exchange(&vmfd, fresh);
		if (rnd(&s) % 4 == 0) {
			char c = 0;
			struct iovec iov = { &c, 1 };
			char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
			struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
					      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
			struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &old, sizeof(int));
			sendmsg(sock[0], &msg, MSG_DONTWAIT);
		}
		/* Long enough for the others to use the VM, short enough to race. */
		usleep(5000 + rnd(&s) % 20000);
		close(old);
	}
	return NULL;
}

/* The other process: every VM fd it receives must answer EIO. */
static int receiver(void)
{
	long wrong = 0, got = 0;

	for (;;) {
		char c, cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { &c, 1 };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct kqemu_slot_id id = { 0 };
		int fd;

		if (recvmsg(sock[1], &msg, 0) <= 0)
			break;
		if (!CMSG_FIRSTHDR(&msg))
			continue;
		memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
		got++;
		if (!(ioctl(fd, KQEMU_DELETE_MEMORY_SLOT, &id) == -1 && errno == EIO))
			wrong++;
		close(fd);
	}
	printf("# sfuzz: another process got %ld VM fds, %ld answered other than EIO\n", got, wrong);
	return wrong ? 1 : 0;
}

static void on_alarm(int sig)
{
	(void)sig;	/* kicks spinning guests out of KQEMU_RUN */
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval tick = { { 0, 5000 }, { 0, 5000 } };
	pthread_t threads[NTHREADS];
	void *(*bodies[NTHREADS])(void *) = { slot_thread, vcpu_thread, vcpu_thread, vm_thread };
	uint64_t seed;
	int i, status;
	pid_t child;

	if (argc != 3) {
		fprintf(stderr, "usage: sfuzz CALLS SEED\n");
		return 2;
	}
	atomic_store(&calls_left, atol(argv[1]));
	seed = strtoull(argv[2], NULL, 0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	devfd = kqemu_open();
	if (devfd < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sock)) {
		printf("not ok - sfuzz cannot start: %s\n", strerror(errno));
		return 1;
	}
	atomic_store(&vmfd, create_vm(devfd));
	child = fork();
	if (child == 0) {
		close(sock[0]);
		_exit(receiver());
	}
	close(sock[1]);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &tick, NULL);
	for (i = 0; i < NTHREADS; i++)
		pthread_create(&threads[i], NULL, bodies[i], (void *)(uintptr_t)(seed * 7919 + i + 1));
	for (i = 0; i < NTHREADS; i++)
		pthread_join(threads[i], NULL);
	setitimer(ITIMER_REAL, &(struct itimerval){ 0 }, NULL);
	close(sock[0]);
	close(atomic_load(&vmfd));
	waitpid(child, &status, 0);
	printf("# sfuzz: %ld calls, %ld errors returned, %ld RUNs, %ld slots added\n",
	       atomic_load(&calls_done), atomic_load(&errors_seen), atomic_load(&runs),
	       atomic_load(&slot_ok));
	report(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "sfuzz: VM fds passed to another process answer EIO there");
	return 0;
}
