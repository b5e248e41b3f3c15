// SPDX-License-Identifier: GPL-2.0
/*
 * A small JSON writer for status --json and doctor --json: every string
 * goes through json_string(), which escapes quotes, backslashes and control
 * characters and replaces bytes that are not UTF-8, so that whatever a
 * path, a parameter or a message holds, the output parses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kqemuctl.h"

/* The length of the UTF-8 sequence at s, or 0 when it is not one. */
static int utf8_len(const unsigned char *s)
{
	int n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;

	if (s[0] >= 0xf5)
		return 0;
	for (int i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* Overlong three- and four-byte forms, surrogates, past U+10FFFF. */
	if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (n == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
	    (n == 4 && s[0] == 0xf0 && s[1] < 0x90) || (n == 4 && s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

static void separate(struct json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->depth > 0 && j->count[j->depth - 1]++)
		fputc(',', j->f);
}

void json_open(struct json *j, char bracket)
{
	separate(j);
	fputc(bracket, j->f);
	if (j->depth < JSON_MAX_DEPTH)
		j->count[j->depth] = 0;
	j->depth++;
}

void json_close(struct json *j, char bracket)
{
	j->depth--;
	fputc(bracket, j->f);
	if (j->depth == 0)
		fputc('\n', j->f);
}

static void put_string(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', f);
	while (*s) {
		int n;

		if (*s == '"' || *s == '\\') {
			fprintf(f, "\\%c", *s++);
		} else if (*s == '\n') {
			fputs("\\n", f), s++;
		} else if (*s == '\t') {
			fputs("\\t", f), s++;
		} else if (*s < 0x20 || *s == 0x7f) {
			fprintf(f, "\\u%04x", *s++);
		} else if (*s < 0x80) {
			fputc(*s++, f);
		} else if ((n = utf8_len(s))) {
			fwrite(s, 1, n, f);
			s += n;
		} else {
			fputs("\\ufffd", f);	/* not UTF-8: say so, do not pass it on */
			s++;
		}
	}
	fputc('"', f);
}

void json_key(struct json *j, const char *key)
{
	separate(j);
	put_string(j->f, key);
	fputc(':', j->f);
	j->after_key = true;
}

void json_string(struct json *j, const char *s)
{
	separate(j);
	put_string(j->f, s);
}

void json_uint(struct json *j, unsigned long long v)
{
	separate(j);
	fprintf(j->f, "%llu", v);
}

void json_null(struct json *j)
{
	separate(j);
	fputs("null", j->f);
}

/* A number when s is one (a counter from sysfs), else null. */
void json_number_or_null(struct json *j, const char *s)
{
	if (s[0] && strspn(s, "0123456789") == strlen(s) && strlen(s) <= 19)
		json_uint(j, strtoull(s, NULL, 10));
	else
		json_null(j);
}
