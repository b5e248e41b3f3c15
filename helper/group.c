// SPDX-License-Identifier: GPL-2.0
/*
 * Groups and users, read from /etc/group and /etc/passwd under --root (not
 * through NSS, so that --root means what it says), and changed through the
 * distribution's own tools: systemd-sysusers declares and creates the group
 * from our sysusers.d file; the shadow tools are the fallback.
 */
#include <errno.h>
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

int group_lookup(const char *name, struct group_entry *out)
{
	char *contents, *line, *save = NULL;
	int r = read_file("/etc/group", &contents);

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
	int r = read_file("/etc/passwd", &contents);

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
		return error_errno(ENOENT, "cannot create group '%s': neither systemd-sysusers nor groupadd is installed (install systemd or passwd)",
				   name);
	}
	argv[n] = NULL;
	r = run_tool(argv);
	free(conf);
	free(root_arg);
	if (r > 0)
		return error_errno(EIO, "cannot create group '%s': %s exited with status %d",
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
		return error_errno(ENOENT, "cannot delete group '%s': groupdel is not installed (install passwd)",
				   name);
	argv[n++] = tool;
	add_prefix(argv, &n);
	argv[n++] = name;
	argv[n] = NULL;
	r = run_tool(argv);
	if (r > 0)
		return error_errno(EIO, "cannot delete group '%s': groupdel exited with status %d",
				   name, r);
	return r < 0 ? error_errno(-r, "cannot delete group '%s'", name) : 0;
}

int group_add_member(const char *group, const char *user)
{
	const char *tool = find_tool(usermod_tools), *argv[8];
	int n = 0, r;

	if (!tool)
		return error_errno(ENOENT, "cannot add '%s' to '%s': usermod is not installed (install passwd)",
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
		return error_errno(EIO, "cannot add '%s' to '%s': usermod exited with status %d",
				   user, group, r);
	return r < 0 ? error_errno(-r, "cannot add '%s' to '%s'", user, group) : 0;
}
