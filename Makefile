# barco build, demo and tests. `make demo` and `make test` are all a newcomer needs.

GO       ?= go
VERSION  := $(shell cat VERSION)
COMMIT   := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -X main.version=$(VERSION) -X main.gitCommit=$(COMMIT)
BINARY   := bin/barco
ROOTFS   := tests/.cache/rootfs

export CGO_ENABLED := 1

.PHONY: all build rootfs demo test unit integration clean

all: build

# bin/barco is linked statically against musl when musl-gcc is installed
# (Debian's musl-tools; .ci/run installs it), else against glibc. Both work
# alike; musl's start-up costs about a millisecond less per process here,
# because glibc's probes the CPU with cpuid, which traps in a virtual
# machine, and every container start runs barco two or three times. musl-gcc
# sees only musl's headers: $(MUSL_DIR) lends it the kernel's and
# libseccomp's, and Debian's libseccomp.a on a search path of its own.
MUSL_CC  := $(shell command -v musl-gcc 2>/dev/null)
MUSL_DIR := tests/.cache/musl
ARCH_DIR := $(shell gcc -print-multiarch 2>/dev/null)

ifneq ($(MUSL_CC),)
build: $(MUSL_DIR)/.ready
build: export CC := $(MUSL_CC)
build: export CGO_CFLAGS := -O2 -isystem $(CURDIR)/$(MUSL_DIR)/include
build: export CGO_LDFLAGS := -L$(CURDIR)/$(MUSL_DIR)/lib
endif
build:
	$(GO) build -trimpath -tags urfave_cli_no_docs,osusergo,netgo -ldflags "-s -w -linkmode external -extldflags '-static -Wl,--wrap=main -Wl,--wrap=pthread_create -Wl,-u,pthread_create' $(LDFLAGS)" -o $(BINARY) ./cmd/barco

$(MUSL_DIR)/.ready:
	rm -rf $(MUSL_DIR) && mkdir -p $(MUSL_DIR)/include $(MUSL_DIR)/lib
	ln -s /usr/include/linux /usr/include/asm-generic /usr/include/$(ARCH_DIR)/asm \
		/usr/include/seccomp.h /usr/include/seccomp-syscalls.h $(MUSL_DIR)/include/
	ln -s /usr/lib/$(ARCH_DIR)/libseccomp.a $(MUSL_DIR)/lib/
	touch $@

rootfs:
	tests/rootfs/build.sh $(ROOTFS)

# Helper programs of the tests (tests/tools/*), one binary each in bin/.
.PHONY: tools
tools:
	$(GO) build -trimpath -o bin/ ./tests/tools/...

# Runs one container from a fresh bundle and removes everything it made.
demo: build rootfs
	@set -e; \
	tmp=$$(mktemp -d); \
	trap 'rm -rf "$$tmp"' EXIT; \
	mkdir "$$tmp/bundle" "$$tmp/state"; \
	$(BINARY) spec --bundle "$$tmp/bundle"; \
	cp -a $(ROOTFS) "$$tmp/bundle/rootfs"; \
	jq '.process.terminal = false | .hostname = "barco-demo" | .process.args = ["sh", "-c", "echo Hello from a barco container; echo hostname: $$(hostname); echo pid: $$$$"]' \
		"$$tmp/bundle/config.json" > "$$tmp/config.json"; \
	mv "$$tmp/config.json" "$$tmp/bundle/config.json"; \
	$(BINARY) --root "$$tmp/state" run --bundle "$$tmp/bundle" demo-$$$$

test: unit integration

unit:
	$(GO) test $$($(GO) list ./... | grep -v '/tests/')

integration: build rootfs tools
	BARCO_BINARY=$(CURDIR)/$(BINARY) BARCO_ROOTFS=$(CURDIR)/$(ROOTFS) \
		$(GO) test -count=1 -v -timeout 20m ./tests/integration/...

# The opencontainers/runtime-tools validation suite against bin/barco, as
# root. The suite is fetched and built once into tests/.cache/conformance.
.PHONY: conformance
conformance: build
	$(GO) test -count=1 ./tests/conformance/
	$(GO) build -trimpath -o bin/conformance ./tests/conformance
	bin/conformance -go $(GO) -runtime $(CURDIR)/$(BINARY) -cache $(CURDIR)/tests/.cache/conformance

clean:
	rm -rf bin tests/.cache

# The cgroup v2 tests, for real, in a throw-away pure cgroup v2 QEMU guest:
# libbarco/cgroups, then tests/cgroupv2 against barco and, for comparison,
# runc and crun if installed; the systemd driver against a real systemd;
# and the checkpoint/restore tests (CRIU works on the guest's kernel).
.PHONY: test-vm
test-vm: build rootfs tools
	GO=$(GO) tests/vm/run.sh
	GO=$(GO) tests/vm/run-systemd.sh
	GO=$(GO) tests/vm/run-integration.sh 'Checkpoint|Restore|PreDump|PauseResume|EventsStats'

# barco against runc and crun, side by side (root; installs crun if missing).
# BENCHFLAGS=-quick for a smoke run; see `bin/bench -h` for the rest.
.PHONY: bench
bench: build rootfs
	$(GO) build -trimpath -o bin/bench ./tests/bench
	bin/bench $(BENCHFLAGS)

# barco driven by podman, containerd (ctr, runc shim v2) and containerd's CRI
# (crictl), every scenario also with runc for comparison; see README.md,
# "Clients". Debian 12 has no crictl package: it is built once from the Go
# module proxy into tests/.cache/crictl-VERSION.
CRICTL_VERSION := v1.34.0
CRICTL         := tests/.cache/crictl-$(CRICTL_VERSION)/crictl
.PHONY: test-clients
test-clients: build rootfs
	@test -x $(CRICTL) || \
		GOBIN=$(CURDIR)/$(dir $(CRICTL)) $(GO) install sigs.k8s.io/cri-tools/cmd/crictl@$(CRICTL_VERSION)
	BARCO_BINARY=$(CURDIR)/$(BINARY) BARCO_ROOTFS=$(CURDIR)/$(ROOTFS) \
		CRICTL_BINARY=$(CURDIR)/$(CRICTL) RUNC_BINARY=/usr/sbin/runc \
		$(GO) test -count=1 -v -timeout 15m ./tests/clients/...

# A short fuzzing run of every fuzz target (FUZZTIME each). Their seed
# corpora (testdata/fuzz/) already run as plain tests in `make unit`.
# Minimizing each new interesting input is bounded: left at its 60 s
# default it can outlast a short FUZZTIME and fail the run. FUZZTIME may
# also be a count of inputs (20000x), which CI uses: it ends without a timer.
FUZZTIME ?= 10s
FUZZ_TARGETS := ./specconv:FuzzLoadAndConvert ./state:FuzzLoad ./state:FuzzParseStat \
	./state:FuzzValidateID ./cmd/barco:FuzzUpdateResources ./cmd/barco:FuzzParseBytes
# Long runs of the concurrency and fault tests (STRESS_ROUNDS times) and of
# the fuzzers (FUZZTIME each), with the figures printed at the end.
.PHONY: stress
stress: build rootfs tools
	tests/stress.sh

.PHONY: fuzz
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} in $${t%%:*} for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 200x "$${t%%:*}"; \
	done
