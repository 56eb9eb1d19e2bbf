#!/bin/bash
# The hostile suite and the busybox comparison again, with the engine under
# valgrind (release build, no ASan): no invalid access, no definite leak.
set -u
cd "$(dirname "$0")/../.."
bin=build/rel/tests/vmm/vmm_run
if ! command -v valgrind >/dev/null; then
        echo "not ok - valgrind is not installed (scripts/install-deps.sh)"
        exit 1
fi
if [ ! -x "$bin" ]; then
        echo "not ok - $bin is not built (make vmm-guests)"
        exit 1
fi
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
# valgrind's own words go to files, not into the output compared with the host
export VMM_RUN="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --suppressions=tests/vmm/valgrind.supp --log-file=$logs/vg.%p $bin"
rc=0
bash tests/vmm/hostile.sh || rc=1
bash tests/vmm/busybox.sh || rc=1
# errors are "==PID==" lines (warnings such as an unknown openat2 are "--PID--")
if grep -l '^==' "$logs"/vg.* >/dev/null 2>&1; then
        echo "not ok - valgrind found errors:"
        grep -h '^==' "$logs"/vg.* | head -50
        rc=1
else
        echo "ok - valgrind: no errors in $(ls "$logs" | wc -l) runs"
fi
exit $rc
