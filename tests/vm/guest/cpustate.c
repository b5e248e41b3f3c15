// SPDX-License-Identifier: GPL-2.0
/*
 * The vCPU state a full VMM saves, restores and injects (issue 15's ABI):
 * the MSR list and the MSRs kqemu keeps, the guest's own TSC, the XSAVE
 * state, events (any vector, exceptions, NMIs and their masking), and a
 * running vCPU moved to a fresh VM by getting and setting all of it.
 *
 * Each guest is a few real-mode instructions (assembled into this program,
 * copied to guest-physical 0x1000) that report through OUT to a port, so
 * that each step is an exit this program checks: which port, which value,
 * in which order, and that nothing else exited in between (an MSR kqemu
 * keeps never reaches userspace).
 * Usage: cpustate     (as root, with kqemu loaded; prints ok/not ok lines)
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <x86intrin.h>

#include "vmtest.h"

#define MEM_SIZE	(1 << 20)
#define CODE_GPA	0x1000

/* --- the guests ------------------------------------------------------- */

#define GUEST(name) extern const unsigned char name##_start[], name##_end[]
GUEST(msr_guest);
GUEST(event_guest);
GUEST(sse_guest);
GUEST(loop_guest);
GUEST(cpuid_guest);
GUEST(dr_guest);
GUEST(tsc_guest);

/* Real mode, CS 0, loaded at CODE_GPA: addresses are label - start + 0x1000. */
asm(".pushsection .rodata\n"
    ".code16\n"
    /* The guest's TSC, twice; EFER and TSC written in the kernel; LSTAR read. */
    "msr_guest_start:\n"
    "	rdtsc\n"
    "	out %eax, $0x10\n"
    "	mov %edx, %eax\n"
    "	out %eax, $0x11\n"
    "	mov $0xc0000080, %ecx\n"
    "	rdmsr\n"
    "	or $0x800, %eax\n"		/* EFER.NXE */
    "	wrmsr\n"
    "	mov $0xc0000082, %ecx\n"	/* LSTAR, as the VMM set it */
    "	rdmsr\n"
    "	out %eax, $0x12\n"
    "	mov %edx, %eax\n"
    "	out %eax, $0x13\n"
    "	mov $0x10, %ecx\n"		/* the TSC: 1 << 40 */
    "	xor %eax, %eax\n"
    "	mov $0x100, %edx\n"
    "	wrmsr\n"
    "	rdtsc\n"
    "	mov %edx, %eax\n"
    "	out %eax, $0x14\n"
    "	hlt\n"
    "msr_guest_end:\n"
    /*
     * Handlers for vectors 2 (NMI), 6 (#UD) and 8 (a PIC's IRQ 0 in real
     * mode), each an exit on entry; the NMI handler makes a second one
     * before its IRET, where the VMM raises another NMI that must wait.
     */
    "event_guest_start:\n"
    "	movw $(ev_nmi - event_guest_start + 0x1000), 8\n"
    "	movw $0, 10\n"
    "	movw $(ev_ud - event_guest_start + 0x1000), 24\n"
    "	movw $0, 26\n"
    "	movw $(ev_irq - event_guest_start + 0x1000), 32\n"
    "	movw $0, 34\n"
    "	sti\n"
    "1:	hlt\n"
    "	jmp 1b\n"
    "ev_nmi:\n"
    "	out %al, $0x22\n"
    "	out %al, $0x23\n"
    "	iret\n"
    "ev_ud:\n"
    "	out %al, $0x26\n"
    "	iret\n"
    "ev_irq:\n"
    "	out %al, $0x28\n"
    "	iret\n"
    "event_guest_end:\n"
    /* XMM0 as the VMM set it out; XMM1 in for the VMM to read. */
    "sse_guest_start:\n"
    "	movd %xmm0, %eax\n"
    "	out %eax, $0x30\n"
    "	mov $0x12345678, %eax\n"
    "	movd %eax, %xmm1\n"
    "	hlt\n"
    "sse_guest_end:\n"
    /*
     * A computation that keeps state in general registers, XMM, the TSC
     * and KERNEL_GS_BASE, with an exit on each of 100 rounds.
     */
    "loop_guest_start:\n"
    "	mov $100, %ecx\n"
    "	mov $7, %ebx\n"
    "	pxor %xmm3, %xmm3\n"
    "2:	imul $31, %ebx, %ebx\n"
    "	add %ecx, %ebx\n"
    "	movd %ebx, %xmm2\n"
    "	paddd %xmm2, %xmm3\n"
    "	push %ecx\n"
    "	mov $0xc0000102, %ecx\n"
    "	rdmsr\n"
    "	add %ebx, %eax\n"
    "	wrmsr\n"
    "	pop %ecx\n"
    "	out %al, $0x40\n"
    "	loop 2b\n"
    "	movd %xmm3, %eax\n"
    "	out %eax, $0x41\n"
    "	mov %ebx, %eax\n"
    "	out %eax, $0x42\n"
    "	mov $0xc0000102, %ecx\n"
    "	rdmsr\n"
    "	out %eax, $0x43\n"
    "	hlt\n"
    "loop_guest_end:\n"
    /* CPUID of leaf 0, leaf 1 and a leaf no table has. */
    "cpuid_guest_start:\n"
    "	xor %eax, %eax\n"
    "	cpuid\n"
    "	mov %ebx, %eax\n"
    "	out %eax, $0x50\n"
    "	mov $1, %eax\n"
    "	cpuid\n"
    "	mov %ecx, %eax\n"
    "	out %eax, $0x51\n"
    "	mov $0x4fffff00, %eax\n"
    "	cpuid\n"
    "	or %ebx, %eax\n"
    "	or %ecx, %eax\n"
    "	or %edx, %eax\n"
    "	out %eax, $0x52\n"
    "	hlt\n"
    "cpuid_guest_end:\n"
    /*
     * MOV DR there and back; a single step (TF), whose #DB handler reports
     * DR6; a DR0 and DR7 for the VMM to read (watchpoints: debug.bin).
     */
    "dr_guest_start:\n"
    "	movw $(dr_db - dr_guest_start + 0x1000), 4\n"
    "	movw $0, 6\n"
    "	mov $0x12345678, %eax\n"
    "	mov %eax, %dr1\n"
    "	xor %eax, %eax\n"
    "	mov %dr1, %eax\n"
    "	out %eax, $0x60\n"
    "	mov $0x3000, %eax\n"
    "	mov %eax, %dr0\n"
    "	mov $0x00010400, %eax\n"	/* RW0 01, L0 off */
    "	mov %eax, %dr7\n"
    "	pushf\n"
    "	mov %sp, %bp\n"
    "	orw $0x100, (%bp)\n"
    "	popf\n"
    "	nop\n"
    "	out %al, $0x63\n"
    "	hlt\n"
    "dr_db:\n"
    "	mov %dr6, %eax\n"
    "	out %eax, $0x62\n"
    "	push %bp\n"
    "	mov %sp, %bp\n"
    "	andw $0xfeff, 6(%bp)\n"	/* the saved FLAGS: no more single steps */
    "	pop %bp\n"
    "	xor %eax, %eax\n"
    "	mov %eax, %dr6\n"
    "	iret\n"
    "dr_guest_end:\n"
    /*
     * 400 rounds: RDTSC, compared with the round before (a step back is
     * counted in ESI), then an exit, after which the VMM may move the
     * vCPU's thread to another host CPU.  Ends with the count of steps back.
     */
    "tsc_guest_start:\n"
    "	xor %esi, %esi\n"
    "	rdtsc\n"
    "	mov %eax, %ebx\n"
    "	mov %edx, %edi\n"
    "	mov $400, %ebp\n"
    "7:	out %al, $0x70\n"
    "	rdtsc\n"
    "	cmp %edi, %edx\n"
    "	ja 8f\n"
    "	jb 9f\n"
    "	cmp %ebx, %eax\n"
    "	ja 8f\n"
    "9:	inc %esi\n"
    "8:	mov %eax, %ebx\n"
    "	mov %edx, %edi\n"
    "	dec %ebp\n"
    "	jnz 7b\n"
    "	mov %esi, %eax\n"
    "	out %eax, $0x71\n"
    "	hlt\n"
    "tsc_guest_end:\n"
    ".code64\n"
    ".popsection\n");

/* --- a VM with one vCPU in real mode ----------------------------------- */

struct vm {
	int devfd, vmfd, cpufd;
	uint8_t *mem;
	struct kqemu_run *run;
};

static struct kqemu_segment seg(uint16_t attrib)
{
	return (struct kqemu_segment){ .attrib = attrib, .limit = 0xffff };
}

static bool vm_open(struct vm *vm, const unsigned char *start, const unsigned char *end)
{
	struct kqemu_memory_slot slot = { .size = MEM_SIZE };
	struct kqemu_create_vcpu cv = { 0 };
	struct kqemu_regs regs = { .rip = CODE_GPA, .rflags = 2, .rsp = 0x8000 };
	struct kqemu_sregs s = { 0 };

	vm->devfd = kqemu_open();
	vm->vmfd = vm->devfd < 0 ? -1 : create_vm(vm->devfd);
	vm->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->vmfd < 0 || vm->mem == MAP_FAILED) {
		report(false, "a VM for the CPU-state tests: %s", strerror(errno));
		return false;
	}
	memcpy(vm->mem + CODE_GPA, start, end - start);
	slot.userspace_addr = (uintptr_t)vm->mem;
	vm->cpufd = -1;
	if (ioctl(vm->vmfd, KQEMU_ADD_MEMORY_SLOT, &slot) ||
	    (vm->cpufd = ioctl(vm->vmfd, KQEMU_CREATE_VCPU, &cv)) < 0) {
		report(false, "a VM for the CPU-state tests: %s", strerror(errno));
		return false;
	}
	vm->run = mmap(NULL, KQEMU_RUN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, vm->cpufd, 0);
	s.cs = seg(0x9b);
	s.ds = s.es = s.fs = s.gs = s.ss = seg(0x93);
	s.tr = seg(0x8b);
	s.ldt = seg(0x82);
	s.gdt.limit = 0xffff;
	s.idt.limit = 0x3ff;
	s.cr0 = 0x10;
	s.cr4 = 0x600;		/* OSFXSR, OSXMMEXCPT: SSE in real mode */
	if (vm->run == MAP_FAILED || ioctl(vm->cpufd, KQEMU_SET_SREGS, &s) ||
	    ioctl(vm->cpufd, KQEMU_SET_REGS, &regs)) {
		report(false, "a vCPU in real mode for the CPU-state tests: %s", strerror(errno));
		return false;
	}
	return true;
}

static void vm_close(struct vm *vm)
{
	munmap(vm->run, KQEMU_RUN_SIZE);
	munmap(vm->mem, MEM_SIZE);
	close(vm->cpufd);
	close(vm->vmfd);
	close(vm->devfd);
}

/*
 * One KQEMU_RUN: the exit it gave, as "io:PORT" (VALUE filled for an OUT),
 * "hlt", "nmi-window", or a word for anything else.
 */
static const char *step(struct vm *vm, uint32_t *value)
{
	static char buf[32];
	struct kqemu_run *r = vm->run;

	if (ioctl(vm->cpufd, KQEMU_RUN, 0)) {
		snprintf(buf, sizeof(buf), "error:%d", errno);
		return buf;
	}
	switch (r->exit_reason) {
	case KQEMU_EXIT_IO:
		*value = 0;
		memcpy(value, (uint8_t *)r + r->io.data_offset, r->io.size);
		snprintf(buf, sizeof(buf), "io:%#x", r->io.port);
		return buf;
	case KQEMU_EXIT_HLT:
		return "hlt";
	case KQEMU_EXIT_NMI_WINDOW:
		return "nmi-window";
	case KQEMU_EXIT_MSR:
		snprintf(buf, sizeof(buf), "msr:%#x", r->msr.index);
		return buf;
	default:
		snprintf(buf, sizeof(buf), "exit:%u", r->exit_reason);
		return buf;
	}
}

/* The next exit must be WANT; its OUT value in *value. */
static bool expect_step(struct vm *vm, const char *want, uint32_t *value, const char *what)
{
	uint32_t v = 0;
	const char *got = step(vm, &v);

	if (value)
		*value = v;
	if (strcmp(got, want)) {
		report(false, "%s: the exit was %s, not %s", what, got, want);
		return false;
	}
	return true;
}

#define MSR_EFER	0xc0000080
#define MSR_STAR	0xc0000081
#define MSR_LSTAR	0xc0000082
#define MSR_KGS		0xc0000102
#define MSR_TSC		0x10

struct msr_list {
	struct kqemu_msr_list head;
	struct kqemu_msr_entry e[KQEMU_MAX_MSR_ENTRIES + 1];
};

static long msrs(int cpufd, unsigned long cmd, struct msr_list *l, unsigned int n)
{
	l->head.nmsrs = n;
	return ioctl(cpufd, cmd, l);
}

static uint64_t get_msr(int cpufd, uint32_t index)
{
	struct msr_list l = { .e[0].index = index };

	if (msrs(cpufd, KQEMU_GET_MSRS, &l, 1) != 1)
		return ~0ULL;
	return l.e[0].data;
}

/* --- MSRs and the TSC -------------------------------------------------- */

static void test_msr_index_list(int devfd)
{
	struct { struct kqemu_msr_index_list head; uint32_t idx[64]; } l = { 0 };
	bool lstar = false, tsc = false, efer = false;
	uint32_t i, n;

	expect_errno(ioctl(devfd, KQEMU_GET_MSR_INDEX_LIST, &l), E2BIG,
		     "MSR index list with no room");
	n = l.head.nmsrs;
	report(n >= 11 && n <= 64, "... says how many it has (%u)", n);
	l.head.flags = 1;
	expect_errno(ioctl(devfd, KQEMU_GET_MSR_INDEX_LIST, &l), EINVAL, "MSR index list with flags");
	l.head.flags = 0;
	l.head.nmsrs = 64;
	expect_ok(ioctl(devfd, KQEMU_GET_MSR_INDEX_LIST, &l), "MSR index list");
	for (i = 0; i < l.head.nmsrs && i < 64; i++) {
		lstar |= l.idx[i] == MSR_LSTAR;
		tsc |= l.idx[i] == MSR_TSC;
		efer |= l.idx[i] == MSR_EFER;
	}
	report(l.head.nmsrs == n && lstar && tsc && efer,
	       "the MSR index list names LSTAR, the TSC and EFER among its %u", l.head.nmsrs);
}

static void test_msr_rules(int cpufd)
{
	struct msr_list l = { 0 };

	l.e[0] = (struct kqemu_msr_entry){ .index = MSR_LSTAR, .data = 0xffff800000001000ULL };
	l.e[1] = (struct kqemu_msr_entry){ .index = MSR_LSTAR, .data = 0x0000800000000000ULL };
	l.e[2] = (struct kqemu_msr_entry){ .index = MSR_STAR, .data = 1 };
	report(msrs(cpufd, KQEMU_SET_MSRS, &l, 3) == 1,
	       "SET_MSRS stops at a non-canonical LSTAR (1 of 3 done)");
	report(get_msr(cpufd, MSR_LSTAR) == 0xffff800000001000ULL && get_msr(cpufd, MSR_STAR) == 0,
	       "... the one before it is set, the ones from it on are not");
	l.e[0] = (struct kqemu_msr_entry){ .index = 0x1234 };
	report(msrs(cpufd, KQEMU_GET_MSRS, &l, 1) == 0, "GET_MSRS of an MSR kqemu does not keep: 0 done");
	l.e[0] = (struct kqemu_msr_entry){ .index = MSR_STAR, .reserved = 1 };
	report(msrs(cpufd, KQEMU_SET_MSRS, &l, 1) == 0, "an MSR entry with reserved set: 0 done");
	l.e[0] = (struct kqemu_msr_entry){ .index = MSR_EFER, .data = 0x100000 };
	report(msrs(cpufd, KQEMU_SET_MSRS, &l, 1) == 0, "SET_MSRS refuses an EFER bit guests do not get");
	expect_errno(msrs(cpufd, KQEMU_GET_MSRS, &l, KQEMU_MAX_MSR_ENTRIES + 1), E2BIG,
		     "GET_MSRS of more than KQEMU_MAX_MSR_ENTRIES");
	l.head.flags = 1;
	expect_errno(msrs(cpufd, KQEMU_GET_MSRS, &l, 1), EINVAL, "GET_MSRS with flags");
	l.head.flags = 0;
	expect_errno(ioctl(cpufd, KQEMU_GET_MSRS, (void *)16), EFAULT, "GET_MSRS with a bad pointer");
}

static void test_msrs_and_tsc(void)
{
	uint64_t before = __rdtsc(), after, lo, hi, guest_tsc, tsc;
	struct msr_list l = { 0 };
	uint32_t v;
	struct vm vm;

	if (!vm_open(&vm, msr_guest_start, msr_guest_end))
		return;
	test_msr_index_list(vm.devfd);
	test_msr_rules(vm.cpufd);
	l.e[0] = (struct kqemu_msr_entry){ .index = MSR_LSTAR, .data = 0xffff8000deadb000ULL };
	report(msrs(vm.cpufd, KQEMU_SET_MSRS, &l, 1) == 1, "SET_MSRS of LSTAR");
	if (!expect_step(&vm, "io:0x10", &v, "the guest's RDTSC"))
		goto out;
	lo = v;
	if (!expect_step(&vm, "io:0x11", &v, "the guest's RDTSC"))
		goto out;
	hi = v;
	after = __rdtsc();
	guest_tsc = hi << 32 | lo;
	report(guest_tsc > 0 && guest_tsc <= after - before,
	       "a new VM's TSC starts at 0: the guest read %llu, %llu host cycles after the VM was made",
	       (unsigned long long)guest_tsc, (unsigned long long)(after - before));
	tsc = get_msr(vm.cpufd, MSR_TSC);
	report(tsc > guest_tsc && tsc <= __rdtsc() - before,
	       "GET_MSRS of the TSC reads the guest's, later than the guest's RDTSC");
	if (!expect_step(&vm, "io:0x12", &v, "RDMSR of LSTAR answered in the kernel"))
		goto out;
	lo = v;
	if (!expect_step(&vm, "io:0x13", &v, "RDMSR of LSTAR answered in the kernel"))
		goto out;
	report((hi = v, (hi << 32 | lo) == 0xffff8000deadb000ULL),
	       "the guest's RDMSR of LSTAR reads what SET_MSRS put there, with no MSR exit");
	if (!expect_step(&vm, "io:0x14", &v, "WRMSR of the TSC in the kernel"))
		goto out;
	report(v == 0x100, "the guest's WRMSR of the TSC (1 << 40) sets its own TSC: RDTSC's high half %#x", v);
	if (!expect_step(&vm, "hlt", NULL, "the MSR guest's end"))
		goto out;
	report(get_msr(vm.cpufd, MSR_EFER) & 0x800,
	       "the guest's WRMSR of EFER.NXE, done in the kernel, is in GET_MSRS");
	report(get_msr(vm.cpufd, MSR_TSC) >> 40 == 1, "... and so is the TSC it wrote");
	l.e[0] = (struct kqemu_msr_entry){ .index = MSR_TSC, .data = 5 };
	msrs(vm.cpufd, KQEMU_SET_MSRS, &l, 1);
	tsc = get_msr(vm.cpufd, MSR_TSC);
	report(tsc >= 5 && tsc < 5 + (__rdtsc() - before), "SET_MSRS of the TSC moves it back to 5 (reads %llu)",
	       (unsigned long long)tsc);
out:
	vm_close(&vm);
}

/* --- events ------------------------------------------------------------ */

static void test_event_rules(int cpufd)
{
	struct kqemu_vcpu_events ev = { 0 }, got;
	struct kqemu_interrupt irq = { .vector = 0 };

	expect_ok(ioctl(cpufd, KQEMU_SET_VCPU_EVENTS, &ev), "SET_VCPU_EVENTS of nothing (a reset)");
	ev.exception.pending = 1;
	ev.exception.vector = 32;
	expect_errno(ioctl(cpufd, KQEMU_SET_VCPU_EVENTS, &ev), EINVAL, "an exception vector above 31");
	ev.exception.vector = 2;
	expect_errno(ioctl(cpufd, KQEMU_SET_VCPU_EVENTS, &ev), EINVAL, "an exception with the NMI's vector");
	ev.exception.vector = 6;
	ev.interrupt.shadow = 4;
	expect_errno(ioctl(cpufd, KQEMU_SET_VCPU_EVENTS, &ev), EINVAL, "an unknown interrupt-shadow bit");
	ev.interrupt.shadow = 0;
	ev.reinject.valid = 1;
	ev.reinject.type = 7;
	expect_errno(ioctl(cpufd, KQEMU_SET_VCPU_EVENTS, &ev), EINVAL, "a reinjected event of type 7");
	ev.reinject.type = KQEMU_EVENT_NMI;
	ev.reinject.vector = 3;
	expect_errno(ioctl(cpufd, KQEMU_SET_VCPU_EVENTS, &ev), EINVAL, "a reinjected NMI with vector 3");
	ev.reinject = (typeof(ev.reinject)){ 0 };
	ev.reserved[6] = 1;
	expect_errno(ioctl(cpufd, KQEMU_SET_VCPU_EVENTS, &ev), EINVAL, "SET_VCPU_EVENTS with reserved set");
	ev.reserved[6] = 0;
	ev.interrupt.pending = 1;
	ev.interrupt.vector = 0x31;
	expect_ok(ioctl(cpufd, KQEMU_SET_VCPU_EVENTS, &ev), "SET_VCPU_EVENTS: #UD and vector 0x31 pending");
	memset(&got, 0xff, sizeof(got));
	expect_ok(ioctl(cpufd, KQEMU_GET_VCPU_EVENTS, &got), "GET_VCPU_EVENTS");
	report(!memcmp(&got, &ev, sizeof(ev)), "GET_VCPU_EVENTS gives back what SET put there");
	expect_errno(ioctl(cpufd, KQEMU_INTERRUPT, &irq), EBUSY, "INTERRUPT while SET_VCPU_EVENTS's waits");
	memset(&ev, 0, sizeof(ev));
	ioctl(cpufd, KQEMU_SET_VCPU_EVENTS, &ev);
	expect_ok(ioctl(cpufd, KQEMU_INTERRUPT, &irq), "INTERRUPT of vector 0 (a real-mode PIC's range)");
	ioctl(cpufd, KQEMU_SET_VCPU_EVENTS, &ev);
	expect_errno(ioctl(cpufd, KQEMU_GET_VCPU_EVENTS, (void *)16), EFAULT, "GET_VCPU_EVENTS with a bad pointer");
}

static void test_events(void)
{
	struct kqemu_interrupt irq = { .vector = 8 };
	struct kqemu_vcpu_events ev = { 0 };
	unsigned int i, irqs = 0, nmis = 0, ends = 0, steps, halts = 0;
	bool nested = false, masked_seen = false;
	uint32_t v;
	struct vm vm;
	const char *e;

	if (!vm_open(&vm, event_guest_start, event_guest_end))
		return;
	test_event_rules(vm.cpufd);
	if (!expect_step(&vm, "hlt", NULL, "the event guest's first HLT"))
		goto out;
	/* A real-mode PIC's IRQ 0 is vector 8: ten of them, each taken once. */
	for (i = 0; i < 10; i++) {
		ioctl(vm.cpufd, KQEMU_INTERRUPT, &irq);
		if (!expect_step(&vm, "io:0x28", NULL, "an injected vector 8") ||
		    !expect_step(&vm, "hlt", NULL, "back from vector 8's handler"))
			goto out;
		irqs++;
	}
	report(irqs == 10, "10 external interrupts at vector 8 reach the real-mode handler");

	ev.exception.pending = 1;
	ev.exception.vector = 6;
	ioctl(vm.cpufd, KQEMU_SET_VCPU_EVENTS, &ev);
	report(expect_step(&vm, "io:0x26", NULL, "an injected #UD") &&
	       expect_step(&vm, "hlt", NULL, "back from the #UD handler"),
	       "an exception injected through SET_VCPU_EVENTS reaches its handler");
	/* An error code in real mode is dropped, as no CPU pushes one there. */
	ev.exception.has_error = 1;
	ev.exception.error = 0x1234;
	ioctl(vm.cpufd, KQEMU_SET_VCPU_EVENTS, &ev);
	report(expect_step(&vm, "io:0x26", NULL, "an injected #UD with an error code") &&
	       expect_step(&vm, "hlt", NULL, "back from the #UD handler, its stack as it was"),
	       "... and one given an error code in real mode arrives without it (the handler's IRET returns)");

	if (ioctl(vm.cpufd, KQEMU_NMI, 0)) {
		report(errno == EOPNOTSUPP, "KQEMU_NMI: EOPNOTSUPP (no virtual NMIs here), %s", strerror(errno));
		goto out;
	}
	/*
	 * The NMI handler exits twice; at its first exit the VMM raises a
	 * second NMI, which must not enter the handler before its IRET.
	 */
	for (steps = 0; steps < 20 && nmis + ends < 4; steps++) {
		e = step(&vm, &v);
		if (!strcmp(e, "io:0x22")) {
			nested |= nmis != ends;
			if (++nmis == 1) {
				ioctl(vm.cpufd, KQEMU_NMI, 0);
				memset(&ev, 0, sizeof(ev));
				ioctl(vm.cpufd, KQEMU_GET_VCPU_EVENTS, &ev);
				masked_seen = ev.nmi.masked && ev.nmi.pending;
			}
		} else if (!strcmp(e, "io:0x23")) {
			ends++;
		} else if (!strcmp(e, "hlt")) {
			halts++;
		} else {
			report(false, "an NMI: the exit was %s", e);
			goto out;
		}
	}
	report(nmis == 2 && ends == 2, "two NMIs reach the NMI handler, one after the other (%u in, %u out)",
	       nmis, ends);
	report(!nested, "the second NMI waits for the first handler's IRET (NMI masking)");
	report(masked_seen, "GET_VCPU_EVENTS inside the handler: NMIs masked, one pending");
	if (!expect_step(&vm, "hlt", NULL, "back from the NMI handler"))
		goto out;
	vm.run->request_nmi_window = 1;
	report(expect_step(&vm, "nmi-window", NULL, "an NMI window outside the handler"),
	       "request_nmi_window outside the handler: an NMI-window exit at once");
	vm.run->request_nmi_window = 0;
out:
	vm_close(&vm);
}

/* --- XSAVE --------------------------------------------------------------- */

static void test_xsave(void)
{
	struct kqemu_xsave *x = calloc(1, sizeof(*x)), *bad = calloc(1, sizeof(*x));
	uint32_t v, pattern = 0xa5c3e1f7;
	struct vm vm;

	if (!x || !bad || !vm_open(&vm, sse_guest_start, sse_guest_end))
		goto out_free;
	expect_ok(ioctl(vm.cpufd, KQEMU_GET_XSAVE, x), "GET_XSAVE");
	report(x->xcr0 == 1 && *(uint16_t *)x->region == 0x37f &&
	       *(uint32_t *)(x->region + 24) == 0x1f80 && (x->size == 512 || x->size >= 576),
	       "a new vCPU's FPU: XCR0 1, FCW 0x37f, MXCSR 0x1f80 (%u bytes)", x->size);
	memcpy(x->region + 160, &pattern, 4);	/* XMM0 */
	/* XRSTOR takes a component whose XSTATE_BV bit is clear as initial. */
	if (x->size > 512)
		x->region[512] |= 2;
	expect_ok(ioctl(vm.cpufd, KQEMU_SET_XSAVE, x), "SET_XSAVE with XMM0 set");
	memcpy(bad, x, sizeof(*x));
	*(uint32_t *)(bad->region + 24) = 0xffffffff;
	expect_errno(ioctl(vm.cpufd, KQEMU_SET_XSAVE, bad), EINVAL, "SET_XSAVE with MXCSR's reserved bits");
	memcpy(bad, x, sizeof(*x));
	bad->xcr0 = 0;
	expect_errno(ioctl(vm.cpufd, KQEMU_SET_XSAVE, bad), EINVAL, "SET_XSAVE with XCR0 0");
	bad->xcr0 = 5;
	expect_errno(ioctl(vm.cpufd, KQEMU_SET_XSAVE, bad), EINVAL, "SET_XSAVE with AVX but not SSE in XCR0");
	if (x->size > 512) {
		memcpy(bad, x, sizeof(*x));
		bad->region[512 + 15] = 0x80;	/* XCOMP_BV: compacted */
		expect_errno(ioctl(vm.cpufd, KQEMU_SET_XSAVE, bad), EINVAL, "SET_XSAVE in the compacted form");
		memcpy(bad, x, sizeof(*x));
		bad->region[512 + 7] = 0x80;	/* XSTATE_BV bit 63 */
		expect_errno(ioctl(vm.cpufd, KQEMU_SET_XSAVE, bad), EINVAL,
			     "SET_XSAVE with a component kqemu does not switch");
	}
	memcpy(bad, x, sizeof(*x));
	bad->reserved[0] = 1;
	expect_errno(ioctl(vm.cpufd, KQEMU_SET_XSAVE, bad), EINVAL, "SET_XSAVE with reserved set");
	if (expect_step(&vm, "io:0x30", &v, "the SSE guest's XMM0"))
		report(v == pattern, "the guest's XMM0 is what SET_XSAVE gave (%#x)", v);
	if (expect_step(&vm, "hlt", NULL, "the SSE guest's end")) {
		ioctl(vm.cpufd, KQEMU_GET_XSAVE, x);
		memcpy(&v, x->region + 176, 4);
		report(v == 0x12345678, "GET_XSAVE gives the XMM1 the guest wrote (%#x)", v);
	}
	vm_close(&vm);
out_free:
	free(x);
	free(bad);
}

/* --- a running vCPU moved to a new VM ------------------------------------ */

struct vcpu_state {
	struct kqemu_regs regs;
	struct kqemu_sregs sregs;
	struct msr_list msrs;
	unsigned int nmsrs;
	struct kqemu_xsave xsave;
	struct kqemu_vcpu_events events;
};

static bool save_state(struct vm *vm, struct vcpu_state *st)
{
	struct { struct kqemu_msr_index_list head; uint32_t idx[64]; } l = { .head.nmsrs = 64 };
	unsigned int i;

	if (ioctl(vm->devfd, KQEMU_GET_MSR_INDEX_LIST, &l))
		return false;
	for (i = 0; i < l.head.nmsrs; i++)
		st->msrs.e[i] = (struct kqemu_msr_entry){ .index = l.idx[i] };
	st->nmsrs = l.head.nmsrs;
	return !ioctl(vm->cpufd, KQEMU_GET_REGS, &st->regs) &&
	       !ioctl(vm->cpufd, KQEMU_GET_SREGS, &st->sregs) &&
	       msrs(vm->cpufd, KQEMU_GET_MSRS, &st->msrs, st->nmsrs) == st->nmsrs &&
	       !ioctl(vm->cpufd, KQEMU_GET_XSAVE, &st->xsave) &&
	       !ioctl(vm->cpufd, KQEMU_GET_VCPU_EVENTS, &st->events);
}

static bool restore_state(struct vm *vm, struct vcpu_state *st)
{
	return !ioctl(vm->cpufd, KQEMU_SET_SREGS, &st->sregs) &&
	       !ioctl(vm->cpufd, KQEMU_SET_REGS, &st->regs) &&
	       msrs(vm->cpufd, KQEMU_SET_MSRS, &st->msrs, st->nmsrs) == st->nmsrs &&
	       !ioctl(vm->cpufd, KQEMU_SET_XSAVE, &st->xsave) &&
	       !ioctl(vm->cpufd, KQEMU_SET_VCPU_EVENTS, &st->events);
}

/* Runs the loop guest to its end; MOVE_AT > 0: moves it after that many rounds. */
static bool run_loop(unsigned int move_at, uint32_t out[3])
{
	struct vcpu_state *st = calloc(1, sizeof(*st));
	struct msr_list l = { 0 };
	unsigned int rounds = 0;
	bool ok = false;
	struct vm vm, vm2;
	uint32_t v;
	const char *e;

	if (!st || !vm_open(&vm, loop_guest_start, loop_guest_end))
		goto out_free;
	l.e[0] = (struct kqemu_msr_entry){ .index = MSR_KGS, .data = 0x1000 };
	msrs(vm.cpufd, KQEMU_SET_MSRS, &l, 1);
	for (;;) {
		e = step(&vm, &v);
		if (!strcmp(e, "io:0x40")) {
			if (++rounds != move_at)
				continue;
			if (!vm_open(&vm2, loop_guest_start, loop_guest_end)) {
				vm_close(&vm);
				goto out_free;
			}
			if (!save_state(&vm, st) || (memcpy(vm2.mem, vm.mem, MEM_SIZE), !restore_state(&vm2, st))) {
				report(false, "moving a vCPU: get or set of its state failed: %s", strerror(errno));
				vm_close(&vm2);
				break;
			}
			vm_close(&vm);
			vm = vm2;
		} else if (!strcmp(e, "io:0x41")) {
			out[0] = v;
		} else if (!strcmp(e, "io:0x42")) {
			out[1] = v;
		} else if (!strcmp(e, "io:0x43")) {
			out[2] = v;
		} else {
			ok = !strcmp(e, "hlt") && rounds == 100;
			if (!ok)
				report(false, "the loop guest after %u rounds: exit %s", rounds, e);
			break;
		}
	}
	vm_close(&vm);
out_free:
	free(st);
	return ok;
}

static void test_move(void)
{
	uint32_t plain[3] = { 0 }, moved[3] = { 1 };

	if (!run_loop(0, plain) || !run_loop(50, moved))
		return;
	report(!memcmp(plain, moved, sizeof(plain)),
	       "a vCPU got and set into a new VM halfway gives the same result as one run through (%#x %#x %#x)",
	       moved[0], moved[1], moved[2]);
}

/* --- CPUID ----------------------------------------------------------------- */

struct cpuid_table {
	struct kqemu_cpuid head;
	struct kqemu_cpuid_entry e[KQEMU_MAX_CPUID_ENTRIES + 1];
};

static const struct kqemu_cpuid_entry *find_leaf(const struct cpuid_table *t, uint32_t fn, uint32_t idx)
{
	unsigned int i;

	for (i = 0; i < t->head.nent; i++)
		if (t->e[i].function == fn && t->e[i].index == idx)
			return &t->e[i];
	return NULL;
}

static uint64_t capability(int devfd, uint32_t cap)
{
	struct kqemu_capability c = { .cap = cap };

	return ioctl(devfd, KQEMU_CHECK_CAPABILITY, &c) ? 0 : c.value;
}

static void test_cpuid(void)
{
	struct cpuid_table *t = calloc(1, sizeof(*t)), *bad = calloc(1, sizeof(*t));
	const struct kqemu_cpuid_entry *l0, *l1, *l7, *x1, *x8;
	uint32_t v, vendor_ebx, n;
	struct kqemu_regs regs = { .rip = CODE_GPA, .rflags = 2, .rsp = 0x8000 };
	struct kqemu_sregs sr;
	bool xsave;
	struct vm vm;

	if (!t || !bad || !vm_open(&vm, cpuid_guest_start, cpuid_guest_end))
		goto out_free;
	xsave = capability(vm.devfd, KQEMU_CAP_XFEATURES) != 0;
	report(capability(vm.devfd, KQEMU_CAP_CPUID) == 1, "KQEMU_CAP_CPUID is 1");
	expect_errno(ioctl(vm.devfd, KQEMU_GET_SUPPORTED_CPUID, t), E2BIG, "GET_SUPPORTED_CPUID with no room");
	n = t->head.nent;
	report(n > 4 && n <= KQEMU_MAX_CPUID_ENTRIES, "... says how many leaves it has (%u)", n);
	t->head.nent = KQEMU_MAX_CPUID_ENTRIES;
	t->head.flags = 1;
	expect_errno(ioctl(vm.devfd, KQEMU_GET_SUPPORTED_CPUID, t), EINVAL, "GET_SUPPORTED_CPUID with flags");
	t->head.flags = 0;
	expect_ok(ioctl(vm.devfd, KQEMU_GET_SUPPORTED_CPUID, t), "GET_SUPPORTED_CPUID");
	l0 = find_leaf(t, 0, 0);
	l1 = find_leaf(t, 1, 0);
	l7 = find_leaf(t, 7, 0);
	x1 = find_leaf(t, 0x80000001, 0);
	x8 = find_leaf(t, 0x80000008, 0);
	if (!l0 || !l1 || !x1) {
		report(false, "the supported CPUID has leaves 0, 1 and 0x80000001");
		goto out;
	}
	report(t->head.nent == n, "GET_SUPPORTED_CPUID gives as many as it said");
	report(l1->ecx >> 31 & 1, "the supported CPUID says a hypervisor is there (leaf 1 ECX bit 31)");
	report(!(l1->ecx & (1 << 5)) && !(x1->ecx & (1 << 2)),
	       "... and offers neither VMX nor SVM (no nested virtualization)");
	report(!(l1->ecx & (1 << 3)) && !(l1->ecx & (1 << 27)), "... nor MONITOR, nor OSXSAVE (CR4's, at run time)");
	report(!!(l1->ecx & (1 << 26)) == xsave, "... XSAVE exactly where kqemu switches its state");
	report(!l7 || (!(l7->ecx & (1 << 16)) && !(l7->ecx & (1 << 3))), "... neither LA57 nor PKU");
	report(!x8 || (x8->eax & 0xff) <= 48, "... guest-physical addresses of at most 48 bits");
	vendor_ebx = l0->ebx;

	/* The rules of SET_CPUID. */
	memcpy(bad, t, sizeof(*t));
	bad->head.nent = KQEMU_MAX_CPUID_ENTRIES + 1;
	expect_errno(ioctl(vm.cpufd, KQEMU_SET_CPUID, bad), E2BIG, "SET_CPUID above KQEMU_MAX_CPUID_ENTRIES");
	bad->head.nent = t->head.nent;
	bad->e[0].padding = 1;
	expect_errno(ioctl(vm.cpufd, KQEMU_SET_CPUID, bad), EINVAL, "SET_CPUID with an entry's padding set");
	bad->e[0].padding = 0;
	bad->e[0].flags = 2;
	expect_errno(ioctl(vm.cpufd, KQEMU_SET_CPUID, bad), EINVAL, "SET_CPUID with unknown entry flags");
	bad->e[0].flags = t->e[0].flags;
	bad->e[bad->head.nent] = bad->e[0];
	bad->head.nent++;
	expect_errno(ioctl(vm.cpufd, KQEMU_SET_CPUID, bad), EINVAL, "SET_CPUID with one leaf twice");

	/* The guest's CPUID answered from its table, with no exit. */
	expect_ok(ioctl(vm.cpufd, KQEMU_SET_CPUID, t), "SET_CPUID with the supported table");
	if (xsave) {
		ioctl(vm.cpufd, KQEMU_GET_SREGS, &sr);
		sr.cr4 |= 1 << 18;	/* OSXSAVE */
		expect_ok(ioctl(vm.cpufd, KQEMU_SET_SREGS, &sr), "CR4.OSXSAVE for the CPUID guest");
	}
	if (expect_step(&vm, "io:0x50", &v, "CPUID leaf 0 from the table"))
		report(v == vendor_ebx, "the guest's CPUID leaf 0 is the table's, with no CPUID exit");
	if (expect_step(&vm, "io:0x51", &v, "CPUID leaf 1 from the table"))
		report(!!(v & (1 << 27)) == xsave && (v >> 31 & 1),
		       "leaf 1 from the table, OSXSAVE as the guest's CR4 has it (ECX %#x)", v);
	if (expect_step(&vm, "io:0x52", &v, "a leaf the table lacks"))
		report(v == 0, "a leaf the table lacks reads as 0");
	expect_step(&vm, "hlt", NULL, "the CPUID guest's end");

	t->head.nent = 0;
	expect_ok(ioctl(vm.cpufd, KQEMU_SET_CPUID, t), "SET_CPUID with no entries");
	ioctl(vm.cpufd, KQEMU_SET_REGS, &regs);
	if (step(&vm, &v), vm.run->exit_reason == KQEMU_EXIT_CPUID)
		report(vm.run->cpuid.function == 0, "... and CPUID exits to userspace again");
	else
		report(false, "after SET_CPUID with no entries: exit %u, not CPUID", vm.run->exit_reason);
out:
	vm_close(&vm);
out_free:
	free(t);
	free(bad);
}

/* --- debug registers ------------------------------------------------------- */

static void test_debugregs(void)
{
	struct kqemu_debugregs d = { 0 }, bad;
	uint32_t v;
	struct vm vm;

	if (!vm_open(&vm, dr_guest_start, dr_guest_end))
		return;
	expect_ok(ioctl(vm.cpufd, KQEMU_GET_DEBUGREGS, &d), "GET_DEBUGREGS");
	report(d.dr6 == 0xffff0ff0 && d.dr7 == 0x400 && !d.db[0] && !d.db[3],
	       "a new vCPU's DR6 is 0xffff0ff0 and DR7 0x400 (%#llx %#llx)",
	       (unsigned long long)d.dr6, (unsigned long long)d.dr7);
	bad = d;
	bad.dr7 = 1ULL << 32;
	expect_errno(ioctl(vm.cpufd, KQEMU_SET_DEBUGREGS, &bad), EINVAL, "SET_DEBUGREGS with DR7 bit 32");
	bad = d;
	bad.reserved[4] = 1;
	expect_errno(ioctl(vm.cpufd, KQEMU_SET_DEBUGREGS, &bad), EINVAL, "SET_DEBUGREGS with reserved set");
	bad = d;
	bad.db[2] = 0xabcd;
	bad.dr6 = 0;
	expect_ok(ioctl(vm.cpufd, KQEMU_SET_DEBUGREGS, &bad), "SET_DEBUGREGS of DR2 and a DR6 of 0");
	ioctl(vm.cpufd, KQEMU_GET_DEBUGREGS, &d);
	report(d.db[2] == 0xabcd && d.dr6 == 0xffff0ff0,
	       "... DR2 is set, and DR6 keeps the bits a CPU has fixed (%#llx)", (unsigned long long)d.dr6);

	if (expect_step(&vm, "io:0x60", &v, "MOV to DR1 and back"))
		report(v == 0x12345678, "the guest's MOV to DR1 and back gives what it wrote (%#x)", v);
	/* Bochs's SVM sets no DR6 bits for an intercepted #DB (KVM's guest neither). */
	if (expect_step(&vm, "io:0x62", &v, "the single step's #DB") &&
	    !(getenv("KQEMU_NO_DR6") && *getenv("KQEMU_NO_DR6")))
		report(v & (1 << 14), "a single step (TF) raises #DB in the guest, DR6.BS set (%#x)", v);
	if (expect_step(&vm, "io:0x63", NULL, "back from the single step") &&
	    expect_step(&vm, "hlt", NULL, "the DR guest's end")) {
		ioctl(vm.cpufd, KQEMU_GET_DEBUGREGS, &d);
		report(d.db[0] == 0x3000 && d.db[1] == 0x12345678 && d.dr7 == 0x10400,
		       "GET_DEBUGREGS gives the DR0, DR1 and DR7 the guest wrote");
	}
	vm_close(&vm);
}

/* --- the TSC across exits and host CPUs ---------------------------------- */

static void test_tsc_monotonic(void)
{
	unsigned int rounds = 0, moves = 0, ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t all, one;
	uint32_t v = ~0U;
	struct vm vm;
	const char *e;

	if (!vm_open(&vm, tsc_guest_start, tsc_guest_end))
		return;
	sched_getaffinity(0, sizeof(all), &all);
	for (;;) {
		e = step(&vm, &v);
		if (strcmp(e, "io:0x70"))
			break;
		rounds++;
		/* Every 4th exit, onto the next host CPU. */
		if (ncpus > 1 && rounds % 4 == 0) {
			CPU_ZERO(&one);
			CPU_SET((rounds / 4) % ncpus, &one);
			if (!sched_setaffinity(0, sizeof(one), &one))
				moves++;
		}
	}
	sched_setaffinity(0, sizeof(all), &all);
	if (strcmp(e, "io:0x71") || rounds != 400)
		report(false, "the TSC guest after %u rounds: exit %s", rounds, e);
	else
		report(v == 0, "the guest's TSC never steps back across 400 exits and %u moves between %u host CPUs (%u steps back)",
		       moves, ncpus, v);
	vm_close(&vm);
}

/* --- reset -------------------------------------------------------------- */

/*
 * Back to power-on by the ABI alone: a vCPU that ran is given the state a
 * new one has, as a VMM does for INIT or a system reset, and must then
 * read back exactly what a new vCPU reads.
 */
static void test_reset(void)
{
	struct vcpu_state *ran = calloc(1, sizeof(*ran)), *fresh = calloc(1, sizeof(*fresh));
	struct vcpu_state *after = calloc(1, sizeof(*after));
	struct kqemu_create_vcpu cv = { .id = 1 };
	struct kqemu_debugregs d_fresh, d_after;
	unsigned int i;
	struct vm vm;
	int cpu2;
	uint32_t v;

	if (!ran || !fresh || !after || !vm_open(&vm, loop_guest_start, loop_guest_end))
		goto out_free;
	for (i = 0; i < 30; i++)
		step(&vm, &v);
	cpu2 = ioctl(vm.vmfd, KQEMU_CREATE_VCPU, &cv);
	if (cpu2 < 0 || !save_state(&vm, ran)) {
		report(false, "a second vCPU to compare a reset with: %s", strerror(errno));
		goto out;
	}
	/* The new vCPU's state, as the ABI reads it, is the reset state. */
	{
		struct vm fresh_vm = vm;

		fresh_vm.cpufd = cpu2;
		if (!save_state(&fresh_vm, fresh) || ioctl(cpu2, KQEMU_GET_DEBUGREGS, &d_fresh) ||
		    !restore_state(&vm, fresh) || ioctl(vm.cpufd, KQEMU_SET_DEBUGREGS, &d_fresh) ||
		    !save_state(&vm, after) || ioctl(vm.cpufd, KQEMU_GET_DEBUGREGS, &d_after)) {
			report(false, "reset by SET of a new vCPU's state: %s", strerror(errno));
			close(cpu2);
			goto out;
		}
	}
	close(cpu2);
	report(memcmp(&ran->regs, &fresh->regs, sizeof(ran->regs)) != 0,
	       "the vCPU that ran differs from a new one before the reset");
	/* The TSC runs on: compare all but it. */
	for (i = 0; i < after->nmsrs; i++)
		if (after->msrs.e[i].index == MSR_TSC)
			after->msrs.e[i].data = fresh->msrs.e[i].data = 0;
	report(!memcmp(&after->regs, &fresh->regs, sizeof(after->regs)) &&
	       !memcmp(&after->sregs, &fresh->sregs, sizeof(after->sregs)) &&
	       !memcmp(&after->msrs, &fresh->msrs, sizeof(after->msrs)) &&
	       !memcmp(&after->xsave, &fresh->xsave, sizeof(after->xsave)) &&
	       !memcmp(&after->events, &fresh->events, sizeof(after->events)) &&
	       !memcmp(&d_after, &d_fresh, sizeof(d_after)),
	       "after a reset by the ABI a vCPU reads exactly as a new one: registers, MSRs, FPU, events, debug registers");
out:
	vm_close(&vm);
out_free:
	free(ran);
	free(fresh);
	free(after);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_msrs_and_tsc();
	test_events();
	test_xsave();
	test_move();
	test_cpuid();
	test_debugregs();
	test_tsc_monotonic();
	test_reset();
	return 0;
}
