// SPDX-License-Identifier: GPL-2.0
/*
 * kqemuctl: puts kqemu on a host, checks it and explains what is wrong.
 * The verb table, the options every verb shares, and the one place where an
 * errno becomes an exit status.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kqemuctl.h"

struct options opt = {
	.root = "/",
	.group = DEFAULT_GROUP,
	.mode = DEFAULT_MODE,
};

static const struct verb {
	const char *name;
	const char *args;
	verb_fn fn;
	bool changes_host;	/* needs root unless --root or --dry-run */
	const char *help;
} verbs[] = {
	{ "install", "", verb_install, true, "Declare the group, write the udev rule and modprobe.d/modules-load.d files, load kqemu, verify" },
	{ "uninstall", "", verb_uninstall, true, "Undo what install recorded; --purge also deletes the group it created" },
	{ "load", "", verb_load, true, "Load kqemu with its modprobe.d options (blacklist honoured)" },
	{ "unload", "", verb_unload, true, "Unload kqemu, or say who uses it" },
	{ "status", "", verb_status, false, "Show the module, the node, the live ACL, the counters and recent denials" },
	{ "allow", "user|group NAME", verb_allow, true, "Let a user or group open /dev/kqemu, live and persisted" },
	{ "deny", "user|group NAME", verb_deny, true, "Take that back, live and persisted" },
	{ "acl", "", verb_acl, false, "Show the live and the persisted ACL and whether they agree" },
	{ "adduser", "USER", verb_adduser, true, "Add USER to the group (takes effect at the next login)" },
	{ "doctor", "", verb_doctor, false, "Check everything kqemu needs; each failure comes with its fix" },
};

static void help(void)
{
	printf("kqemuctl [OPTIONS...] VERB [ARGS...]\n\n"
	       "Install, load, check and explain kqemu.\n\nVerbs:\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		char left[40];

		snprintf(left, sizeof(left), "%s %s", verbs[i].name, verbs[i].args);
		printf("  %-24s %s\n", left, verbs[i].help);
	}
	printf("\nOptions:\n"
	       "  -h --help            Show this help\n"
	       "     --version         Show the version\n"
	       "     --root=DIR        Operate on the tree under DIR (staging, tests);\n"
	       "                       install then writes files only\n"
	       "     --dry-run         Say what would change, change nothing\n"
	       "     --force           Replace files an admin edited (keeping a backup)\n"
	       "     --group=NAME      The group that may use /dev/kqemu (%s)\n"
	       "     --mode=MODE       The node's mode (%04o)\n"
	       "     --uaccess         Also give the logged-in seat user access\n"
	       "     --purge           uninstall: also delete the group install created\n"
	       "     --json            status, doctor: JSON output\n"
	       "     --user=USER       doctor: check USER's membership (default: the caller)\n"
	       "\nSee kqemuctl(1).\n", DEFAULT_GROUP, DEFAULT_MODE);
}

/*
 * The only errno-to-exit-status mapping.  Verbs have already said what went
 * wrong and what to do; this only lets scripts tell the cases apart.
 */
static int exit_status(int r)
{
	if (r >= 0)
		return r == PROBLEMS_FOUND ? 1 : 0;
	switch (-r) {
	case EINVAL:
		return 2;	/* usage */
	case ENOENT:
	case ENODEV:
		return 3;	/* not installed, no such user/group/module */
	case EPERM:
	case EACCES:
		return 4;	/* needs root, or forbidden (blacklist, lockdown) */
	case EEXIST:
		return 5;	/* refused to overwrite an admin's file */
	case EBUSY:
		return 6;	/* module in use */
	case ETIMEDOUT:
	case ESRCH:
		return 7;	/* udev did not answer */
	case ENOKEY:
	case EKEYREJECTED:
	case ENOEXEC:
		return 8;	/* the kernel refused the module */
	default:
		return 1;
	}
}

static int usage_error(const char *fmt, const char *arg)
{
	fputs("kqemuctl: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("; see kqemuctl --help\n", stderr);
	return -EINVAL;
}

static int parse_options(int argc, char **argv)
{
	enum { ARG_VERSION = 0x100, ARG_ROOT, ARG_DRY_RUN, ARG_FORCE, ARG_GROUP,
	       ARG_MODE, ARG_UACCESS, ARG_PURGE, ARG_JSON, ARG_USER };
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, ARG_VERSION },
		{ "root", required_argument, NULL, ARG_ROOT },
		{ "dry-run", no_argument, NULL, ARG_DRY_RUN },
		{ "force", no_argument, NULL, ARG_FORCE },
		{ "group", required_argument, NULL, ARG_GROUP },
		{ "mode", required_argument, NULL, ARG_MODE },
		{ "uaccess", no_argument, NULL, ARG_UACCESS },
		{ "purge", no_argument, NULL, ARG_PURGE },
		{ "json", no_argument, NULL, ARG_JSON },
		{ "user", required_argument, NULL, ARG_USER },
		{}
	};
	int c;

	opterr = 0;	/* we say it, and where to look */
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) >= 0) {
		char *end;

		switch (c) {
		case 'h':
			help();
			return 0;
		case ARG_VERSION:
			printf("kqemuctl %s\n", KQEMU_VERSION);
			return 0;
		case ARG_ROOT:
			if (optarg[0] != '/')
				return usage_error("--root needs an absolute path, not '%s'", optarg);
			opt.root_typed = strdup(optarg);
			opt.root = optarg;
			/* "/x/" and "/x" are the same tree; "/" stays the host. */
			while (strlen(opt.root) > 1 && opt.root[strlen(opt.root) - 1] == '/')
				optarg[strlen(optarg) - 1] = '\0';
			break;
		case ARG_DRY_RUN:
			opt.dry_run = true;
			break;
		case ARG_FORCE:
			opt.force = true;
			break;
		case ARG_GROUP:
			if (!group_name_valid(optarg))
				return usage_error("--group: '%s' is not a group name adduser would make (letters, digits, '_', '.' and '-', not first '-' or '.', not all digits, at most 32)", optarg);
			opt.group = optarg;
			break;
		case ARG_MODE:
			opt.mode = strtoul(optarg, &end, 8);
			if (!optarg[0] || *end || opt.mode > 0777)
				return usage_error("--mode: '%s' is not an octal mode like 0660", optarg);
			if (opt.mode & 0007)
				fprintf(stderr, "kqemuctl: warning: --mode=%s lets every user reach the node; only kqemu's own ACL stops them\n", optarg);
			break;
		case ARG_UACCESS:
			opt.uaccess = true;
			break;
		case ARG_PURGE:
			opt.purge = true;
			break;
		case ARG_JSON:
			opt.json = true;
			break;
		case ARG_USER:
			opt.user = optarg;
			break;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	return 1;
}

/* The command line as the user gave it, quoted for a shell where needed. */
static char *command_line(int argc, char **argv)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,@+%") == strlen(a)) {
			fprintf(f, " %s", a);
			continue;
		}
		fputs(" '", f);
		for (; *a; a++)
			*a == '\'' ? fputs("'\\''", f) : fputc(*a, f);
		fputc('\'', f);
	}
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	char *typed = command_line(argc, argv);	/* before getopt permutes argv */
	int r = parse_options(argc, argv);

	if (r <= 0)
		return exit_status(r);
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return exit_status(usage_error("%s", "which verb? (install, doctor, status, ...)"));
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(argv[0], verbs[i].name))
			continue;
		/* Say it before touching anything, not halfway through. */
		if (verbs[i].changes_host && root_is_host() && !opt.dry_run && geteuid() != 0)
			return exit_status(fail(EPERM, "%s changes the system: run it as root (sudo kqemuctl%s), or try --dry-run",
						verbs[i].name, typed ? typed : ""));
		return exit_status(verbs[i].fn(argc, argv));
	}
	return exit_status(usage_error("unknown verb '%s'", argv[0]));
}
