# gpumon — see README.md. `make run` and `make test` install what they need on a fresh Debian 12 machine.

SHELL        := /bin/bash
SWIFT        ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
PREFIX       ?= /usr/local
DESTDIR      ?=
BINDIR       ?= $(PREFIX)/bin
LIBEXECDIR   ?= $(PREFIX)/libexec
UNITDIR      ?= /etc/systemd/system
UDEVRULESDIR ?= /etc/udev/rules.d
DOCDIR       ?= $(PREFIX)/share/doc/gpumon
MANDIR       ?= $(PREFIX)/share/man
DATADIR      ?= $(PREFIX)/share
# libvirt >= 6.5.0 runs every executable in qemu.d/; the hook is linked there (docs/vm-lifecycle.md).
HOOKDIR      ?= /etc/libvirt/hooks/qemu.d
STRIP        ?= strip
BIN          := .build/release/gpumon
GEN          := .build/gen
# `make run` uses the installed config when there is one, else the example shipped in docs/.
CONFIG       ?= $(if $(wildcard /etc/gpumon/gpumon.toml),/etc/gpumon/gpumon.toml,docs/gpumon.example.toml)

.PHONY: all deps test-deps build release run test unit test-placement check-rules lab verify-units install install-files gen clean

all: build

deps:
	scripts/install-build-deps

# promtool (Debian's prometheus package) and the venv with a real OpenStack Placement for the tests.
test-deps:
	scripts/install-test-deps

# No `deps` here: a plain build needs neither root nor apt (`make run`/`make test` install what is missing;
# `scripts/install-build-deps --check` lists it).
build:
	$(SWIFT) build

# Only the product (not the test-support library). The Swift runtime and Foundation are linked in: the binary
# runs where no Swift runtime is installed (inside Kolla's nova_libvirt container, for the hook), and the
# daemon's resident memory is ~20 MiB instead of ~26.
# -z now: full RELRO (the GOT read-only after start), as Debian's hardening flags ask; no RUNPATH $ORIGIN (the
# binary loads no library from beside itself).
release:
	$(SWIFT) build -c release --static-swift-stdlib --disable-local-rpath --product gpumon -Xlinker -z -Xlinker now

# Builds release, then shows every PCI device of this host and what the config selects.
# Exit 1 from status only means a selected device is not on vfio-pci yet: report it, don't fail.
run: deps release
	@echo "== gpumon check-config --config $(CONFIG)"
	@$(BIN) check-config --config $(CONFIG)
	@echo
	@echo "== gpumon status --all --config $(CONFIG)"
	@$(BIN) status --all --config $(CONFIG); rc=$$?; \
	  if [ $$rc -eq 1 ]; then echo "(exit 1: a selected device is not ok, or the config selects nothing here)"; \
	  elif [ $$rc -ne 0 ]; then exit $$rc; fi

# Every test: unit and CLI tests, the Placement tests against a real Placement, the alert rules, the shipped unit
# file, the packages, then the kernel lab (a real kernel under QEMU).
test: deps unit test-placement check-rules verify-units packaging lab

# A warning in gpumon's own sources fails the build (dependencies' warnings are theirs). A clean clone compiles
# every file, so CI sees every warning; -warnings-as-errors is not used because SwiftPM passes it to the
# dependencies too.
unit: deps test-deps
	@mkdir -p .build
	$(SWIFT) build --build-tests 2>&1 | tee .build/unit-build.log; exit $${PIPESTATUS[0]}
	@if grep -E '^$(CURDIR)/(Sources|Tests)/.*: warning:' .build/unit-build.log; then \
	  echo "unit: compiler warnings in gpumon's sources (above)"; exit 1; fi
	$(SWIFT) test --skip RealPlacementTests

# gpumon against a real OpenStack Placement (openstack-placement from PyPI, SQLite, noauth2) that the tests start
# on 127.0.0.1; a missing venv fails the tests, it never skips them (docs/testing.md).
test-placement: deps test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --filter RealPlacementTests

# The shipped alert rules: syntax, then promtool's unit tests (one test group per rule).
check-rules: test-deps
	promtool check rules deploy/prometheus/gpumon.rules.yml
	promtool test rules deploy/prometheus/gpumon.rules.test.yml

# Every scenario on Debian 12's 6.1 and on its 6.12 (docs/kernel-notes.md); both run even if the first fails.
# The package scenarios install the two .deb builds (an upgrade needs a newer version).
lab: deps release deb deb-upgrade
	lab/setup-deps
	@rc=0; for k in 6.1 6.12; do GPUMON_BIN=$(CURDIR)/$(BIN) lab/run --no-deps --kernel $$k || rc=1; done; exit $$rc

# The unit and the udev rule are generated with the real binary path; systemd checks the unit itself.
verify-units: deps release
	@mkdir -p .build/verify
	sed -e 's|@BINDIR@|$(CURDIR)/.build/release|g' -e 's|@DOCDIR@|$(DOCDIR)|g' systemd/gpumon.service.in > .build/verify/gpumon.service
	systemd-analyze verify .build/verify/gpumon.service
	@echo "verify-units: gpumon.service passes systemd-analyze verify"

SUBST = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g'

# Shell completions and the man page, generated from the built binary (swift-argument-parser).
gen: $(BIN)
	@mkdir -p $(GEN)
	$(BIN) --generate-completion-script bash | sed '1{/^#!/d}' > $(GEN)/gpumon.bash
	$(BIN) --generate-completion-script zsh > $(GEN)/_gpumon
	$(BIN) --generate-completion-script fish > $(GEN)/gpumon.fish
	scripts/gen-manpage $(BIN) > $(GEN)/gpumon.1

install: deps release gen install-files
	@echo "installed; next: cp /etc/gpumon/gpumon.toml.example /etc/gpumon/gpumon.toml, edit, gpumon check-config,"
	@echo "  udevadm control --reload, systemctl daemon-reload, systemctl enable --now gpumon"

# Installs what `release` and `gen` built, the binary stripped (95 MB -> 65 MB); the packages call this.
install-files:
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/gpumon
	$(STRIP) --strip-unneeded --remove-section=.comment --remove-section=.note $(DESTDIR)$(BINDIR)/gpumon
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(UDEVRULESDIR) $(DESTDIR)$(LIBEXECDIR)/gpumon $(DESTDIR)$(HOOKDIR)
	$(SUBST) systemd/gpumon.service.in > $(DESTDIR)$(UNITDIR)/gpumon.service
	$(SUBST) rules.d/60-gpumon.rules.in > $(DESTDIR)$(UDEVRULESDIR)/60-gpumon.rules
	$(SUBST) hooks/qemu > $(DESTDIR)$(LIBEXECDIR)/gpumon/qemu-hook
	chmod 0755 $(DESTDIR)$(LIBEXECDIR)/gpumon/qemu-hook
	ln -sf $(LIBEXECDIR)/gpumon/qemu-hook $(DESTDIR)$(HOOKDIR)/50-gpumon
	install -D -m 0644 docs/gpumon.example.toml $(DESTDIR)/etc/gpumon/gpumon.toml.example
	install -d $(DESTDIR)$(DOCDIR)
	install -m 0644 README.md docs/daemon.md docs/configuration.md docs/cli.md docs/vm-lifecycle.md docs/resets.md \
	  docs/host-setup.md docs/install.md $(DESTDIR)$(DOCDIR)/
	install -D -m 0644 $(GEN)/gpumon.1 $(DESTDIR)$(MANDIR)/man1/gpumon.1
	install -D -m 0644 $(GEN)/gpumon.bash $(DESTDIR)$(DATADIR)/bash-completion/completions/gpumon
	install -D -m 0644 $(GEN)/_gpumon $(DESTDIR)$(DATADIR)/zsh/vendor-completions/_gpumon
	install -D -m 0644 $(GEN)/gpumon.fish $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/gpumon.fish

# Packages (docs/install.md). Both package the release build; the tests build, lint and inspect them.
.PHONY: packaging-deps deb deb-upgrade rpm packaging test-deb test-rpm test-ansible
packaging-deps:
	scripts/install-packaging-deps

deb: packaging-deps release gen
	packaging/build-deb

# The same package with a higher version, for the lab's upgrade scenario.
deb-upgrade: packaging-deps release gen
	packaging/build-deb --upgrade

rpm: packaging-deps release gen
	packaging/build-rpm

# Build + lintian, build + rpm inspection, the Ansible role against a debootstrap chroot.
packaging: test-deb test-rpm test-ansible

test-deb: deb
	packaging/test-deb

test-rpm: rpm
	packaging/test-rpm

test-ansible: deb
	deploy/ansible/test/run

clean:
	rm -rf .build .build-lab .build-pkg

# Benchmarks in the kernel lab (not part of `make test`): results in docs/benchmarks.md.
.PHONY: bench
bench: release
	lab/setup-deps
	GPUMON_BIN=$(CURDIR)/$(BIN) bench/run
