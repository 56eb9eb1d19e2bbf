#!/usr/bin/env bash
# `osvm unikernel run` (alias `osvm uk run`): stdin in, stdout out, the exit
# status as osvm's, limits and faults in words, mounts.
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

G=$ROOT/build/guests
fresh
if ! "$OSVM" uk run "$G/hello" >/dev/null 2>"$T/probe"; then
        skip "osvm unikernel run" "no usable /dev/kvm here: $(head -c 200 "$T/probe")"
        finish
        exit
fi

printf 'hello from stdin\n' >"$T/in"
OSVM_STDIN=$T/in osvm unikernel run "$G/echo"
check_exit "a musl program runs and exits 0" 0
check_eq "stdin goes in, stdout comes out" "hello from stdin" "$OUT"
OSVM_STDIN=$T/in osvm uk run "$G/echo.glibc"
check_eq "a glibc program too (alias uk)" "hello from stdin" "$OUT"

printf '3\n1\n2\n' >"$T/nums"
OSVM_STDIN=$T/nums osvm uk run /bin/busybox sort -n
check_eq "busybox sort -n matches the host" "$(sort -n "$T/nums")" "$OUT"

mkdir -p "$T/data"
printf 'in a mount\n' >"$T/data/file.txt"
osvm uk run --mount "$T/data:/data" /bin/busybox cat /data/file.txt
check_eq "a file below a mount can be read" "in a mount" "$OUT"
osvm uk run --mount "$T/data:/data" /bin/busybox cat /etc/hostname
check_exit "a path outside every mount cannot" 1
check_contains "busybox says so" "No such file" "$ERR"
osvm uk run --mount "$T/data:/data" /bin/busybox cp /data/file.txt /data/new
check_failed "a read-only mount refuses writes"
check_contains "with the reason" "Read-only file system" "$ERR"
osvm uk run --mount "$T/data:/data:rw" /bin/busybox cp /data/file.txt /data/new
check_exit "a :rw mount allows them" 0
check_eq "and the file is there on the host" "yes" "$([ -f "$T/data/new" ] && echo yes)"

osvm uk run --timeout 300 "$G/loop"
check_exit "an endless loop stops at the time limit: 125" 125
check_contains "naming the limit" "time limit of 300 ms" "$ERR"
# Ctrl-C (SIGINT to osvm) ends the VM at once, as it ends a tool call
"$OSVM" uk run --timeout 60000 "$G/loop" >"$T/out" 2>"$T/err" &
pid=$!
wait_sigint_caught $pid
kill -INT $pid
wait $pid
check_eq "Ctrl-C stops a looping program: 130" 130 $?
check_contains "and says it was cancelled" "cancelled (Ctrl-C)" "$(cat "$T/err")"
osvm uk run "$G/noncanon"
check_exit "a jump to a non-canonical address fails as a signal would (139)" 139
check_contains "reported in words" "general protection fault" "$ERR"
osvm uk run --mem 1 "$G/hello"
check_exit "a bad --mem is a usage error" 2
osvm uk run /nonexistent/image
check_exit "a missing image fails" 1
osvm uk run "$T/in"
check_exit "a file that is no ELF fails" 1
check_contains "saying what it is not" "ELF" "$ERR"
finish
