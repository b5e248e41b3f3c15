// SPDX-License-Identifier: GPL-2.0
/*
 * Files kqemuctl owns.  A file is ours when the manifest lists it with the
 * hash of what is there now.  Anything else at one of our paths is an
 * admin's: we never overwrite it unless --force, and then only after moving
 * it aside to PATH.kqemuctl-backup, which uninstall puts back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kqemuctl.h"

static int make_backup(const char *path, char **backup)
{
	char *from = root_path(path), *to = NULL, *rel = NULL;
	int r = 0;

	for (int i = 0; i < 100 && !r; i++) {
		free(rel);
		if ((i ? asprintf(&rel, "%s.kqemuctl-backup.%d", path, i) :
			 asprintf(&rel, "%s.kqemuctl-backup", path)) < 0)
			r = -ENOMEM;
		else if (!path_exists(rel))
			break;
	}
	if (!r) {
		to = root_path(rel);
		if (rename(from, to))
			r = -errno;
	}
	free(from);
	free(to);
	if (r)
		free(rel);
	else
		*backup = rel;
	return r;
}

int owned_file_state(const struct manifest_file *f)
{
	char *now;
	int r = read_file(f->path, &now);

	if (r < 0)
		return r;
	r = !content_hash_matches(now, f->hash);
	free(now);
	return r;
}

/*
 * kqemu 1.0's configure.sh wrote this to modprobe.d and recorded it
 * nowhere: it is ours, the package's, all the same.
 */
static bool written_by_configure_1_0(const char *path, const char *now)
{
	static const char head[] = "# Written by kqemu: who may open /dev/kqemu (see kqemuctl acl).\n"
				   "options kqemu allow_groups=";
	size_t n;

	if (strcmp(path, MODPROBE_FILE) || strncmp(now, head, sizeof(head) - 1))
		return false;
	now += sizeof(head) - 1;
	n = strspn(now, "0123456789");
	return n > 0 && !strcmp(now + n, "\n");
}

int owned_file_write(struct manifest *m, const char *path, const char *contents,
		     enum file_change *change, struct file_undo *undo)
{
	struct manifest_file *f = manifest_find(m, path);
	char *now = NULL, *backup = NULL;
	size_t dirs_before = 0;
	bool adopt = false;
	int r;

	memset(undo, 0, sizeof(*undo));
	r = read_file(path, &now);
	if (r == -ENOENT) {
		*change = FILE_CREATED;
	} else if (r < 0) {
		return error_errno(-r, "cannot read %s", shown(path));
	} else if (!strcmp(now, contents)) {
		*change = FILE_UNCHANGED;
		/* Right already: ours if the manifest says so, else the admin's. */
		free(now);
		return 0;
	} else if (f && content_hash_matches(now, f->hash)) {
		*change = FILE_UPDATED;
	} else if (!f && written_by_configure_1_0(path, now)) {
		*change = FILE_UPDATED;
		adopt = true;
	} else if (!opt.force) {
		free(now);
		return fail(EEXIST, "refusing to overwrite %s: %s; merge your change by hand, or run again with --force to replace it (yours is kept as %s.kqemuctl-backup and uninstall puts it back)",
			    shown(path), f ? "it was edited since kqemuctl wrote it" :
			    "kqemuctl did not write it", shown(path));
	} else {
		*change = FILE_REPLACED;
	}
	if (opt.dry_run) {
		free(now);
		return 0;
	}

	while (m->dirs && m->dirs[dirs_before])
		dirs_before++;
	r = mkdir_parents(path, &m->dirs);
	if (r < 0)
		goto fail;
	if (*change == FILE_REPLACED) {
		r = make_backup(path, &backup);
		if (r < 0)
			goto fail;
	}
	r = write_file_atomic(path, contents, 0644);
	if (r < 0) {
		if (backup) {
			char *from = root_path(backup), *to = root_path(path);

			rename(from, to);
			free(from);
			free(to);
			free(backup);
			backup = NULL;
		}
		goto fail;
	}
	undo->path = strdup(path);
	undo->before = now;
	undo->backup = backup ? strdup(backup) : NULL;
	undo->new_entry = !f;
	for (char **d = m->dirs + dirs_before; m->dirs && *d; d++)
		undo->ndirs++;
	manifest_set_file(m, path, contents, backup);
	if (adopt)
		manifest_find(m, path)->configure = true;
	free(backup);
	return 0;
fail:
	free(now);
	/* Directories made for a file we could not write are not ours to keep. */
	while (m->dirs && m->dirs[dirs_before]) {
		size_t n = dirs_before;

		while (m->dirs[n + 1])
			n++;
		remove_dir_if_empty(m->dirs[n]);
		free(m->dirs[n]);
		m->dirs[n] = NULL;
	}
	return error_errno(-r, "cannot write %s", shown(path));
}

int remove_dir_if_empty(const char *dir)
{
	char *p = root_path(dir);
	int r = rmdir(p) ? -errno : 0;

	free(p);
	return r;
}

/* Puts back what one owned_file_write() found, during a rollback. */
void file_undo_apply(struct manifest *m, struct file_undo *undo)
{
	char *p;

	if (!undo->path)
		return;
	p = root_path(undo->path);
	if (undo->before) {
		write_file_atomic(undo->path, undo->before, 0644);
	} else {
		unlink(p);
	}
	if (undo->backup) {
		char *b = root_path(undo->backup);

		unlink(b);
		free(b);
	}
	free(p);
	/* The manifest entry goes with the file; so do the dirs made for it. */
	if (undo->new_entry)
		manifest_drop_file(m, undo->path);
	else if (undo->before)
		manifest_set_file(m, undo->path, undo->before, NULL);
	for (size_t i = 0; i < undo->ndirs && m->dirs; i++) {
		size_t n = 0;

		while (m->dirs[n + 1])
			n++;
		remove_dir_if_empty(m->dirs[n]);
		free(m->dirs[n]);
		m->dirs[n] = NULL;
	}
}

void file_undo_free(struct file_undo *undo)
{
	free(undo->path);
	free(undo->before);
	free(undo->backup);
	memset(undo, 0, sizeof(*undo));
}
