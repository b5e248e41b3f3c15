// SPDX-License-Identifier: GPL-2.0
/*
 * The device suite, run as root inside the test VM with kqemu.ko loaded as
 * `allow_groups=990`.  It becomes each test user in turn.  Every check
 * prints one "ok"/"not ok" line; the host counts them.
 *
 * Usage: vmtest KQEMU_KO SQUAT_KO FUZZ_CALLS
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <poll.h>
#include <sys/socket.h>
#include <linux/audit.h>
#include <linux/netlink.h>

#include "vmtest.h"

#define PAGE	4096UL

static const char *kqemu_ko, *squat_ko;

static void set_param(const char *name, const char *value)
{
	int ret = write_param(name, value);

	if (ret)
		report(false, "set %s=%s: %s", name, value, strerror(-ret));
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	buf[0] = 0;
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

/* --- the node ----------------------------------------------------------- */

static void test_node(void)
{
	struct stat st;
	char buf[32];

	if (stat("/dev/kqemu", &st)) {
		report(false, "/dev/kqemu exists: %s", strerror(errno));
		return;
	}
	report(S_ISCHR(st.st_mode) && (st.st_mode & 0777) == 0600 &&
	       st.st_uid == 0 && st.st_gid == 0,
	       "without a udev rule /dev/kqemu is root:root 0600 (is %u:%u %03o)",
	       st.st_uid, st.st_gid, st.st_mode & 0777);
	read_file("/sys/class/misc/kqemu/dev", buf, sizeof(buf));
	report(strcmp(buf, "10:250\n") == 0, "fixed misc minor 10:250 (is %.*s)",
	       (int)strcspn(buf, "\n"), buf);
}

/* What udev does with our rule: root:kvm-users, and the given mode. */
static void node_set(mode_t mode)
{
	if (chown("/dev/kqemu", 0, KVM_USERS_GID) || chmod("/dev/kqemu", mode))
		report(false, "chown/chmod /dev/kqemu: %s", strerror(errno));
}

/* --- the access matrix -------------------------------------------------- */

/* Child bodies return 0 when things went the expected way. */
static int open_succeeds(void *unused)
{
	int fd = kqemu_open();

	if (fd < 0) {
		printf("# open: %s\n", strerror(errno));
		return 1;
	}
	return ioctl(fd, KQEMU_GET_API_VERSION) == KQEMU_API_VERSION ? 0 : 1;
}

static int open_refused(void *unused)
{
	return kqemu_open() == -1 && errno == EACCES ? 0 : 1;
}

static int in_userns(int (*fn)(void *))
{
	if (unshare(CLONE_NEWUSER)) {
		printf("# unshare(CLONE_NEWUSER): %s\n", strerror(errno));
		return 2;
	}
	return fn(NULL);
}

static int userns_refused(void *unused)
{
	return in_userns(open_refused);
}

static int userns_succeeds(void *unused)
{
	return in_userns(open_succeeds);
}

static void expect_denial(const struct who *who, const char *what,
			  int (*fn)(void *))
{
	long before = read_stat("denials");
	int status = run_as(who, fn, NULL);
	long after = read_stat("denials");

	report(status == 0 && after == before + 1,
	       "%s is refused by kqemu itself (status %d, denials %ld -> %ld)",
	       what, status, before, after);
}

static void test_access_matrix(void)
{
	char buf[64];

	node_set(0660);
	report(run_as(&member, open_succeeds, NULL) == 0,
	       "kvm-users member opens /dev/kqemu");
	report(run_as(&root_user, open_succeeds, NULL) == 0, "root opens /dev/kqemu");
	report(run_as(&outsider, open_refused, NULL) == 0,
	       "outsider is refused by the node's mode 0660");

	/* A wrong rule: the old kqemu's 0666.  The module still says no. */
	node_set(0666);
	expect_denial(&outsider, "outsider with the node chmod'ed 0666",
		      open_refused);
	expect_denial(&root_user, "root inside a new user namespace (unshare -U)",
		      userns_refused);
	report(run_as(&member, userns_succeeds, NULL) == 0,
	       "a member inside a user namespace keeps its own access");

	expect_denial(&listed, "a user not in allow_users", open_refused);
	set_param("allow_users", "1002");
	report(run_as(&listed, open_succeeds, NULL) == 0,
	       "a user listed in allow_users opens /dev/kqemu");
	read_file("/sys/module/kqemu/parameters/allow_users", buf, sizeof(buf));
	report(strcmp(buf, "1002\n") == 0, "allow_users reads back as set");
	set_param("allow_users", "");

	set_param("strict", "1");
	expect_denial(&root_user, "root under strict=1", open_refused);
	set_param("allow_users", "0");
	report(run_as(&root_user, open_succeeds, NULL) == 0,
	       "root listed in allow_users opens under strict=1");
	set_param("allow_users", "");
	set_param("strict", "0");

	set_param("allow_groups", "");
	expect_denial(&member, "a member once the policy is empty", open_refused);
	report(run_as(&root_user, open_succeeds, NULL) == 0,
	       "an empty policy still lets root in");
	set_param("allow_groups", "990");
	node_set(0660);
}

static void test_policy_params(void)
{
	static const char *const bad[] = { "abc", "12x", "-1", "4294967295" };
	char many[512] = "", buf[64];
	unsigned int i;
	int ret;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ret = write_param("allow_groups", bad[i]);
		report(ret == -EINVAL, "allow_groups=\"%s\" is refused with EINVAL (%s)",
		       bad[i], strerror(-ret));
	}
	for (i = 0; i < 33; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
			 "%s%u", i ? "," : "", 2000 + i);
	report(write_param("allow_groups", many) == -E2BIG,
	       "33 gids are refused with E2BIG");
	read_file("/sys/module/kqemu/parameters/allow_groups", buf, sizeof(buf));
	report(strcmp(buf, "990\n") == 0,
	       "a refused write leaves the policy as it was (%.*s)",
	       (int)strcspn(buf, "\n"), buf);
	report(write_param("strict", "maybe") == -EINVAL,
	       "strict=maybe is refused with EINVAL");
	ret = write_param("allow_groups", "990 1000");
	read_file("/sys/module/kqemu/parameters/allow_groups", buf, sizeof(buf));
	report(ret == 0 && strcmp(buf, "990,1000\n") == 0,
	       "a space-separated list with a newline is accepted (%.*s)",
	       (int)strcspn(buf, "\n"), buf);
	set_param("allow_groups", "990");
}

static int member_writes_param(void *unused)
{
	return write_param("allow_groups", "1001") == -EACCES ? 0 : 1;
}

static void test_policy_root_only(void)
{
	report(run_as(&member, member_writes_param, NULL) == 0,
	       "a member cannot rewrite the policy in sysfs (EACCES)");
}

static int create_vcpu(int vmfd, unsigned int id);

/* --- revocation ---------------------------------------------------------- */

/* A device fd, a VM and a vCPU of this process's: 0, or -1. */
static int open_three(int *devfd, int *vmfd, int *cpufd)
{
	*devfd = kqemu_open();
	*vmfd = *devfd >= 0 ? create_vm(*devfd) : -1;
	*cpufd = *vmfd >= 0 ? create_vcpu(*vmfd, 0) : -1;
	return *cpufd >= 0 ? 0 : -1;
}

static int revoked_member(void *unused)
{
	struct kqemu_slot_id id = { .slot = 0 };
	int devfd, vmfd, cpufd, fresh, bad = 0;

	if (open_three(&devfd, &vmfd, &cpufd))
		return 1;
	child_post();
	child_wait();	/* the policy drops kvm-users */
	if (!(ioctl(devfd, KQEMU_GET_API_VERSION) == -1 && errno == EACCES))
		bad |= 2;
	if (!(ioctl(vmfd, KQEMU_DELETE_MEMORY_SLOT, &id) == -1 && errno == EACCES))
		bad |= 4;
	if (!(create_vm(devfd) == -1 && errno == EACCES))
		bad |= 8;
	if (!(ioctl(cpufd, KQEMU_RUN) == -1 && errno == EACCES))
		bad |= 64;
	child_post();
	child_wait();	/* the policy has kvm-users again */
	if (!(ioctl(devfd, KQEMU_GET_API_VERSION) == -1 && errno == EACCES))
		bad |= 16;
	fresh = kqemu_open();
	if (fresh < 0 || ioctl(fresh, KQEMU_GET_API_VERSION) != KQEMU_API_VERSION)
		bad |= 32;
	return bad;
}

static int revoke_root(void *unused)
{
	int devfd = kqemu_open();

	if (devfd < 0)
		return 1;
	child_post();
	child_wait();	/* strict=1 */
	return ioctl(devfd, KQEMU_GET_API_VERSION) == -1 && errno == EACCES ? 0 : 2;
}

/*
 * An fd that does nothing while its user is denied and then allowed again
 * must be revoked all the same: "for good" cannot hang on an ioctl landing
 * in the window.
 */
static int idle_revoked_member(void *unused)
{
	int devfd, vmfd, cpufd, bad = 0;
	void *run;

	if (open_three(&devfd, &vmfd, &cpufd))
		return 1;
	child_post();
	child_wait();	/* denied, then allowed again, while we did nothing */
	if (!(ioctl(devfd, KQEMU_GET_API_VERSION) == -1 && errno == EACCES))
		bad |= 2;
	if (!(create_vcpu(vmfd, 1) == -1 && errno == EACCES))
		bad |= 4;
	if (!(ioctl(cpufd, KQEMU_RUN) == -1 && errno == EACCES))
		bad |= 8;
	run = mmap(NULL, KQEMU_RUN_SIZE, PROT_READ, MAP_SHARED, cpufd, 0);
	if (!(run == MAP_FAILED && errno == EACCES))
		bad |= 16;
	return bad;
}

static void test_revocation(void)
{
	long before = read_stat("revocations");
	struct bg bg;
	int ret;

	bg_start(&bg, &member, revoked_member);
	if (bg_wait(&bg)) {
		set_param("allow_groups", "");
		bg_post(&bg);
		if (bg_wait(&bg)) {
			set_param("allow_groups", "990");
			bg_post(&bg);
		}
	}
	ret = bg_finish(&bg);
	set_param("allow_groups", "990");
	report(ret == 0,
	       "dropping kvm-users revokes a member's open device, VM and vCPU fds, for good (status %#x)",
	       ret);
	report(read_stat("revocations") == before + 3,
	       "revocations counted: %ld -> %ld", before, read_stat("revocations"));

	before = read_stat("revocations");
	bg_start(&bg, &member, idle_revoked_member);
	if (bg_wait(&bg)) {
		set_param("allow_groups", "");
		set_param("allow_groups", "990");
		bg_post(&bg);
	}
	ret = bg_finish(&bg);
	report(ret == 0,
	       "fds left idle while their user was denied and allowed again stay revoked, mmap included (status %#x)",
	       ret);
	report(read_stat("revocations") == before + 3,
	       "the idle fds' revocations counted: %ld -> %ld", before,
	       read_stat("revocations"));

	bg_start(&bg, &root_user, revoke_root);
	if (bg_wait(&bg)) {
		set_param("strict", "1");
		bg_post(&bg);
	}
	ret = bg_finish(&bg);
	set_param("strict", "0");
	report(ret == 0, "strict=1 revokes root's open fd (status %d)", ret);
}

/* --- the record: audit and stats/recent ---------------------------------- */

/* AUDIT_SET: audit on or off, with PID (0: none) as the audit daemon. */
static int audit_set(int fd, bool on, pid_t pid)
{
	struct {
		struct nlmsghdr h;
		struct audit_status s;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = AUDIT_SET,
		       .nlmsg_flags = NLM_F_REQUEST },
		.s = { .mask = AUDIT_STATUS_ENABLED | AUDIT_STATUS_PID,
		       .enabled = on, .pid = pid },
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	return sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel,
		      sizeof(kernel)) < 0 ? -1 : 0;
}

/* Register as the audit daemon (root), audit on; -1 where there is none. */
static int audit_open(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);

	if (fd < 0)
		return -1;
	if (audit_set(fd, true, getpid())) {
		close(fd);
		return -1;
	}
	return fd;
}

static void audit_close(int fd)
{
	audit_set(fd, false, 0);
	close(fd);
}

/* The KERNEL_OTHER records that arrive within a second of each other. */
static void audit_collect(int fd, char *out, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[8192];
	size_t used = 0;

	out[0] = 0;
	while (poll(&p, 1, 1000) == 1) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n <= 0)
			break;
		size_t body;

		/*
		 * One record a datagram; the kernel's nlmsg_len leaves out
		 * the header (auditd copes the same way), so the datagram's
		 * length says where the text ends.
		 */
		if ((size_t)n <= NLMSG_HDRLEN || h->nlmsg_type != AUDIT_KERNEL_OTHER)
			continue;
		buf[n] = 0;
		body = strlen((char *)NLMSG_DATA(h));
		if (used + body + 2 > len)
			continue;
		memcpy(out + used, NLMSG_DATA(h), body);
		used += body;
		out[used++] = '\n';
		out[used] = 0;
	}
}

/* report(), and what it said. */
static bool report_ok(bool ok, const char *what)
{
	report(ok, "%s", what);
	return ok;
}

static bool recent_has(const char *needle)
{
	char buf[4096];

	return read_file("/sys/class/misc/kqemu/stats/recent", buf, sizeof(buf)) == 0 &&
	       strstr(buf, needle);
}

/*
 * A refusal, a policy change and a revocation, each as one audit record
 * (read from the audit socket, as auditd would) and one line of
 * stats/recent, naming who, which node or fd, and the policy generation.
 */
static void test_audit(void)
{
	static char records[16384];
	int afd = audit_open();
	struct bg bg;

	/* Past the node's mode (the old kqemu's 0666): kqemu itself refuses. */
	node_set(0666);
	run_as(&outsider, open_refused, NULL);
	node_set(0660);
	bg_start(&bg, &member, idle_revoked_member);
	if (bg_wait(&bg)) {
		set_param("allow_groups", "");
		set_param("allow_groups", "990");
		bg_post(&bg);
	}
	bg_finish(&bg);
	if (!report_ok(recent_has(" denied uid=1001 ") && recent_has(" policy uid=0 ") &&
		       recent_has(" revoked uid=1000 "),
		       "stats/recent lists the refusal, the policy change and the revocations")) {
		char buf[4096];

		read_file("/sys/class/misc/kqemu/stats/recent", buf, sizeof(buf));
		printf("# stats/recent: %.600s\n", buf);
	}
	if (afd < 0) {
		report(false, "the audit socket: %s", strerror(errno));
		return;
	}
	audit_collect(afd, records, sizeof(records));
	audit_close(afd);
	report(strstr(records, "op=kqemu-denied uid=1001 ") && strstr(records, "dev=/dev/kqemu res=denied"),
	       "audit: the refused open is recorded (uid, node, generation)");
	report(strstr(records, "op=kqemu-policy uid=0 ") && strstr(records, "param=allow_groups"),
	       "audit: the policy change is recorded (who, which parameter)");
	report(strstr(records, "op=kqemu-revoked uid=1000 ") && strstr(records, "fd=vcpu") &&
	       strstr(records, "fd=vm") && strstr(records, " gen="),
	       "audit: each revoked fd is recorded (uid, fd, generation)");
	if (!strstr(records, "op=kqemu-revoked"))
		printf("# audit records read: %.300s\n", records);
}

/* --- quotas -------------------------------------------------------------- */

static int next_fd(void)
{
	int fd = dup(0);

	close(fd);
	return fd;
}

static int vm_quota_member(void *unused)
{
	int devfd = kqemu_open(), a, b, fd_before, bad = 0;
	long vms_before = read_stat("vms");

	a = create_vm(devfd);
	b = create_vm(devfd);
	if (a < 0 || b < 0)
		return 1;
	fd_before = next_fd();
	if (!(create_vm(devfd) == -1 && errno == EDQUOT))
		bad |= 2;
	if (next_fd() != fd_before || read_stat("vms") != vms_before + 2)
		bad |= 4;	/* something was left half-created */
	close(a);
	if (create_vm(devfd) < 0)
		bad |= 8;
	return bad;
}

static int vm_quota_other_process(void *unused)
{
	int devfd = kqemu_open();

	return create_vm(devfd) == -1 && errno == EDQUOT ? 0 : 1;
}

static int hold_two_vms(void *unused)
{
	int devfd = kqemu_open();

	if (create_vm(devfd) < 0 || create_vm(devfd) < 0)
		return 1;
	child_post();
	child_wait();
	return 0;
}

static int many_vms(void *unused)
{
	int devfd = kqemu_open(), i;

	for (i = 0; i < 20; i++)
		if (create_vm(devfd) < 0)
			return 1;
	return 0;
}

static void test_vm_quota(void)
{
	struct kqemu_capability cap = { .cap = KQEMU_CAP_MAX_VMS_PER_USER };
	struct bg bg;
	int devfd, ret;

	set_param("max_vms_per_user", "2");
	devfd = kqemu_open();
	report(ioctl(devfd, KQEMU_CHECK_CAPABILITY, &cap) == 0 && cap.value == 2,
	       "the capability query reports the VM quota (%llu)",
	       (unsigned long long)cap.value);
	close(devfd);
	ret = run_as(&member, vm_quota_member, NULL);
	report(ret == 0,
	       "max_vms_per_user=2: the third VM fails with EDQUOT, leaves no fd or VM behind, and a freed one can be reused (status %#x)",
	       ret);

	bg_start(&bg, &member, hold_two_vms);
	if (bg_wait(&bg)) {
		report(run_as(&member, vm_quota_other_process, NULL) == 0,
		       "the VM quota counts a user's VMs across processes");
		report(run_as(&root_user, many_vms, NULL) != 0,
		       "root is bounded by the same quota");
		bg_post(&bg);
	}
	ret = bg_finish(&bg);
	report(ret == 0, "a member holds two VMs in the background (status %d)", ret);

	set_param("max_vms_per_user", "0");
	report(run_as(&member, many_vms, NULL) == 0,
	       "max_vms_per_user=0 lifts the limit (20 VMs)");
	set_param("max_vms_per_user", "16");
}

static void *map_pages(size_t pages, int prot)
{
	void *p = mmap(NULL, pages * PAGE, prot, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int add_slot(int vmfd, unsigned int slot, uint64_t gpa, uint64_t size,
		    const void *uaddr, unsigned int flags)
{
	struct kqemu_memory_slot s = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.size = size,
		.userspace_addr = (uintptr_t)uaddr,
	};

	return ioctl(vmfd, KQEMU_ADD_MEMORY_SLOT, &s);
}

static int del_slot(int vmfd, unsigned int slot)
{
	struct kqemu_slot_id id = { .slot = slot };

	return ioctl(vmfd, KQEMU_DELETE_MEMORY_SLOT, &id);
}

/*
 * Nothing is pinned at add, so RLIMIT_MEMLOCK plays no part: a member with
 * a limit of 0 adds 64 MiB, and nothing is mapped until a guest touches it
 * (guestmem covers the faults, the quota and the coherence).
 */
static int memlock_member(void *unused)
{
	struct rlimit rl = { 0, 0 };
	int vmfd = create_vm(kqemu_open()), bad = 0;
	void *mem = map_pages(16384, PROT_READ | PROT_WRITE);

	if (vmfd < 0 || !mem || setrlimit(RLIMIT_MEMLOCK, &rl))
		return 1;
	if (add_slot(vmfd, 0, 0, 16384 * PAGE, mem, 0))
		bad |= 2;
	if (read_stat("mapped_bytes") != 0)
		bad |= 4;
	if (del_slot(vmfd, 0))
		bad |= 8;
	return bad;
}

static void test_memlock(void)
{
	int ret = run_as(&member, memlock_member, NULL);

	report(ret == 0,
	       "RLIMIT_MEMLOCK 0: a member adds a 64 MiB slot, and nothing is mapped until the guest touches it (status %#x)",
	       ret);
	report(read_stat("mapped_bytes") == 0 && read_stat("vms") == 0,
	       "closing every VM leaves nothing (mapped_bytes %ld, vms %ld)",
	       read_stat("mapped_bytes"), read_stat("vms"));
}

/* --- validation: one negative test per rule ------------------------------ */

static void test_system_ioctls(int devfd)
{
	struct kqemu_capability cap = { .cap = KQEMU_CAP_API_VERSION };
	struct kqemu_create_vm cv = { 0 };
	int vmfd;

	report(ioctl(devfd, KQEMU_GET_API_VERSION) == KQEMU_API_VERSION,
	       "KQEMU_GET_API_VERSION is %d", KQEMU_API_VERSION);
	report(ioctl(devfd, KQEMU_CHECK_CAPABILITY, &cap) == 0 &&
	       cap.value == KQEMU_API_VERSION, "capability API_VERSION");
	cap.cap = KQEMU_CAP_MAX_MEMORY_SLOTS;
	report(ioctl(devfd, KQEMU_CHECK_CAPABILITY, &cap) == 0 &&
	       cap.value == KQEMU_MAX_MEMORY_SLOTS, "capability MAX_MEMORY_SLOTS");
	cap.cap = 0xdead;
	cap.value = 7;
	report(ioctl(devfd, KQEMU_CHECK_CAPABILITY, &cap) == 0 && cap.value == 0,
	       "an unknown capability reads as 0");
	cap.flags = 1;
	expect_errno(ioctl(devfd, KQEMU_CHECK_CAPABILITY, &cap), EINVAL,
		     "CHECK_CAPABILITY with flags");
	cap.flags = 0;
	cap.reserved[1] = 1;
	expect_errno(ioctl(devfd, KQEMU_CHECK_CAPABILITY, &cap), EINVAL,
		     "CHECK_CAPABILITY with reserved set");
	expect_errno(ioctl(devfd, KQEMU_CHECK_CAPABILITY, (void *)16), EFAULT,
		     "CHECK_CAPABILITY with a bad pointer");

	cv.flags = 1;
	expect_errno(ioctl(devfd, KQEMU_CREATE_VM, &cv), EINVAL, "CREATE_VM with flags");
	cv.flags = 0;
	cv.reserved[6] = 1;
	expect_errno(ioctl(devfd, KQEMU_CREATE_VM, &cv), EINVAL,
		     "CREATE_VM with reserved set");
	expect_errno(ioctl(devfd, KQEMU_CREATE_VM, (void *)16), EFAULT,
		     "CREATE_VM with a bad pointer");
	vmfd = create_vm(devfd);
	report(vmfd >= 0 && fcntl(vmfd, F_GETFD) == FD_CLOEXEC,
	       "CREATE_VM returns an O_CLOEXEC fd");
	close(vmfd);
}

static void test_slot_rules(int vmfd)
{
	void *mem = map_pages(8, PROT_READ | PROT_WRITE);
	void *ro = map_pages(2, PROT_READ);
	void *hole = map_pages(2, PROT_NONE);
	struct kqemu_memory_slot s = {
		.size = PAGE, .userspace_addr = (uintptr_t)mem,
	};
	struct kqemu_slot_id id = { 0 };
	char *m = mem;
	unsigned int i;

	s.flags = 1u << 7;
	expect_errno(ioctl(vmfd, KQEMU_ADD_MEMORY_SLOT, &s), EINVAL, "ADD_SLOT with an unknown flag");
	s.flags = 0;
	s.reserved[3] = 1;
	expect_errno(ioctl(vmfd, KQEMU_ADD_MEMORY_SLOT, &s), EINVAL, "ADD_SLOT with reserved set");
	s.reserved[3] = 0;
	expect_errno(ioctl(vmfd, KQEMU_ADD_MEMORY_SLOT, (void *)16), EFAULT, "ADD_SLOT with a bad pointer");
	expect_errno(add_slot(vmfd, KQEMU_MAX_MEMORY_SLOTS, 0, PAGE, m, 0), EINVAL, "ADD_SLOT slot number out of range");
	expect_errno(add_slot(vmfd, 0, 0, 0, m, 0), EINVAL, "ADD_SLOT of size 0");
	expect_errno(add_slot(vmfd, 0, 0, KQEMU_MAX_SLOT_SIZE + PAGE, m, 0), EINVAL, "ADD_SLOT above the size limit");
	expect_errno(add_slot(vmfd, 0, 100, PAGE, m, 0), EINVAL, "ADD_SLOT unaligned guest address");
	expect_errno(add_slot(vmfd, 0, 0, 100, m, 0), EINVAL, "ADD_SLOT unaligned size");
	expect_errno(add_slot(vmfd, 0, 0, PAGE, m + 100, 0), EINVAL, "ADD_SLOT unaligned user address");
	expect_errno(add_slot(vmfd, 0, KQEMU_MAX_GUEST_PHYS, PAGE, m, 0), EINVAL, "ADD_SLOT beyond the guest-physical limit");
	expect_errno(add_slot(vmfd, 0, KQEMU_MAX_GUEST_PHYS - PAGE, 2 * PAGE, m, 0), EINVAL, "ADD_SLOT crossing the guest-physical limit");
	expect_errno(add_slot(vmfd, 0, -PAGE, 2 * PAGE, m, 0), EINVAL, "ADD_SLOT whose guest range wraps");
	expect_errno(add_slot(vmfd, 0, 0, 2 * PAGE, (void *)-PAGE, 0), EINVAL, "ADD_SLOT whose user range wraps");
	expect_errno(add_slot(vmfd, 0, 0, PAGE, (void *)0xffff888000000000ULL, 0), EINVAL, "ADD_SLOT at a kernel address");
	/*
	 * What the VMM maps there counts when the guest touches it, not at
	 * add (as on KVM): guestmem checks the exits.
	 */
	expect_ok(add_slot(vmfd, 0, 0, 2 * PAGE, hole, 0), "ADD_SLOT over PROT_NONE memory (checked at the guest's access)");
	expect_ok(del_slot(vmfd, 0), "DELETE_SLOT of it");
	expect_ok(add_slot(vmfd, 0, 0, 2 * PAGE, ro, 0), "a writable ADD_SLOT over read-only memory (checked at the guest's write)");
	expect_ok(del_slot(vmfd, 0), "DELETE_SLOT of it");
	expect_ok(add_slot(vmfd, 0, 0, 2 * PAGE, ro, KQEMU_MEM_READONLY), "a read-only ADD_SLOT over read-only memory");
	expect_errno(add_slot(vmfd, 0, 1 << 20, PAGE, m, 0), EEXIST, "ADD_SLOT on a slot number in use");
	expect_errno(add_slot(vmfd, 1, PAGE, PAGE, m, 0), EEXIST, "ADD_SLOT overlapping another slot");
	expect_ok(add_slot(vmfd, 1, 2 * PAGE, PAGE, m, 0), "ADD_SLOT right after another slot");
	report(read_stat("mapped_bytes") == 0, "adding slots maps nothing (mapped_bytes %ld)",
	       read_stat("mapped_bytes"));

	id.flags = 1;
	expect_errno(ioctl(vmfd, KQEMU_DELETE_MEMORY_SLOT, &id), EINVAL, "DELETE_SLOT with flags");
	id.flags = 0;
	id.reserved[0] = 1;
	expect_errno(ioctl(vmfd, KQEMU_DELETE_MEMORY_SLOT, &id), EINVAL, "DELETE_SLOT with reserved set");
	expect_errno(ioctl(vmfd, KQEMU_DELETE_MEMORY_SLOT, (void *)16), EFAULT, "DELETE_SLOT with a bad pointer");
	expect_errno(del_slot(vmfd, KQEMU_MAX_MEMORY_SLOTS), EINVAL, "DELETE_SLOT out of range");
	expect_errno(del_slot(vmfd, 5), ENOENT, "DELETE_SLOT of an empty slot");
	expect_ok(del_slot(vmfd, 0), "DELETE_SLOT");
	expect_ok(del_slot(vmfd, 1), "DELETE_SLOT of the second slot");

	for (i = 0; i < KQEMU_MAX_MEMORY_SLOTS; i++)
		if (add_slot(vmfd, i, (uint64_t)i << 20, PAGE, m, 0))
			break;
	report(i == KQEMU_MAX_MEMORY_SLOTS, "all %d slots can be used (%u)",
	       KQEMU_MAX_MEMORY_SLOTS, i);
	for (i = 0; i < KQEMU_MAX_MEMORY_SLOTS; i++)
		del_slot(vmfd, i);
	report(read_stat("mapped_bytes") == 0, "nothing stays mapped after deleting every slot");
	munmap(mem, 8 * PAGE);
	munmap(ro, 2 * PAGE);
	munmap(hole, 2 * PAGE);
}

/* A VM belongs to its creator's mm; the device fd does not. */
static void test_other_process(int devfd, int vmfd)
{
	int cpufd = create_vcpu(vmfd, 7);
	pid_t pid;

	if (cpufd < 0) {
		report(false, "a vCPU for the other-process checks: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct kqemu_slot_id id = { 0 };

		expect_errno(ioctl(vmfd, KQEMU_DELETE_MEMORY_SLOT, &id), EIO,
			     "a VM fd used by another process (forked child)");
		expect_errno(mmap(NULL, KQEMU_RUN_SIZE, PROT_READ, MAP_SHARED,
				  cpufd, 0) == MAP_FAILED ? -1 : 0, EIO,
			     "a vCPU's run area mapped by another process (forked child)");
		expect_ok(create_vm(devfd),
			  "an inherited /dev/kqemu fd creates a VM of the child's own");
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	close(cpufd);
}

static void test_unknown_ioctls(int devfd, int vmfd)
{
	static const unsigned int dirs[] = { _IOC_NONE, _IOC_READ, _IOC_WRITE,
					     _IOC_READ | _IOC_WRITE };
	static const unsigned int sizes[] = { 0, 4, 8, 64, 256 };
	unsigned char buf[256] = { 0 };
	unsigned int nr, d, sz, wrong = 0, calls = 0;

	/* The old kqemu ABI: type 'q', 1-5, whatever the direction and size. */
	for (nr = 1; nr <= 5; nr++)
		for (d = 0; d < 4; d++)
			for (sz = 0; sz < 5; sz++) {
				unsigned long cmd = _IOC(dirs[d], 'q', nr, sizes[sz]);

				calls++;
				if (!(ioctl(devfd, cmd, buf) == -1 && errno == ENOTTY))
					wrong++;
			}
	report(wrong == 0, "the old kqemu ioctls ('q' 1-5) get ENOTTY (%u calls, %u wrong)",
	       calls, wrong);
	expect_errno(ioctl(devfd, _IO(KQEMUIO, 0x7f)), ENOTTY, "an unknown /dev/kqemu ioctl");
	expect_errno(ioctl(devfd, KQEMU_ADD_MEMORY_SLOT, buf), ENOTTY, "a VM ioctl on /dev/kqemu");
	expect_errno(ioctl(vmfd, _IO(KQEMUIO, 0x7f)), ENOTTY, "an unknown VM ioctl");
	expect_errno(ioctl(vmfd, KQEMU_CREATE_VM, buf), ENOTTY, "a system ioctl on a VM fd");
}

/* --- vCPUs: one negative test per rule --------------------------------- */

static int create_vcpu(int vmfd, unsigned int id)
{
	struct kqemu_create_vcpu args = { .id = id };

	return ioctl(vmfd, KQEMU_CREATE_VCPU, &args);
}

/* Whether this is an Intel CPU: Bochs's Sandy Bridge, for the VMX backend. */
static int intel_cpu(void)
{
	unsigned int a, b, c, d;

	return __get_cpuid(0, &a, &b, &c, &d) &&
	       b == 0x756e6547 && d == 0x49656e69 && c == 0x6c65746e;	/* GenuineIntel */
}

/* KQEMU_CAP_XFEATURES, once test_backend_caps() has asked. */
static unsigned long long xfeatures;

static unsigned long long host_xcr0(void)
{
	unsigned int a, b, c, d, lo, hi;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1 << 27)))	/* OSXSAVE */
		return 0;
	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (unsigned long long)hi << 32 | lo;
}

static void test_backend_caps(int devfd)
{
	static const struct cap_want { __u32 cap; __u64 want; const char *name; } svm_caps[] = {
		{ KQEMU_CAP_BACKEND, KQEMU_BACKEND_SVM, "BACKEND is SVM under -cpu EPYC" },
		{ KQEMU_CAP_BACKEND_ERROR, 0, "BACKEND_ERROR is 0" },
		{ KQEMU_CAP_MAX_VCPUS, KQEMU_MAX_VCPUS, "MAX_VCPUS" },
		{ KQEMU_CAP_NRIP_SAVE, 0, "NRIP_SAVE is 0 (QEMU does not emulate it)" },
		{ KQEMU_CAP_DECODE_ASSISTS, 0, "DECODE_ASSISTS is 0 (QEMU does not emulate them)" },
		{ KQEMU_CAP_STRING_IO, 1, "STRING_IO is 1" },
	}, vmx_caps[] = {
		{ KQEMU_CAP_BACKEND, KQEMU_BACKEND_VMX, "BACKEND is VMX on an Intel CPU" },
		{ KQEMU_CAP_BACKEND_ERROR, 0, "BACKEND_ERROR is 0" },
		{ KQEMU_CAP_MAX_VCPUS, KQEMU_MAX_VCPUS, "MAX_VCPUS" },
		{ KQEMU_CAP_NRIP_SAVE, 1, "NRIP_SAVE is 1 (VMX gives every exit's length)" },
		{ KQEMU_CAP_DECODE_ASSISTS, 0, "DECODE_ASSISTS is 0 on VMX" },
		{ KQEMU_CAP_STRING_IO, 1, "STRING_IO is 1" },
	};
	const struct cap_want *caps = intel_cpu() ? vmx_caps : svm_caps;
	struct kqemu_capability cap = { .cap = KQEMU_CAP_EXITS };
	unsigned int i;

	for (i = 0; i < sizeof(svm_caps) / sizeof(svm_caps[0]); i++) {
		struct kqemu_capability c = { .cap = caps[i].cap };

		report(ioctl(devfd, KQEMU_CHECK_CAPABILITY, &c) == 0 && c.value == caps[i].want,
		       "capability %s (%llu)", caps[i].name, (unsigned long long)c.value);
	}
	report(ioctl(devfd, KQEMU_CHECK_CAPABILITY, &cap) == 0 &&
	       (cap.value & (1 << KQEMU_EXIT_IO)) && (cap.value & (1 << KQEMU_EXIT_MMIO)) &&
	       (cap.value & (1 << KQEMU_EXIT_IRQ_WINDOW)),
	       "capability EXITS lists IO, MMIO and IRQ_WINDOW (%#llx)",
	       (unsigned long long)cap.value);
	cap.cap = KQEMU_CAP_MMIO_RMW;
	cap.value = ioctl(devfd, KQEMU_CHECK_CAPABILITY, &cap) == 0 ? cap.value : ~0ULL;
	report(cap.value == 1, "capability MMIO_RMW is 1: ALU, XCHG and string ops on MMIO (%llu)",
	       (unsigned long long)cap.value);
	/* x87 and SSE at least, within the host's own XCR0, and never PKRU or AMX. */
	cap.cap = KQEMU_CAP_XFEATURES;
	xfeatures = ioctl(devfd, KQEMU_CHECK_CAPABILITY, &cap) == 0 ? cap.value : 0;
	report(ioctl(devfd, KQEMU_CHECK_CAPABILITY, &cap) == 0 &&
	       (!cap.value || ((cap.value & 3) == 3 && (cap.value & ~host_xcr0()) == 0 &&
			       !(cap.value & (1 << 9 | 1 << 17 | 1 << 18)))),
	       "capability XFEATURES is within the host's XCR0, without PKRU or AMX (%#llx)",
	       (unsigned long long)cap.value);
}

static void test_sregs_rules(int cpufd)
{
	struct kqemu_sregs s, good;

	expect_ok(ioctl(cpufd, KQEMU_GET_SREGS, &good), "GET_SREGS");
	report(!(good.efer & (1 << 12)), "GET_SREGS hides EFER.SVME (efer %#llx)",
	       (unsigned long long)good.efer);
	expect_errno(ioctl(cpufd, KQEMU_GET_SREGS, (void *)16), EFAULT, "GET_SREGS with a bad pointer");
	expect_errno(ioctl(cpufd, KQEMU_SET_SREGS, (void *)16), EFAULT, "SET_SREGS with a bad pointer");
	report(good.flags == KQEMU_SREGS_CR8, "GET_SREGS gives CR8 (flags KQEMU_SREGS_CR8)");
	s = good;
	s.flags = 2;
	expect_errno(ioctl(cpufd, KQEMU_SET_SREGS, &s), EINVAL, "SET_SREGS with an unknown flag");
	s = good;
	s.cr8 = 16;
	expect_errno(ioctl(cpufd, KQEMU_SET_SREGS, &s), EINVAL, "SET_SREGS with CR8 16");
	s = good;
	s.flags = 0;
	s.cr8 = 5;
	expect_errno(ioctl(cpufd, KQEMU_SET_SREGS, &s), EINVAL, "SET_SREGS with CR8 but not KQEMU_SREGS_CR8");
	s = good;
	s.cr8 = 9;
	expect_ok(ioctl(cpufd, KQEMU_SET_SREGS, &s), "SET_SREGS of CR8 9");
	s.flags = 0;
	s.cr8 = 0;
	expect_ok(ioctl(cpufd, KQEMU_SET_SREGS, &s), "SET_SREGS without KQEMU_SREGS_CR8");
	ioctl(cpufd, KQEMU_GET_SREGS, &s);
	report(s.cr8 == 9, "... leaves CR8 as it was (%llu)", (unsigned long long)s.cr8);
	ioctl(cpufd, KQEMU_SET_SREGS, &good);
	s = good;
	s.reserved[2] = 1;
	expect_errno(ioctl(cpufd, KQEMU_SET_SREGS, &s), EINVAL, "SET_SREGS with reserved set");
	s = good;
	s.gdt.reserved[1] = 1;
	expect_errno(ioctl(cpufd, KQEMU_SET_SREGS, &s), EINVAL, "SET_SREGS with the GDT's reserved set");
	s = good;
	s.efer |= 1 << 12;
	expect_errno(ioctl(cpufd, KQEMU_SET_SREGS, &s), EINVAL, "SET_SREGS with EFER.SVME");
	s = good;
	s.cr0 = 0x80000010;
	expect_errno(ioctl(cpufd, KQEMU_SET_SREGS, &s), EINVAL, "SET_SREGS with CR0.PG but not PE");
	s = good;
	s.cr0 = 0x80000011;
	s.efer = 0x100;
	s.cr4 = 0;
	expect_errno(ioctl(cpufd, KQEMU_SET_SREGS, &s), EINVAL, "SET_SREGS with EFER.LME, CR0.PG and no CR4.PAE");
	s = good;
	s.efer = 0x100;
	expect_errno(ioctl(cpufd, KQEMU_SET_SREGS, &s), EINVAL, "SET_SREGS with EFER.LME and no CR4.PAE, paging off");
	s = good;
	s.cr0 |= 1ULL << 29;
	expect_errno(ioctl(cpufd, KQEMU_SET_SREGS, &s), EINVAL, "SET_SREGS with CR0.NW but not CD");
	s = good;
	s.cr3 = 1ULL << 60;
	expect_errno(ioctl(cpufd, KQEMU_SET_SREGS, &s), EINVAL, "SET_SREGS with CR3 bits above 51");
	s = good;
	s.cr4 |= 1ULL << 17;
	expect_errno(ioctl(cpufd, KQEMU_SET_SREGS, &s), EINVAL, "SET_SREGS with CR4.PCIDE outside long mode");
	s = good;
	s.cr4 |= 1ULL << 12;
	expect_errno(ioctl(cpufd, KQEMU_SET_SREGS, &s), EINVAL, "SET_SREGS with CR4.LA57");
	s = good;
	s.cr4 |= 1ULL << 18;
	if (xfeatures)
		expect_ok(ioctl(cpufd, KQEMU_SET_SREGS, &s),
			  "SET_SREGS with CR4.OSXSAVE, where kqemu switches XSAVE state");
	else
		expect_errno(ioctl(cpufd, KQEMU_SET_SREGS, &s), EINVAL,
			     "SET_SREGS with CR4.OSXSAVE, where kqemu has no XSAVE");
	s = good;
	s.cr4 |= 1ULL << 22;
	expect_errno(ioctl(cpufd, KQEMU_SET_SREGS, &s), EINVAL, "SET_SREGS with CR4.PKE");
	s = good;
	s.cr0 |= 1ULL << 40;
	expect_errno(ioctl(cpufd, KQEMU_SET_SREGS, &s), EINVAL, "SET_SREGS with CR0 bits above 31");
	s = good;
	s.cr4 |= 1ULL << 30;
	expect_errno(ioctl(cpufd, KQEMU_SET_SREGS, &s), EINVAL, "SET_SREGS with a reserved CR4 bit");
	s = good;
	s.cr0 = 0x80000011;
	s.cr4 = 0x20;
	s.efer = 0x100;
	expect_ok(ioctl(cpufd, KQEMU_SET_SREGS, &s), "SET_SREGS into long mode");
	report(ioctl(cpufd, KQEMU_GET_SREGS, &s) == 0 && s.efer == 0x500,
	       "EFER.LMA follows LME and CR0.PG (efer %#llx)", (unsigned long long)s.efer);
	expect_ok(ioctl(cpufd, KQEMU_SET_SREGS, &good), "SET_SREGS back to real mode");
}

static void test_regs_rules(int cpufd)
{
	struct kqemu_regs r = { .rax = 0x1234, .r15 = 0xfeed, .rip = 0x7c00, .rflags = 0x202 }, back;

	expect_ok(ioctl(cpufd, KQEMU_SET_REGS, &r), "SET_REGS");
	report(ioctl(cpufd, KQEMU_GET_REGS, &back) == 0 && back.rax == 0x1234 &&
	       back.r15 == 0xfeed && back.rip == 0x7c00 && back.rflags == 0x202,
	       "GET_REGS gives back what SET_REGS set");
	r.rflags = 0x20202;
	report(ioctl(cpufd, KQEMU_SET_REGS, &r) == 0 && ioctl(cpufd, KQEMU_GET_REGS, &back) == 0 &&
	       back.rflags == 0x202, "SET_REGS drops RFLAGS.VM: no virtual-8086 mode (rflags %#llx)",
	       (unsigned long long)back.rflags);
	r.flags = 1;
	expect_errno(ioctl(cpufd, KQEMU_SET_REGS, &r), EINVAL, "SET_REGS with flags");
	r.flags = 0;
	r.reserved[0] = 1;
	expect_errno(ioctl(cpufd, KQEMU_SET_REGS, &r), EINVAL, "SET_REGS with reserved set");
	expect_errno(ioctl(cpufd, KQEMU_SET_REGS, (void *)16), EFAULT, "SET_REGS with a bad pointer");
	expect_errno(ioctl(cpufd, KQEMU_GET_REGS, (void *)16), EFAULT, "GET_REGS with a bad pointer");
}

static void test_interrupt_rules(int cpufd)
{
	struct kqemu_interrupt irq = { .vector = 256 };

	expect_errno(ioctl(cpufd, KQEMU_INTERRUPT, &irq), EINVAL, "INTERRUPT with vector 256");
	irq.vector = 0x20;
	irq.flags = 1;
	expect_errno(ioctl(cpufd, KQEMU_INTERRUPT, &irq), EINVAL, "INTERRUPT with flags");
	irq.flags = 0;
	irq.reserved = 1;
	expect_errno(ioctl(cpufd, KQEMU_INTERRUPT, &irq), EINVAL, "INTERRUPT with reserved set");
	irq.reserved = 0;
	expect_errno(ioctl(cpufd, KQEMU_INTERRUPT, (void *)16), EFAULT, "INTERRUPT with a bad pointer");
	expect_ok(ioctl(cpufd, KQEMU_INTERRUPT, &irq), "INTERRUPT queues vector 0x20");
	expect_errno(ioctl(cpufd, KQEMU_INTERRUPT, &irq), EBUSY, "a second INTERRUPT while one is queued");
}

static void test_vcpu_rules(int devfd, int vmfd)
{
	struct kqemu_create_vcpu args = { 0 };
	struct kqemu_run *run;
	int cpufd;
	void *p;

	test_backend_caps(devfd);
	args.flags = 1;
	expect_errno(ioctl(vmfd, KQEMU_CREATE_VCPU, &args), EINVAL, "CREATE_VCPU with flags");
	args.flags = 0;
	args.reserved[2] = 1;
	expect_errno(ioctl(vmfd, KQEMU_CREATE_VCPU, &args), EINVAL, "CREATE_VCPU with reserved set");
	expect_errno(create_vcpu(vmfd, KQEMU_MAX_VCPUS), EINVAL, "CREATE_VCPU with id 16");
	expect_errno(ioctl(vmfd, KQEMU_CREATE_VCPU, (void *)16), EFAULT, "CREATE_VCPU with a bad pointer");
	cpufd = create_vcpu(vmfd, 3);
	report(cpufd >= 0 && fcntl(cpufd, F_GETFD) == FD_CLOEXEC, "CREATE_VCPU returns an O_CLOEXEC fd");
	report(read_stat("vcpus") == 1, "the vcpus counter says 1 (%ld)", read_stat("vcpus"));
	expect_errno(create_vcpu(vmfd, 3), EEXIST, "CREATE_VCPU with an id in use");

	p = mmap(NULL, 2 * KQEMU_RUN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, cpufd, 0);
	report(p == MAP_FAILED && errno == EINVAL, "mmap of the run area with the wrong size: EINVAL");
	p = mmap(NULL, KQEMU_RUN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, cpufd, KQEMU_RUN_SIZE);
	report(p == MAP_FAILED && errno == EINVAL, "mmap of the run area at an offset: EINVAL");
	run = mmap(NULL, KQEMU_RUN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, cpufd, 0);
	report(run != MAP_FAILED, "mmap of the run area");

	test_regs_rules(cpufd);
	test_sregs_rules(cpufd);
	test_interrupt_rules(cpufd);
	expect_errno(ioctl(cpufd, _IO(KQEMUIO, 0x7f)), ENOTTY, "an unknown vCPU ioctl");
	expect_errno(ioctl(cpufd, KQEMU_CREATE_VM, &args), ENOTTY, "a system ioctl on a vCPU fd");

	if (run != MAP_FAILED) {
		struct kqemu_regs r = { .rip = 0x1000, .rflags = 2 };

		run->immediate_exit = 1;
		expect_errno(ioctl(cpufd, KQEMU_RUN), EINTR, "RUN with immediate_exit set");
		report(run->exit_reason == KQEMU_EXIT_INTR, "... and exit reason INTR (%u)", run->exit_reason);
		run->immediate_exit = 0;
		/* No slot backs the guest's code: a fetch error, at RIP's address. */
		ioctl(cpufd, KQEMU_SET_REGS, &r);
		expect_ok(ioctl(cpufd, KQEMU_RUN), "RUN of a guest with no memory returns");
		report(run->exit_reason == KQEMU_EXIT_INTERNAL_ERROR &&
		       run->internal.suberror == KQEMU_INTERNAL_ERROR_FETCH &&
		       run->internal.flags == 0 && run->internal.data[0] == 0x1000,
		       "... with an INTERNAL_ERROR exit, fetch at 0x1000 (%u/%u, %#llx)",
		       run->exit_reason, run->internal.suberror,
		       (unsigned long long)run->internal.data[0]);
		fflush(stdout);
		if (fork() == 0) {
			expect_errno(ioctl(cpufd, KQEMU_RUN), EIO, "a vCPU fd used by another process");
			_exit(0);
		}
		wait(NULL);
		munmap(run, KQEMU_RUN_SIZE);
	}
	close(cpufd);
	report(read_stat("vcpus") == 0, "closing the vCPU fd frees it (vcpus %ld)", read_stat("vcpus"));
}

static int vcpu_quota_member(void *unused)
{
	int vmfd = create_vm(kqemu_open()), bad = 0;

	if (vmfd < 0 || create_vcpu(vmfd, 0) < 0 || create_vcpu(vmfd, 1) < 0)
		return 1;
	if (!(create_vcpu(vmfd, 2) == -1 && errno == EDQUOT))
		bad |= 2;
	if (read_stat("vcpus") != 2)
		bad |= 4;
	return bad;
}

static void test_vcpu_quota(void)
{
	int ret;

	set_param("max_vcpus_per_user", "2");
	ret = run_as(&member, vcpu_quota_member, NULL);
	report(ret == 0, "max_vcpus_per_user=2: the third vCPU fails with EDQUOT and leaves nothing (status %#x)",
	       ret);
	set_param("max_vcpus_per_user", "64");
	report(read_stat("vcpus") == 0, "every vCPU is freed with its process (vcpus %ld)",
	       read_stat("vcpus"));
}

static int validation_member(void *unused)
{
	int devfd = kqemu_open(), vmfd;

	if (devfd < 0)
		return 1;
	test_system_ioctls(devfd);
	vmfd = create_vm(devfd);
	if (vmfd < 0)
		return 1;
	test_slot_rules(vmfd);
	test_vcpu_rules(devfd, vmfd);
	test_other_process(devfd, vmfd);
	test_unknown_ioctls(devfd, vmfd);
	return 0;
}

/* --- the nested page tables' memory ------------------------------------- */

/*
 * Adding and deleting slots in a loop must not grow kernel memory: the
 * tables a slot needed are freed with it.  Each slot lands in a different
 * 512 GiB region, so that it needs tables of its own at every level.
 */
static int table_pages_member(void *unused)
{
	int devfd = kqemu_open(), vmfd, i, bad = 0;
	long base, with_slot = 0, after;
	void *mem = map_pages(16, PROT_READ | PROT_WRITE);

	vmfd = devfd >= 0 ? create_vm(devfd) : -1;
	if (vmfd < 0 || !mem)
		return 1;
	base = read_stat("page_tables");
	for (i = 0; i < 200; i++) {
		uint64_t gpa = ((uint64_t)(i % 500) << 39) + ((uint64_t)i << 21);

		if (add_slot(vmfd, 3, gpa, 16 * PAGE, mem, 0)) {
			printf("# slot at %#llx: %s\n", (unsigned long long)gpa, strerror(errno));
			bad |= 2;
			break;
		}
		if (i == 0)
			with_slot = read_stat("page_tables");
		if (del_slot(vmfd, 3)) {
			bad |= 4;
			break;
		}
	}
	after = read_stat("page_tables");
	printf("# page-table pages: %ld with the VM, %ld with one small slot, %ld after 200 slots came and went\n",
	       base, with_slot, after);
	/*
	 * Nothing is mapped until a guest touches it (guestmem checks that
	 * the tables a touch adds go with DELETE_SLOT).
	 */
	if (with_slot != base)
		bad |= 8;
	if (after != base)
		bad |= 16;
	close(vmfd);
	close(devfd);
	return bad;
}

static void test_table_pages(void)
{
	int ret = run_as(&member, table_pages_member, NULL);

	report(ret == 0,
	       "200 slots added and deleted add no page-table page and leave none behind (status %#x)", ret);
	report(read_stat("page_tables") == 0,
	       "no page-table page is left once the VMs are gone (%ld)",
	       read_stat("page_tables"));
}

/* --- module lifetime ----------------------------------------------------- */

static int delete_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK);
}

static int load_module(const char *path, const char *params)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -1;
	ret = syscall(SYS_finit_module, fd, params, 0);
	close(fd);
	return ret;
}

static bool klog_has(const char *needle)
{
	static char buf[1 << 20];
	int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof(buf) - 1);

	if (n < 0)
		return false;
	buf[n] = 0;
	return strstr(buf, needle) != NULL;
}

static void test_unload(void)
{
	int devfd = kqemu_open(), vmfd = create_vm(devfd);
	char buf[32];

	expect_errno(delete_module("kqemu"), EWOULDBLOCK, "rmmod while /dev/kqemu and a VM are open");
	close(devfd);
	expect_errno(delete_module("kqemu"), EWOULDBLOCK, "rmmod while only a VM fd is open");
	close(vmfd);
	expect_ok(delete_module("kqemu"), "rmmod once everything is closed");
	report(access("/dev/kqemu", F_OK) != 0, "/dev/kqemu goes away with the module");

	expect_errno(load_module(kqemu_ko, "allow_groups=abc"), EINVAL,
		     "insmod with a malformed allow_groups");
	expect_ok(load_module(squat_ko, ""), "insmod kqemu_squat (takes minor 250)");
	expect_ok(load_module(kqemu_ko, "allow_groups=990"), "insmod kqemu with minor 250 taken");
	read_file("/sys/class/misc/kqemu/dev", buf, sizeof(buf));
	report(strncmp(buf, "10:", 3) == 0 && strcmp(buf, "10:250\n") != 0,
	       "kqemu falls back to a dynamic minor (%.*s)", (int)strcspn(buf, "\n"), buf);
	report(klog_has("misc minor 250 is taken by another driver; using dynamic minor"),
	       "the fallback is explained in the kernel log");
	report(run_as(&root_user, open_succeeds, NULL) == 0, "/dev/kqemu works on the dynamic minor");
	expect_ok(delete_module("kqemu"), "rmmod kqemu");
	expect_ok(delete_module("kqemu_squat"), "rmmod kqemu_squat");
	expect_ok(load_module(kqemu_ko, "allow_groups=990"), "insmod kqemu again");
	read_file("/sys/class/misc/kqemu/dev", buf, sizeof(buf));
	report(strcmp(buf, "10:250\n") == 0, "kqemu is back on minor 250");
	node_set(0660);
}

/* --- the random fuzzer --------------------------------------------------- */

int fuzz(long calls, unsigned int seed, const char *who);

static int fuzz_calls;

static int fuzz_as(void *who)
{
	return fuzz(fuzz_calls, strcmp(who, "root") ? 1234 : 5678, who);
}

static void test_fuzz(void)
{
	int ret = run_as(&member, fuzz_as, "member");

	report(ret == 0, "random ioctls as a member (status %d)", ret);
	ret = run_as(&root_user, fuzz_as, "root");
	report(ret == 0, "random ioctls as root (status %d)", ret);
	report(read_stat("vms") == 0 && read_stat("mapped_bytes") == 0 &&
	       read_stat("page_tables") == 0,
	       "after the fuzzer nothing is left (vms %ld, mapped_bytes %ld, page_tables %ld)",
	       read_stat("vms"), read_stat("mapped_bytes"), read_stat("page_tables"));
}

static int exec_compat32(void *unused)
{
	execl("/bin/compat32", "compat32", (char *)NULL);
	printf("# exec /bin/compat32: %s\n", strerror(errno));
	return 127;
}

int main(int argc, char **argv)
{
	int ret;

	if (argc != 4) {
		fprintf(stderr, "usage: vmtest KQEMU_KO SQUAT_KO FUZZ_CALLS\n");
		return 2;
	}
	kqemu_ko = argv[1];
	squat_ko = argv[2];
	fuzz_calls = atoi(argv[3]);
	setvbuf(stdout, NULL, _IOLBF, 0);

	test_node();
	test_access_matrix();
	test_policy_params();
	test_policy_root_only();
	test_revocation();
	test_audit();
	test_vm_quota();
	test_memlock();
	test_vcpu_quota();
	test_table_pages();
	ret = run_as(&member, validation_member, NULL);
	report(ret == 0, "validation suite ran to its end as a member (status %d)", ret);
	ret = run_as(&member, exec_compat32, NULL);
	report(ret == 0, "a 32-bit member process ran its checks (status %d)", ret);
	test_unload();
	test_fuzz();
	return 0;
}
