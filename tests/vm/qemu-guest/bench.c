// SPDX-License-Identifier: GPL-2.0
/*
 * make bench's QEMU leg, inside the Linux guest that QEMU boots (on kqemu,
 * on KVM, on TCG): one line per measure, "kqemu-guest: bench NAME ...",
 * timed by the guest's own CLOCK_MONOTONIC.
 *   cpu   a compute loop with no exit: what the accelerator costs the
 *         guest's own instructions;
 *   pio   reads of port 0x80 (QEMU's dummy POST port) through /dev/port:
 *         each one an exit to QEMU's device model and back;
 *   mmio  reads of pci-testdev's MMIO BAR (-device pci-testdev), through
 *         its sysfs resource file: each one an exit to QEMU and back.
 * Usage: qemu-bench cpu|pio|mmio
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define CPU_ROUNDS 200000000UL
#define EXITS 20000

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static void say(const char *name, double ns, unsigned long ops, const char *unit)
{
	printf("kqemu-guest: bench %s %.1f ns per %s, %.0f ms for %lu\n",
	       name, ns / ops, unit, ns / 1e6, ops);
}

static int cpu(void)
{
	uint64_t x = 1;
	unsigned long i;
	double t0 = now_ns();

	for (i = 0; i < CPU_ROUNDS; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		x ^= x >> 29;
	}
	say("cpu", now_ns() - t0, CPU_ROUNDS, "round");
	/* The result, so that the compiler keeps the loop. */
	printf("kqemu-guest: bench cpu result %#llx\n", (unsigned long long)x);
	return 0;
}

/*
 * Through /dev/port, one pread() a read: the same system call on every
 * accelerator around the exit.  Not iopl() and INB: on kvm_amd under QEMU
 * TCG the INB after iopl(3) died of SIGSEGV, where on kqemu it ran.
 */
static int pio(void)
{
	unsigned int sum = 0;
	unsigned char b;
	double t0;
	int i, fd = open("/dev/port", O_RDONLY);

	if (fd < 0) {
		perror("kqemu-guest: bench pio: /dev/port");
		return 1;
	}
	t0 = now_ns();
	for (i = 0; i < EXITS; i++) {
		if (pread(fd, &b, 1, 0x80) != 1) {
			perror("kqemu-guest: bench pio: read of port 0x80");
			return 1;
		}
		sum += b;
	}
	say("pio", now_ns() - t0, EXITS, "read");
	close(fd);
	return sum == 0;	/* the dummy port reads 0xff */
}

/* Whether PCI device DEV's sysfs attribute ATTR (vendor, device) is WANT. */
static int pci_id_is(const char *dev, const char *attr, const char *want)
{
	char path[300], id[32];
	FILE *f;
	int is;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", dev, attr);
	f = fopen(path, "r");
	if (!f)
		return 0;
	is = fgets(id, sizeof(id), f) && !strncmp(id, want, strlen(want));
	fclose(f);
	return is;
}

/* pci-testdev's BAR 0: the first device of vendor 1b36, device 0005. */
static int mmio(void)
{
	char path[300];
	volatile uint32_t *bar = NULL;
	struct dirent *d;
	uint32_t sum = 0;
	DIR *dir = opendir("/sys/bus/pci/devices");
	double t0;
	int i, fd;

	while (dir && (d = readdir(dir)) && !bar) {
		if (!pci_id_is(d->d_name, "vendor", "0x1b36") ||
		    !pci_id_is(d->d_name, "device", "0x0005"))
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", d->d_name);
		fd = open(path, O_RDWR | O_SYNC);
		if (fd < 0)
			continue;
		bar = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (bar == MAP_FAILED)
			bar = NULL;
	}
	if (dir)
		closedir(dir);
	if (!bar) {
		printf("kqemu-guest: bench mmio: no pci-testdev BAR to map\n");
		return 1;
	}
	t0 = now_ns();
	for (i = 0; i < EXITS; i++)
		sum += bar[0];
	say("mmio", now_ns() - t0, EXITS, "read");
	printf("kqemu-guest: bench mmio result %#x\n", sum);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "cpu"))
		return cpu();
	if (argc == 2 && !strcmp(argv[1], "pio"))
		return pio();
	if (argc == 2 && !strcmp(argv[1], "mmio"))
		return mmio();
	fprintf(stderr, "usage: qemu-bench cpu|pio|mmio\n");
	return 2;
}
