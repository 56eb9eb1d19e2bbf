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
if ! tests/peers/install.sh all >/dev/null; then
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
# The no-KVM path on every machine: where osvm can use KVM, the shell suites
# whose behaviour differs without it (marked "# tests/run.sh: also with
# OSVM_NO_KVM=1") run again with OSVM_NO_KVM=1. Where it cannot, the suites
# above have just run without it, and a second pass would repeat them.
probe="$build/tests/vmm/vmm_run"
if [ ! -x "$probe" ]; then
        echo "== no second pass with OSVM_NO_KVM=1: $probe is not built to tell whether KVM is usable"
elif ! why=$("$probe" --probe 2>&1); then
        echo "== no second pass with OSVM_NO_KVM=1: KVM is not usable here (${why#vmm_run: }); the suites above ran without it"
else
        for s in $(grep -l '^# tests/run.sh: also with OSVM_NO_KVM=1' tests/*/*.sh); do
                echo "== $s (OSVM_NO_KVM=1)"
                if OSVM_NO_KVM=1 bash "$s"; then
                        pass=$((pass + 1))
                else
                        fail=$((fail + 1))
                        failed="$failed $s(OSVM_NO_KVM=1)"
                fi
        done
fi
echo
[ -n "$failed" ] && echo "failed:$failed"
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
