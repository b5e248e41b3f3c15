// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel ACL: allow_users and allow_groups, live in
 * /sys/module/kqemu/parameters and persisted as "options kqemu ..." in our
 * modprobe.d file, so that the next load gets what the live module has.
 *
 * Lists are kept in one canonical form, "1000,1001", and checked against
 * the rules of the module's own parser (kmod/acl.c: id_list_parse()):
 * decimal ids that fit in 32 bits, (uid_t)-1 refused, at most
 * ACL_MAX_IDS of them.  Anything the kernel would refuse is refused here,
 * before it reaches modprobe.d, where it would make the next load fail.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kqemuctl.h"

#define SEPARATORS	", \t\n"

int parse_id(const char *s, uint32_t *id)
{
	unsigned long long v = 0;
	size_t n = strspn(s, "0123456789");

	if (n == 0 || s[n] || n > 10)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	/* (uid_t)-1 is "no id": the kernel's uid_valid() refuses it. */
	if (v >= 0xffffffffULL)
		return -EINVAL;
	*id = v;
	return 0;
}

int id_list_normalize(const char *in, char *out, size_t size, char *bad, size_t badsize)
{
	char *buf = strdup(in), *cur = buf, *tok;
	unsigned int nr = 0;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	out[0] = '\0';
	while ((tok = strsep(&cur, SEPARATORS))) {
		uint32_t id;

		if (!*tok)
			continue;
		if (parse_id(tok, &id) < 0) {
			r = -EINVAL;
		} else if (nr == ACL_MAX_IDS) {
			r = -E2BIG;
		} else {
			size_t len = strlen(out);

			snprintf(out + len, size - len, "%s%u", nr ? "," : "", id);
			nr++;
			continue;
		}
		if (bad)
			snprintf(bad, badsize, "%s", tok);
		break;
	}
	free(buf);
	return r;
}

int acl_read_live(struct acl *acl)
{
	char raw[4096];
	int r = module_param_read("allow_users", raw, sizeof(raw));

	if (r < 0)
		return r;
	if (id_list_normalize(raw, acl->users, sizeof(acl->users), NULL, 0) < 0)
		return -EBADMSG;
	r = module_param_read("allow_groups", raw, sizeof(raw));
	if (r < 0)
		return r;
	if (id_list_normalize(raw, acl->groups, sizeof(acl->groups), NULL, 0) < 0)
		return -EBADMSG;
	return 0;
}

/*
 * The value of one modprobe.d option word as the kernel's parse_args()
 * reads it: NAME=VALUE, NAME="VALUE" or "NAME=VALUE".  Returns the value
 * (in place) when word sets name, else NULL.
 */
static char *option_value(char *word, const char *name)
{
	size_t n = strlen(name), len;

	if (word[0] == '"') {
		word++;
		len = strlen(word);
		if (len && word[len - 1] == '"')
			word[len - 1] = '\0';
	}
	if (strncmp(word, name, n) || word[n] != '=')
		return NULL;
	word += n + 1;
	len = strlen(word);
	if (word[0] == '"' && len >= 2 && word[len - 1] == '"') {
		word[len - 1] = '\0';
		word++;
	}
	return word;
}

/* Splits an options line into words, keeping "quoted spaces" in one. */
static char *next_word(char **cur)
{
	char *s = *cur + strspn(*cur, " \t"), *start = s;
	bool quoted = false;

	if (!*s)
		return NULL;
	for (; *s && (quoted || (*s != ' ' && *s != '\t')); s++)
		if (*s == '"')
			quoted = !quoted;
	if (*s)
		*s++ = '\0';
	*cur = s;
	return start;
}

/*
 * Reads "options kqemu allow_users=... allow_groups=..." from our file, as
 * modprobe would: every options line for kqemu, the last setting of each
 * parameter winning.  -EBADMSG when a list is one the kernel would refuse
 * (acl->bad says which entry).
 */
int acl_read_persisted(struct acl *acl)
{
	char *contents, *line, *save = NULL;
	char *users = NULL, *groups = NULL;
	int r = read_file(MODPROBE_FILE, &contents);

	acl->users[0] = acl->groups[0] = acl->bad[0] = '\0';
	if (r < 0)
		return r;
	for (line = strtok_r(contents, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *word, *cur = line, *v;

		line += strspn(line, " \t");
		cur = line;
		word = next_word(&cur);
		if (!word || strcmp(word, "options"))
			continue;
		word = next_word(&cur);
		if (!word || strcmp(word, MODULE_NAME))
			continue;
		while ((word = next_word(&cur))) {
			if ((v = option_value(word, "allow_users")))
				users = v;
			else if ((v = option_value(word, "allow_groups")))
				groups = v;
		}
	}
	r = 0;
	if (users && id_list_normalize(users, acl->users, sizeof(acl->users),
				       acl->bad, sizeof(acl->bad)) < 0)
		r = -EBADMSG;
	else if (groups && id_list_normalize(groups, acl->groups, sizeof(acl->groups),
					     acl->bad, sizeof(acl->bad)) < 0)
		r = -EBADMSG;
	free(contents);
	return r;
}

/* The message for a persisted ACL the kernel would refuse. */
int acl_bad_persisted(const struct acl *acl)
{
	return fail(EBADMSG, "%s has \"%s\" in its ACL, which kqemu refuses (it takes decimal uids and gids, at most %d per list): the next load of kqemu would fail; correct the file by hand",
		    shown(MODPROBE_FILE), acl->bad, ACL_MAX_IDS);
}

char *acl_modprobe_conf(const struct acl *acl)
{
	char *s, opts[2 * ACL_TEXT_MAX + 64] = "";

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

/* list is canonical ("1000,1001"), as every function here leaves it. */
bool id_list_has(const char *list, uint32_t id)
{
	for (const char *s = list; *s; ) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);

		if (end == s)
			break;
		if (v == id)
			return true;
		s = end + (*end == ',');
	}
	return false;
}

static unsigned int id_list_count(const char *list)
{
	unsigned int n = list[0] != '\0';

	for (const char *s = list; *s; s++)
		n += *s == ',';
	return n;
}

int id_list_add(char *list, uint32_t id)
{
	size_t len = strlen(list);

	if (id_list_has(list, id))
		return 0;
	if (id_list_count(list) >= ACL_MAX_IDS)
		return -E2BIG;
	/* ACL_TEXT_MAX holds ACL_MAX_IDS ids of 10 digits: never truncated. */
	snprintf(list + len, ACL_TEXT_MAX - len, "%s%u", len ? "," : "", id);
	return 1;
}

void id_list_del(char *list, uint32_t id)
{
	char out[ACL_TEXT_MAX] = "";

	for (const char *s = list; *s; ) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);

		if (end == s)
			break;
		if (v != id)
			snprintf(out + strlen(out), sizeof(out) - strlen(out),
				 "%s%lu", out[0] ? "," : "", v);
		s = end + (*end == ',');
	}
	strcpy(list, out);
}

/* Whether two canonical lists hold the same ids, in any order. */
bool id_lists_same(const char *a, const char *b)
{
	if (id_list_count(a) != id_list_count(b))
		return false;
	for (const char *s = a; *s; ) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);

		if (end == s)
			break;
		if (!id_list_has(b, v))
			return false;
		s = end + (*end == ',');
	}
	/* Same count, every id of a in b: b has no other (lists hold no duplicates). */
	return true;
}
