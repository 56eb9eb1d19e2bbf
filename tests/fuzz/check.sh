#!/bin/sh
# make check's share of the fuzzers: every target over its seed corpus and
# then for a short while (FUZZ_CHECK_SECONDS, default 10 s each), so that a
# change that breaks what the corpus reaches fails here; `make fuzz` runs
# them for longer (docs/testing.md).
set -u
targets=$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')
# shellcheck disable=SC2086
exec sh tests/fuzz/run "${FUZZ_CHECK_SECONDS:-10}" $targets
