#!/bin/bash
# The engine's KVM calls failing, one at a time: with the sanitizer build's
# fault injection (OSVM_FAULT=kvm:N, docs/testing.md "Fault injection"), the
# Nth KVM ioctl of a run fails, for every N the run makes. Each run ends as
# it did or with an error that says what failed (vmm_run's 125 and its
# reason); none crashes, leaks or trips a sanitizer, and the next run works.
# Needs KVM: skips, saying so, where it is not usable (make check-nested
# runs it on emulated AMD-V).
set -u
. "$(dirname "$0")/lib.bash"
RUN=${FAULT_RUN:-build/asan/tests/vmm/vmm_run}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if ! why=$($RUN --platform kvm --probe 2>&1); then
        echo "# SKIP the KVM fault walk: KVM is not usable here (${why#vmm_run: })"
        exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
want=$'hello from the guest, argc=2\narg 1: one'
OSVM_FAULT=count OSVM_FAULT_REPORT=$tmp/count $RUN --platform kvm build/guests/hello one \
        >"$tmp/out" 2>"$tmp/err"
calls=$(sed -n 's/^count kvm //p' "$tmp/count" 2>/dev/null)
if [ -z "$calls" ] || [ "$calls" -lt 1 ]; then
        not_ok "$RUN counts its KVM calls (is it the sanitizer build, with fault injection?)"
        vmm_done
        exit
fi
ok "a run makes $calls KVM calls"
clean=0 recovered=0
for n in $(seq "$calls"); do
        OSVM_FAULT=kvm:$n OSVM_FAULT_REPORT=$tmp/fired $RUN --platform kvm build/guests/hello one \
                >"$tmp/out" 2>"$tmp/err"
        rc=$?
        if grep -qE 'Sanitizer|runtime error' "$tmp/err"; then
                not_ok "kvm:$n: a sanitizer report: $(grep -m1 -E 'Sanitizer|runtime error' "$tmp/err")"
        elif [ "$rc" = 0 ] && [ "$(cat "$tmp/out")" = "$want" ]; then
                recovered=$((recovered + 1))
        elif [ "$rc" != 0 ] && grep -q '^vmm_run: ' "$tmp/err"; then
                clean=$((clean + 1))
        else
                not_ok "kvm:$n: exit $rc without a reason: $(tail -n 3 "$tmp/err" | tr '\n' ' ')"
        fi
done
[ $((clean + recovered)) = "$calls" ] &&
        ok "each of the $calls KVM calls failing: $clean runs end with their reason, $recovered as before"
out=$($RUN --platform kvm build/guests/hello one 2>&1)
[ "$out" = "$want" ] && ok "the next run works" || not_ok "the next run: $out"
vmm_done
