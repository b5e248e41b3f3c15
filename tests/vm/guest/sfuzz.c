// SPDX-License-Identifier: GPL-2.0
/*
 * The structured fuzzer: it knows the ABI.
 *
 * sfuzz CALLS SEED: worker processes, each with threads that race what a
 * buggy or hostile VMM can race, until CALLS ioctls have been made in all:
 *   - the VM thread replaces the shared VM under the others' feet, passes
 *     old VM fds to another process (which must get EIO), and makes the
 *     device-level calls (capabilities, CREATE_VM with bad fields);
 *   - the slot thread keeps a model of the VM's slots: mostly valid adds
 *     and deletes, plus near-valid ones (overlaps, used numbers, sizes and
 *     addresses off by one page or one byte, at the limits, read-only
 *     memory for a writable slot, unmapped memory), and it unmaps and
 *     replaces the memory under live slots;
 *   - two vCPU threads create vCPUs, map their run areas and run tiny
 *     real-mode guests that exit at once (every exit kind: IO, MMIO, HLT,
 *     CPUID, MSR, interrupt windows, shutdown, internal errors, failed
 *     entries after mutated sregs), answering each exit; a timer of their
 *     own kicks a spinning guest out.  One vCPU fd at a time is up for
 *     grabs: another thread may close it while its owner runs it.
 * Every call also has a small chance of a bogus pointer.  Calls that must
 * fail whatever the state (EINVAL class) are counted when they succeed.
 * The counts go out as "# sfuzz: key=value ..." for suite-debug.sh.
 *
 * sfuzz --faults: the fault-injection sweep.  For each step of a guest's
 * life (open, VM, slots, vCPU, mmap, registers, runs, delete), fail the
 * 1st, 2nd, 3rd... fault point inside that one call (fail-nth: slab, page
 * allocator, user copies) until the call has no more.  An injected call
 * must succeed or fail with ENOMEM/EFAULT; the same call without injection
 * must then succeed and the guest must run to its HLT; closing everything
 * must leave nothing (vms, vcpus, mapped bytes).
 *
 * Run as a kvm-users member.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/membarrier.h>
#include <linux/rtc.h>

#include "vmtest.h"

#define WORKERS		2
#define ARENA_PAGES	64
#define RO_PAGES	8
#define PAGE		4096UL
#define MMIO_SEG	0xf000		/* real-mode segment no slot reaches */
#define MAX_GPA_PAGE	48		/* slots live in guest pages 0..47 */

/* Shared by every worker process (MAP_SHARED), hence plain atomics. */
struct counts {
	atomic_long budget;		/* calls still to make */
	atomic_long calls, errors, bogus;
	atomic_long runs, run_ok, run_eintr, exits[KQEMU_EXIT_INTR + 1];
	atomic_long vms, vcpus, vcpu_edquot;
	atomic_long slot_add, slot_add_ok, slot_del_ok, slot_bad_ok;
	atomic_long arena_swaps, stolen_closes, passed, sregs_set;
	atomic_long arena_madvise, arena_mprotect, arena_forks;
	atomic_long runs_on_stolen;	/* RUNs whose fd another thread took */
	atomic_long eio_got, eio_wrong;
	atomic_long run_max_us;		/* the longest RUN, kick included */
	atomic_long run_max_at;		/* when it ended, seconds into the run */
	/* The hardware exit codes behind KQEMU_EXIT_UNKNOWN, first come first kept. */
	atomic_ulong unknown_code[8];
	atomic_long unknown_n[8];
	/* The first of them in full, and where its guest was. */
	atomic_bool unknown_seen;
	uint64_t unknown_info1, unknown_info2, unknown_rip, unknown_cr0, unknown_efer;
};

static struct counts *cnt;
static atomic_int vmfd = -1, vm_gen;
/*
 * A vCPU fd that any thread may close under its owner.  The owner must know:
 * the fd's number may be reused at once (by another thread's vCPU, say), and
 * what its own run area holds then is not what the RUN it made returned.
 */
struct stealable {
	int fd;
	atomic_bool taken;	/* set before the thief closes fd */
};
static _Atomic(struct stealable *) victim;
static atomic_bool stop;
static int devfd, sock_tx;
static uint8_t *guard;			/* RW page, then PROT_NONE page */
static uint8_t *ro_page;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static bool chance(uint64_t *s, unsigned int one_in)
{
	return rnd(s) % one_in == 0;
}

/* One real ioctl out of the budget; none once it is spent. */
static long call(int fd, unsigned long cmd, void *arg)
{
	long ret;

	if (atomic_fetch_sub(&cnt->budget, 1) <= 0) {
		atomic_store(&stop, true);
		errno = ECANCELED;
		return -1;
	}
	ret = ioctl(fd, cmd, arg);
	atomic_fetch_add(&cnt->calls, 1);
	if (ret < 0)
		atomic_fetch_add(&cnt->errors, 1);
	return ret;
}

/* Where a struct argument must not be readable or writable. */
static void *bogus_ptr(uint64_t *s, size_t size)
{
	switch (rnd(s) % 6) {
	case 0:
		return NULL;
	case 1:
		return (void *)1;
	case 2:
		return (void *)0xffff888000000000ULL;	/* the direct map */
	case 3:
		return guard + PAGE;			/* PROT_NONE */
	case 4:
		return guard + PAGE - size / 2;		/* straddles into it */
	default:
		return ro_page;				/* read-only (for outputs) */
	}
}

/* Maybe swap a struct argument for a bogus pointer. */
static void *arg(uint64_t *s, void *good, size_t size)
{
	if (!chance(s, 40))
		return good;
	atomic_fetch_add(&cnt->bogus, 1);
	return bogus_ptr(s, size);
}

/*
 * The guest page: a real-mode IVT whose every vector goes to a stub that
 * does OUT 0x80 and IRET, and snippets that each exit within a few
 * instructions, forever (every RUN comes back fast).
 */
static const struct snippet {
	uint16_t at;
	uint8_t len;
	uint8_t code[15];
} snippets[] = {
	{ 0x500, 5, { 0xe6, 0x10, 0xf4, 0xeb, 0xfb } },	/* out 0x10,al; hlt; loop */
	{ 0x510, 3, { 0xec, 0xeb, 0xfd } },			/* in al,dx; loop */
	{ 0x520, 4, { 0x0f, 0xa2, 0xeb, 0xfc } },		/* cpuid; loop */
	{ 0x530, 6, { 0x0f, 0x32, 0x0f, 0x30, 0xeb, 0xfa } },	/* rdmsr; wrmsr; loop */
	/* mov ax,MMIO_SEG; mov ds,ax; mov [0x10],al; loop to the store */
	{ 0x540, 11, { 0xb8, 0x00, 0xf0, 0x8e, 0xd8, 0x88, 0x06, 0x10, 0x00, 0xeb, 0xfa } },
	/* the same with a load: mov al,[0x10] */
	{ 0x550, 11, { 0xb8, 0x00, 0xf0, 0x8e, 0xd8, 0x8a, 0x06, 0x10, 0x00, 0xeb, 0xfa } },
	{ 0x560, 4, { 0xfb, 0xf4, 0xeb, 0xfc } },		/* sti; hlt; loop */
	{ 0x570, 4, { 0xfa, 0xf4, 0xeb, 0xfc } },		/* cli; hlt; loop */
	{ 0x580, 4, { 0x0f, 0x0b, 0xeb, 0xfc } },		/* ud2 (to the stub) */
	{ 0x590, 3, { 0xcc, 0xeb, 0xfd } },			/* int3; loop */
	/* lidt [0x4f0] (limit 0), int3: #GP, #DF, triple fault */
	{ 0x5a0, 6, { 0x0f, 0x01, 0x1e, 0xf0, 0x04, 0xcc } },
	{ 0x5b0, 5, { 0xea, 0x00, 0x00, 0x00, 0xf0 } },	/* jmp far into unbacked memory */
	{ 0x5c0, 3, { 0x6e, 0xeb, 0xfd } },			/* outsb: string I/O */
	/*
	 * String I/O from and to wherever the random SI, DI and CX lead:
	 * slots, read-only slots, unbacked memory, across the 64 KiB wrap.
	 */
	{ 0x5e0, 4, { 0xf3, 0x6d, 0xeb, 0xfc } },		/* rep insw; loop */
	{ 0x5f0, 6, { 0xfd, 0x66, 0xf3, 0x6f, 0xeb, 0xfa } },	/* std; rep outsd; loop */
	{ 0x600, 5, { 0x67, 0xf3, 0x6e, 0xeb, 0xfb } },	/* addr32 rep outsb; loop */
	/* mov ax,MMIO_SEG; mov es,ax; rep insb into unbacked memory; loop to it */
	{ 0x610, 9, { 0xb8, 0x00, 0xf0, 0x8e, 0xc0, 0xf3, 0x6c, 0xeb, 0xfc } },
	/* MMIO read-modify-write: or [0x10],al; loop to it (a read exit, then a write) */
	{ 0x620, 11, { 0xb8, 0x00, 0xf0, 0x8e, 0xd8, 0x08, 0x06, 0x10, 0x00, 0xeb, 0xfa } },
	/* xchg [0x10],al; loop */
	{ 0x630, 11, { 0xb8, 0x00, 0xf0, 0x8e, 0xd8, 0x86, 0x06, 0x10, 0x00, 0xeb, 0xfa } },
	/* mov ax,MMIO_SEG; mov es,ax; mov cx,4; rep stosb; loop to the mov cx */
	{ 0x640, 12, { 0xb8, 0x00, 0xf0, 0x8e, 0xc0, 0xb9, 0x04, 0x00, 0xf3, 0xaa, 0xeb, 0xf9 } },
	/* ds = es = MMIO_SEG; mov cx,2; rep movsw (MMIO to MMIO); loop to the mov cx */
	{ 0x650, 14, { 0xb8, 0x00, 0xf0, 0x8e, 0xd8, 0x8e, 0xc0, 0xb9, 0x02, 0x00, 0xf3, 0xa5,
		       0xeb, 0xf9 } },
	/* bts [0x10],ax: not decoded, an emulation error with its bytes; loop */
	{ 0x660, 12, { 0xb8, 0x00, 0xf0, 0x8e, 0xd8, 0x0f, 0xab, 0x06, 0x10, 0x00, 0xeb, 0xf9 } },
	{ 0x5d0, 2, { 0xeb, 0xfe } },				/* spin (the kick ends it) */
};
#define NSNIPPETS	(sizeof(snippets) / sizeof(snippets[0]))
#define STACK_TOP	0xff0

static void write_guest_page(uint8_t *p)
{
	size_t i;

	memset(p, 0, PAGE);
	for (i = 0; i < 256; i++) {
		p[i * 4] = 0x00;	/* offset 0x0400, segment 0 */
		p[i * 4 + 1] = 0x04;
	}
	p[0x400] = 0xe6;	/* out 0x80,al */
	p[0x401] = 0x80;
	p[0x402] = 0xcf;	/* iret */
	for (i = 0; i < NSNIPPETS; i++)
		memcpy(p + snippets[i].at, snippets[i].code, snippets[i].len);
}

/* Guest memory: mostly guest pages, some random bytes. */
static uint8_t *new_arena(uint64_t *s)
{
	uint8_t *a = mmap(NULL, ARENA_PAGES * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i, j;

	if (a == MAP_FAILED)
		return NULL;
	for (i = 0; i < ARENA_PAGES; i++) {
		if (i && chance(s, 8))
			for (j = 0; j < PAGE; j += 8)
				*(uint64_t *)(a + i * PAGE + j) = rnd(s);
		else
			write_guest_page(a + i * PAGE);
	}
	return a;
}

/* --- the VM thread ------------------------------------------------------ */

static void pass_fd(int fd)
{
	char c = 0, cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { &c, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sock_tx, &msg, MSG_DONTWAIT) == 1)
		atomic_fetch_add(&cnt->passed, 1);
}

static void device_calls(uint64_t *s)
{
	struct kqemu_capability cap = { .cap = rnd(s) % 16 };
	struct kqemu_create_vm bad = { 0 };
	int fd;

	if (chance(s, 8))
		cap.flags = 1 << (rnd(s) % 32);
	else if (chance(s, 8))
		cap.reserved[rnd(s) % 2] = rnd(s) | 1;
	call(devfd, KQEMU_CHECK_CAPABILITY, arg(s, &cap, sizeof(cap)));
	if (chance(s, 4))
		call(devfd, KQEMU_GET_API_VERSION, NULL);
	if (chance(s, 4)) {
		if (chance(s, 2))
			bad.flags = 1 << (rnd(s) % 32);
		else
			bad.reserved[rnd(s) % 7] = 1;
		fd = call(devfd, KQEMU_CREATE_VM, &bad);
		if (fd >= 0) {
			atomic_fetch_add(&cnt->slot_bad_ok, 1);	/* must not happen */
			close(fd);
		}
	}
	if (chance(s, 8))	/* unknown numbers, the old ABI among them */
		call(devfd, chance(s, 2) ? _IO('q', 1 + rnd(s) % 5) :
					  _IO(KQEMUIO, 0x30 + rnd(s) % 16), NULL);
}

static void *vm_thread(void *argp)
{
	uint64_t s = (uintptr_t)argp;

	while (!atomic_load(&stop)) {
		struct kqemu_create_vm c = { 0 };
		int fresh = call(devfd, KQEMU_CREATE_VM, &c), old, i, fd;

		if (fresh >= 0) {
			atomic_fetch_add(&cnt->vms, 1);
			old = atomic_exchange(&vmfd, fresh);
			atomic_fetch_add(&vm_gen, 1);
			if (chance(&s, 3))
				pass_fd(old);
			close(old);	/* while the others may be using it */
		}
		/* The VM lives for a while; meanwhile, device calls and theft. */
		for (i = 0; i < 40 && !atomic_load(&stop); i++) {
			if (chance(&s, 3))
				device_calls(&s);
			if (chance(&s, 6)) {
				struct stealable *v = atomic_exchange(&victim, NULL);

				if (v) {
					fd = v->fd;
					/* Not v's after this: its owner may be gone. */
					atomic_store(&v->taken, true);
					close(fd);	/* its owner may be in RUN */
					atomic_fetch_add(&cnt->stolen_closes, 1);
				}
			}
			usleep(2000 + rnd(&s) % 8000);
		}
	}
	return NULL;
}

/* --- the slot thread ---------------------------------------------------- */

struct slot_model {
	bool used;
	uint64_t gpa_page, pages;
};

static bool gpa_free(const struct slot_model *m, uint64_t p, uint64_t n)
{
	int i;

	for (i = 0; i < KQEMU_MAX_MEMORY_SLOTS; i++)
		if (m[i].used && p < m[i].gpa_page + m[i].pages && m[i].gpa_page < p + n)
			return false;
	return true;
}

static int pick_slot(uint64_t *s, const struct slot_model *m, bool used)
{
	int i, start = rnd(s) % KQEMU_MAX_MEMORY_SLOTS;

	for (i = 0; i < KQEMU_MAX_MEMORY_SLOTS; i++) {
		int n = (start + i) % KQEMU_MAX_MEMORY_SLOTS;

		if (m[n].used == used)
			return n;
	}
	return -1;
}

/* Break one thing that slot_validate() must refuse whatever the state. */
static void make_invalid(uint64_t *s, struct kqemu_memory_slot *ms)
{
	switch (rnd(s) % 11) {
	case 0:
		ms->slot = KQEMU_MAX_MEMORY_SLOTS + rnd(s) % 3;
		break;
	case 1:
		ms->slot = ~0U - rnd(s) % 2;
		break;
	case 2:
		ms->size = 0;
		break;
	case 3:
		ms->size += 1 + rnd(s) % (PAGE - 1);
		break;
	case 4:
		ms->guest_phys_addr += 1 + rnd(s) % (PAGE - 1);
		break;
	case 5:
		ms->userspace_addr += 1 + rnd(s) % (PAGE - 1);
		break;
	case 6:	/* ends one page past the guest-physical limit */
		ms->guest_phys_addr = KQEMU_MAX_GUEST_PHYS - ms->size + PAGE;
		break;
	case 7:
		ms->guest_phys_addr = KQEMU_MAX_GUEST_PHYS;
		break;
	case 8:
		ms->size = KQEMU_MAX_SLOT_SIZE + PAGE;
		break;
	case 9:
		ms->flags |= 2U << (rnd(s) % 31);
		break;
	default:
		ms->reserved[rnd(s) % 4] = 1;
	}
}

/* Near-valid ones that may or may not work: the kernel decides. */
static void make_edgy(uint64_t *s, struct kqemu_memory_slot *ms, int used,
		      const struct slot_model *m, uint8_t *ro)
{
	switch (rnd(s) % 8) {
	case 0:	/* a slot number in use */
		if (used >= 0)
			ms->slot = used;
		break;
	case 1:	/* overlapping a live slot by one page */
		if (used >= 0)
			ms->guest_phys_addr = (m[used].gpa_page + m[used].pages - 1) * PAGE;
		break;
	case 2:	/* writable slot on read-only memory: EFAULT */
		ms->userspace_addr = (uintptr_t)ro;
		ms->size = PAGE * (1 + rnd(s) % RO_PAGES);
		break;
	case 3:	/* read-only slot on read-only memory */
		ms->userspace_addr = (uintptr_t)ro;
		ms->size = PAGE * (1 + rnd(s) % RO_PAGES);
		ms->flags = KQEMU_MEM_READONLY;
		break;
	case 4:	/* runs into the PROT_NONE page */
		ms->userspace_addr = (uintptr_t)guard;
		ms->size = 2 * PAGE;
		break;
	case 5:	/* a kernel address, page-aligned */
		ms->userspace_addr = 0xffff888000000000ULL;
		break;
	case 6:	/* the last page below the guest-physical limit */
		ms->guest_phys_addr = KQEMU_MAX_GUEST_PHYS - ms->size;
		break;
	default:	/* larger than the memory behind it (and the rlimit) */
		ms->size = PAGE << (10 + rnd(s) % 6);
	}
}

static void *slot_thread(void *argp)
{
	uint64_t s = (uintptr_t)argp;
	struct slot_model m[KQEMU_MAX_MEMORY_SLOTS] = { 0 };
	uint8_t *arena = new_arena(&s), *ro;
	int gen = -1;

	ro = mmap(NULL, RO_PAGES * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!arena || ro == MAP_FAILED) {
		atomic_store(&stop, true);
		return NULL;
	}
	while (!atomic_load(&stop)) {
		int fd = atomic_load(&vmfd), g = atomic_load(&vm_gen);
		unsigned int op = rnd(&s) % 100;
		int n, used = pick_slot(&s, m, true);

		/* Page 0 holds the code: delete it less often than the others. */
		if (used >= 0 && m[used].gpa_page == 0 && !chance(&s, 4))
			used = pick_slot(&s, m, true);
		/* Slot calls cost more than most: leave time to the runners. */
		usleep(500);

		if (g != gen) {		/* a new VM: no slots yet */
			memset(m, 0, sizeof(m));
			gen = g;
			used = -1;
		}
		if (op < 45 || used < 0) {
			/* Valid: a free number, free guest pages, the arena. */
			uint64_t pages = 1 + rnd(&s) % 8, gp, up;
			struct kqemu_memory_slot ms = { 0 };

			n = pick_slot(&s, m, false);
			/* Page 0 holds the IVT and the code: keep it backed. */
			gp = gpa_free(m, 0, 1) && !chance(&s, 4) ? 0 :
				rnd(&s) % (MAX_GPA_PAGE - pages);
			up = rnd(&s) % (ARENA_PAGES - pages);
			if (n < 0 || !gpa_free(m, gp, pages))
				continue;
			ms.slot = n;
			ms.guest_phys_addr = gp * PAGE;
			ms.size = pages * PAGE;
			ms.userspace_addr = (uintptr_t)arena + up * PAGE;
			ms.flags = gp && chance(&s, 4) ? KQEMU_MEM_READONLY : 0;
			atomic_fetch_add(&cnt->slot_add, 1);
			if (call(fd, KQEMU_ADD_MEMORY_SLOT, arg(&s, &ms, sizeof(ms))) == 0) {
				atomic_fetch_add(&cnt->slot_add_ok, 1);
				m[n] = (struct slot_model){ true, gp, pages };
			}
		} else if (op < 80) {
			struct kqemu_slot_id id = { .slot = used };

			if (call(fd, KQEMU_DELETE_MEMORY_SLOT, arg(&s, &id, sizeof(id))) == 0)
				atomic_fetch_add(&cnt->slot_del_ok, 1);
			m[used].used = false;
		} else if (op < 97) {
			struct kqemu_memory_slot ms = {
				.slot = pick_slot(&s, m, false),
				.guest_phys_addr = (rnd(&s) % MAX_GPA_PAGE) * PAGE,
				.size = PAGE * (1 + rnd(&s) % 4),
				.userspace_addr = (uintptr_t)arena,
			};
			bool invalid = chance(&s, 2);

			if (invalid)
				make_invalid(&s, &ms);
			else
				make_edgy(&s, &ms, used, m, ro);
			atomic_fetch_add(&cnt->slot_add, 1);
			if (call(fd, KQEMU_ADD_MEMORY_SLOT, &ms) == 0) {
				if (invalid) {
					atomic_fetch_add(&cnt->slot_bad_ok, 1);
					printf("# sfuzz: an invalid slot was accepted: slot %u flags %#x gpa %#llx size %#llx uaddr %#llx\n",
					       ms.slot, ms.flags, (unsigned long long)ms.guest_phys_addr,
					       (unsigned long long)ms.size,
					       (unsigned long long)ms.userspace_addr);
				} else if (ms.slot < KQEMU_MAX_MEMORY_SLOTS) {
					atomic_fetch_add(&cnt->slot_add_ok, 1);
					m[ms.slot] = (struct slot_model){
						true, ms.guest_phys_addr / PAGE, ms.size / PAGE };
				}
			}
		} else if (op < 99) {
			struct kqemu_slot_id id = { .slot = rnd(&s) % 40 };

			if (chance(&s, 2))
				id.flags = 1;
			else if (chance(&s, 2))
				id.reserved[rnd(&s) % 3] = 1;
			call(fd, KQEMU_DELETE_MEMORY_SLOT, &id);
		} else {
			/*
			 * What a VMM does to guest memory under live slots and
			 * running guests, which the MMU notifier must follow:
			 * unmap it all, drop or protect some pages, fork.
			 */
			size_t first = rnd(&s) % ARENA_PAGES;
			size_t n = 1 + rnd(&s) % (ARENA_PAGES - first);
			pid_t pid;

			switch (rnd(&s) % 4) {
			case 0:
				munmap(arena, ARENA_PAGES * PAGE);
				arena = new_arena(&s);
				atomic_fetch_add(&cnt->arena_swaps, 1);
				break;
			case 1:
				madvise(arena + first * PAGE, n * PAGE,
					chance(&s, 2) ? MADV_DONTNEED : MADV_FREE);
				atomic_fetch_add(&cnt->arena_madvise, 1);
				break;
			case 2:
				mprotect(arena + first * PAGE, n * PAGE,
					 chance(&s, 2) ? PROT_READ : PROT_NONE);
				usleep(rnd(&s) % 2000);
				mprotect(arena + first * PAGE, n * PAGE, PROT_READ | PROT_WRITE);
				atomic_fetch_add(&cnt->arena_mprotect, 1);
				break;
			default:
				/* Copy-on-write: the child writes its copy and goes. */
				pid = fork();
				if (pid == 0) {
					arena[first * PAGE] ^= 1;
					_exit(0);
				}
				if (pid > 0) {
					waitpid(pid, NULL, 0);
					atomic_fetch_add(&cnt->arena_forks, 1);
				}
			}
			if (!arena)
				break;
		}
	}
	if (arena)
		munmap(arena, ARENA_PAGES * PAGE);
	munmap(ro, RO_PAGES * PAGE);
	return NULL;
}

/* --- the vCPU threads --------------------------------------------------- */

static void on_kick(int sig)
{
	(void)sig;	/* only interrupts KQEMU_RUN (EINTR) */
}

/*
 * A timer that signals this thread alone, armed around each RUN: it ends a
 * spinning guest's RUN (EINTR) within 5 ms.  Periodic, since the first
 * signal may come before the RUN has started.
 */
static __thread timer_t kick;

static void kick_init(void)
{
	struct sigevent ev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGALRM };

	ev._sigev_un._tid = syscall(SYS_gettid);
	if (timer_create(CLOCK_MONOTONIC, &ev, &kick))
		atomic_store(&stop, true);
}

static void kick_arm(bool on)
{
	struct timespec t = { 0, on ? 5000000 : 0 };
	struct itimerspec its = { .it_interval = t, .it_value = t };

	timer_settime(kick, 0, &its, NULL);
}

static long fuzz_t0_us;		/* when the fuzzing began */

static long now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000L + t.tv_nsec / 1000;
}

static void note_run_time(long us)
{
	long max = atomic_load(&cnt->run_max_us);

	while (us > max) {
		if (atomic_compare_exchange_weak(&cnt->run_max_us, &max, us)) {
			atomic_store(&cnt->run_max_at, (now_us() - fuzz_t0_us) / 1000000);
			return;
		}
	}
}

static void note_unknown(unsigned long code)
{
	unsigned int i;

	for (i = 0; i < 8; i++) {
		unsigned long seen = 0;

		/* Slot values are code + 1, so that 0 means free. */
		if (atomic_compare_exchange_strong(&cnt->unknown_code[i], &seen, code + 1) ||
		    seen == code + 1) {
			atomic_fetch_add(&cnt->unknown_n[i], 1);
			return;
		}
	}
}

static void describe_unknown(int fd, struct kqemu_run *run)
{
	struct kqemu_regs r;
	struct kqemu_sregs sr;

	cnt->unknown_info1 = run->fail_entry.info1;
	cnt->unknown_info2 = run->fail_entry.info2;
	if (ioctl(fd, KQEMU_GET_REGS, &r) == 0)
		cnt->unknown_rip = r.rip;
	if (ioctl(fd, KQEMU_GET_SREGS, &sr) == 0) {
		cnt->unknown_cr0 = sr.cr0;
		cnt->unknown_efer = sr.efer;
	}
}

/*
 * QEMU 7.2's TCG sometimes leaves a vCPU's LAPIC timer interrupt pending in
 * its IRR without taking it until some IPI reaches that vCPU (see
 * tests/vm/boot.sh); a busy CPU then has no tick for tens of seconds, and
 * the kernel reports a soft lockup that no real CPU would give.  So every
 * 10 ms a thread bound to each CPU sends an expedited membarrier, an IPI to
 * every other CPU running a thread of this process.  Bound, so that one of
 * them always runs on a CPU that has its tick.
 */
#define VM_CPUS		2	/* -smp of tests/vm/boot.sh */

/* Keep the calling thread on CPU n; false where the VM has no such CPU. */
static bool bind_to_cpu(long n)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(n, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

static void *heartbeat(void *p)
{
	struct timespec nap = { 0, 10000000 };

	if (!bind_to_cpu((long)p))
		return NULL;	/* no such CPU: the other one beats */
	while (!atomic_load(&stop)) {
		nanosleep(&nap, NULL);
		syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
	}
	return NULL;
}

/* Answer the exit the way a VMM would, sometimes oddly. */
static void answer(uint64_t *s, struct kqemu_run *run)
{
	switch (run->exit_reason) {
	case KQEMU_EXIT_IO:
		if (run->io.direction == KQEMU_EXIT_IO_IN) {
			size_t n = (size_t)run->io.count * run->io.size;

			memset(run->io_data, rnd(s), n < sizeof(run->io_data) ? n : sizeof(run->io_data));
		}
		/* The kernel must go by what it stored, not by these. */
		if (chance(s, 16)) {
			run->io.count = rnd(s);
			run->io.size = rnd(s);
			run->io.data_offset = rnd(s);
		}
		break;
	case KQEMU_EXIT_MMIO:
		if (!run->mmio.is_write)
			memset(run->mmio.data, rnd(s), sizeof(run->mmio.data));
		break;
	case KQEMU_EXIT_CPUID:
		run->cpuid.eax = rnd(s);
		run->cpuid.edx = rnd(s);
		break;
	case KQEMU_EXIT_MSR:
		run->msr.error = chance(s, 2);
		run->msr.data = rnd(s);
		break;
	}
}

static void mutate_sregs(uint64_t *s, struct kqemu_sregs *sr)
{
	switch (rnd(s) % 9) {
	case 0:
		sr->cr0 ^= 1ULL << (rnd(s) % 32);
		break;
	case 1:
		sr->cr4 ^= 1ULL << (rnd(s) % 24);
		break;
	case 2:
		sr->efer ^= 1ULL << (rnd(s) % 16);
		break;
	case 3:
		sr->cs.attrib ^= 1 << (rnd(s) % 12);
		break;
	case 4:
		sr->ss.attrib ^= 1 << (rnd(s) % 12);
		break;
	case 5:
		sr->cs.base = (rnd(s) % 16) * PAGE;
		break;
	case 6:	/* flat protected mode, 32-bit code */
		sr->cr0 |= 1;
		sr->cs.attrib = 0xc9b;
		sr->cs.limit = ~0U;
		break;
	case 7:	/* long mode, page tables at guest page 0 (the IVT) */
		sr->cr4 |= 1 << 5;
		sr->efer |= 1 << 8;
		sr->cr0 |= 0x80000001;
		sr->cr3 = 0;
		sr->cs.attrib = 0xa9b;
		break;
	default:
		sr->idt.limit = rnd(s) % 2 ? 0 : 0xffff;
	}
}

/* The MSRs a vCPU keeps, and one it does not. */
static const uint32_t fuzz_msrs[] = {
	0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000102, 0x174, 0x175,
	0x176, 0x277, 0xc0000080, 0x10, 0xc0000103, 0x48, 0x1234,
};

/*
 * Events, NMIs, MSRs and the XSAVE area, set to values both valid and not,
 * while other threads run, steal and close the vCPU.
 */
static void cpu_state_op(uint64_t *s, int fd, struct kqemu_run *run)
{
	switch (rnd(s) % 6) {
	case 0: {
		struct kqemu_interrupt irq = { .vector = rnd(s) % 256 };

		if (chance(s, 8))
			irq.vector = 256 + rnd(s) % 8;
		call(fd, KQEMU_INTERRUPT, arg(s, &irq, sizeof(irq)));
		break;
	}
	case 1:
		call(fd, KQEMU_NMI, NULL);
		run->request_nmi_window = chance(s, 4);
		break;
	case 2: {
		struct kqemu_vcpu_events ev = { 0 };

		call(fd, KQEMU_GET_VCPU_EVENTS, &ev);
		if (chance(s, 2)) {
			((uint8_t *)&ev)[rnd(s) % 32] = rnd(s);
		} else {
			ev.exception.pending = chance(s, 2);
			ev.exception.vector = rnd(s) % 32;
			ev.exception.has_error = chance(s, 2);
			ev.nmi.masked = chance(s, 2);
			ev.interrupt.shadow = rnd(s) % 4;
		}
		call(fd, KQEMU_SET_VCPU_EVENTS, arg(s, &ev, sizeof(ev)));
		break;
	}
	case 3: {
		struct { struct kqemu_msr_list h; struct kqemu_msr_entry e[4]; } l = { 0 };
		unsigned int i, n = 1 + rnd(s) % 4;

		for (i = 0; i < n; i++) {
			l.e[i].index = fuzz_msrs[rnd(s) % (sizeof(fuzz_msrs) / sizeof(fuzz_msrs[0]))];
			l.e[i].data = chance(s, 2) ? rnd(s) : rnd(s) % 0x10000;
		}
		l.h.nmsrs = n;
		call(fd, chance(s, 2) ? KQEMU_SET_MSRS : KQEMU_GET_MSRS, arg(s, &l, sizeof(l)));
		break;
	}
	case 4:
	case 5: {
		static __thread struct kqemu_xsave x;

		if (call(fd, KQEMU_GET_XSAVE, &x) == 0 && chance(s, 2)) {
			/* Mostly the legacy area and the header, where XRSTOR looks. */
			unsigned int at = chance(s, 4) ? rnd(s) % sizeof(x.region) : rnd(s) % 576;

			x.region[at] = rnd(s);
			if (chance(s, 8))
				x.xcr0 = rnd(s) % 256;
			call(fd, KQEMU_SET_XSAVE, &x);
		}
		break;
	}
	}
}

static void vcpu_session(uint64_t *s, int base_id)
{
	struct kqemu_create_vcpu c = { .id = chance(s, 8) ? rnd(s) % KQEMU_MAX_VCPUS :
						(base_id + rnd(s) % 4) % KQEMU_MAX_VCPUS };
	int vm = atomic_load(&vmfd), fd, i, len = 16 + rnd(s) % 112;
	struct stealable me = { .fd = -1 }, *mine;
	struct kqemu_run *run;
	bool published = false, restart = true, have_sr0;
	struct kqemu_sregs sr0;

	if (chance(s, 32))
		c.flags = 1;
	else if (chance(s, 32))
		c.id = KQEMU_MAX_VCPUS + rnd(s) % 4;
	fd = call(vm, KQEMU_CREATE_VCPU, arg(s, &c, sizeof(c)));
	if (fd < 0) {
		if (errno == EDQUOT)
			atomic_fetch_add(&cnt->vcpu_edquot, 1);
		return;
	}
	atomic_fetch_add(&cnt->vcpus, 1);
	run = mmap(NULL, KQEMU_RUN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (run == MAP_FAILED) {
		close(fd);
		return;
	}
	/* The state it starts in, to go back to after mutations. */
	have_sr0 = call(fd, KQEMU_GET_SREGS, &sr0) == 0;
	me.fd = fd;
	if (chance(s, 4)) {
		mine = NULL;
		if (atomic_compare_exchange_strong(&victim, &mine, &me))
			published = true;
	}

	for (i = 0; i < len && !atomic_load(&stop); i++) {
		unsigned int op = rnd(s) % 100;

		if (restart || op < 10) {
			/* A fresh start at one snippet (rarely: anywhere). */
			/* The spinning one (last) costs a kick: rarely. */
			const struct snippet *sn = &snippets[chance(s, 256) ? NSNIPPETS - 1 :
							     rnd(s) % (NSNIPPETS - 1)];
			struct kqemu_regs r = {
				.rip = chance(s, 16) ? rnd(s) % PAGE : sn->at,
				.rsp = STACK_TOP,
				.rflags = 2 | (chance(s, 2) ? 0x200 : 0),
				.rax = rnd(s), .rdx = rnd(s) & 0xffff,
				.rsi = chance(s, 4) ? rnd(s) : rnd(s) & 0xffff,
				.rdi = chance(s, 4) ? rnd(s) : rnd(s) & 0xffff,
				.rcx = chance(s, 8) ? rnd(s) : rnd(s) % 4096,
			};

			if (chance(s, 16))
				r.rflags = rnd(s);	/* reserved bits: kqemu fixes them */
			if (chance(s, 32))
				r.reserved[rnd(s) % 3] = 1;
			if (restart && have_sr0 && chance(s, 2))
				call(fd, KQEMU_SET_SREGS, &sr0);
			call(fd, KQEMU_SET_REGS, arg(s, &r, sizeof(r)));
			restart = false;
		} else if (op < 72) {
			long ret, t0;

			run->request_interrupt_window = chance(s, 8);
			run->immediate_exit = chance(s, 32);
			atomic_fetch_add(&cnt->runs, 1);
			kick_arm(true);
			t0 = now_us();
			ret = call(fd, KQEMU_RUN, NULL);
			note_run_time(now_us() - t0);
			kick_arm(false);
			if (atomic_load(&me.taken)) {
				/* fd may name another vCPU now: not ours to judge. */
				atomic_fetch_add(&cnt->runs_on_stolen, 1);
			} else if (ret == 0) {
				atomic_fetch_add(&cnt->run_ok, 1);
				if (run->exit_reason <= KQEMU_EXIT_INTR)
					atomic_fetch_add(&cnt->exits[run->exit_reason], 1);
				if (run->exit_reason == KQEMU_EXIT_UNKNOWN) {
					note_unknown(run->fail_entry.hardware_exit_reason);
					if (!atomic_exchange(&cnt->unknown_seen, true))
						describe_unknown(fd, run);
				}
				answer(s, run);
				/* A guest that cannot go on: mostly start it afresh. */
				restart = (run->exit_reason == KQEMU_EXIT_INTERNAL_ERROR ||
					   run->exit_reason == KQEMU_EXIT_SHUTDOWN ||
					   run->exit_reason == KQEMU_EXIT_FAIL_ENTRY);
			} else if (errno == EINTR) {
				atomic_fetch_add(&cnt->run_eintr, 1);
				if (run->exit_reason == KQEMU_EXIT_INTR)
					atomic_fetch_add(&cnt->exits[KQEMU_EXIT_INTR], 1);
				restart = chance(s, 2);
			}
		} else if (op < 78) {
			cpu_state_op(s, fd, run);
		} else if (op < 88) {
			struct kqemu_regs r;

			if (call(fd, KQEMU_GET_REGS, arg(s, &r, sizeof(r))) == 0 &&
			    chance(s, 2)) {
				r.rip += rnd(s) % 3;
				call(fd, KQEMU_SET_REGS, &r);
			}
		} else if (op < 98) {
			struct kqemu_sregs sr;

			if (call(fd, KQEMU_GET_SREGS, arg(s, &sr, sizeof(sr))) == 0) {
				mutate_sregs(s, &sr);
				if (chance(s, 32))
					sr.gdt.reserved[rnd(s) % 3] = 1;
				if (call(fd, KQEMU_SET_SREGS, &sr) == 0)
					atomic_fetch_add(&cnt->sregs_set, 1);
			}
		} else {
			/* Numbers that are not vCPU ioctls, and VM ioctls. */
			struct kqemu_slot_id id = { 0 };

			call(fd, chance(s, 2) ? KQEMU_DELETE_MEMORY_SLOT : _IO(KQEMUIO, 0x27 + rnd(s) % 8),
			     &id);
		}
	}

	/* Take the fd back unless another thread has closed it already. */
	mine = &me;
	if (!published || atomic_compare_exchange_strong(&victim, &mine, NULL)) {
		if (chance(s, 16))
			pass_fd(fd);
		close(fd);	/* the run area still holds the vCPU... */
	} else {
		/* Taken: the thief reads me until it says so. */
		while (!atomic_load(&me.taken))
			sched_yield();
	}
	munmap(run, KQEMU_RUN_SIZE);	/* ...until now */
}

static void *vcpu_thread(void *argp)
{
	uint64_t s = (uintptr_t)argp;

	kick_init();
	while (!atomic_load(&stop))
		vcpu_session(&s, (s & 1) * 8);
	timer_delete(kick);
	return NULL;
}

/* --- processes ---------------------------------------------------------- */

/* The other process: every VM or vCPU fd it receives must answer EIO. */
static int receiver(int sock)
{
	for (;;) {
		char c, cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { &c, 1 };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct kqemu_slot_id id = { 0 };
		struct kqemu_regs r;
		void *p;
		int fd;

		if (recvmsg(sock, &msg, 0) <= 0)
			break;
		if (!CMSG_FIRSTHDR(&msg))
			continue;
		memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
		atomic_fetch_add(&cnt->eio_got, 1);
		/* A VM fd answers its ioctls, a vCPU fd its own: both EIO here. */
		if (!((ioctl(fd, KQEMU_DELETE_MEMORY_SLOT, &id) == -1 && errno == EIO) ||
		      (ioctl(fd, KQEMU_GET_REGS, &r) == -1 && errno == EIO)))
			atomic_fetch_add(&cnt->eio_wrong, 1);
		/* A vCPU's run area may be mapped here; that must be harmless. */
		p = mmap(NULL, KQEMU_RUN_SIZE, PROT_READ, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED)
			munmap(p, KQEMU_RUN_SIZE);
		close(fd);
	}
	return 0;
}

static int worker(uint64_t seed)
{
	void *(*bodies[])(void *) = { vm_thread, slot_thread, vcpu_thread, vcpu_thread };
	struct sigaction sa = { .sa_handler = on_kick };
	pthread_t th[4], beats[VM_CPUS];
	int i;

	guard = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro_page = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	devfd = kqemu_open();
	if (guard == MAP_FAILED || ro_page == MAP_FAILED || devfd < 0) {
		printf("not ok - sfuzz worker cannot start: %s\n", strerror(errno));
		return 1;
	}
	mprotect(guard + PAGE, PAGE, PROT_NONE);
	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART: RUN returns EINTR */
	atomic_store(&vmfd, create_vm(devfd));
	syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
	syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0);
	for (i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, bodies[i], (void *)(uintptr_t)(seed * 7919 + i + 1));
	for (i = 0; i < VM_CPUS; i++)
		pthread_create(&beats[i], NULL, heartbeat, (void *)(long)i);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < VM_CPUS; i++)
		pthread_join(beats[i], NULL);
	close(atomic_load(&vmfd));
	close(devfd);
	return 0;
}

/*
 * Per CPU, the longest time a thread bound to it waited for a 2 ms sleep
 * to end.  A long RUN shows up on its own CPU only when that CPU alone was
 * held; on every CPU at once when the whole machine (the emulator under
 * it) stood still.
 */
static long stall_max_us[VM_CPUS], stall_at_s[VM_CPUS];

static void *stall_monitor(void *p)
{
	long n = (long)p, last, now;
	struct timespec nap = { 0, 2000000 };

	if (!bind_to_cpu(n))
		return NULL;
	last = now_us();
	while (!atomic_load(&stop)) {
		nanosleep(&nap, NULL);
		now = now_us();
		if (now - last > stall_max_us[n]) {
			stall_max_us[n] = now - last;
			stall_at_s[n] = (now - fuzz_t0_us) / 1000000;
		}
		last = now;
	}
	return NULL;
}

/*
 * When the timers of all CPUs are held back at once, no heartbeat thread
 * wakes to send the IPI that would end it, and the whole machine stands
 * still for seconds.  An interrupt from outside the CPUs ends that: the
 * RTC's periodic one, 64 times a second (the most a user may ask for),
 * after each of which this thread sends the IPIs to every CPU that runs a
 * worker's thread.  The suite lets the fuzzer's user open /dev/rtc0.
 */
static atomic_long rtc_beats;

static void *rtc_beat(void *p)
{
	int fd = open("/dev/rtc0", O_RDONLY);
	unsigned long data;

	if (fd < 0)
		return NULL;
	if (ioctl(fd, RTC_IRQP_SET, 64) == 0 && ioctl(fd, RTC_PIE_ON, 0) == 0) {
		while (!atomic_load(&stop) && read(fd, &data, sizeof(data)) == sizeof(data)) {
			atomic_fetch_add(&rtc_beats, 1);
			syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0);
		}
		ioctl(fd, RTC_PIE_OFF, 0);
	}
	close(fd);
	return NULL;
}

/*
 * A line at each tenth of the calls, flushed at once: under Bochs a run
 * takes minutes, and the host's watchdog takes a VM that prints nothing for
 * long as stuck (the suite shows these lines as they come, tests/vm/guest/
 * lib-suite.sh's run_watched).
 */
static long progress_calls;

static void *progress(void *p)
{
	long made, tenth = 1;
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!atomic_load(&stop) && tenth < 10) {
		sleep(1);
		made = progress_calls - atomic_load(&cnt->budget);
		if (made < progress_calls * tenth / 10)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t);
		printf("# sfuzz: progress: %ld of %ld calls made, %ld s\n",
		       made, progress_calls, (long)(t.tv_sec - t0.tv_sec));
		fflush(stdout);
		while (tenth < 10 && made >= progress_calls * tenth / 10)
			tenth++;
	}
	return NULL;
}

static long fuzz(long calls, uint64_t seed)
{
	pthread_t monitors[VM_CPUS], rtc, prog;
	long nmon = 0;
	bool have_rtc, have_progress;
	pid_t pids[WORKERS + 1];
	int sock[2], i, bad = 0, status;
	struct timespec t0, t1;
	long e;

	cnt = mmap(NULL, sizeof(*cnt), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (cnt == MAP_FAILED || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sock)) {
		printf("not ok - sfuzz cannot start: %s\n", strerror(errno));
		return 1;
	}
	atomic_store(&cnt->budget, calls);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fuzz_t0_us = now_us();
	for (i = 0; i <= WORKERS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			if (i == WORKERS) {
				close(sock[0]);
				_exit(receiver(sock[1]));
			}
			close(sock[1]);
			sock_tx = sock[0];
			_exit(worker(seed + i * 1000003));
		}
	}
	close(sock[0]);
	close(sock[1]);
	while (nmon < VM_CPUS &&
	       !pthread_create(&monitors[nmon], NULL, stall_monitor, (void *)nmon))
		nmon++;
	have_rtc = pthread_create(&rtc, NULL, rtc_beat, NULL) == 0;
	progress_calls = calls;
	have_progress = pthread_create(&prog, NULL, progress, NULL) == 0;
	for (i = 0; i <= WORKERS; i++)
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			bad++;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	atomic_store(&stop, true);
	while (nmon--)
		pthread_join(monitors[nmon], NULL);
	if (have_rtc)
		pthread_join(rtc, NULL);
	if (have_progress)
		pthread_join(prog, NULL);

	printf("# sfuzz: calls=%ld errors=%ld bogus=%ld runs=%ld run_ok=%ld run_eintr=%ld vms=%ld vcpus=%ld vcpu_edquot=%ld sregs_set=%ld\n",
	       atomic_load(&cnt->calls), atomic_load(&cnt->errors), atomic_load(&cnt->bogus),
	       atomic_load(&cnt->runs), atomic_load(&cnt->run_ok), atomic_load(&cnt->run_eintr),
	       atomic_load(&cnt->vms), atomic_load(&cnt->vcpus), atomic_load(&cnt->vcpu_edquot),
	       atomic_load(&cnt->sregs_set));
	printf("# sfuzz: slot_add=%ld slot_add_ok=%ld slot_del_ok=%ld slot_bad_ok=%ld arena_swaps=%ld arena_madvise=%ld arena_mprotect=%ld arena_forks=%ld stolen_closes=%ld runs_on_stolen=%ld passed=%ld eio_got=%ld eio_wrong=%ld workers_failed=%d seconds=%ld\n",
	       atomic_load(&cnt->slot_add), atomic_load(&cnt->slot_add_ok),
	       atomic_load(&cnt->slot_del_ok), atomic_load(&cnt->slot_bad_ok),
	       atomic_load(&cnt->arena_swaps), atomic_load(&cnt->arena_madvise),
	       atomic_load(&cnt->arena_mprotect), atomic_load(&cnt->arena_forks),
	       atomic_load(&cnt->stolen_closes),
	       atomic_load(&cnt->runs_on_stolen),
	       atomic_load(&cnt->passed), atomic_load(&cnt->eio_got),
	       atomic_load(&cnt->eio_wrong), bad, (long)(t1.tv_sec - t0.tv_sec));
	printf("# sfuzz: exits:");
	for (e = 0; e <= KQEMU_EXIT_INTR; e++)
		printf(" exit%ld=%ld", e, atomic_load(&cnt->exits[e]));
	printf("\n# sfuzz: run_max_ms=%ld run_max_at=%ld rtc_beats=%ld",
	       (atomic_load(&cnt->run_max_us) + 999) / 1000, atomic_load(&cnt->run_max_at),
	       atomic_load(&rtc_beats));
	for (e = 0; e < VM_CPUS; e++)
		printf(" stall_cpu%ld_ms=%ld stall_cpu%ld_at=%ld", e,
		       (stall_max_us[e] + 999) / 1000, e, stall_at_s[e]);
	printf(" unknown_codes=");
	for (e = 0; e < 8 && atomic_load(&cnt->unknown_code[e]); e++)
		printf("%s%#lx:%ld", e ? "," : "", atomic_load(&cnt->unknown_code[e]) - 1,
		       atomic_load(&cnt->unknown_n[e]));
	printf("%s", e ? "" : "none");
	if (atomic_load(&cnt->unknown_seen))
		printf(" unknown_first=info1:%#llx,info2:%#llx,rip:%#llx,cr0:%#llx,efer:%#llx",
		       (unsigned long long)cnt->unknown_info1, (unsigned long long)cnt->unknown_info2,
		       (unsigned long long)cnt->unknown_rip, (unsigned long long)cnt->unknown_cr0,
		       (unsigned long long)cnt->unknown_efer);
	printf("\n");
	return bad;
}

/* --- the fault-injection sweep ----------------------------------------- */

struct life {
	int dev, vm, vcpu, exits_seen;
	struct kqemu_run *run;
	uint8_t *mem, *ro;
};

static int fail_nth_fd = -1;

static void inject(unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n), tries;

	/*
	 * Disarming (n = 0) while points are left: the write's own copy from
	 * us may be the one that fails (EFAULT), which uses the counter up.
	 */
	for (tries = 0; tries < 3; tries++)
		if (pwrite(fail_nth_fd, buf, len, 0) == len)
			return;
	printf("not ok - write fail-nth: %s\n", strerror(errno));
	exit(1);
}

/* Whether the failure was injected; disarms what was not used. */
static bool injected(void)
{
	char buf[16] = { 0 };
	ssize_t n = pread(fail_nth_fd, buf, sizeof(buf) - 1, 0);
	/* With 1 left, the read's own copy to us is the point that fails. */
	bool used = n > 0 && atoi(buf) == 0;

	inject(0);
	return used;
}

static int step_open(struct life *l)
{
	l->dev = kqemu_open();
	return l->dev < 0 ? -1 : 0;
}

static int step_cap(struct life *l)
{
	struct kqemu_capability cap = { .cap = KQEMU_CAP_BACKEND };

	return ioctl(l->dev, KQEMU_CHECK_CAPABILITY, &cap) ? -1 : 0;
}

static int step_vm(struct life *l)
{
	l->vm = create_vm(l->dev);
	return l->vm < 0 ? -1 : 0;
}

static int step_slot(struct life *l)
{
	struct kqemu_memory_slot ms = { .slot = 3, .size = 4 * PAGE,
					.userspace_addr = (uintptr_t)l->mem };

	return ioctl(l->vm, KQEMU_ADD_MEMORY_SLOT, &ms) ? -1 : 0;
}

static int step_slot_ro(struct life *l)
{
	struct kqemu_memory_slot ms = { .slot = 7, .guest_phys_addr = 0x20000,
					.size = 2 * PAGE, .flags = KQEMU_MEM_READONLY,
					.userspace_addr = (uintptr_t)l->ro };

	return ioctl(l->vm, KQEMU_ADD_MEMORY_SLOT, &ms) ? -1 : 0;
}

static int step_vcpu(struct life *l)
{
	struct kqemu_create_vcpu c = { .id = 5 };

	l->vcpu = ioctl(l->vm, KQEMU_CREATE_VCPU, &c);
	return l->vcpu < 0 ? -1 : 0;
}

static int step_mmap(struct life *l)
{
	void *p = mmap(NULL, KQEMU_RUN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, l->vcpu, 0);

	if (p == MAP_FAILED)
		return -1;
	l->run = p;
	return 0;
}

static int step_regs(struct life *l)
{
	struct kqemu_regs r = { .rip = snippets[0].at, .rsp = STACK_TOP, .rflags = 2 };

	return ioctl(l->vcpu, KQEMU_SET_REGS, &r) ? -1 : 0;
}

static int step_sregs(struct life *l)
{
	struct kqemu_sregs sr;

	if (ioctl(l->vcpu, KQEMU_GET_SREGS, &sr))
		return -1;
	return ioctl(l->vcpu, KQEMU_SET_SREGS, &sr) ? -1 : 0;
}

static int step_irq(struct life *l)
{
	struct kqemu_interrupt irq = { .vector = 0x40 };

	return ioctl(l->vcpu, KQEMU_INTERRUPT, &irq) ? -1 : 0;
}

/* One RUN; its exit must be the guest's OUT or HLT (IF is clear). */
static int step_run(struct life *l)
{
	if (ioctl(l->vcpu, KQEMU_RUN, NULL))
		return -1;
	if (l->run->exit_reason == KQEMU_EXIT_HLT)
		l->exits_seen |= 1;
	else if (l->run->exit_reason == KQEMU_EXIT_IO && l->run->io.port == 0x10)
		l->exits_seen |= 2;
	else
		l->exits_seen |= 4;
	return 0;
}

static int step_delete(struct life *l)
{
	struct kqemu_slot_id id = { .slot = 7 };

	return ioctl(l->vm, KQEMU_DELETE_MEMORY_SLOT, &id) ? -1 : 0;
}

static const struct step {
	const char *name;
	int (*fn)(struct life *l);
} steps[] = {
	{ "open", step_open }, { "CHECK_CAPABILITY", step_cap },
	{ "CREATE_VM", step_vm }, { "ADD_MEMORY_SLOT", step_slot },
	{ "ADD_MEMORY_SLOT (read-only)", step_slot_ro },
	{ "CREATE_VCPU", step_vcpu }, { "mmap", step_mmap },
	{ "SET_REGS", step_regs }, { "GET/SET_SREGS", step_sregs },
	{ "INTERRUPT", step_irq }, { "RUN", step_run }, { "RUN", step_run },
	{ "DELETE_MEMORY_SLOT", step_delete }, { "RUN", step_run },
};
#define NSTEPS	(sizeof(steps) / sizeof(steps[0]))

static void teardown(struct life *l)
{
	if (l->run)
		munmap(l->run, KQEMU_RUN_SIZE);
	if (l->vcpu >= 0)
		close(l->vcpu);
	if (l->vm >= 0)
		close(l->vm);
	if (l->dev >= 0)
		close(l->dev);
	*l = (struct life){ .dev = -1, .vm = -1, .vcpu = -1, .mem = l->mem, .ro = l->ro };
}

static bool nothing_left(void)
{
	return read_stat("vms") == 0 && read_stat("vcpus") == 0 &&
	       read_stat("mapped_bytes") == 0;
}

static int faults(void)
{
	long points = 0, enomem = 0, efault = 0, tolerated = 0, other = 0;
	long retry_bad = 0, guest_bad = 0, left = 0, setup_bad = 0;
	struct life l = { .dev = -1, .vm = -1, .vcpu = -1 };
	size_t k, j;
	unsigned int n;

	fail_nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	l.mem = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	l.ro = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fail_nth_fd < 0 || l.mem == MAP_FAILED || l.ro == MAP_FAILED) {
		printf("not ok - sfuzz --faults cannot start: %s\n", strerror(errno));
		return 1;
	}
	write_guest_page(l.mem);
	mlockall(MCL_CURRENT | MCL_FUTURE);	/* no page faults of ours in between */

	for (k = 0; k < NSTEPS; k++) {
		for (n = 1; n < 1000; n++) {
			int ret, err;
			bool used;

			for (j = 0; j < k; j++)
				if (steps[j].fn(&l)) {
					printf("# faults: setup step %s failed: %s\n",
					       steps[j].name, strerror(errno));
					setup_bad++;
					break;
				}
			if (j < k) {
				teardown(&l);
				break;
			}
			inject(n);
			ret = steps[k].fn(&l);
			err = errno;
			used = injected();
			if (!used) {
				teardown(&l);
				break;	/* the call has fewer than n fault points */
			}
			points++;
			if (ret == 0) {
				tolerated++;
			} else if (err == ENOMEM) {
				enomem++;
			} else if (err == EFAULT) {
				efault++;
			} else {
				other++;
				printf("# faults: %s, fault point %u: %s\n", steps[k].name, n,
				       strerror(err));
			}
			/* Unwound cleanly: the same call works now, and the rest. */
			if (ret && steps[k].fn(&l)) {
				retry_bad++;
				printf("# faults: %s after fault point %u, without one: %s\n",
				       steps[k].name, n, strerror(errno));
			} else {
				for (j = k + 1; j < NSTEPS; j++)
					if (steps[j].fn(&l))
						break;
				if (j < NSTEPS || l.exits_seen != 3) {
					guest_bad++;
					printf("# faults: after fault point %u of %s, %s: %s (exits %#x)\n",
					       n, steps[k].name, j < NSTEPS ? steps[j].name : "the guest",
					       strerror(errno), l.exits_seen);
				}
			}
			teardown(&l);
			if (!nothing_left()) {
				left++;
				printf("# faults: after fault point %u of %s: vms %ld vcpus %ld mapped %ld\n",
				       n, steps[k].name, read_stat("vms"), read_stat("vcpus"),
				       read_stat("mapped_bytes"));
			}
		}
	}
	printf("# faults: points=%ld enomem=%ld efault=%ld tolerated=%ld other=%ld retry_bad=%ld guest_bad=%ld left=%ld setup_bad=%ld\n",
	       points, enomem, efault, tolerated, other, retry_bad, guest_bad, left, setup_bad);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "--faults"))
		return faults();
	if (argc != 3) {
		fprintf(stderr, "usage: sfuzz CALLS SEED | sfuzz --faults\n");
		return 2;
	}
	return fuzz(atol(argv[1]), strtoull(argv[2], NULL, 0)) ? 1 : 0;
}
