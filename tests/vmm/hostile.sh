#!/bin/bash
# Hostile guests: each attacks one thing. For each: the host process
# survives (the driver returns the expected status, no sanitizer report),
# and the call ends with a clear reason. On every platform this host has:
# the process platform always, KVM where /dev/kvm is usable.
set -u
. "$(dirname "$0")/lib.bash"
platforms=$(vmm_platforms) || exit 1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect STATUS PATTERN [--stdin FILE] -- ARGS...: runs the driver, checks
# the exit status (an extended regex) and that each ";;"-separated extended
# regex of PATTERN matches a line of stderr or of the first 64 KiB of stdout.
expect() {
        local want=$1 pat=$2 in=/dev/null
        shift 2
        if [ "$1" = --stdin ]; then
                in=$2
                shift 2
        fi
        shift # --
        local out rc p missing=""
        $RUN "$@" <"$in" >"$tmp/stdout" 2>"$tmp/stderr"
        rc=$?
        out=$(
                cat "$tmp/stderr"
                head -c 65536 "$tmp/stdout"
        )
        IFS=$'\n' read -r -d '' -a pats < <(sed 's/;;/\n/g' <<<"$pat")
        [ ${#pats[@]} -gt 0 ] || missing=" (no pattern read from '$pat')"
        for p in "${pats[@]}"; do
                grep -Eq -- "$p" <<<"$out" || missing="$missing [$p]"
        done
        if [[ "$rc" =~ ^($want)$ ]] && [ -z "$missing" ]; then
                ok "$plat: $* -> $rc: $(grep -Eo -- "${pats[0]}" <<<"$out" | head -1)"
        else
                not_ok "$plat: $*: status $rc (wanted $want), missing:$missing, output: $(tail -c 400 <<<"$out")"
        fi
}

# expect_env VAR=VALUE STATUS PATTERN -- ARGS...: expect, with VAR set for the driver.
expect_env() {
        local kv=$1
        shift
        export "${kv?}"
        expect "$@"
        unset "${kv%%=*}"
}

suite() {
plat=$1
RUN=$(vmm_leg "$plat")

G=$GUESTS
M="--mem 64"
expect 0 '^ok$' -- $M $G/bad_ptr
expect 0 '^ok$' -- $M $G/giant_iov
# A system call keeps every register the kernel keeps (the general ones,
# the flags, xmm and ymm), whoever answers it
expect 0 '^registers kept' -- $M $G/regs
# What a platform answers from what it was given ahead (the process
# platform's stub: a growth of the break, the limits, random bytes) is what
# the layer answers; two runs draw different bytes.
expect 0 '^ok$' -- $M $G/answers
r1=$(tail -1 "$tmp/stdout")
# with a mount at /proc, the executable's link is the layer's to read
mkdir -p "$tmp/proc/self" && ln -sfn target "$tmp/proc/self/exe"
expect 0 '^ok$' -- $M --mount "$tmp/proc:/proc" $G/answers proc
expect 0 '^ok$' -- $M $G/answers
r2=$(tail -1 "$tmp/stdout")
if [[ "$r1" =~ ^[0-9a-f]{32}$ ]] && [ "$r1" != "$r2" ]; then
        ok "$plat: two runs draw different random bytes ($r1, $r2)"
else
        not_ok "$plat: random bytes of two runs: '$r1' and '$r2'"
fi
expect 125 'limit: time limit of 300 ms' -- $M --timeout 300 $G/loop
expect 125 'limit: memory limit of 64 MiB' -- $M $G/oom
# The system pages below 2 MiB: the VM's own on KVM; nothing mapped here on
# the process platform (the stub program is at 0x40000, its control page,
# signal stack and staged I/O at 0x100000, 0x110000 and 0x120000: stub_jump,
# ctl_smash and io_lies below).
for a in 0x1000 0x2000 0x3000 0x7000 0x8000 0x9000 0xa000 0xd000 0xe000 0x10000; do
        if [ "$plat" = kvm ]; then
                expect 139 "page fault \(#PF\): write to $a .*system pages" -- $M $G/write_sys $a
        else
                expect 139 "page fault \(#PF\): write to $a .*unmapped" -- $M $G/write_sys $a
        fi
done
# int $0x80 through a DPL0 gate is #GP on hardware; PVM reports #UD; a
# process gets #GP without 32-bit emulation, else a 32-bit system call the
# engine does not serve (128+SIGSYS).
expect '132|139|159' '(general protection fault \(#GP\)|invalid opcode \(#UD\)|32-bit, int \$0x80)' -- $M $G/priv int80
for i in cli hlt cr3 wrmsr lgdt invlpg; do
        expect 139 'general protection fault \(#GP\)' -- $M $G/priv $i
done
expect 132 'invalid opcode \(#UD\)' -- $M $G/priv ud2
# int3 through a DPL0 gate is #GP on hardware (the error code names the
# gate); PVM delivers #BP.
expect '133|139' '(breakpoint \(#BP\)|general protection fault \(#GP\))' -- $M $G/priv int3
for p in 0x3f8 0x80 0x7e 0xe1 0xcf8; do
        expect 139 'general protection fault \(#GP\)' -- $M $G/ports $p
done
# `in` on the syscall port passes the TSS I/O bitmap and exits, and the
# engine refuses it. QEMU's TCG (tests/nested) refuses all CPL3 I/O through
# the busy TSS that hardware virtualization requires, with #GP, first; so
# does the process platform, where port I/O is a privileged instruction.
if [ "$plat" = kvm ] && [ "${OSVM_NESTED_TCG:-}" != 1 ]; then
        expect 139 'I/O to port 0xe0' -- $M $G/ports 0xe0 in
else
        expect 139 'general protection fault \(#GP\)' -- $M $G/ports 0xe0 in
fi
expect 139 'fault: general protection fault \(#GP\)' -- $M $G/noncanon
expect 139 'stack overflow' -- $M $G/stack
expect 125 'limit: system call limit of 5000 reached' -- $M --max-syscalls 5000 $G/syscalls
expect 125 'limit: output limit of 100000 bytes reached' -- $M --max-output 100000 $G/flood

# Lies in the staged I/O header (the header and the result's buffer where
# each platform's stub keeps them, internal.h): bounded by the host.
if [ "$plat" = kvm ]; then io=0x200000 out_cap=1048576; else io=0x120000 out_cap=458752; fi
$RUN $M $G/io_lies $io </dev/null >"$tmp/lies.out" 2>"$tmp/lies.err"
rc=$?
size=$(wc -c <"$tmp/lies.out")
if { [ $rc = 0 ] && grep -q done "$tmp/lies.err" && [ "$size" -le $out_cap ]; } ||
        grep -q "fault:" "$tmp/lies.err"; then
        ok "lies in the staged I/O header: status $rc, $size bytes out, $(tail -1 "$tmp/lies.err")"
else
        not_ok "lies in the staged I/O header: status $rc, $size bytes: $(cat "$tmp/lies.err")"
fi

# A result pipe nobody reads and a request pipe that never ends: the time
# limit still holds while the host waits on them. (FIFOs that this shell
# holds open, unread and unwritten, for as long as the runs take.)
rm -f "$tmp/full" "$tmp/silent"
mkfifo "$tmp/full" "$tmp/silent"
exec 7<>"$tmp/full" 8<>"$tmp/silent"
$RUN $M --timeout 400 $G/flood >"$tmp/full" 2>"$tmp/err1"
echo $? >"$tmp/rc1"
$RUN $M --timeout 400 $G/hello cat <"$tmp/silent" >/dev/null 2>"$tmp/err2"
echo $? >"$tmp/rc2"
exec 7>&- 8>&-
if [ "$(cat "$tmp/rc1")" = 125 ] && grep -q "time limit of 400 ms" "$tmp/err1"; then
        ok "a full result pipe: $(cat "$tmp/err1")"
else
        not_ok "a full result pipe: status $(cat "$tmp/rc1"): $(cat "$tmp/err1")"
fi
if [ "$(cat "$tmp/rc2")" = 125 ] && grep -q "time limit of 400 ms" "$tmp/err2"; then
        ok "a silent request pipe: $(cat "$tmp/err2")"
else
        not_ok "a silent request pipe: status $(cat "$tmp/rc2"): $(cat "$tmp/err2")"
fi

# Path escapes from a read-only mount.
rm -rf "$tmp/d" "$tmp/rw"
mkdir -p "$tmp/d/sub"
echo "inside the mount" >"$tmp/d/file.txt"
ln -s /etc "$tmp/d/out"
ln -s /etc/passwd "$tmp/d/abs"
expect 0 'open /data/\.\./etc/passwd: No such file;;open /etc/passwd: No such file;;open /data/out/passwd: Permission denied;;open /data/abs: Permission denied;;open /proc/self/maps: No such file;;open /data/new-file: Read-only file system;;open \.\./out/passwd: Permission denied;;readlink /proc/self/exe: No such file;;file.txt: inside the mount;;^ok$' \
        -- $M --mount "$tmp/d:/data" $G/escape
[ -e "$tmp/d/new-file" ] && not_ok "escape created a file in a read-only mount" || ok "read-only mount unchanged"

# The host-call channel: a guest that writes host calls and never reads the
# answers, to a host that reads nothing either, ends at its time limit.
expect 125 'time limit of 400 ms reached \(writing\)' -- $M --timeout 400 --host-sink $G/host_flood
expect 3 '^no fd 3$' -- $M $G/host_flood

# Time values: refused as the kernel refuses them; the end of time, on an
# absolute clock or in a futex wait, is cut at the time limit (no overflow).
expect 0 'nanosleep \{0, 1000000000\}: Invalid argument;;nanosleep \{-1, 0\}: Invalid argument;;clock_nanosleep abs \{0, -1\}: Invalid argument;;clock_nanosleep abs past: 0;;^ok$' \
        -- $M $G/time_values
expect 125 'time limit of 300 ms reached \(sleeping\)' -- $M --timeout 300 $G/time_values abstime
expect 125 'time limit of 300 ms reached \(in a futex wait\)' -- $M --timeout 300 $G/time_values futex

# Cancel (Ctrl-C): a guest that loops or sleeps is stopped, "cancelled", 130.
expect 130 'cancelled: cancelled' -- $M --timeout 60000 --cancel-after 100 $G/loop
expect 130 'cancelled: cancelled' -- $M --timeout 60000 --cancel-after 100 $G/time_values abstime
expect 130 'cancelled: cancelled' -- $M --timeout 60000 --cancel-after 100 --host-sink $G/host_flood

# Modes in a read-write mount: the mount's root keeps its own, every other
# is narrowed to 0755 at most.
umask 022 # the host's umask narrows what the guest may set; this one does not
mkdir "$tmp/rw"
chmod 700 "$tmp/rw"
ln -s . "$tmp/rw/self"
expect 0 'fchmod /data 0777: Operation not permitted;;fchmod /data/self 0777: Operation not permitted;;created 04777: mode 0755;;after fchmod 06777: mode 0755;;mkdir 0777: mode 0755;;^ok$' \
        -- $M --mount "$tmp/rw:/data:rw" $G/modes
mode=$(stat -c %a "$tmp/rw")
[ "$mode" = 700 ] && ok "the mount's root is still 0700" || not_ok "the mount's root is now $mode"

# An image that is not one.
expect 125 'error: .*not an ELF file' -- $M "$tmp/d/file.txt"
expect 125 'error: .*dynamically linked' -- $M /bin/true

# A `mov $nr, %eax; syscall` site keeps every register a system call keeps
# (rcx and r11 as the instruction sets them, the direction flag too), on
# KVM, on the process platform, and there through its patched site
expect 0 '^to fd 1$;;^to fd 2$;;^registers kept$' -- $M $G/patched regs
# ... and a rip-relative operand right before the syscall (patched: run
# displaced in its trampoline) still names what it named
expect 0 '^rip-relative ok$' -- $M $G/patched rip

# The process platform's own surface (docs/vmm.md, "The process platform"):
# `syscall` from anywhere, the stub's code, its control page and signal
# stack, its signal handling. On KVM none of it exists (below 2 MiB only
# the VM's supervisor pages): the same guests fault there.
expect 0 '^written by a syscall on the heap$;;heap write 33, stack getpid 1;;^ok$' -- $M $G/anywhere
expect 0 '^written over the image$;;^zero ok$' -- $M $G/remap_text
# a symbol's offset in the stub program's image (from its ELF header)
sym() { nm "$STUB" | awk -v s="$1" '$3 == s { print "0x" $1 }'; }
off() { printf '0x%x' $(($(sym "$1") - $(sym __ehdr_start))); }
J="$(off stub_restorer) $(off stub_sc_insn) $(off zyg_sc_insn)"
if [ "$plat" = kvm ]; then
        expect 139 'page fault \(#PF\): read of 0x110000' -- $M $G/stub_jump openat $J
        expect 139 'page fault \(#PF\): write to 0x100000' -- $M $G/ctl_smash zero
else
        killed='the host kernel killed the guest.s process: a system call outside the stub.s allow-list'
        # not on the stub's allow-list, or on it with arguments the filter refuses
        for m in openat getpid clone kill mmap-high mmap-stub futex-pi munmap prctl madvise \
                 arch-get; do
                expect 159 "$killed" -- $M $G/stub_jump $m $J
        done
        # on it and allowed: its own memory, its own limits (lowered only)
        expect 0 '^reached mmap-anon: ' -- $M $G/stub_jump mmap-anon $J
        expect 0 '^reached prlimit-raise: -1$' -- $M $G/stub_jump prlimit-raise $J
        expect 0 '^reached mmap-locked: -1$' -- $M $G/stub_jump mmap-locked $J
        # the same without user namespaces (as root: the other namespaces,
        # and no capability either)
        expect_env OSVM_SANDBOX_NO_USERNS=1 0 '^reached prlimit-raise: -1$' \
                -- $M $G/stub_jump prlimit-raise $J
        expect_env OSVM_SANDBOX_NO_USERNS=1 0 '^reached mmap-locked: -1$' \
                -- $M $G/stub_jump mmap-locked $J
        expect_env OSVM_SANDBOX_NO_USERNS=1 159 "$killed" -- $M $G/stub_jump openat $J
        # Syscall User Dispatch switched off: the filter's RET_TRAP takes over
        expect 0 '^pid 1; reached sud-off: 0$' -- $M $G/stub_jump sud-off $J
        expect 125 'the guest.s process exited by itself \(0\)' -- $M $G/stub_jump exit $J
        # its signal handling: SIGSYS ignored, its own handler that faults,
        # every signal blocked by a frame of its own
        expect 159 "$killed|trap signal blocked" -- $M $G/stub_jump sigaction-ign $J
        expect 139 'killed the guest.s process: a fault inside the stub.s trap handler' \
                -- $M $G/stub_jump handler-fault $J
        expect 159 'trap signal blocked by the guest' -- $M $G/stub_jump sigreturn-block $J
        # patched system call sites (docs/vmm.md, "Patched system call
        # sites"): the program sees the jump at its site; the stub's way in,
        # taken by the guest itself with no stack and the direction flag
        # set, serves a system call and goes back where rcx says; the
        # trampolines cannot be written, and their padding traps
        if [ "$plat" = process-patched ]; then
                expect 0 '^site patched$' -- $M $G/patched code
                expect 0 '^hello$;;^landed, wrote 6$' -- $M $G/patched entry
                expect 139 'page fault \(#PF\): write to 0xfc' -- $M $G/patched tramp-write
                expect 133 'breakpoint \(#BP\) at rip 0xfc' -- $M $G/patched tramp-int3
        else
                expect 0 '^site as built$' -- $M $G/patched code
        fi
        # the zygote's system call instruction is not mapped in a stub
        zyg=$(printf '0x%x' "$(sym zyg_sc_insn)")
        expect 139 "page fault \\(#PF\\): instruction fetch from $zyg\\b" -- $M $G/stub_jump zyg $J
        # the control page and the signal stack, written over
        for m in zero spin remap fd altstack brk; do
                expect 0 '^after$' -- $M --timeout 5000 $G/ctl_smash $m
        done
        # all ones: the staged result's length too (its header is in the
        # control page), so osvm sends the guest's own result buffer, no
        # more than its 448 KiB, before "after"
        $RUN $M --timeout 5000 $G/ctl_smash ones </dev/null >"$tmp/stdout" 2>"$tmp/stderr"
        rc=$?
        size=$(stat -c %s "$tmp/stdout")
        if [ $rc = 0 ] && [ "$size" = $((0x200000 - 0x190000 + 6)) ] &&
                [ "$(tail -c 6 "$tmp/stdout")" = after ]; then
                ok "$plat: ctl_smash ones -> 0: the result buffer ($size bytes in all), then after"
        else
                not_ok "$plat: ctl_smash ones: status $rc, $size bytes: $(tail -c 200 "$tmp/stderr")"
        fi
        expect 139 'forged state word' -- $M --timeout 5000 $G/ctl_smash died
        expect 139 'forged state word' -- $M --timeout 5000 $G/ctl_smash setup-err
        expect 0 '^forged$;;^after$' -- $M --timeout 5000 $G/ctl_smash forge
        expect 139 'a fault in the stub.s code \(its trap handler' -- $M --timeout 5000 $G/ctl_smash answers
        # the stack pointer inside the signal stack: the trap's frame goes below it
        expect 0 '^on the signal stack$;;^served on the signal stack$;;^pid 1, wrote 20 and 27$;;^after$' \
                -- $M --timeout 5000 $G/ctl_smash rsp-alt
fi
}

STUB=${STUB:-build/stub/osvm-stub}
for leg in $platforms; do
        suite "$leg"
        # the same, every call through patched sites where it can
        [ "$leg" = process ] && suite process-patched
done
vmm_done
