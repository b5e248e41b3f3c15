// SPDX-License-Identifier: GPL-2.0
/*
 * The module's last access events, /sys/class/misc/kqemu/stats/recent: at
 * most RECENT_MAX lines, oldest first, each exactly
 *
 *	<unix-seconds> <kind> uid=<uid> pid=<pid> comm=<comm> gen=<generation>
 *
 * with kind denied, revoked or policy.  The parser takes that and nothing
 * else: a line that is not in this form (a newer module's, or a torn one)
 * is counted and skipped, never half read.  Older modules have no such file
 * (-ENOENT), which the callers take as "nothing to say".
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kqemuctl.h"

static const char *const kind_names[] = {
	[RECENT_DENIED] = "denied", [RECENT_REVOKED] = "revoked", [RECENT_POLICY] = "policy" };

const char *recent_kind_name(enum recent_kind kind)
{
	return kind_names[kind];
}

/* Decimal digits only, no sign, at most max; 0 or -EINVAL. */
static int parse_number(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;
	size_t n = strspn(s, "0123456789");

	if (n == 0 || s[n] || n > 20)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned int digit = s[i] - '0';

		if (v > (max - digit) / 10)
			return -EINVAL;
		v = v * 10 + digit;
	}
	*out = v;
	return 0;
}

/* "key=value": the value, when token starts with key and '='. */
static const char *value_of(const char *token, const char *key)
{
	size_t len = strlen(key);

	if (strncmp(token, key, len) || token[len] != '=')
		return NULL;
	return token + len + 1;
}

/*
 * The kernel's comm, as the module writes it: at most 15 bytes, none of
 * them whitespace or a control character ('?' stands for those).
 */
static bool comm_valid(const char *s)
{
	size_t len = strlen(s);

	if (len >= RECENT_COMM_SIZE)
		return false;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c <= ' ' || *c == 0x7f)
			return false;
	return true;
}

/* One line, in place; 0 or -EINVAL. */
static int parse_line(char *line, struct recent_event *ev)
{
	char *tok[6], *cur = line;
	const char *v;
	unsigned long long n;
	uint32_t id;
	int i;

	for (i = 0; i < 6; i++) {
		tok[i] = strsep(&cur, " ");
		if (!tok[i])
			return -EINVAL;
	}
	if (cur)	/* a seventh field */
		return -EINVAL;
	if (parse_number(tok[0], (unsigned long long)LLONG_MAX, &n))
		return -EINVAL;
	ev->time = n;
	for (i = 0; i < 3; i++)
		if (!strcmp(tok[1], kind_names[i]))
			break;
	if (i == 3)
		return -EINVAL;
	ev->kind = i;
	if (!(v = value_of(tok[2], "uid")) || parse_id(v, &id))
		return -EINVAL;
	ev->uid = id;
	if (!(v = value_of(tok[3], "pid")) || parse_number(v, INT_MAX, &n))
		return -EINVAL;
	ev->pid = n;
	if (!(v = value_of(tok[4], "comm")) || !comm_valid(v))
		return -EINVAL;
	snprintf(ev->comm, sizeof(ev->comm), "%s", v);
	if (!(v = value_of(tok[5], "gen")) || parse_number(v, ULLONG_MAX, &n))
		return -EINVAL;
	ev->gen = n;
	return 0;
}

int recent_read(struct recent *r)
{
	char *contents, *cur, *line;
	int err;

	memset(r, 0, sizeof(*r));
	err = read_file(RECENT_FILE, &contents);
	if (err < 0)
		return err;
	cur = contents;
	while ((line = strsep(&cur, "\n"))) {
		struct recent_event ev;

		if (!cur && !*line)	/* after the last newline */
			break;
		if (parse_line(line, &ev)) {
			r->skipped++;
			continue;
		}
		/* More than the module keeps: the newest RECENT_MAX count. */
		if (r->n == RECENT_MAX) {
			memmove(r->ev, r->ev + 1, sizeof(r->ev[0]) * (RECENT_MAX - 1));
			r->n--;
		}
		r->ev[r->n++] = ev;
	}
	free(contents);
	return 0;
}

void recent_time(long long t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if ((long long)tt != t || !localtime_r(&tt, &tm) ||
	    !strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, size, "@%lld", t);
}

void recent_comm_shown(const char *comm, char *buf, size_t size)
{
	size_t i;

	/* Bytes past ASCII could be a terminal's control sequence. */
	for (i = 0; comm[i] && i + 1 < size; i++) {
		unsigned char c = comm[i];

		buf[i] = c > ' ' && c < 0x7f ? c : '?';
	}
	buf[i] = '\0';
}
