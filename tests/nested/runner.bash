#!/bin/bash
# Inside the nested guest (started by tests/nested/init, in /osvm): the
# engine's tests, each between "@nested suite NAME" and "@nested suite-end
# NAME STATUS", their TAP lines as they are. The release build, and the
# hostile suite once more with the sanitizer build of its driver.
set -u
cd /osvm || exit 1
export OSVM_BIN=/osvm/build/osvm
export VMM_RUN=build/rel/tests/vmm/vmm_run
export OSVM_AGENT_IMAGE=/osvm/build/unikernels/osvm-agent.img
export LC_ALL=C.UTF-8
# QEMU's TCG, not hardware, runs this guest's guests (tests/vmm/hostile.sh).
export OSVM_NESTED_TCG=1
# The shell suites' process-platform legs run on the machine itself (make
# check); here only their KVM legs, which is what this run is for and keeps
# it within minutes under TCG.
export OSVM_TEST_PLATFORMS=kvm

# OSVM_NESTED_ONLY (from the kernel's command line): the suites to run,
# comma-separated; all when unset.
want() { [ -z "${OSVM_NESTED_ONLY:-}" ] || [[ ",$OSVM_NESTED_ONLY," == *",$1,"* ]]; }

# A note for the report of a hang, not a verdict: every 5 minutes that one
# suite runs on, what the guest is doing (its processes, their kernel stacks).
watch() { # NAME
        local t=0 p
        while sleep 60; do
                t=$((t + 60))
                [ $((t % 300)) = 0 ] || continue
                echo "@nested note: $1 has run for $t s; the guest's processes:"
                for p in /proc/[0-9]*; do
                        [ -e "$p/exe" ] || continue
                        echo "@nested note: ${p#/proc/} $(tr '\0' ' ' <"$p/cmdline" | head -c 120)"
                        cat "$p"/task/*/stack 2>/dev/null | sed 's/^/@nested note:     /' | head -20
                done
        done
}

suite() { # NAME CMD...
        local name=$1 w
        shift
        want "$name" || return 0
        echo "@nested suite $name"
        watch "$name" &
        w=$!
        "$@"
        echo "@nested suite-end $name $?"
        kill $w 2>/dev/null
        wait $w 2>/dev/null
}

# The path this run is for: syscalls enter the guest's CPL0 stub (AMD-V),
# the engine did not take this /dev/kvm for PVM, and no VT-x module is here.
amdv() {
        local n=0 bad=0
        check() {
                n=$((n + 1))
                if eval "$2"; then echo "ok $n - $1"; else
                        echo "not ok $n - $1"
                        bad=1
                fi
        }
        check "kvm_amd is loaded" '[ -d /sys/module/kvm_amd ]'
        check "kvm_intel and kvm_pvm are not" '[ ! -d /sys/module/kvm_intel ] && [ ! -d /sys/module/kvm_pvm ]'
        check "the guest's CPU says svm and not vmx" 'grep -qw svm /proc/cpuinfo && ! grep -qw vmx /proc/cpuinfo'
        out=$($VMM_RUN build/guests/hello one 2>&1)
        check "a musl program runs in a VM here" '[ "$out" = "hello from the guest, argc=2
arg 1: one" ]'
        # The process platform in this older kernel, which put the vDSO at a
        # random place just above the stack (before 6.9): the zygote once kept
        # pages past its stack out of forks and, when that range reached the
        # vDSO, could not start (EINVAL, about 1 start in 80). 40 starts.
        local i failed=0 why="" p
        for i in $(seq 40); do
                p=$(OSVM_NO_KVM=1 build/osvm uk run build/guests/hello one 2>&1) ||
                        { failed=$((failed + 1)); why=$p; }
        done
        check "the process platform starts here, 40 times in 40 (failed: $failed; ${why:0:300})" \
                '[ $failed = 0 ]'
        return $bad
}

suite engine/amd-v amdv
suite vmm/test_run env CMOCKA_MESSAGE_OUTPUT=TAP build/rel/tests/vmm/test_run
suite vmm/hostile.sh bash tests/vmm/hostile.sh
# the hostile guests once more against the sanitizer build of the driver:
# the host side of the AMD-V path under ASan and UBSan
suite vmm/hostile.sh:asan env VMM_RUN=build/asan/tests/vmm/vmm_run \
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        bash tests/vmm/hostile.sh
# every KVM call of a run failing in turn (the sanitizer build's fault injection)
suite vmm/fault_kvm.sh env FAULT_RUN=build/asan/tests/vmm/vmm_run bash tests/vmm/fault_kvm.sh
suite vmm/busybox.sh bash tests/vmm/busybox.sh
suite vmm/cli.sh bash tests/vmm/cli.sh
suite mcp/test_egress env CMOCKA_MESSAGE_OUTPUT=TAP build/rel/tests/mcp/test_egress
suite nested/tools.bash bash tests/nested/tools.bash
suite microvm/hostile.sh bash tests/microvm/hostile.sh
# Not the engine: a machine of its own, where the sandbox's limits are shown on
# cgroup v2 whatever the host has (it mounts the hierarchy, moves processes).
suite sandbox/cgroup2.sh env OSVM_CGROUP2_TEST=1 bash tests/sandbox/cgroup2.sh
# The other suites with a KVM leg, and why they stay on the host.
cannot() { echo "@nested cannot $1: $2"; }
npm="its peers are MCP servers on Node.js from npm (~300 MB, too large for the guest)"
cannot tools/solana.sh "its endpoint is LiteSVM on Node.js from npm; nested/tools.bash calls each image against tests/agent/llm_server.py instead"
cannot tools/direct.sh "~700 Python starts, minutes under TCG; nested/tools.bash runs each image once through osvm, with its host call"
cannot vmm/valgrind.sh "valgrind under TCG takes too long; the hostile suite runs under ASan here instead"
cannot cli/commands.sh "it expects the sanitizer build's layout (no tool pack beside build/asan/osvm); its VM legs are those of vmm/cli.sh and nested/tools.bash"
cannot cli/install.sh "make install needs the source tree and the compiler"
cannot cli/chat.sh "$npm; μVM-1's KVM leg is microvm/hostile.sh's"
cannot cli/doctor.sh "$npm"
cannot mcp/cli.sh "$npm; tool calls in VMs are nested/tools.bash's"
cannot agent/llm_e2e.sh "$npm; the one-shot agent in μVM-1 is microvm/hostile.sh's"
cannot mcp/test_hub "$npm; its unikernel route is the one nested/tools.bash takes"
