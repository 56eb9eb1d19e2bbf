#!/usr/bin/env bash
# OSVM_NO_KVM=1 makes osvm treat /dev/kvm as absent, on any machine. The
# process platform (trapped processes, docs/vmm.md) then runs the tools and
# the agent, and says so without calling a process a VM; KVM asked for by
# name (--platform kvm, "platform": "kvm") is refused naming the switch: the
# engine refuses, the policy falls back and says KVM is the reason, the agent
# runs directly, --require-isolation refuses. Any other value leaves KVM
# alone.
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
OSVM_NO_KVM=1 osvm uk run --platform kvm "$IMG"
check_failed "OSVM_NO_KVM=1: osvm uk run --platform kvm refuses"
check_contains "and names the switch" "OSVM_NO_KVM=1" "$ERR"
OSVM_NO_KVM=1 osvm -vv uk run "$IMG"
check_exit "OSVM_NO_KVM=1: osvm uk run runs the image on the process platform" 0
check_contains "and says which platform ran it" "on the process platform (a trapped process)" "$ERR"
VMM_RUN=$ROOT/build/asan/tests/vmm/vmm_run
if [ -x "$VMM_RUN" ]; then
        why=$(OSVM_NO_KVM=1 "$VMM_RUN" --probe 2>&1)
        check_eq "the engine's probe of KVM says no (77)" 77 "$?"
        check_contains "naming the switch and the way back" \
                "KVM is turned off (OSVM_NO_KVM=1): unset it to use /dev/kvm" "$why"
        OSVM_NO_KVM=1 "$VMM_RUN" --platform process --probe >/dev/null 2>&1
        check_eq "the process platform's probe says yes" 0 "$?"
else
        skip "the engine's probe says no" "build/asan/tests/vmm/vmm_run is not built (make test)"
fi

# ---- the policy ----
OSVM_NO_KVM=1 osvm isolation explain osvm-mcp/get_balance
check_exit "explain exits 0" 0
check_contains "explain names KVM as the reason for the process platform" \
        "KVM is not usable here (KVM is turned off (OSVM_NO_KVM=1): unset it to use /dev/kvm): the process platform runs it" \
        "$OUT"
check_contains "and calls it a trapped process, not a VM" \
        "the call runs in a fresh trapped process, not a VM (the process platform" "$OUT"

# ---- the agent ----
OSVM_NO_KVM=1 osvm -p "get the version" --json
check_json "the agent answers" "$T/out" 'd["answer"].startswith("(offline planner)")'
if [ -f "${OSVM_AGENT_IMAGE:-}" ]; then
        check_contains "in μVM-1's stand-in, a trapped process, naming the switch" \
                "the agent runs in μVM-1's stand-in, a trapped process, not a VM (the process platform): KVM is turned off (OSVM_NO_KVM=1)" \
                "$ERR"
        check_json "the status line claims no VM, and counts the process" "$T/out" \
                'd["status"].startswith("OSVM: 0μVMs 0uK 1μPs 1uKp")'
fi
check_json "the tool ran in a trapped process, no fallback" "$T/out" \
        '[(c["mode"], c["platform"], c["fell_back"]) for c in d["rounds"][0]["calls"]][:1] == [("unikernel", "process", False)]'
OSVM_NO_KVM=1 osvm --require-isolation -p "get the version" --json
check_json "--require-isolation is met by the process platform" "$T/out" \
        'd["answer"].startswith("(offline planner)")'

# ---- "platform": "kvm": KVM or nothing ----
osvm isolation set platform=kvm
OSVM_NO_KVM=1 osvm isolation explain osvm-mcp/get_balance
check_exit "platform kvm: explain exits 0" 0
check_contains "platform kvm: explain names KVM as the reason" \
        "KVM is not usable: KVM is turned off (OSVM_NO_KVM=1)" "$OUT"
check_contains "and falls back, as the default policy says" "Falling back to direct MCP execution" \
        "$OUT"
OSVM_NO_KVM=1 osvm -p "get the version" --json
check_json "platform kvm: the agent answers" "$T/out" 'd["answer"].startswith("(offline planner)")'
check_contains "directly, not inside μVM-1, naming the switch" \
        "not inside μVM-1: KVM is turned off (OSVM_NO_KVM=1)" "$ERR"
check_json "the status line claims no VM, a fallback marked" "$T/out" 'd["status"].startswith("OSVM: 0μVMs 0uK* •")'
check_json "the tool ran directly, a fallback" "$T/out" \
        'd["rounds"][0]["calls"][0]["mode"] == "direct" and d["rounds"][0]["calls"][0]["fell_back"]'
check_contains "with KVM's reason" '"KVM is not usable: KVM is turned off (OSVM_NO_KVM=1)' "$OUT"
OSVM_NO_KVM=1 osvm --require-isolation -p "get the version"
check_exit "--require-isolation refuses" 4
check_contains "naming the switch" "KVM is turned off (OSVM_NO_KVM=1)" "$ERR"
osvm isolation set platform=

# ---- only 1 turns KVM off ----
for v in 0 "" yes; do
        OSVM_NO_KVM=$v osvm uk run --platform kvm "$IMG"
        if [ $KVM = 1 ]; then
                check_exit "OSVM_NO_KVM='$v' leaves KVM on: the image runs" 0
        else
                check_not_contains "OSVM_NO_KVM='$v' is not the reason given" "OSVM_NO_KVM" "$ERR"
        fi
done
finish
