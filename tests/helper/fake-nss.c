// SPDX-License-Identifier: GPL-2.0
/*
 * LD_PRELOAD shim for the helper's unit tests: accounts that exist only in
 * NSS, as an LDAP or sssd directory would serve them, and in no file.  The
 * user "ldapuser" (uid 5000, gid 5000) and the group "ldap.admins" (gid
 * 6000, member ldapuser, and served by getgrouplist() only, as sssd often
 * does); everything else goes to libc.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>

static int fill_user(struct passwd *pw, char *buf, size_t size, struct passwd **res)
{
	if (size < 64)
		return ERANGE;
	strcpy(buf, "ldapuser");
	strcpy(buf + 16, "/home/ldapuser");
	strcpy(buf + 40, "/bin/sh");
	*pw = (struct passwd){ .pw_name = buf, .pw_passwd = (char *)"x", .pw_uid = 5000,
			       .pw_gid = 5000, .pw_gecos = (char *)"", .pw_dir = buf + 16,
			       .pw_shell = buf + 40 };
	*res = pw;
	return 0;
}

int getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t size, struct passwd **res)
{
	int (*real)(const char *, struct passwd *, char *, size_t, struct passwd **) =
		dlsym(RTLD_NEXT, "getpwnam_r");

	if (!strcmp(name, "ldapuser"))
		return fill_user(pw, buf, size, res);
	return real(name, pw, buf, size, res);
}

int getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t size, struct passwd **res)
{
	int (*real)(uid_t, struct passwd *, char *, size_t, struct passwd **) =
		dlsym(RTLD_NEXT, "getpwuid_r");

	if (uid == 5000)
		return fill_user(pw, buf, size, res);
	return real(uid, pw, buf, size, res);
}

int getgrnam_r(const char *name, struct group *gr, char *buf, size_t size, struct group **res)
{
	int (*real)(const char *, struct group *, char *, size_t, struct group **) =
		dlsym(RTLD_NEXT, "getgrnam_r");

	if (!strcmp(name, "ldap.admins")) {
		if (size < 64)
			return ERANGE;
		strcpy(buf, "ldap.admins");
		((char **)(buf + 32))[0] = NULL;	/* no members listed */
		*gr = (struct group){ .gr_name = buf, .gr_passwd = (char *)"x", .gr_gid = 6000,
				      .gr_mem = (char **)(buf + 32) };
		*res = gr;
		return 0;
	}
	return real(name, gr, buf, size, res);
}

int getgrouplist(const char *user, gid_t group, gid_t *groups, int *ngroups)
{
	int (*real)(const char *, gid_t, gid_t *, int *) = dlsym(RTLD_NEXT, "getgrouplist");

	if (!strcmp(user, "ldapuser")) {
		if (*ngroups < 2) {
			*ngroups = 2;
			return -1;
		}
		groups[0] = group;
		groups[1] = 6000;
		*ngroups = 2;
		return 2;
	}
	return real(user, group, groups, ngroups);
}
