#!/bin/sh
# Runs the unit test programs and the shell tests against one build.
# usage: tests/run.sh BUILD_DIR TEST...   (TEST like isolation/test_config)
set -u
build=$1
shift
export OSVM_BIN="$PWD/$build/osvm"
# The agent runs inside μVM-1 from the release build's image (the image is
# a static program: there is no sanitizer build of it).
export OSVM_AGENT_IMAGE="${OSVM_AGENT_IMAGE:-$PWD/build/unikernels/osvm-agent.img}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# The real MCP servers the tests talk to, from npm at pinned versions.
if ! tests/peers/install.sh >/dev/null; then
        echo "WARN: the npm test peers could not be installed: the MCP tests that need them skip"
fi

pass=0
fail=0
failed=""
for t in "$@"; do
        echo "== $t"
        if "$build/tests/$t"; then
                pass=$((pass + 1))
        else
                fail=$((fail + 1))
                failed="$failed $t"
        fi
done
for s in tests/*/*.sh; do
        [ -e "$s" ] || continue
        case "$s" in tests/peers/*) continue ;; esac
        echo "== $s"
        if bash "$s"; then
                pass=$((pass + 1))
        else
                fail=$((fail + 1))
                failed="$failed $s"
        fi
done
echo
[ -n "$failed" ] && echo "failed:$failed"
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
