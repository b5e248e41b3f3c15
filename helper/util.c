// SPDX-License-Identifier: GPL-2.0
/* Messages, paths under --root, files written atomically, and tools. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kqemuctl.h"

void info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* "kqemuctl: <message>[: <strerror>]" on stderr; returns -err (-EIO for 0). */
static int vreport(int err, bool with_strerror, const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs("kqemuctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	if (with_strerror && err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	return -(err ? err : EIO);
}

/* Prints "kqemuctl: <what>: <strerror>" and returns -err for the caller. */
int error_errno(int err, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vreport(err, true, fmt, ap);
	va_end(ap);
	return ret;
}

/*
 * Prints "kqemuctl: <sentence>" and returns -err: for messages that say
 * what happened and what to do, which strerror()'s words would only repeat.
 */
int fail(int err, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vreport(err, false, fmt, ap);
	va_end(ap);
	return ret;
}

bool root_is_host(void)
{
	return strcmp(opt.root, "/") == 0;
}

char *root_path(const char *path)
{
	char *p;

	if (root_is_host())
		p = strdup(path);
	else if (asprintf(&p, "%s%s", opt.root, path) < 0)
		p = NULL;
	if (!p) {
		perror("kqemuctl");
		exit(70);
	}
	return p;
}

/*
 * The name of path (relative to --root) in messages: on the host, path;
 * under --root=DIR, DIR as typed followed by path, so that the admin can
 * paste it.  Eight at a time may be live (one message's worth).
 */
const char *shown(const char *path)
{
	static char bufs[8][4352];
	static unsigned int next;
	const char *root = opt.root_typed ? opt.root_typed : opt.root;
	char *b = bufs[next++ % 8];
	size_t len = strlen(root);

	if (root_is_host())
		return path;
	snprintf(b, sizeof(bufs[0]), "%s%s", root,
		 len && root[len - 1] == '/' && path[0] == '/' ? path + 1 : path);
	return b;
}

bool path_exists(const char *path)
{
	char *p = root_path(path);
	bool exists = access(p, F_OK) == 0;

	free(p);
	return exists;
}

int read_file(const char *path, char **contents)
{
	char *p = root_path(path), *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, err = 0;
	ssize_t n;

	fd = open(p, O_RDONLY | O_CLOEXEC);
	free(p);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (cap - len < 4096) {
			char *nbuf = realloc(buf, cap + 65536);

			if (!nbuf) {
				err = -ENOMEM;
				break;
			}
			buf = nbuf;
			cap += 65536;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	if (!buf && !(buf = malloc(1)))
		return -ENOMEM;
	buf[len] = '\0';
	*contents = buf;
	return 0;
}

int read_first_line(const char *path, char *buf, size_t size)
{
	char *contents;
	int r = read_file(path, &contents);

	if (r < 0)
		return r;
	snprintf(buf, size, "%s", contents);
	buf[strcspn(buf, "\n")] = '\0';
	free(contents);
	return 0;
}

/* Write to a temporary file next to path, then rename: never half a file. */
int write_file_atomic(const char *path, const char *contents, mode_t mode)
{
	char *p = root_path(path), *tmp;
	size_t len = strlen(contents);
	int fd, r = 0;

	if (asprintf(&tmp, "%s.kqemuctl-tmp", p) < 0) {
		free(p);
		return -ENOMEM;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (write(fd, contents, len) != (ssize_t)len || fchmod(fd, mode) ||
	    fsync(fd))
		r = errno ? -errno : -EIO;
	if (close(fd) && !r)
		r = -errno;
	if (!r && rename(tmp, p))
		r = -errno;
	if (r)
		unlink(tmp);
out:
	free(tmp);
	free(p);
	return r;
}

/* mkdir -p for the parents of path; appends each directory it made. */
int mkdir_parents(const char *path, char ***created)
{
	char *dir = strdup(path), *slash;
	int r = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	for (char *s = dir + 1; ; s++) {
		char saved = *s;
		char *p;

		if (saved != '/' && saved != '\0')
			continue;
		*s = '\0';
		p = root_path(dir);
		if (mkdir(p, 0755) == 0) {
			if (created)
				strv_push(created, dir);
		} else if (errno != EEXIST) {
			r = -errno;
		}
		free(p);
		*s = saved;
		if (r || saved == '\0')
			break;
	}
	free(dir);
	return r;
}

/*
 * Whether s is what hash says was written: a SHA-256, or the FNV-1a of
 * manifests written by kqemuctl 1.0 (16 hex digits).
 */
bool content_hash_matches(const char *s, const char *hash)
{
	char now[HASH_HEX_LEN + 1];

	if (strlen(hash) == 16) {
		unsigned long long h = 0xcbf29ce484222325ULL;

		for (const char *c = s; *c; c++) {
			h ^= (unsigned char)*c;
			h *= 0x100000001b3ULL;
		}
		snprintf(now, sizeof(now), "%016llx", h);
	} else {
		content_hash(s, now);
	}
	return !strcmp(now, hash);
}

void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

int strv_push(char ***v, const char *s)
{
	size_t n = 0;
	char **nv;

	while (*v && (*v)[n])
		n++;
	nv = realloc(*v, (n + 2) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	nv[n] = strdup(s);
	nv[n + 1] = NULL;
	*v = nv;
	return nv[n] ? 0 : -ENOMEM;
}

/*
 * The first of candidates that exists on the host.  KQEMUCTL_TOOL_DIR, when
 * set, is searched instead of the absolute directories: the unit tests put
 * fake groupadd and systemd-sysusers there.
 */
const char *find_tool(const char *const candidates[])
{
	static char buf[4096];
	const char *dir = getenv("KQEMUCTL_TOOL_DIR");

	for (; *candidates; candidates++) {
		if (dir) {
			const char *base = strrchr(*candidates, '/');

			snprintf(buf, sizeof(buf), "%s%s", dir, base);
		} else {
			snprintf(buf, sizeof(buf), "%s", *candidates);
		}
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

/* Runs argv[0] with its output passed through; its exit status, or -errno. */
int run_tool(const char *const argv[])
{
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "kqemuctl: cannot run %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (!WIFEXITED(status))
		return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return WEXITSTATUS(status);
}
