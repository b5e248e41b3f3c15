// SPDX-License-Identifier: GPL-2.0
/*
 * kqemu-run: the demo VMM.  It loads a flat binary guest, starts it in real
 * or long mode, connects a serial port (0x3f8) to stdout and an exit port
 * (0xf4) to its own exit status, and reports what else the guest does.
 * With --kvm it runs the same guest on /dev/kvm, so that the two can be
 * compared in one boot.
 *
 * Every failure is one sentence that says what is wrong and what to do.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/hw_breakpoint.h>
#include <linux/kqemu.h>
#include <linux/perf_event.h>
#include <linux/kvm.h>

/* Exit statuses of kqemu-run itself; below 120 the guest chose it. */
#define EXIT_SETUP	125	/* kqemu-run could not start the guest */
#define EXIT_SHUTDOWN	124	/* triple fault */
#define EXIT_FAILED	123	/* the CPU refused the guest, or kqemu gave up */
#define EXIT_TIMEOUT	122

#define SERIAL_PORT	0x3f8
#define EXIT_PORT	0xf4
#define RESULT_PORT	0x500	/* 32-bit writes: results the host checks */
#define IRQ_PORT	0x510	/* a write raises the timer interrupt */
#define SIPI_PORT	0x520	/* --sipi: a 32-bit write (id << 8 | vector) starts vCPU id */
#define CR8_PORT	0x524	/* a write of the guest's CR8: the run area must say the same */
/*
 * The string I/O test device (tests/guests/strio.c), one stream each way:
 * bytes written to STRIO_DATA are counted and hashed (FNV-1a), bytes read
 * from it are strio_pattern()'s; the other ports read back the hash, the
 * two counts and the exits the data port took, and a write to STRIO_RESET
 * starts them all again.
 */
#define STRIO_DATA	0x540
#define STRIO_HASH	0x544
#define STRIO_OUT_COUNT	0x548
#define STRIO_IN_COUNT	0x54c
#define STRIO_EXITS	0x554
#define STRIO_RESET	0x550
/* An MSR of this VMM's own, which kqemu leaves to userspace. */
#define SCRATCH_MSR	0x40000100
#define MMIO_BASE	0xd0000000ULL	/* a device with 8 registers */
#define ROM_BASE	0xe0000000ULL	/* a read-only slot */
#define LONG_LOAD	0x100000ULL
#define REAL_LOAD	0x7c00ULL
#define PAGE_TABLES	0x1000ULL	/* long mode: identity map, from here */
#define DATA_BASE	0x400000ULL	/* --fill: the hash guest's input */
#define PAGES_START	0x200000ULL	/* --pages: from here to 1 MiB below the top */
#define PAGES_MAGIC	0x6b71656d75706773ULL

struct vm;

struct vcpu {
	struct vm *vm;
	int id, fd;
	struct kqemu_run *krun;
	struct kvm_run *kvm_run;
	pthread_t thread;	/* main's handle, to join it */
	/*
	 * What stop_all kicks: the thread's own id, which the thread sets,
	 * and kickable, which it sets and clears, under vm->lock.  Not
	 * `thread': pthread_create writes that while another vCPU may
	 * already be stopping the VM, and after pthread_join it names a
	 * descriptor in a stack glibc may have unmapped (pthread_kill then
	 * faults on its lock: the `make bench' segfault of issue 15).
	 */
	pthread_t self;
	bool kickable;
	unsigned long exits, timer_irqs, irq_windows;
	bool irq_pending;
	uint64_t scratch_msr;	/* SCRATCH_MSR, the one MSR this VMM keeps */
	int result;
	int sipi_vector;	/* --sipi: -1 until a SIPI starts this AP */
};

struct vm {
	bool kvm;
	int sysfd, fd;
	uint8_t *mem;
	size_t mem_size;
	uint64_t mmio_regs[8];
	uint32_t results[16];
	uint32_t strio_hash, strio_out, strio_in, strio_exits;
	int nvcpus;
	struct vcpu vcpus[KQEMU_MAX_VCPUS];
	/* Guards stop and exit_code, the kicks, and the devices' registers. */
	pthread_mutex_t lock;
	bool stop;	/* set under lock; read anywhere with stopping() */
	pthread_cond_t sipi;	/* --sipi: an AP's SIPI came, or the VM stops */
	int exit_code;
};

static struct {
	const char *image;
	bool real_mode, kvm, trace, quiet;
	bool cpuid_host;	/* --cpuid host: the table in the kernel, no CPUID exits */
	bool sipi;		/* --sipi: vCPUs 1.. wait for a SIPI through SIPI_PORT */
	unsigned long mem_mib;
	int smp, timer_irqs, timeout, cpu;
	unsigned long arg;
	unsigned long fill_seed;
	bool bench, invalid_cs, refused_first, pages, watch;
} opt = { .mem_mib = 6, .smp = 1, .timeout = 60, .cpu = -1 };

static uint64_t guest_xfeatures;	/* KQEMU_CAP_XFEATURES */

static const char *accel_name(void)
{
	return opt.kvm ? "/dev/kvm" : "/dev/kqemu";
}

/* Whether this is an Intel CPU (VT-x), whose words differ from AMD's (SVM). */
static bool intel_cpu(void)
{
	unsigned int a, b, c, d;

	return __get_cpuid(0, &a, &b, &c, &d) &&
	       b == 0x756e6547 && d == 0x49656e69 && c == 0x6c65746e;	/* GenuineIntel */
}

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kqemu-run: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(EXIT_SETUP);
}

/* --- errors in words ----------------------------------------------------- */

static void __attribute__((noreturn)) die_open(int err)
{
	switch (err) {
	case ENOENT:
		die("%s does not exist: the %s module is not loaded (run 'sudo kqemuctl load', or 'sudo modprobe %s')",
		    accel_name(), opt.kvm ? "kvm" : "kqemu",
		    opt.kvm ? (intel_cpu() ? "kvm_intel" : "kvm_amd") : "kqemu");
	case ENXIO:
	case ENODEV:
		die("%s exists but no driver answers it: load the module ('sudo kqemuctl load')",
		    accel_name());
	case EACCES:
	case EPERM:
		die("permission denied on %s: you are not allowed to use it. Ask an administrator to add you ('sudo kqemuctl adduser %s'); if you were added already, log out and in again (or run 'newgrp kvm-users'), since group changes apply to new logins only",
		    accel_name(), getenv("USER") ? getenv("USER") : "$USER");
	default:
		die("cannot open %s: %s", accel_name(), strerror(err));
	}
}

static void __attribute__((noreturn)) die_ioctl(const char *what, int err)
{
	switch (err) {
	case EACCES:
		die("%s: access to %s was revoked: the administrator changed kqemu's access policy since this program opened it (see 'kqemuctl status')",
		    what, accel_name());
	case EDQUOT:
		die("%s: you already hold as many as kqemu allows one user (see max_vms_per_user, max_vcpus_per_user in 'kqemuctl status'); close another guest first",
		    what);
	case ENOMEM:
		die("%s: out of memory; give the guest less memory (--mem)", what);
	case EBUSY:
		if (intel_cpu())
			die("%s: another hypervisor holds the CPU's virtualization (kvm_intel, VirtualBox, VMware): VT-x has room for one, and kqemu does not share it. Stop its guests; on Linux 6.12+ KVM takes VT-x when it loads unless booted with kvm.enable_virt_at_load=0 (or kvm loaded with enable_virt_at_load=0)",
			    what);
		die("%s: another hypervisor holds the CPU's virtualization (kvm_amd or kvm_intel, VirtualBox, VMware). Stop its guests; on Linux 6.12+ KVM takes it when it loads unless booted with kvm.enable_virt_at_load=0; or load kqemu with share_svm=1",
		    what);
	default:
		die("%s: %s", what, strerror(err));
	}
}

static void __attribute__((noreturn)) die_no_backend(int sysfd)
{
	struct kqemu_capability cap = { .cap = KQEMU_CAP_BACKEND_ERROR };

	ioctl(sysfd, KQEMU_CHECK_CAPABILITY, &cap);
	switch (cap.value) {
	case EPERM:
		if (intel_cpu())
			die("this CPU's virtualization (Intel VT-x) is disabled by the firmware (IA32_FEATURE_CONTROL): enable VT-x ('Intel Virtualization Technology') in the BIOS/UEFI setup, then reboot");
		die("this CPU's virtualization (AMD-V/SVM) is disabled by the firmware: enable SVM (or 'Virtualization Technology') in the BIOS/UEFI setup, then reboot");
	case ENODEV:
		if (intel_cpu())
			die("this CPU has no hardware virtualization that kqemu can use (it needs Intel VT-x with EPT and unrestricted guest); inside a VM, ask for nested virtualization");
		die("this CPU has no hardware virtualization that kqemu can use (it needs AMD-V with nested paging); inside a VM, ask for nested virtualization");
	case EOPNOTSUPP:
		die("this CPU needs a speculative-execution mitigation that kqemu cannot apply on this kernel, so kqemu runs no guests ('dmesg | grep kqemu' says which); an admin may load kqemu with allow_unmitigated=1 to run them unprotected");
	default:
		die("kqemu has no hardware virtualization backend here (%s)",
		    strerror((int)cap.value));
	}
}

/* --- the accelerator: kqemu or KVM, same guest --------------------------- */

static void open_accel(struct vm *vm)
{
	vm->sysfd = open(accel_name(), O_RDWR | O_CLOEXEC);
	if (vm->sysfd < 0)
		die_open(errno);
	if (vm->kvm) {
		if (ioctl(vm->sysfd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
			die("/dev/kvm speaks another API version");
		vm->fd = ioctl(vm->sysfd, KVM_CREATE_VM, 0);
	} else {
		struct kqemu_capability cap = { .cap = KQEMU_CAP_BACKEND };
		struct kqemu_create_vm args = { 0 };
		int version = ioctl(vm->sysfd, KQEMU_GET_API_VERSION);

		if (version < 0)
			die_ioctl("KQEMU_GET_API_VERSION", errno);
		if (version != KQEMU_API_VERSION)
			die("/dev/kqemu speaks API version %d, this kqemu-run %d: install matching kqemu-utils",
			    version, KQEMU_API_VERSION);
		if (ioctl(vm->sysfd, KQEMU_CHECK_CAPABILITY, &cap))
			die_ioctl("KQEMU_CHECK_CAPABILITY", errno);
		if (cap.value == KQEMU_BACKEND_NONE)
			die_no_backend(vm->sysfd);
		cap.cap = KQEMU_CAP_XFEATURES;
		if (ioctl(vm->sysfd, KQEMU_CHECK_CAPABILITY, &cap))
			die_ioctl("KQEMU_CHECK_CAPABILITY", errno);
		guest_xfeatures = cap.value;
		vm->fd = ioctl(vm->sysfd, KQEMU_CREATE_VM, &args);
	}
	if (vm->fd < 0)
		die_ioctl("creating the VM", errno);
}

static void add_memory(struct vm *vm, unsigned int slot, uint64_t gpa,
		       void *host, uint64_t size, bool readonly)
{
	int ret;

	if (vm->kvm) {
		struct kvm_userspace_memory_region r = {
			.slot = slot, .guest_phys_addr = gpa, .memory_size = size,
			.userspace_addr = (uintptr_t)host,
			.flags = readonly ? KVM_MEM_READONLY : 0,
		};

		ret = ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r);
	} else {
		struct kqemu_memory_slot s = {
			.slot = slot, .guest_phys_addr = gpa, .size = size,
			.userspace_addr = (uintptr_t)host,
			.flags = readonly ? KQEMU_MEM_READONLY : 0,
		};

		ret = ioctl(vm->fd, KQEMU_ADD_MEMORY_SLOT, &s);
	}
	if (ret)
		die_ioctl("adding guest memory", errno);
}

/* KVM checks EFER against the guest's CPUID: give it what KVM supports. */
static void kvm_set_cpuid(struct vm *vm, struct vcpu *vcpu)
{
	static struct {
		struct kvm_cpuid2 head;
		struct kvm_cpuid_entry2 entries[128];
	} cpuid;

	cpuid.head.nent = 128;
	if (ioctl(vm->sysfd, KVM_GET_SUPPORTED_CPUID, &cpuid) ||
	    ioctl(vcpu->fd, KVM_SET_CPUID2, &cpuid))
		die_ioctl("setting the guest's CPUID on KVM", errno);
}

/*
 * --cpuid host: what kqemu can give on this host (KQEMU_GET_SUPPORTED_CPUID),
 * with this vCPU's APIC ID and the vCPU count, answered in the kernel.
 */
static void kqemu_set_cpuid(struct vm *vm, struct vcpu *vcpu)
{
	static struct {
		struct kqemu_cpuid head;
		struct kqemu_cpuid_entry entries[KQEMU_MAX_CPUID_ENTRIES];
	} supported, mine;
	unsigned int i;

	pthread_mutex_lock(&vm->lock);
	if (!supported.head.nent) {
		supported.head.nent = KQEMU_MAX_CPUID_ENTRIES;
		if (ioctl(vm->sysfd, KQEMU_GET_SUPPORTED_CPUID, &supported))
			die_ioctl("asking kqemu which CPUID it supports", errno);
	}
	mine = supported;
	pthread_mutex_unlock(&vm->lock);
	for (i = 0; i < mine.head.nent; i++) {
		struct kqemu_cpuid_entry *e = &mine.entries[i];

		if (e->function == 1) {
			e->ebx = (e->ebx & 0xffff) | (uint32_t)vcpu->id << 24 |
				 (uint32_t)vm->nvcpus << 16;
			if (vm->nvcpus > 1)
				e->edx |= 1u << 28;	/* HTT: the count is valid */
		}
	}
	if (ioctl(vcpu->fd, KQEMU_SET_CPUID, &mine))
		die_ioctl("setting the guest's CPUID", errno);
}

static void create_vcpu(struct vm *vm, struct vcpu *vcpu)
{
	if (vm->kvm) {
		int size = ioctl(vm->sysfd, KVM_GET_VCPU_MMAP_SIZE, 0);

		vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, vcpu->id);
		if (vcpu->fd < 0)
			die_ioctl("creating a vCPU", errno);
		vcpu->kvm_run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
				     vcpu->fd, 0);
		if (vcpu->kvm_run == MAP_FAILED)
			die("mapping the vCPU's run area: %s", strerror(errno));
		kvm_set_cpuid(vm, vcpu);
		return;
	}
	struct kqemu_create_vcpu args = { .id = vcpu->id };

	vcpu->fd = ioctl(vm->fd, KQEMU_CREATE_VCPU, &args);
	if (vcpu->fd < 0 && errno == EOPNOTSUPP)
		die_no_backend(vm->sysfd);
	if (vcpu->fd < 0)
		die_ioctl("creating a vCPU", errno);
	vcpu->krun = mmap(NULL, KQEMU_RUN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			  vcpu->fd, 0);
	if (vcpu->krun == MAP_FAILED)
		die("mapping the vCPU's run area: %s", strerror(errno));
	if (opt.cpuid_host)
		kqemu_set_cpuid(vm, vcpu);
}

/* Segment and register state, in kqemu's terms; KVM's are converted. */
static void kvm_seg(struct kvm_segment *k, const struct kqemu_segment *s)
{
	memset(k, 0, sizeof(*k));
	k->base = s->base;
	k->limit = s->limit;
	k->selector = s->selector;
	k->type = s->attrib & 15;
	k->s = (s->attrib >> 4) & 1;
	k->dpl = (s->attrib >> 5) & 3;
	k->present = (s->attrib >> 7) & 1;
	k->avl = (s->attrib >> 8) & 1;
	k->l = (s->attrib >> 9) & 1;
	k->db = (s->attrib >> 10) & 1;
	k->g = (s->attrib >> 11) & 1;
	k->unusable = !k->present;
}

static void set_state(struct vm *vm, struct vcpu *vcpu, struct kqemu_sregs *s,
		      struct kqemu_regs *r)
{
	if (!vm->kvm) {
		if (ioctl(vcpu->fd, KQEMU_SET_SREGS, s))
			die_ioctl("setting the vCPU's special registers", errno);
		if (ioctl(vcpu->fd, KQEMU_SET_REGS, r))
			die_ioctl("setting the vCPU's registers", errno);
		return;
	}
	struct kvm_sregs ks;
	struct kvm_regs kr = {
		.rax = r->rax, .rbx = r->rbx, .rcx = r->rcx, .rdx = r->rdx,
		.rsi = r->rsi, .rdi = r->rdi, .rsp = r->rsp, .rbp = r->rbp,
		.rip = r->rip, .rflags = r->rflags,
	};

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &ks))
		die_ioctl("reading the vCPU's special registers", errno);
	kvm_seg(&ks.cs, &s->cs);
	kvm_seg(&ks.ds, &s->ds);
	kvm_seg(&ks.es, &s->es);
	kvm_seg(&ks.fs, &s->fs);
	kvm_seg(&ks.gs, &s->gs);
	kvm_seg(&ks.ss, &s->ss);
	kvm_seg(&ks.tr, &s->tr);
	kvm_seg(&ks.ldt, &s->ldt);
	ks.gdt.base = s->gdt.base;
	ks.gdt.limit = s->gdt.limit;
	ks.idt.base = s->idt.base;
	ks.idt.limit = s->idt.limit;
	ks.cr0 = s->cr0;
	ks.cr3 = s->cr3;
	ks.cr4 = s->cr4;
	ks.efer = s->efer;
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &ks) || ioctl(vcpu->fd, KVM_SET_REGS, &kr))
		die_ioctl("setting the vCPU's registers", errno);
}

/* --- the machine ---------------------------------------------------------- */

static struct kqemu_segment seg(uint16_t sel, uint16_t attrib, uint32_t limit)
{
	return (struct kqemu_segment){ .selector = sel, .attrib = attrib, .limit = limit };
}

/*
 * Identity-mapped first and fourth GiB (memory; devices) in 2 MiB pages, a
 * GDT, and long mode.
 */
static void setup_long_mode(struct vm *vm, struct kqemu_sregs *s)
{
	uint64_t *pml4 = (uint64_t *)(vm->mem + PAGE_TABLES);
	uint64_t *pdpt = (uint64_t *)(vm->mem + 0x2000);
	uint64_t *pd_low = (uint64_t *)(vm->mem + 0x3000);
	uint64_t *pd_high = (uint64_t *)(vm->mem + 0x4000);
	uint64_t *gdt = (uint64_t *)(vm->mem + 0x500);
	int i;

	pml4[0] = 0x2000 | 3;
	pdpt[0] = 0x3000 | 3;
	pdpt[3] = 0x4000 | 3;
	for (i = 0; i < 512; i++) {
		pd_low[i] = ((uint64_t)i << 21) | 0x83;
		pd_high[i] = ((3ULL << 30) + ((uint64_t)i << 21)) | 0x83;
	}
	gdt[0] = 0;
	gdt[1] = 0x00af9a000000ffffULL;	/* 64-bit code */
	gdt[2] = 0x00cf92000000ffffULL;	/* data */
	s->cs = seg(0x08, 0xa9b, 0xffffffff);
	s->ds = s->es = s->fs = s->gs = s->ss = seg(0x10, 0xc93, 0xffffffff);
	s->tr = seg(0, 0x8b, 0x67);
	s->ldt = seg(0, 0x82, 0xffff);
	s->gdt.base = 0x500;
	s->gdt.limit = 23;
	s->idt.limit = 0xffff;
	s->cr0 = 0x80000031;	/* PG, NE, ET, PE */
	s->cr3 = PAGE_TABLES;
	s->cr4 = 0x20;		/* PAE */
	s->efer = 0x501;	/* LME, LMA, SCE */
}

static void setup_real_mode(struct kqemu_sregs *s)
{
	s->cs = seg(0, 0x9b, 0xffff);
	s->ds = s->es = s->fs = s->gs = s->ss = seg(0, 0x93, 0xffff);
	s->tr = seg(0, 0x8b, 0xffff);
	s->ldt = seg(0, 0x82, 0xffff);
	s->gdt.limit = 0xffff;
	s->idt.limit = 0x3ff;
	s->cr0 = 0x10;
}

static void load_image(struct vm *vm, uint64_t addr)
{
	int fd = open(opt.image, O_RDONLY);
	struct stat st;

	if (fd < 0 || fstat(fd, &st))
		die("cannot read the guest image %s: %s", opt.image, strerror(errno));
	if (addr + st.st_size > vm->mem_size)
		die("the guest image %s (%lld bytes) does not fit in %lu MiB of guest memory at %#llx",
		    opt.image, (long long)st.st_size, opt.mem_mib, (unsigned long long)addr);
	if (read(fd, vm->mem + addr, st.st_size) != st.st_size)
		die("cannot read the guest image %s: %s", opt.image, strerror(errno));
	close(fd);
}

/* The hash guest's input, and the same FNV-1a hash on the host. */
static uint64_t fill_and_hash(struct vm *vm)
{
	uint64_t x = opt.fill_seed * 0x9e3779b97f4a7c15ULL + 1, h = 0xcbf29ce484222325ULL;
	uint8_t *p = vm->mem + DATA_BASE;
	size_t i, n = 1 << 20;
	int round;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x;
	}
	for (round = 0; round < 4; round++)
		for (i = 0; i < n; i++) {
			h ^= p[i];
			h *= 0x100000001b3ULL;
		}
	return h;
}

/* --pages: the end of the pages that name themselves (the guest gets it in RSI). */
static uint64_t pages_end(struct vm *vm)
{
	return vm->mem_size - (1 << 20);
}

static void pages_fill(struct vm *vm)
{
	uint64_t gpa;

	for (gpa = PAGES_START; gpa < pages_end(vm); gpa += 4096) {
		uint64_t *page = (uint64_t *)(vm->mem + gpa);

		page[0] = PAGES_MAGIC ^ gpa;
		page[1] = 0;
	}
}

/* What the guest wrote must be in the VMM's buffer at the same offset. */
static unsigned long pages_check(struct vm *vm)
{
	unsigned long pages = 0, wrong = 0;
	uint64_t gpa;

	for (gpa = PAGES_START; gpa < pages_end(vm); gpa += 4096, pages++) {
		uint64_t got = ((uint64_t *)(vm->mem + gpa))[1];

		if (got != ~gpa && wrong++ < 4)
			printf("pages: at %#llx the VMM reads %#llx\n",
			       (unsigned long long)gpa, (unsigned long long)got);
	}
	printf("pages: the VMM checked %lu pages, %lu wrong\n", pages, wrong);
	return wrong;
}

/* --- exits ---------------------------------------------------------------- */

/* vCPU threads and main poll it without the lock: an atomic, not volatile. */
static bool stopping(struct vm *vm)
{
	return __atomic_load_n(&vm->stop, __ATOMIC_ACQUIRE);
}

/*
 * Any vCPU may call this (with --smp 16 hello.bin all 16 do, each as it
 * writes the exit port) while main is still creating vCPU threads or is
 * already joining them.  So the kicks go out under vm->lock, and only to
 * kickable threads: such a thread cannot clear that (at its end, under the
 * lock), and so cannot be joined, while a kick is on its way to it.  A
 * thread not kickable yet finds stop set when it starts; immediate_exit
 * ends at once a RUN that a kick came just before.
 */
static void stop_all(struct vm *vm, int code)
{
	int i;

	pthread_mutex_lock(&vm->lock);
	if (!vm->stop) {
		vm->exit_code = code;
		__atomic_store_n(&vm->stop, true, __ATOMIC_RELEASE);
	}
	for (i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->krun)
			v->krun->immediate_exit = 1;
		if (v->kvm_run)
			v->kvm_run->immediate_exit = 1;
		if (v->kickable && !pthread_equal(v->self, pthread_self()))
			pthread_kill(v->self, SIGUSR1);
	}
	pthread_cond_broadcast(&vm->sipi);
	pthread_mutex_unlock(&vm->lock);
}

/*
 * An AP's INIT and SIPI, as a local APIC gives them: a vCPU in its reset
 * state, in real mode at VECTOR:0 (CS base VECTOR << 12).  One start per
 * AP, as a CPU takes the first SIPI after INIT only.
 */
static void sipi(struct vm *vm, unsigned int id, unsigned int vector)
{
	pthread_mutex_lock(&vm->lock);
	if (id > 0 && id < (unsigned int)vm->nvcpus && vm->vcpus[id].sipi_vector < 0) {
		vm->vcpus[id].sipi_vector = vector;
		pthread_cond_broadcast(&vm->sipi);
	}
	pthread_mutex_unlock(&vm->lock);
}

static bool timer_tick(struct vcpu *vcpu);

/* Byte N of what STRIO_DATA gives: the same formula is in strio.c. */
static uint8_t strio_pattern(uint32_t n)
{
	return n * 131 + (n >> 8) + 7;
}

static void strio_reset(struct vm *vm)
{
	vm->strio_hash = 2166136261u;
	vm->strio_out = vm->strio_in = vm->strio_exits = 0;
}

static void port_out(struct vcpu *vcpu, uint16_t port, uint32_t value, int size)
{
	struct vm *vm = vcpu->vm;
	int i;

	if (port == SERIAL_PORT) {
		if (!opt.quiet) {
			putchar(value & 0xff);
			fflush(stdout);
		}
	} else if (port == EXIT_PORT) {
		stop_all(vm, value & 0xff);
	} else if (port == IRQ_PORT) {
		timer_tick(vcpu);
	} else if (port == CR8_PORT) {
		uint64_t cr8 = vm->kvm ? vcpu->kvm_run->cr8 : vcpu->krun->cr8;

		printf("cr8: the run area says %llu, the guest wrote %u%s\n", (unsigned long long)cr8,
		       value, cr8 == value ? ": the same" : "");
	} else if (port == SIPI_PORT && size == 4 && opt.sipi) {
		sipi(vm, (value >> 8) & 0xff, value & 0xff);
	} else if (port >= RESULT_PORT && port < RESULT_PORT + 64 && size == 4) {
		/* Any vCPU may write them, as on a real device. */
		pthread_mutex_lock(&vm->lock);
		vm->results[(port - RESULT_PORT) / 4] = value;
		pthread_mutex_unlock(&vm->lock);
	} else if (port == STRIO_DATA) {
		pthread_mutex_lock(&vm->lock);
		for (i = 0; i < size; i++, vm->strio_out++)
			vm->strio_hash = (vm->strio_hash ^ ((value >> (8 * i)) & 0xff)) * 16777619u;
		pthread_mutex_unlock(&vm->lock);
	} else if (port == STRIO_RESET) {
		pthread_mutex_lock(&vm->lock);
		strio_reset(vm);
		pthread_mutex_unlock(&vm->lock);
	} else if (opt.trace) {
		printf("io: out %#x <- %#x (%d bytes)\n", port, value, size);
	}
}

static uint32_t port_in(struct vcpu *vcpu, uint16_t port, int size)
{
	struct vm *vm = vcpu->vm;
	uint32_t value = 0xffffffff;
	int i;

	if (port == SERIAL_PORT + 5)
		return 0x60;	/* line status: transmitter empty */
	/* The string I/O device is one for all vCPUs, as the others are. */
	pthread_mutex_lock(&vm->lock);
	switch (port) {
	case STRIO_DATA:
		for (value = 0, i = 0; i < size; i++)
			value |= (uint32_t)strio_pattern(vm->strio_in++) << (8 * i);
		break;
	case STRIO_HASH:
		value = vm->strio_hash;
		break;
	case STRIO_OUT_COUNT:
		value = vm->strio_out;
		break;
	case STRIO_IN_COUNT:
		value = vm->strio_in;
		break;
	case STRIO_EXITS:
		value = vm->strio_exits;
		break;
	}
	pthread_mutex_unlock(&vm->lock);
	return value;
}

static void mmio(struct vcpu *vcpu, uint64_t addr, uint8_t *data, int len, bool write)
{
	struct vm *vm = vcpu->vm;
	uint64_t value = 0;

	memcpy(&value, data, len);
	if (addr >= MMIO_BASE && addr < MMIO_BASE + sizeof(vm->mmio_regs)) {
		uint64_t *reg = &vm->mmio_regs[(addr - MMIO_BASE) / 8];
		int shift = (addr & 7) * 8;

		/* One device for all vCPUs: a partial write is read-modify-write. */
		pthread_mutex_lock(&vm->lock);
		if (write) {
			uint64_t mask = len == 8 ? ~0ULL : ((1ULL << (len * 8)) - 1) << shift;

			*reg = (*reg & ~mask) | ((value << shift) & mask);
		} else {
			value = *reg >> shift;
			memcpy(data, &value, len);
		}
		pthread_mutex_unlock(&vm->lock);
	} else if (!write) {
		memset(data, 0xff, len);
	}
	if (!opt.quiet)
		printf("mmio: %s %#llx %s %#llx (%d bytes)\n", write ? "write" : "read",
		       (unsigned long long)addr, write ? "<-" : "->",
		       (unsigned long long)(write ? value : (memcpy(&value, data, len), value)),
		       len);
}

/* COUNT elements of SIZE bytes, more than one for INS and OUTS. */
static void port_io(struct vcpu *vcpu, bool out, uint16_t port, uint8_t *data, int size,
		    uint32_t count)
{
	uint32_t i, value;

	if (port == STRIO_DATA) {
		pthread_mutex_lock(&vcpu->vm->lock);
		vcpu->vm->strio_exits++;
		pthread_mutex_unlock(&vcpu->vm->lock);
	}
	for (i = 0; i < count; i++, data += size) {
		if (out) {
			value = 0;
			memcpy(&value, data, size);
			port_out(vcpu, port, value, size);
		} else {
			value = port_in(vcpu, port, size);
			memcpy(data, &value, size);
		}
	}
}

/*
 * The host's CPUID, less what kqemu does not give guests: VMX and SVM, PKU
 * (CR4.PKE), and the XSAVE features beyond KQEMU_CAP_XFEATURES (all of
 * XSAVE where it is 0).  OSXSAVE follows the guest's CR4, as on a CPU.
 */

static void cpuid(struct vcpu *vcpu, uint32_t fn, uint32_t idx,
		  uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__cpuid_count(fn, idx, *a, *b, *c, *d);
	if (fn == 1) {
		struct kqemu_sregs s;

		*c &= ~(1u << 5 | 1u << 27);			/* VMX, OSXSAVE */
		if (!guest_xfeatures)
			*c &= ~(1u << 26);			/* XSAVE */
		if (!(guest_xfeatures & 4))
			*c &= ~(1u << 12 | 1u << 28 | 1u << 29);	/* FMA, AVX, F16C */
		if (guest_xfeatures && ioctl(vcpu->fd, KQEMU_GET_SREGS, &s) == 0 &&
		    (s.cr4 & (1u << 18)))
			*c |= 1u << 27;
	}
	if (fn == 7 && idx == 0) {
		*c &= ~(1u << 3 | 1u << 4);			/* PKU, OSPKE */
		if (!(guest_xfeatures & 4))
			*b &= ~(1u << 5);			/* AVX2 */
		if (!(guest_xfeatures & 0xe0)) {		/* AVX-512 */
			*b &= ~(1u << 16 | 1u << 17 | 1u << 21 | 1u << 26 | 1u << 27 |
				1u << 28 | 1u << 30 | 1u << 31);
			*c &= ~(1u << 1 | 1u << 6 | 1u << 11 | 1u << 12 | 1u << 14);
			*d &= ~(1u << 2 | 1u << 3 | 1u << 8 | 1u << 23);
		}
	}
	if (fn == 0xd) {
		if (!guest_xfeatures || (idx >= 2 && idx < 64 && !(guest_xfeatures & (1ull << idx)))) {
			*a = *b = *c = *d = 0;
		} else if (idx == 0) {
			*a = guest_xfeatures;
			*d = guest_xfeatures >> 32;
			*b = *c;	/* the size for everything the guest may enable */
		} else if (idx == 1) {
			*a &= 7;	/* XSAVEOPT, XSAVEC, XGETBV1; not XSAVES (no XSS) */
			*b = *c = *d = 0;
		}
	}
	if (fn == 0x80000001)
		*c &= ~(1u << 2);	/* SVM */
}

/* A timer the guest counts: one interrupt each time it halts. */
static bool timer_tick(struct vcpu *vcpu)
{
	if (vcpu->id != 0 || vcpu->timer_irqs >= (unsigned long)opt.timer_irqs)
		return false;
	vcpu->irq_pending = true;
	return true;
}

static void inject_if_ready(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	if (!vcpu->irq_pending)
		return;
	if (vm->kvm) {
		struct kvm_interrupt irq = { .irq = 0x20 };

		if (!vcpu->kvm_run->ready_for_interrupt_injection ||
		    !vcpu->kvm_run->if_flag) {
			vcpu->kvm_run->request_interrupt_window = 1;
			return;
		}
		if (ioctl(vcpu->fd, KVM_INTERRUPT, &irq))
			die_ioctl("injecting an interrupt", errno);
		vcpu->kvm_run->request_interrupt_window = 0;
	} else {
		struct kqemu_interrupt irq = { .vector = 0x20 };

		/* Interrupts off in the guest: ask to be told when they are on. */
		if (!vcpu->krun->ready_for_interrupt_injection) {
			vcpu->krun->request_interrupt_window = 1;
			return;
		}
		if (ioctl(vcpu->fd, KQEMU_INTERRUPT, &irq))
			die_ioctl("injecting an interrupt", errno);
		vcpu->krun->request_interrupt_window = 0;
	}
	vcpu->irq_pending = false;
	vcpu->timer_irqs++;
}

/*
 * After a refused entry the vCPU must hold the state it was given, not
 * what the hardware (or an emulator) left in its place.
 */
static void print_state_after_refusal(struct vcpu *v, uint64_t rip, uint64_t cr3)
{
	struct kqemu_regs r;
	struct kqemu_sregs s;

	if (ioctl(v->fd, KQEMU_GET_REGS, &r) || ioctl(v->fd, KQEMU_GET_SREGS, &s))
		die_ioctl("reading the state after a refused entry", errno);
	printf("after the refused entry: rip %#llx cr3 %#llx (%s)\n",
	       (unsigned long long)r.rip, (unsigned long long)s.cr3,
	       r.rip == rip && s.cr3 == cr3 ? "as given" : "NOT as given");
}

/*
 * The internal errors whose data say more than numbers: code fetched from
 * where no slot is, and an MMIO instruction kqemu left to us (its bytes).
 * Returns whether it printed the exit.
 */
static bool internal_error_in_words(const struct kqemu_run *run)
{
	const uint8_t *bytes = (const uint8_t *)&run->internal.data[2];
	unsigned int i, n = run->internal.data[1];

	switch (run->internal.suberror) {
	case KQEMU_INTERNAL_ERROR_FETCH:
		printf("exit: INTERNAL_ERROR %u: fetching an instruction from memory no slot backs"
		       " (at %#llx, rip %#llx)\n", run->internal.suberror,
		       (unsigned long long)run->internal.data[0],
		       (unsigned long long)run->internal.data[2]);
		return true;
	case KQEMU_INTERNAL_ERROR_MEMORY:
		printf("exit: INTERNAL_ERROR %u: the guest %s guest memory at %#llx that this program"
		       " no longer maps there%s (rip %#llx)\n", run->internal.suberror,
		       run->internal.data[1] ? "wrote" : "read",
		       (unsigned long long)run->internal.data[0],
		       run->internal.data[1] ? ", or maps read-only" : "",
		       (unsigned long long)run->internal.data[2]);
		return true;
	case KQEMU_INTERNAL_ERROR_EMULATION:
		if (!(run->internal.flags & KQEMU_INTERNAL_INSN) || n < 1 || n > 15)
			return false;
		printf("exit: INTERNAL_ERROR %u: an access to %#llx by an instruction kqemu does not"
		       " emulate:", run->internal.suberror,
		       (unsigned long long)run->internal.data[0]);
		for (i = 0; i < n; i++)
			printf(" %02x", bytes[i]);
		printf("\n");
		return true;
	}
	return false;
}

/* 1: go on; 0: this vCPU is done. */
static int handle_kqemu_exit(struct vcpu *vcpu)
{
	struct kqemu_run *run = vcpu->krun;
	struct vm *vm = vcpu->vm;

	switch (run->exit_reason) {
	case KQEMU_EXIT_IO:
		port_io(vcpu, run->io.direction == KQEMU_EXIT_IO_OUT, run->io.port,
			(uint8_t *)run + run->io.data_offset, run->io.size, run->io.count);
		return 1;
	case KQEMU_EXIT_MMIO:
		mmio(vcpu, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
		     run->mmio.is_write);
		return 1;
	case KQEMU_EXIT_HLT:
		if (timer_tick(vcpu))
			return 1;
		if (vcpu->id == 0 && !opt.timer_irqs)
			printf("exit: HLT on vCPU 0 with no exit code; stopping\n");
		if (vcpu->id == 0)
			stop_all(vm, 0);
		return 0;
	case KQEMU_EXIT_IRQ_WINDOW:
		vcpu->irq_windows++;
		return 1;
	case KQEMU_EXIT_CPUID:
		if (opt.cpuid_host)
			die("a CPUID exit (leaf %#x), though kqemu has this vCPU's CPUID table",
			    run->cpuid.function);
		cpuid(vcpu, run->cpuid.function, run->cpuid.index, &run->cpuid.eax,
		      &run->cpuid.ebx, &run->cpuid.ecx, &run->cpuid.edx);
		return 1;
	case KQEMU_EXIT_MSR:
		if (run->msr.index == SCRATCH_MSR) {
			if (run->msr.is_write)
				vcpu->scratch_msr = run->msr.data;
			else
				run->msr.data = vcpu->scratch_msr;
			return 1;
		}
		printf("exit: %s of MSR %#x refused with #GP\n",
		       run->msr.is_write ? "WRMSR" : "RDMSR", run->msr.index);
		run->msr.error = 1;
		return 1;
	case KQEMU_EXIT_SHUTDOWN:
		printf("exit: SHUTDOWN (the guest triple-faulted)\n");
		stop_all(vm, EXIT_SHUTDOWN);
		return 0;
	case KQEMU_EXIT_FAIL_ENTRY:
		printf("exit: FAIL_ENTRY: the CPU refused the guest state (hardware reason %#llx)\n",
		       (unsigned long long)run->fail_entry.hardware_exit_reason);
		if (!vm->kvm && vcpu->id == 0)
			print_state_after_refusal(vcpu, LONG_LOAD, PAGE_TABLES);
		stop_all(vm, EXIT_FAILED);
		return 0;
	case KQEMU_EXIT_INTERNAL_ERROR:
		if (internal_error_in_words(run)) {
			stop_all(vm, EXIT_FAILED);
			return 0;
		}
		printf("exit: INTERNAL_ERROR %u: %s (data %#llx %#llx, rip %#llx)\n",
		       run->internal.suberror,
		       run->internal.suberror == KQEMU_INTERNAL_ERROR_EMULATION ?
		       "an access to memory no slot backs, by an instruction kqemu cannot emulate" :
		       run->internal.suberror == KQEMU_INTERNAL_ERROR_STRING_IO ?
		       "string I/O is not supported (a kqemu before KQEMU_CAP_STRING_IO)" :
		       run->internal.suberror == KQEMU_INTERNAL_ERROR_EXCEPTION ?
		       "delivering an exception or interrupt touched memory no slot backs, or a read-only slot" :
		       "kqemu cannot go on",
		       (unsigned long long)run->internal.data[0],
		       (unsigned long long)run->internal.data[1],
		       (unsigned long long)run->internal.data[2]);
		stop_all(vm, EXIT_FAILED);
		return 0;
	default:
		printf("exit: reason %u (hardware %#llx)\n", run->exit_reason,
		       (unsigned long long)run->fail_entry.hardware_exit_reason);
		stop_all(vm, EXIT_FAILED);
		return 0;
	}
}

static int handle_kvm_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->kvm_run;
	struct vm *vm = vcpu->vm;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		port_io(vcpu, run->io.direction == KVM_EXIT_IO_OUT, run->io.port,
			(uint8_t *)run + run->io.data_offset, run->io.size, run->io.count);
		return 1;
	case KVM_EXIT_MMIO:
		mmio(vcpu, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
		     run->mmio.is_write);
		return 1;
	case KVM_EXIT_HLT:
		if (timer_tick(vcpu))
			return 1;
		if (vcpu->id == 0)
			stop_all(vm, 0);
		return 0;
	case KVM_EXIT_SET_TPR:
		/* The guest's MOV to CR8, for a userspace APIC: this VMM has none. */
		return 1;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		vcpu->irq_windows++;
		return 1;
	case KVM_EXIT_SHUTDOWN:
		printf("exit: SHUTDOWN (the guest triple-faulted)\n");
		stop_all(vm, EXIT_SHUTDOWN);
		return 0;
	default:
		printf("exit: KVM reason %u\n", run->exit_reason);
		stop_all(vm, EXIT_FAILED);
		return 0;
	}
}

/*
 * --watch: a hardware watchpoint of the host's own (a debug register, set
 * through perf) on a variable each vCPU thread writes after every exit.
 * The world switch must give the host its debug registers back, or the
 * watchpoint stops firing once a guest has run.
 */
static volatile unsigned long watched;
static unsigned long watched_writes;

static int watch_start(void)
{
	struct perf_event_attr a = {
		.type = PERF_TYPE_BREAKPOINT, .size = sizeof(a),
		.bp_type = HW_BREAKPOINT_W, .bp_addr = (uintptr_t)&watched,
		.bp_len = HW_BREAKPOINT_LEN_8, .inherit = 1,
		.exclude_kernel = 1, .exclude_hv = 1,
	};
	int fd = syscall(__NR_perf_event_open, &a, 0, -1, -1, 0);

	if (fd < 0)
		die("cannot set a hardware watchpoint (perf_event_open): %s; --watch needs perf_event_paranoid <= 2 or root",
		    strerror(errno));
	return fd;
}

static void watch_report(int fd)
{
	uint64_t fired = 0;

	/* The counts of the vCPU threads, which inherited it, are in once they are joined. */
	if (read(fd, &fired, sizeof(fired)) != sizeof(fired))
		die("cannot read the watchpoint's count: %s", strerror(errno));
	printf("watch: the host's watchpoint fired %llu times for %lu writes\n",
	       (unsigned long long)fired, watched_writes);
}

/* --sipi: an AP waits for its SIPI, then starts in real mode at VECTOR:0. */
static bool wait_for_sipi(struct vm *vm, struct vcpu *vcpu)
{
	struct kqemu_sregs s = { 0 };
	struct kqemu_regs r = { .rflags = 2 };
	int vector;

	pthread_mutex_lock(&vm->lock);
	while (vcpu->sipi_vector < 0 && !vm->stop)
		pthread_cond_wait(&vm->sipi, &vm->lock);
	vector = vcpu->sipi_vector;
	pthread_mutex_unlock(&vm->lock);
	if (vector < 0)
		return false;
	if (!vm->kvm) {
		/* INIT: no event left pending, debug registers as at reset. */
		struct kqemu_vcpu_events ev = { 0 };
		struct kqemu_debugregs d = { .dr6 = 0xffff0ff0, .dr7 = 0x400 };

		if (ioctl(vcpu->fd, KQEMU_SET_VCPU_EVENTS, &ev) ||
		    ioctl(vcpu->fd, KQEMU_SET_DEBUGREGS, &d))
			die_ioctl("resetting a vCPU for its SIPI", errno);
	}
	setup_real_mode(&s);
	s.cs.selector = vector << 8;
	s.cs.base = (uint64_t)vector << 12;
	set_state(vm, vcpu, &s, &r);
	return true;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;

	if (opt.sipi && vcpu->id > 0 && !wait_for_sipi(vm, vcpu))
		return NULL;
	pthread_mutex_lock(&vm->lock);
	vcpu->self = pthread_self();
	vcpu->kickable = true;
	pthread_mutex_unlock(&vm->lock);
	while (!stopping(vm)) {
		int ret;

		inject_if_ready(vcpu);
		ret = ioctl(vcpu->fd, vm->kvm ? KVM_RUN : KQEMU_RUN, 0);
		if (ret < 0 && errno == EINTR)
			continue;
		/*
		 * die() ends the whole process from this thread: nothing of
		 * kqemu-run's runs at exit (no atexit handlers, stdout flushed
		 * line by line), and the kernel tears the other vCPUs down.
		 */
		if (ret < 0 && errno == EDQUOT)
			die("running the guest: your guests have as much memory mapped as kqemu allows one user (max_mapped_mb_per_user, see 'kqemuctl status'); give the guest less memory (--mem) or close another guest");
		if (ret < 0)
			die_ioctl("running the guest", errno);
		vcpu->exits++;
		if (opt.watch) {
			/* One write each, however many vCPU threads write it. */
			__atomic_fetch_add(&watched, 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&watched_writes, 1, __ATOMIC_RELAXED);
		}
		if (!(vm->kvm ? handle_kvm_exit(vcpu) : handle_kqemu_exit(vcpu)))
			break;
	}
	/* From here on no kick may reach this thread: main may join it. */
	pthread_mutex_lock(&vm->lock);
	vcpu->kickable = false;
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

static void on_signal(int sig)
{
	(void)sig;	/* only to interrupt KQEMU_RUN */
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void __attribute__((noreturn)) usage(int status)
{
	printf("Usage: kqemu-run [OPTIONS] GUEST.bin\n"
	       "Run a flat binary guest on /dev/kqemu.\n\n"
	       "  --real          start in real mode at 0:%#llx (default: long mode at %#llx)\n"
	       "  --mem MIB       guest memory (default 6)\n"
	       "  --smp N         vCPUs, one thread each (long mode)\n"
	       "  --timer N       inject N timer interrupts (vector 0x20), one per HLT\n"
	       "  --arg N         passed to the guest in RSI\n"
	       "  --fill SEED     fill 1 MiB at %#llx and check the guest's hash of it\n"
	       "  --pages         each page from 2 MiB to 1 MiB below the top names its\n"
	       "                  address; check the guest's answer in every page\n"
	       "  --cpu N         run every vCPU thread on host CPU N\n"
	       "  --sipi          with --smp: vCPUs 1.. wait in reset until the guest starts\n"
	       "                  each with a SIPI (a 32-bit OUT to port 0x520: id << 8 | vector)\n"
	       "  --cpuid MODE    exit (default): CPUID exits, answered here from the host's;\n"
	       "                  host: kqemu answers it from KQEMU_GET_SUPPORTED_CPUID\n"
	       "  --watch         count, with a hardware watchpoint of the host's, a write\n"
	       "                  after each exit (the host's debug registers survive guests)\n"
	       "  --kvm           run on /dev/kvm instead, for comparison\n"
	       "  --timeout S     give up after S seconds (default 60)\n"
	       "  --invalid-cs    a 64-bit code segment with D set, which no CPU enters\n"
	       "  --refused-first vCPU 0 first tries a state VMRUN refuses (CR3 bit 51),\n"
	       "                  then runs the guest as usual\n"
	       "  --trace, --quiet\n",
	       REAL_LOAD, LONG_LOAD, DATA_BASE);
	exit(status);
}

/*
 * One RUN in a state that VMRUN refuses: CR3 bit 51, beyond the physical
 * address width of QEMU's CPU models and of most CPUs.  What the refusal
 * leaves behind must not outlive it (the caller then sets the real state).
 */
static void refused_entry(struct vm *vm, struct vcpu *v, struct kqemu_sregs *s,
			  struct kqemu_regs *r)
{
	struct kqemu_sregs bad = *s;

	bad.cr3 |= 1ULL << 51;
	set_state(vm, v, &bad, r);
	if (ioctl(v->fd, KQEMU_RUN, 0))
		die_ioctl("running the refused state", errno);
	printf("refused first: exit %u%s\n", v->krun->exit_reason,
	       v->krun->exit_reason == KQEMU_EXIT_FAIL_ENTRY ? " (FAIL_ENTRY)" : "");
	print_state_after_refusal(v, r->rip, bad.cr3);
}

static void parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "real", no_argument, NULL, 'r' },
		{ "mem", required_argument, NULL, 'm' },
		{ "smp", required_argument, NULL, 's' },
		{ "timer", required_argument, NULL, 't' },
		{ "arg", required_argument, NULL, 'a' },
		{ "fill", required_argument, NULL, 'f' },
		{ "kvm", no_argument, NULL, 'k' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "trace", no_argument, NULL, 'x' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "bench", no_argument, NULL, 'b' },
		{ "invalid-cs", no_argument, NULL, 'I' },
		{ "refused-first", no_argument, NULL, 'R' },
		{ "pages", no_argument, NULL, 'P' },
		{ "watch", no_argument, NULL, 'W' },
		{ "cpu", required_argument, NULL, 'C' },
		{ "cpuid", required_argument, NULL, 'c' },
		{ "sipi", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': opt.real_mode = true; break;
		case 'm': opt.mem_mib = strtoul(optarg, NULL, 0); break;
		case 's': opt.smp = atoi(optarg); break;
		case 't': opt.timer_irqs = atoi(optarg); break;
		case 'a': opt.arg = strtoul(optarg, NULL, 0); break;
		case 'f': opt.fill_seed = strtoul(optarg, NULL, 0); break;
		case 'k': opt.kvm = true; break;
		case 'T': opt.timeout = atoi(optarg); break;
		case 'x': opt.trace = true; break;
		case 'q': opt.quiet = true; break;
		case 'b': opt.bench = true; break;
		case 'I': opt.invalid_cs = true; break;
		case 'R': opt.refused_first = true; break;
		case 'P': opt.pages = true; break;
		case 'W': opt.watch = true; break;
		case 'C': opt.cpu = atoi(optarg); break;
		case 'S': opt.sipi = true; break;
		case 'c':
			if (strcmp(optarg, "host") && strcmp(optarg, "exit"))
				die("--cpuid takes host or exit, not '%s'", optarg);
			opt.cpuid_host = !strcmp(optarg, "host");
			break;
		case 'h': usage(0);
		default: usage(EXIT_SETUP);
		}
	}
	if (optind != argc - 1)
		usage(EXIT_SETUP);
	opt.image = argv[optind];
	if (opt.smp < 1 || opt.smp > KQEMU_MAX_VCPUS || (opt.real_mode && opt.smp > 1))
		die("--smp takes 1 to %d vCPUs (1 in real mode)", KQEMU_MAX_VCPUS);
	if (opt.mem_mib < 6 || opt.mem_mib > 1024)
		die("--mem takes 6 to 1024 MiB");
}

/*
 * Guest memory on a 2 MiB boundary and marked for transparent huge pages,
 * as QEMU allocates guest RAM: where the host gives 2 MiB pages, kqemu
 * (and KVM) map each with one nested leaf.  The extra 2 MiB of address
 * space before and after stay unmapped.
 */
static void *alloc_guest_memory(size_t size)
{
	const size_t huge = 2UL << 20;
	uint8_t *p = mmap(NULL, size + huge, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *mem;

	if (p == MAP_FAILED)
		return NULL;
	mem = (uint8_t *)(((uintptr_t)p + huge - 1) & ~(huge - 1));
	if (mem > p)
		munmap(p, mem - p);
	if (mem + size < p + size + huge)
		munmap(mem + size, p + size + huge - (mem + size));
	/* A kernel without THP refuses it: then 4 KiB pages it is. */
	(void)madvise(mem, size, MADV_HUGEPAGE);
	return mem;
}

int main(int argc, char **argv)
{
	static struct vm vm;
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t expected_hash = 0;
	double t0, t_vm, t_mem, t_reg, t_vcpus, t_run;
	int i, watch_fd = -1;

	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (opt.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(opt.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			die("cannot run on CPU %d (--cpu): %s", opt.cpu, strerror(errno));
	}
	sigaction(SIGUSR1, &sa, NULL);
	pthread_mutex_init(&vm.lock, NULL);
	pthread_cond_init(&vm.sipi, NULL);
	strio_reset(&vm);
	vm.kvm = opt.kvm;
	vm.nvcpus = opt.smp;

	t0 = now();
	open_accel(&vm);
	t_vm = now() - t0;
	t0 = now();
	vm.mem_size = opt.mem_mib << 20;
	vm.mem = alloc_guest_memory(vm.mem_size);
	if (!vm.mem)
		die("cannot allocate %lu MiB of guest memory: %s", opt.mem_mib, strerror(errno));
	load_image(&vm, opt.real_mode ? REAL_LOAD : LONG_LOAD);
	if (opt.fill_seed)
		expected_hash = fill_and_hash(&vm);
	if (opt.pages)
		pages_fill(&vm);
	t_reg = now();
	add_memory(&vm, 0, 0, vm.mem, vm.mem_size, false);
	{
		/* A read-only slot whose first word the guest can read: "ROM!" */
		static uint8_t rom[4096] __attribute__((aligned(4096)));

		memcpy(rom, "ROM!", 4);
		add_memory(&vm, 1, ROM_BASE, rom, sizeof(rom), true);
	}
	t_mem = now() - t0;
	t_reg = now() - t_reg;
	t0 = now();

	for (i = 0; i < vm.nvcpus; i++) {
		struct vcpu *v = &vm.vcpus[i];
		struct kqemu_sregs s = { 0 };
		struct kqemu_regs r = { .rflags = 2 };

		v->vm = &vm;
		v->id = i;
		create_vcpu(&vm, v);
		if (opt.real_mode) {
			setup_real_mode(&s);
			r.rip = REAL_LOAD;
			r.rsp = 0x7000;
		} else {
			setup_long_mode(&vm, &s);
			if (opt.invalid_cs)
				s.cs.attrib |= 1 << 10;
			r.rip = LONG_LOAD;
			r.rsp = vm.mem_size - (uint64_t)i * 0x10000;
			r.rdi = i;
			r.rsi = opt.pages ? pages_end(&vm) : opt.arg;
			r.rdx = vm.nvcpus;
		}
		if (i == 0 && opt.refused_first && !vm.kvm)
			refused_entry(&vm, v, &s, &r);
		v->sipi_vector = -1;
		if (!opt.sipi || i == 0)
			set_state(&vm, v, &s, &r);
	}
	t_vcpus = now() - t0;

	if (opt.watch)
		watch_fd = watch_start();
	t0 = now();
	for (i = 0; i < vm.nvcpus; i++)
		if (pthread_create(&vm.vcpus[i].thread, NULL, vcpu_thread, &vm.vcpus[i]))
			die("cannot start a vCPU thread");
	for (i = 0; i * 10 < opt.timeout * 1000 && !stopping(&vm); i++)
		usleep(10000);
	if (!stopping(&vm)) {
		printf("exit: TIMEOUT after %d s\n", opt.timeout);
		stop_all(&vm, EXIT_TIMEOUT);
	}
	for (i = 0; i < vm.nvcpus; i++)
		pthread_join(vm.vcpus[i].thread, NULL);
	t_run = now() - t0;

	if (opt.timer_irqs)
		printf("timer: injected %lu interrupts, %lu interrupt-window exits\n",
		       vm.vcpus[0].timer_irqs, vm.vcpus[0].irq_windows);
	if (opt.fill_seed) {
		uint64_t got = vm.results[0] | (uint64_t)vm.results[1] << 32;

		printf("hash: guest %016llx, host %016llx: %s\n", (unsigned long long)got,
		       (unsigned long long)expected_hash, got == expected_hash ? "match" : "MISMATCH");
		if (got != expected_hash && vm.exit_code == 0)
			vm.exit_code = 1;
	}
	if (opt.watch)
		watch_report(watch_fd);
	if (opt.pages && pages_check(&vm) && vm.exit_code == 0)
		vm.exit_code = 1;
	if (opt.bench) {
		unsigned long exits = 0;

		for (i = 0; i < vm.nvcpus; i++)
			exits += vm.vcpus[i].exits;
		printf("bench: vm %.6f s, memory %.6f s, register %.6f s, vcpus %.6f s, run %.6f s, exits %lu\n",
		       t_vm, t_mem, t_reg, t_vcpus, t_run, exits);
	}
	return vm.exit_code;
}
