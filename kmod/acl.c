// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel access policy of /dev/kqemu.
 *
 * udev sets the node's group and mode, but a wrong rule (the old kqemu's
 * MODE="0666") must not let anybody in: open() checks the caller against
 * this policy too.  The policy is a list of uids and a list of gids in the
 * initial user namespace, set by module parameters at load and rewritten by
 * root through /sys/module/kqemu/parameters at run time.  Root (CAP_SYS_ADMIN
 * in the initial namespace) is allowed unless "strict" is set; an empty
 * policy therefore lets in root only.
 *
 * Each policy change bumps a generation.  Every fd remembers the generation
 * it was last checked against, and re-checks its opener when it has moved
 * on, which is how a change revokes fds that are already open.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/moduleparam.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uidgid.h>
#include <linux/user_namespace.h>

#include "kqemu.h"

#define KQEMU_POLICY_MAX_IDS	32

struct kqemu_id_list {
	struct rcu_head rcu;
	unsigned int nr;
	u32 ids[KQEMU_POLICY_MAX_IDS];	/* in the initial user namespace */
};

static struct kqemu_id_list __rcu *allowed_uids;
static struct kqemu_id_list __rcu *allowed_gids;
static bool strict;
static DEFINE_MUTEX(policy_lock);
static atomic_t policy_gen = ATOMIC_INIT(0);

static void policy_changed(void)
{
	/* Paired with the acquire in kqemu_client_check(). */
	smp_mb__before_atomic();
	atomic_inc(&policy_gen);
}

static bool id_list_has(struct kqemu_id_list __rcu **listp, u32 id)
{
	const struct kqemu_id_list *list;
	bool found = false;
	unsigned int i;

	rcu_read_lock();
	list = rcu_dereference(*listp);
	for (i = 0; list && i < list->nr; i++) {
		if (list->ids[i] == id) {
			found = true;
			break;
		}
	}
	rcu_read_unlock();
	return found;
}

static bool cred_in_allowed_group(const struct cred *cred)
{
	const struct group_info *groups = cred->group_info;
	int i;

	if (id_list_has(&allowed_gids, from_kgid(&init_user_ns, cred->fsgid)))
		return true;
	for (i = 0; i < groups->ngroups; i++)
		if (id_list_has(&allowed_gids,
				from_kgid(&init_user_ns, groups->gid[i])))
			return true;
	return false;
}

static bool client_allowed(const struct kqemu_client *client)
{
	const struct cred *cred = client->cred;

	if (client->admin && !READ_ONCE(strict))
		return true;
	if (id_list_has(&allowed_uids, from_kuid(&init_user_ns, cred->fsuid)))
		return true;
	return cred_in_allowed_group(cred);
}

int kqemu_client_init(struct kqemu_client *client, struct file *file)
{
	const struct cred *cred = file->f_cred;

	client->policy_gen = atomic_read_acquire(&policy_gen);
	client->cred = cred;
	/* Root in a user namespace is not root here: ask the initial namespace. */
	client->admin = file_ns_capable(file, &init_user_ns, CAP_SYS_ADMIN);
	client->revoked = false;
	if (!client_allowed(client)) {
		atomic_long_inc(&kqemu_stats.denials);
		pr_warn_ratelimited("open denied to uid %u (pid %d, %s): not an allowed user or group\n",
				    from_kuid(&init_user_ns, cred->uid),
				    task_pid_nr(current), current->comm);
		return -EACCES;
	}
	client->user = kqemu_user_get(cred->uid);
	if (!client->user)
		return -ENOMEM;
	get_cred(cred);
	return 0;
}

void kqemu_client_copy(struct kqemu_client *dst, const struct kqemu_client *src)
{
	*dst = *src;
	get_cred(dst->cred);
	refcount_inc(&dst->user->ref);
}

void kqemu_client_release(struct kqemu_client *client)
{
	kqemu_user_put(client->user);
	put_cred(client->cred);
}

/* Returns 0, or -EACCES once the opener has lost its access for good. */
int kqemu_client_check(struct kqemu_client *client)
{
	unsigned int gen = atomic_read_acquire(&policy_gen);

	if (READ_ONCE(client->revoked))
		return -EACCES;
	if (likely(gen == READ_ONCE(client->policy_gen)))
		return 0;
	if (client_allowed(client)) {
		WRITE_ONCE(client->policy_gen, gen);
		return 0;
	}
	if (!xchg(&client->revoked, true)) {
		atomic_long_inc(&kqemu_stats.revocations);
		pr_info_ratelimited("access of uid %u (pid %d, %s) revoked by a policy change\n",
				    from_kuid(&init_user_ns, client->cred->uid),
				    task_pid_nr(current), current->comm);
	}
	return -EACCES;
}

/* "1000,1001" or "1000 1001" or "" (nobody); ids in the initial namespace. */
static int id_list_parse(const char *val, struct kqemu_id_list *list, bool gids)
{
	char *buf, *cur, *tok;
	int ret = 0;

	buf = kstrdup(val, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	list->nr = 0;
	cur = strim(buf);
	while ((tok = strsep(&cur, ", \t\n")) != NULL) {
		u32 id;
		bool valid;

		if (!*tok)
			continue;
		ret = kstrtou32(tok, 10, &id);
		if (ret)
			break;
		valid = gids ? gid_valid(make_kgid(&init_user_ns, id)) :
			       uid_valid(make_kuid(&init_user_ns, id));
		if (!valid) {
			ret = -EINVAL;
			break;
		}
		if (list->nr == KQEMU_POLICY_MAX_IDS) {
			ret = -E2BIG;
			break;
		}
		list->ids[list->nr++] = id;
	}
	kfree(buf);
	return ret;
}

static int id_list_set(const char *val, const struct kernel_param *kp)
{
	struct kqemu_id_list __rcu **listp = kp->arg;
	struct kqemu_id_list *new, *old;
	int ret;

	new = kzalloc(sizeof(*new), GFP_KERNEL);
	if (!new)
		return -ENOMEM;
	ret = id_list_parse(val, new, listp == &allowed_gids);
	if (ret) {
		pr_warn("%s: cannot use \"%.*s\": %s\n", kp->name,
			(int)strcspn(val, "\n"), val,
			ret == -E2BIG ? "more than 32 ids" : "not a list of numeric ids");
		kfree(new);
		return ret;
	}
	mutex_lock(&policy_lock);
	old = rcu_replace_pointer(*listp, new, lockdep_is_held(&policy_lock));
	policy_changed();
	mutex_unlock(&policy_lock);
	if (old)
		kfree_rcu(old, rcu);
	return 0;
}

static int id_list_get(char *buffer, const struct kernel_param *kp)
{
	struct kqemu_id_list __rcu **listp = kp->arg;
	const struct kqemu_id_list *list;
	unsigned int i;
	int len = 0;

	rcu_read_lock();
	list = rcu_dereference(*listp);
	for (i = 0; list && i < list->nr; i++)
		len += scnprintf(buffer + len, PAGE_SIZE - len, "%s%u",
				 i ? "," : "", list->ids[i]);
	rcu_read_unlock();
	len += scnprintf(buffer + len, PAGE_SIZE - len, "\n");
	return len;
}

static const struct kernel_param_ops id_list_ops = {
	.set = id_list_set,
	.get = id_list_get,
};

static int strict_set(const char *val, const struct kernel_param *kp)
{
	int ret;

	mutex_lock(&policy_lock);
	ret = param_set_bool(val, kp);
	if (!ret)
		policy_changed();
	mutex_unlock(&policy_lock);
	return ret;
}

static const struct kernel_param_ops strict_ops = {
	.set = strict_set,
	.get = param_get_bool,
};

module_param_cb(allow_users, &id_list_ops, &allowed_uids, 0644);
MODULE_PARM_DESC(allow_users, "Comma-separated uids that may open /dev/kqemu");
module_param_cb(allow_groups, &id_list_ops, &allowed_gids, 0644);
MODULE_PARM_DESC(allow_groups, "Comma-separated gids whose members may open /dev/kqemu");
module_param_cb(strict, &strict_ops, &strict, 0644);
MODULE_PARM_DESC(strict, "Deny root too unless it is listed (default: root is allowed)");

void kqemu_acl_exit(void)
{
	kfree(rcu_dereference_protected(allowed_uids, 1));
	kfree(rcu_dereference_protected(allowed_gids, 1));
}
