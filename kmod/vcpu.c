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
	vcpu->exception.pending = true;
	vcpu->exception.vector = 13;
	vcpu->exception.has_error = true;
	vcpu->exception.error = 0;
}

static void vcpu_complete_exit(struct kqemu_vcpu *vcpu)
{
	struct kqemu_run *run = vcpu->run;
	u64 *rax = &vcpu->gprs[0];
	u64 value;

	switch (vcpu->pending_exit) {
	case KQEMU_EXIT_IO:
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
		if (ret > 0)
			return 0;
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
	if (sregs.flags || sregs.reserved0 ||
	    !reserved_clear(sregs.reserved, sizeof(sregs.reserved)) ||
	    !reserved_clear(sregs.gdt.reserved, sizeof(sregs.gdt.reserved)) ||
	    !reserved_clear(sregs.idt.reserved, sizeof(sregs.idt.reserved)))
		return -EINVAL;
	return kqemu_backend->set_sregs(vcpu, &sregs);
}

static long vcpu_get_sregs(struct kqemu_vcpu *vcpu, void __user *argp)
{
	struct kqemu_sregs sregs = { 0 };

	kqemu_backend->get_sregs(vcpu, &sregs);
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
