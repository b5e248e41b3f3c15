// SPDX-License-Identifier: GPL-2.0
/*
 * The install manifest: one line per thing install did, so that uninstall
 * undoes exactly that and nothing else.
 *
 *   dir PATH                  a directory install created
 *   file PATH HASH BACKUP     a file install wrote ("-": no backup)
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
		return error_errno(-r, "cannot read %s", MANIFEST_FILE);
	for (line = strtok_r(contents, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char path[4096], backup[4096];
		unsigned long long hash;

		if (sscanf(line, "file %4095s %llx %4095s", path, &hash, backup) == 3)
			manifest_set_file(m, path, hash,
					  strcmp(backup, "-") ? backup : NULL);
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
	fprintf(f, "# What kqemuctl install did; kqemuctl uninstall undoes it.\n");
	for (char **d = m->dirs; d && *d; d++)
		fprintf(f, "dir %s\n", *d);
	for (size_t i = 0; i < m->nfiles; i++)
		fprintf(f, "file %s %016llx %s\n", m->files[i].path,
			m->files[i].hash, m->files[i].backup ? m->files[i].backup : "-");
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

void manifest_set_file(struct manifest *m, const char *path,
		       unsigned long long hash, const char *backup)
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
	}
	f->hash = hash;
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
