// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel ACL: allow_users and allow_groups, live in
 * /sys/module/kqemu/parameters and persisted as "options kqemu ..." in our
 * modprobe.d file, so that the next load gets what the live module has.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kqemuctl.h"

int acl_read_live(struct acl *acl)
{
	int r = module_param_read("allow_users", acl->users, sizeof(acl->users));

	if (r < 0)
		return r;
	return module_param_read("allow_groups", acl->groups, sizeof(acl->groups));
}

/* Reads "options kqemu allow_users=... allow_groups=..." from our file. */
int acl_read_persisted(struct acl *acl)
{
	char *contents, *line, *save = NULL;
	int r = read_file(MODPROBE_FILE, &contents);

	acl->users[0] = acl->groups[0] = '\0';
	if (r < 0)
		return r;
	for (line = strtok_r(contents, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *tok, *tsave = NULL;

		if (strncmp(line, "options kqemu ", 14))
			continue;
		for (tok = strtok_r(line + 14, " \t", &tsave); tok;
		     tok = strtok_r(NULL, " \t", &tsave)) {
			if (!strncmp(tok, "allow_users=", 12))
				snprintf(acl->users, sizeof(acl->users), "%s", tok + 12);
			else if (!strncmp(tok, "allow_groups=", 13))
				snprintf(acl->groups, sizeof(acl->groups), "%s", tok + 13);
		}
	}
	free(contents);
	return 0;
}

char *acl_modprobe_conf(const struct acl *acl)
{
	char *s, opts[600] = "";

	if (acl->users[0])
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts),
			 " allow_users=%s", acl->users);
	if (acl->groups[0])
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts),
			 " allow_groups=%s", acl->groups);
	if (asprintf(&s, "# Written by kqemu; change it with kqemuctl allow/deny, which also\n"
		     "# apply it live.  kqemu's in-kernel ACL: numeric uids and gids.\n"
		     "%s%s\n", opts[0] ? "options kqemu" : "# (nobody but root)", opts) < 0) {
		perror("kqemuctl");
		exit(70);
	}
	return s;
}

bool id_list_has(const char *list, unsigned long id)
{
	for (const char *s = list; *s; ) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);

		if (end != s && v == id)
			return true;
		s = end + strspn(end, ", \n");
		if (end == s && *s)
			s++;
	}
	return false;
}

void id_list_add(char *list, size_t size, unsigned long id)
{
	size_t len = strlen(list);

	if (id_list_has(list, id))
		return;
	snprintf(list + len, size - len, "%s%lu", len ? "," : "", id);
}

void id_list_del(char *list, unsigned long id)
{
	char out[256] = "";

	for (const char *s = list; *s; ) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);

		if (end == s)
			break;
		if (v != id)
			snprintf(out + strlen(out), sizeof(out) - strlen(out),
				 "%s%lu", out[0] ? "," : "", v);
		s = end + strspn(end, ", \n");
	}
	strcpy(list, out);
}
