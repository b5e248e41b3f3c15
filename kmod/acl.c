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
 * Every fd's opener is registered here, and each policy change checks every
 * registered opener against the new policy at once, revoking for good those
 * it no longer allows.  Revocation therefore does not depend on what an fd
 * does meanwhile: one left idle while its user was denied stays revoked
 * after the user is allowed again.
 *
 * Every refusal at open, every revocation and every policy change is also
 * told to the kernel's audit subsystem (where audit is on: ausearch -m
 * KERNEL_OTHER shows "op=kqemu-..."), and kept in a ring of the last 16
 * that stats/recent shows, for kqemuctl status and doctor.  Each names the
 * policy generation it happened under: one more at each change.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/moduleparam.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/timekeeping.h>
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
static bool acl_gone;		/* module exit: no more policy changes */
static DEFINE_MUTEX(policy_lock);

static unsigned int policy_gen;	/* under policy_lock; READ_ONCE elsewhere */

/* --- the record: audit, and the last events for stats/recent ------------ */

enum kqemu_event_kind { EV_DENIED, EV_REVOKED, EV_POLICY };
static const char *const event_names[] = { "denied", "revoked", "policy" };

#define KQEMU_RECENT	16

struct kqemu_event {
	time64_t time;
	enum kqemu_event_kind kind;
	u32 uid, gen;
	pid_t pid;
	char comm[TASK_COMM_LEN];
};

static struct kqemu_event recent[KQEMU_RECENT];
static unsigned int recent_next, recent_count;
static DEFINE_SPINLOCK(recent_lock);

/* A task name fit for a record: no space, quote or control byte. */
static void clean_comm(char *dst, const char *src)
{
	int i;

	for (i = 0; i < TASK_COMM_LEN - 1 && src[i]; i++)
		dst[i] = (src[i] <= ' ' || src[i] >= 0x7f || src[i] == '"') ? '?' : src[i];
	dst[i] = 0;
}

/*
 * One event, for the ring and for audit.  UID is whose access it is about
 * (the writer's, for a policy change); PID and COMM the process it
 * happened in (for a revocation, the opener's, as its open() saw it).
 * DETAIL goes to the audit record alone.  May run under clients_lock.
 */
static void record_event(enum kqemu_event_kind kind, u32 uid, pid_t pid,
			 const char *comm, const char *detail)
{
	struct kqemu_event *ev;
	char clean[TASK_COMM_LEN];
	u32 gen = READ_ONCE(policy_gen);

	clean_comm(clean, comm);
	spin_lock(&recent_lock);
	ev = &recent[recent_next];
	ev->time = ktime_get_real_seconds();
	ev->kind = kind;
	ev->uid = uid;
	ev->pid = pid;
	ev->gen = gen;
	memcpy(ev->comm, clean, sizeof(ev->comm));
	recent_next = (recent_next + 1) % KQEMU_RECENT;
	if (recent_count < KQEMU_RECENT)
		recent_count++;
	spin_unlock(&recent_lock);

	if (audit_enabled)
		audit_log(audit_context(), GFP_ATOMIC, AUDIT_KERNEL_OTHER,
			  "op=kqemu-%s uid=%u auid=%u pid=%d comm=\"%s\" gen=%u %s",
			  event_names[kind], uid,
			  from_kuid(&init_user_ns, audit_get_loginuid(current)),
			  pid, clean, gen, detail);
}

/* stats/recent: the last events, oldest first, one a line. */
ssize_t kqemu_recent_show(char *buf)
{
	unsigned int i, first;
	int len = 0;

	spin_lock(&recent_lock);
	first = (recent_next + KQEMU_RECENT - recent_count) % KQEMU_RECENT;
	for (i = 0; i < recent_count; i++) {
		const struct kqemu_event *ev = &recent[(first + i) % KQEMU_RECENT];

		len += sysfs_emit_at(buf, len, "%lld %s uid=%u pid=%d comm=%s gen=%u\n",
				     (long long)ev->time, event_names[ev->kind], ev->uid,
				     ev->pid, ev->comm, ev->gen);
	}
	spin_unlock(&recent_lock);
	return len;
}

/* Every kqemu_client alive, so that a policy change reaches each of them. */
static LIST_HEAD(clients);
static DEFINE_SPINLOCK(clients_lock);

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

static void client_revoke(struct kqemu_client *client)
{
	u32 uid = from_kuid(&init_user_ns, client->cred->uid);

	lockdep_assert_held(&clients_lock);
	if (client->revoked)
		return;
	client->revoked = true;
	atomic_long_inc(&kqemu_stats.revocations);
	pr_info_ratelimited("access of uid %u revoked by a policy change\n", uid);
	record_event(EV_REVOKED, uid, client->pid, client->comm, client->what);
}

/*
 * Under policy_lock, once the new policy is in place: every opener it no
 * longer allows loses its access now, whether or not its fds are in use.
 */
static void policy_changed(void)
{
	struct kqemu_client *client;

	lockdep_assert_held(&policy_lock);
	WRITE_ONCE(policy_gen, policy_gen + 1);
	spin_lock(&clients_lock);
	list_for_each_entry(client, &clients, node)
		if (!client_allowed(client))
			client_revoke(client);
	spin_unlock(&clients_lock);
}

/*
 * A client is registered before it is checked: a policy change either sees
 * it in the list or was complete before the check, which then sees the new
 * policy.
 */
static void client_register(struct kqemu_client *client, const struct kqemu_client *from)
{
	spin_lock(&clients_lock);
	list_add(&client->node, &clients);
	client->revoked = from ? from->revoked : false;
	spin_unlock(&clients_lock);
}

static void client_unregister(struct kqemu_client *client)
{
	spin_lock(&clients_lock);
	list_del(&client->node);
	spin_unlock(&clients_lock);
}

int kqemu_client_init(struct kqemu_client *client, struct file *file)
{
	const struct cred *cred = file->f_cred;

	client->cred = cred;
	client->what = "fd=kqemu";
	client->pid = task_tgid_nr(current);
	get_task_comm(client->comm, current);
	/* Root in a user namespace is not root here: ask the initial namespace. */
	client->admin = file_ns_capable(file, &init_user_ns, CAP_SYS_ADMIN);
	client->user = kqemu_user_get(cred->uid);
	if (!client->user)
		return -ENOMEM;
	get_cred(cred);
	client_register(client, NULL);
	if (!client_allowed(client)) {
		atomic_long_inc(&kqemu_stats.denials);
		pr_warn_ratelimited("open denied to uid %u (pid %d, %s): not an allowed user or group\n",
				    from_kuid(&init_user_ns, cred->uid),
				    task_pid_nr(current), current->comm);
		record_event(EV_DENIED, from_kuid(&init_user_ns, cred->uid),
			     client->pid, client->comm, "dev=/dev/kqemu res=denied");
		kqemu_client_release(client);
		return -EACCES;
	}
	return 0;
}

void kqemu_client_copy(struct kqemu_client *dst, const struct kqemu_client *src,
		       const char *what)
{
	dst->what = what;
	dst->pid = src->pid;
	memcpy(dst->comm, src->comm, sizeof(dst->comm));
	dst->cred = get_cred(src->cred);
	dst->user = src->user;
	refcount_inc(&dst->user->ref);
	dst->admin = src->admin;
	client_register(dst, src);
}

void kqemu_client_release(struct kqemu_client *client)
{
	client_unregister(client);
	kqemu_user_put(client->user);
	put_cred(client->cred);
}

/* Returns 0, or -EACCES once the opener has lost its access for good. */
int kqemu_client_check(struct kqemu_client *client)
{
	return READ_ONCE(client->revoked) ? -EACCES : 0;
}

/* Under policy_lock, once policy_changed() has counted the new generation. */
static void policy_event(const char *param)
{
	char detail[64];

	snprintf(detail, sizeof(detail), "param=%s", param);
	record_event(EV_POLICY, from_kuid(&init_user_ns, current_uid()),
		     task_tgid_nr(current), current->comm, detail);
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
	if (acl_gone) {
		mutex_unlock(&policy_lock);
		kfree(new);
		return -ENODEV;
	}
	old = rcu_replace_pointer(*listp, new, lockdep_is_held(&policy_lock));
	policy_changed();
	policy_event(kp->name);
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
	if (!ret) {
		policy_changed();
		policy_event(kp->name);
	}
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

/*
 * The parameter files stay readable until after module exit returns: the
 * lists are unpublished before they are freed, and no write makes new ones.
 */
void kqemu_acl_exit(void)
{
	struct kqemu_id_list *uids, *gids;

	mutex_lock(&policy_lock);
	acl_gone = true;
	uids = rcu_replace_pointer(allowed_uids, NULL, lockdep_is_held(&policy_lock));
	gids = rcu_replace_pointer(allowed_gids, NULL, lockdep_is_held(&policy_lock));
	mutex_unlock(&policy_lock);
	synchronize_rcu();
	kfree(uids);
	kfree(gids);
}
