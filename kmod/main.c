// SPDX-License-Identifier: GPL-2.0
/*
 * kqemu: a virtualization accelerator for QEMU-style emulators.
 *
 * This file is the device: /dev/kqemu, a misc device with a fixed minor so
 * that kmod can create the node before the module is loaded and the first
 * open loads it (devname:kqemu + char-major-10-250).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "kqemu.h"

struct kqemu_stats kqemu_stats;

#define KQEMU_SUPPORTED_EXITS						\
	(BIT(KQEMU_EXIT_IO) | BIT(KQEMU_EXIT_MMIO) | BIT(KQEMU_EXIT_HLT) |	\
	 BIT(KQEMU_EXIT_SHUTDOWN) | BIT(KQEMU_EXIT_CPUID) | BIT(KQEMU_EXIT_MSR) | \
	 BIT(KQEMU_EXIT_IRQ_WINDOW) | BIT(KQEMU_EXIT_FAIL_ENTRY) |		\
	 BIT(KQEMU_EXIT_INTERNAL_ERROR) | BIT(KQEMU_EXIT_INTR) |		\
	 BIT(KQEMU_EXIT_NMI_WINDOW))

/* The ioctl type of the old kqemu (2005-2009), whose clients must fail cleanly. */
#define KQEMU_OLD_IOCTL_TYPE	'q'

static int kqemu_dev_open(struct inode *inode, struct file *file)
{
	struct kqemu_client *client;
	int ret;

	client = kzalloc(sizeof(*client), GFP_KERNEL_ACCOUNT);
	if (!client)
		return -ENOMEM;
	ret = kqemu_client_init(client, file);
	if (ret) {
		kfree(client);
		return ret;
	}
	file->private_data = client;
	return 0;
}

static int kqemu_dev_release(struct inode *inode, struct file *file)
{
	struct kqemu_client *client = file->private_data;

	kqemu_client_release(client);
	kfree(client);
	return 0;
}

static u64 capability_value(u32 cap)
{
	switch (cap) {
	case KQEMU_CAP_API_VERSION:
		return KQEMU_API_VERSION;
	case KQEMU_CAP_MAX_MEMORY_SLOTS:
		return KQEMU_MAX_MEMORY_SLOTS;
	case KQEMU_CAP_READONLY_MEMORY:
	case KQEMU_CAP_REVOCATION:
		return 1;
	case KQEMU_CAP_MAX_VMS_PER_USER:
		return kqemu_max_vms();
	case KQEMU_CAP_MAX_VCPUS_PER_USER:
		return kqemu_max_vcpus();
	case KQEMU_CAP_MAX_PINNED_PER_USER:	/* its old name */
	case KQEMU_CAP_MAX_MAPPED_PER_USER:
		return kqemu_max_mapped_bytes();
	case KQEMU_CAP_MEMORY_ON_DEMAND:
		return 1;
	case KQEMU_CAP_HUGE_LEAVES:
		return kqemu_backend && kqemu_backend->leaf_huge;
	case KQEMU_CAP_BACKEND:
		return kqemu_backend ? kqemu_backend->id : KQEMU_BACKEND_NONE;
	case KQEMU_CAP_BACKEND_ERROR:
		return kqemu_backend ? 0 : kqemu_backend_error;
	case KQEMU_CAP_MAX_VCPUS:
		return KQEMU_MAX_VCPUS;
	case KQEMU_CAP_EXITS:
		return kqemu_backend ? KQEMU_SUPPORTED_EXITS : 0;
	case KQEMU_CAP_NRIP_SAVE:
		return kqemu_backend && kqemu_backend->nrip_save;
	case KQEMU_CAP_DECODE_ASSISTS:
		return kqemu_backend && kqemu_backend->decode_assists;
	case KQEMU_CAP_XFEATURES:
		return kqemu_backend ? kqemu_xfeatures : 0;
	case KQEMU_CAP_MSRS:
	case KQEMU_CAP_TSC_OFFSET:
	case KQEMU_CAP_XSAVE_STATE:
		return 1;
	case KQEMU_CAP_CPUID:
	case KQEMU_CAP_DEBUGREGS:
	case KQEMU_CAP_SREGS_CR8:
		return 1;
	case KQEMU_CAP_VCPU_EVENTS:
		return kqemu_backend && kqemu_backend->nmi;
	case KQEMU_CAP_STRING_IO:
		return !!kqemu_backend;
	case KQEMU_CAP_MMIO_RMW:
		return 1;
	default:
		return 0;
	}
}

static long kqemu_check_capability(void __user *argp)
{
	struct kqemu_capability c;

	if (copy_from_user(&c, argp, sizeof(c)))
		return -EFAULT;
	if (c.flags || c.reserved[0] || c.reserved[1])
		return -EINVAL;
	c.value = capability_value(c.cap);
	if (copy_to_user(argp, &c, sizeof(c)))
		return -EFAULT;
	return 0;
}

static long kqemu_msr_index_list(void __user *argp)
{
	struct kqemu_msr_index_list __user *ulist = argp;
	struct kqemu_msr_index_list head;
	u32 indices[32];
	unsigned int n;

	if (copy_from_user(&head, argp, sizeof(head)))
		return -EFAULT;
	if (head.flags || head.reserved)
		return -EINVAL;
	n = kqemu_msr_indices(indices, ARRAY_SIZE(indices));
	if (WARN_ON_ONCE(n > ARRAY_SIZE(indices)))
		return -EIO;
	if (head.nmsrs < n) {
		head.nmsrs = n;
		return copy_to_user(argp, &head, sizeof(head)) ? -EFAULT : -E2BIG;
	}
	head.nmsrs = n;
	if (copy_to_user(argp, &head, sizeof(head)) ||
	    copy_to_user(ulist->indices, indices, n * sizeof(indices[0])))
		return -EFAULT;
	return 0;
}

static long kqemu_dev_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	struct kqemu_client *client = file->private_data;
	void __user *argp = (void __user *)arg;
	int ret;

	ret = kqemu_client_check(client);
	if (ret)
		return ret;

	switch (cmd) {
	case KQEMU_GET_API_VERSION:
		return KQEMU_API_VERSION;
	case KQEMU_CHECK_CAPABILITY:
		return kqemu_check_capability(argp);
	case KQEMU_CREATE_VM:
		return kqemu_create_vm(client, argp);
	case KQEMU_GET_MSR_INDEX_LIST:
		return kqemu_msr_index_list(argp);
	case KQEMU_GET_SUPPORTED_CPUID:
		return kqemu_supported_cpuid(argp);
	}
	if (_IOC_TYPE(cmd) == KQEMU_OLD_IOCTL_TYPE && _IOC_NR(cmd) >= 1 &&
	    _IOC_NR(cmd) <= 5)
		pr_info_ratelimited("%s (pid %d) speaks the old kqemu ABI; this kqemu is a different device\n",
				    current->comm, task_pid_nr(current));
	return -ENOTTY;
}

static const struct file_operations kqemu_dev_fops = {
	.owner		= THIS_MODULE,
	.open		= kqemu_dev_open,
	.release	= kqemu_dev_release,
	.unlocked_ioctl	= kqemu_dev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

#define KQEMU_STAT_ATTR(name, read)					\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%lld\n", (long long)read(&kqemu_stats.name)); \
}									\
static DEVICE_ATTR_RO(name)

KQEMU_STAT_ATTR(vms, atomic_long_read);
KQEMU_STAT_ATTR(vcpus, atomic_long_read);
KQEMU_STAT_ATTR(mapped_bytes, atomic64_read);
KQEMU_STAT_ATTR(page_tables, atomic_long_read);
KQEMU_STAT_ATTR(denials, atomic_long_read);
KQEMU_STAT_ATTR(revocations, atomic_long_read);

/* The speculation mitigations the world switch takes on this CPU. */
static ssize_t mitigations_show(struct device *dev, struct device_attribute *attr,
				char *buf)
{
	if (!kqemu_backend)
		return sysfs_emit(buf, "none\n");
	return kqemu_spec_show(buf);
}
static DEVICE_ATTR_RO(mitigations);

/* The last refusals, revocations and policy changes (acl.c). */
static ssize_t recent_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return kqemu_recent_show(buf);
}
static DEVICE_ATTR_RO(recent);

static struct attribute *kqemu_stats_attrs[] = {
	&dev_attr_vms.attr,
	&dev_attr_vcpus.attr,
	&dev_attr_mapped_bytes.attr,
	&dev_attr_page_tables.attr,
	&dev_attr_denials.attr,
	&dev_attr_revocations.attr,
	&dev_attr_mitigations.attr,
	&dev_attr_recent.attr,
	NULL,
};

static const struct attribute_group kqemu_stats_group = {
	.name = "stats",
	.attrs = kqemu_stats_attrs,
};

static const struct attribute_group *kqemu_dev_groups[] = {
	&kqemu_stats_group,
	NULL,
};

static struct miscdevice kqemu_dev = {
	.minor	= KQEMU_MINOR,
	.name	= "kqemu",
	.fops	= &kqemu_dev_fops,
	.groups	= kqemu_dev_groups,
	/* Root-only until the udev rule says otherwise. */
	.mode	= 0600,
};

static void kqemu_backend_exit(void)
{
	kqemu_spec_exit();
	if (kqemu_backend == &kqemu_svm_backend)
		kqemu_svm_exit();
	else if (kqemu_backend == &kqemu_vmx_backend)
		kqemu_vmx_exit();
}

static int __init kqemu_init(void)
{
	int ret;

	/*
	 * Without a backend /dev/kqemu still opens and says why in its
	 * capabilities.  A CPU has SVM or VMX, never both: where SVM is
	 * absent (ENODEV), VMX is tried, and its answer is the one given.
	 */
	kqemu_fpu_setup();
	kqemu_backend_error = kqemu_svm_init();
	if (!kqemu_backend_error) {
		kqemu_backend = &kqemu_svm_backend;
	} else if (kqemu_backend_error == ENODEV) {
		kqemu_backend_error = kqemu_vmx_init();
		if (!kqemu_backend_error)
			kqemu_backend = &kqemu_vmx_backend;
	}
	if (kqemu_backend) {
		kqemu_backend_error = kqemu_spec_init(kqemu_backend == &kqemu_vmx_backend);
		if (kqemu_backend_error) {
			kqemu_backend_exit();
			kqemu_backend = NULL;
		}
	}
	if (kqemu_backend_error)
		pr_info("no hardware virtualization backend (%d): vCPUs will be refused\n",
			-kqemu_backend_error);

	ret = misc_register(&kqemu_dev);
	if (ret == -EBUSY) {
		kqemu_dev.minor = MISC_DYNAMIC_MINOR;
		ret = misc_register(&kqemu_dev);
		if (!ret)
			pr_warn("misc minor %d is taken by another driver; using dynamic minor %d, so opening a static /dev/kqemu node will not load kqemu\n",
				KQEMU_MINOR, kqemu_dev.minor);
	}
	if (ret) {
		pr_err("cannot register /dev/kqemu: %d\n", ret);
		kqemu_backend_exit();
		return ret;
	}
	return 0;
}

static void __exit kqemu_exit(void)
{
	misc_deregister(&kqemu_dev);
	kqemu_backend_exit();
	kqemu_acl_exit();
	/* Policy lists replaced at run time may still be on their way out. */
	rcu_barrier();
}

module_init(kqemu_init);
module_exit(kqemu_exit);

MODULE_DESCRIPTION("kqemu virtualization accelerator");
MODULE_AUTHOR("The kqemu developers");
MODULE_LICENSE("GPL");
MODULE_VERSION("1.1");
MODULE_ALIAS_MISCDEV(KQEMU_MINOR);
MODULE_ALIAS("devname:kqemu");
