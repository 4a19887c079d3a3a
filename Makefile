# gpumon — see README.md. `make run` and `make test` install what they need on a fresh Debian 12 machine.

SWIFT        ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
PREFIX       ?= /usr/local
DESTDIR      ?=
BINDIR       ?= $(PREFIX)/bin
UNITDIR      ?= /etc/systemd/system
UDEVRULESDIR ?= /etc/udev/rules.d
DOCDIR       ?= $(PREFIX)/share/doc/gpumon
BIN          := .build/release/gpumon
# `make run` uses the installed config when there is one, else the example shipped in docs/.
CONFIG       ?= $(if $(wildcard /etc/gpumon/gpumon.toml),/etc/gpumon/gpumon.toml,docs/gpumon.example.toml)

.PHONY: all deps test-deps build release run test unit test-placement check-rules lab verify-units install clean

all: build

deps:
	scripts/install-build-deps

# promtool (Debian's prometheus package) and the venv with a real OpenStack Placement for the tests.
test-deps:
	scripts/install-test-deps

build: deps
	$(SWIFT) build

# The Swift runtime and Foundation are linked in: the binary runs where no Swift runtime is installed (inside
# Kolla's nova_libvirt container, for the hook), and the daemon's resident memory is ~20 MiB instead of ~26.
release: deps
	$(SWIFT) build -c release --static-swift-stdlib

# Builds release, then shows every PCI device of this host and what the config selects.
# Exit 1 from status only means a selected device is not on vfio-pci yet: report it, don't fail.
run: release
	@echo "== gpumon check-config --config $(CONFIG)"
	@$(BIN) check-config --config $(CONFIG)
	@echo
	@echo "== gpumon status --all --config $(CONFIG)"
	@$(BIN) status --all --config $(CONFIG); rc=$$?; \
	  if [ $$rc -eq 1 ]; then echo "(exit 1: a selected device is not ok, or the config selects nothing here)"; \
	  elif [ $$rc -ne 0 ]; then exit $$rc; fi

# Every test: unit and CLI tests, the Placement tests against a real Placement, the alert rules, the shipped unit
# file, then the kernel lab (a real kernel under QEMU).
test: unit test-placement check-rules verify-units lab

unit: deps test-deps
	$(SWIFT) build --build-tests
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

lab: release
	lab/setup-deps
	GPUMON_BIN=$(CURDIR)/$(BIN) lab/run

# The unit and the udev rule are generated with the real binary path; systemd checks the unit itself.
verify-units: release
	@mkdir -p .build/verify
	sed -e 's|@BINDIR@|$(CURDIR)/.build/release|g' -e 's|@DOCDIR@|$(DOCDIR)|g' systemd/gpumon.service.in > .build/verify/gpumon.service
	systemd-analyze verify .build/verify/gpumon.service
	@echo "verify-units: gpumon.service passes systemd-analyze verify"

SUBST = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g'

install: release
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/gpumon
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(UDEVRULESDIR)
	$(SUBST) systemd/gpumon.service.in > $(DESTDIR)$(UNITDIR)/gpumon.service
	$(SUBST) rules.d/60-gpumon.rules.in > $(DESTDIR)$(UDEVRULESDIR)/60-gpumon.rules
	install -D -m 0644 docs/gpumon.example.toml $(DESTDIR)/etc/gpumon/gpumon.toml.example
	install -D -m 0644 docs/daemon.md $(DESTDIR)$(DOCDIR)/daemon.md
	@echo "installed; next: cp /etc/gpumon/gpumon.toml.example /etc/gpumon/gpumon.toml, edit, gpumon check-config,"
	@echo "  udevadm control --reload, systemctl daemon-reload, systemctl enable --now gpumon"

clean:
	rm -rf .build .build-lab

# Benchmarks in the kernel lab (not part of `make test`): results in docs/benchmarks.md.
.PHONY: bench
bench: release
	lab/setup-deps
	GPUMON_BIN=$(CURDIR)/$(BIN) bench/run
