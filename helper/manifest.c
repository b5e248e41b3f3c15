// SPDX-License-Identifier: GPL-2.0
/*
 * The manifest: one line per thing kqemu did to the host, so that undoing
 * it removes exactly that and nothing else.  kqemuctl (install, allow, deny)
 * and packaging/configure.sh (the package's maintainer scripts and make
 * install) keep it together, so a file has one owner record whichever way
 * kqemu came; configure.sh purge undoes all of it.
 *
 *   dir PATH                  a directory install created
 *   file PATH HASH BACKUP [configure]
 *                             a file kqemu wrote: the sha256 of what it wrote
 *                             and the admin's file it moved aside ("-": none);
 *                             "configure": packaging/configure.sh wrote it
 *                             first (the package, make install), and it goes
 *                             with them, not with kqemuctl uninstall
 *   group NAME                a group install created
 *   loaded                    install loaded the module
 *   acl-before VALUE          allow_groups before install set it live
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kqemuctl.h"

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d) {
		perror("kqemuctl");
		exit(70);
	}
	return d;
}

int manifest_load(struct manifest *m)
{
	char *contents, *line, *save = NULL;
	int r;

	memset(m, 0, sizeof(*m));
	r = read_file(MANIFEST_FILE, &contents);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return error_errno(-r, "cannot read %s", shown(MANIFEST_FILE));
	for (line = strtok_r(contents, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char path[4096], backup[4096], hash[HASH_HEX_LEN + 1], who[16] = "";
		struct manifest_file *f;
		int n = sscanf(line, "file %4095s %64s %4095s %15s", path, hash, backup, who);

		if (n >= 3) {
			char *now;

			manifest_set_file(m, path, NULL, strcmp(backup, "-") ? backup : NULL);
			f = manifest_find(m, path);
			snprintf(f->hash, sizeof(f->hash), "%s", hash);
			f->configure = !strcmp(who, "configure");
			/*
			 * kqemuctl 1.0's FNV-1a: where the file is still as it
			 * wrote it, record its SHA-256 instead, which the
			 * package's purge (in sh) can check.
			 */
			if (strlen(hash) == 16 && read_file(path, &now) == 0) {
				if (content_hash_matches(now, hash))
					content_hash(now, f->hash);
				free(now);
			}
		}
		else if (!strncmp(line, "dir ", 4))
			strv_push(&m->dirs, line + 4);
		else if (!strncmp(line, "group ", 6))
			m->group = xstrdup(line + 6);
		else if (!strcmp(line, "loaded"))
			m->loaded = true;
		else if (!strncmp(line, "acl-before ", 11))
			m->acl_before = xstrdup(line + 11);
	}
	free(contents);
	return 0;
}

int manifest_save(const struct manifest *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int r;

	if (!f)
		return -ENOMEM;
	fprintf(f, "# What kqemu did here (kqemuctl, and the package or make install);\n"
		"# kqemuctl uninstall and apt-get purge (or make uninstall) undo it.\n");
	for (char **d = m->dirs; d && *d; d++)
		fprintf(f, "dir %s\n", *d);
	for (size_t i = 0; i < m->nfiles; i++)
		fprintf(f, "file %s %s %s%s\n", m->files[i].path, m->files[i].hash,
			m->files[i].backup ? m->files[i].backup : "-",
			m->files[i].configure ? " configure" : "");
	if (m->group)
		fprintf(f, "group %s\n", m->group);
	if (m->loaded)
		fprintf(f, "loaded\n");
	if (m->acl_before)
		fprintf(f, "acl-before %s\n", m->acl_before);
	fclose(f);
	r = write_file_atomic(MANIFEST_FILE, buf, 0644);
	free(buf);
	return r;
}

int manifest_remove(void)
{
	char *p = root_path(MANIFEST_FILE);
	int r = unlink(p) && errno != ENOENT ? -errno : 0;

	free(p);
	return r;
}

void manifest_free(struct manifest *m)
{
	for (size_t i = 0; i < m->nfiles; i++) {
		free(m->files[i].path);
		free(m->files[i].backup);
	}
	free(m->files);
	strv_free(m->dirs);
	free(m->group);
	free(m->acl_before);
	memset(m, 0, sizeof(*m));
}

struct manifest_file *manifest_find(struct manifest *m, const char *path)
{
	for (size_t i = 0; i < m->nfiles; i++)
		if (!strcmp(m->files[i].path, path))
			return &m->files[i];
	return NULL;
}

/* Records path with the hash of contents (NULL: the caller sets it). */
void manifest_set_file(struct manifest *m, const char *path,
		       const char *contents, const char *backup)
{
	struct manifest_file *f = manifest_find(m, path);

	if (!f) {
		f = realloc(m->files, (m->nfiles + 1) * sizeof(*f));
		if (!f) {
			perror("kqemuctl");
			exit(70);
		}
		m->files = f;
		f = &m->files[m->nfiles++];
		f->path = xstrdup(path);
		f->backup = NULL;
		f->configure = false;
		f->hash[0] = '\0';
	}
	if (contents)
		content_hash(contents, f->hash);
	if (backup) {
		free(f->backup);
		f->backup = xstrdup(backup);
	}
}

void manifest_drop_file(struct manifest *m, const char *path)
{
	struct manifest_file *f = manifest_find(m, path);

	if (!f)
		return;
	free(f->path);
	free(f->backup);
	*f = m->files[--m->nfiles];
}
