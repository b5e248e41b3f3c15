// SPDX-License-Identifier: GPL-2.0
/*
 * LD_PRELOAD shim for the helper's unit tests, after kmod's testsuite: the
 * module syscalls never reach the kernel.  A successful insert creates the
 * module's directory in $FAKE_SYSFS (initstate, refcnt, parameters from
 * the options libkmod passed), a remove deletes it, and each call is
 * logged to $FAKE_LOG so that the tests check what was asked for.
 * FAKE_INIT_ERRNO=ENOKEY|EKEYREJECTED|ENOEXEC makes inserts fail, and
 * FAKE_EACCES=PATH makes every open() of PATH fail with EACCES, as a
 * root-only sysfs file does for a user (the tests may run as root, whom
 * a mode does not stop).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static void logf_(const char *fmt, ...)
{
	const char *path = getenv("FAKE_LOG");
	FILE *f = path ? fopen(path, "a") : NULL;
	va_list ap;

	if (!f)
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

static void put(const char *dir, const char *name, const char *value)
{
	char path[8192];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%s\n", value);
		fclose(f);
	}
}

static int fake_insert(const char *args)
{
	const char *sysfs = getenv("FAKE_SYSFS"), *fail = getenv("FAKE_INIT_ERRNO");
	char dir[4096], params[4200], buf[4200], *tok, *save = NULL;

	logf_("insert kqemu %s\n", args ? args : "");
	if (fail) {
		errno = !strcmp(fail, "ENOKEY") ? ENOKEY :
			!strcmp(fail, "EKEYREJECTED") ? EKEYREJECTED : ENOEXEC;
		return -1;
	}
	if (!sysfs) {
		errno = ENOSYS;
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/module/kqemu", sysfs);
	snprintf(params, sizeof(params), "%s/parameters", dir);
	mkdir(sysfs, 0755);
	snprintf(buf, sizeof(buf), "%s/module", sysfs);
	mkdir(buf, 0755);
	mkdir(dir, 0755);
	mkdir(params, 0755);
	put(dir, "initstate", "live");
	put(dir, "refcnt", "0");
	put(params, "allow_users", "");
	put(params, "allow_groups", "");
	snprintf(buf, sizeof(buf), "%s", args ? args : "");
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');

		if (eq) {
			*eq = '\0';
			put(params, tok, eq + 1);
		}
	}
	return 0;
}

static int fake_remove(const char *name)
{
	const char *sysfs = getenv("FAKE_SYSFS");
	char cmd[4096];

	logf_("remove %s\n", name);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/module/%s'", sysfs ? sysfs : "/nonexistent", name);
	return system(cmd) ? (errno = ENOENT, -1) : 0;
}

int init_module(void *image, unsigned long len, const char *args)
{
	(void)image;
	(void)len;
	return fake_insert(args);
}

int finit_module(int fd, const char *args, int flags)
{
	(void)fd;
	(void)flags;
	return fake_insert(args);
}

int delete_module(const char *name, unsigned int flags)
{
	(void)flags;
	return fake_remove(name);
}

/* libkmod reaches finit_module through syscall(2): catch it there too. */
long syscall(long nr, ...)
{
	va_list ap;
	long a[6];

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	switch (nr) {
	case SYS_finit_module:
		return fake_insert((const char *)a[1]);
	case SYS_init_module:
		return fake_insert((const char *)a[2]);
	case SYS_delete_module:
		return fake_remove((const char *)a[0]);
	}
	errno = ENOSYS;
	return -1;
}

/* open(2) of $FAKE_EACCES fails; everything else goes to libc. */
static bool refused(const char *path)
{
	const char *deny = getenv("FAKE_EACCES");

	if (deny && path && !strcmp(path, deny)) {
		errno = EACCES;
		return true;
	}
	return false;
}

#define FAKE_OPEN(name)							\
int name(const char *path, int flags, ...)				\
{									\
	int (*real)(const char *, int, ...) = dlsym(RTLD_NEXT, #name);	\
	mode_t mode = 0;						\
	va_list ap;							\
									\
	va_start(ap, flags);						\
	if (flags & (O_CREAT | O_TMPFILE))				\
		mode = va_arg(ap, mode_t);				\
	va_end(ap);							\
	if (refused(path))						\
		return -1;						\
	return real(path, flags, mode);					\
}
FAKE_OPEN(open)
FAKE_OPEN(open64)
