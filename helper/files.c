// SPDX-License-Identifier: GPL-2.0
/* The contents of the files install writes.  Each says who wrote it and why. */
#include <stdio.h>
#include <stdlib.h>

#include "kqemuctl.h"

static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#include <stdarg.h>
static char *format(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		perror("kqemuctl");
		exit(70);
	}
	va_end(ap);
	return s;
}

char *sysusers_conf(const char *group)
{
	return format("# Written by kqemuctl install; kqemuctl uninstall removes it.\n"
		      "# The users who may run guests on /dev/kqemu.\n"
		      "g %s - -\n", group);
}

/* The kvm line of systemd's 50-udev-default.rules is the model. */
char *udev_rule(const char *group, mode_t mode, bool uaccess)
{
	return format("# Written by kqemuctl install; kqemuctl uninstall removes it.\n"
		      "# /dev/kqemu belongs to %s.  kqemu checks its own access policy at\n"
		      "# open() as well, so a wrong mode here still lets nobody else in.\n"
		      "KERNEL==\"kqemu\", SUBSYSTEM==\"misc\", GROUP=\"%s\", MODE=\"%04o\", OPTIONS+=\"static_node=kqemu\"%s\n",
		      group, group, (unsigned int)mode,
		      uaccess ? ", TAG+=\"uaccess\"" : "");
}

char *modules_load_conf(void)
{
	return format("# Written by kqemuctl install; kqemuctl uninstall removes it.\n"
		      "# Load kqemu at boot, so /dev/kqemu is there before anyone asks for it.\n"
		      "kqemu\n");
}
