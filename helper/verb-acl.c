// SPDX-License-Identifier: GPL-2.0
/*
 * kqemuctl allow / deny / acl: the in-kernel ACL, changed live through
 * sysfs and persisted in modprobe.d, so that the running module and the
 * next load agree.  The live write goes first because the kernel validates
 * it; the file follows, and if it cannot be written the live value is put
 * back, so the two never disagree because of us.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kqemuctl.h"

/*
 * NAME or a number, for "user" or "group"; *is_group says which.  A word
 * of digits only is an id, as for chown(1); it must be one the kernel
 * takes (decimal, below (uid_t)-1).
 */
static int parse_subject(int argc, char **argv, bool *is_group, uint32_t *id)
{
	const char *what;

	if (argc != 3 || (strcmp(argv[1], "user") && strcmp(argv[1], "group")))
		return fail(EINVAL, "usage: kqemuctl %s user|group NAME", argv[0]);
	*is_group = !strcmp(argv[1], "group");
	if (!argv[2][0])
		return fail(EINVAL, "usage: kqemuctl %s %s NAME: NAME is empty", argv[0], argv[1]);
	what = *is_group ? "gid" : "uid";
	if (argv[2][0] && strspn(argv[2], "0123456789") == strlen(argv[2])) {
		if (parse_id(argv[2], id) < 0)
			return fail(EINVAL, "%s is not a %s kqemu can take: a %s is a decimal number from 0 to 4294967294",
				    argv[2], what, what);
		return 0;
	}
	if (*is_group) {
		struct group_entry g;

		if (group_lookup(argv[2], &g) < 0)
			return fail(ENOENT, "no group '%s' in %s; create it, or give a numeric gid", argv[2], group_db());
		*id = g.gid;
	} else {
		uid_t uid;

		if (user_lookup(argv[2], &uid, NULL) < 0)
			return fail(ENOENT, "no user '%s' in %s; give a numeric uid", argv[2], user_db());
		*id = uid;
	}
	if (*id == (uint32_t)-1)
		return fail(EINVAL, "%s '%s' has the %s 4294967295, which means \"no id\": kqemu refuses it", argv[1], argv[2], what);
	return 0;
}

/*
 * The ACL is checked after the node's mode: a user allowed by uid but not
 * in the node's group still gets EACCES from the file mode.  Say so.
 */
static void warn_node_access(uint32_t uid)
{
	char *node = root_path(DEVICE_NODE), name[64];
	struct group_entry g;
	struct stat st;
	gid_t pgid;
	uid_t u = uid;

	if (stat(node, &st) == 0 && (st.st_mode & 0006) != 0006 && st.st_uid != uid &&
	    user_name_of(u, name, sizeof(name)) == 0 && user_lookup(name, &u, &pgid) == 0 &&
	    group_lookup(opt.group, &g) == 0 && g.gid == st.st_gid &&
	    !user_in_group(name, pgid, &g))
		info("note: %s is not in %s, and %s is %04o root:%s, so the file mode still refuses it: kqemuctl adduser %s",
		     name, opt.group, DEVICE_NODE, (unsigned int)(st.st_mode & 07777), opt.group, name);
	free(node);
}

static int acl_change(int argc, char **argv, bool allow)
{
	struct acl before, after;
	struct manifest m;
	enum file_change change;
	struct file_undo undo;
	bool is_group = false, live = module_state() == MODULE_LIVE;
	uint32_t id = 0;
	char *list;
	int r;

	r = parse_subject(argc, argv, &is_group, &id);
	if (r < 0)
		return r;
	r = acl_read_persisted(&before);
	if (r == -EBADMSG)
		return acl_bad_persisted(&before);
	if (r < 0 && live && acl_read_live(&before) < 0)
		return fail(EBADMSG, "cannot read the live ACL in /sys/module/%s/parameters: it is not a list of ids", MODULE_NAME);
	after = before;
	list = is_group ? after.groups : after.users;
	if (allow && id_list_add(list, id) == -E2BIG)
		return fail(E2BIG, "kqemu's ACL holds at most %d %ss, and allow_%s has %d already: deny one first, or allow a group instead of single users",
			    ACL_MAX_IDS, is_group ? "gid" : "uid", is_group ? "groups" : "users", ACL_MAX_IDS);
	if (!allow)
		id_list_del(list, id);

	if (live && !opt.dry_run) {
		r = module_param_write(is_group ? "allow_groups" : "allow_users", list);
		if (r < 0)
			return error_errno(-r, "%s rejected %s=%s", MODULE_NAME,
					   is_group ? "allow_groups" : "allow_users", list);
	}
	r = manifest_load(&m);
	if (r == 0)
		r = owned_file_write(&m, MODPROBE_FILE, acl_modprobe_conf(&after), &change, &undo);
	if (r == 0 && change != FILE_UNCHANGED && !opt.dry_run) {
		r = mkdir_parents(MANIFEST_FILE, &m.dirs);
		if (r == 0)
			r = manifest_save(&m);
		if (r < 0)
			file_undo_apply(&m, &undo);
	}
	file_undo_free(&undo);
	manifest_free(&m);
	if (r < 0) {
		if (live && !opt.dry_run)
			module_param_write(is_group ? "allow_groups" : "allow_users",
					   is_group ? before.groups : before.users);
		return r;
	}
	info("%s%s %s %u: allow_users=%s allow_groups=%s (%s%s)",
	     opt.dry_run ? "would have " : "", allow ? "allowed" : "denied",
	     is_group ? "gid" : "uid", id, after.users, after.groups,
	     live ? "live and " : "", shown(MODPROBE_FILE));
	if (allow && !is_group)
		warn_node_access(id);
	if (!allow)
		info("open file descriptors of those no longer allowed fail their next ioctl with EACCES");
	return 0;
}

int verb_allow(int argc, char **argv)
{
	return acl_change(argc, argv, true);
}

int verb_deny(int argc, char **argv)
{
	return acl_change(argc, argv, false);
}

int verb_acl(int argc, char **argv)
{
	struct acl live, saved;
	bool have_live, have_saved;
	int r;

	(void)argv;
	if (argc > 1)
		return fail(EINVAL, "acl takes no arguments; see kqemuctl --help");
	have_live = module_state() == MODULE_LIVE && acl_read_live(&live) == 0;
	r = acl_read_persisted(&saved);
	if (r == -EBADMSG)
		return acl_bad_persisted(&saved);
	have_saved = r == 0;
	if (have_live)
		info("live:       allow_users=%s allow_groups=%s", live.users, live.groups);
	else
		info("live:       %s is not loaded", MODULE_NAME);
	if (have_saved)
		info("persisted:  allow_users=%s allow_groups=%s (%s)", saved.users, saved.groups, shown(MODPROBE_FILE));
	else
		info("persisted:  none (%s does not exist)", shown(MODPROBE_FILE));
	if (have_live && have_saved &&
	    (!id_lists_same(live.users, saved.users) || !id_lists_same(live.groups, saved.groups))) {
		info("they disagree: the next load gets the persisted one; kqemuctl allow/deny changes both");
		return PROBLEMS_FOUND;
	}
	return 0;
}
