// SPDX-License-Identifier: GPL-2.0
/* kqemuctl adduser USER: into the group, and the truth about when it counts. */
#include <errno.h>
#include <stdio.h>

#include "kqemuctl.h"

int verb_adduser(int argc, char **argv)
{
	struct group_entry g;
	uid_t uid;
	gid_t gid;
	int r;

	if (argc != 2)
		return fail(EINVAL, "usage: kqemuctl adduser USER");
	if (user_lookup(argv[1], &uid, &gid) < 0)
		return fail(ENOENT, "no user '%s' in %s", argv[1], user_db());
	if (group_lookup(opt.group, &g) < 0)
		return fail(ENOENT, "no group '%s': run kqemuctl install first", opt.group);
	if (user_in_group(argv[1], gid, &g)) {
		info("unchanged: %s is in %s already", argv[1], opt.group);
		return 0;
	}
	if (opt.dry_run) {
		info("would add: %s to %s", argv[1], opt.group);
		return 0;
	}
	r = group_add_member(opt.group, argv[1]);
	if (r < 0)
		return r;
	info("added: %s to %s. It takes effect at %s's next login: log out and in again (or run `newgrp %s` in a shell)",
	     argv[1], opt.group, argv[1], opt.group);
	return 0;
}
