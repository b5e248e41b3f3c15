/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the programs that run inside the test VM share: TAP-like reporting
 * ("ok - what" / "not ok - what: why", counted by the host), the test users,
 * and small wrappers around the kqemu ABI.
 */
#ifndef KQEMU_VMTEST_H
#define KQEMU_VMTEST_H

#include <errno.h>
#include <stdbool.h>
#include <sys/types.h>
#include <linux/kqemu.h>

/* The test users, as the initramfs's /etc/passwd and /etc/group define them. */
#define KVM_USERS_GID	990
#define MEMBER_UID	1000	/* in kvm-users (supplementary) */
#define OUTSIDER_UID	1001	/* in no group of ours */
#define LISTED_UID	1002	/* allowed by uid, in no allowed group */

struct who {
	const char *name;
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[4];
};

extern const struct who root_user, member, outsider, listed;

void report(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* ok when ret == -1 and errno == err; says which errno came instead. */
void expect_errno(long ret, int err, const char *what);
void expect_ok(long ret, const char *what);

/* Runs fn in a child with who's credentials; returns fn's exit status. */
int run_as(const struct who *who, int (*fn)(void *), void *arg);

/*
 * A child with who's credentials that runs alongside the suite, in lock
 * step with it: each side waits for the other's post.  bg_wait() is false
 * when the child has died, so that the suite never hangs on it.
 */
struct bg {
	pid_t pid;
	int from_child, to_child;
};

void bg_start(struct bg *bg, const struct who *who, int (*fn)(void *));
bool bg_wait(struct bg *bg);
void bg_post(struct bg *bg);
int bg_finish(struct bg *bg);	/* closes the pipes, returns the exit status */
void child_post(void);
void child_wait(void);

int kqemu_open(void);
int create_vm(int devfd);
int write_param(const char *name, const char *value);
long read_stat(const char *name);

#endif
