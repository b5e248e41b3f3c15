// SPDX-License-Identifier: GPL-2.0
/*
 * kqemuctl status: what is, read from sysfs and the node; changes nothing.
 * Last, the module's recent access events (denials, revocations, policy
 * changes), with the user's name as the rest of kqemuctl looks it up.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "kqemuctl.h"

static const char *const counters[] = {
	"vms", "vcpus", "mapped_bytes", "denials", "revocations", NULL };

static const char *state_name(enum module_state s)
{
	static const char *const names[] = {
		[MODULE_ABSENT] = "not loaded", [MODULE_LIVE] = "live",
		[MODULE_COMING] = "coming", [MODULE_GOING] = "going" };

	return names[s];
}

/*
 * The module's recent access events: nothing where it has no such file (an
 * older kqemu, or none loaded), one sentence where it cannot be read.
 */
static void recent_unreadable(int err)
{
	if (err < 0 && err != -ENOENT)
		fail(-err, "cannot read %s (%s): the recent denials and revocations are not shown%s",
		     shown(RECENT_FILE), strerror(-err),
		     err == -EACCES ? "; root can read them: sudo kqemuctl status" : "");
}

static void json_recent(struct json *j, const struct recent *r)
{
	json_open(j, '[');
	for (size_t i = 0; i < r->n; i++) {
		const struct recent_event *ev = &r->ev[i];
		char name[64];

		json_open(j, '{');
		json_key(j, "time");
		json_uint(j, ev->time);
		json_key(j, "kind");
		json_string(j, recent_kind_name(ev->kind));
		json_key(j, "uid");
		json_uint(j, ev->uid);
		json_key(j, "user");
		if (user_name_of(ev->uid, name, sizeof(name)) == 0)
			json_string(j, name);
		else
			json_null(j);
		json_key(j, "pid");
		json_uint(j, ev->pid);
		json_key(j, "comm");
		json_string(j, ev->comm);
		json_key(j, "gen");
		json_uint(j, ev->gen);
		json_close(j, '}');
	}
	json_close(j, ']');
}

/* One line per event, oldest first, the label on the first. */
static void print_recent(const struct recent *r)
{
	if (!r->n)
		info("%-11s %s", "recent:", "no denial, revocation or policy change since kqemu was loaded");
	for (size_t i = 0; i < r->n; i++) {
		const struct recent_event *ev = &r->ev[i];
		char when[64], name[64], who[96], comm[RECENT_COMM_SIZE];

		recent_time(ev->time, when, sizeof(when));
		if (user_name_of(ev->uid, name, sizeof(name)) == 0)
			snprintf(who, sizeof(who), "uid %u (%s)", (unsigned int)ev->uid, name);
		else
			snprintf(who, sizeof(who), "uid %u", (unsigned int)ev->uid);
		recent_comm_shown(ev->comm, comm, sizeof(comm));
		if (ev->kind == RECENT_POLICY)
			info("%-11s %s policy  %s, pid %d%s%s changed the policy (generation %llu)",
			     i ? "" : "recent:", when, who, ev->pid, comm[0] ? " " : "", comm, ev->gen);
		else
			info("%-11s %s %-7s %s, pid %d%s%s", i ? "" : "recent:", when,
			     recent_kind_name(ev->kind), who, ev->pid, comm[0] ? " " : "", comm);
	}
	if (r->skipped)
		info("%-11s Skipped %zu line%s of %s not in the form this kqemuctl knows.", "",
		     r->skipped, r->skipped == 1 ? "" : "s", shown(RECENT_FILE));
}

int verb_status(int argc, char **argv)
{
	enum module_state state = module_state();
	struct acl live = { 0 }, saved = { 0 };
	char *node = root_path(DEVICE_NODE);
	bool have_node, have_live, have_saved;
	int recent_err = -ENOENT;
	struct recent recent;
	struct stat st;

	(void)argv;
	if (argc > 1)
		return fail(EINVAL, "status takes options only; see kqemuctl --help");
	have_node = stat(node, &st) == 0;
	have_live = state != MODULE_ABSENT && acl_read_live(&live) == 0;
	have_saved = acl_read_persisted(&saved) == 0;
	if (state != MODULE_ABSENT)
		recent_err = recent_read(&recent);
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
		/* null: this kqemu keeps no such list, or it cannot be read. */
		json_key(&j, "recent");
		if (!recent_err)
			json_recent(&j, &recent);
		else
			json_null(&j);
		json_key(&j, "recent_skipped");
		json_uint(&j, recent_err ? 0 : recent.skipped);
		json_close(&j, '}');
		fflush(stdout);
		recent_unreadable(recent_err);
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
	if (!recent_err)
		print_recent(&recent);
	recent_unreadable(recent_err);
	return 0;
}
