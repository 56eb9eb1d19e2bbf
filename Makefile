# osvm build. `make` builds build/osvm; `make check` builds with ASan+UBSan
# and runs every test. Both install missing Debian packages first.

CC      ?= cc
V       ?= 0
Q       := $(if $(filter 1,$(V)),,@)
LAYERS  := base isolation vmm mcp cli
SRCS    := $(foreach l,$(LAYERS),$(wildcard src/$(l)/*.c))
LIBSRCS := $(filter-out src/cli/main.c,$(SRCS))
HDRS    := $(wildcard src/*/*.h)
TESTS   := $(patsubst tests/%.c,%,$(wildcard tests/*/test_*.c))

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wvla -Wno-format-nonliteral -Wno-format-truncation
CFLAGS_BASE := -std=c17 -D_GNU_SOURCE -Isrc $(WARN) -pthread
LDLIBS  := -ljansson -lcurl -pthread

REL_CFLAGS  := $(CFLAGS_BASE) -O2 -g
ASAN_CFLAGS := $(CFLAGS_BASE) -O1 -g -fno-omit-frame-pointer \
               -fsanitize=address,undefined -fno-sanitize-recover=all

.PHONY: all deps check test unit shell format format-check bench clean run

all: deps
	@$(MAKE) --no-print-directory build/osvm

deps:
	@scripts/install-deps.sh

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
	$(Q)$(CC) $(ASAN_CFLAGS) -c -o $@ $<

build/asan/libosvm.a: $(patsubst src/%.c,build/asan/%.o,$(LIBSRCS))
	@rm -f $@
	$(Q)ar rcs $@ $^

build/asan/osvm: build/asan/cli/main.o build/asan/libosvm.a
	@echo "  LD asan $@"
	$(Q)$(CC) $(ASAN_CFLAGS) -o $@ $^ $(LDLIBS)

build/asan/tests/%: tests/%.c build/asan/libosvm.a $(HDRS) tests/testutil.h
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	$(Q)$(CC) $(ASAN_CFLAGS) -Itests -o $@ $< build/asan/libosvm.a $(LDLIBS) -lcmocka

# ---- tests ----
check: deps
	@$(MAKE) --no-print-directory format-check
	@$(MAKE) --no-print-directory -j2 test

test: build/asan/osvm $(addprefix build/asan/tests/,$(TESTS))
	@tests/run.sh build/asan $(TESTS)

format:
	clang-format -i $(SRCS) $(HDRS) $(wildcard tests/*.h tests/*/*.c bench/*.c)

format-check:
	@clang-format --dry-run --Werror $(SRCS) $(HDRS) $(wildcard tests/*.h tests/*/*.c bench/*.c) \
		&& echo "format: all files clang-formatted"

build/bench/%: bench/%.c build/libosvm.a $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	$(Q)$(CC) $(REL_CFLAGS) -o $@ $< build/libosvm.a $(LDLIBS)

bench: deps build/bench/bench_isolation
	build/bench/bench_isolation

run: all
	build/osvm

clean:
	rm -rf build
