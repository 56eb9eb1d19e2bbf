#!/usr/bin/env bash
# osvm as a user runs it, not as root: the engine on the process platform,
# a server in its sandbox, the agent confined, the audit log, all as the
# unprivileged user nobody (uid 65534) with a home of its own, the server in
# both tiers of its sandbox. Needs root (to become nobody) and setpriv;
# skips, saying so, without them.
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

NOBODY=65534
PY=/usr/bin/python3
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null 2>&1; then
        skip "osvm as an unprivileged user" "needs root (to become uid $NOBODY) and setpriv"
        finish
        exit
fi
# nobody's home, reachable through the test's own directory
chmod 711 "$TMPROOT"
U=$TMPROOT/nobody
mkdir -p "$U/home" "$U/data"
printf 'read by a guest\n' >"$U/data/note.txt"
chown -R "$NOBODY:$NOBODY" "$U"

# Runs osvm as nobody in a clean environment (plus $NOBODY_ENV, words
# NAME=VALUE); sets RC, OUT and ERR.
NOBODY_ENV=
as_nobody() {
        # shellcheck disable=SC2086 # NOBODY_ENV is words on purpose
        setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups \
                env -i PATH=/usr/bin:/bin HOME="$U/home" LC_ALL=C.UTF-8 $NOBODY_ENV \
                OSVM_AGENT_IMAGE="${OSVM_AGENT_IMAGE:-$ROOT/build/unikernels/osvm-agent.img}" OSVM_SECRET_STORE=file \
                ASAN_OPTIONS="$ASAN_OPTIONS" UBSAN_OPTIONS="$UBSAN_OPTIONS" \
                "$OSVM" "$@" </dev/null >"$U/out" 2>"$U/err"
        RC=$?
        OUT=$(cat "$U/out")
        ERR=$(cat "$U/err")
}

as_nobody --version
if [ "$RC" -ne 0 ]; then
        skip "osvm as an unprivileged user" "uid $NOBODY cannot run $OSVM (a directory above it is closed to others)"
        finish
        exit
fi

# ---- the engine, on the process platform ----
as_nobody unikernel run --platform process /bin/busybox echo hello
check_eq "as nobody, busybox runs on the process platform" "hello" "$OUT"
check_exit "and exits 0" 0
as_nobody unikernel run --platform process --mount "$U/data:/data" /bin/busybox cat /data/note.txt
check_eq "a mount of nobody's files is read in the guest" "read by a guest" "$OUT"
as_nobody unikernel run --platform process /bin/busybox cat /etc/shadow
check_failed "a file outside the mounts is not there"
check_not_contains "and nothing of it reaches the output" "root:" "$OUT"

# ---- a server in its sandbox, and the agent ----
if [ ! -x "$PY" ]; then
        skip "a sandboxed server as nobody" "no $PY"
        finish
        exit
fi
EVIL=$U/sandbox_server.py
cp "$ROOT/tests/mcp/sandbox_server.py" "$EVIL"
chown "$NOBODY:$NOBODY" "$EVIL"
as_nobody mcp add evil -- "$PY" "$EVIL"
check_exit "as nobody, mcp add registers a server" 0
check_contains "in its sandbox" "sandboxed" "$OUT"
as_nobody mcp call evil echo '{"text":"from nobody"}'
check_contains "its call is answered" "from nobody" "$OUT"
as_nobody mcp call evil try '{"attack":"read","arg":"'"$U/home/.config/osvm/mcp_servers.json"'"}'
check_contains "the server cannot read osvm's own files" "REFUSED" "$OUT"
as_nobody mcp call evil try '{"attack":"write","arg":"'"$U/data/planted"'"}'
check_contains "nor write beside its mounts" "REFUSED" "$OUT"
check_eq "and nothing was planted" "no" "$([ -e "$U/data/planted" ] && echo yes || echo no)"

# the same in the reduced tier (no user namespaces: Landlock as the wall)
NOBODY_ENV=OSVM_SANDBOX_NO_USERNS=1
as_nobody mcp call evil echo '{"text":"reduced"}'
check_contains "in the reduced tier too, its call is answered" "reduced" "$OUT"
check_contains "and osvm says which tier" "REDUCED sandbox" "$ERR"
as_nobody mcp call evil try '{"attack":"read","arg":"'"$U/home/.config/osvm/mcp_servers.json"'"}'
check_contains "where it cannot read osvm's own files either" "REFUSED" "$OUT"
as_nobody mcp call evil try '{"attack":"write","arg":"'"$U/data/planted"'"}'
check_contains "nor write beside its mounts" "REFUSED" "$OUT"
NOBODY_ENV=

as_nobody -p "echo text=\"hello from the agent\""
check_exit "as nobody, the agent answers a prompt" 0
check_contains "with the server's answer" "hello from the agent" "$OUT"
if [ ! -e /dev/kvm ]; then
        check_contains "confined on the process platform, and says so" "trapped process" "$ERR"
fi

# ---- the audit log ----
LOG=$U/home/.local/state/osvm/audit.jsonl
check_eq "the audit log is nobody's, 0600" "$NOBODY 600" "$(stat -c '%u %a' "$LOG" 2>/dev/null)"
as_nobody audit verify
check_exit "and its chain is whole" 0
check_contains "with a record a call" "7 records" "$OUT"

finish
