// SPDX-License-Identifier: GPL-2.0
/* kqemuctl status: what is, read from sysfs and the node; changes nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "kqemuctl.h"

static const char *const counters[] = {
	"vms", "vcpus", "pinned_bytes", "denials", "revocations", NULL };

static const char *state_name(enum module_state s)
{
	static const char *const names[] = {
		[MODULE_ABSENT] = "not loaded", [MODULE_LIVE] = "live",
		[MODULE_COMING] = "coming", [MODULE_GOING] = "going" };

	return names[s];
}

int verb_status(int argc, char **argv)
{
	enum module_state state = module_state();
	struct acl live = { 0 }, saved = { 0 };
	char *node = root_path(DEVICE_NODE);
	bool have_node, have_live, have_saved;
	struct stat st;

	(void)argv;
	if (argc > 1)
		return fail(EINVAL, "status takes options only; see kqemuctl --help");
	have_node = stat(node, &st) == 0;
	have_live = state != MODULE_ABSENT && acl_read_live(&live) == 0;
	have_saved = acl_read_persisted(&saved) == 0;
	free(node);

	if (opt.json) {
		struct json j = { .f = stdout };
		char mode[8], dev[32];

		json_open(&j, '{');
		json_key(&j, "module");
		json_string(&j, state_name(state));
		json_key(&j, "node");
		if (have_node) {
			snprintf(mode, sizeof(mode), "%04o", (unsigned int)(st.st_mode & 07777));
			snprintf(dev, sizeof(dev), "%u:%u", major(st.st_rdev), minor(st.st_rdev));
			json_open(&j, '{');
			json_key(&j, "path");
			json_string(&j, DEVICE_NODE);
			json_key(&j, "uid");
			json_uint(&j, st.st_uid);
			json_key(&j, "gid");
			json_uint(&j, st.st_gid);
			json_key(&j, "mode");
			json_string(&j, mode);
			json_key(&j, "dev");
			json_string(&j, dev);
			json_close(&j, '}');
		} else {
			json_null(&j);
		}
		for (int a = 0; a < 2; a++) {
			const struct acl *acl = a ? &saved : &live;

			json_key(&j, a ? "persisted_acl" : "acl");
			if (!(a ? have_saved : have_live)) {
				json_null(&j);
				continue;
			}
			json_open(&j, '{');
			json_key(&j, "allow_users");
			json_string(&j, acl->users);
			json_key(&j, "allow_groups");
			json_string(&j, acl->groups);
			json_close(&j, '}');
		}
		json_key(&j, "counters");
		json_open(&j, '{');
		for (int i = 0; counters[i]; i++) {
			char path[128], val[64] = "";

			snprintf(path, sizeof(path), "/sys/class/misc/kqemu/stats/%s", counters[i]);
			read_first_line(path, val, sizeof(val));
			json_key(&j, counters[i]);
			json_number_or_null(&j, val);
		}
		json_close(&j, '}');
		json_close(&j, '}');
		fflush(stdout);
		return 0;
	}

	info("module:     %s %s", MODULE_NAME, state_name(state));
	if (have_node)
		info("node:       %s %u:%u %04o (char %u:%u)", DEVICE_NODE, (unsigned int)st.st_uid,
		     (unsigned int)st.st_gid, (unsigned int)(st.st_mode & 07777),
		     major(st.st_rdev), minor(st.st_rdev));
	else
		info("node:       %s absent", DEVICE_NODE);
	if (have_live)
		info("live ACL:   allow_users=%s allow_groups=%s", live.users, live.groups);
	if (have_saved)
		info("persisted:  allow_users=%s allow_groups=%s (%s)", saved.users, saved.groups, shown(MODPROBE_FILE));
	for (int i = 0; state != MODULE_ABSENT && counters[i]; i++) {
		char path[128], val[64] = "?";

		snprintf(path, sizeof(path), "/sys/class/misc/kqemu/stats/%s", counters[i]);
		read_first_line(path, val, sizeof(val));
		info("%-11s %s", counters[i], val);
	}
	return 0;
}
