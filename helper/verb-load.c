// SPDX-License-Identifier: GPL-2.0
/* kqemuctl load / unload: libkmod, as modprobe would, and say what happened. */
#include <errno.h>
#include <stdio.h>

#include "kqemuctl.h"

int verb_load(int argc, char **argv)
{
	int r;

	(void)argv;
	if (argc > 1)
		return fail(EINVAL, "load takes no arguments; see kqemuctl --help");
	r = module_load("kqemuctl load");
	if (r < 0)
		return r;
	if (r == 1) {
		info("unchanged: %s is loaded already", MODULE_NAME);
		return 0;
	}
	if (opt.dry_run)
		return 0;
	if (root_is_host()) {
		r = device_wait_node(10000);
		if (r < 0)
			info("warning: %s: udev did not report it (%s); kqemuctl doctor says more",
			     DEVICE_NODE, r == -ESRCH ? "systemd-udevd is not running" : "timed out");
	}
	info("loaded: %s", MODULE_NAME);
	return 0;
}

int verb_unload(int argc, char **argv)
{
	int r;

	(void)argv;
	if (argc > 1)
		return fail(EINVAL, "unload takes no arguments; see kqemuctl --help");
	r = module_unload();
	if (r < 0)
		return r;
	if (r == 1)
		info("unchanged: %s is not loaded", MODULE_NAME);
	else if (!opt.dry_run)
		info("unloaded: %s", MODULE_NAME);
	return 0;
}
