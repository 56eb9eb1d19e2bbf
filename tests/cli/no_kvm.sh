#!/usr/bin/env bash
# OSVM_NO_KVM=1 makes osvm treat /dev/kvm as absent, on any machine: the
# engine refuses and names the switch, the policy falls back and says KVM is
# the reason, the agent runs directly, --require-isolation refuses. Any other
# value leaves KVM alone.
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

IMG=$ROOT/build/unikernels/osvm-mcp-get_slot.img
if [ ! -f "$IMG" ]; then
        fail "the osvm-mcp images are built (make tools)"
        finish
        exit
fi
fresh
export OSVM_BUILTIN_IMAGES=$ROOT/build/unikernels
KVM=0
(unset OSVM_NO_KVM && kvm_probe) && KVM=1

# ---- the engine ----
OSVM_NO_KVM=1 osvm uk run "$IMG"
check_failed "OSVM_NO_KVM=1: osvm uk run refuses"
check_contains "and names the switch" "OSVM_NO_KVM=1" "$ERR"
VMM_RUN=$ROOT/build/asan/tests/vmm/vmm_run
if [ -x "$VMM_RUN" ]; then
        why=$(OSVM_NO_KVM=1 "$VMM_RUN" --probe 2>&1)
        check_eq "the engine's probe says no (77)" 77 "$?"
        check_contains "naming the switch and the way back" \
                "KVM is turned off (OSVM_NO_KVM=1): unset it to use /dev/kvm" "$why"
else
        skip "the engine's probe says no" "build/asan/tests/vmm/vmm_run is not built (make test)"
fi

# ---- the policy ----
OSVM_NO_KVM=1 osvm isolation explain osvm-mcp/get_balance
check_exit "explain exits 0" 0
check_contains "explain names KVM as the reason" \
        "KVM is not usable: KVM is turned off (OSVM_NO_KVM=1)" "$OUT"
check_contains "and falls back, as the default policy says" "Falling back to direct MCP execution" \
        "$OUT"

# ---- the agent ----
OSVM_NO_KVM=1 osvm -p "get the version" --json
check_json "the agent answers" "$T/out" 'd["answer"].startswith("(offline planner)")'
check_contains "directly, not inside μVM-1, naming the switch" \
        "not inside μVM-1: KVM is turned off (OSVM_NO_KVM=1)" "$ERR"
check_json "the status line claims no VM" "$T/out" 'd["status"].startswith("OSVM: 0μVMs 0uK")'
check_json "the tool ran directly, a fallback" "$T/out" \
        'd["rounds"][0]["calls"][0]["mode"] == "direct" and d["rounds"][0]["calls"][0]["fell_back"]'
check_contains "with KVM's reason" '"KVM is not usable: KVM is turned off (OSVM_NO_KVM=1)' "$OUT"
OSVM_NO_KVM=1 osvm --require-isolation -p "get the version"
check_exit "--require-isolation refuses" 4
check_contains "naming the switch" "KVM is turned off (OSVM_NO_KVM=1)" "$ERR"

# ---- only 1 turns KVM off ----
for v in 0 "" yes; do
        OSVM_NO_KVM=$v osvm uk run "$IMG"
        if [ $KVM = 1 ]; then
                check_exit "OSVM_NO_KVM='$v' leaves KVM on: the image runs" 0
        else
                check_not_contains "OSVM_NO_KVM='$v' is not the reason given" "OSVM_NO_KVM" "$ERR"
        fi
done
finish
