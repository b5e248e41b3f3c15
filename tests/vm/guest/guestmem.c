// SPDX-License-Identifier: GPL-2.0
/*
 * Guest memory on demand (issue 14): nothing pinned, nothing charged to
 * RLIMIT_MEMLOCK, and the guest always sees what the VMM's address space
 * holds, whatever the VMM does to it meanwhile.
 *
 * The guest is a small 32-bit flat-mode loop that the VMM drives: each
 * round it reads an operation, an address and a value with IN, does it on
 * its own memory and reports with OUT.  So each check is the guest's own
 * view of a page, compared with what the VMM put there (or the exit that
 * says the VMM has no memory there), never an assumption.
 * Usage: guestmem     (as root, with kqemu loaded; prints ok/not ok lines)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmtest.h"

#define PAGE		4096UL
#define CODE_GPA	0x1000

enum { OP_READ = 1, OP_WRITE, OP_FILL, OP_CHECK, OP_STOP };

extern const unsigned char driven_start[], driven_end[];

/*
 * 32-bit code at CODE_GPA.  Ports 0x10-0x14 (IN, each answered by the
 * VMM): operation, address, value, count, stride.  READ: the word at
 * address, out to 0x20.  WRITE: value to it, out 0x21.  FILL: count words
 * stride bytes apart from address on, each its own address ^ value, out
 * 0x22.  CHECK: the same words compared with that, out 0x23 how many
 * differ.
 */
asm(".pushsection .rodata\n"
    ".code32\n"
    "driven_start:\n"
    "1:	in $0x10, %eax\n"
    "	mov %eax, %edx\n"
    "	in $0x11, %eax\n"
    "	mov %eax, %ebx\n"
    "	in $0x12, %eax\n"
    "	mov %eax, %esi\n"
    "	in $0x13, %eax\n"
    "	mov %eax, %ecx\n"
    "	in $0x14, %eax\n"
    "	mov %eax, %ebp\n"
    "	cmp $1, %edx\n"
    "	je 2f\n"
    "	cmp $2, %edx\n"
    "	je 3f\n"
    "	cmp $3, %edx\n"
    "	je 4f\n"
    "	cmp $4, %edx\n"
    "	je 5f\n"
    "	hlt\n"
    /* READ */
    "2:	mov (%ebx), %eax\n"
    "	out %eax, $0x20\n"
    "	jmp 1b\n"
    /* WRITE */
    "3:	mov %esi, (%ebx)\n"
    "	mov %esi, %eax\n"
    "	out %eax, $0x21\n"
    "	jmp 1b\n"
    /* FILL: ECX words, 2 MiB apart from EBX on, each its address ^ ESI */
    "4:	mov %ebx, %eax\n"
    "	xor %esi, %eax\n"
    "	mov %eax, (%ebx)\n"
    "	add %ebp, %ebx\n"
    "	loop 4b\n"
    "	out %eax, $0x22\n"
    "	jmp 1b\n"
    /* CHECK: the same words against address ^ ESI; out how many differ */
    "5:	xor %edi, %edi\n"
    "6:	mov %ebx, %eax\n"
    "	xor %esi, %eax\n"
    "	cmp (%ebx), %eax\n"
    "	je 7f\n"
    "	inc %edi\n"
    "7:	add %ebp, %ebx\n"
    "	loop 6b\n"
    "	mov %edi, %eax\n"
    "	out %eax, $0x23\n"
    "	jmp 1b\n"
    "driven_end:\n"
    ".code64\n"
    ".popsection\n");

struct vm {
	int devfd, vmfd, cpufd;
	struct kqemu_run *run;
	uint8_t *low;		/* guest-physical 0-64 KiB: the code */
	/* The last exit that was not the operation's own report. */
	uint32_t exit_reason, suberror;
	uint64_t data[3];
	int run_errno;
};

#define VM_INIT	{ .devfd = -1, .vmfd = -1, .cpufd = -1 }

static struct kqemu_segment flat(uint16_t sel, uint16_t attrib)
{
	return (struct kqemu_segment){ .selector = sel, .attrib = attrib, .limit = 0xffffffff };
}

static int add_slot(struct vm *vm, unsigned int slot, uint64_t gpa, uint64_t size,
		    void *uaddr, unsigned int flags)
{
	struct kqemu_memory_slot s = {
		.slot = slot, .flags = flags, .guest_phys_addr = gpa, .size = size,
		.userspace_addr = (uintptr_t)uaddr,
	};

	return ioctl(vm->vmfd, KQEMU_ADD_MEMORY_SLOT, &s);
}

static int del_slot(struct vm *vm, unsigned int slot)
{
	struct kqemu_slot_id id = { .slot = slot };

	return ioctl(vm->vmfd, KQEMU_DELETE_MEMORY_SLOT, &id);
}

/* A VM whose slot 0 is 64 KiB at 0 with the driven guest in it. */
static bool vm_open(struct vm *vm)
{
	struct kqemu_create_vcpu cv = { 0 };
	struct kqemu_regs regs = { .rip = CODE_GPA, .rflags = 2, .rsp = 0x8000 };
	struct kqemu_sregs s = { 0 };

	memset(vm, 0, sizeof(*vm));
	vm->cpufd = -1;
	vm->devfd = kqemu_open();
	vm->vmfd = vm->devfd < 0 ? -1 : create_vm(vm->devfd);
	vm->low = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->vmfd < 0 || vm->low == MAP_FAILED)
		return false;
	memcpy(vm->low + CODE_GPA, driven_start, driven_end - driven_start);
	if (add_slot(vm, 0, 0, 64 << 10, vm->low, 0))
		return false;
	vm->cpufd = ioctl(vm->vmfd, KQEMU_CREATE_VCPU, &cv);
	if (vm->cpufd < 0)
		return false;
	vm->run = mmap(NULL, KQEMU_RUN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, vm->cpufd, 0);
	s.cs = flat(8, 0xc9b);	/* VMCB-style attrib: G, D, P, S, code */
	s.ds = s.es = s.fs = s.gs = s.ss = flat(16, 0xc93);
	s.tr = (struct kqemu_segment){ .attrib = 0x8b, .limit = 0x67 };
	s.ldt = (struct kqemu_segment){ .attrib = 0x82, .limit = 0xffff };
	s.gdt.limit = 0xffff;
	s.idt.limit = 0x3ff;
	s.cr0 = 0x11;		/* PE, ET: flat 32-bit, no paging */
	return vm->run != MAP_FAILED && !ioctl(vm->cpufd, KQEMU_SET_SREGS, &s) &&
	       !ioctl(vm->cpufd, KQEMU_SET_REGS, &regs);
}

static void vm_close(struct vm *vm)
{
	if (vm->run && vm->run != MAP_FAILED)
		munmap(vm->run, KQEMU_RUN_SIZE);
	if (vm->low && vm->low != MAP_FAILED)
		munmap(vm->low, 64 << 10);
	close(vm->cpufd);
	close(vm->vmfd);
	close(vm->devfd);
}

/*
 * Run the guest until it reports on port 0x20-0x23 (returns true, the
 * value in *out) after feeding it IN values from FEED (5 words); any
 * other exit or error stops it (false; vm->exit_reason etc. say which).
 * A stopped operation goes on where it stopped at the next call with
 * FEED NULL.
 */
static bool drive(struct vm *vm, const uint32_t *feed, uint32_t *out)
{
	struct kqemu_run *r = vm->run;
	unsigned int fed = 0, rounds;

	for (rounds = 0; rounds < 64; rounds++) {
		vm->run_errno = 0;
		if (ioctl(vm->cpufd, KQEMU_RUN, 0)) {
			vm->run_errno = errno;
			if (errno != EDQUOT)
				printf("# KQEMU_RUN: %s\n", strerror(errno));
			return false;
		}
		if (r->exit_reason == KQEMU_EXIT_IO && r->io.direction == KQEMU_EXIT_IO_IN &&
		    r->io.port >= 0x10 && r->io.port <= 0x14 && feed && fed < 5) {
			memcpy((uint8_t *)r + r->io.data_offset, &feed[fed++], 4);
			continue;
		}
		if (r->exit_reason == KQEMU_EXIT_IO && r->io.direction == KQEMU_EXIT_IO_OUT &&
		    r->io.port >= 0x20 && r->io.port <= 0x23) {
			memcpy(out, (uint8_t *)r + r->io.data_offset, 4);
			return true;
		}
		vm->exit_reason = r->exit_reason;
		vm->suberror = r->internal.suberror;
		memcpy(vm->data, r->internal.data, sizeof(vm->data));
		return false;
	}
	vm->exit_reason = ~0U;
	return false;
}

/* FILL's and CHECK's step: 2 MiB, one word per 2 MiB page, unless a test says. */
static uint32_t stride = 2 << 20;

static bool op(struct vm *vm, uint32_t what, uint32_t addr, uint32_t value, uint32_t count,
	       uint32_t *out)
{
	uint32_t feed[5] = { what, addr, value, count, stride }, ignored;

	return drive(vm, feed, out ? out : &ignored);
}

/* Whether the last stop was INTERNAL_ERROR MEMORY at GPA for a write or not. */
static bool memory_exit(const struct vm *vm, uint64_t gpa, bool write)
{
	return vm->exit_reason == KQEMU_EXIT_INTERNAL_ERROR &&
	       vm->suberror == KQEMU_INTERNAL_ERROR_MEMORY &&
	       vm->data[0] == gpa && vm->data[1] == write;
}

#define DATA_GPA	0x100000UL	/* slot 1 */
#define DATA_PAGES	16
#define BIG_GPA		0x40000000UL	/* 1 GiB */

/* Whether this kernel has transparent huge pages (the debug kernel has not). */
static bool thp_kernel(void)
{
	return access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0;
}

static uint32_t *word(void *base, unsigned long page)
{
	return (uint32_t *)((uint8_t *)base + page * PAGE);
}

/* Both ways, and the counter: pages are mapped when the guest touches them. */
static void test_both_ways(void)
{
	struct vm vm = VM_INIT;
	uint8_t *mem = mmap(NULL, DATA_PAGES * PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long before, after_add, after_touch, tables, touched;
	uint32_t v = 0;
	bool ok;

	ok = vm_open(&vm) && mem != MAP_FAILED;
	before = read_stat("mapped_bytes");
	ok = ok && !add_slot(&vm, 1, DATA_GPA, DATA_PAGES * PAGE, mem, 0);
	after_add = read_stat("mapped_bytes");
	report(ok && after_add == before,
	       "adding a 64 KiB slot maps nothing (mapped_bytes %ld, then %ld)", before, after_add);
	*word(mem, 3) = 0x11223344;
	ok = ok && op(&vm, OP_READ, DATA_GPA + 3 * PAGE, 0, 0, &v);
	after_touch = read_stat("mapped_bytes");
	report(ok && v == 0x11223344, "the guest reads what the VMM wrote (%#x)", v);
	ok = ok && op(&vm, OP_WRITE, DATA_GPA + 5 * PAGE + 8, 0x55667788, 0, NULL);
	report(ok && *(uint32_t *)(mem + 5 * PAGE + 8) == 0x55667788,
	       "the VMM reads what the guest wrote (%#x)", *(uint32_t *)(mem + 5 * PAGE + 8));
	/* The code page and the page read: at least 2 pages, fewer than the slot's. */
	report(after_touch - after_add >= (long)PAGE && after_touch - after_add < (long)(8 * PAGE),
	       "mapped_bytes grows with what the guest touches (%ld bytes after one read)",
	       after_touch - after_add);
	/* A slot far from the others: the tables a touch adds go with it. */
	tables = read_stat("page_tables");
	ok = ok && !add_slot(&vm, 2, BIG_GPA, DATA_PAGES * PAGE, mem, 0) &&
	     op(&vm, OP_READ, BIG_GPA + 3 * PAGE, 0, 0, &v) && v == 0x11223344;
	touched = read_stat("page_tables");
	ok = ok && !del_slot(&vm, 2);
	report(ok && touched > tables && read_stat("page_tables") == tables,
	       "a touch in a new 1 GiB adds table pages (%ld to %ld), DELETE_SLOT frees them (%ld)",
	       tables, touched, read_stat("page_tables"));
	ok = ok && !del_slot(&vm, 1);
	ok = ok && !op(&vm, OP_READ, DATA_GPA + 3 * PAGE, 0, 0, &v) && vm.exit_reason == KQEMU_EXIT_MMIO;
	report(ok,
	       "after DELETE_SLOT the guest's read is an MMIO exit, not the old page (exit %u)",
	       vm.exit_reason);
	vm_close(&vm);
	munmap(mem, DATA_PAGES * PAGE);
	report(read_stat("mapped_bytes") == before, "closing the VM unmaps everything it mapped (%ld)",
	       read_stat("mapped_bytes"));
}

/* madvise(MADV_DONTNEED), munmap and mprotect under a live slot. */
static void test_vmm_changes(void)
{
	struct vm vm = VM_INIT;
	uint8_t *mem = mmap(NULL, DATA_PAGES * PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t gpa = DATA_GPA + 2 * PAGE;
	uint32_t v = 0;
	bool ok;

	ok = vm_open(&vm) && mem != MAP_FAILED && !add_slot(&vm, 1, DATA_GPA, DATA_PAGES * PAGE, mem, 0);
	*word(mem, 2) = 0xaaaa0001;
	ok = ok && op(&vm, OP_READ, gpa, 0, 0, &v) && v == 0xaaaa0001;
	ok = ok && !madvise(mem + 2 * PAGE, PAGE, MADV_DONTNEED);
	ok = ok && op(&vm, OP_READ, gpa, 0, 0, &v);
	report(ok && v == 0, "after MADV_DONTNEED the guest reads the VMM's new zero page (%#x), not the old one", v);
	*word(mem, 2) = 0xaaaa0002;
	ok = op(&vm, OP_READ, gpa, 0, 0, &v) && v == 0xaaaa0002;
	report(ok,
	       "... and then what the VMM writes there next (%#x)", v);

	/* munmap: the guest must not go on with the page the VMM gave up. */
	ok = !munmap(mem + 2 * PAGE, PAGE);
	ok = ok && !op(&vm, OP_READ, gpa, 0, 0, &v) && memory_exit(&vm, gpa, false);
	report(ok,
	       "after munmap a guest read is INTERNAL_ERROR MEMORY at its address (exit %u/%u, %#llx)",
	       vm.exit_reason, vm.suberror, (unsigned long long)vm.data[0]);
	ok = mmap(mem + 2 * PAGE, PAGE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED;
	*word(mem, 2) = 0xaaaa0003;
	ok = ok && drive(&vm, NULL, &v) && v == 0xaaaa0003;
	report(ok,
	       "mapped again, the same read goes on and sees the new page (%#x)", v);

	/* mprotect: a write the VMM's mapping refuses does not land. */
	ok = op(&vm, OP_WRITE, gpa, 0xbbbb0001, 0, NULL) && !mprotect(mem + 2 * PAGE, PAGE, PROT_READ);
	ok = ok && op(&vm, OP_READ, gpa, 0, 0, &v) && v == 0xbbbb0001;
	report(ok,
	       "after mprotect(PROT_READ) the guest still reads the page (%#x)", v);
	ok = ok && !op(&vm, OP_WRITE, gpa, 0xbbbb0002, 0, NULL) && memory_exit(&vm, gpa, true) && *word(mem, 2) == 0xbbbb0001;
	report(ok,
	       "... but its write is INTERNAL_ERROR MEMORY (write) and the page keeps %#x",
	       *word(mem, 2));
	ok = !mprotect(mem + 2 * PAGE, PAGE, PROT_READ | PROT_WRITE);
	ok = ok && drive(&vm, NULL, &v) && *word(mem, 2) == 0xbbbb0002;
	report(ok,
	       "writable again, the same write goes on and lands (%#x)", *word(mem, 2));
	vm_close(&vm);
	munmap(mem, DATA_PAGES * PAGE);
}

/* fork(): the guest keeps the parent's memory, the child its copy. */
static void test_fork(void)
{
	struct vm vm = VM_INIT;
	uint8_t *mem = mmap(NULL, DATA_PAGES * PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t gpa = DATA_GPA + 4 * PAGE;
	int up[2], down[2], status = -1;
	uint32_t v = 0, child_saw = 0;
	char c = 0;
	pid_t pid;
	bool ok;

	ok = vm_open(&vm) && mem != MAP_FAILED && !add_slot(&vm, 1, DATA_GPA, DATA_PAGES * PAGE, mem, 0) &&
	     !pipe(up) && !pipe(down);
	ok = ok && op(&vm, OP_WRITE, gpa, 0xcccc0001, 0, NULL);
	pid = ok ? fork() : -1;
	if (pid == 0) {
		/* The child: its copy as fork left it, after the guest wrote again. */
		if (read(down[0], &c, 1) != 1)
			_exit(2);
		v = *word(mem, 4);
		_exit(write(up[1], &v, 4) == 4 ? 0 : 3);
	}
	/* Copy-on-write: the parent's next write gets it a page of its own. */
	*word(mem, 4) = 0xcccc0002;
	ok = pid > 0 && op(&vm, OP_READ, gpa, 0, 0, &v);
	report(ok && v == 0xcccc0002,
	       "after fork the guest reads the parent's page as the parent wrote it (%#x, not 0xcccc0001)", v);
	ok = ok && op(&vm, OP_WRITE, gpa, 0xcccc0003, 0, NULL);
	ok = ok && write(down[1], &c, 1) == 1 && read(up[0], &child_saw, 4) == 4;
	if (pid > 0)
		waitpid(pid, &status, 0);
	report(ok && *word(mem, 4) == 0xcccc0003 && child_saw == 0xcccc0001 && status == 0,
	       "the guest's write after fork is the parent's (%#x), the child keeps its copy (%#x)",
	       *word(mem, 4), child_saw);
	vm_close(&vm);
	munmap(mem, DATA_PAGES * PAGE);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
}

/* memfd memory shared with a second process: all three see the same. */
static void test_memfd(void)
{
	struct vm vm = VM_INIT;
	int fd = memfd_create("kqemu-guestmem", 0), up[2], down[2], status = -1;
	uint8_t *mem = MAP_FAILED;
	uint64_t gpa = DATA_GPA + 6 * PAGE;
	uint32_t v = 0, child_saw = 0;
	char c = 0;
	pid_t pid = -1;
	bool ok;

	ok = fd >= 0 && !ftruncate(fd, DATA_PAGES * PAGE) && !pipe(up) && !pipe(down);
	if (ok)
		mem = mmap(NULL, DATA_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ok = ok && mem != MAP_FAILED;
	if (ok)
		pid = fork();
	if (pid == 0) {
		/* A second process with its own mapping of the same memfd. */
		uint32_t *own = mmap(NULL, DATA_PAGES * PAGE, PROT_READ | PROT_WRITE,
				     MAP_SHARED, fd, 0);

		if (own == MAP_FAILED)
			_exit(2);
		own[6 * PAGE / 4] = 0xdddd0001;
		if (write(up[1], &c, 1) != 1 || read(down[0], &c, 1) != 1)
			_exit(3);
		v = own[6 * PAGE / 4];
		_exit(write(up[1], &v, 4) == 4 ? 0 : 4);
	}
	ok = ok && pid > 0 && vm_open(&vm) && !add_slot(&vm, 1, DATA_GPA, DATA_PAGES * PAGE, mem, 0) &&
	     read(up[0], &c, 1) == 1;
	ok = ok && op(&vm, OP_READ, gpa, 0, 0, &v);
	report(ok && v == 0xdddd0001, "memfd: the guest reads what a second process wrote (%#x)", v);
	ok = ok && op(&vm, OP_WRITE, gpa, 0xdddd0002, 0, NULL) && write(down[1], &c, 1) == 1 &&
	     read(up[0], &child_saw, 4) == 4;
	if (pid > 0)
		waitpid(pid, &status, 0);
	report(ok && child_saw == 0xdddd0002 && status == 0,
	       "memfd: the second process reads what the guest wrote (%#x)", child_saw);
	vm_close(&vm);
	if (mem != MAP_FAILED)
		munmap(mem, DATA_PAGES * PAGE);
	close(fd);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
}

/* Read-only VMM memory in a writable slot; and a read-only slot. */
static void test_read_only(void)
{
	struct vm vm = VM_INIT;
	uint8_t *mem = mmap(NULL, DATA_PAGES * PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t gpa = DATA_GPA + PAGE;
	uint32_t v = 0;
	bool ok;

	ok = mem != MAP_FAILED;
	if (ok) {
		*word(mem, 1) = 0xeeee0001;
		ok = !mprotect(mem, DATA_PAGES * PAGE, PROT_READ);
	}
	ok = ok && vm_open(&vm) && !add_slot(&vm, 1, DATA_GPA, DATA_PAGES * PAGE, mem, 0);
	report(ok, "a writable slot over memory the VMM maps read-only is accepted (as on KVM)");
	ok = ok && op(&vm, OP_READ, gpa, 0, 0, &v) && v == 0xeeee0001;
	report(ok,
	       "... the guest reads it (%#x)", v);
	ok = ok && !op(&vm, OP_WRITE, gpa, 1, 0, NULL) && memory_exit(&vm, gpa, true);
	report(ok,
	       "... and a guest write there is INTERNAL_ERROR MEMORY (write) (exit %u/%u)",
	       vm.exit_reason, vm.suberror);
	vm_close(&vm);
	munmap(mem, DATA_PAGES * PAGE);
}

/*
 * A kvm-users member whose RLIMIT_MEMLOCK is 8 MiB runs a 2 GiB guest that
 * writes a word in every 2 MiB of it; the VMM checks each, writes its own,
 * and the guest checks those.
 */
#define BIG_SIZE	(2048UL << 20)
#define BIG_WORDS	(BIG_SIZE >> 21)

static int big_guest(void *unused)
{
	struct rlimit rl = { 8 << 20, 8 << 20 };
	struct vm vm = VM_INIT;
	uint8_t *mem;
	unsigned long i, bad = 0;
	uint32_t v = 0;
	int ret = 0;

	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		return 1;
	mem = mmap(NULL, BIG_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	/*
	 * 4 KiB pages for the VMM too: with THP a word in each 2 MiB would
	 * fault in all 2 GiB, more than the test VM has.
	 */
	if (mem == MAP_FAILED || (thp_kernel() && madvise(mem, BIG_SIZE, MADV_NOHUGEPAGE)) ||
	    !vm_open(&vm))
		return 2;
	if (add_slot(&vm, 1, BIG_GPA, BIG_SIZE, mem, 0))
		return 3;
	if (!op(&vm, OP_FILL, BIG_GPA, 0x5a5a5a5a, BIG_WORDS, &v))
		return 4;
	for (i = 0; i < BIG_WORDS; i++) {
		uint32_t *w = (uint32_t *)(mem + (i << 21));

		if (*w != ((BIG_GPA + (i << 21)) ^ 0x5a5a5a5a))
			bad++;
		*w = (BIG_GPA + (i << 21)) ^ 0xa5a5a5a5;
	}
	if (bad)
		ret |= 8;
	if (!op(&vm, OP_CHECK, BIG_GPA, 0xa5a5a5a5, BIG_WORDS, &v) || v)
		ret |= 16;
	/* Every 2 MiB needs a leaf table: 1024 of them, 2 table pages each at most. */
	if (read_stat("mapped_bytes") < (long)(BIG_WORDS * PAGE))
		ret |= 32;
	vm_close(&vm);
	munmap(mem, BIG_SIZE);
	return ret;
}

static void test_big_member(void)
{
	int ret = run_as(&member, big_guest, NULL);

	report(ret == 0,
	       "a member with RLIMIT_MEMLOCK 8 MiB runs a 2 GiB guest: its write in each 2 MiB reaches the VMM, and the VMM's reach it (status %#x)",
	       ret);
}

/* max_mapped_mb_per_user: RUN fails with EDQUOT at the page over it. */
#define QUOTA_SIZE	(512UL << 20)

static int quota_guest(void *unused)
{
	struct vm vm = VM_INIT;
	uint8_t *mem = mmap(NULL, QUOTA_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint32_t v;
	int ret = 0;

	if (mem == MAP_FAILED || (thp_kernel() && madvise(mem, QUOTA_SIZE, MADV_NOHUGEPAGE)) ||
	    !vm_open(&vm) ||
	    add_slot(&vm, 1, BIG_GPA, QUOTA_SIZE, mem, 0))
		return 1;
	/* 32 words 2 MiB apart: 32 leaves and 32 leaf tables, 256 KiB. */
	if (!op(&vm, OP_FILL, BIG_GPA, 1, 32, &v))
		ret |= 2;
	/* 224 more: 1.75 MiB with their tables, so EDQUOT on the way. */
	if (op(&vm, OP_FILL, BIG_GPA + (64UL << 20), 1, 224, &v) || vm.run_errno != EDQUOT)
		ret |= 4;
	if (read_stat("mapped_bytes") > (1 << 20) || read_stat("mapped_bytes") < (64 << 12))
		ret |= 8;
	/* The guest stays at the access: with room again it goes on. */
	write_param("max_mapped_mb_per_user", "0");
	if (!drive(&vm, NULL, &v))
		ret |= 16;
	vm_close(&vm);
	munmap(mem, QUOTA_SIZE);
	return ret;
}

static void test_quota(void)
{
	int ret;

	write_param("max_mapped_mb_per_user", "1");
	ret = quota_guest(NULL);
	write_param("max_mapped_mb_per_user", "0");
	report(ret == 0,
	       "max_mapped_mb_per_user=1: the guest maps what fits, KQEMU_RUN fails with EDQUOT, and goes on once there is room (status %#x)",
	       ret);
}

static void set_huge_pages(const char *n)
{
	int fd = open("/proc/sys/vm/nr_hugepages", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, n, strlen(n)) < 0)
			perror("nr_hugepages");
		close(fd);
	}
}

/* The VMM writes word i of [base, +size), 2 MiB apart, as gpa ^ key. */
static void vmm_fill(uint8_t *base, uint64_t gpa, unsigned int words, uint32_t key)
{
	unsigned int i;

	for (i = 0; i < words; i++)
		*(uint32_t *)(base + ((size_t)i << 21)) = (uint32_t)(gpa + ((uint64_t)i << 21)) ^ key;
}

static bool vmm_check(const uint8_t *base, uint64_t gpa, unsigned int words, uint32_t key)
{
	unsigned int i;

	for (i = 0; i < words; i++)
		if (*(const uint32_t *)(base + ((size_t)i << 21)) !=
		    ((uint32_t)(gpa + ((uint64_t)i << 21)) ^ key))
			return false;
	return true;
}

/* The kB of AnonHugePages in the VMM's mapping that holds ADDR (smaps). */
static long anon_huge_kb(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long lo, hi, a = (uintptr_t)addr;
	bool in = false;
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = a >= lo && a < hi;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

static uint64_t capability(int devfd, uint32_t cap)
{
	struct kqemu_capability c = { .cap = cap };

	return ioctl(devfd, KQEMU_CHECK_CAPABILITY, &c) ? ~0ULL : c.value;
}

/* 8 MiB at a 2 MiB boundary, in a mapping of 10 MiB (*MAP: its start). */
static uint8_t *map_aligned(int flags, uint8_t **map)
{
	*map = mmap(NULL, 10UL << 20, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (*map == MAP_FAILED)
		return NULL;
	return (uint8_t *)(((uintptr_t)*map + (2UL << 20) - 1) & ~((2UL << 20) - 1));
}

/*
 * Huge pages, THP and hugetlbfs: both ways; where kqemu makes 2 MiB leaves
 * (KQEMU_CAP_HUGE_LEAVES) each touch maps 2 MiB, and when the host splits
 * its huge page (MADV_DONTNEED of one 4 KiB page in it) the guest sees the
 * split: the page the VMM dropped reads 0, its neighbours keep their data.
 */
static void test_huge(void)
{
	const uint64_t thp_gpa = BIG_GPA, tlb_gpa = 2 * BIG_GPA;
	uint8_t *thp_map, *thp = map_aligned(MAP_PRIVATE | MAP_ANONYMOUS, &thp_map);
	uint8_t *tlb_map = MAP_FAILED, *tlb;
	struct vm vm = VM_INIT;
	long before, grew, kb;
	uint32_t v = ~0U;
	bool ok, leaves;

	if (!vm_open(&vm) || !op(&vm, OP_READ, CODE_GPA, 0, 0, &v)) {	/* the code's page, mapped now */
		report(false, "a VM for the huge-page tests");
		vm_close(&vm);
		return;
	}
	leaves = capability(vm.devfd, KQEMU_CAP_HUGE_LEAVES) == 1;
	if (!thp_kernel()) {
		printf("# THP: this kernel has no transparent huge pages, not checked\n");
		goto hugetlb;
	}
	ok = thp && !madvise(thp, 8UL << 20, MADV_HUGEPAGE) &&
	     !add_slot(&vm, 1, thp_gpa, 8UL << 20, thp, 0);
	if (ok) {
		memset(thp, 0, 8UL << 20);
		vmm_fill(thp, thp_gpa, 4, 0x11);
	}
	kb = ok ? anon_huge_kb(thp) : -1;
	before = read_stat("mapped_bytes");
	ok = ok && op(&vm, OP_CHECK, thp_gpa, 0x11, 4, &v);
	grew = read_stat("mapped_bytes") - before;
	report(ok && v == 0, "THP: the guest reads what the VMM wrote (%u differ)", v);
	if (kb == 8192)
		report(grew == (leaves ? 4L << 21 : 4L << 12),
		       "THP: 4 touches map %ld KiB: %s", grew >> 10,
		       leaves ? "a 2 MiB leaf each (KQEMU_CAP_HUGE_LEAVES)" :
				"4 KiB each (this CPU's nested tables have no 2 MiB leaves)");
	else
		report(false, "THP: the VMM's 8 MiB should be huge pages (AnonHugePages %ld kB)", kb);
	ok = ok && op(&vm, OP_FILL, thp_gpa + 64, 0x77, 4, &v);
	report(ok && vmm_check(thp + 64, thp_gpa + 64, 4, 0x77), "THP: the VMM reads what the guest wrote");
	/* The host splits its 2 MiB page: so must kqemu. */
	ok = ok && !madvise(thp + PAGE, PAGE, MADV_DONTNEED);
	ok = ok && op(&vm, OP_READ, thp_gpa + PAGE, 0, 0, &v);
	report(ok && v == 0, "THP split by MADV_DONTNEED of one page: the guest reads that page as 0 (%#x)", v);
	ok = ok && op(&vm, OP_READ, thp_gpa + 64, 0, 0, &v);
	report(ok && v == ((uint32_t)(thp_gpa + 64) ^ 0x77),
	       "... and its neighbour in the same 2 MiB as the guest wrote it (%#x)", v);

hugetlb:
	set_huge_pages("5\n");
	tlb = map_aligned(MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, &tlb_map);
	if (!tlb) {
		report(false, "hugetlbfs: 5 huge pages of 2 MiB: %s", strerror(errno));
	} else {
		vmm_fill(tlb, tlb_gpa, 4, 0x22);
		ok = !add_slot(&vm, 2, tlb_gpa, 8UL << 20, tlb, 0);
		before = read_stat("mapped_bytes");
		v = ~0U;
		ok = ok && op(&vm, OP_CHECK, tlb_gpa, 0x22, 4, &v);
		grew = read_stat("mapped_bytes") - before;
		report(ok && v == 0, "hugetlbfs: the guest reads what the VMM wrote (%u differ)", v);
		report(grew == (leaves ? 4L << 21 : 4L << 12), "hugetlbfs: 4 touches map %ld KiB", grew >> 10);
		ok = ok && op(&vm, OP_FILL, tlb_gpa + 64, 0x99, 4, &v);
		report(ok && vmm_check(tlb + 64, tlb_gpa + 64, 4, 0x99),
		       "hugetlbfs: the VMM reads what the guest wrote");
	}
	vm_close(&vm);
	if (tlb_map != MAP_FAILED)
		munmap(tlb_map, 10UL << 20);
	set_huge_pages("0\n");
	if (thp_map != MAP_FAILED)
		munmap(thp_map, 10UL << 20);
}

/*
 * Swap: a 128 MiB guest in a memory cgroup of 32 MiB, with zram as swap
 * inside this VM.  The guest writes every page, reads every page back,
 * and the VMM checks every page too: reclaim took pages out of the guest
 * (the MMU notifier), swapped them out, and the guest's next touch brought
 * them back, data intact.
 */
#define SWAP_GUEST	(128UL << 20)
#define SWAP_CHUNK	(32UL << 20)
#define SWAP_CGROUP	"/sys/fs/cgroup/kqemu-guestmem"

static int put_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY), ret;

	if (fd < 0)
		return -1;
	ret = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
	close(fd);
	return ret;
}

static long vmstat(const char *name)
{
	FILE *f = fopen("/proc/vmstat", "r");
	char key[64];
	long v, got = -1;

	while (f && fscanf(f, "%63s %ld", key, &v) == 2)
		if (!strcmp(key, name))
			got = v;
	if (f)
		fclose(f);
	return got;
}

static const char NO_ZRAM[] = "this kernel has no zram";

/* zram0 of SIZE bytes as swap: the modules pack-kvm.sh put in /lib/kvm. */
static const char *zram_swap_on(size_t size)
{
	static const char magic[] = "SWAPSPACE2";
	uint8_t page[4096] = { 0 };
	uint32_t *info = (uint32_t *)(page + 1024);
	char line[256], cmd[300];
	FILE *order = fopen("/lib/kvm/order-zram", "r");
	int fd, modules = 0;

	if (!order)
		return "no zram module in this VM (/lib/kvm/order-zram)";
	while (fgets(line, sizeof(line), order)) {
		modules++;
		line[strcspn(line, "\n")] = 0;
		snprintf(cmd, sizeof(cmd), "/lib/kvm/insmod /lib/kvm/%s", line);
		if (system(cmd))
			printf("# swap: %s failed (built in, or loaded already?)\n", cmd);
	}
	fclose(order);
	/* Neither a module nor built in: the debug kernel's defconfig has none. */
	if (!modules && access("/sys/block/zram0", F_OK))
		return NO_ZRAM;
	snprintf(line, sizeof(line), "%zu\n", size);
	if (put_file("/sys/block/zram0/disksize", line))
		return "zram0's disksize";
	/* The swap header mkswap writes: version 1, the last page, magic. */
	info[0] = 1;
	info[1] = size / 4096 - 1;
	memcpy(page + 4096 - 10, magic, 10);
	fd = open("/dev/zram0", O_WRONLY);
	if (fd < 0 || write(fd, page, sizeof(page)) != sizeof(page) || fsync(fd)) {
		if (fd >= 0)
			close(fd);
		return "writing a swap header to /dev/zram0";
	}
	close(fd);
	return swapon("/dev/zram0", 0) ? "swapon /dev/zram0" : NULL;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int swap_guest(void)
{
	struct vm vm = VM_INIT;
	struct timespec t0;
	uint8_t *mem;
	unsigned long i, off, bad = 0, wrong = 0;
	uint32_t v = ~0U;
	char pid[32];
	int ret = 0;

	snprintf(pid, sizeof(pid), "%d\n", getpid());
	if (put_file(SWAP_CGROUP "/cgroup.procs", pid))
		return 1;
	mem = mmap(NULL, SWAP_GUEST, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || (thp_kernel() && madvise(mem, SWAP_GUEST, MADV_NOHUGEPAGE)) ||
	    !vm_open(&vm) || add_slot(&vm, 1, BIG_GPA, SWAP_GUEST, mem, 0))
		return 2;
	stride = PAGE;
	/*
	 * A chunk at a time, each said with the time so far: under Bochs the
	 * whole takes minutes, and a silence of five stops the VM.
	 */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (off = 0; off < SWAP_GUEST; off += SWAP_CHUNK) {
		if (!op(&vm, OP_FILL, BIG_GPA + off, 0x3c3c3c3c, SWAP_CHUNK / PAGE, &v))
			ret |= 4;
		printf("# swap: the guest wrote %lu of %lu MiB (%.1f s)\n", (off + SWAP_CHUNK) >> 20,
		       SWAP_GUEST >> 20, seconds_since(&t0));
	}
	for (off = 0; off < SWAP_GUEST; off += SWAP_CHUNK) {
		if (!op(&vm, OP_CHECK, BIG_GPA + off, 0x3c3c3c3c, SWAP_CHUNK / PAGE, &v))
			ret |= 8;
		wrong += v;
		printf("# swap: the guest read %lu of %lu MiB back (%.1f s)\n", (off + SWAP_CHUNK) >> 20,
		       SWAP_GUEST >> 20, seconds_since(&t0));
	}
	if (wrong)
		ret |= 8;
	for (i = 0; i < SWAP_GUEST / PAGE; i++)
		if (*(uint32_t *)(mem + i * PAGE) != ((uint32_t)(BIG_GPA + i * PAGE) ^ 0x3c3c3c3c))
			bad++;
	if (bad)
		ret |= 16;
	printf("# swap: the guest found %lu pages wrong, the VMM %lu\n", wrong, bad);
	vm_close(&vm);
	return ret;
}

static void test_swap(void)
{
	long out0 = vmstat("pswpout"), in0 = vmstat("pswpin"), out1, in1;
	const char *why = zram_swap_on(256UL << 20);
	int status = -1;
	pid_t pid;

	if (why == NO_ZRAM) {
		printf("# swap: %s, not checked\n", why);
		return;
	}
	if (!why && access("/sys/fs/cgroup/cgroup.controllers", F_OK) &&
	    mount("none", "/sys/fs/cgroup", "cgroup2", 0, NULL))
		why = "mounting cgroup2";
	if (!why && (put_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory") ||
		     (mkdir(SWAP_CGROUP, 0755) && errno != EEXIST) ||
		     put_file(SWAP_CGROUP "/memory.max", "32M")))
		why = "a memory cgroup of 32 MiB";
	if (why) {
		report(false, "swap: %s: %s", why, strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0)
		_exit(swap_guest());
	if (pid > 0)
		waitpid(pid, &status, 0);
	out1 = vmstat("pswpout");
	in1 = vmstat("pswpin");
	report(WIFEXITED(status) && WEXITSTATUS(status) == 0 && out1 > out0 && in1 > in0,
	       "a 128 MiB guest in a 32 MiB memory cgroup, swapping to zram: every page it wrote reads back, in the guest and in the VMM (status %#x; %ld pages out, %ld in)",
	       status, out1 - out0, in1 - in0);
	swapoff("/dev/zram0");
	rmdir(SWAP_CGROUP);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_both_ways();
	test_vmm_changes();
	test_fork();
	test_memfd();
	test_read_only();
	test_big_member();
	test_quota();
	test_huge();
	test_swap();
	report(read_stat("mapped_bytes") == 0 && read_stat("vms") == 0,
	       "after every guest is closed nothing stays mapped (mapped_bytes %ld, vms %ld)",
	       read_stat("mapped_bytes"), read_stat("vms"));
	return 0;
}
