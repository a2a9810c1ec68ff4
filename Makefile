# podrunner: top-level GNU Makefile (non-recursive).
#
#	make			build everything; ./podrunner at the top
#	make deps		install build and test dependencies (Debian, root)
#	make check		every test (unit + integration)
#	make check SANITIZE=1	the same with ASan+UBSan
#	make install		PREFIX (default /usr/local) and DESTDIR honoured

PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
LIBDIR		?= $(PREFIX)/lib
LIBEXECDIR	?= $(PREFIX)/libexec/podrunner
INCLUDEDIR	?= $(PREFIX)/include
SYSCONFDIR	?= $(PREFIX)/etc/podrunner
DATADIR		?= $(PREFIX)/share/podrunner
MANDIR		?= $(PREFIX)/share/man
PKGCONFIGDIR	?= $(LIBDIR)/pkgconfig
DESTDIR		?=

CC		?= cc
PKG_CONFIG	?= pkg-config
PYTHON		?= /usr/bin/python3
SANITIZE	?= 0

# Quiet rules; V=1 shows the full command lines.
V		?= 0
ifeq ($(V),0)
Q		:= @
else
Q		:=
endif

B		:= build
ifeq ($(SANITIZE),1)
B		:= build-san
endif

PKGS		:= libevent libseccomp libbsd-overlay jansson libcap-ng libmnl \
		   libbpf
PKG_CFLAGS	:= $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS	:= $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
# The podrunner binary is exec'd seven times per run (itself, its four
# daemons, the audit's loader, the relay): with these libraries linked
# in rather than bound at each start (-z now), an exec costs about
# 0.5 ms less here.  Debian ships no libmnl.a; libc stays shared.  The
# price: an update of one of these packages needs a rebuild of
# podrunner.  STATIC_LIBS=0 links everything dynamically.
STATIC_LIBS	?= 1
STATIC_PKGS	:= libevent libseccomp libbsd-overlay jansson libcap-ng libbpf
ifeq ($(STATIC_LIBS),1)
PODRUNNER_LIBS	:= -Wl,-Bstatic \
		   $(shell $(PKG_CONFIG) --static --libs $(STATIC_PKGS) \
		   2>/dev/null) -Wl,-Bdynamic \
		   $(shell $(PKG_CONFIG) --libs libmnl 2>/dev/null)
else
PODRUNNER_LIBS	:= $(PKG_LIBS)
endif

WARN		:= -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes \
		   -Wshadow -Wcast-qual -Wpointer-arith -Werror
HARDEN		:= -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
CFLAGS		?= -O2 -g
ALL_CFLAGS	:= -std=gnu11 $(WARN) $(HARDEN) $(CFLAGS) -D_GNU_SOURCE \
		   -Icommon -Iimsg -Iworker/libpodshm -Iparent -Ipolicyd -Iproxy \
		   -Iauditd -Isandbox -Ibuild/auditd \
		   -DLIBEXECDIR='"$(LIBEXECDIR)"' -DLIBDIR='"$(LIBDIR)"' \
		   -DSYSCONFDIR='"$(SYSCONFDIR)"' $(PKG_CFLAGS)
ALL_LDFLAGS	:= -pie -Wl,-z,relro,-z,now $(LDFLAGS)
ifeq ($(SANITIZE),1)
ALL_CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer \
		   -fno-sanitize-recover=undefined -U_FORTIFY_SOURCE
ALL_LDFLAGS	+= -fsanitize=address,undefined
endif

# --- sources -------------------------------------------------------------
COMMON_SRCS	:= common/log.c common/util.c common/proto.c common/privsep.c \
		   common/perm.c common/child.c
IMSG_SRCS	:= imsg/imsg.c imsg/imsg-buffer.c imsg/imsgev.c
PODSHM_SRCS	:= worker/libpodshm/podshm.c
PODRUNNER_SRCS	:= parent/podrunner.c parent/cli.c parent/proc.c parent/pod.c \
		   parent/check.c parent/serve.c \
		   policyd/policyd.c policyd/policy.c policyd/match.c \
		   policyd/decide.c policyd/builtin.c policyd/policy_imsg.c \
		   proxy/proxy.c proxy/conn.c proxy/http.c auditd/auditd.c \
		   auditd/auditload.c auditd/auditbtf.c auditd/auditring.c \
		   auditd/auditfmt.c \
		   sandbox/sandbox.c sandbox/relay.c sandbox/spawn.c sandbox/podinit.c \
		   sandbox/ctlmsg.c sandbox/podfs.c sandbox/podseccomp.c \
		   sandbox/podlandlock.c sandbox/podcgroup.c sandbox/podnet.c

obj		= $(patsubst %.c,$(B)/%.o,$(1))
COMMON_OBJS	:= $(call obj,$(COMMON_SRCS))
IMSG_OBJS	:= $(call obj,$(IMSG_SRCS))
PODSHM_OBJS	:= $(call obj,$(PODSHM_SRCS))
PODRUNNER_OBJS	:= $(call obj,$(PODRUNNER_SRCS))

CWORKER		:= build/example/cworker

# libpodrunner, the C library for embedders (libpodrunner/): podrunner
# serve as a child process.  Like libpodshm, never sanitized (what
# links it may not be).  EMBED is its example, EMBEDTEST the program
# test_libpodrunner.py drives; both built as a third party builds them.
PODRUNNER_LIB_SONAME := libpodrunner.so.1
PODRUNNER_LIB	:= build/lib/$(PODRUNNER_LIB_SONAME)
PODRUNNER_LIB_OBJS := build/pic/libpodrunner/libpodrunner.o \
		   build/pic/libpodrunner/prevent.o
EMBED		:= build/example/embed
EMBEDTEST	:= build/regress/embedtest

PODSHM_SONAME	:= libpodshm.so.1
# The shared library is built without sanitizers: python3 and bun load it.
PODSHM_SO	:= build/lib/$(PODSHM_SONAME)

# Bun, the bun worker's runtime: a pinned @oven/bun-linux-x64 from the npm
# registry (rules below).
BUN_VERSION	:= 1.4.5
BUN_INTEGRITY	:= sha512-IWX9BELoGHAUtMonkeSaNaZwXzRk+oDw6Mk+HBFXd3KHYIBNBsIGRupMZPcgNoDbJpLu6gAJjIoIVPZtt1aJ1g==
BUN_DIR		:= deps/bun
BUN		:= $(BUN_DIR)/bin/bun
BUN_STAMP	:= $(BUN_DIR)/.podrunner-bun-$(BUN_VERSION)
NPM		?= npm

UNIT_TESTS	:= $(B)/regress/unit/test_imsg $(B)/regress/unit/test_util \
		   $(B)/regress/unit/test_cli $(B)/regress/unit/test_podshm \
		   $(B)/regress/unit/test_policy $(B)/regress/unit/test_match \
		   $(B)/regress/unit/test_podseccomp \
		   $(B)/regress/unit/test_podlandlock \
		   $(B)/regress/unit/test_podcgroup \
		   $(B)/regress/unit/test_auditd \
		   $(B)/regress/unit/test_http \
		   $(B)/regress/unit/test_prevent

.PHONY: all clean deps check check-unit check-integration install lint FORCE \
	bench bench-deps fuzz

all: podrunner $(PODSHM_SO) build/lib/libpodshm.so build/podshm.pc \
	build/python/podrunner_worker.pyc $(BUN_STAMP) build/bun/podrunner_worker.js \
	build/podshm-uninstalled.pc $(CWORKER) \
	$(PODRUNNER_LIB) build/lib/libpodrunner.so build/podrunner.pc \
	build/podrunner-uninstalled.pc $(EMBED) $(EMBEDTEST)

# The Python runtime, compiled once: a pod's copy has no __pycache__.
build/python/podrunner_worker.pyc: worker/python/podrunner_worker.py
	@mkdir -p $(dir $@)
	$(Q)$(PYTHON) -c 'import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)' $< $@

# --- Bun: the bun worker's runtime, from the npm registry ----------------
# A pinned @oven/bun-linux-x64 (the binary alone: no install script runs),
# checked against its pinned integrity, unpacked into deps/bun (not under
# build/: make clean keeps it).  The stamp names the version, so a new pin
# fetches again.  make deps fetches it; make does if it is missing.

$(BUN_STAMP):
	@command -v $(NPM) >/dev/null || { echo "make: npm is needed to fetch bun (make deps installs it)" >&2; exit 1; }
	rm -rf $(BUN_DIR).tmp && mkdir -p $(BUN_DIR).tmp
	$(NPM) pack --silent --pack-destination $(BUN_DIR).tmp \
	    @oven/bun-linux-x64@$(BUN_VERSION) >/dev/null
	$(Q)got=$$($(PYTHON) -c 'import base64, hashlib, sys; print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' $(BUN_DIR).tmp/oven-bun-linux-x64-$(BUN_VERSION).tgz) && \
	    test "$$got" = "$(BUN_INTEGRITY)" || { echo "make: bun $(BUN_VERSION): integrity $$got, want $(BUN_INTEGRITY)" >&2; exit 1; }
	tar -xzf $(BUN_DIR).tmp/oven-bun-linux-x64-$(BUN_VERSION).tgz \
	    -C $(BUN_DIR).tmp --strip-components=1 --no-same-owner
	rm -f $(BUN_DIR).tmp/oven-bun-linux-x64-$(BUN_VERSION).tgz
	chmod 0755 $(BUN_DIR).tmp/bin/bun
	$(BUN_DIR).tmp/bin/bun --version | grep -qx '$(BUN_VERSION)'
	rm -rf $(BUN_DIR) && mv $(BUN_DIR).tmp $(BUN_DIR)
	touch $@

# The runtime bundled into one file: nothing for bun to resolve or
# transpile as TypeScript per run.
build/bun/podrunner_worker.js: worker/bun/podrunner_worker.ts $(BUN_STAMP)
	@mkdir -p $(dir $@)
	$(Q)$(BUN) build --target=bun --no-bundle --outfile=$@ $< >/dev/null

# ./podrunner follows the last build (plain or SANITIZE=1).
podrunner: $(B)/podrunner FORCE
	@ln -sfn $< $@

$(B)/podrunner: $(PODRUNNER_OBJS) $(COMMON_OBJS) $(IMSG_OBJS) $(PODSHM_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PODRUNNER_LIBS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

build/pic/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC(pic) $<")
	$(Q)$(CC) -std=gnu11 $(WARN) -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
	    $(CFLAGS) -fPIC -D_GNU_SOURCE -Iworker/libpodshm -MMD -MP -c -o $@ $<

$(PODSHM_SO): build/pic/worker/libpodshm/podshm.o
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,$(PODSHM_SONAME) -Wl,-z,relro,-z,now \
	    -o $@ $^ -lrt

build/lib/libpodshm.so: $(PODSHM_SO)
	ln -sf $(PODSHM_SONAME) $@

VERSION		:= $(shell sed -n 's/^\#define PODRUNNER_VERSION[^"]*"\(.*\)"/\1/p' common/proto.h)
PC_SED		= sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
		    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g'

build/podshm.pc: worker/libpodshm/podshm.pc.in FORCE
	@mkdir -p $(dir $@)
	$(Q)$(PC_SED) $< > $@

# The same for the build tree: with PKG_CONFIG_PATH=build, pkg-config
# prefers podshm-uninstalled.pc, so `pkg-config --cflags --libs podshm`
# names worker/libpodshm and build/lib.  Rewritten only when it changes
# (the tree moved): what is built with it is not rebuilt every time.
build/podshm-uninstalled.pc: worker/libpodshm/podshm.pc.in FORCE
	@mkdir -p $(dir $@)
	$(Q)sed -e 's|@PREFIX@|$(CURDIR)|g' -e 's|@LIBDIR@|$(CURDIR)/build/lib|g' \
	    -e 's|@INCLUDEDIR@|$(CURDIR)/worker/libpodshm|g' \
	    -e 's|@VERSION@|$(VERSION)|g' $< > $@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi

# The reference C worker (example/cworker.c), built as a third party
# builds one: libpodshm through pkg-config (the build tree's), nothing
# of podrunner's own.  Never sanitized, like the library.  The rpath
# finds build/lib without the sandbox; in a pod the library is on the
# dynamic linker's default path.
$(CWORKER): example/cworker.c build/podshm-uninstalled.pc $(PODSHM_SO) \
	    build/lib/libpodshm.so
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) -std=gnu11 $(WARN) -fstack-protector-strong \
	    -D_FORTIFY_SOURCE=2 $(CFLAGS) -fPIE -pie -Wl,-z,relro,-z,now \
	    -o $@ $< $$(PKG_CONFIG_PATH=build $(PKG_CONFIG) --cflags --libs \
	    podshm) -Wl,-rpath,'$$ORIGIN/../lib'

# --- libpodrunner ---------------------------------------------------------
# Only the symbols of podrunner.h are exported (libpodrunner.map, version
# PODRUNNER_1); jansson is linked in the library, pthread for the locks.
# The default binary is the installed one.
build/pic/libpodrunner/%.o: libpodrunner/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC(pic) $<")
	$(Q)$(CC) -std=gnu11 $(WARN) -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
	    $(CFLAGS) -fPIC -pthread -D_GNU_SOURCE -Ilibpodrunner \
	    $$($(PKG_CONFIG) --cflags jansson) \
	    -DPODRUNNER_PATH='"$(BINDIR)/podrunner"' -MMD -MP -c -o $@ $<

$(PODRUNNER_LIB): $(PODRUNNER_LIB_OBJS) libpodrunner/libpodrunner.map
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,$(PODRUNNER_LIB_SONAME) \
	    -Wl,--version-script=libpodrunner/libpodrunner.map \
	    -Wl,-z,relro,-z,now -Wl,--no-undefined -pthread \
	    -o $@ $(PODRUNNER_LIB_OBJS) $$($(PKG_CONFIG) --libs jansson)

build/lib/libpodrunner.so: $(PODRUNNER_LIB)
	ln -sf $(PODRUNNER_LIB_SONAME) $@

build/podrunner.pc: libpodrunner/podrunner.pc.in FORCE
	@mkdir -p $(dir $@)
	$(Q)$(PC_SED) $< > $@

# As for podshm: PKG_CONFIG_PATH=build finds the tree's header and library.
build/podrunner-uninstalled.pc: libpodrunner/podrunner.pc.in FORCE
	@mkdir -p $(dir $@)
	$(Q)sed -e 's|@PREFIX@|$(CURDIR)|g' -e 's|@LIBDIR@|$(CURDIR)/build/lib|g' \
	    -e 's|@INCLUDEDIR@|$(CURDIR)/libpodrunner|g' \
	    -e 's|@VERSION@|$(VERSION)|g' $< > $@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi

# Programs that link libpodrunner, through pkg-config; the rpath finds
# build/lib.
$(EMBED) $(EMBEDTEST): build/podrunner-uninstalled.pc $(PODRUNNER_LIB) \
	    build/lib/libpodrunner.so
$(EMBED): example/embed.c
$(EMBEDTEST): regress/integration/embedtest.c
$(EMBED) $(EMBEDTEST):
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $(filter %.c,$^)")
	$(Q)$(CC) -std=gnu11 $(WARN) -fstack-protector-strong \
	    -D_FORTIFY_SOURCE=2 $(CFLAGS) -fPIE -pie -pthread \
	    -Wl,-z,relro,-z,now -o $@ $(filter %.c,$^) \
	    $$(PKG_CONFIG_PATH=build $(PKG_CONFIG) --cflags --libs podrunner) \
	    -Wl,-rpath,'$$ORIGIN/../lib'

# --- the eBPF audit's programs (auditd/podaudit.bpf.c) ---------------------
# vmlinux.h comes from the BTF of the kernel we build on (bpftool btf dump
# file /sys/kernel/btf/vmlinux format c, into build/auditd/); the program
# uses its types (pt_regs, a few fields of task_struct, mm_struct and the
# cgroup) without CO-RE field relocations, so libbpf never parses the
# kernel's BTF at load time (the biggest part of a CO-RE program's load);
# the loader checks those fields against the running kernel and refuses
# one they do not match (rebuild on it).  The object is stripped of DWARF (llvm-strip -g) before
# bpftool embeds it in the skeleton (build/auditd/podaudit.skel.h).
BPF_CLANG	?= clang
BPF_STRIP	?= llvm-strip
BPFTOOL		?= bpftool
VMLINUX_BTF	?= /sys/kernel/btf/vmlinux
BPF_ARCH	:= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

build/auditd/vmlinux.h:
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  BTF     $@")
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp && mv $@.tmp $@

build/auditd/podaudit.bpf.o: auditd/podaudit.bpf.c auditd/podaudit.h \
	    build/auditd/vmlinux.h
	@$(if $(Q),echo "  BPF     $<")
	$(Q)$(BPF_CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -Wall \
	    -Werror -Ibuild/auditd -Iauditd -c -o $@ $<
	$(Q)$(BPF_STRIP) -g $@

build/auditd/podaudit.skel.h: build/auditd/podaudit.bpf.o
	@$(if $(Q),echo "  SKEL    $@")
	$(Q)$(BPFTOOL) gen skeleton $< name podaudit > $@.tmp && mv $@.tmp $@

$(B)/auditd/auditload.o: build/auditd/podaudit.skel.h

# --- unit tests ------------------------------------------------------------
LOGUTIL_OBJS	:= $(call obj,common/log.c common/util.c)
$(B)/regress/unit/test_imsg: $(call obj,regress/unit/test_imsg.c) $(IMSG_OBJS) $(LOGUTIL_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka
$(B)/regress/unit/test_util: $(call obj,regress/unit/test_util.c) $(LOGUTIL_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka
$(B)/regress/unit/test_cli: $(call obj,regress/unit/test_cli.c) $(call obj,parent/cli.c common/perm.c common/proto.c) $(LOGUTIL_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka
# The policy engine: pure code, shared by policyd, tests, benches, fuzzers.
POLICY_OBJS	:= $(call obj,policyd/policy.c policyd/match.c policyd/decide.c policyd/builtin.c \
		   common/perm.c common/proto.c) $(LOGUTIL_OBJS)
$(B)/regress/unit/test_policy: $(call obj,regress/unit/test_policy.c) $(POLICY_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka
$(B)/regress/unit/test_match: $(call obj,regress/unit/test_match.c) $(POLICY_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka
$(B)/regress/unit/test_podseccomp: $(call obj,regress/unit/test_podseccomp.c sandbox/podseccomp.c)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka
$(B)/regress/unit/test_podlandlock: $(call obj,regress/unit/test_podlandlock.c sandbox/podlandlock.c)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka
$(B)/regress/unit/test_podcgroup: $(call obj,regress/unit/test_podcgroup.c sandbox/podcgroup.c) $(LOGUTIL_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka
$(B)/regress/unit/test_auditd: $(call obj,regress/unit/test_auditd.c auditd/auditring.c auditd/auditfmt.c auditd/auditbtf.c)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka
$(B)/regress/unit/test_podshm: $(call obj,regress/unit/test_podshm.c) $(PODSHM_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lrt
$(B)/regress/unit/test_http: $(call obj,regress/unit/test_http.c proxy/http.c)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka
$(call obj,regress/unit/test_prevent.c libpodrunner/prevent.c): \
	ALL_CFLAGS += -Ilibpodrunner
$(B)/regress/unit/test_prevent: $(call obj,regress/unit/test_prevent.c libpodrunner/prevent.c)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka

check: all $(UNIT_TESTS) lint
	@$(MAKE) --no-print-directory check-unit
	@$(MAKE) --no-print-directory check-integration

check-unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

check-integration: all
	PODRUNNER_SANITIZE=$(SANITIZE) $(PYTHON) -m pytest -q -p no:cacheprovider regress/integration

# --- benchmarks: ratios against a baseline measured in the same run -------
BENCHES		:= $(B)/regress/bench/bench_policy \
		   $(B)/regress/bench/bench_dataplane
$(B)/regress/bench/bench_policy: $(call obj,regress/bench/bench_policy.c) $(POLICY_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
# The rings between two processes (libpodshm's own objects, as the
# supervisor links them).
$(B)/regress/bench/bench_dataplane: $(call obj,regress/bench/bench_dataplane.c) $(PODSHM_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lrt

# The servers of bench_proxy.py (not a bench of its own).
BENCH_HTTPD	:= $(B)/regress/bench/bench_httpd
$(BENCH_HTTPD): $(call obj,regress/bench/bench_httpd.c)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The plain relay that bench_proxy.py measures as an anchor.
BENCH_RELAY	:= $(B)/regress/bench/bench_relay
$(BENCH_RELAY): $(call obj,regress/bench/bench_relay.c)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lpthread

# The loop of bench_audit.py (run in pods and on the host).
BENCH_AUDIT_LOOP := $(B)/regress/bench/bench_audit_loop
$(BENCH_AUDIT_LOOP): $(call obj,regress/bench/bench_audit_loop.c)
	$(CC) $(ALL_LDFLAGS) -o $@ $^

# The floor under the audit's cost to the host: an empty program on
# sys_exit (bench_audit.py's anchor).
BENCH_BPF_FLOOR	:= $(B)/regress/bench/bench_bpf_floor
$(BENCH_BPF_FLOOR): $(call obj,regress/bench/bench_bpf_floor.c)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

bench: all $(BENCHES) $(BENCH_HTTPD) $(BENCH_RELAY) $(BENCH_AUDIT_LOOP) \
	    $(BENCH_BPF_FLOOR)
	@for b in $(BENCHES); do $$b; done
	$(PYTHON) regress/bench/bench_roundtrip.py
	$(PYTHON) regress/bench/bench_serve.py
	$(PYTHON) regress/bench/bench_startup.py
	$(PYTHON) regress/bench/bench_proxy.py $(BENCH_HTTPD) $(BENCH_RELAY)
	$(PYTHON) regress/bench/bench_audit.py $(BENCH_AUDIT_LOOP) \
	    $(BENCH_BPF_FLOOR)

# --- fuzzing: libFuzzer, bounded time, corpus in the tree ------------------
FUZZ_TIME	?= 60
FUZZ_CC		:= clang
FUZZ_CFLAGS	:= -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
		   -Icommon -Iimsg -Iworker/libpodshm -Ipolicyd -Isandbox \
		   $(PKG_CFLAGS)
FUZZERS		:= build/fuzz/fuzz_policy build/fuzz/fuzz_ctlmsg build/fuzz/fuzz_http
build/fuzz/fuzz_policy: regress/fuzz/fuzz_policy.c policyd/policy.c \
	    policyd/match.c policyd/decide.c policyd/builtin.c common/perm.c common/proto.c \
	    common/log.c common/util.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ $(PKG_LIBS)
build/fuzz/fuzz_ctlmsg: regress/fuzz/fuzz_ctlmsg.c sandbox/ctlmsg.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^
build/fuzz/fuzz_http: regress/fuzz/fuzz_http.c proxy/http.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Iproxy -o $@ $^

# New inputs go to build/fuzz/corpus-*; the tree's corpus is read only.
fuzz: $(FUZZERS)
	@set -e; for f in $(FUZZERS); do n=$${f##*/fuzz_}; \
	    mkdir -p build/fuzz/corpus-$$n; \
	    echo "== $$f ($(FUZZ_TIME)s)"; \
	    $$f -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
	        -artifact_prefix=build/fuzz/crash-$$n- \
	        build/fuzz/corpus-$$n regress/fuzz/corpus/$$n 2>&1 | \
	        grep -E '^(stat::number_of_executed_units|stat::new_units_added|==|INFO: Running|Done)' || true; \
	    if ls build/fuzz/crash-$$n-* >/dev/null 2>&1; then \
	        echo "fuzz: $$f found a crash: build/fuzz/crash-$$n-*"; exit 1; fi; \
	done

lint:
	mandoc -Tlint -Wwarning parent/podrunner.1 policyd/podrunner.policy.5 \
	    parent/podrunner.8 libpodrunner/libpodrunner.3

# --- set-up ----------------------------------------------------------------
# rsyslog: the audit's tests start an rsyslogd of their own (its service
# is not needed).
DEBS := build-essential pkg-config libevent-dev libseccomp-dev libbsd-dev \
	libbpf-dev libjansson-dev libcmocka-dev libcap-ng-dev clang llvm \
	libclang-rt-14-dev bubblewrap libmnl-dev libelf-dev zlib1g-dev \
	libmd-dev iproute2 \
	bpftool python3 python3-pytest mandoc procps psmisc rsyslog

APT := DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600
# Install packages; on a failure (stale package lists), update and again.
apt_install = $(APT) install -y --no-install-recommends $(1) || \
	{ $(APT) update && $(APT) install -y --no-install-recommends $(1); }

deps:
	@test "$$(id -u)" = 0 || { echo "make deps: run as root" >&2; exit 1; }
	$(call apt_install,$(DEBS))
	getent group _podrunner >/dev/null || groupadd --system _podrunner
	getent passwd _podrunner >/dev/null || useradd --system \
	    --gid _podrunner --home-dir /var/empty --no-create-home \
	    --shell /usr/sbin/nologin _podrunner
	install -d -m 0755 -o root -g root /var/empty
	@# Debian's npm package conflicts with NodeSource's nodejs, which
	@# has npm in it: only when there is no npm at all.
	command -v $(NPM) >/dev/null || \
	    $(APT) install -y --no-install-recommends npm
	$(MAKE) --no-print-directory $(BUN_STAMP)

# The other proxies bench_proxy.py measures beside ours when they are
# installed (not needed by anything else).  tinyproxy-bin is the program
# alone; Debian's squid starts its service where an init system runs
# (systemctl disable --now squid if it is not wanted).
bench-deps:
	@test "$$(id -u)" = 0 || { echo "make bench-deps: run as root" >&2; exit 1; }
	$(call apt_install,tinyproxy-bin squid)

# --- install ---------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
	    $(DESTDIR)$(LIBEXECDIR)/python $(DESTDIR)$(INCLUDEDIR) \
	    $(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(PKGCONFIGDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(B)/podrunner $(DESTDIR)$(BINDIR)/podrunner
	install -m 0755 $(PODSHM_SO) $(DESTDIR)$(LIBDIR)/$(PODSHM_SONAME)
	ln -sf $(PODSHM_SONAME) $(DESTDIR)$(LIBDIR)/libpodshm.so
	install -m 0644 worker/libpodshm/podshm.h $(DESTDIR)$(INCLUDEDIR)/podshm.h
	$(PC_SED) worker/libpodshm/podshm.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/podshm.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/podshm.pc
	install -m 0755 $(PODRUNNER_LIB) $(DESTDIR)$(LIBDIR)/$(PODRUNNER_LIB_SONAME)
	ln -sf $(PODRUNNER_LIB_SONAME) $(DESTDIR)$(LIBDIR)/libpodrunner.so
	install -m 0644 libpodrunner/podrunner.h $(DESTDIR)$(INCLUDEDIR)/podrunner.h
	$(PC_SED) libpodrunner/podrunner.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/podrunner.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/podrunner.pc
	install -m 0644 worker/python/podrunner_worker.py \
	    $(DESTDIR)$(LIBEXECDIR)/python/podrunner_worker.py
	install -m 0644 build/python/podrunner_worker.pyc \
	    $(DESTDIR)$(LIBEXECDIR)/python/podrunner_worker.pyc
	install -d $(DESTDIR)$(LIBEXECDIR)/bun/bin
	install -m 0755 $(BUN) $(DESTDIR)$(LIBEXECDIR)/bun/bin/bun
	install -m 0644 build/bun/podrunner_worker.js \
	    $(DESTDIR)$(LIBEXECDIR)/bun/podrunner_worker.js
	install -m 0644 etc/*.json $(DESTDIR)$(SYSCONFDIR)/
	install -m 0644 parent/podrunner.1 $(DESTDIR)$(MANDIR)/man1/podrunner.1
	install -m 0644 libpodrunner/libpodrunner.3 $(DESTDIR)$(MANDIR)/man3/libpodrunner.3
	install -m 0644 policyd/podrunner.policy.5 $(DESTDIR)$(MANDIR)/man5/podrunner.policy.5
	install -m 0644 parent/podrunner.8 $(DESTDIR)$(MANDIR)/man8/podrunner.8

clean:
	rm -rf build build-san podrunner

-include $(shell find build build-san -name '*.d' 2>/dev/null)
