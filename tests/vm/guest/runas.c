// SPDX-License-Identifier: GPL-2.0
/*
 * runas [-G GIDS] USER CMD [ARGS...]: run CMD as USER, with the groups a
 * fresh login would get from /etc/group, or with exactly GIDS (a comma
 * list, maybe empty) to play a login that began before a group change.
 * Static, and reads the files itself: the test VM has no NSS to speak of.
 */
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int find_user(const char *name, uid_t *uid, gid_t *gid)
{
	FILE *f = fopen("/etc/passwd", "r");
	char line[512];

	while (f && fgets(line, sizeof(line), f)) {
		char *n = strtok(line, ":"), *x = strtok(NULL, ":");
		char *u = strtok(NULL, ":"), *g = strtok(NULL, ":");

		if (n && x && u && g && !strcmp(n, name)) {
			*uid = atoi(u);
			*gid = atoi(g);
			fclose(f);
			return 0;
		}
	}
	if (f)
		fclose(f);
	return -1;
}

/* Every group in /etc/group that lists name as a member. */
static int login_groups(const char *name, gid_t *groups, int max)
{
	FILE *f = fopen("/etc/group", "r");
	char line[1024];
	int n = 0;

	while (f && fgets(line, sizeof(line), f) && n < max) {
		char *gname = strtok(line, ":"), *x = strtok(NULL, ":");
		char *gid = strtok(NULL, ":"), *members = strtok(NULL, ":\n");

		(void)gname;
		if (!x || !gid || !members)
			continue;
		for (char *m = strtok(members, ",\n"); m; m = strtok(NULL, ",\n"))
			if (!strcmp(m, name))
				groups[n++] = atoi(gid);
	}
	if (f)
		fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	gid_t groups[64], gid;
	int ngroups = -1, i = 1;
	uid_t uid;

	if (argc > 2 && !strcmp(argv[1], "-G")) {
		ngroups = 0;
		for (char *g = strtok(argv[2], ","); g && ngroups < 64; g = strtok(NULL, ","))
			groups[ngroups++] = atoi(g);
		i = 3;
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: runas [-G GIDS] USER CMD [ARGS...]\n");
		return 125;
	}
	if (find_user(argv[i], &uid, &gid)) {
		fprintf(stderr, "runas: no user %s\n", argv[i]);
		return 125;
	}
	if (ngroups < 0)
		ngroups = login_groups(argv[i], groups, 64);
	if (setgroups(ngroups, groups) || setgid(gid) || setuid(uid)) {
		perror("runas");
		return 125;
	}
	execvp(argv[i + 1], argv + i + 1);
	perror(argv[i + 1]);
	return 127;
}
