/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KQEMU_H
#define KQEMU_H

#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/types.h>
#include <linux/kqemu.h>

/*
 * What a user holds, so that one user cannot take the whole host.  Keyed by
 * the opener's real uid: a setuid wrapper cannot move a user's use elsewhere.
 */
struct kqemu_user {
	struct hlist_node node;
	kuid_t uid;
	refcount_t ref;
	unsigned int vms;		/* under kqemu_users_lock */
	unsigned int vcpus;
	u64 pinned_bytes;
};

struct kqemu_user *kqemu_user_get(kuid_t uid);
void kqemu_user_put(struct kqemu_user *user);
int kqemu_user_charge_vm(struct kqemu_user *user);
void kqemu_user_uncharge_vm(struct kqemu_user *user);
int kqemu_user_charge_pinned(struct kqemu_user *user, u64 bytes);
void kqemu_user_uncharge_pinned(struct kqemu_user *user, u64 bytes);
int kqemu_user_charge_vcpu(struct kqemu_user *user);
void kqemu_user_uncharge_vcpu(struct kqemu_user *user);
u64 kqemu_max_pinned_bytes(void);
unsigned int kqemu_max_vms(void);
unsigned int kqemu_max_vcpus(void);

/*
 * Who opened /dev/kqemu, as each fd derived from that open remembers it.
 * Creds never change, so whether the opener was an administrator is fixed
 * at open; what can change is the policy, which every ioctl re-checks when
 * its generation has moved on.
 */
struct kqemu_client {
	const struct cred *cred;
	struct kqemu_user *user;
	bool admin;
	bool revoked;
	unsigned int policy_gen;
};

int kqemu_client_init(struct kqemu_client *client, struct file *file);
void kqemu_client_copy(struct kqemu_client *dst, const struct kqemu_client *src);
void kqemu_client_release(struct kqemu_client *client);
int kqemu_client_check(struct kqemu_client *client);
void kqemu_acl_exit(void);

/* Counters shown in sysfs for the helper's status. */
struct kqemu_stats {
	atomic_long_t vms;
	atomic_long_t vcpus;
	atomic64_t pinned_bytes;
	atomic_long_t denials;
	atomic_long_t revocations;
};

extern struct kqemu_stats kqemu_stats;

long kqemu_create_vm(struct kqemu_client *client, void __user *argp);

#endif /* KQEMU_H */
