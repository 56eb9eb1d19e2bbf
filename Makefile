# osvm build. `make` builds build/osvm; `make check` builds with ASan+UBSan
# and runs every test. Both install missing Debian packages first.

CC      ?= cc
comma   := ,
V       ?= 0
Q       := $(if $(filter 1,$(V)),,@)
LAYERS  := base sandbox isolation vmm mcp agent ui microvm cli
SRCS    := $(foreach l,$(LAYERS),$(wildcard src/$(l)/*.c))
LIBSRCS := $(filter-out src/cli/main.c,$(SRCS))
HDRS    := $(wildcard src/*/*.h src/*/*/*.h)
TESTS   := $(patsubst tests/%.c,%,$(wildcard tests/*/test_*.c))

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wvla -Wno-format-nonliteral -Wno-format-truncation
CFLAGS_BASE := -std=c17 -D_GNU_SOURCE -Isrc $(WARN) -pthread
LDLIBS  := -ljansson -lcurl -ledit -lseccomp -lmicrohttpd -lssl -lcrypto -pthread

REL_CFLAGS  := $(CFLAGS_BASE) -O2 -g
ASAN_CFLAGS := $(CFLAGS_BASE) -O1 -g -fno-omit-frame-pointer \
               -fsanitize=address,undefined -fno-sanitize-recover=all
# Fault injection (src/base/fault.c, docs/testing.md): only in the sanitizer
# build, whose programs link with every call it can make fail wrapped.
FAULT_WRAP  := malloc calloc realloc strdup strndup vasprintf read write send recv sendmsg \
               recvmsg fork vfork posix_spawn posix_spawnp syscall memfd_create ioctl
ASAN_CFLAGS += -DOSVM_FAULT_INJECTION
ASAN_LDFLAGS := $(addprefix -Wl$(comma)--wrap=,$(FAULT_WRAP))

.PHONY: all deps test-deps check test unit shell format format-check layers-check bench clean run

all: deps
	@$(MAKE) --no-print-directory build/osvm

deps:
	@scripts/install-deps.sh

test-deps:
	@scripts/install-deps.sh --test

# libsecret's headers (and GLib's) for the secret store; the library itself
# is opened at run time, where a desktop keyring runs (src/mcp/secret.c)
SECRET_CFLAGS = $(patsubst -I%,-isystem %,$(shell pkg-config --cflags-only-I libsecret-1))
build/rel/mcp/secret.o build/asan/mcp/secret.o build/fuzz/obj/mcp/secret.o: \
	CFLAGS += $(SECRET_CFLAGS)

# ---- release build ----
build/rel/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(REL_CFLAGS) $(CFLAGS) -c -o $@ $<

build/libosvm.a: $(patsubst src/%.c,build/rel/%.o,$(LIBSRCS))
	@rm -f $@
	$(Q)ar rcs $@ $^

build/osvm: build/rel/cli/main.o build/libosvm.a
	@echo "  LD      $@"
	$(Q)$(CC) $(REL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- sanitizer build, used by the tests ----
build/asan/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC asan $<"
	$(Q)$(CC) $(ASAN_CFLAGS) $(CFLAGS) -c -o $@ $<

build/asan/libosvm.a: $(patsubst src/%.c,build/asan/%.o,$(LIBSRCS))
	@rm -f $@
	$(Q)ar rcs $@ $^

build/asan/osvm: build/asan/cli/main.o build/asan/libosvm.a
	@echo "  LD asan $@"
	$(Q)$(CC) $(ASAN_CFLAGS) $(ASAN_LDFLAGS) -o $@ $^ $(LDLIBS)

build/asan/tests/%: tests/%.c build/asan/libosvm.a $(HDRS) tests/testutil.h
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	$(Q)$(CC) $(ASAN_CFLAGS) $(ASAN_LDFLAGS) -Itests -o $@ $< build/asan/libosvm.a $(LDLIBS) -lcmocka

# ---- tests ----
check: test-deps
	@$(MAKE) --no-print-directory format-check
	@$(MAKE) --no-print-directory layers-check
	@$(MAKE) --no-print-directory -j2 test

test: build/asan/osvm $(addprefix build/asan/tests/,$(TESTS))
	@tests/run.sh build/asan $(TESTS)

format:
	clang-format -i $(SRCS) $(wildcard src/*/*/*.c) $(HDRS) $(wildcard tests/*.h tests/*/*.h tests/*/*.c bench/*.c bench/*.h)

# No layer includes a header of a layer above it (LAYERS, lowest first).
layers-check:
	@scripts/check-layers.sh $(LAYERS)

format-check:
	@clang-format --dry-run --Werror $(SRCS) $(wildcard src/*/*/*.c) $(HDRS) $(wildcard tests/*.h tests/*/*.h tests/*/*.c bench/*.c bench/*.h) \
		&& echo "format: all files clang-formatted"

build/bench/%: bench/%.c build/libosvm.a $(HDRS) $(wildcard bench/*.h)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	$(Q)$(CC) $(REL_CFLAGS) -o $@ $< build/libosvm.a $(LDLIBS)

bench: test-deps build/bench/bench_isolation build/bench/bench_mcp build/bench/bench_solana \
       build/bench/bench_offline build/asan/bench/bench_offline build/bench/bench_sandbox
	build/bench/bench_isolation
	build/bench/bench_offline
	build/bench/bench_sandbox
	ASAN_OPTIONS=detect_leaks=0 build/asan/bench/bench_offline 9
	bench/mcp.sh
	bench/solana.sh
	bench/secrets.sh

# The offline planner once more with the sanitizers, as the tests run it
# (ASan's realloc always moves: growth that glibc's hides shows there).
build/asan/bench/%: bench/%.c build/asan/libosvm.a $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	$(Q)$(CC) $(ASAN_CFLAGS) $(ASAN_LDFLAGS) -o $@ $< build/asan/libosvm.a $(LDLIBS)

run: all
	@scripts/run.sh

clean:
	rm -rf build

# ---- vmm: the process platform's stub program ----
# A freestanding static program (no libc, no relocations), linked at a fixed
# address below the control page (1 MiB), in the 2 MiB that a stub's control
# page and signal stack use: a stub then needs no page table for it. Embedded
# in osvm by src/vmm/proc_blob.c; see docs/vmm.md.
STUB_CFLAGS := -std=c17 -Isrc $(WARN) -O2 -ffreestanding -fno-builtin -fno-stack-protector \
               -fPIE -fno-asynchronous-unwind-tables -fno-unwind-tables -mgeneral-regs-only \
               -fcf-protection=none
STUB_SRCS   := src/vmm/stub/osvm-stub.c src/vmm/stub/gadget.S src/vmm/proc_abi.h

build/stub/osvm-stub: $(STUB_SRCS)
	@mkdir -p $(dir $@)
	@echo "  STUB    $@"
	$(Q)$(CC) $(STUB_CFLAGS) -static -no-pie -nostdlib -Wl,-Ttext-segment=0x40000 \
		-Wl,-z,noexecstack \
		-Wl,-z,separate-code -Wl,--build-id=none -e stub_start -o $@ $(filter %.c %.S,$^)
	$(Q)if readelf -rW $@ | grep -q R_X86_64; then \
		echo "$@: has relocations (no pointers in initialized data)"; rm -f $@; exit 1; fi

build/rel/vmm/proc_blob.o build/asan/vmm/proc_blob.o build/fuzz/obj/vmm/proc_blob.o: build/stub/osvm-stub

# ---- vmm: guest programs, the test driver, valgrind, the benchmark ----
# Guests (tests/guests/*.c) are static x86-64 programs run inside the engine:
# built with musl-gcc -static, and hello/echo also with glibc and as static-pie.
MUSL_LIB    := /usr/lib/x86_64-linux-musl
GUEST_CFLAGS := -O2 -w
GUESTS      := $(patsubst tests/guests/%.c,build/guests/%,$(wildcard tests/guests/*.c)) \
               build/guests/hello.glibc build/guests/hello.glibc-pie build/guests/hello.musl-pie \
               build/guests/echo.glibc
VMM_TEST_BINS := $(GUESTS) build/asan/tests/vmm/vmm_run build/rel/tests/vmm/vmm_run

# ctl_smash writes the process platform's control page by its layout
build/guests/ctl_smash: src/vmm/proc_abi.h

build/guests/%: tests/guests/%.c
	@mkdir -p $(dir $@)
	musl-gcc -static $(GUEST_CFLAGS) -o $@ $<

build/guests/%.glibc: tests/guests/%.c
	@mkdir -p $(dir $@)
	$(CC) -static $(GUEST_CFLAGS) -o $@ $<

build/guests/%.glibc-pie: tests/guests/%.c
	@mkdir -p $(dir $@)
	$(CC) -static-pie -fPIE $(GUEST_CFLAGS) -o $@ $<

# Debian's musl-gcc -static-pie makes a dynamic PIE: link rcrt1.o by hand.
build/guests/%.musl-pie: tests/guests/%.c
	@mkdir -p $(dir $@)
	musl-gcc -fPIE $(GUEST_CFLAGS) -c -o $@.o $<
	ld -static -pie --no-dynamic-linker -z text -o $@ $(MUSL_LIB)/rcrt1.o $(MUSL_LIB)/crti.o \
		$@.o $(MUSL_LIB)/libc.a $(MUSL_LIB)/crtn.o
	@rm -f $@.o

build/rel/tests/vmm/vmm_run: tests/vmm/vmm_run.c build/libosvm.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) -o $@ $< build/libosvm.a $(LDLIBS)

# Unit tests in the release build, for the nested AMD-V guest (below).
build/rel/tests/%: tests/%.c build/libosvm.a $(HDRS) tests/testutil.h
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	$(Q)$(CC) $(REL_CFLAGS) -Itests -o $@ $< build/libosvm.a $(LDLIBS) -lcmocka

.PHONY: vmm-guests vmm-valgrind bench-vmm
vmm-guests: $(VMM_TEST_BINS)
test: $(VMM_TEST_BINS)

# The hostile suite and busybox once more under valgrind (release build, no
# ASan); `make test` runs it too, as tests/vmm/valgrind.sh.
vmm-valgrind: $(VMM_TEST_BINS)
	bash tests/vmm/valgrind.sh

build/bench/bench_vmm: bench/bench_vmm.c $(wildcard bench/*.h) build/libosvm.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) -o $@ $< build/libosvm.a $(LDLIBS)

build/bench/bench_exit: bench/bench_exit.c $(wildcard bench/*.h) build/libosvm.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) -o $@ $< build/libosvm.a $(LDLIBS)

bench-vmm: build/bench/bench_vmm build/bench/bench_exit build/guests/echo build/guests/echo.glibc
	build/bench/bench_exit
	build/bench/bench_vmm

# The platforms side by side (process everywhere, KVM where usable): bench/vmm.md.
.PHONY: bench-platform
bench-platform: build/bench/bench_platform build/guests/echo build/guests/echo.glibc \
		build/guests/getpid_loop build/guests/fork_floor
	build/bench/bench_platform

# ---- tools: the osvm-mcp tool pack (docs/osvm-mcp.md) ----
# One static x86-64 program per tool (src/tools/osvm-mcp/<tool>.c + common.c
# + json.c), linked with musl (musl-gcc -static: its start runs no CPUID, which
# costs ~49 us each in a nested VM; glibc's runs ~43), run by the engine as
# build/unikernels/osvm-mcp-<tool>.img and unchanged as a host process. Not
# part of libosvm; no library but libc. The tools/list array,
# osvm-mcp.tools.json, is printed by an image (--list) from the tool table in
# common.c, the same table the tools check their arguments against.
TOOL_NAMES   := $(sort $(patsubst src/tools/osvm-mcp/%.c,%,$(wildcard src/tools/osvm-mcp/*.c)))
TOOL_IMAGES  := $(patsubst %,build/unikernels/osvm-mcp-%.img,$(TOOL_NAMES))
TOOL_DEFS    := build/unikernels/osvm-mcp.tools.json
TOOL_CC      := musl-gcc
TOOL_CFLAGS  := -std=c17 -D_GNU_SOURCE -Isrc $(WARN) -O2
TOOL_HDRS    := src/tools/tools.h src/tools/json.h
TOOL_LIB     := src/tools/common.c src/tools/json.c
# alloc.c, the images' malloc (a brk heap: no mmap/munmap per buffer), not in the unit tests
TOOL_OBJS    := $(patsubst src/tools/%.c,build/tools/%.o,$(TOOL_LIB) src/tools/alloc.c)
TOOL_SRCS    := $(TOOL_LIB) src/tools/alloc.c $(TOOL_HDRS) $(wildcard src/tools/osvm-mcp/*.c) \
                tests/tools/test_tools.c tests/tools/test_json.c

.SECONDARY: $(TOOL_OBJS)
# (else gcc turns calloc's malloc + memset into a call to calloc: itself)
build/tools/alloc.o: TOOL_CFLAGS += -fno-builtin
build/tools/%.o: src/tools/%.c $(TOOL_HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC tool $<"
	$(Q)$(TOOL_CC) $(TOOL_CFLAGS) -c -o $@ $<

build/unikernels/osvm-mcp-%.img: src/tools/osvm-mcp/%.c $(TOOL_OBJS) $(TOOL_HDRS)
	@mkdir -p $(dir $@)
	@echo "  TOOL    $@"
	$(Q)$(TOOL_CC) -static $(TOOL_CFLAGS) -o $@ $< $(TOOL_OBJS)

$(TOOL_DEFS): $(TOOL_IMAGES)
	@echo "  DEFS    $@"
	$(Q)$(firstword $(TOOL_IMAGES)) --list >$@.tmp && mv $@.tmp $@

.PHONY: tools format-tools format-check-tools
tools: $(TOOL_IMAGES) $(TOOL_DEFS)
build/osvm: | $(TOOL_IMAGES) $(TOOL_DEFS)

# The unit tests link the tools' common code and JSON, built with the
# sanitizers (and the host's libc: the code is the same C17).
build/asan/tests/tools/test_%: tests/tools/test_%.c $(TOOL_LIB) $(TOOL_HDRS)
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	$(Q)$(CC) $(ASAN_CFLAGS) -Itests -o $@ $< $(TOOL_LIB) -lcmocka
# The engine driver of tests/tools/direct.sh: a tool image in a VM with fd 3.
build/asan/tests/tools/vm_call: tests/tools/vm_call.c build/asan/libosvm.a $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC asan $@"
	$(Q)$(CC) $(ASAN_CFLAGS) $(ASAN_LDFLAGS) -o $@ $< build/asan/libosvm.a $(LDLIBS)
test: $(TOOL_IMAGES) $(TOOL_DEFS) build/asan/tests/tools/vm_call

# ---- the soak: 10,000 tool calls in one process (bench/soak.sh, bench/README.md);
# not part of `make check`. SOAK_CALLS: how many; `make soak-asan`: the
# sanitizer build (2,000 calls unless SOAK_CALLS says; leaks reported at exit;
# its RSS bound is wide, as ASan's quarantine holds what was freed).
SOAK_CALLS ?= 10000
.PHONY: soak soak-asan
soak: test-deps build/osvm build/bench/soak $(TOOL_IMAGES) $(TOOL_DEFS)
	bench/soak.sh $(SOAK_CALLS)
soak-asan: test-deps build/osvm build/asan/bench/soak $(TOOL_IMAGES) $(TOOL_DEFS)
	SOAK_RSS_MB=$${SOAK_RSS_MB:-1024} \
	bench/soak.sh $(if $(filter command line,$(origin SOAK_CALLS)),$(SOAK_CALLS),2000) \
		build/asan/bench/soak

format: format-tools
format-check: format-check-tools
format-tools:
	clang-format -i $(TOOL_SRCS)
format-check-tools:
	@clang-format --dry-run --Werror $(TOOL_SRCS)

# ---- μVM-1: the agent runtime, a static build of the agent run by the engine ----
# The agent, the chat and one-shot front end (src/ui/), and the guest side of
# the host calls (src/microvm/guest/), linked static with glibc, libedit and jansson;
# src/agent/llm_http.c (libcurl) and hub_runner.c (the hub) stay on the host,
# their work asked of the supervisor instead. (glibc's warnings about NSS in
# static programs are left out of the output: the agent looks up no users.)
AGENT_SRCS := $(wildcard src/base/*.c src/isolation/*.c src/ui/*.c src/microvm/guest/*.c) \
              $(filter-out src/agent/llm_http.c src/agent/hub_runner.c,$(wildcard src/agent/*.c))
AGENT_OBJS := $(patsubst src/%.c,build/agent/%.o,$(AGENT_SRCS))
AGENT_IMAGE := build/unikernels/osvm-agent.img

build/agent/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC agent $<"
	$(Q)$(CC) $(REL_CFLAGS) -c -o $@ $<

$(AGENT_IMAGE): $(AGENT_OBJS)
	@mkdir -p $(dir $@)
	@echo "  AGENT   $@"
	$(Q)$(CC) -static -o $@ $(AGENT_OBJS) -ledit -ltinfo -lbsd -lmd -ljansson -pthread \
	    2>$@.log || { cat $@.log; exit 1; }
	$(Q)grep -v -e "statically linked applications requires at runtime" -e "in function" $@.log || true
	@rm -f $@.log

build/osvm: | $(AGENT_IMAGE)
test: $(AGENT_IMAGE)

# ---- the engine's suite in a nested AMD-V guest (tests/nested/) ----
# Debian's kernel under QEMU's TCG with emulated SVM, from an initramfs of the
# release build: the AMD-V path of the engine on any x86-64 machine, /dev/kvm
# or not (docs/testing.md). `make test` runs it as the shell suite
# tests/nested/nested.sh; `make check-nested` runs it alone.
NESTED_BINS := build/osvm build/rel/tests/vmm/vmm_run build/rel/tests/vmm/test_run \
               build/rel/tests/mcp/test_egress build/rel/tests/sandbox/test_sandbox \
               build/asan/tests/vmm/vmm_run $(GUESTS) \
               $(TOOL_IMAGES) $(TOOL_DEFS) $(AGENT_IMAGE)
.PHONY: check-nested
check-nested: test-deps
	@$(MAKE) --no-print-directory -j2 $(NESTED_BINS)
	bash tests/nested/nested.sh
test: $(NESTED_BINS)

# ---- fuzzers: libFuzzer targets over every hostile input (tests/fuzz/) ----
# clang, with the sanitizers and libFuzzer's coverage: the library once more
# (build/fuzz/obj), the tool pack's JSON and parsers beside it, a program per
# target. `make fuzz` runs each for FUZZ_SECONDS (tests/fuzz/run); `make
# check` runs each over its corpus and about ten seconds (tests/fuzz/check.sh).
# (clang warns of `{NULL}` tables, a C idiom, as missing field initializers,
# and has no -Wformat-truncation.)
FUZZ_CC      := clang
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS  := $(filter-out -Wno-format-truncation,$(CFLAGS_BASE)) -Wno-missing-field-initializers -O1 -g -fno-omit-frame-pointer \
                $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS    := $(addprefix build/fuzz/bin/,$(FUZZ_TARGETS))
FUZZ_SECONDS ?= 300

build/fuzz/obj/%.o: src/%.c $(HDRS) $(TOOL_HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC fuzz $<"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(CFLAGS) -c -o $@ $<

build/fuzz/libosvm.a: $(patsubst src/%.c,build/fuzz/obj/%.o,$(LIBSRCS))
	@rm -f $@
	$(Q)ar rcs $@ $^

build/fuzz/libtools.a: $(patsubst src/%.c,build/fuzz/obj/%.o,$(TOOL_LIB))
	@rm -f $@
	$(Q)ar rcs $@ $^

build/fuzz/bin/%: tests/fuzz/%.c build/fuzz/libosvm.a build/fuzz/libtools.a $(HDRS) $(TOOL_HDRS) \
		$(wildcard tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Itests -o $@ $< build/fuzz/libosvm.a \
		build/fuzz/libtools.a $(LDLIBS)

.PHONY: fuzz
fuzz: test-deps
	@$(MAKE) --no-print-directory -j2 $(FUZZ_BINS)
	sh tests/fuzz/run $(FUZZ_SECONDS) $(FUZZ_TARGETS)
test: $(FUZZ_BINS)

# ---- shell completions, made by the command from its own command table ----
COMPLETIONS := build/completions/osvm.bash build/completions/_osvm build/completions/osvm.fish
build/completions/osvm.bash: build/osvm
	@mkdir -p $(dir $@)
	$(Q)build/osvm completion bash >$@.tmp && mv $@.tmp $@
build/completions/_osvm: build/osvm
	@mkdir -p $(dir $@)
	$(Q)build/osvm completion zsh >$@.tmp && mv $@.tmp $@
build/completions/osvm.fish: build/osvm
	@mkdir -p $(dir $@)
	$(Q)build/osvm completion fish >$@.tmp && mv $@.tmp $@

# ---- install: the command, its tool pack, completions and manual ----
# The pack goes to $(PREFIX)/lib/osvm/unikernels, where an installed osvm finds
# it (beside ../lib of its own directory), as a build finds build/unikernels.
PREFIX  ?= /usr/local
DESTDIR ?=
SHARE   := $(DESTDIR)$(PREFIX)/share
.PHONY: install uninstall
install: all
	@$(MAKE) --no-print-directory $(COMPLETIONS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/osvm/unikernels
	install -m 0755 build/osvm $(DESTDIR)$(PREFIX)/bin/osvm
	install -m 0755 $(TOOL_IMAGES) $(DESTDIR)$(PREFIX)/lib/osvm/unikernels/
	install -m 0644 $(TOOL_DEFS) $(DESTDIR)$(PREFIX)/lib/osvm/unikernels/
	install -m 0755 $(AGENT_IMAGE) $(DESTDIR)$(PREFIX)/lib/osvm/unikernels/
	install -d $(SHARE)/bash-completion/completions $(SHARE)/zsh/site-functions \
		$(SHARE)/fish/vendor_completions.d $(SHARE)/man/man1
	install -m 0644 build/completions/osvm.bash $(SHARE)/bash-completion/completions/osvm
	install -m 0644 build/completions/_osvm $(SHARE)/zsh/site-functions/_osvm
	install -m 0644 build/completions/osvm.fish $(SHARE)/fish/vendor_completions.d/osvm.fish
	install -m 0644 docs/osvm.1 $(SHARE)/man/man1/osvm.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/osvm
	rm -rf $(DESTDIR)$(PREFIX)/lib/osvm
	rm -f $(SHARE)/bash-completion/completions/osvm $(SHARE)/zsh/site-functions/_osvm \
		$(SHARE)/fish/vendor_completions.d/osvm.fish $(SHARE)/man/man1/osvm.1
