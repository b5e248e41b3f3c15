/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kqemuctl: what the verbs share.  Functions return 0 or a positive count
 * on success and -errno on failure; only main() (kqemuctl.c) turns an errno
 * into an exit status, and each verb prints the words that name the object
 * and the next step before it returns.
 */
#ifndef KQEMUCTL_H
#define KQEMUCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* From debian/changelog, through the Makefile: one version everywhere. */
#ifndef KQEMU_VERSION
#error "build kqemuctl with make, which passes -DKQEMU_VERSION from debian/changelog"
#endif
#define MODULE_NAME		"kqemu"
#define DEVICE_NODE		"/dev/kqemu"
#define DEFAULT_GROUP		"kvm-users"
#define DEFAULT_MODE		0660

/* The files install writes, relative to --root. */
#define SYSUSERS_FILE		"/etc/sysusers.d/kqemu.conf"
#define UDEV_RULE_FILE		"/etc/udev/rules.d/60-kqemu.rules"
#define MODPROBE_FILE		"/etc/modprobe.d/kqemu.conf"
#define MODULES_LOAD_FILE	"/etc/modules-load.d/kqemu.conf"
#define MANIFEST_FILE		"/var/lib/kqemu/install.manifest"

/* Verbs that found something wrong but did not fail return this. */
#define PROBLEMS_FOUND		1

struct options {
	const char *root;	/* "/" unless --root; no trailing '/' */
	const char *root_typed;	/* --root as the admin typed it, for messages */
	bool dry_run;
	bool force;
	bool json;
	bool purge;
	bool uaccess;
	const char *group;
	mode_t mode;
	const char *user;	/* doctor --user */
};

extern struct options opt;

typedef int (*verb_fn)(int argc, char **argv);

int verb_install(int argc, char **argv);
int verb_uninstall(int argc, char **argv);
int verb_load(int argc, char **argv);
int verb_unload(int argc, char **argv);
int verb_status(int argc, char **argv);
int verb_allow(int argc, char **argv);
int verb_deny(int argc, char **argv);
int verb_acl(int argc, char **argv);
int verb_adduser(int argc, char **argv);
int verb_doctor(int argc, char **argv);

/* util.c: messages, paths under --root, files, processes. */
void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int error_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *root_path(const char *path);		/* malloc'd; never NULL */
const char *shown(const char *path);	/* path under --root, as the admin would type it */
bool root_is_host(void);
int read_file(const char *path, char **contents);	/* path under --root */
int read_first_line(const char *path, char *buf, size_t size);
int write_file_atomic(const char *path, const char *contents, mode_t mode);
int mkdir_parents(const char *path, char ***created);	/* records new dirs */
bool path_exists(const char *path);
/* sha256.c: the hash the manifest records, as sha256sum prints it. */
#define HASH_HEX_LEN	64
void content_hash(const char *s, char out[HASH_HEX_LEN + 1]);
bool content_hash_matches(const char *s, const char *hash);
int run_tool(const char *const argv[]);	/* -errno, or exit status > 0 */
const char *find_tool(const char *const candidates[]);
void strv_free(char **v);
int strv_push(char ***v, const char *s);

/* group.c: NSS on the host, DIR/etc/group and DIR/etc/passwd under --root. */
struct group_entry {
	char name[64];
	gid_t gid;
	char members[8192];	/* comma list, as in /etc/group */
};
int group_lookup(const char *name, struct group_entry *out);	/* 0, -ENOENT */
bool group_has_member(const struct group_entry *g, const char *user);
int user_lookup(const char *name, uid_t *uid, gid_t *gid);	/* /etc/passwd */
int user_name_of(uid_t uid, char *buf, size_t size);
int group_create(const char *name, const char *sysusers);
bool group_name_valid(const char *name);
bool user_in_group(const char *user, gid_t pgid, const struct group_entry *g);
const char *user_db(void);
const char *group_db(void);	/* systemd-sysusers, else groupadd */
int group_delete(const char *name);
int group_add_member(const char *group, const char *user);

/* manifest.c: what install did, so uninstall undoes exactly that. */
struct manifest_file {
	char *path;
	char hash[HASH_HEX_LEN + 1];	/* of what we wrote (sha256; 16 digits: FNV-1a, 1.0's) */
	char *backup;			/* the admin's file we replaced, or NULL */
	bool configure;			/* first written by configure.sh (package, make install) */
};
struct manifest {
	struct manifest_file *files;
	size_t nfiles;
	char **dirs;			/* directories install created */
	char *group;			/* set when install created the group */
	bool loaded;			/* install loaded the module */
	char *acl_before;		/* allow_groups before install set it live */
};
int manifest_load(struct manifest *m);	/* an empty one when absent */
int manifest_save(const struct manifest *m);
int manifest_remove(void);
void manifest_free(struct manifest *m);
struct manifest_file *manifest_find(struct manifest *m, const char *path);
void manifest_set_file(struct manifest *m, const char *path,
		       const char *contents, const char *backup);
void manifest_drop_file(struct manifest *m, const char *path);

/*
 * owned.c: files that kqemuctl owns.  A file is ours when the manifest has
 * it with the hash it has now; anything else there is an admin's.
 */
enum file_change { FILE_UNCHANGED, FILE_CREATED, FILE_UPDATED, FILE_REPLACED };
struct file_undo {
	char *path;
	char *before;		/* the old contents; NULL when there was no file */
	char *backup;		/* the backup this write made, or NULL */
	bool new_entry;		/* the manifest did not list path before */
	size_t ndirs;		/* directories it created (the manifest's last ones) */
};
int owned_file_write(struct manifest *m, const char *path, const char *contents,
		     enum file_change *change, struct file_undo *undo);
void file_undo_apply(struct manifest *m, struct file_undo *undo);
void file_undo_free(struct file_undo *undo);
int owned_file_state(const struct manifest_file *f);	/* 0 ours, 1 edited, -ENOENT */
int remove_dir_if_empty(const char *dir);

/* module.c: libkmod and sysfs. */
enum module_state { MODULE_ABSENT, MODULE_LIVE, MODULE_COMING, MODULE_GOING };
enum module_state module_state(void);
int module_load(const char *why);	/* 0 loaded, >0 already loaded */
int module_unload(void);
int module_users(char *buf, size_t size);	/* holders, refcnt, processes */
int module_param_read(const char *name, char *buf, size_t size);
int module_param_write(const char *name, const char *value);
int module_blacklisted_in(char *file, size_t size);	/* 1 and the file, or 0 */
int module_lookup_path(char *path, size_t size);
int module_info(const char *key, char *buf, size_t size);	/* modinfo key */
const char *kernel_release(void);
const char *module_load_hint(int err);

/* device.c: libudev. */
int device_wait_node(int timeout_ms);
int device_reapply_rule(int timeout_ms);
int udev_reload_rules(void);
bool udevd_running(void);

/*
 * acl.c: the live ACL and its persisted copy in modprobe.d.  Lists are
 * canonical, "1000,1001", and hold what the kernel accepts (kmod/acl.c):
 * decimal ids below (uid_t)-1, at most ACL_MAX_IDS.
 */
#define ACL_MAX_IDS	32	/* KQEMU_POLICY_MAX_IDS in kmod/acl.c */
#define ACL_TEXT_MAX	(ACL_MAX_IDS * 11 + 1)
struct acl {
	char users[ACL_TEXT_MAX];
	char groups[ACL_TEXT_MAX];
	char bad[128];		/* acl_read_persisted(): the entry the kernel refuses */
};
int parse_id(const char *s, uint32_t *id);	/* 0, or -EINVAL */
int id_list_normalize(const char *in, char *out, size_t size, char *bad, size_t badsize);
int acl_read_live(struct acl *acl);
int acl_read_persisted(struct acl *acl);	/* -ENOENT, -EBADMSG: see acl->bad */
int acl_bad_persisted(const struct acl *acl);	/* says so; -EBADMSG */
char *acl_modprobe_conf(const struct acl *acl);	/* malloc'd file contents */
bool id_list_has(const char *list, uint32_t id);
int id_list_add(char *list, uint32_t id);	/* 1 added, 0 there, -E2BIG full */
void id_list_del(char *list, uint32_t id);
bool id_lists_same(const char *a, const char *b);

/* json.c: a JSON writer that escapes every string. */
#define JSON_MAX_DEPTH	8
struct json {
	FILE *f;
	int depth;
	unsigned int count[JSON_MAX_DEPTH];	/* members written at each depth */
	bool after_key;
};
void json_open(struct json *j, char bracket);	/* '{' or '[' */
void json_close(struct json *j, char bracket);
void json_key(struct json *j, const char *key);
void json_string(struct json *j, const char *s);
void json_uint(struct json *j, unsigned long long v);
void json_null(struct json *j);
void json_number_or_null(struct json *j, const char *s);

/*
 * recent.c: the module's last access events (stats/recent; older modules have none).
 * recent_read() returns 0 (also for an empty file), -ENOENT where the
 * module has no such file, or another -errno; malformed lines are counted
 * in skipped, not returned.
 */
#define RECENT_FILE		"/sys/class/misc/kqemu/stats/recent"
#define RECENT_MAX		16	/* what the module keeps */
#define RECENT_COMM_SIZE	16	/* TASK_COMM_LEN: 15 bytes and the NUL */
enum recent_kind { RECENT_DENIED, RECENT_REVOKED, RECENT_POLICY };
struct recent_event {
	long long time;		/* unix seconds */
	enum recent_kind kind;
	uint32_t uid;		/* for policy: the writer's */
	int pid;
	char comm[RECENT_COMM_SIZE];
	unsigned long long gen;	/* the policy generation */
};
struct recent {
	struct recent_event ev[RECENT_MAX];	/* oldest first */
	size_t n;
	size_t skipped;		/* lines not in the module's form */
};
int recent_read(struct recent *r);
const char *recent_kind_name(enum recent_kind kind);
void recent_time(long long t, char *buf, size_t size);	/* local time */
void recent_comm_shown(const char *comm, char *buf, size_t size);	/* printable ASCII */

/* files.c: what install writes. */
char *sysusers_conf(const char *group);
char *udev_rule(const char *group, mode_t mode, bool uaccess);
char *modules_load_conf(void);

#endif
