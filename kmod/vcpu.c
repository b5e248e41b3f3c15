// SPDX-License-Identifier: GPL-2.0
/*
 * vCPUs: the part of the engine every backend shares.  A vCPU fd holds a
 * reference on its VM; its run area is one page that userspace maps.  The
 * run loop enters the guest through the backend until an exit userspace
 * must see, a signal, or a revocation; exits that need an answer (IN,
 * MMIO reads, CPUID, RDMSR) are completed at the next KQEMU_RUN, MMIO's
 * by emulate.c.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "kqemu.h"

const struct kqemu_backend *kqemu_backend;
static atomic64_t vcpu_uids = ATOMIC64_INIT(0);
int kqemu_backend_error = ENODEV;

static bool reserved_clear(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

/* #GP(0) at the next entry, with RIP still at the faulting instruction. */
void kqemu_queue_gp(struct kqemu_vcpu *vcpu)
{
	kqemu_queue_exception(vcpu, 13, true, 0);
}

/* --- port I/O --------------------------------------------------------- */

#define RFLAGS_DF	BIT_ULL(10)
#define IO_DATA_SIZE	sizeof(((struct kqemu_run *)NULL)->io_data)
#define GPR_RCX		1
#define GPR_RSI		6
#define GPR_RDI		7

static u64 addr_mask(unsigned int bits)
{
	return bits == 64 ? ~0ULL : (1ULL << bits) - 1;
}

/*
 * A register that a string instruction updates at its address size: at 16
 * bits the rest of the register stays, at 32 the upper half is cleared, as
 * any 32-bit write clears it.
 */
static void reg_write_width(u64 *reg, u64 val, unsigned int bits)
{
	if (bits == 16)
		*reg = (*reg & ~0xffffULL) | (val & 0xffff);
	else if (bits == 32)
		*reg = (u32)val;
	else
		*reg = val;
}

/*
 * After COUNT elements of INS or OUTS: the pointer (RDI or RSI) moves by
 * COUNT elements, up or, with RFLAGS.DF, down; under REP, RCX counts them
 * off, and RIP goes past the instruction only once RCX is zero.  Until
 * then RIP stays at it: the guest executes it again for the next batch,
 * and can take an interrupt in between, as a CPU can between iterations.
 */
static void string_io_advance(struct kqemu_vcpu *vcpu, unsigned int ptr, bool rep,
			      bool df, unsigned int size, unsigned int addr_bits,
			      u32 count, u64 next_rip)
{
	u64 mask = addr_mask(addr_bits), delta = (u64)count * size;
	u64 off = vcpu->gprs[ptr] & mask;

	reg_write_width(&vcpu->gprs[ptr], df ? off - delta : off + delta, addr_bits);
	if (rep) {
		u64 left = (vcpu->gprs[GPR_RCX] & mask) - count;

		reg_write_width(&vcpu->gprs[GPR_RCX], left, addr_bits);
		if (left & mask)
			return;
	}
	vcpu->rip = next_rip;
}

/*
 * Memory holds a batch in address order, the port sees it in the order the
 * instruction goes: with DF set, from the highest element down.
 */
static void reverse_elements(u8 *dst, const u8 *src, unsigned int count, unsigned int size)
{
	unsigned int i;

	for (i = 0; i < count; i++)
		memcpy(dst + i * size, src + (count - 1 - i) * size, size);
}

static void io_exit(struct kqemu_run *run, const struct kqemu_io *io, u32 count)
{
	run->exit_reason = KQEMU_EXIT_IO;
	run->io.direction = io->in ? KQEMU_EXIT_IO_IN : KQEMU_EXIT_IO_OUT;
	run->io.size = io->size;
	run->io.port = io->port;
	run->io.count = count;
	run->io.data_offset = offsetof(struct kqemu_run, io_data);
}

/* 48-bit linear addresses: guests get no LA57. */
static bool canonical(u64 linear)
{
	return (u64)((s64)(linear << 16) >> 16) == linear;
}

/*
 * INS or OUTS: one batch of elements handed to userspace with the I/O
 * exit, count of them in io_data.  A batch is at most what io_data holds,
 * what RCX asks for under REP (1 without), and what lies in one page of
 * the guest's linear memory, so that one walk of its page tables serves
 * it; an element that straddles two pages goes alone.  OUTS's data is
 * read here and its registers move on at once, as OUT's RIP does; INS's
 * destination is translated here, so that a fault is taken before any
 * port is read, and written at the next KQEMU_RUN.
 *
 * Not done: segment limit and type checks (outside 64-bit mode the CPU
 * would give #GP or #SS for an operand beyond the limit; here the linear
 * address is base + offset, wrapped at 4 GiB), and a batch whose offset
 * wraps around at a 16- or 32-bit address size is cut at the wrap but an
 * element straddling the wrap is taken as contiguous.  Memory no slot
 * backs, or a read-only slot for INS, cannot take a batch (it would be
 * one MMIO exit per element): that is an internal error, as for an MMIO
 * instruction kqemu cannot emulate.
 */
static int string_io(struct kqemu_vcpu *vcpu, struct kqemu_io *io)
{
	struct kqemu_run *run = vcpu->run;
	struct kqemu_vm *vm = vcpu->vm;
	unsigned int ptr = io->in ? GPR_RDI : GPR_RSI;
	unsigned int seg = io->in ? KQEMU_SEG_ES : io->seg;
	unsigned int size = io->size, len, done, nchunks = 0, pgoff, i;
	bool df = vcpu->rflags & RFLAGS_DF;
	u64 mask = addr_mask(io->addr_bits);
	u64 off = vcpu->gprs[ptr] & mask;
	u64 want = io->rep ? vcpu->gprs[GPR_RCX] & mask : 1;
	u64 linear, lo, n, room, gpa[2] = { 0 };
	u32 chunk_len[2] = { 0 };
	u8 buf[IO_DATA_SIZE];

	if (!want) {		/* REP with a zero count does nothing */
		vcpu->rip = io->next_rip;
		return 0;
	}
	linear = ((io->mode64 && seg < KQEMU_SEG_FS) ? 0 : io->seg_base) + off;
	if (!io->mode64) {
		linear = (u32)linear;
	} else if (!canonical(linear) || !canonical(linear + size - 1)) {
		kqemu_queue_exception(vcpu, seg == KQEMU_SEG_SS ? 12 : 13, true, 0);	/* #SS, #GP */
		return 0;
	}

	n = min_t(u64, want, IO_DATA_SIZE / size);
	pgoff = offset_in_page(linear);
	if (!df) {
		room = (PAGE_SIZE - pgoff) / size;
		if (io->addr_bits < 64)
			n = min_t(u64, n, (mask - off) / size + 1);
	} else {
		room = pgoff + size <= PAGE_SIZE ? pgoff / size + 1 : 0;
		if (io->addr_bits < 64)
			n = min_t(u64, n, off / size + 1);
	}
	n = room ? min(n, room) : 1;
	len = n * size;
	lo = df ? linear - (n - 1) * size : linear;
	if (!io->mode64)
		lo = (u32)lo;

	for (done = 0; done < len; nchunks++) {
		u64 at = lo + done;
		u32 chunk = min_t(u32, len - done, PAGE_SIZE - offset_in_page(at));
		u32 error;
		int ret;

		ret = kqemu_gva_translate(vm, &io->paging, at, KQEMU_ACCESS_CHECK |
					  (io->in ? KQEMU_ACCESS_WRITE : 0), &gpa[nchunks], &error);
		if (ret == 1) {
			/* The first byte the CPU would have touched there. */
			io->fault_addr = linear >= at && linear - at < chunk ? linear : at;
			io->fault_error = error;
			return KQEMU_IO_PAGE_FAULT;
		}
		if (ret || !kqemu_slot_backs(vm, gpa[nchunks], io->in) ||
		    (!io->in && kqemu_read_guest(vm, gpa[nchunks], buf + done, chunk))) {
			run->exit_reason = KQEMU_EXIT_INTERNAL_ERROR;
			run->internal.suberror = KQEMU_INTERNAL_ERROR_EMULATION;
			run->internal.flags = 0;
			run->internal.data[0] = ret ? ~0ULL : gpa[nchunks];
			run->internal.data[1] = at;
			run->internal.data[2] = vcpu->rip;
			return 1;
		}
		chunk_len[nchunks] = chunk;
		done += chunk;
	}

	io_exit(run, io, n);
	if (!io->in) {
		if (df)
			reverse_elements(run->io_data, buf, n, size);
		else
			memcpy(run->io_data, buf, len);
		string_io_advance(vcpu, ptr, io->rep, df, size, io->addr_bits, n, io->next_rip);
		return 1;
	}
	memset(run->io_data, 0, len);
	vcpu->ins.active = true;
	vcpu->ins.rep = io->rep;
	vcpu->ins.df = df;
	vcpu->ins.size = size;
	vcpu->ins.addr_bits = io->addr_bits;
	vcpu->ins.count = n;
	for (i = 0; i < 2; i++) {
		vcpu->ins.gpa[i] = gpa[i];
		vcpu->ins.len[i] = chunk_len[i];
	}
	vcpu->pending_exit = KQEMU_EXIT_IO;
	vcpu->next_rip = io->next_rip;
	return 1;
}

/*
 * A port I/O exit, string or not, from what the backend's hardware said.
 * Returns 1 (exit to userspace), 0 (enter the guest again: a REP with RCX
 * zero, or an exception queued), or KQEMU_IO_PAGE_FAULT: the backend sets
 * CR2 to io->fault_addr and gives the guest #PF with io->fault_error.
 */
int kqemu_handle_io(struct kqemu_vcpu *vcpu, struct kqemu_io *io)
{
	struct kqemu_run *run = vcpu->run;

	vcpu->ins.active = false;
	if (io->string)
		return string_io(vcpu, io);
	io_exit(run, io, 1);
	if (!io->in) {
		memcpy(run->io_data, &vcpu->gprs[0], io->size);
		vcpu->rip = io->next_rip;
	} else {
		memset(run->io_data, 0, 8);
		vcpu->pending_exit = KQEMU_EXIT_IO;
		vcpu->io_size = io->size;
		vcpu->next_rip = io->next_rip;
	}
	return 1;
}

/*
 * INS, answered: io_data into the guest's memory where the exit found it.
 * Should userspace have removed that memory meanwhile, the data is dropped
 * (the registers still move on, as for a write to memory that is gone).
 */
static void complete_ins(struct kqemu_vcpu *vcpu)
{
	struct kqemu_vm *vm = vcpu->vm;
	unsigned int size = vcpu->ins.size, count = vcpu->ins.count, i, done = 0;
	u8 buf[IO_DATA_SIZE];

	if (vcpu->ins.df)
		reverse_elements(buf, vcpu->run->io_data, count, size);
	else
		memcpy(buf, vcpu->run->io_data, count * size);
	for (i = 0; i < 2 && vcpu->ins.len[i]; done += vcpu->ins.len[i++])
		kqemu_write_guest(vm, vcpu->ins.gpa[i], buf + done, vcpu->ins.len[i]);
	string_io_advance(vcpu, GPR_RDI, vcpu->ins.rep, vcpu->ins.df, size,
			  vcpu->ins.addr_bits, count, vcpu->next_rip);
	vcpu->ins.active = false;
}

static void vcpu_complete_exit(struct kqemu_vcpu *vcpu)
{
	struct kqemu_run *run = vcpu->run;
	u64 *rax = &vcpu->gprs[0];
	u64 value;

	switch (vcpu->pending_exit) {
	case KQEMU_EXIT_IO:
		if (vcpu->ins.active) {
			complete_ins(vcpu);
			vcpu->pending_exit = 0;
			return;
		}
		memcpy(&value, run->io_data, sizeof(value));
		if (vcpu->io_size == 4)
			*rax = (u32)value;
		else if (vcpu->io_size == 2)
			*rax = (*rax & ~0xffffULL) | (u16)value;
		else
			*rax = (*rax & ~0xffULL) | (u8)value;
		break;
	case KQEMU_EXIT_CPUID:
		vcpu->gprs[0] = run->cpuid.eax;
		vcpu->gprs[3] = run->cpuid.ebx;
		vcpu->gprs[1] = run->cpuid.ecx;
		vcpu->gprs[2] = run->cpuid.edx;
		break;
	case KQEMU_EXIT_MSR:
		if (run->msr.error) {
			kqemu_queue_gp(vcpu);
			vcpu->pending_exit = 0;
			return;
		}
		if (!run->msr.is_write) {
			vcpu->gprs[0] = (u32)run->msr.data;
			vcpu->gprs[2] = run->msr.data >> 32;
		}
		break;
	default:
		return;
	}
	vcpu->rip = vcpu->next_rip;
	vcpu->pending_exit = 0;
}

static long vcpu_run(struct kqemu_vcpu *vcpu)
{
	struct kqemu_run *run = vcpu->run;
	int ret;

	/*
	 * An MMIO read's data may finish the instruction or call for its
	 * write (an RMW, XCHG, MOVS to MMIO): that exit first.
	 */
	if (vcpu->pending_exit == KQEMU_EXIT_MMIO && kqemu_mmio_complete(vcpu))
		return 0;
	vcpu_complete_exit(vcpu);
	if (READ_ONCE(run->immediate_exit)) {
		run->exit_reason = KQEMU_EXIT_INTR;
		return -EINTR;
	}
	for (;;) {
		if (signal_pending(current)) {
			run->exit_reason = KQEMU_EXIT_INTR;
			return -EINTR;
		}
		ret = kqemu_client_check(&vcpu->client);
		if (ret)
			return ret;
		cond_resched();
		ret = kqemu_backend->run(vcpu);
		if (ret > 0) {
			run->cr8 = kqemu_backend->get_cr8(vcpu);
			return 0;
		}
		if (ret < 0)
			return ret;
	}
}

static long vcpu_set_regs(struct kqemu_vcpu *vcpu, void __user *argp)
{
	struct kqemu_regs regs;

	if (copy_from_user(&regs, argp, sizeof(regs)))
		return -EFAULT;
	if (regs.flags || regs.reserved0 ||
	    !reserved_clear(regs.reserved, sizeof(regs.reserved)))
		return -EINVAL;
	kqemu_backend->set_regs(vcpu, &regs);
	return 0;
}

static long vcpu_get_regs(struct kqemu_vcpu *vcpu, void __user *argp)
{
	struct kqemu_regs regs = { 0 };

	kqemu_backend->get_regs(vcpu, &regs);
	return copy_to_user(argp, &regs, sizeof(regs)) ? -EFAULT : 0;
}

static long vcpu_set_sregs(struct kqemu_vcpu *vcpu, void __user *argp)
{
	struct kqemu_sregs sregs;

	if (copy_from_user(&sregs, argp, sizeof(sregs)))
		return -EFAULT;
	if ((sregs.flags & ~KQEMU_SREGS_CR8) || sregs.reserved0 ||
	    !reserved_clear(sregs.reserved, sizeof(sregs.reserved)) ||
	    (!(sregs.flags & KQEMU_SREGS_CR8) && sregs.cr8) || sregs.cr8 > 15 ||
	    !reserved_clear(sregs.gdt.reserved, sizeof(sregs.gdt.reserved)) ||
	    !reserved_clear(sregs.idt.reserved, sizeof(sregs.idt.reserved)))
		return -EINVAL;
	return kqemu_backend->set_sregs(vcpu, &sregs);
}

static long vcpu_get_sregs(struct kqemu_vcpu *vcpu, void __user *argp)
{
	struct kqemu_sregs sregs = { 0 };

	kqemu_backend->get_sregs(vcpu, &sregs);
	sregs.flags = KQEMU_SREGS_CR8;
	return copy_to_user(argp, &sregs, sizeof(sregs)) ? -EFAULT : 0;
}

static long vcpu_interrupt(struct kqemu_vcpu *vcpu, void __user *argp)
{
	struct kqemu_interrupt irq;

	if (copy_from_user(&irq, argp, sizeof(irq)))
		return -EFAULT;
	if (irq.flags || irq.reserved || irq.vector > 255)
		return -EINVAL;
	if (vcpu->pending_irq != -1)
		return -EBUSY;
	vcpu->pending_irq = irq.vector;
	return 0;
}

static long vcpu_nmi(struct kqemu_vcpu *vcpu)
{
	if (!kqemu_backend->nmi)
		return -EOPNOTSUPP;
	vcpu->nmi_pending = true;
	return 0;
}

static long vcpu_get_events(struct kqemu_vcpu *vcpu, void __user *argp)
{
	struct kqemu_vcpu_events ev = { 0 };

	ev.exception.pending = vcpu->exception.pending;
	ev.exception.vector = vcpu->exception.vector;
	ev.exception.has_error = vcpu->exception.has_error;
	ev.exception.error = vcpu->exception.error;
	ev.interrupt.pending = vcpu->pending_irq >= 0;
	ev.interrupt.vector = vcpu->pending_irq >= 0 ? vcpu->pending_irq : 0;
	ev.nmi.pending = vcpu->nmi_pending;
	kqemu_backend->get_events(vcpu, &ev);
	return copy_to_user(argp, &ev, sizeof(ev)) ? -EFAULT : 0;
}

/* The event a CPU could hold in the middle of its delivery. */
static bool reinject_valid(const struct kqemu_vcpu_events *ev)
{
	if (!ev->reinject.valid)
		return !ev->reinject.type && !ev->reinject.vector && !ev->reinject.has_error &&
		       !ev->reinject.error && !ev->reinject.insn_len;
	if (ev->reinject.valid != 1 || ev->reinject.has_error > 1 || ev->reinject.insn_len > 15)
		return false;
	switch (ev->reinject.type) {
	case KQEMU_EVENT_NMI:
		return ev->reinject.vector == 2 && !ev->reinject.has_error;
	case KQEMU_EVENT_EXCEPTION:
		return ev->reinject.vector < 32 && ev->reinject.vector != 2;
	case KQEMU_EVENT_EXT_INTR:
	case KQEMU_EVENT_SOFT_INT:
	case KQEMU_EVENT_PRIV_SOFT_EXC:
	case KQEMU_EVENT_SOFT_EXC:
		return !ev->reinject.has_error;
	default:
		return false;
	}
}

static long vcpu_set_events(struct kqemu_vcpu *vcpu, void __user *argp)
{
	struct kqemu_vcpu_events ev;
	int ret;

	if (copy_from_user(&ev, argp, sizeof(ev)))
		return -EFAULT;
	if (ev.flags || !reserved_clear(ev.reserved, sizeof(ev.reserved)) ||
	    ev.exception.padding || ev.interrupt.padding ||
	    !reserved_clear(ev.nmi.padding, sizeof(ev.nmi.padding)) || ev.reinject.padding)
		return -EINVAL;
	if (ev.exception.pending > 1 || ev.exception.has_error > 1 ||
	    (ev.exception.pending && (ev.exception.vector > 31 || ev.exception.vector == 2)) ||
	    ev.interrupt.pending > 1 || ev.nmi.pending > 1 || ev.nmi.masked > 1 ||
	    (ev.interrupt.shadow & ~(KQEMU_SHADOW_STI | KQEMU_SHADOW_MOV_SS)) ||
	    !reinject_valid(&ev))
		return -EINVAL;
	if (ev.nmi.pending && !kqemu_backend->nmi)
		return -EINVAL;
	ret = kqemu_backend->set_events(vcpu, &ev);
	if (ret)
		return ret;
	vcpu->exception.pending = ev.exception.pending;
	vcpu->exception.vector = ev.exception.vector;
	vcpu->exception.has_error = ev.exception.has_error;
	vcpu->exception.error = ev.exception.error;
	vcpu->pending_irq = ev.interrupt.pending ? ev.interrupt.vector : -1;
	vcpu->nmi_pending = ev.nmi.pending;
	return 0;
}

/* KQEMU_GET_MSRS and KQEMU_SET_MSRS: how many entries were done. */
static long vcpu_msrs(struct kqemu_vcpu *vcpu, void __user *argp, bool set)
{
	struct kqemu_msr_list __user *ulist = argp;
	struct kqemu_msr_list head;
	struct kqemu_msr_entry e;
	u32 i;

	if (copy_from_user(&head, argp, sizeof(head)))
		return -EFAULT;
	if (head.flags || head.reserved)
		return -EINVAL;
	if (head.nmsrs > KQEMU_MAX_MSR_ENTRIES)
		return -E2BIG;
	for (i = 0; i < head.nmsrs; i++) {
		if (copy_from_user(&e, &ulist->entries[i], sizeof(e)))
			return -EFAULT;
		if (e.reserved)
			break;
		if (set) {
			if (kqemu_set_msr(vcpu, e.index, e.data, true))
				break;
		} else {
			if (kqemu_get_msr(vcpu, e.index, &e.data))
				break;
			if (copy_to_user(&ulist->entries[i].data, &e.data, sizeof(e.data)))
				return -EFAULT;
		}
	}
	return i;
}

static long kqemu_vcpu_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	struct kqemu_vcpu *vcpu = file->private_data;
	void __user *argp = (void __user *)arg;
	long ret;

	ret = kqemu_client_check(&vcpu->client);
	if (ret)
		return ret;
	if (current->mm != vcpu->vm->mm)
		return -EIO;

	if (mutex_lock_killable(&vcpu->mutex))
		return -EINTR;
	switch (cmd) {
	case KQEMU_RUN:
		ret = vcpu_run(vcpu);
		break;
	case KQEMU_GET_REGS:
		ret = vcpu_get_regs(vcpu, argp);
		break;
	case KQEMU_SET_REGS:
		ret = vcpu_set_regs(vcpu, argp);
		break;
	case KQEMU_GET_SREGS:
		ret = vcpu_get_sregs(vcpu, argp);
		break;
	case KQEMU_SET_SREGS:
		ret = vcpu_set_sregs(vcpu, argp);
		break;
	case KQEMU_INTERRUPT:
		ret = vcpu_interrupt(vcpu, argp);
		break;
	case KQEMU_GET_MSRS:
		ret = vcpu_msrs(vcpu, argp, false);
		break;
	case KQEMU_SET_MSRS:
		ret = vcpu_msrs(vcpu, argp, true);
		break;
	case KQEMU_NMI:
		ret = vcpu_nmi(vcpu);
		break;
	case KQEMU_GET_VCPU_EVENTS:
		ret = vcpu_get_events(vcpu, argp);
		break;
	case KQEMU_SET_VCPU_EVENTS:
		ret = vcpu_set_events(vcpu, argp);
		break;
	case KQEMU_GET_DEBUGREGS:
		ret = kqemu_get_debugregs(vcpu, argp);
		break;
	case KQEMU_SET_DEBUGREGS:
		ret = kqemu_set_debugregs(vcpu, argp);
		break;
	case KQEMU_SET_CPUID:
		ret = kqemu_set_cpuid(vcpu, argp);
		break;
	case KQEMU_GET_XSAVE:
		ret = kqemu_fpu_get_xsave(vcpu, argp);
		break;
	case KQEMU_SET_XSAVE:
		ret = kqemu_fpu_set_xsave(vcpu, argp);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&vcpu->mutex);
	return ret;
}

/*
 * The run area holds the guest's exit data: it is mapped under the rules of
 * an ioctl, by the VM's own process and while its opener is still allowed.
 */
static int kqemu_vcpu_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct kqemu_vcpu *vcpu = file->private_data;
	int ret;

	ret = kqemu_client_check(&vcpu->client);
	if (ret)
		return ret;
	if (current->mm != vcpu->vm->mm)
		return -EIO;
	if (vma->vm_pgoff || vma->vm_end - vma->vm_start != KQEMU_RUN_SIZE)
		return -EINVAL;
	return vm_insert_page(vma, vma->vm_start, virt_to_page(vcpu->run));
}

static void vcpu_free(struct kqemu_vcpu *vcpu)
{
	struct kqemu_vm *vm = vcpu->vm;

	if (vcpu->arch)
		kqemu_backend->vcpu_free(vcpu);
	kqemu_fpu_free(vcpu);
	kqemu_gpt_cache_free(&vcpu->gpt_cache);
	kfree(vcpu->cpuid);
	free_page((unsigned long)vcpu->run);
	kqemu_user_uncharge_vcpu(vcpu->client.user);
	kqemu_client_release(&vcpu->client);
	atomic_long_dec(&kqemu_stats.vcpus);
	kfree(vcpu);
	kqemu_vm_put(vm);
}

static int kqemu_vcpu_release(struct inode *inode, struct file *file)
{
	struct kqemu_vcpu *vcpu = file->private_data;
	struct kqemu_vm *vm = vcpu->vm;

	mutex_lock(&vm->lock);
	vm->vcpus[vcpu->id] = NULL;
	mutex_unlock(&vm->lock);
	vcpu_free(vcpu);
	return 0;
}

static const struct file_operations kqemu_vcpu_fops = {
	.owner		= THIS_MODULE,
	.release	= kqemu_vcpu_release,
	.unlocked_ioctl	= kqemu_vcpu_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= kqemu_vcpu_mmap,
};

long kqemu_create_vcpu(struct kqemu_vm *vm, void __user *argp)
{
	struct kqemu_create_vcpu args;
	struct kqemu_vcpu *vcpu;
	struct file *file;
	int fd, ret;

	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	if (args.flags || !reserved_clear(args.reserved, sizeof(args.reserved)) ||
	    args.id >= KQEMU_MAX_VCPUS)
		return -EINVAL;
	if (!kqemu_backend)
		return -EOPNOTSUPP;

	ret = kqemu_user_charge_vcpu(vm->client.user);
	if (ret)
		return ret;
	vcpu = kzalloc(sizeof(*vcpu), GFP_KERNEL_ACCOUNT);
	if (!vcpu) {
		kqemu_user_uncharge_vcpu(vm->client.user);
		return -ENOMEM;
	}
	kref_get(&vm->kref);
	vcpu->vm = vm;
	vcpu->id = args.id;
	vcpu->uid = atomic64_inc_return(&vcpu_uids);
	vcpu->pending_irq = -1;
	vcpu->tsc_offset = -vm->tsc_origin;
	vcpu->cpuid_xcr0 = ~0ULL;
	kqemu_dr_reset(&vcpu->dr);
	kqemu_msrs_reset(&vcpu->msrs);
	mutex_init(&vcpu->mutex);
	kqemu_client_copy(&vcpu->client, &vm->client, "fd=vcpu");
	atomic_long_inc(&kqemu_stats.vcpus);
	vcpu->run = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!vcpu->run) {
		vcpu_free(vcpu);
		return -ENOMEM;
	}
	ret = kqemu_fpu_init(vcpu);
	if (!ret)
		ret = kqemu_backend->vcpu_init(vcpu);
	if (ret) {
		vcpu_free(vcpu);
		return ret;
	}

	mutex_lock(&vm->lock);
	if (vm->vcpus[args.id]) {
		mutex_unlock(&vm->lock);
		vcpu_free(vcpu);
		return -EEXIST;
	}
	fd = kqemu_new_file("kqemu-vcpu", &kqemu_vcpu_fops, vcpu, &file);
	if (fd < 0) {
		mutex_unlock(&vm->lock);
		vcpu_free(vcpu);
		return fd;
	}
	vm->vcpus[args.id] = vcpu;
	mutex_unlock(&vm->lock);
	fd_install(fd, file);
	return fd;
}
