// SPDX-License-Identifier: GPL-2.0
/*
 * kqemu_squat: a test module that takes misc minor KQEMU_MINOR before kqemu
 * does, so that the tests can show kqemu then falls back to a dynamic minor.
 * It does nothing else: its device has no operations.  It has no
 * MODULE_ALIAS_MISCDEV, so opening char-major-10-250 never loads it.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

#include <linux/kqemu.h>

static const struct file_operations kqemu_squat_fops = {
	.owner	= THIS_MODULE,
};

static struct miscdevice kqemu_squat_dev = {
	.minor	= KQEMU_MINOR,
	.name	= "kqemu-squat",
	.fops	= &kqemu_squat_fops,
};

module_misc_device(kqemu_squat_dev);

MODULE_DESCRIPTION("kqemu test: holds the misc minor kqemu wants");
MODULE_LICENSE("GPL");
