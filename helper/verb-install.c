// SPDX-License-Identifier: GPL-2.0
/*
 * kqemuctl install: every step says what it changed; a second run changes
 * nothing and says so.  A failing step rolls back the steps before it, in
 * reverse, and the manifest is written only when everything worked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kqemuctl.h"

#define UDEV_TIMEOUT_MS	10000

struct install {
	struct manifest m;
	struct file_undo files[4];
	int nfiles;
	bool group_created;
	bool module_loaded;
	char *acl_before;	/* allow_groups before we changed it live */
	int changes;
};

static const char *change_word(enum file_change c)
{
	static const char *const words[] = {
		[FILE_UNCHANGED] = "unchanged", [FILE_CREATED] = "created",
		[FILE_UPDATED] = "updated", [FILE_REPLACED] = "replaced (backup kept)" };

	return words[c];
}

/* The lines that mean something: neither comments nor blank. */
static char *effective_lines(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	while (*s) {
		size_t n = strcspn(s, "\n");
		const char *t = s + strspn(s, " \t");

		if (t < s + n && *t != '#') {
			memcpy(o, s, n);
			o += n;
			*o++ = '\n';
		}
		s += n + (s[n] == '\n');
	}
	*o = '\0';
	return out;
}

/*
 * The package and make install put kqemu's sysusers.d, udev and
 * modules-load.d files under /usr/lib (or /usr/local/lib), where the same
 * name in /etc would mask them.  When one of those says what install would
 * write, install writes nothing: that file is kqemu's already, and it goes
 * with the package.  Returns its path, or NULL.
 */
static const char *vendor_file_saying(const char *path, const char *contents)
{
	static char found[512];
	static const char *const prefixes[] = { "/usr/lib", "/usr/local/lib", "/lib", NULL };
	char *want = effective_lines(contents);
	const char *rel = path + strlen("/etc");
	const char *hit = NULL;

	for (int i = 0; want && !hit && prefixes[i]; i++) {
		char *text, *have;

		snprintf(found, sizeof(found), "%s%s", prefixes[i], rel);
		if (read_file(found, &text) < 0)
			continue;
		have = effective_lines(text);
		if (have && !strcmp(have, want))
			hit = found;
		free(have);
		free(text);
	}
	free(want);
	return hit;
}

/*
 * Where the group's sysusers.d declaration is, for systemd-sysusers, and
 * the udev rule, for messages: ours in /etc, or the package's.
 */
static const char *sysusers_path = SYSUSERS_FILE;
static const char *rule_path = UDEV_RULE_FILE;

static int install_file(struct install *in, const char *path, char *contents)
{
	enum file_change change;
	const char *vendor = NULL;
	int r;

	if (!contents)
		return -EBADMSG;	/* the reason is said already */
	if (!path_exists(path) && !manifest_find(&in->m, path))
		vendor = vendor_file_saying(path, contents);
	if (vendor) {
		char *copy = strdup(vendor);	/* vendor is a static buffer */

		if (copy && !strcmp(path, SYSUSERS_FILE))
			sysusers_path = copy;
		else if (copy && !strcmp(path, UDEV_RULE_FILE))
			rule_path = copy;
		else
			free(copy);
		free(contents);
		info("unchanged: %s (%s says the same, from kqemu's package or make install)", shown(path), shown(vendor));
		return 0;
	}
	r = owned_file_write(&in->m, path, contents, &change, &in->files[in->nfiles]);
	free(contents);
	if (r < 0)
		return r;
	if (in->files[in->nfiles].path)
		in->nfiles++;
	if (change != FILE_UNCHANGED)
		in->changes++;
	info("%s%s: %s", opt.dry_run && change ? "would be " : "", change_word(change), shown(path));
	return 0;
}

static int install_group(struct install *in, struct group_entry *g)
{
	int r = group_lookup(opt.group, g);

	if (r == 0) {
		info("unchanged: group %s (gid %u)", g->name, (unsigned int)g->gid);
		return 0;
	}
	if (r != -ENOENT)
		return error_errno(-r, "cannot read /etc/group");
	in->changes++;
	if (opt.dry_run) {
		info("would create: group %s", opt.group);
		return 0;
	}
	r = group_create(opt.group, sysusers_path);
	if (r < 0)
		return r;
	in->group_created = true;
	r = group_lookup(opt.group, g);
	if (r < 0)
		return fail(-r, "group %s was created but is not in %s", opt.group, group_db());
	info("created: group %s (gid %u)", g->name, (unsigned int)g->gid);
	return 0;
}

/* The modprobe.d ACL keeps whatever allow/deny put there, plus our group. */
static char *modprobe_contents(const struct group_entry *g)
{
	struct acl acl;
	int r = acl_read_persisted(&acl);

	if (r == -EBADMSG) {
		acl_bad_persisted(&acl);
		return NULL;
	}
	if (id_list_add(acl.groups, g->gid) == -E2BIG) {
		fail(E2BIG, "%s allows %d groups already, kqemu's most: deny one first (kqemuctl deny group NAME)",
		     shown(MODPROBE_FILE), ACL_MAX_IDS);
		return NULL;
	}
	return acl_modprobe_conf(&acl);
}

static int install_live(struct install *in, const struct group_entry *g)
{
	char raw[4096], groups[ACL_TEXT_MAX], want[ACL_TEXT_MAX];
	struct stat st;
	int r;

	if (!udevd_running())
		return fail(ESRCH, "systemd-udevd is not running, so nothing creates %s with the rule applied; start it (systemctl start systemd-udevd) and run kqemuctl install again", DEVICE_NODE);
	r = udev_reload_rules();
	if (r < 0)
		return r;

	/* Load it, or bring a module that was already loaded into line. */
	if (module_state() == MODULE_ABSENT) {
		r = module_load("kqemuctl install");
		if (r < 0)
			return r;
		in->module_loaded = in->m.loaded = true;
		in->changes++;
		info("loaded: %s", MODULE_NAME);
	} else if (module_param_read("allow_groups", raw, sizeof(raw)) == 0 &&
		   id_list_normalize(raw, groups, sizeof(groups), NULL, 0) == 0 &&
		   !id_list_has(groups, g->gid)) {
		snprintf(want, sizeof(want), "%s", groups);
		if (id_list_add(want, g->gid) == -E2BIG)
			return fail(E2BIG, "the loaded %s allows %d groups already, its most: deny one first (kqemuctl deny group NAME)",
				    MODULE_NAME, ACL_MAX_IDS);
		r = module_param_write("allow_groups", want);
		if (r < 0)
			return error_errno(-r, "cannot set allow_groups=%s on the loaded %s", want, MODULE_NAME);
		in->acl_before = strdup(groups);
		if (!in->m.acl_before)
			in->m.acl_before = strdup(groups);
		in->changes++;
		info("updated: live allow_groups=%s", want);
	} else {
		info("unchanged: %s is loaded", MODULE_NAME);
	}

	r = device_wait_node(UDEV_TIMEOUT_MS);
	if (r == -ESRCH)
		return fail(ESRCH, "systemd-udevd is not running, so nothing creates %s with the rule applied; start it (systemctl start systemd-udevd) and run kqemuctl install again", DEVICE_NODE);
	if (r < 0)
		return fail(-r, "udev did not report %s within %d s; check `journalctl -u systemd-udevd`", DEVICE_NODE, UDEV_TIMEOUT_MS / 1000);

	/*
	 * udev applies a rule when the device appears; one already there needs
	 * a change event.  A second try, after another reload, covers a udevd
	 * that was still busy reading the old rules when the first event came.
	 */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!stat(DEVICE_NODE, &st) && st.st_uid == 0 && st.st_gid == g->gid &&
		    (st.st_mode & 07777) == opt.mode)
			break;
		if (attempt) {
			r = udev_reload_rules();
			if (r < 0)
				return r;
		}
		r = device_reapply_rule(UDEV_TIMEOUT_MS);
		if (r < 0)
			return fail(-r, "udev did not re-apply %s to %s", shown(rule_path), DEVICE_NODE);
		if (!attempt)
			in->changes++;
		info("re-applied: %s to %s", shown(rule_path), DEVICE_NODE);
	}

	/* Verify what an opener will meet, not what we meant to do. */
	if (stat(DEVICE_NODE, &st))
		return error_errno(errno, "cannot stat %s", DEVICE_NODE);
	if (st.st_uid != 0 || st.st_gid != g->gid || (st.st_mode & 07777) != opt.mode)
		return fail(EIO, "%s is %u:%u %04o after udev applied %s, not root:%s %04o; another rule overrides ours (`udevadm test /sys/class/misc/kqemu` shows which)",
			    DEVICE_NODE, (unsigned int)st.st_uid, (unsigned int)st.st_gid,
			    (unsigned int)(st.st_mode & 07777), shown(rule_path),
			    opt.group, (unsigned int)opt.mode);
	r = module_param_read("allow_groups", raw, sizeof(raw));
	if (r == 0 && id_list_normalize(raw, groups, sizeof(groups), NULL, 0) < 0)
		r = -EBADMSG;
	if (r < 0 || !id_list_has(groups, g->gid))
		return fail(r < 0 ? -r : EIO, "the live ACL of %s does not allow gid %u", MODULE_NAME, (unsigned int)g->gid);
	info("verified: %s is root:%s %04o; live allow_groups=%s", DEVICE_NODE,
	     opt.group, (unsigned int)opt.mode, groups);
	return 0;
}

static void rollback(struct install *in)
{
	fprintf(stderr, "kqemuctl: rolling back what this run did\n");
	if (in->acl_before) {
		module_param_write("allow_groups", in->acl_before);
		fprintf(stderr, "kqemuctl: restored live allow_groups=%s\n", in->acl_before);
	}
	if (in->module_loaded && module_unload() == 0)
		fprintf(stderr, "kqemuctl: unloaded %s\n", MODULE_NAME);
	if (in->group_created && group_delete(opt.group) == 0)
		fprintf(stderr, "kqemuctl: deleted group %s\n", opt.group);
	while (in->nfiles > 0) {
		struct file_undo *u = &in->files[--in->nfiles];

		fprintf(stderr, "kqemuctl: %s %s\n", u->before ? "restored" : "removed", shown(u->path));
		file_undo_apply(&in->m, u);
	}
}

int verb_install(int argc, char **argv)
{
	struct install in = { 0 };
	struct group_entry g = { .gid = (gid_t)-1 };
	int r;

	(void)argv;
	if (argc > 1)
		return fail(EINVAL, "install takes options only; see kqemuctl --help");
	r = manifest_load(&in.m);
	if (r < 0)
		return r;

	r = install_file(&in, SYSUSERS_FILE, sysusers_conf(opt.group));
	if (!r)
		r = install_group(&in, &g);
	if (!r)
		r = install_file(&in, UDEV_RULE_FILE, udev_rule(opt.group, opt.mode, opt.uaccess));
	if (!r && g.gid != (gid_t)-1)
		r = install_file(&in, MODPROBE_FILE, modprobe_contents(&g));
	else if (!r)
		info("would write: %s with allow_groups=<gid of %s>", shown(MODPROBE_FILE), opt.group);
	if (!r)
		r = install_file(&in, MODULES_LOAD_FILE, modules_load_conf());
	if (!r && !root_is_host())
		info("skipped under --root: loading %s, waiting for %s, verifying it", MODULE_NAME, DEVICE_NODE);
	else if (!r && opt.dry_run)
		info("would load %s, wait for %s and verify it", MODULE_NAME, DEVICE_NODE);
	else if (!r)
		r = install_live(&in, &g);

	if (!r && in.group_created) {
		free(in.m.group);
		in.m.group = strdup(opt.group);
	}
	if (!r && in.changes && !opt.dry_run) {
		r = mkdir_parents(MANIFEST_FILE, &in.m.dirs);
		if (!r)
			r = manifest_save(&in.m);
		if (r < 0)
			error_errno(-r, "cannot write %s", shown(MANIFEST_FILE));
	}
	if (r < 0) {
		if (!opt.dry_run)
			rollback(&in);
	} else if (!in.changes) {
		info("kqemu is installed as asked already; nothing changed.");
	} else if (opt.dry_run) {
		info("dry run: nothing was changed.");
	} else {
		info("kqemu is installed. Add users with: kqemuctl adduser USER; check with: kqemuctl doctor");
	}
	for (int i = 0; i < in.nfiles; i++)
		file_undo_free(&in.files[i]);
	free(in.acl_before);
	manifest_free(&in.m);
	return r;
}
