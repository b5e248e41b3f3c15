// SPDX-License-Identifier: GPL-2.0
/*
 * The module: found, loaded and removed through libkmod (so modprobe.d
 * options and blacklists apply as they do for modprobe), its state and
 * parameters read from sysfs.  Under --root, libkmod looks in DIR's module
 * directory and modprobe.d, and sysfs is DIR/sys.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <libkmod.h>

#include "kqemuctl.h"

static const char *const config_dirs[] = {
	"/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d",
	"/lib/modprobe.d", "/usr/lib/modprobe.d", NULL };

const char *kernel_release(void)
{
	static struct utsname u;

	if (!u.release[0])
		uname(&u);
	return u.release;
}

static struct kmod_ctx *ctx_new(void)
{
	struct kmod_ctx *ctx;

	if (root_is_host()) {
		ctx = kmod_new(NULL, NULL);
	} else {
		char *dirs[6] = { NULL }, *moddir, *rel;
		int n;

		if (asprintf(&rel, "/lib/modules/%s", kernel_release()) < 0)
			return NULL;
		moddir = root_path(rel);
		free(rel);
		for (n = 0; config_dirs[n]; n++)
			dirs[n] = root_path(config_dirs[n]);
		ctx = kmod_new(moddir, (const char *const *)dirs);
		free(moddir);
		for (n = 0; dirs[n]; n++)
			free(dirs[n]);
	}
	if (ctx)
		kmod_set_log_priority(ctx, 0);	/* we say what went wrong */
	return ctx;
}

/* The kqemu module object, or -ENOENT when no kqemu.ko is installed. */
static int module_new(struct kmod_ctx *ctx, struct kmod_module **mod)
{
	struct kmod_list *list = NULL;
	int r = kmod_module_new_from_lookup(ctx, MODULE_NAME, &list);

	if (r < 0)
		return r;
	if (!list)
		return -ENOENT;
	*mod = kmod_module_get_module(list);
	kmod_module_unref_list(list);
	return 0;
}

enum module_state module_state(void)
{
	char state[32];

	if (read_first_line("/sys/module/kqemu/initstate", state, sizeof(state)) < 0)
		return path_exists("/sys/module/kqemu") ? MODULE_LIVE : MODULE_ABSENT;
	if (!strcmp(state, "coming"))
		return MODULE_COMING;
	if (!strcmp(state, "going"))
		return MODULE_GOING;
	return MODULE_LIVE;
}

const char *module_load_hint(int err)
{
	switch (err) {
	case ENOENT:
		return "no kqemu.ko for this kernel: build and install it (make -C kmod && make -C /lib/modules/$(uname -r)/build M=$PWD/kmod modules_install && depmod -a, or dkms install kqemu)";
	case ENOKEY:
		return "the kernel requires signed modules (Secure Boot or lockdown) and kqemu.ko is unsigned or signed by an unknown key: sign it and enroll the key with mokutil --import KEY.der, then reboot and confirm in MokManager (kqemuctl doctor shows the steps)";
	case EKEYREJECTED:
		return "the kernel rejected kqemu.ko's signing key: enroll it with mokutil --import KEY.der, reboot and confirm the enrollment in MokManager";
	case ENOEXEC:
		return "kqemu.ko was built for another kernel: rebuild it for this one (make -C kmod) and install it";
	case EPERM:
		return "loading modules needs root, and lockdown may forbid unsigned modules: run as root; kqemuctl doctor checks lockdown";
	case ENODEV:
		return "the CPU has no usable virtualization: kqemuctl doctor says why";
	case EBUSY:
		return "another hypervisor holds VT-x/AMD-V: kqemuctl doctor names it";
	default:
		return "see the kernel log (dmesg) for kqemu's own message";
	}
}

/* 1 and the file naming it when a "blacklist kqemu" line applies, else 0. */
int module_blacklisted_in(char *file, size_t size)
{
	struct kmod_ctx *ctx = ctx_new();
	struct kmod_config_iter *it;
	bool listed = false;

	if (!ctx)
		return -ENOMEM;
	kmod_load_resources(ctx);
	it = kmod_config_get_blacklists(ctx);
	while (it && kmod_config_iter_next(it))
		if (!strcmp(kmod_config_iter_get_key(it), MODULE_NAME))
			listed = true;
	kmod_config_iter_free_iter(it);
	kmod_unref(ctx);
	if (!listed)
		return 0;
	/* libkmod says whether, not where: find the line for the admin. */
	snprintf(file, size, "modprobe.d");
	for (int i = 0; config_dirs[i]; i++) {
		char *dir = root_path(config_dirs[i]);
		DIR *d = opendir(dir);
		struct dirent *de;

		while (d && (de = readdir(d))) {
			char rel[512], *contents;

			if (!strstr(de->d_name, ".conf"))
				continue;
			snprintf(rel, sizeof(rel), "%s/%s", config_dirs[i], de->d_name);
			if (read_file(rel, &contents) < 0)
				continue;
			for (char *l = contents; l && *l; ) {
				char word[32], name[64];

				if (sscanf(l, "%31s %63s", word, name) == 2 &&
				    !strcmp(word, "blacklist") && !strcmp(name, MODULE_NAME))
					snprintf(file, size, "%s", shown(rel));
				l = strchr(l, '\n');
				if (l)
					l++;
			}
			free(contents);
		}
		if (d)
			closedir(d);
		free(dir);
	}
	return 1;
}

/* 0 when it loaded it, 1 when it was loaded already, -errno on failure. */
int module_load(const char *why)
{
	struct kmod_ctx *ctx = ctx_new();
	struct kmod_module *mod = NULL;
	char file[512];
	int r;

	if (!ctx)
		return error_errno(ENOMEM, "cannot start libkmod");
	if (module_state() == MODULE_LIVE) {
		r = 1;
		goto out;
	}
	r = module_new(ctx, &mod);
	if (r < 0) {
		error_errno(-r, "cannot find module '%s' for kernel %s",
			    MODULE_NAME, kernel_release());
		fprintf(stderr, "kqemuctl: fix: %s\n", module_load_hint(ENOENT));
		goto out;
	}
	if (opt.dry_run) {
		info("would load %s (%s)", kmod_module_get_path(mod), why);
		r = 0;
		goto out;
	}
	r = kmod_module_probe_insert_module(mod, KMOD_PROBE_APPLY_BLACKLIST,
					    NULL, NULL, NULL, NULL);
	if (r == KMOD_PROBE_APPLY_BLACKLIST) {
		module_blacklisted_in(file, sizeof(file));
		r = fail(EPERM, "not loading '%s': it is blacklisted in %s; remove the \"blacklist %s\" line there, then run kqemuctl load",
			 MODULE_NAME, file, MODULE_NAME);
	} else if (r < 0) {
		int err = -r;

		r = error_errno(err, "could not insert '%s'", MODULE_NAME);
		fprintf(stderr, "kqemuctl: fix: %s\n", module_load_hint(err));
	} else {
		r = 0;
	}
out:
	kmod_module_unref(mod);
	kmod_unref(ctx);
	return r;
}

/* Who keeps kqemu busy: holders, the refcount, and processes with it open. */
int module_users(char *buf, size_t size)
{
	char refcnt[32] = "0", *proc = root_path("/proc");
	DIR *d;
	struct dirent *de;
	size_t len = 0;
	int n = 0;

	buf[0] = '\0';
	read_first_line("/sys/module/kqemu/refcnt", refcnt, sizeof(refcnt));
	d = opendir(proc);
	while (d && (de = readdir(d))) {
		char fddir[300], comm[64] = "?";
		DIR *fds;
		struct dirent *fe;
		bool uses = false;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(fddir, sizeof(fddir), "%s/%s/fd", proc, de->d_name);
		fds = opendir(fddir);
		while (fds && (fe = readdir(fds)) && !uses) {
			char link[600], target[256];
			ssize_t t;

			snprintf(link, sizeof(link), "%s/%s", fddir, fe->d_name);
			t = readlink(link, target, sizeof(target) - 1);
			if (t <= 0)
				continue;
			target[t] = '\0';
			uses = !strcmp(target, DEVICE_NODE) ||
			       !strcmp(target, "anon_inode:kqemu-vm");
		}
		if (fds)
			closedir(fds);
		if (!uses)
			continue;
		snprintf(fddir, sizeof(fddir), "/proc/%s/comm", de->d_name);
		read_first_line(fddir, comm, sizeof(comm));
		len += snprintf(buf + len, len < size ? size - len : 0, "%spid %s (%s)",
				n++ ? ", " : "", de->d_name, comm);
	}
	if (d)
		closedir(d);
	free(proc);
	if (!n && strcmp(refcnt, "0"))
		snprintf(buf + len, len < size ? size - len : 0,
			 "%s references held by processes kqemuctl cannot see", refcnt);
	return n || strcmp(refcnt, "0") ? 1 : 0;
}

/* 0 when it removed it, 1 when it was not loaded, -errno on failure. */
int module_unload(void)
{
	struct kmod_ctx *ctx;
	struct kmod_module *mod = NULL;
	char users[1024];
	int r;

	if (module_state() == MODULE_ABSENT)
		return 1;
	if (module_users(users, sizeof(users)))
		return fail(EBUSY, "cannot unload '%s': in use by %s; stop those first",
			    MODULE_NAME, users);
	if (opt.dry_run) {
		info("would unload %s", MODULE_NAME);
		return 0;
	}
	ctx = ctx_new();
	if (!ctx)
		return error_errno(ENOMEM, "cannot start libkmod");
	r = kmod_module_new_from_name(ctx, MODULE_NAME, &mod);
	if (r >= 0)
		r = kmod_module_remove_module(mod, 0);
	if (r == -EBUSY || r == -EAGAIN) {
		module_users(users, sizeof(users));
		r = fail(EBUSY, "cannot unload '%s': in use by %s",
			 MODULE_NAME, users[0] ? users : "someone");
	} else if (r < 0) {
		r = error_errno(-r, "could not remove '%s'", MODULE_NAME);
	}
	kmod_module_unref(mod);
	kmod_unref(ctx);
	return r;
}

int module_param_read(const char *name, char *buf, size_t size)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/module/kqemu/parameters/%s", name);
	return read_first_line(path, buf, size);
}

/* An empty value is written as "\n": sysfs ignores an empty write. */
int module_param_write(const char *name, const char *value)
{
	char rel[256], *path;
	int fd, r = 0;
	size_t len = strlen(value);

	snprintf(rel, sizeof(rel), "/sys/module/kqemu/parameters/%s", name);
	if (opt.dry_run) {
		info("would write \"%s\" to %s", value, rel);
		return 0;
	}
	path = root_path(rel);
	fd = open(path, O_WRONLY | O_CLOEXEC | (root_is_host() ? 0 : O_TRUNC));
	free(path);
	if (fd < 0)
		return -errno;
	if (write(fd, len ? value : "\n", len ? len : 1) < 0)
		r = -errno;
	close(fd);
	return r;
}

int module_lookup_path(char *path, size_t size)
{
	struct kmod_ctx *ctx = ctx_new();
	struct kmod_module *mod = NULL;
	int r;

	if (!ctx)
		return -ENOMEM;
	r = module_new(ctx, &mod);
	if (r >= 0) {
		const char *p = kmod_module_get_path(mod);

		if (p)
			snprintf(path, size, "%s", p);
		else
			r = -ENOENT;	/* built in, or known only by alias */
	}
	kmod_module_unref(mod);
	kmod_unref(ctx);
	return r;
}

/* modinfo's KEY of the installed kqemu.ko: 0 and the value, or -ENOENT. */
int module_info(const char *key, char *buf, size_t size)
{
	struct kmod_ctx *ctx = ctx_new();
	struct kmod_module *mod = NULL;
	struct kmod_list *list = NULL, *l;
	int r;

	if (!ctx)
		return -ENOMEM;
	r = module_new(ctx, &mod);
	if (r >= 0)
		r = kmod_module_get_info(mod, &list);
	if (r >= 0) {
		r = -ENOENT;
		kmod_list_foreach(l, list) {
			if (strcmp(kmod_module_info_get_key(l), key))
				continue;
			snprintf(buf, size, "%s", kmod_module_info_get_value(l));
			r = 0;
			break;
		}
	}
	kmod_module_info_free_list(list);
	kmod_module_unref(mod);
	kmod_unref(ctx);
	return r;
}
