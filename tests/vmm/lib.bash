# Shared by the vmm shell tests: the driver, a skip when /dev/kvm is not
# usable, and TAP-style reporting. Sourced, not run.
VMM_RUN=${VMM_RUN:-build/asan/tests/vmm/vmm_run}
GUESTS=${GUESTS:-build/guests}
pass=0
fail=0

vmm_need_kvm() {
        set -- $VMM_RUN
        local bin=${!#}
        if [ ! -x "$bin" ]; then
                echo "not ok - $bin is not built (make vmm-guests)"
                exit 1
        fi
        if ! why=$($VMM_RUN --probe 2>&1); then
                echo "skip: /dev/kvm is not usable here: $why"
                exit 0
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
