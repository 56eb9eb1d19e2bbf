#!/bin/bash
# The KVM engine's suite on the AMD-V path, on any x86-64 machine: Debian's
# kernel (linux-image-amd64, fetched with apt-get download) boots under QEMU's
# TCG with emulated AMD SVM from an initramfs built here (osvm's release build
# and its shared libraries, the test guests and images, busybox, bash, a
# minimal Python, the tests, kvm and kvm_amd); the guest loads the modules,
# runs the engine's tests on its /dev/kvm (tests/nested/runner.bash) and
# reports each result over its second serial port. Each check made inside is
# one TAP line here, then "N passed, N failed". Timings under TCG are never
# performance. See docs/testing.md, "The nested AMD-V run".
#
# usage: tests/nested/nested.sh        (make check-nested builds what it needs)
# OSVM_NESTED_GUARD=S: the hang guard on the whole boot (default 1500 s).
# OSVM_NESTED_ONLY=SUITE,...: only these suites (names as in runner.bash).
set -u
# tests/lib.sh's checks and closing line; the osvm it needs is the release
# build's, the one the guest gets.
export OSVM_BIN="$(cd "$(dirname "$0")/../.." && pwd)/build/osvm"
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
cd "$ROOT" || exit 1
W=$ROOT/build/nested
# A guard against a hang only, generous for a loaded 2-core machine: a run
# takes a few minutes. Nothing inside is timed as pass/fail.
GUARD=${OSVM_NESTED_GUARD:-1500}

# Stops the run: a failure that leaves nothing else to check.
give_up() {
        fail "$@"
        finish
        exit 1
}

# ---- what the host needs ----
for t in qemu-system-x86_64 dpkg-deb apt-get ldd; do
        command -v $t >/dev/null 2>&1 ||
                give_up "nested: $t is here" "install it: scripts/install-deps.sh --test (qemu-system-x86, dpkg, apt)"
done
BUSYBOX=/bin/busybox
[ -x $BUSYBOX ] || give_up "nested: $BUSYBOX is here" "install busybox-static: scripts/install-deps.sh --test"
missing=""
for f in build/osvm build/rel/tests/vmm/vmm_run build/rel/tests/vmm/test_run build/rel/tests/mcp/test_egress \
        build/rel/tests/sandbox/test_sandbox build/asan/tests/vmm/vmm_run \
        build/unikernels/osvm-agent.img build/unikernels/osvm-mcp.tools.json build/guests/hello \
        build/guests/agent_hostile; do
        [ -e "$f" ] || missing="$missing $f"
done
[ -z "$missing" ] || give_up "nested: the release build is here" "missing:$missing" "build it with: make check-nested"
pass "nested: qemu, busybox and the release build are here"

# ---- the kernel: Debian's, from the package linux-image-amd64 depends on ----
mkdir -p "$W"
# dep_of: the linux-image-* package that linux-image-amd64 names.
dep_of() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }'; }
pkg=$(dep_of)
if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
        apt-get update -qq >/dev/null 2>&1
        pkg=$(dep_of)
fi
[ -n "$pkg" ] || give_up "nested: apt knows linux-image-amd64" \
        "apt-cache depends linux-image-amd64 names no kernel package: run apt-get update (as root)"
deb=$(ls "$W/${pkg}"_*.deb 2>/dev/null | tail -1)
if [ -z "$deb" ]; then
        rm -f "$W"/linux-image-*.deb
        if ! out=$(cd "$W" && apt-get download "$pkg" 2>&1); then
                give_up "nested: the kernel package $pkg is downloaded" "$out"
        fi
        deb=$(ls "$W/${pkg}"_*.deb 2>/dev/null | tail -1)
        [ -n "$deb" ] || give_up "nested: the kernel package $pkg is downloaded" "apt-get download left no .deb in $W"
fi
K=$W/kernel
if [ ! -f "$K/.from" ] || [ "$(cat "$K/.from")" != "${deb##*/}" ]; then
        rm -rf "$K"
        mkdir -p "$K"
        # only the kernel and the modules that KVM on AMD can need
        if ! out=$(dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$K" --wildcards \
                './boot/vmlinuz-*' '*/modules/*/modules.builtin' '*/kernel/arch/x86/kvm/*' \
                '*/kernel/virt/*' '*/kernel/drivers/crypto/*' 2>&1); then
                give_up "nested: the kernel is unpacked from ${deb##*/}" "$out"
        fi
        echo "${deb##*/}" >"$K/.from"
fi
vmlinuz=$(ls "$K"/boot/vmlinuz-* 2>/dev/null | head -1)
[ -n "$vmlinuz" ] || give_up "nested: ${deb##*/} holds a kernel" "no boot/vmlinuz-* in it"
moddir=$(dirname "$(find "$K" -name modules.builtin | head -1)")

# The modules to load, dependencies first: kvm_amd and what it depends on
# (the "depends=" of each module's .modinfo), less those built in.
modfile() { find "$moddir/kernel" -name "$(echo "$1" | tr _ -).ko*" -o -name "$(echo "$1" | tr - _).ko*" | head -1; }
order=""
add_mod() {
        local m=$1 f d
        case " $order " in *" $m "*) return 0 ;; esac
        f=$(modfile "$m")
        if [ -z "$f" ]; then
                grep -Eq "/$(echo "$m" | sed 's/[-_]/[-_]/g')\.ko" "$moddir/modules.builtin" && return 0
                give_up "nested: module $m is in ${deb##*/}" "not found below $moddir/kernel"
        fi
        case "$f" in
        *.xz) d=$($BUSYBOX xzcat "$f" | grep -a -o 'depends=[a-z0-9_,-]*' | head -1) ;;
        *.ko) d=$(grep -a -o 'depends=[a-z0-9_,-]*' "$f" | head -1) ;;
        *) give_up "nested: module $m can be read" "$f: compressed in a way this script does not unpack" ;;
        esac
        d=${d#depends=}
        for dep in ${d//,/ }; do
                add_mod "$dep"
        done
        order="$order $m"
}
add_mod kvm_amd
pass "nested: kernel ${vmlinuz##*/} from ${deb##*/}, modules:$order"

# ---- the initramfs ----
R=$W/root
rm -rf "$R"
# Debian's layout (/bin, /lib, /lib64 and /sbin in /usr), so that each file
# copied at its own path is found there whichever way the host has it.
mkdir -p "$R"/usr/{bin,lib,lib64,sbin} "$R"/{dev,proc,sys,tmp,etc,osvm}
for d in bin lib lib64 sbin; do
        ln -s usr/$d "$R/$d"
done
mkdir -p "$R/usr/lib/modules"
# copy FILE [DEST]: the file at its own path (or DEST) and, for a dynamic
# ELF, every shared library it loads, at theirs.
copy() {
        local f=$1 dest=${2:-$1} lib
        mkdir -p "$R$(dirname "$dest")"
        cp -L "$f" "$R$dest" || return 1
        [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] || return 0
        for lib in $(ldd "$f" 2>/dev/null | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }'); do
                [ -e "$R$lib" ] || copy "$lib"
        done
}
fail_copy=""
copy $BUSYBOX /bin/busybox || fail_copy="$fail_copy busybox"
copy "$(type -P bash)" /bin/bash || fail_copy="$fail_copy bash"
# a dynamically linked program the engine must refuse (tests/vmm/hostile.sh)
copy "$(type -P true)" /bin/true || fail_copy="$fail_copy true"
# binutils' nm, for the tests that read a program's symbols
copy "$(type -P nm)" /usr/bin/nm || fail_copy="$fail_copy nm"
# util-linux's setpriv (busybox's has no --reuid: tests/microvm/hostile.sh)
copy "$(type -P setpriv)" /bin/setpriv || fail_copy="$fail_copy setpriv"
# the C.UTF-8 locale that tests/lib.sh sets
mkdir -p "$R/usr/lib/locale"
cp -r /usr/lib/locale/C.utf8 "$R/usr/lib/locale/" || fail_copy="$fail_copy /usr/lib/locale/C.utf8"
# Debian's Python for the tests' JSON checks (tests/lib.sh), the local
# endpoint (tests/agent/llm_server.py) and the sandboxed server of
# tests/sandbox/cgroup2.sh (tests/mcp/sandbox_server.py): the interpreter and
# the modules they load.
py=/usr/bin/python3
if [ -x $py ]; then
        copy "$(readlink -f $py)" /usr/bin/python3 || fail_copy="$fail_copy python3"
        for f in $($py - <<'EOF'
import argparse, http.server, json, os, socketserver, sys, threading, time  # noqa: F401
import encodings.idna, email.feedparser, html, mimetypes  # noqa: F401  (loaded by http.server)
import ctypes, urllib.request  # noqa: F401  (tests/mcp/sandbox_server.py)
for m in list(sys.modules.values()):
    for a in ("__file__", "__cached__"):
        f = getattr(m, a, None)
        if isinstance(f, str) and os.path.exists(f):
            print(f)
EOF
        ); do
                copy "$f" || fail_copy="$fail_copy $f"
        done
else
        fail_copy="$fail_copy $py (Debian's python3)"
fi
for m in $order; do
        f=$(modfile "$m")
        case "$f" in
        *.xz) $BUSYBOX xzcat "$f" >"$R/lib/modules/$m.ko" ;;
        *) cp "$f" "$R/lib/modules/$m.ko" ;;
        esac
done
echo "$order" >"$R/lib/modules/order"
cp tests/nested/init "$R/init"
chmod 755 "$R/init"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"
# osvm's tree as the tests expect it: the release build, the guests, the
# images, the tests (scripts and data; not the npm peers).
O=/osvm
mkdir -p "$R$O/build"
copy build/osvm $O/build/osvm || fail_copy="$fail_copy osvm"
for b in build/rel/tests/vmm/vmm_run build/rel/tests/vmm/test_run build/rel/tests/mcp/test_egress \
        build/rel/tests/sandbox/test_sandbox build/asan/tests/vmm/vmm_run; do
        copy $b $O/$b || fail_copy="$fail_copy $b"
done
cp -r build/guests build/unikernels "$R$O/build/" || fail_copy="$fail_copy build/guests build/unikernels"
rm -f "$R$O"/build/unikernels/*.log "$R$O"/build/guests/*.o
[ -d build/stub ] && cp -r build/stub "$R$O/build/"
cp -r tests "$R$O/" || fail_copy="$fail_copy tests"
rm -rf "$R$O/tests/peers/node_modules_root"
[ -z "$fail_copy" ] || give_up "nested: the initramfs is built" "could not copy:$fail_copy"
img=$W/initramfs.cpio
if ! (cd "$R" && find . | $BUSYBOX cpio -o -H newc >"$img" 2>/dev/null); then
        give_up "nested: the initramfs is built" "busybox cpio failed"
fi
rm -rf "$R"
pass "nested: initramfs of $(($(stat -c %s "$img") / 1048576)) MiB (uncompressed)"

# ---- the boot ----
# ttyS0 is the kernel's console (to a file, shown when the boot fails),
# ttyS1 the runner's results (read here as they come).
console=$W/console.log
results=$W/results.log
qerr=$W/qemu.log
rm -f "$console" "$results" "$qerr"
echo "# booting under TCG with emulated SVM (kernel console: $console); TCG timings are not performance"
mon=$W/monitor.sock
hang=$W/hang.txt
rm -f "$mon" "$hang"
qemu-system-x86_64 -machine q35,accel=tcg -cpu EPYC,+svm -smp 1 -m 2048 \
        -nodefaults -no-user-config -display none -no-reboot \
        -kernel "$vmlinuz" -initrd "$img" \
        -append "console=ttyS0 quiet loglevel=4 panic=-1 nokaslr rdinit=/init${OSVM_NESTED_ONLY:+ OSVM_NESTED_ONLY=$OSVM_NESTED_ONLY}" \
        -monitor "unix:$mon,server=on,wait=off" \
        -serial "file:$console" -serial stdio </dev/null 2>"$qerr" >"$results" &
qpid=$!
# The hang guard: past it, what the guest's vCPUs are doing goes to $hang,
# then QEMU is stopped.
(
        trap 'kill $s 2>/dev/null; exit 0' TERM
        sleep "$GUARD" &
        s=$!
        wait $s
        kill -0 $qpid 2>/dev/null || exit 0
        $py tests/nested/vcpus.py "$mon" >"$hang" 2>&1
        kill $qpid
) &
guard=$!
trap 'kill $qpid $guard 2>/dev/null; rm -rf "$TMPROOT"' EXIT

# Reads the results as they come: TAP lines of each suite become ours,
# "@nested ..." lines are the runner's own.
state=boot # boot -> init -> kvm -> suites -> end
suite=""
suite_checks=0
suite_fails=0
inside=0
inside_failed=0
inside_skipped=0
cannot=0
while IFS= read -r line; do
        line=${line%$'\r'}
        case "$line" in
        "@nested init")
                state=init
                pass "nested: the guest kernel booted and reached the runner"
                ;;
        "@nested module "*" ok") ;;
        "@nested module "*)
                fail "nested: kernel module ${line#@nested module }" ;;
        "@nested modules ok"*)
                pass "nested: modules loaded in the guest:${line#@nested modules ok:}" ;;
        "@nested kvm ok: "*)
                state=kvm
                pass "nested: KVM in the guest: ${line#@nested kvm ok: }" ;;
        "@nested kvm failed: "*)
                fail "nested: KVM in the guest" "${line#@nested kvm failed: }" ;;
        "@nested suite "*)
                state=suites
                suite=${line#@nested suite }
                suite_checks=0
                suite_fails=0
                echo "# == $suite (in the nested guest)"
                ;;
        "@nested suite-end "*)
                st=${line##* }
                if [ "$st" != 0 ] && [ $suite_fails = 0 ]; then
                        fail "$suite: exited with status $st after $suite_checks checks"
                        inside=$((inside + 1))
                        inside_failed=$((inside_failed + 1))
                elif [ $suite_checks = 0 ]; then
                        fail "$suite: ran no check"
                        inside=$((inside + 1))
                        inside_failed=$((inside_failed + 1))
                fi
                suite=""
                ;;
        "@nested cannot "*)
                # a suite that cannot run in the guest, and why
                rest=${line#@nested cannot }
                skip "${rest%%: *}" "cannot run in the nested guest: ${rest#*: }"
                cannot=$((cannot + 1))
                ;;
        "@nested end"*)
                state=end ;;
        "@nested "*)
                echo "# $line" ;;
        "ok "* | "not ok "*)
                if [ -z "$suite" ]; then
                        echo "# $line"
                        continue
                fi
                rest=${line#not }
                rest=${rest#ok}
                rest=$(sed -E 's/^ [0-9]+//; s/^ -//; s/^ //' <<<"$rest")
                suite_checks=$((suite_checks + 1))
                inside=$((inside + 1))
                # (a skip is a skip, "ok" or "not ok": cmocka says "not ok N # SKIP")
                case "$rest" in
                *"# SKIP"* | *"# skip"*)
                        inside_skipped=$((inside_skipped + 1))
                        pass "$suite: $rest"
                        ;;
                *)
                        case "$line" in
                        "not ok"*)
                                suite_fails=$((suite_fails + 1))
                                inside_failed=$((inside_failed + 1))
                                fail "$suite: $rest"
                                ;;
                        *) pass "$suite: $rest" ;;
                        esac
                        ;;
                esac
                ;;
        "") ;;
        *) echo "#   $line" ;;
        esac
done < <(tail -n +1 -F --pid=$qpid "$results" 2>/dev/null)
wait $qpid
qrc=$?
kill $guard 2>/dev/null

tail_of() { tail -n "${2:-25}" "$1" 2>/dev/null | sed 's/\r$//'; }
if [ -s "$hang" ]; then
        fail "nested: the guest finished within the hang guard of $GUARD s" \
                "stopped while: ${suite:-$state}" "its vCPUs ($hang):" "$(grep '^vCPU RIP' "$hang")" \
                "kernel console:" "$(tail_of "$console")"
elif [ $state = boot ]; then
        fail "nested: the guest kernel booted and reached the runner" \
                "qemu exit $qrc; qemu said:" "$(grep -v 'TCG doesn.t support requested feature' "$qerr" | tail -5)" \
                "kernel console:" "$(tail_of "$console")"
elif [ $state = init ]; then
        fail "nested: the guest's KVM came up (kernel module or /dev/kvm, above)" \
                "kernel console:" "$(tail_of "$console")"
elif [ $state != end ]; then
        fail "nested: the runner in the guest ran to its end" \
                "stopped while: ${suite:-$state}" "kernel console:" "$(tail_of "$console")"
fi
echo "# checks run inside the nested AMD-V guest: $inside ($((inside - inside_failed)) passed, of" \
        "them $inside_skipped skipped; $inside_failed failed); suites that cannot run there: $cannot"
finish
