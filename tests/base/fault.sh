#!/usr/bin/env bash
# The fault-injection walk (docs/testing.md): for each path (config writing,
# `osvm mcp add` and `remove`, a tool call of the pack on the process platform
# and of server-everything) and each kind of call (src/base/fault.c), osvm is
# run once counting the calls, then again with OSVM_FAULT=KIND:N for N over
# those calls. Each run must end cleanly: success, or a documented exit code
# with a message; no signal, no sanitizer report (leaks included); the config
# and registry files each exactly as before or as after, nothing else left
# beside them.
#
#   OSVM_FAULT_WALK=8 (the default)  at most 8 values of N per path and kind,
#                                    spread over the calls (the first and last
#                                    included); a number chooses another bound
#   OSVM_FAULT_WALK=full             every N
#   OSVM_FAULT_WALK_KINDS="read ..." the kinds to walk (all by default)
#   OSVM_FAULT_WALK_ONLY=REGEX       only the paths whose name matches
#   OSVM_FAULT_WALK_LOG=FILE         one line per run: path kind N outcome exit
#                                    and stderr's last line
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../svm/lib.bash
. "$ROOT/tests/svm/lib.bash"

WALK=${OSVM_FAULT_WALK:-8}
KINDS=${OSVM_FAULT_WALK_KINDS:-alloc read write send recv fork memfd kvm}
PEERS=$("$ROOT/tests/peers/install.sh" 2>/dev/null) || PEERS=""
EVERYTHING=$PEERS/node_modules/@modelcontextprotocol/server-everything/dist/index.js
IMAGES=$ROOT/build/unikernels
LOG=${OSVM_FAULT_WALK_LOG:-/dev/null}
: >"$LOG"

fresh
probe=$T/probe
OSVM_FAULT=count OSVM_FAULT_REPORT=$probe "$OSVM" --version >/dev/null 2>&1
if ! grep -q '^count alloc ' "$probe" 2>/dev/null; then
        skip "the fault-injection walk" "$OSVM has no fault injection (the sanitizer build has it)"
        finish
        exit
fi

# A malformed OSVM_FAULT is refused, naming the form.
OSVM_FAULT=read osvm --version
check_exit "OSVM_FAULT without :N is refused (exit 2)" 2
check_contains "with the form it wants" "OSVM_FAULT=read: an item without ':N'" "$ERR"
OSVM_FAULT=disk:3 osvm --version
check_exit "OSVM_FAULT with an unknown kind is refused" 2
OSVM_FAULT=read:0 osvm --version
check_exit "OSVM_FAULT with N=0 is refused" 2
# The Nth call fails once, and is reported.
rm -f "$probe"
OSVM_FAULT=write:1 OSVM_FAULT_REPORT=$probe osvm isolation set timeout_ms=5000
check_eq "a fault that fires is reported" "fired write 1" "$(grep '^fired' "$probe")"
# (it was said as "isolation_config.json: No such file or directory", exit 1)
check_exit "isolation set that cannot write the default config: exit 3" 3
check_contains "naming what failed" \
        "cannot create the default config: $CFG.tmp." "$ERR"
check_contains "and why" "writing: Input/output error" "$ERR"
check_eq "the config is not written" "" "$(ls "$OSVM_HOME" 2>/dev/null)"

# Out of memory in osvm's own allocations (jansson's go through them too) is
# said, and ends the command with exit 1 (it was abort(): SIGABRT, a core).
OSVM_FAULT=alloc:1 osvm status
check_exit "the first allocation of status fails: exit 1" 1
check_eq "saying so" "osvm: out of memory" "$ERR"

# The same in the policy's decision, whose reasons were formatted by a
# vasprintf that called abort() when it failed (found by the walk of a call).
fresh
osvm isolation set timeout_ms=4000
rm -f "$probe"
OSVM_FAULT=count OSVM_FAULT_REPORT=$probe osvm isolation explain osvm-mcp/get_slot
calls=$(awk '$1 == "count" && $2 == "alloc" {print $3}' "$probe")
hits=0 bad=""
for N in $(seq $((calls - 30)) "$calls"); do
        OSVM_FAULT_TRACE=1 OSVM_FAULT=alloc:$N osvm isolation explain osvm-mcp/get_slot
        grep -q 'in reason src/isolation/decide.c' "$T/err" || continue
        hits=$((hits + 1))
        [ "$RC" = 1 ] && grep -q '^osvm: out of memory' "$T/err" || bad="$bad $N:$RC"
done
check_match "explain: allocations for the decision's reasons are among those tried" '^[1-9]' "$hits"
check_eq "explain: each that fails ends with exit 1, out of memory" "" "$bad"

# mcp add of a stdio server writes its policy into the config, then the
# server into the registry (in that order: never a server without its policy,
# which would run on the host); when a step fails, both are put back as they
# were (the registry kept an empty list where there was none, or the entry
# when a later registry step failed, and the config the policy).
fresh
osvm isolation set timeout_ms=4000
cfg_sha=$(sha "$CFG")
OSVM_FAULT=write:1 osvm mcp add alpha -- /bin/true
check_exit "mcp add that cannot write the config: exit 1" 1
check_contains "naming the file" "isolation_config.json.tmp." "$ERR"
check_eq "no registry is written" "" "$(ls "$OSVM_HOME/mcp_servers.json" 2>/dev/null)"
check_same "the config is as it was" "$CFG" "$cfg_sha"
OSVM_FAULT=write:2 osvm mcp add alpha -- /bin/true
check_exit "mcp add that cannot write the registry: exit 1" 1
check_contains "naming the file" "mcp_servers.json.tmp." "$ERR"
check_eq "no registry is left" "" "$(ls "$OSVM_HOME/mcp_servers.json" 2>/dev/null)"
check_same "the policy written first is gone again" "$CFG" "$cfg_sha"
osvm mcp add alpha -- /bin/true
reg_sha=$(sha "$OSVM_HOME/mcp_servers.json")
cfg_sha=$(sha "$CFG")
OSVM_FAULT=write:3 osvm mcp add beta --init-timeout 5000 -- /bin/true
check_exit "mcp add whose second registry step fails: exit 1" 1
check_same "the registry is as it was" "$OSVM_HOME/mcp_servers.json" "$reg_sha"
check_same "and the config" "$CFG" "$cfg_sha"
OSVM_FAULT=count osvm mcp add alpha -- /bin/true
check_exit "mcp add of a name that is there: exit 1" 1
check_same "the registry is as it was" "$OSVM_HOME/mcp_servers.json" "$reg_sha"
check_same "and the config" "$CFG" "$cfg_sha"

# The N to try for C calls: all of them, or WALK of them spread out.
pick() { # calls
        local c=$1 i
        if [ "$WALK" = full ] || [ "$c" -le "$WALK" ]; then
                seq 1 "$c"
                return
        fi
        for ((i = 0; i < WALK; i++)); do
                echo $((1 + i * (c - 1) / (WALK - 1)))
        done | uniq
}

# One run in a copy of the template home $TPL; sets RC and W (its directory).
W=$TMPROOT/run
run() { # fault-spec
        rm -rf "$W"
        mkdir -p "$W/home"
        cp -a "$TPL" "$W/osvm-home"
        OSVM_HOME=$W/osvm-home XDG_STATE_HOME=$W/state HOME=$W/home OSVM_FAULT=$1 \
                OSVM_FAULT_REPORT=$W/report "$OSVM" "${CMD[@]}" </dev/null >"$W/out" 2>"$W/err"
        RC=$?
}

# What became of the files: "ok", or what is wrong.
files_state() {
        local f
        for f in "${FILES[@]}"; do
                if [ -e "$W/osvm-home/$f" ]; then
                        cmp -s "$W/osvm-home/$f" "$TPL/$f" || cmp -s "$W/osvm-home/$f" "$AFTER/$f" ||
                                { [ -n "$ALSO" ] && cmp -s "$W/osvm-home/$f" "$ALSO/$f"; } ||
                                { echo "half-written $f" && return; }
                elif [ -e "$TPL/$f" ] && [ -e "$AFTER/$f" ]; then
                        echo "lost $f" && return
                fi
        done
        # the registry with the server (as after) needs the config as after
        if [ -n "$PAIRED" ] && [ -e "$AFTER/${FILES[1]}" ] &&
                cmp -s "$W/osvm-home/${FILES[1]}" "$AFTER/${FILES[1]}" &&
                ! cmp -s "$W/osvm-home/${FILES[0]}" "$AFTER/${FILES[0]}"; then
                echo "${FILES[1]} without ${FILES[0]}" && return
        fi
        for f in $(ls -A "$W/osvm-home"); do
                [ -e "$TPL/$f" ] || [ -e "$AFTER/$f" ] || { echo "left $f" && return; }
        done
        echo ok
}

# Walks one path: NAME, with TPL (the home before), CMD (osvm's arguments),
# FILES (the files that must be whole) and ALSO (a home with another whole
# state they may be left in, or "") set.
walk() { # name
        local name=$1 kind c N outcome st msg tried clean recovered nofault bad details
        [[ $name =~ ${OSVM_FAULT_WALK_ONLY:-.} ]] || return 0
        run count
        local base_rc=$RC
        cp "$W/out" "$TMPROOT/base_out"
        AFTER=$TMPROOT/after
        rm -rf "$AFTER"
        cp -a "$W/osvm-home" "$AFTER"
        if [ "$base_rc" -gt 5 ] || grep -q 'Sanitizer\|runtime error' "$W/err"; then
                fail "$name: runs without a fault" "exit $base_rc" "$(tail -n 5 "$W/err")"
                return
        fi
        cp "$W/report" "$TMPROOT/counts"
        for kind in $KINDS; do
                c=$(awk -v k="$kind" '$1 == "count" && $2 == k {print $3}' "$TMPROOT/counts")
                c=${c:-0}
                tried=0 clean=0 recovered=0 nofault=0 bad=0 details=()
                for N in $(pick "$c"); do
                        run "$kind:$N"
                        tried=$((tried + 1))
                        msg=$(grep -v '^\s*$' "$W/err" | tail -n 1 | cut -c1-200)
                        st=$(files_state)
                        if [ "$RC" -ge 128 ] || grep -q 'Sanitizer\|runtime error' "$W/err"; then
                                outcome=crash
                        elif [ "$st" != ok ]; then
                                outcome=$st
                        elif ! grep -q '^fired' "$W/report" 2>/dev/null; then
                                # fewer calls this time (another order of threads)
                                [ "$RC" = "$base_rc" ] && outcome=nofault || outcome="no fault, exit $RC"
                        elif [ "$RC" = 0 ]; then
                                cmp -s "$W/out" "$TMPROOT/base_out" && outcome=recovered ||
                                        outcome="exit 0 with other output"
                        else
                                case "$RC" in
                                1 | 3 | 4 | 5)
                                        [ -n "$msg" ] && outcome=clean || outcome="exit $RC, no message"
                                        ;;
                                *) outcome="exit $RC" ;;
                                esac
                        fi
                        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$kind" "$N" "$outcome" "$RC" "$msg" >>"$LOG"
                        case "$outcome" in
                        clean) clean=$((clean + 1)) ;;
                        recovered) recovered=$((recovered + 1)) ;;
                        nofault) nofault=$((nofault + 1)) ;;
                        *)
                                bad=$((bad + 1))
                                [ ${#details[@]} -lt 6 ] &&
                                        details+=("$kind:$N: $outcome (exit $RC): $(grep -m1 -A3 'Sanitizer\|runtime error' "$W/err" | head -c 400)$msg")
                                ;;
                        esac
                done
                echo "# $name: $kind: $c calls, $tried tried: $clean failed cleanly, $recovered recovered, $nofault without the fault, $bad wrong"
                if [ "$bad" -eq 0 ]; then
                        pass "$name: every $kind fault tried ends cleanly"
                else
                        fail "$name: every $kind fault tried ends cleanly" "${details[@]}"
                fi
        done
}

# ---- config writing ----
# Without a config, the first step writes the default one: a run that fails
# later leaves that.
fresh
TPL=$TMPROOT/tpl-empty
mkdir -p "$TPL"
PAIRED=""
ALSO=$TMPROOT/tpl-default
OSVM_HOME=$ALSO "$OSVM" isolation validate >/dev/null 2>&1
CMD=(isolation set timeout_ms=5000)
FILES=(isolation_config.json)
walk "isolation set (new config)"

ALSO=""
TPL=$TMPROOT/tpl-config
OSVM_HOME=$TPL "$OSVM" isolation set timeout_ms=4000 >/dev/null 2>&1
walk "isolation set"

# ---- the registry ----
CMD=(mcp add everything -- node "$EVERYTHING" stdio)
FILES=(isolation_config.json mcp_servers.json)
PAIRED=1 # the registry as after only with the config as after
walk "mcp add"
PAIRED=""

TPL=$TMPROOT/tpl-added
cp -a "$TMPROOT/tpl-config" "$TPL"
OSVM_HOME=$TPL "$OSVM" mcp add everything -- node "$EVERYTHING" stdio >/dev/null 2>&1
CMD=(mcp remove everything)
walk "mcp remove"

# ---- tool calls ----
if [ -f "$EVERYTHING" ] && command -v node >/dev/null; then
        # A read of the server's output that fails is said so (it was "the
        # server closed its output").
        fresh
        cp -a "$TMPROOT/tpl-added/." "$OSVM_HOME"
        said=""
        for N in $(seq 1 30); do
                OSVM_FAULT=read:$N osvm mcp call everything echo message=hi
                case "$ERR" in *"everything: the server could not be read from: Input/output error"*)
                        said=$RC
                        break
                        ;;
                esac
        done
        check_eq "a server whose output cannot be read: exit 1, saying so" 1 "$said"
        TPL=$TMPROOT/tpl-added
        CMD=(mcp call everything echo message=hi)
        walk "mcp call everything/echo"
else
        skip "the walk over a call of server-everything" "node or server-everything is missing"
fi

if [ ! -f "$IMAGES/osvm-mcp.tools.json" ]; then
        skip "the walk over a call of the pack" "the osvm-mcp images are not built (make tools)"
elif ! svm_start; then
        skip "the walk over a call of the pack" "$SVM_WHY"
else
        trap 'svm_stop; chmod -R u+rwX "$TMPROOT" 2>/dev/null; rm -rf "$TMPROOT"' EXIT
        export OSVM_NO_KVM=1 OSVM_BUILTIN_IMAGES=$IMAGES OSVM_SOLANA_RPC=$SVM_URL
        # The zygote's report that cannot be read is an error, not a child
        # that exec'd (the call then falls back, as the policy says, naming it).
        fresh
        cp -a "$TMPROOT/tpl-config/." "$OSVM_HOME"
        said=""
        for N in $(seq 1 12); do
                OSVM_FAULT=read:$N osvm mcp call osvm-mcp get_slot
                case "$ERR" in *"confining a child: reading its report: Input/output error"*)
                        said=$RC
                        break
                        ;;
                esac
        done
        check_eq "a confined child's report that cannot be read is named (exit 0, fallen back)" 0 "$said"
        TPL=$TMPROOT/tpl-config
        CMD=(mcp call osvm-mcp get_slot)
        walk "mcp call osvm-mcp/get_slot (process platform)"
        unset OSVM_NO_KVM OSVM_BUILTIN_IMAGES OSVM_SOLANA_RPC
fi

finish
