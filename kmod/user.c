// SPDX-License-Identifier: GPL-2.0
/*
 * Per-user quotas: how many VMs and vCPUs a user may hold, and how much
 * memory its guests may have mapped at once: guest pages present in the
 * nested tables, and the table pages below each root.  Exceeding one gives
 * EDQUOT, checked before anything is created or mapped.
 */
#include <linux/hashtable.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "kqemu.h"

static unsigned int max_vms_per_user = 16;
module_param(max_vms_per_user, uint, 0644);
MODULE_PARM_DESC(max_vms_per_user, "VMs one user may hold at once (0: no limit)");

static unsigned int max_vcpus_per_user = 64;
module_param(max_vcpus_per_user, uint, 0644);
MODULE_PARM_DESC(max_vcpus_per_user, "vCPUs one user may hold at once (0: no limit)");

static unsigned int max_mapped_mb_per_user;
module_param(max_mapped_mb_per_user, uint, 0644);
MODULE_PARM_DESC(max_mapped_mb_per_user,
		 "MiB of guest memory and nested tables one user's guests may have mapped (0: no limit)");
/*
 * Its name before guest memory was faulted in on demand, for modprobe.d
 * files that still set it: the same quota.
 */
module_param_named(max_pinned_mb_per_user, max_mapped_mb_per_user, uint, 0644);
MODULE_PARM_DESC(max_pinned_mb_per_user, "the old name of max_mapped_mb_per_user");

static DEFINE_HASHTABLE(kqemu_users, 6);
static DEFINE_SPINLOCK(kqemu_users_lock);

unsigned int kqemu_max_vms(void)
{
	return READ_ONCE(max_vms_per_user);
}

unsigned int kqemu_max_vcpus(void)
{
	return READ_ONCE(max_vcpus_per_user);
}

u64 kqemu_max_mapped_bytes(void)
{
	return (u64)READ_ONCE(max_mapped_mb_per_user) << 20;
}

static struct kqemu_user *user_find(kuid_t uid)
{
	struct kqemu_user *user;

	hash_for_each_possible(kqemu_users, user, node, __kuid_val(uid))
		if (uid_eq(user->uid, uid))
			return user;
	return NULL;
}

struct kqemu_user *kqemu_user_get(kuid_t uid)
{
	struct kqemu_user *user, *new;

	new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
	if (!new)
		return NULL;
	spin_lock(&kqemu_users_lock);
	user = user_find(uid);
	if (user) {
		refcount_inc(&user->ref);
	} else {
		user = new;
		new = NULL;
		user->uid = uid;
		refcount_set(&user->ref, 1);
		hash_add(kqemu_users, &user->node, __kuid_val(uid));
	}
	spin_unlock(&kqemu_users_lock);
	kfree(new);
	return user;
}

void kqemu_user_put(struct kqemu_user *user)
{
	if (!refcount_dec_and_lock(&user->ref, &kqemu_users_lock))
		return;
	hash_del(&user->node);
	spin_unlock(&kqemu_users_lock);
	WARN_ON_ONCE(user->vms || user->vcpus || user->mapped_bytes);
	kfree(user);
}

static int user_charge(struct kqemu_user *user, unsigned int *count,
		       unsigned int max)
{
	int ret = 0;

	spin_lock(&kqemu_users_lock);
	if (max && *count >= max)
		ret = -EDQUOT;
	else
		(*count)++;
	spin_unlock(&kqemu_users_lock);
	return ret;
}

static void user_uncharge(unsigned int *count)
{
	spin_lock(&kqemu_users_lock);
	(*count)--;
	spin_unlock(&kqemu_users_lock);
}

int kqemu_user_charge_vm(struct kqemu_user *user)
{
	return user_charge(user, &user->vms, kqemu_max_vms());
}

void kqemu_user_uncharge_vm(struct kqemu_user *user)
{
	user_uncharge(&user->vms);
}

int kqemu_user_charge_vcpu(struct kqemu_user *user)
{
	return user_charge(user, &user->vcpus, kqemu_max_vcpus());
}

void kqemu_user_uncharge_vcpu(struct kqemu_user *user)
{
	user_uncharge(&user->vcpus);
}

/* Also under a VM's gpt_lock, which is taken before kqemu_users_lock. */
int kqemu_user_charge_mapped(struct kqemu_user *user, u64 bytes)
{
	u64 max = kqemu_max_mapped_bytes();
	int ret = 0;

	spin_lock(&kqemu_users_lock);
	if (max && bytes > max - min(max, user->mapped_bytes))
		ret = -EDQUOT;
	else
		user->mapped_bytes += bytes;
	spin_unlock(&kqemu_users_lock);
	return ret;
}

void kqemu_user_uncharge_mapped(struct kqemu_user *user, u64 bytes)
{
	spin_lock(&kqemu_users_lock);
	user->mapped_bytes -= bytes;
	spin_unlock(&kqemu_users_lock);
}
