// SPDX-License-Identifier: GPL-2.0
/*
 * kqemuctl uninstall: undo what the manifest says install did, newest
 * first, and nothing else.  A file edited since install is the admin's now
 * and stays (unless --force); the group stays unless --purge, since its
 * members may use it for more than kqemu.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kqemuctl.h"

static int uninstall_module(const struct manifest *m)
{
	int r;

	if (!root_is_host()) {
		info("skipped under --root: unloading %s", MODULE_NAME);
		return 0;
	}
	if (m->loaded) {
		r = module_unload();
		if (r == 0)
			info("%s: %s", opt.dry_run ? "would unload" : "unloaded", MODULE_NAME);
		else if (r == 1)
			info("unchanged: %s is not loaded", MODULE_NAME);
		return r < 0 ? r : 0;
	}
	if (m->acl_before && module_state() == MODULE_LIVE) {
		r = module_param_write("allow_groups", m->acl_before);
		if (r < 0)
			return error_errno(-r, "cannot restore allow_groups=%s", m->acl_before);
		info("restored: live allow_groups=%s", m->acl_before);
	}
	return 0;
}

static int uninstall_file(const struct manifest_file *f)
{
	int state = owned_file_state(f);
	char *p, *b;

	if (state == -ENOENT) {
		info("unchanged: %s is gone already", shown(f->path));
		return 0;
	}
	if (state < 0)
		return error_errno(-state, "cannot read %s", shown(f->path));
	if (state == 1 && !opt.force) {
		info("kept: %s (edited since install; delete it yourself, or run uninstall --force)", shown(f->path));
		return 0;
	}
	if (opt.dry_run) {
		info("would remove: %s%s", f->path, f->backup ? " and put its backup back" : "");
		return 0;
	}
	p = root_path(f->path);
	if (unlink(p) < 0) {
		int err = errno;

		free(p);
		return error_errno(err, "cannot remove %s", shown(f->path));
	}
	info("removed: %s", shown(f->path));
	if (f->backup) {
		b = root_path(f->backup);
		if (rename(b, p) == 0)
			info("restored: %s from %s", shown(f->path), shown(f->backup));
		else
			error_errno(errno, "cannot put %s back as %s", shown(f->backup), shown(f->path));
		free(b);
	}
	free(p);
	return 0;
}

int verb_uninstall(int argc, char **argv)
{
	struct manifest m;
	size_t ndirs = 0, kept = 0;
	int r, failed = 0;

	(void)argv;
	if (argc > 1)
		return fail(EINVAL, "uninstall takes options only; see kqemuctl --help");
	if (!path_exists(MANIFEST_FILE)) {
		info("nothing to undo: %s does not exist (kqemuctl install did not run here, or uninstall ran already)",
		     shown(MANIFEST_FILE));
		return 0;
	}
	r = manifest_load(&m);
	if (r < 0)
		return r;

	r = uninstall_module(&m);
	if (r < 0)
		failed = r;	/* still remove the files: they are the install */
	for (size_t i = m.nfiles; i > 0; i--) {
		if (m.files[i - 1].configure) {
			info("kept: %s (kqemu's package or make install wrote it; apt-get purge kqemu-utils, or make uninstall, removes it)",
			     shown(m.files[i - 1].path));
			kept++;
			continue;
		}
		r = uninstall_file(&m.files[i - 1]);
		if (r < 0)
			failed = r;
	}
	if (m.group && opt.purge) {
		if (opt.dry_run)
			info("would delete: group %s", m.group);
		else if ((r = group_delete(m.group)) < 0)
			failed = r;
		else
			info("deleted: group %s", m.group);
	} else if (m.group) {
		info("kept: group %s (its members keep it; uninstall --purge deletes it)", m.group);
	} else if (opt.purge) {
		info("kept: group %s (it existed before install)", opt.group);
	}
	if (opt.dry_run) {
		manifest_free(&m);
		return failed;
	}
	if (failed) {
		/* Keep the manifest so that the next uninstall can finish the job. */
		fail(-failed, "uninstall is incomplete; fix the above and run it again");
		manifest_free(&m);
		return failed;
	}
	if (kept) {
		/*
		 * The package's files stay, and so does the record of them, for
		 * its purge; what kqemuctl install did is undone.
		 */
		for (size_t i = m.nfiles; i > 0; i--)
			if (!m.files[i - 1].configure)
				manifest_drop_file(&m, m.files[i - 1].path);
		while (m.dirs && m.dirs[ndirs])
			ndirs++;
		for (size_t i = ndirs; i > 0; i--) {
			if (remove_dir_if_empty(m.dirs[i - 1]) < 0)
				continue;
			info("removed: %s/", shown(m.dirs[i - 1]));
			free(m.dirs[i - 1]);
			memmove(&m.dirs[i - 1], &m.dirs[i], (ndirs - i + 1) * sizeof(*m.dirs));
			ndirs--;
		}
		free(m.group);
		free(m.acl_before);
		m.group = m.acl_before = NULL;
		m.loaded = false;
		r = manifest_save(&m);
		manifest_free(&m);
		if (r < 0)
			return error_errno(-r, "cannot write %s", shown(MANIFEST_FILE));
		info("kqemuctl's part is undone; kqemu's package (or make install) stays.");
		return 0;
	}
	manifest_remove();
	while (m.dirs && m.dirs[ndirs])
		ndirs++;
	for (size_t i = ndirs; i > 0; i--)
		if (remove_dir_if_empty(m.dirs[i - 1]) == 0)
			info("removed: %s/", shown(m.dirs[i - 1]));
	info("kqemu is uninstalled.");
	manifest_free(&m);
	return 0;
}
