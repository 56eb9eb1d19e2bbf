# Shared by the vmm shell tests: the driver, the platforms to run on, and
# TAP-style reporting. Sourced, not run.
VMM_RUN=${VMM_RUN:-build/asan/tests/vmm/vmm_run}
GUESTS=${GUESTS:-build/guests}
pass=0
fail=0

# The platforms this host runs the engine on, one per line: the process
# platform always (it must work on every host: a failure to start it is a
# failure, not a skip), KVM where /dev/kvm is usable (said when it is not).
# The driver's command for a leg of a suite: a platform, or
# process-patched, the process platform with every image's system call
# sites patched from its first run (src/vmm/proc_patch.c; a one-shot run
# otherwise runs unpatched).
vmm_leg() {
        case $1 in
        process-patched) echo "env OSVM_PROC_PATCH=now $VMM_RUN --platform process" ;;
        *) echo "$VMM_RUN --platform $1" ;;
        esac
}

vmm_platforms() {
        set -- $VMM_RUN
        local bin=${!#} why
        if [ ! -x "$bin" ]; then
                echo "not ok - $bin is not built (make vmm-guests)" >&2
                exit 1
        fi
        # Run by hand after a change, a driver not built again would test the
        # engine as it was: said, not run. (Only where the sources are: the
        # nested guest has a copy of the tests alone.)
        local newer=
        [ -d src/vmm ] && newer=$(find src tests/vmm/vmm_run.c -newer "$bin" \
                \( -name '*.[chS]' -o -name '*.ld' \) -print -quit 2>/dev/null)
        if [ -n "$newer" ]; then
                echo "not ok - $bin is older than $newer (make vmm-guests)" >&2
                exit 1
        fi
        # OSVM_TEST_PLATFORMS="kvm" (tests/nested): only the legs named; a
        # platform named there that does not work is a failure, not a skip.
        local only=${OSVM_TEST_PLATFORMS:-}
        if [ -z "$only" ] || [[ " $only " == *" process "* ]]; then
                echo process
        fi
        if [ -n "$only" ] && [[ " $only " != *" kvm "* ]]; then
                return 0
        fi
        if why=$($VMM_RUN --platform kvm --probe 2>&1); then
                echo kvm
        elif [ -n "$only" ]; then
                echo "not ok - kvm: asked for by OSVM_TEST_PLATFORMS, not usable: $why" >&2
                exit 1
        else
                echo "# kvm: not here, its leg skips: $why" >&2
        fi
}

# Debian's busybox-static, which some suites run as a guest: BB, or the
# suite fails saying how to get it.
BB=/bin/busybox
need_busybox() {
        if ! [ -x "$BB" ]; then
                echo "not ok - $BB missing: install busybox-static (scripts/install-deps.sh)"
                exit 1
        fi
}

ok() {
        pass=$((pass + 1))
        echo "ok - $*"
}

not_ok() {
        fail=$((fail + 1))
        echo "not ok - $*"
}

vmm_done() {
        echo "# $pass passed, $fail failed"
        [ "$fail" -eq 0 ]
}
