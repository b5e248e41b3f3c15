// SPDX-License-Identifier: GPL-2.0
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "vmtest.h"

const struct who root_user = { "root", 0, 0, 0, { 0 } };
const struct who member = { "member", MEMBER_UID, MEMBER_UID, 1, { KVM_USERS_GID } };
const struct who outsider = { "outsider", OUTSIDER_UID, OUTSIDER_UID, 0, { 0 } };
const struct who listed = { "listed", LISTED_UID, LISTED_UID, 0, { 0 } };

void report(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void expect_errno(long ret, int err, const char *what)
{
	int got = errno;

	if (ret == -1 && got == err)
		report(true, "%s: %s", what, strerror(err));
	else if (ret == -1)
		report(false, "%s: wanted %s, got %s", what, strerror(err),
		       strerror(got));
	else
		report(false, "%s: wanted %s, got success (%ld)", what,
		       strerror(err), ret);
}

void expect_ok(long ret, const char *what)
{
	if (ret >= 0)
		report(true, "%s", what);
	else
		report(false, "%s: %s", what, strerror(errno));
}

static void become(const struct who *who)
{
	if (setgroups(who->ngroups, who->groups) || setgid(who->gid) ||
	    setuid(who->uid)) {
		printf("not ok - cannot become %s: %s\n", who->name,
		       strerror(errno));
		_exit(2);
	}
}

static pid_t fork_or_die(void)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	return pid;
}

static int wait_status(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int run_as(const struct who *who, int (*fn)(void *), void *arg)
{
	pid_t pid = fork_or_die();

	if (pid == 0) {
		become(who);
		_exit(fn(arg));
	}
	return wait_status(pid);
}

/* The child's ends of the two pipes of the background child it runs in. */
static int to_parent = -1, from_parent = -1;

void bg_start(struct bg *bg, const struct who *who, int (*fn)(void *))
{
	int up[2], down[2];

	if (pipe(up) || pipe(down)) {
		perror("pipe");
		exit(2);
	}
	bg->pid = fork_or_die();
	if (bg->pid == 0) {
		close(up[0]);
		close(down[1]);
		to_parent = up[1];
		from_parent = down[0];
		become(who);
		_exit(fn(NULL));
	}
	close(up[1]);
	close(down[0]);
	bg->from_child = up[0];
	bg->to_child = down[1];
}

bool bg_wait(struct bg *bg)
{
	char c;

	return read(bg->from_child, &c, 1) == 1;
}

void bg_post(struct bg *bg)
{
	if (write(bg->to_child, "x", 1) != 1)
		perror("bg_post");
}

int bg_finish(struct bg *bg)
{
	close(bg->from_child);
	close(bg->to_child);
	return wait_status(bg->pid);
}

void child_post(void)
{
	if (write(to_parent, "x", 1) != 1)
		_exit(4);
}

void child_wait(void)
{
	char c;

	if (read(from_parent, &c, 1) != 1)
		_exit(4);
}

int kqemu_open(void)
{
	return open("/dev/kqemu", O_RDWR | O_CLOEXEC);
}

int create_vm(int devfd)
{
	struct kqemu_create_vm args = { 0 };

	return ioctl(devfd, KQEMU_CREATE_VM, &args);
}

static int sysfs_write(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? (int)n : 0;
}

/* sysfs ignores an empty write: a newline says "empty list" to kqemu. */
int write_param(const char *name, const char *value)
{
	char path[256], line[1024];

	snprintf(path, sizeof(path), "/sys/module/kqemu/parameters/%s", name);
	snprintf(line, sizeof(line), "%s\n", value);
	return sysfs_write(path, line);
}

long read_stat(const char *name)
{
	char path[256], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/misc/kqemu/stats/%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}
