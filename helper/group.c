// SPDX-License-Identifier: GPL-2.0
/*
 * Groups and users: on the host through NSS (getgrnam(3), getpwnam(3)), so
 * that LDAP and sssd accounts count as they do for login; under --root from
 * DIR/etc/group and DIR/etc/passwd, so that --root means what it says.
 * They are changed through the distribution's own tools: systemd-sysusers declares and creates the group
 * from our sysusers.d file; the shadow tools are the fallback.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kqemuctl.h"

static const char *const sysusers_tools[] = {
	"/usr/bin/systemd-sysusers", "/bin/systemd-sysusers", NULL };
static const char *const groupadd_tools[] = {
	"/usr/sbin/groupadd", "/sbin/groupadd", NULL };
static const char *const groupdel_tools[] = {
	"/usr/sbin/groupdel", "/sbin/groupdel", NULL };
static const char *const usermod_tools[] = {
	"/usr/sbin/usermod", "/sbin/usermod", NULL };

/* Splits one "a:b:c:d" line into at most n fields, in place. */
static int split_fields(char *line, char **fields, int n)
{
	int i = 0;

	fields[i++] = line;
	for (char *s = line; *s && i < n; s++) {
		if (*s == ':') {
			*s = '\0';
			fields[i++] = s + 1;
		}
	}
	return i;
}

/* getgrnam_r()/getpwnam_r() with a buffer that grows until it fits. */
static int nss_group(const char *name, struct group_entry *out)
{
	struct group gr, *res = NULL;
	size_t size = 4096;
	char *buf = NULL;
	int r;

	for (;;) {
		char *nbuf = realloc(buf, size);

		if (!nbuf) {
			free(buf);
			return -ENOMEM;
		}
		buf = nbuf;
		r = getgrnam_r(name, &gr, buf, size, &res);
		if (r != ERANGE || size > (1 << 24))
			break;
		size *= 2;
	}
	if (r == 0 && res) {
		snprintf(out->name, sizeof(out->name), "%s", gr.gr_name);
		out->gid = gr.gr_gid;
		out->members[0] = '\0';
		for (char **m = gr.gr_mem; m && *m; m++)
			snprintf(out->members + strlen(out->members),
				 sizeof(out->members) - strlen(out->members), "%s%s",
				 out->members[0] ? "," : "", *m);
	}
	free(buf);
	return r ? -r : res ? 0 : -ENOENT;
}

static int nss_user(const char *name, uid_t *uid, gid_t *gid, char *name_out, size_t size)
{
	struct passwd pw, *res = NULL;
	char buf[16384];
	int r = name ? getpwnam_r(name, &pw, buf, sizeof(buf), &res) :
		       getpwuid_r(*uid, &pw, buf, sizeof(buf), &res);

	if (r)
		return -r;
	if (!res)
		return -ENOENT;
	*uid = pw.pw_uid;
	if (gid)
		*gid = pw.pw_gid;
	if (name_out)
		snprintf(name_out, size, "%s", pw.pw_name);
	return 0;
}

int group_lookup(const char *name, struct group_entry *out)
{
	char *contents, *line, *save = NULL;
	int r;

	if (root_is_host())
		return nss_group(name, out);
	r = read_file("/etc/group", &contents);

	if (r < 0)
		return r;
	r = -ENOENT;
	for (line = strtok_r(contents, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[4];

		if (split_fields(line, f, 4) < 3 || strcmp(f[0], name))
			continue;
		snprintf(out->name, sizeof(out->name), "%s", f[0]);
		out->gid = strtoul(f[2], NULL, 10);
		snprintf(out->members, sizeof(out->members), "%s", f[3] ? f[3] : "");
		r = 0;
		break;
	}
	free(contents);
	return r;
}

bool group_has_member(const struct group_entry *g, const char *user)
{
	size_t len = strlen(user);

	for (const char *s = g->members; *s; ) {
		size_t n = strcspn(s, ",");

		if (n == len && !strncmp(s, user, len))
			return true;
		s += n;
		if (*s == ',')
			s++;
	}
	return false;
}

/* Finds a user by name, or by uid when name is NULL and *uid is set. */
static int passwd_find(const char *name, uid_t *uid, gid_t *gid,
		       char *name_out, size_t size)
{
	char *contents, *line, *save = NULL;
	int r;

	if (root_is_host())
		return nss_user(name, uid, gid, name_out, size);
	r = read_file("/etc/passwd", &contents);
	if (r < 0)
		return r;
	r = -ENOENT;
	for (line = strtok_r(contents, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[4];
		uid_t u;

		if (split_fields(line, f, 4) < 4)
			continue;
		u = strtoul(f[2], NULL, 10);
		if (name ? strcmp(f[0], name) != 0 : u != *uid)
			continue;
		*uid = u;
		if (gid)
			*gid = strtoul(f[3], NULL, 10);
		if (name_out)
			snprintf(name_out, size, "%s", f[0]);
		r = 0;
		break;
	}
	free(contents);
	return r;
}

int user_lookup(const char *name, uid_t *uid, gid_t *gid)
{
	return passwd_find(name, uid, gid, NULL, 0);
}

int user_name_of(uid_t uid, char *buf, size_t size)
{
	return passwd_find(NULL, &uid, NULL, buf, size);
}

/* --prefix for the shadow tools, which then edit DIR/etc/group. */
static void add_prefix(const char **argv, int *n)
{
	if (!root_is_host()) {
		argv[(*n)++] = "--prefix";
		argv[(*n)++] = opt.root;
	}
}

/* sysusers: the sysusers.d file that declares it (under --root). */
int group_create(const char *name, const char *sysusers)
{
	const char *tool, *argv[8];
	char *conf = NULL, *root_arg = NULL;
	int n = 0, r;

	tool = find_tool(sysusers_tools);
	if (tool) {
		/* Only our file: sysusers must not create anybody else's groups. */
		conf = root_path(sysusers);
		argv[n++] = tool;
		if (!root_is_host()) {
			if (asprintf(&root_arg, "--root=%s", opt.root) < 0)
				return -ENOMEM;
			argv[n++] = root_arg;
		}
		argv[n++] = conf;
	} else if ((tool = find_tool(groupadd_tools))) {
		argv[n++] = tool;
		argv[n++] = "--system";
		add_prefix(argv, &n);
		argv[n++] = name;
	} else {
		return fail(ENOENT, "cannot create group '%s': neither systemd-sysusers nor groupadd is installed (install systemd or passwd)",
			    name);
	}
	argv[n] = NULL;
	r = run_tool(argv);
	free(conf);
	free(root_arg);
	if (r > 0)
		return fail(EIO, "cannot create group '%s': %s exited with status %d",
			    name, argv[0], r);
	if (r < 0)
		return error_errno(-r, "cannot create group '%s': running %s", name, argv[0]);
	return 0;
}

int group_delete(const char *name)
{
	const char *tool = find_tool(groupdel_tools), *argv[6];
	int n = 0, r;

	if (!tool)
		return fail(ENOENT, "cannot delete group '%s': groupdel is not installed (install passwd)",
			    name);
	argv[n++] = tool;
	add_prefix(argv, &n);
	argv[n++] = name;
	argv[n] = NULL;
	r = run_tool(argv);
	if (r > 0)
		return fail(EIO, "cannot delete group '%s': groupdel exited with status %d",
			    name, r);
	return r < 0 ? error_errno(-r, "cannot delete group '%s'", name) : 0;
}

/* Where users and groups come from, for messages. */
const char *user_db(void)
{
	return root_is_host() ? "the user database (getent passwd)" : "/etc/passwd under --root";
}

const char *group_db(void)
{
	return root_is_host() ? "the group database (getent group)" : "/etc/group under --root";
}

/*
 * Whether user (whose primary group is pgid) is in g: on the host as
 * initgroups() would see it (getgrouplist(3), which asks sssd and LDAP for
 * memberships that their group entries need not list), else by /etc/group.
 */
bool user_in_group(const char *user, gid_t pgid, const struct group_entry *g)
{
	if (pgid == g->gid || group_has_member(g, user))
		return true;
	if (root_is_host()) {
		gid_t groups[1024];
		int n = 1024;

		if (getgrouplist(user, pgid, groups, &n) >= 0)
			for (int i = 0; i < n; i++)
				if (groups[i] == g->gid)
					return true;
	}
	return false;
}

/*
 * A group name as Debian's adduser and useradd take it: letters, digits,
 * '_', '.' and '-', not first '-' or '.', an optional final '$' (Samba
 * machine accounts), at most 32 characters, and not all digits (that would
 * read as a gid).
 */
bool group_name_valid(const char *name)
{
	size_t len = strlen(name), body = len;

	if (len == 0 || len > 32 || name[0] == '-' || name[0] == '.')
		return false;
	if (name[len - 1] == '$')
		body--;
	if (body == 0 || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != body)
		return false;
	return strspn(name, "0123456789") != body;
}

int group_add_member(const char *group, const char *user)
{
	const char *tool = find_tool(usermod_tools), *argv[8];
	int n = 0, r;

	if (!tool)
		return fail(ENOENT, "cannot add '%s' to '%s': usermod is not installed (install passwd)",
			    user, group);
	argv[n++] = tool;
	argv[n++] = "--append";
	argv[n++] = "--groups";
	argv[n++] = group;
	add_prefix(argv, &n);
	argv[n++] = user;
	argv[n] = NULL;
	r = run_tool(argv);
	if (r > 0)
		return fail(EIO, "cannot add '%s' to '%s': usermod exited with status %d",
			    user, group, r);
	return r < 0 ? error_errno(-r, "cannot add '%s' to '%s'", user, group) : 0;
}
