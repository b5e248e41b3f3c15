# kqemu: the top-level targets.  `make check` runs every test.
CC ?= gcc
BUILD := build
GUEST_CFLAGS := -static -O2 -Wall -Wextra -Werror -Wno-unused-parameter -Iinclude/uapi
GUEST_SRC := tests/vm/guest/common.c tests/vm/guest/fuzz.c
GUEST_HDR := tests/vm/guest/vmtest.h include/uapi/linux/kqemu.h

# One version for everything (kqemuctl --version, the packages, DKMS, the
# man pages): debian/changelog's, which Debian needs there anyway.
# kmod/main.c's MODULE_VERSION must match (make check-helper checks).
VERSION := $(shell sed -n '1s/.*(\(.*\)).*/\1/p' debian/changelog)
DATE := $(shell date -u -d "$$(sed -n 's/^ -- .*>  //p' debian/changelog | head -n 1)" +%Y-%m-%d)
HELPER_CFLAGS := -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Iinclude/uapi -DKQEMU_VERSION='"$(VERSION)"'
HELPER_SRC := $(wildcard helper/*.c)

all: module guest helper tools

# The module for the running kernel (or KDIR=...).
module:
	$(MAKE) -C kmod

guest: $(BUILD)/guest/vmtest $(BUILD)/guest/compat32 $(BUILD)/guest/runas $(BUILD)/guest/sfuzz \
	$(BUILD)/guest/ymm-marker $(BUILD)/guest/cpustate $(BUILD)/guest/guestmem \
	$(BUILD)/guest/qemu-bench

# Not for the test VM itself: the Linux guest that QEMU boots there packs it
# (tests/vm/guest/pack-qemu.sh).
$(BUILD)/guest/qemu-bench: tests/vm/qemu-guest/bench.c
	@mkdir -p $(@D)
	$(CC) $(GUEST_CFLAGS) -o $@ tests/vm/qemu-guest/bench.c

$(BUILD)/guest/guestmem: tests/vm/guest/guestmem.c tests/vm/guest/common.c $(GUEST_HDR)
	@mkdir -p $(@D)
	$(CC) $(GUEST_CFLAGS) -o $@ tests/vm/guest/guestmem.c tests/vm/guest/common.c

$(BUILD)/guest/cpustate: tests/vm/guest/cpustate.c tests/vm/guest/common.c $(GUEST_HDR)
	@mkdir -p $(@D)
	$(CC) $(GUEST_CFLAGS) -o $@ tests/vm/guest/cpustate.c tests/vm/guest/common.c

$(BUILD)/guest/sfuzz: tests/vm/guest/sfuzz.c tests/vm/guest/common.c $(GUEST_HDR)
	@mkdir -p $(@D)
	$(CC) $(GUEST_CFLAGS) -pthread -o $@ tests/vm/guest/sfuzz.c tests/vm/guest/common.c

$(BUILD)/guest/vmtest: tests/vm/guest/vmtest.c $(GUEST_SRC) $(GUEST_HDR)
	@mkdir -p $(@D)
	$(CC) $(GUEST_CFLAGS) -o $@ tests/vm/guest/vmtest.c $(GUEST_SRC)

$(BUILD)/guest/ymm-marker: tests/vm/guest/ymm-marker.c tests/guests/ymm.h
	@mkdir -p $(@D)
	$(CC) $(GUEST_CFLAGS) -o $@ $<

$(BUILD)/guest/runas: tests/vm/guest/runas.c
	@mkdir -p $(@D)
	$(CC) $(GUEST_CFLAGS) -o $@ $<

$(BUILD)/guest/compat32: tests/vm/guest/compat32.c tests/vm/guest/common.c $(GUEST_HDR)
	@mkdir -p $(@D)
	$(CC) -m32 $(GUEST_CFLAGS) -o $@ tests/vm/guest/compat32.c tests/vm/guest/common.c

# kqemuctl, the admin's helper: libkmod for the module, libudev for the node.
helper: $(BUILD)/helper/kqemuctl

$(BUILD)/helper/kqemuctl: $(HELPER_SRC) helper/kqemuctl.h include/uapi/linux/kqemu.h debian/changelog
	@mkdir -p $(@D)
	$(CC) $(HELPER_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(HELPER_SRC) -lkmod -ludev

check-helper: helper
	tests/helper/run.sh

check-lintian:
	tests/lintian.sh

check-unit:
	$(MAKE) -C tests/unit check

# kqemu-run's four builds on the host, where kqemu is not loaded.
check-tools: tools
	tests/tools/run.sh $(BUILD)

check-vm: guest helper
	tests/vm/run.sh

# Everything, with one closing "N passed, N failed" line.
check:
	tests/check.sh

clean:
	rm -rf $(BUILD) tests/unit/build
	-$(MAKE) -C kmod clean

.PHONY: all module guest helper check check-helper check-lintian check-unit check-tools check-vm clean

# The demo VMM and the guest programs it runs.
GUESTS := hello hash mmio mmio2 timer smp hostile bench pages msrs xsave debug syscall sipi strio
REAL_GUESTS := real16 strio16
GUEST_BINS := $(GUESTS:%=$(BUILD)/guests/%.bin) $(REAL_GUESTS:%=$(BUILD)/guests/%.bin)
FREESTANDING := -m64 -O2 -ffreestanding -fno-pic -fno-pie -fno-stack-protector \
	-mno-red-zone -mgeneral-regs-only -fno-asynchronous-unwind-tables \
	-nostdlib -static -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wl,-z,noexecstack -Wl,--no-warn-rwx-segments -Wl,--build-id=none

tools: $(BUILD)/tools/kqemu-run $(BUILD)/tools/kqemu-run32 $(BUILD)/tools/kqemu-run-asan \
	$(BUILD)/tools/kqemu-run-tsan $(GUEST_BINS)

# Static for the VM suite's initramfs, which has no libc.
$(BUILD)/tools/kqemu-run: tools/kqemu-run.c include/uapi/linux/kqemu.h
	@mkdir -p $(@D)
	$(CC) -static -O2 -pthread -Wall -Wextra -Werror -Iinclude/uapi -o $@ $<

# The same VMM as a 32-bit program, for the VM suite: a 32-bit process has a
# nonzero GS selector (its TLS), which the world switch must put back
# without touching the guest's KERNEL_GS_BASE.
$(BUILD)/tools/kqemu-run32: tools/kqemu-run.c include/uapi/linux/kqemu.h
	@mkdir -p $(@D)
	$(CC) -m32 -static -O2 -pthread -Wall -Wextra -Werror -Iinclude/uapi -o $@ $<

# The same VMM under AddressSanitizer (with UBSan) and ThreadSanitizer,
# for the engine suite's runs of its threads, kicks and exits.  Their
# runtimes link statically, but libc cannot under them: guest/pack-engine.sh
# copies the host's libraries into the initramfs.  -g: reports name lines.
SAN_CFLAGS := -O2 -g -fno-omit-frame-pointer -pthread -Wall -Wextra -Werror -Iinclude/uapi

$(BUILD)/tools/kqemu-run-asan: tools/kqemu-run.c include/uapi/linux/kqemu.h
	@mkdir -p $(@D)
	$(CC) $(SAN_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all \
		-static-libasan -static-libubsan -o $@ $<

$(BUILD)/tools/kqemu-run-tsan: tools/kqemu-run.c include/uapi/linux/kqemu.h
	@mkdir -p $(@D)
	$(CC) $(SAN_CFLAGS) -fsanitize=thread -static-libtsan -o $@ $<

# What make install and the package install: linked against the system's
# libc, with the distribution's flags (dpkg-buildflags: hardening).
$(BUILD)/dist/kqemu-run: tools/kqemu-run.c include/uapi/linux/kqemu.h
	@mkdir -p $(@D)
	$(CC) -O2 $(CPPFLAGS) $(CFLAGS) -pthread -Wall -Wextra -Werror -Iinclude/uapi $(LDFLAGS) -o $@ $<

$(BUILD)/dist/%.1: helper/%.1 debian/changelog
	@mkdir -p $(@D)
	sed 's/@VERSION@/$(VERSION)/; s/@DATE@/$(DATE)/' $< >$@

$(BUILD)/dist/kqemu-run.1: tools/kqemu-run.1 debian/changelog
	@mkdir -p $(@D)
	sed 's/@VERSION@/$(VERSION)/; s/@DATE@/$(DATE)/' $< >$@

$(BUILD)/guests/%.elf: tests/guests/%.c tests/guests/start.S tests/guests/guest.h tests/guests/ymm.h tests/guests/guest.lds
	@mkdir -p $(@D)
	$(CC) $(FREESTANDING) -T tests/guests/guest.lds -o $@ tests/guests/start.S $<

$(BUILD)/guests/%.bin: $(BUILD)/guests/%.elf
	objcopy -O binary $< $@

$(REAL_GUESTS:%=$(BUILD)/guests/%.bin): $(BUILD)/guests/%.bin: tests/guests/%.S
	@mkdir -p $(@D)
	$(CC) -m32 -nostdlib -static -Wl,-Ttext=0x7c00 -Wl,--oformat=binary \
		-Wl,-z,noexecstack -Wl,--build-id=none -o $@ $<

.PHONY: tools

# Installing on a host.  `make install` puts the helper, the demo VMM and
# its guests, the udev rule, sysusers.d and modules-load.d files and the man
# page under /usr, and the module's source under /usr/src/kqemu-$(VERSION)
# for DKMS; as root with DESTDIR empty it then registers and builds it with
# DKMS and configures the host (packaging/configure.sh).  `make uninstall`
# undoes all of it and keeps the group.  The Debian packages (make deb)
# ship the same files.
DESTDIR ?=
PREFIX ?= /usr
# DKMS reads module sources from /usr/src only, whatever PREFIX is.
DKMS_SRC := /usr/src/kqemu-$(VERSION)
UTILS_FILES := $(PREFIX)/bin/kqemuctl $(PREFIX)/bin/kqemu-run \
	$(PREFIX)/share/man/man1/kqemuctl.1 $(PREFIX)/share/man/man1/kqemu-run.1 \
	$(PREFIX)/share/bash-completion/completions/kqemuctl \
	$(PREFIX)/lib/udev/rules.d/60-kqemu.rules \
	$(PREFIX)/lib/sysusers.d/kqemu.conf \
	$(PREFIX)/lib/modules-load.d/kqemu.conf \
	$(PREFIX)/lib/kqemu/configure.sh $(PREFIX)/lib/kqemu/manifest.sh

DIST := $(BUILD)/helper/kqemuctl $(BUILD)/dist/kqemu-run $(BUILD)/dist/kqemuctl.1 \
	$(BUILD)/dist/kqemu-run.1 $(GUEST_BINS)

# The directories install may make, parents first; those it did make are
# listed in lib/kqemu/made-dirs, so that uninstall removes them and no other
# (the package build, NO_DIR_RECORD=1, leaves directories to dpkg).
INSTALL_DIRS = $(PREFIX)/bin $(PREFIX)/share $(PREFIX)/share/kqemu $(PREFIX)/share/kqemu/guests \
	$(PREFIX)/share/man $(PREFIX)/share/man/man1 $(PREFIX)/share/bash-completion \
	$(PREFIX)/share/bash-completion/completions $(PREFIX)/lib $(PREFIX)/lib/udev \
	$(PREFIX)/lib/udev/rules.d $(PREFIX)/lib/sysusers.d $(PREFIX)/lib/modules-load.d \
	$(PREFIX)/lib/kqemu /usr/src
MADE_DIRS = $(PREFIX)/lib/kqemu/made-dirs

dist: $(DIST)

install-utils: $(DIST)
	@p=$(PREFIX); while [ "$$p" != / ] && [ -n "$$p" ]; do echo "$$p"; p=$$(dirname "$$p"); done | sort >$(BUILD)/install-dirs
	@for d in $(INSTALL_DIRS); do echo "$$d"; done >>$(BUILD)/install-dirs
	@for d in $$(cat $(BUILD)/install-dirs); do [ -d "$(DESTDIR)$$d" ] || echo "$$d"; done >$(BUILD)/made-dirs
	install -D -m 0755 $(BUILD)/helper/kqemuctl $(DESTDIR)$(PREFIX)/bin/kqemuctl
	install -D -m 0755 $(BUILD)/dist/kqemu-run $(DESTDIR)$(PREFIX)/bin/kqemu-run
	install -d $(DESTDIR)$(PREFIX)/share/kqemu/guests
	install -m 0644 $(GUEST_BINS) $(DESTDIR)$(PREFIX)/share/kqemu/guests/
	install -D -m 0644 $(BUILD)/dist/kqemuctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/kqemuctl.1
	install -D -m 0644 $(BUILD)/dist/kqemu-run.1 $(DESTDIR)$(PREFIX)/share/man/man1/kqemu-run.1
	install -D -m 0644 helper/kqemuctl.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/kqemuctl
	install -D -m 0644 udev/60-kqemu.rules $(DESTDIR)$(PREFIX)/lib/udev/rules.d/60-kqemu.rules
	install -D -m 0644 udev/kqemu.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/kqemu.conf
	install -D -m 0644 udev/kqemu.modules-load $(DESTDIR)$(PREFIX)/lib/modules-load.d/kqemu.conf
	install -D -m 0755 packaging/configure.sh $(DESTDIR)$(PREFIX)/lib/kqemu/configure.sh
	install -m 0644 packaging/manifest.sh $(DESTDIR)$(PREFIX)/lib/kqemu/manifest.sh
ifeq ($(NO_DIR_RECORD),)
	cat $(BUILD)/made-dirs $(wildcard $(DESTDIR)$(MADE_DIRS)) | sort -u >$(BUILD)/made-dirs.all
	install -m 0644 $(BUILD)/made-dirs.all $(DESTDIR)$(MADE_DIRS)
endif

install-dkms:
	install -d $(DESTDIR)$(DKMS_SRC)/kmod $(DESTDIR)$(DKMS_SRC)/include/uapi/linux
	install -m 0644 kmod/Makefile kmod/*.c kmod/*.h kmod/*.S $(DESTDIR)$(DKMS_SRC)/kmod/
	install -m 0644 include/uapi/linux/kqemu.h $(DESTDIR)$(DKMS_SRC)/include/uapi/linux/
	sed 's/#MODULE_VERSION#/$(VERSION)/' dkms.conf > $(DESTDIR)$(DKMS_SRC)/dkms.conf

install: install-utils install-dkms
ifeq ($(DESTDIR),)
	dkms status kqemu/$(VERSION) | grep -q . || dkms add kqemu/$(VERSION)
	@# Every kernel with headers, as the Debian package's postinst does.
	@for k in $$(ls /lib/modules); do \
		if dkms status kqemu/$(VERSION) -k $$k | grep -q installed; then :; \
		elif [ -e /lib/modules/$$k/build ]; then dkms install kqemu/$(VERSION) -k $$k || exit 1; \
		else echo "make install: no headers for kernel $$k, so no kqemu.ko for it (apt-get install linux-headers-$$k)"; fi; \
	done
	$(PREFIX)/lib/kqemu/configure.sh configure
endif

uninstall:
ifeq ($(DESTDIR),)
	-$(PREFIX)/lib/kqemu/configure.sh unload
	-dkms remove kqemu/$(VERSION) --all
	-$(PREFIX)/lib/kqemu/configure.sh purge
endif
	@mkdir -p $(BUILD)
	cp $(DESTDIR)$(MADE_DIRS) $(BUILD)/made-dirs.uninstall 2>/dev/null || : >$(BUILD)/made-dirs.uninstall
	rm -rf $(DESTDIR)$(DKMS_SRC) $(DESTDIR)$(PREFIX)/share/kqemu/guests
	rm -f $(UTILS_FILES:%=$(DESTDIR)%) $(DESTDIR)$(MADE_DIRS)
	-rmdir $(DESTDIR)$(PREFIX)/lib/kqemu $(DESTDIR)$(PREFIX)/share/kqemu 2>/dev/null
	@# Children before parents; a directory someone else uses now stays.
	for d in $$(sort -r $(BUILD)/made-dirs.uninstall); do rmdir "$(DESTDIR)$$d" 2>/dev/null || true; done

# QEMU with the kqemu accelerator (qemu/patches on Debian 13's qemu source
# package), built in the trixie chroot into build/qemu/; cached by the
# source version and the hash of qemu/ (qemu/build.sh).
qemu:
	qemu/build.sh $(BUILD)/qemu

# That QEMU, run by a kvm-users member, boots Debian 13's kernel on kqemu
# in a VM boot of that kernel (tests/vm/guest/suite-qemu.sh).
check-qemu: qemu guest helper tools
	KQEMU_SUITES=qemu KQEMU_PACK_QEMU=1 KQEMU_LA57_SUITES= KQEMU_BOOT_LIMIT=1800 \
	tests/vm/run.sh trixie

.PHONY: qemu check-qemu

# The Debian packages kqemu-dkms and kqemu-utils, and for Debian 13
# qemu-system-x86-kqemu (make qemu's QEMU, qemu/package.sh), into build/deb/.
deb: qemu
	tests/system/build-debs.sh $(BUILD)/deb
	qemu/package.sh $(BUILD)/qemu $(BUILD)/deb

.PHONY: dist install install-utils install-dkms uninstall deb

# A newcomer's tour: installs what it needs, then boots a Debian system that
# gets kqemu as a host would and runs a guest (tests/system/demo.sh).
demo:
	tests/system/demo.sh

check-system:
	tests/system/run.sh

.PHONY: demo check-system

# kqemu against the kernel's own KVM in one VM boot (Debian 12's kernel by
# default; KQEMU_BENCH_RELEASE=trixie or sid for another): kvm_amd under
# QEMU, then kvm_intel under Bochs (bench-vmx alone: the Intel leg).
bench:
	KQEMU_SUITES=bench tests/vm/run.sh $(or $(KQEMU_BENCH_RELEASE),bookworm)
	$(MAKE) bench-vmx
	$(MAKE) bench-qemu

# QEMU on kqemu, on KVM and on TCG, booting the same Linux guest in one VM
# boot of Debian 12's kernel (tests/vm/guest/suite-bench-qemu.sh).  With a
# host thread per vCPU (boot.sh's KQEMU_TCG_THREAD=multi): on one thread
# for both, kvm_amd's run of that guest printed nothing for 900 s, where
# with a thread each it boots in 7 s, as kqemu's does either way.
bench-qemu: qemu guest helper tools
	KQEMU_SUITES=bench-qemu KQEMU_PACK_QEMU=1 KQEMU_LA57_SUITES= KQEMU_BOOT_LIMIT=2400 \
	KQEMU_TCG_THREAD=multi \
	tests/vm/run.sh $(or $(KQEMU_BENCH_RELEASE),bookworm)

bench-vmx: guest helper tools
	KQEMU_BUILD=$(CURDIR)/$(BUILD)/bench-vmx KQEMU_BOOT_SH=$(CURDIR)/tests/vm/bochs.sh \
	KQEMU_BOCHS_CPU=corei7_sandy_bridge_2600k KQEMU_SUITES=bench-vmx KQEMU_BOOT_LIMIT=1500 KQEMU_BOCHS_QUIET=900 \
	tests/vm/run.sh $(or $(KQEMU_BENCH_RELEASE),bookworm)

.PHONY: bench bench-vmx bench-qemu

# The engine suite on Bochs's trinity_apu, an AMD CPU with the NRIP-save
# that QEMU does not emulate: one boot of Debian 12's kernel.
check-bochs: guest helper tools
	KQEMU_BUILD=$(CURDIR)/$(BUILD)/bochs KQEMU_BOOT_SH=$(CURDIR)/tests/vm/bochs.sh \
	KQEMU_SUITES=nrip KQEMU_BOOT_LIMIT=1500 tests/vm/run.sh bookworm

.PHONY: check-bochs

# The device suite (ACL, quotas, validation, the fuzzer with random guest
# code: 20,000 calls here) and the engine suite on the VMX backend, under
# Bochs's corei7_sandy_bridge_2600k (VT-x with EPT, VPID and unrestricted
# guest; QEMU does not emulate VT-x): two boots of Debian 12's kernel.
# check-vmx-all boots all three kernels.
check-vmx: guest helper tools
	KQEMU_BUILD=$(CURDIR)/$(BUILD)/vmx KQEMU_BOOT_SH=$(CURDIR)/tests/vm/bochs.sh \
	KQEMU_BOCHS_CPU=corei7_sandy_bridge_2600k KQEMU_SUITES="device vmx" KQEMU_BOOT_LIMIT=1500 \
	FUZZ_CALLS=$(or $(FUZZ_CALLS),20000) tests/vm/run.sh $(or $(KQEMU_VMX_RELEASES),bookworm)

check-vmx-all:
	$(MAKE) check-vmx KQEMU_VMX_RELEASES="bookworm trixie sid"

.PHONY: check-vmx check-vmx-all

# The VM suites and the debug suite under a kernel built with KASAN, UBSAN,
# lockdep, kmemleak and fault injection (tests/debug/debug.config).  A cold
# run builds that kernel first (about 30 minutes on 2 cores); it is cached.
# By default every suite that make check boots, and the debug suite;
# DEBUG_SUITES=debug runs the debug suite alone; SFUZZ_CALLS=N changes the
# fuzzer's count.
DEBUG_SUITES := default debug
check-debug: guest helper tools
	KQEMU_KERNEL_SH=$(CURDIR)/tests/debug/kernel.sh \
	KQEMU_BUILD_SH=$(CURDIR)/tests/debug/build.sh \
	KQEMU_SUITES="$(DEBUG_SUITES)" KQEMU_BOOT_LIMIT=1800 \
	KQEMU_CMDLINE="kqemu_debug_kernel=1 $(KQEMU_CMDLINE)" \
	tests/vm/run.sh debug

.PHONY: check-debug
