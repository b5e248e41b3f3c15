// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/kqemu through libudev: wait for udev to have processed the device
 * (so that the node exists with our rule applied), and make udev apply the
 * rule again to a node that exists already.  We listen on a udev monitor,
 * which tells us when udevd is done, instead of sleeping and polling.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libudev.h>

#include "kqemuctl.h"

#define SYSPATH "/sys/class/misc/kqemu"

/*
 * udevd reads the rules at start and then looks for changes at most every
 * few seconds, and resolves GROUP= names when it reads them: a rule written
 * and a group created a moment ago are not in effect yet.  libudev has no
 * call for this; `udevadm control --reload` is udevd's own interface to it
 * and returns once udevd has reloaded.
 */
int udev_reload_rules(void)
{
	static const char *const udevadm[] = {
		"/bin/udevadm", "/usr/bin/udevadm", "/sbin/udevadm", NULL };
	const char *tool = find_tool(udevadm);
	const char *argv[] = { tool, "control", "--reload", NULL };
	int r;

	if (!tool)
		return fail(ENOENT, "cannot make udevd reload its rules: udevadm is not installed (install udev)");
	r = run_tool(argv);
	if (r > 0)
		return fail(EIO, "udevadm control --reload exited with status %d", r);
	return r < 0 ? error_errno(-r, "cannot run udevadm control --reload") : 0;
}

bool udevd_running(void)
{
	return access("/run/udev/control", F_OK) == 0;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct udev_monitor *monitor_new(struct udev *udev)
{
	struct udev_monitor *mon = udev_monitor_new_from_netlink(udev, "udev");

	if (!mon)
		return NULL;
	if (udev_monitor_filter_add_match_subsystem_devtype(mon, "misc", NULL) < 0 ||
	    udev_monitor_enable_receiving(mon) < 0) {
		udev_monitor_unref(mon);
		return NULL;
	}
	return mon;
}

/* Waits for udevd to report action on kqemu; -ETIMEDOUT after timeout_ms. */
static int monitor_wait(struct udev_monitor *mon, const char *action, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;
	struct pollfd pfd = { .fd = udev_monitor_get_fd(mon), .events = POLLIN };

	for (;;) {
		long left = deadline - now_ms();
		struct udev_device *dev;
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		dev = udev_monitor_receive_device(mon);
		if (!dev)
			continue;
		n = !strcmp(udev_device_get_sysname(dev) ?: "", MODULE_NAME) &&
		    !strcmp(udev_device_get_action(dev) ?: "", action);
		udev_device_unref(dev);
		if (n)
			return 0;
	}
}

/* True when udevd has processed the device (its database entry exists). */
static bool device_initialized(struct udev *udev)
{
	struct udev_device *dev = udev_device_new_from_syspath(udev, SYSPATH);
	bool done = dev && udev_device_get_is_initialized(dev) > 0;

	udev_device_unref(dev);
	return done;
}

/*
 * A udev context and a monitor listening on kqemu's subsystem, or -ESRCH
 * when no udevd runs to be heard, -ENOMEM.  Release with monitor_close().
 */
static int monitor_open(struct udev **udevp, struct udev_monitor **monp)
{
	*monp = NULL;
	*udevp = udev_new();
	if (!*udevp)
		return -ENOMEM;
	if (!udevd_running())
		return -ESRCH;
	*monp = monitor_new(*udevp);
	return *monp ? 0 : -ENOMEM;
}

static void monitor_close(struct udev *udev, struct udev_monitor *mon)
{
	udev_monitor_unref(mon);
	udev_unref(udev);
}

int device_wait_node(int timeout_ms)
{
	struct udev_monitor *mon;
	struct udev *udev;
	/* Listen first, then look: an event between the two is not lost. */
	int r = monitor_open(&udev, &mon);

	if (!r && !device_initialized(udev))
		r = monitor_wait(mon, "add", timeout_ms);
	monitor_close(udev, mon);
	return r;
}

/* What `udevadm trigger --action=change` does for one device, then wait. */
int device_reapply_rule(int timeout_ms)
{
	struct udev_monitor *mon;
	struct udev *udev;
	int fd, r = monitor_open(&udev, &mon);

	if (r)
		goto out;
	fd = open(SYSPATH "/uevent", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = write(fd, "change", 6) < 0 ? -errno : 0;
	close(fd);
	if (!r)
		r = monitor_wait(mon, "change", timeout_ms);
out:
	monitor_close(udev, mon);
	return r;
}
