#!/bin/sh
# Runs fuzz targets, each for a set time over its corpus, and fails on any
# finding (a crash, a sanitizer report, a leak, a timeout, running out of
# memory), printing the path of the input that reproduces it.
#
# usage: tests/fuzz/run.sh SECONDS TARGET...   (TARGET like fuzz_tools_json)
#
# The binaries are build/fuzz/bin/TARGET (make fuzz builds them). Each reads
# its seeds from tests/fuzz/corpus/TARGET (never written) and the inputs
# earlier runs kept, in build/fuzz/corpus/TARGET (where new ones go), with
# tests/fuzz/TARGET.dict when there is one. A finding is written to
# build/fuzz/findings/TARGET/; the run's output is build/fuzz/log/TARGET.log.
# FUZZ_JOBS targets run at once (default: the number of processors).
set -u
[ $# -ge 2 ] || { echo "usage: tests/fuzz/run.sh SECONDS TARGET..." >&2; exit 2; }
secs=$1
shift
case "$secs" in '' | *[!0-9]*) echo "fuzz: SECONDS must be a whole number, not '$secs'" >&2; exit 2 ;; esac

# One target; prints its line of the summary; 0 when it found nothing.
one() {
        t=$1
        bin=build/fuzz/bin/$t
        log=build/fuzz/log/$t.log
        mkdir -p build/fuzz/corpus/$t build/fuzz/findings/$t build/fuzz/log
        if [ ! -x "$bin" ]; then
                echo "$t: FAILED: $bin is not built (make fuzz builds it)"
                return 1
        fi
        dict=""
        [ -f tests/fuzz/$t.dict ] && dict="-dict=tests/fuzz/$t.dict"
        # -timeout: one input running this long is a hang (generous: the
        # machine may be slow and loaded). -close_fd_mask: the targets' own
        # error messages are not the fuzzer's; its reports still print.
        # shellcheck disable=SC2086
        "$bin" -max_total_time="$secs" -timeout=60 -rss_limit_mb=2048 -print_final_stats=1 \
                -close_fd_mask=3 -artifact_prefix=build/fuzz/findings/$t/ $dict \
                build/fuzz/corpus/$t tests/fuzz/corpus/$t >"$log" 2>&1
        rc=$?
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
        ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
        corp=$(ls tests/fuzz/corpus/$t build/fuzz/corpus/$t 2>/dev/null | grep -vc ':$')
        what="${runs:-?} runs in ${secs} s, coverage ${cov:-?} edges (${ft:-?} features), corpus ${corp} inputs"
        if [ "$rc" -eq 0 ]; then
                echo "$t: ok: $what"
                return 0
        fi
        echo "$t: FAILED (exit $rc): $what"
        grep -m 3 -e '^==[0-9]*==ERROR' -e '^SUMMARY' -e 'ALARM' -e 'out-of-memory' \
                -e 'runtime error' "$log" | sed 's/^/  /'
        repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        if [ -n "$repro" ]; then
                echo "  reproducer: $repro (run: $bin $repro)"
        else
                echo "  no reproducer written; the whole output: $log"
        fi
        return 1
}

if [ "${1:-}" = "--one" ]; then
        one "$2"
        exit $?
fi

jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
echo "fuzz: $# targets, ${secs} s each, $jobs at once"
mkdir -p build/fuzz/log
# each target's line goes to its own file, so that parallel runs do not mix
for t in "$@"; do echo "$t"; done |
        xargs -P "$jobs" -I{} sh -c "'$0' $secs --one {} >build/fuzz/log/{}.result"
fail=0
for t in "$@"; do
        cat "build/fuzz/log/$t.result"
        grep -q "^$t: ok:" "build/fuzz/log/$t.result" || fail=$((fail + 1))
done
echo "fuzz: $(($# - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
