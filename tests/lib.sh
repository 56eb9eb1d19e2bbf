# Shared by the shell tests: TAP-like checks ("ok N - name" / "not ok N - name",
# then "N passed, N failed" from finish), a fresh home per test, and osvm runs
# captured into RC, OUT and ERR. Source it; set nothing before.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OSVM=${OSVM_BIN:-$ROOT/build/asan/osvm}
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

if [ ! -x "$OSVM" ]; then
        echo "not ok 1 - osvm binary exists at $OSVM (build it with: make build/asan/osvm)"
        echo "0 passed, 1 failed"
        exit 1
fi

TMPROOT=$(mktemp -d)
trap 'chmod -R u+rwX "$TMPROOT" 2>/dev/null; rm -rf "$TMPROOT"' EXIT

# A predictable environment: nothing from the caller leaks into a test.
unset OSVM_LOG NO_COLOR XDG_CONFIG_HOME TERM OSVM_AI_URL OSVM_AI_MODEL OSVM_AI_KEY OSVM_AI_PROVIDER \
        OPENAI_API_KEY ANTHROPIC_API_KEY OSVM_SECRETS_FILE
export LC_ALL=C.UTF-8
# secrets in the state directory's file, not a desktop keyring that may run
# where the tests do (tests/mcp/secrets.sh starts one of its own for its own)
export OSVM_SECRET_STORE=file

# ---- helpers ----

n=0
passed=0
failed=0

pass() {
        n=$((n + 1))
        passed=$((passed + 1))
        echo "ok $n - $1"
}

fail() {
        n=$((n + 1))
        failed=$((failed + 1))
        echo "not ok $n - $1"
        shift
        for line in "$@"; do
                printf '%s\n' "$line" | sed 's/^/#   /'
        done
}

skip() {
        n=$((n + 1))
        passed=$((passed + 1))
        echo "ok $n - $1 # SKIP $2"
}

# A fresh test directory with its own config home, state home and HOME.
# Sets T (the directory) and CFG (where the config file goes).
fresh() {
        T=$(mktemp -d "$TMPROOT/t.XXXXXX")
        mkdir -p "$T/home"
        export OSVM_HOME="$T/osvm-home"
        export XDG_STATE_HOME="$T/state"
        export HOME="$T/home"
        CFG="$OSVM_HOME/isolation_config.json"
}

# Waits until process PID catches SIGINT (osvm has set its Ctrl-C handler up),
# so that a test's Ctrl-C tests the handling, not a race with start-up. The
# 60 s bound only guards a hang.
wait_sigint_caught() { # pid
        local cgt
        for _ in $(seq 600); do
                cgt=$(awk '/^SigCgt/ {print $2}' "/proc/$1/status" 2>/dev/null)
                [ -z "$cgt" ] && return 1
                (((0x$cgt >> 1) & 1)) && return 0
                sleep 0.1
        done
        return 1
}

# Runs osvm; sets RC, OUT and ERR (stdout and stderr, trailing newlines cut);
# the exact bytes stay in $T/out and $T/err.
osvm() {
        "$OSVM" "$@" <"${OSVM_STDIN:-/dev/null}" >"$T/out" 2>"$T/err"
        RC=$?
        OUT=$(cat "$T/out")
        ERR=$(cat "$T/err")
}

check_eq() { # name expected actual
        if [ "$2" = "$3" ]; then
                pass "$1"
        else
                fail "$1" "expected: $2" "actual:   $3"
        fi
}

check_exit() { # name expected-code   (against RC of the last osvm run)
        if [ "$RC" = "$2" ]; then
                pass "$1"
        else
                fail "$1" "expected exit $2, got $RC" "stderr: $(head -c 600 "$T/err")"
        fi
}

# A failure exit (1 to 4), not success and not a crash or a signal.
check_failed() { # name
        case "$RC" in
        1 | 2 | 3 | 4) pass "$1" ;;
        *) fail "$1" "expected exit 1..4, got $RC" "stderr: $(head -c 600 "$T/err")" ;;
        esac
}

check_contains() { # name needle haystack
        case "$3" in
        *"$2"*) pass "$1" ;;
        *) fail "$1" "expected to find: $2" "in: $(printf '%s' "$3" | head -c 600)" ;;
        esac
}

check_not_contains() { # name needle haystack
        case "$3" in
        *"$2"*) fail "$1" "did not expect: $2" "in: $(printf '%s' "$3" | head -c 600)" ;;
        *) pass "$1" ;;
        esac
}

check_match() { # name extended-regex text
        if printf '%s\n' "$3" | grep -Eq -- "$2"; then
                pass "$1"
        else
                fail "$1" "expected to match: $2" "in: $(printf '%s' "$3" | head -c 600)"
        fi
}

# Exact bytes of a file, trailing newline included.
check_file_is() { # name expected-text file
        local got
        got=$(cat "$3"; printf x)
        if [ "$got" = "$2"x ]; then
                pass "$1"
        else
                fail "$1" "expected:" "$2" "actual:" "${got%x}"
        fi
}

# A Python expression over d, the JSON document in a file, must be true.
check_json() { # name file expression
        local msg
        if msg=$(python3 - "$2" "$3" 2>&1 <<'EOF'
import json, sys
with open(sys.argv[1], "rb") as f:
    d = json.loads(f.read().decode("utf-8"))
ok = eval(sys.argv[2], {"d": d, "json": json})
if not ok:
    print("false: " + sys.argv[2] + "\n  in " + json.dumps(d)[:600])
    sys.exit(1)
EOF
        ); then
                pass "$1"
        else
                fail "$1" "$msg"
        fi
}

# Whether osvm can run VMs here, decided as osvm decides (the engine's probe,
# so OSVM_NO_KVM=1 counts): 0 when it can, else 1 with the reason in KVM_WHY.
# Asks tests/vmm/vmm_run --probe (make test builds it), else osvm itself.
kvm_probe() {
        local vmm_run=${VMM_PROBE:-$ROOT/build/asan/tests/vmm/vmm_run}
        local rc
        if [ -x "$vmm_run" ]; then
                KVM_WHY=$("$vmm_run" --probe 2>&1)
        else
                KVM_WHY=$("$OSVM" -q uk run --platform kvm "$ROOT/build/unikernels/osvm-mcp-get_slot.img" \
                        </dev/null 2>&1 >/dev/null)
        fi
        rc=$?
        KVM_WHY=${KVM_WHY#vmm_run: }
        KVM_WHY=${KVM_WHY#ERROR: }
        return $rc
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

mode_of() { stat -c %a "$1"; }

# Asserts that the file's bytes did not change: check_same name file sha-before.
check_same() {
        check_eq "$1" "$3" "$(sha "$2")"
}

# Prints the closing line and returns the status for the script's exit.
finish() {
        echo "$passed passed, $failed failed"
        [ "$failed" -eq 0 ]
}
