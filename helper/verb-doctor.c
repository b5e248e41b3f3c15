// SPDX-License-Identifier: GPL-2.0
/*
 * kqemuctl doctor: the checks an admin would make, in the order that one
 * failure explains the next (no CPU support -> no module -> no node ...).
 * Each prints a pass/fail line, and each failure the exact fix.  Every
 * source is read under --root, so the unit tests fake them with files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <linux/kqemu.h>

#include "kqemuctl.h"

enum result { PASS, FAIL, SKIP };

struct verdict {
	enum result result;
	char detail[2048];
	char fix[4096];		/* for a pass: advice, one line each; else the fix */
};

/* What the checks learn and later checks use. */
struct doctor {
	bool loaded;
	bool have_group;
	struct group_entry group;
	bool have_rule;
	char rule_file[512];
	char rule_group[64];
	mode_t rule_mode;
	struct stat node;
	bool have_node;
};

static void say(struct verdict *v, enum result r, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void say(struct verdict *v, enum result r, const char *fix, const char *fmt, ...)
{
	va_list ap;

	v->result = r;
	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
	va_end(ap);
	snprintf(v->fix, sizeof(v->fix), "%s", fix ? fix : "");
}

/*
 * Whether IA32_FEATURE_CONTROL (MSR 0x3a) is locked with VMXON outside SMX
 * off, as firmware leaves it when VT-x is disabled in its setup.  Needs the
 * msr module and root; false when the MSR cannot be read.
 */
static bool feature_control_locked_off(void)
{
	char *p = root_path("/dev/cpu/0/msr");
	uint64_t fc;
	ssize_t n = -1;
	int fd;

	fd = open(p, O_RDONLY | O_CLOEXEC);
	free(p);
	if (fd >= 0) {
		n = pread(fd, &fc, sizeof(fc), 0x3a);
		close(fd);
	}
	return n == sizeof(fc) && (fc & 1) && !(fc & 4);
}

static void check_cpu(struct doctor *d, struct verdict *v)
{
	char *info;
	bool intel;

	(void)d;
	if (read_file("/proc/cpuinfo", &info) < 0) {
		say(v, FAIL, "mount /proc", "cannot read /proc/cpuinfo");
		return;
	}
	intel = strstr(info, "GenuineIntel") != NULL;
	if (strstr(info, " vmx") || strstr(info, " svm"))
		say(v, PASS, NULL, "the CPU has %s", strstr(info, " vmx") ? "VT-x (vmx)" : "AMD-V (svm)");
	else if (intel && feature_control_locked_off())
		say(v, FAIL,
		    "enable \"Intel Virtualization Technology\" (VT-x) in the firmware setup, then power the machine off and on",
		    "the firmware locked VT-x off (IA32_FEATURE_CONTROL is locked without VMXON): kqemu reports EPERM");
	else
		say(v, FAIL, intel ?
		    "enable \"Intel Virtualization Technology\" (VT-x) in the firmware setup; the kernel hides vmx when firmware locked it off" :
		    "enable \"SVM Mode\" (AMD-V) in the firmware setup, or use a CPU that has it; in a VM, enable nested virtualization on the host",
		    "the CPU reports no %s", intel ? "VT-x (vmx)" : "VT-x or AMD-V (vmx/svm)");
	free(info);
}

static void check_module_built(struct doctor *d, struct verdict *v)
{
	char path[512], vermagic[256], dkms[256], fix[512];
	const char *rel = kernel_release();

	(void)d;
	snprintf(dkms, sizeof(dkms), "/var/lib/dkms/kqemu");
	if (module_lookup_path(path, sizeof(path)) < 0) {
		snprintf(fix, sizeof(fix), path_exists(dkms) ?
			 "DKMS has kqemu but not for %s: dkms autoinstall -k %s" :
			 "build and install it for %s: make -C kmod && make -C /lib/modules/%s/build M=$PWD/kmod modules_install && depmod -a",
			 rel, rel);
		say(v, FAIL, fix, "no kqemu.ko for the running kernel %s in /lib/modules/%s", rel, rel);
		return;
	}
	if (module_info("vermagic", vermagic, sizeof(vermagic)) < 0) {
		say(v, FAIL, "rebuild it: make -C kmod && make -C /lib/modules/$(uname -r)/build M=$PWD/kmod modules_install", "%s has no vermagic: it is not a kernel module", path);
		return;
	}
	vermagic[strcspn(vermagic, " ")] = '\0';
	if (strcmp(vermagic, rel)) {
		snprintf(fix, sizeof(fix), "rebuild it for %s: make -C kmod KDIR=/lib/modules/%s/build && make -C /lib/modules/%s/build M=$PWD/kmod modules_install%s",
			 rel, rel, rel, path_exists(dkms) ? ", or dkms autoinstall -k the running kernel" : "");
		say(v, FAIL, fix, "%s was built for %s, the running kernel is %s", path, vermagic, rel);
		return;
	}
	say(v, PASS, NULL, "%s is built for %s%s", path, rel,
	    path_exists(dkms) ? " (managed by DKMS)" : "");
}

static void check_secure_boot(struct doctor *d, struct verdict *v)
{
	char *sb = NULL, lockdown[128] = "", signer[256] = "", key[256] = "";
	bool sb_on = false, locked = false, signed_mod;
	const char *sbfile = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098e06b8c";
	char *mode;

	(void)d;
	/* efivars: 4 bytes of attributes, then the value. */
	if (read_file(sbfile, &sb) == 0) {
		char *p = root_path(sbfile);
		struct stat st;

		sb_on = stat(p, &st) == 0 && st.st_size >= 5 && sb[4] == 1;
		free(p);
		free(sb);
	}
	if (read_first_line("/sys/kernel/security/lockdown", lockdown, sizeof(lockdown)) == 0 &&
	    (mode = strchr(lockdown, '[')))
		locked = strncmp(mode, "[none]", 6) != 0;
	signed_mod = module_info("signer", signer, sizeof(signer)) == 0;
	module_info("sig_key", key, sizeof(key));
	if (!sb_on && !locked) {
		say(v, PASS, NULL, "Secure Boot is off and the kernel is not locked down%s",
		    signed_mod ? "; kqemu.ko is signed" : "");
		return;
	}
	if (!signed_mod) {
		say(v, FAIL,
		    "sign kqemu.ko and enroll your key: "
		    "openssl req -new -x509 -newkey rsa:2048 -nodes -days 36500 -subj '/CN=kqemu module signing/' -outform DER -keyout MOK.priv -out MOK.der; "
		    "/usr/src/linux-headers-$(uname -r)/scripts/sign-file sha256 MOK.priv MOK.der $(modinfo -n kqemu); "
		    "mokutil --import MOK.der; reboot and choose \"Enroll MOK\" in MokManager",
		    "%s%s, and kqemu.ko is unsigned: the kernel will refuse it (\"Key was rejected by service\" or \"Required key not available\")",
		    sb_on ? "Secure Boot is on" : "the kernel is locked down",
		    locked && sb_on ? " and the kernel is locked down" : "");
		return;
	}
	/* DKMS signs with its own key and keeps the certificate here. */
	say(v, PASS, NULL,
	    "%s; kqemu.ko is signed by \"%s\" (key %s). If loading says \"Key was rejected by service\", enroll that key: mokutil --import %s, reboot, confirm in MokManager",
	    sb_on ? "Secure Boot is on" : "the kernel is locked down", signer, key,
	    path_exists("/var/lib/dkms/mok.pub") ? "/var/lib/dkms/mok.pub (DKMS's key)" : "KEY.der");
}

static void check_loaded(struct doctor *d, struct verdict *v)
{
	char file[1024], fix[1536];

	d->loaded = module_state() == MODULE_LIVE;
	if (d->loaded) {
		say(v, PASS, NULL, "%s is loaded", MODULE_NAME);
		return;
	}
	if (module_blacklisted_in(file, sizeof(file)) == 1) {
		snprintf(fix, sizeof(fix), "remove the \"blacklist %s\" line from %s, then: kqemuctl load", MODULE_NAME, file);
		say(v, FAIL, fix, "%s is not loaded, and %s blacklists it", MODULE_NAME, file);
		return;
	}
	say(v, FAIL, "kqemuctl load (and kqemuctl install, so that it loads at boot)", "%s is not loaded", MODULE_NAME);
}

/* Reads GROUP= and MODE= from the first kqemu rule udev would use. */
static void find_rule(struct doctor *d, char *others, size_t size)
{
	static const char *const dirs[] = {
		"/etc/udev/rules.d", "/run/udev/rules.d", "/usr/local/lib/udev/rules.d",
		"/lib/udev/rules.d", "/usr/lib/udev/rules.d", NULL };

	/* udev reads only the first file of each name, in the order of dirs:
	 * a later one is masked (so is /lib/... when /lib is /usr/lib). */
	char seen[4096] = "/";

	others[0] = '\0';
	for (int i = 0; dirs[i]; i++) {
		char *dir = root_path(dirs[i]);
		struct dirent **names;
		int n = scandir(dir, &names, NULL, alphasort);

		free(dir);
		for (int j = 0; j < n; j++) {
			char rel[512], *text, *line;

			char key[300];

			snprintf(rel, sizeof(rel), "%s/%s", dirs[i], names[j]->d_name);
			snprintf(key, sizeof(key), "/%s/", names[j]->d_name);
			free(names[j]);
			if (!strstr(rel, ".rules") || strstr(seen, key))
				continue;
			if (strlen(seen) + strlen(key) < sizeof(seen))
				strcat(seen, key + 1);
			if (read_file(rel, &text) < 0)
				continue;
			for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
				char *g, *m;

				if (line[0] == '#' || !strstr(line, "KERNEL==\"kqemu\""))
					continue;
				if (d->have_rule) {
					snprintf(others + strlen(others), size - strlen(others), " %s", shown(rel));
					break;
				}
				d->have_rule = true;
				snprintf(d->rule_file, sizeof(d->rule_file), "%s", shown(rel));
				if ((g = strstr(line, "GROUP=\"")))
					snprintf(d->rule_group, sizeof(d->rule_group), "%.*s",
						 (int)strcspn(g + 7, "\""), g + 7);
				if ((m = strstr(line, "MODE=\"")))
					d->rule_mode = strtoul(m + 6, NULL, 8);
			}
			free(text);
		}
		if (n > 0)
			free(names);
	}
}

static void check_node(struct doctor *d, struct verdict *v)
{
	char *node = root_path(DEVICE_NODE), fix[2048], others[1024];
	const char *want_group = opt.group;
	mode_t want_mode = opt.mode;
	struct group_entry g;

	find_rule(d, others, sizeof(others));
	if (d->have_rule && d->rule_group[0])
		want_group = d->rule_group;
	if (d->have_rule && d->rule_mode)
		want_mode = d->rule_mode;
	d->have_group = group_lookup(opt.group, &d->group) == 0;
	d->have_node = stat(node, &d->node) == 0;
	free(node);
	if (!d->have_node) {
		say(v, FAIL, d->loaded ? "systemctl start systemd-udevd, then: kqemuctl install" : "kqemuctl load",
		    "%s does not exist%s", DEVICE_NODE, d->loaded ? " although kqemu is loaded" : "");
		return;
	}
	if (!S_ISCHR(d->node.st_mode) || major(d->node.st_rdev) != 10 ||
	    minor(d->node.st_rdev) != KQEMU_MINOR) {
		snprintf(fix, sizeof(fix), "rm %s && kqemuctl load (udev then creates the right node)", DEVICE_NODE);
		say(v, FAIL, fix, "%s is not the character device 10:%d", DEVICE_NODE, KQEMU_MINOR);
		return;
	}
	if (group_lookup(want_group, &g) < 0)
		g.gid = (gid_t)-1;
	if (d->node.st_uid != 0 || d->node.st_gid != g.gid ||
	    (d->node.st_mode & 07777) != want_mode) {
		snprintf(fix, sizeof(fix), "make udev apply the rule again: kqemuctl install (or udevadm trigger --action=change /sys/class/misc/kqemu)%s%s",
			 others[0] ? "; and remove the other kqemu rules in" : "", others);
		say(v, FAIL, fix, "%s is %u:%u %04o, the rule wants root:%s %04o", DEVICE_NODE,
		    (unsigned int)d->node.st_uid, (unsigned int)d->node.st_gid,
		    (unsigned int)(d->node.st_mode & 07777), want_group, (unsigned int)want_mode);
		return;
	}
	say(v, PASS, NULL, "%s is root:%s %04o", DEVICE_NODE, want_group, (unsigned int)want_mode);
}

static void check_rule(struct doctor *d, struct verdict *v)
{
	char fix[2048], others[1024];
	struct doctor tmp = { 0 };

	find_rule(&tmp, others, sizeof(others));
	if (!d->have_rule) {
		say(v, FAIL, "kqemuctl install", "no udev rule for kqemu in /etc/udev/rules.d, /run/udev/rules.d or /lib/udev/rules.d: %s stays root:root 0600", DEVICE_NODE);
		return;
	}
	if (others[0]) {
		snprintf(fix, sizeof(fix), "keep one: delete or edit the kqemu lines in%s", others);
		say(v, FAIL, fix, "%s and other rules set /dev/kqemu's group and mode: they fight", d->rule_file);
		return;
	}
	if (d->have_node && d->loaded) {
		struct group_entry g;

		if (group_lookup(d->rule_group, &g) < 0 || d->node.st_gid != g.gid ||
		    (d->node.st_mode & 07777) != d->rule_mode) {
			snprintf(fix, sizeof(fix), "make udev apply it: kqemuctl install (or udevadm trigger --action=change /sys/class/misc/kqemu)");
			say(v, FAIL, fix, "%s is installed but not applied to %s", d->rule_file, DEVICE_NODE);
			return;
		}
		say(v, PASS, NULL, "%s is installed and applied", d->rule_file);
		return;
	}
	say(v, PASS, NULL, "%s is installed (not checked against a node: there is none)", d->rule_file);
}

static void check_group(struct doctor *d, struct verdict *v)
{
	char fix[256];

	if (d->have_group) {
		say(v, PASS, NULL, "group %s exists (gid %u)", opt.group, (unsigned int)d->group.gid);
		return;
	}
	snprintf(fix, sizeof(fix), "kqemuctl install%s%s", strcmp(opt.group, DEFAULT_GROUP) ? " --group=" : "",
		 strcmp(opt.group, DEFAULT_GROUP) ? opt.group : "");
	say(v, FAIL, fix, "group %s does not exist", opt.group);
}

static void check_user(struct doctor *d, struct verdict *v)
{
	const char *name = opt.user ? opt.user : getenv("SUDO_USER");
	char buf[64], fix[512];
	uid_t uid = getuid();
	gid_t pgid, groups[256];
	bool self;
	int n;

	if (!name) {
		if (uid == 0) {
			say(v, PASS, NULL, "root may open %s unless strict=1 (use --user=USER to check a user)", DEVICE_NODE);
			return;
		}
		if (user_name_of(uid, buf, sizeof(buf)) < 0) {
			say(v, FAIL, "use --user=USER", "uid %u is not in %s", (unsigned int)uid, user_db());
			return;
		}
		name = buf;
	}
	if (user_lookup(name, &uid, &pgid) < 0) {
		say(v, FAIL, "give an existing user: --user=USER", "no user %s in %s", name, user_db());
		return;
	}
	if (!d->have_group) {
		say(v, SKIP, NULL, "group %s does not exist", opt.group);
		return;
	}
	if (!user_in_group(name, pgid, &d->group)) {
		snprintf(fix, sizeof(fix), "kqemuctl adduser %s, then log in again", name);
		say(v, FAIL, fix, "%s is not in group %s", name, opt.group);
		return;
	}
	self = getuid() == uid;
	if (!self) {
		say(v, PASS, NULL, "%s is in group %s", name, opt.group);
		return;
	}
	n = getgroups(256, groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == d->group.gid) {
			say(v, PASS, NULL, "%s is in group %s, in %s and in this login", name, opt.group, group_db());
			return;
		}
	if (getegid() == d->group.gid) {
		say(v, PASS, NULL, "%s is in group %s, in this login too", name, opt.group);
		return;
	}
	snprintf(fix, sizeof(fix), "log out and in again (or run `newgrp %s` in this shell)", opt.group);
	say(v, FAIL, fix, "%s is in group %s in %s but not in this login", name, opt.group, group_db());
}

static void check_acl(struct doctor *d, struct verdict *v)
{
	struct acl live, saved;
	char fix[512];

	if (acl_read_persisted(&saved) == -EBADMSG) {
		snprintf(fix, sizeof(fix), "correct %s by hand: decimal ids, at most %d per list (or delete it and run kqemuctl allow group %s)",
			 shown(MODPROBE_FILE), ACL_MAX_IDS, opt.group);
		say(v, FAIL, fix, "%s has \"%s\" in its ACL, which kqemu refuses: the next load of kqemu fails", shown(MODPROBE_FILE), saved.bad);
		return;
	}
	if (!d->loaded || !d->have_group) {
		say(v, SKIP, NULL, "%s", !d->loaded ? "kqemu is not loaded" : "no group to compare with");
		return;
	}
	if (acl_read_live(&live) < 0) {
		say(v, FAIL, "kqemuctl unload && kqemuctl load", "cannot read /sys/module/kqemu/parameters/allow_groups");
		return;
	}
	if (!id_list_has(live.groups, d->group.gid)) {
		snprintf(fix, sizeof(fix), "kqemuctl allow group %s", opt.group);
		say(v, FAIL, fix, "the in-kernel ACL (allow_groups=%s) does not allow %s (gid %u): its members are refused even with the right node mode",
		    live.groups, opt.group, (unsigned int)d->group.gid);
		return;
	}
	if (acl_read_persisted(&saved) == 0 &&
	    (!id_lists_same(saved.groups, live.groups) || !id_lists_same(saved.users, live.users))) {
		snprintf(fix, sizeof(fix), "kqemuctl allow group %s (writes both), or edit %s to match", opt.group, shown(MODPROBE_FILE));
		say(v, FAIL, fix, "the live ACL (allow_users=%s allow_groups=%s) differs from %s (allow_users=%s allow_groups=%s): the next load changes it",
		    live.users, live.groups, shown(MODPROBE_FILE), saved.users, saved.groups);
		return;
	}
	say(v, PASS, NULL, "the in-kernel ACL allows %s (allow_groups=%s)", opt.group, live.groups);
}

/* How far back recent-access looks in the module's last RECENT_MAX events. */
#define RECENT_WINDOW	(24 * 60 * 60)

struct recent_user {
	uint32_t uid;
	unsigned int count;
	long long last;
};

/* The users with events of kind since then, each once, in order of their first. */
static size_t recent_users(const struct recent *r, enum recent_kind kind, long long since,
			   struct recent_user *users)
{
	size_t n = 0, i, u;

	for (i = 0; i < r->n; i++) {
		const struct recent_event *ev = &r->ev[i];

		if (ev->kind != kind || ev->time < since)
			continue;
		for (u = 0; u < n && users[u].uid != ev->uid; u++)
			;
		if (u == n)
			users[n++] = (struct recent_user){ .uid = ev->uid };
		users[u].count++;
		if (ev->time > users[u].last)
			users[u].last = ev->time;
	}
	return n;
}

/* "alice (uid 1001) 2 times, last at 2026-12-01 12:00:03", appended to buf. */
static void append_users(char *buf, size_t size, const struct recent_user *users, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char name[64], when[64], times[32];
		size_t len = strlen(buf);

		recent_time(users[i].last, when, sizeof(when));
		snprintf(times, sizeof(times), users[i].count == 1 ? "once" : "%u times", users[i].count);
		if (user_name_of(users[i].uid, name, sizeof(name)) == 0)
			snprintf(buf + len, size - len, "%s%s (uid %u) %s, last at %s",
				 i == 0 ? "" : i + 1 == n ? " and " : ", ", name,
				 (unsigned int)users[i].uid, times, when);
		else
			snprintf(buf + len, size - len, "%suid %u %s, last at %s",
				 i == 0 ? "" : i + 1 == n ? " and " : ", ",
				 (unsigned int)users[i].uid, times, when);
	}
}

/*
 * What lets a refused user in, from what kqemuctl knows of them now: the
 * user and group databases and the live ACL.
 */
static void denial_hint(const struct doctor *d, const struct acl *live, uint32_t uid,
			char *buf, size_t size)
{
	const char *g = opt.group;
	char name[64];
	uid_t u;
	gid_t pgid;

	if (user_name_of(uid, name, sizeof(name)) < 0 || user_lookup(name, &u, &pgid) < 0) {
		snprintf(buf, size, "uid %u has no account in %s; if it should use kqemu: kqemuctl allow user %u",
			 (unsigned int)uid, user_db(), (unsigned int)uid);
	} else if (live && id_list_has(live->users, uid)) {
		snprintf(buf, size, "%s is in allow_users now, so was refused before that: nothing to do", name);
	} else if (uid == 0) {
		snprintf(buf, size, "root is refused only with strict=1; to let it in: kqemuctl allow user root");
	} else if (!d->have_group) {
		snprintf(buf, size, "there is no group %s to add %s to: kqemuctl allow user %s", g, name, name);
	} else if (!user_in_group(name, pgid, &d->group)) {
		snprintf(buf, size, "%s is not in %s: kqemuctl adduser %s, then log in again", name, g, name);
	} else if (live && !id_list_has(live->groups, d->group.gid)) {
		snprintf(buf, size, "%s is in %s, but the live ACL does not allow the group: kqemuctl allow group %s",
			 name, g, g);
	} else {
		snprintf(buf, size, "%s is in %s per %s but was refused: the process ran in a login from before kqemuctl adduser; %s must log in again (or run newgrp %s)",
			 name, g, group_db(), name, g);
	}
}

static void check_recent(struct doctor *d, struct verdict *v)
{
	struct recent_user denied[RECENT_MAX], revoked[RECENT_MAX];
	long long since = (long long)time(NULL) - RECENT_WINDOW;
	size_t ndenied, nrevoked;
	struct acl live;
	bool have_live;
	struct recent r;
	int err;

	if (!d->loaded) {
		say(v, SKIP, NULL, "kqemu is not loaded");
		return;
	}
	err = recent_read(&r);
	if (err == -ENOENT) {
		say(v, SKIP, NULL, "this kqemu keeps no list of recent access events (no %s)", shown(RECENT_FILE));
		return;
	}
	if (err < 0) {
		say(v, SKIP, NULL, "cannot read %s (%s)%s", shown(RECENT_FILE), strerror(-err),
		    err == -EACCES ? ": run doctor as root to see who was refused recently" : "");
		return;
	}
	have_live = acl_read_live(&live) == 0;
	ndenied = recent_users(&r, RECENT_DENIED, since, denied);
	nrevoked = recent_users(&r, RECENT_REVOKED, since, revoked);
	if (!ndenied && !nrevoked) {
		say(v, PASS, NULL, "no denial or revocation in the last 24 hours (of kqemu's last %zu events%s)",
		    r.n, r.skipped ? "; lines this kqemuctl does not know were skipped" : "");
		return;
	}
	say(v, PASS, NULL, "in the last 24 hours kqemu ");
	if (ndenied) {
		snprintf(v->detail + strlen(v->detail), sizeof(v->detail) - strlen(v->detail), "refused ");
		append_users(v->detail, sizeof(v->detail), denied, ndenied);
	}
	if (nrevoked) {
		snprintf(v->detail + strlen(v->detail), sizeof(v->detail) - strlen(v->detail),
			 "%srevoked the access of ", ndenied ? "; it " : "");
		append_users(v->detail, sizeof(v->detail), revoked, nrevoked);
	}
	for (size_t i = 0; i < ndenied; i++) {
		size_t len = strlen(v->fix);

		if (len)
			v->fix[len++] = '\n';
		denial_hint(d, have_live ? &live : NULL, denied[i].uid, v->fix + len, sizeof(v->fix) - len);
	}
	if (nrevoked)
		snprintf(v->fix + strlen(v->fix), sizeof(v->fix) - strlen(v->fix),
			 "%sa policy change revoked open file descriptors: they fail with EACCES for good, and their process must open %s again once the ACL allows its user (kqemuctl acl)",
			 ndenied ? "\n" : "", DEVICE_NODE);
}

static void check_other_hypervisors(struct doctor *d, struct verdict *v)
{
	static const struct { const char *module, *fix; } others[] = {
		{ "vboxdrv", "stop VirtualBox's driver: systemctl stop vboxdrv (or rmmod vboxnetadp vboxnetflt vboxdrv)" },
		{ "vmmon", "stop VMware's driver: systemctl stop vmware (or rmmod vmmon)" },
	};
	char path[128], virt[16] = "";

	(void)d;
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		snprintf(path, sizeof(path), "/sys/module/%s", others[i].module);
		if (path_exists(path)) {
			say(v, FAIL, others[i].fix, "%s is loaded and may hold VT-x/AMD-V", others[i].module);
			return;
		}
	}
	for (const char *const *kvm = (const char *const[]){ "kvm_intel", "kvm_amd", NULL }; *kvm; kvm++) {
		char fix[512];

		snprintf(path, sizeof(path), "/sys/module/%s", *kvm);
		if (!path_exists(path))
			continue;
		/* Since Linux 6.12 KVM turns virtualization on at load unless told not to. */
		if (read_first_line("/sys/module/kvm/parameters/enable_virt_at_load", virt, sizeof(virt)) == 0 &&
		    virt[0] == 'Y') {
			char share[16] = "";

			/*
			 * On AMD kqemu borrows SVM from KVM for each run
			 * (share_svm=1, the default); VT-x has room for one.
			 */
			if (!strcmp(*kvm, "kvm_amd") &&
			    read_first_line("/sys/module/kqemu/parameters/share_svm", share, sizeof(share)) == 0 &&
			    share[0] == 'Y') {
				say(v, PASS, NULL, "kvm_amd holds AMD-V from load (enable_virt_at_load=Y); kqemu shares it (share_svm=1)");
				return;
			}
			snprintf(fix, sizeof(fix), "unload it (modprobe -r %s), or keep KVM from taking the CPU at load: echo 'options kvm enable_virt_at_load=0' > /etc/modprobe.d/kvm-kqemu.conf and reload %s", *kvm, *kvm);
			say(v, FAIL, fix, "%s is loaded with enable_virt_at_load=Y: it holds %s", *kvm,
			    strcmp(*kvm, "kvm_amd") ? "VT-x" : "AMD-V");
			return;
		}
		say(v, PASS, NULL, "%s is loaded but takes the CPU only while its guests run", *kvm);
		return;
	}
	say(v, PASS, NULL, "no other hypervisor module (kvm_intel, kvm_amd, vboxdrv, vmmon) is loaded");
}

static void check_container(struct doctor *d, struct verdict *v)
{
	static const char *const markers[] = { "/run/.containerenv", "/.dockerenv", NULL };
	const char *fix = "run kqemuctl on the host: a container cannot load modules, and group ids inside differ from the host's (pass the node in with --device /dev/kqemu)";
	char *env, what[128] = "", line[64];
	FILE *f;

	(void)d;
	for (int i = 0; markers[i]; i++)
		if (path_exists(markers[i])) {
			say(v, FAIL, fix, "running inside a container (%s exists)", markers[i]);
			return;
		}
	if (read_first_line("/run/systemd/container", line, sizeof(line)) == 0) {
		say(v, FAIL, fix, "running inside a container (%s, per /run/systemd/container)", line);
		return;
	}
	/* PID 1's environment is NUL-separated: walk it by length. */
	env = root_path("/proc/1/environ");
	f = fopen(env, "re");
	free(env);
	if (f) {
		char buf[65536];
		size_t len = fread(buf, 1, sizeof(buf) - 1, f);

		fclose(f);
		buf[len] = '\0';
		for (size_t off = 0; off < len; off += strlen(buf + off) + 1)
			if (!strncmp(buf + off, "container=", 10))
				snprintf(what, sizeof(what), "%s", buf + off + 10);
	}
	if (what[0]) {
		say(v, FAIL, fix, "running inside a container (%s, per PID 1's environment)", what);
		return;
	}
	say(v, PASS, NULL, "not inside a container");
}

static const struct check {
	const char *name;
	void (*fn)(struct doctor *d, struct verdict *v);
} checks[] = {
	{ "cpu-virtualization", check_cpu },
	{ "module-built", check_module_built },
	{ "secure-boot", check_secure_boot },
	{ "module-loaded", check_loaded },
	{ "node", check_node },
	{ "udev-rule", check_rule },
	{ "group", check_group },
	{ "user-in-group", check_user },
	{ "acl", check_acl },
	{ "recent-access", check_recent },
	{ "other-hypervisor", check_other_hypervisors },
	{ "container", check_container },
};

int verb_doctor(int argc, char **argv)
{
	static const char *const words[] = { [PASS] = "pass", [FAIL] = "FAIL", [SKIP] = "skip" };
	struct doctor d = { 0 };
	struct json j = { .f = stdout };
	int failed = 0;

	(void)argv;
	if (argc > 1)
		return fail(EINVAL, "doctor takes options only; see kqemuctl --help");
	if (opt.json)
		json_open(&j, '[');
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		struct verdict v = { 0 };

		checks[i].fn(&d, &v);
		if (v.result == FAIL)
			failed++;
		if (opt.json) {
			json_open(&j, '{');
			json_key(&j, "check");
			json_string(&j, checks[i].name);
			json_key(&j, "result");
			json_string(&j, v.result == PASS ? "pass" : v.result == FAIL ? "fail" : "skip");
			json_key(&j, "detail");
			json_string(&j, v.detail);
			json_key(&j, "fix");
			json_string(&j, v.fix);
			json_close(&j, '}');
			continue;
		}
		printf("%s %-18s %s\n", words[v.result], checks[i].name, v.detail);
		/* A failure's fix; a pass's advice (recent-access), a line each. */
		for (char *line = v.fix, *next; *line; line = next) {
			next = line + strcspn(line, "\n");
			printf("     %-18s %s: %.*s\n", "", v.result == FAIL ? "fix" : "hint",
			       (int)(next - line), line);
			if (*next)
				next++;
		}
	}
	if (opt.json)
		json_close(&j, ']');
	else if (failed)
		printf("%d check%s failed.\n", failed, failed == 1 ? "" : "s");
	else
		printf("All checks passed.\n");
	fflush(stdout);
	return failed ? PROBLEMS_FOUND : 0;
}
