#!/usr/bin/env bash
# A sandboxed server's limits on cgroup v2, in the three places osvm can find
# itself: in the hierarchy's root group (root, a machine of its own); alone in
# a group delegated to an unprivileged user (systemd-run --user --scope -p
# Delegate=yes, a container's cgroup), where it moves itself into a leaf and
# makes the servers' groups beside it; and in a delegated group that holds
# another process too, where it makes none and says why (root makes them at
# the top of the hierarchy instead). The sandbox's unit
# test (test_cgroup) and a real sandboxed server through osvm, in each.
#
# It mounts cgroup v2 and moves processes between groups, so it runs only in a
# machine of its own: the nested run's guest sets OSVM_CGROUP2_TEST=1
# (tests/nested/runner.bash), whatever cgroups the host under it has.
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

if [ "${OSVM_CGROUP2_TEST:-}" != 1 ]; then
        skip "cgroup v2" "runs in the nested run's guest (make check runs it there): it mounts cgroup v2 and moves processes between groups, which it does only in a machine of its own"
        finish
        exit
fi
CG=/sys/fs/cgroup
UNIT=$ROOT/build/rel/tests/sandbox/test_sandbox
EVIL=$ROOT/tests/mcp/sandbox_server.py
NOBODY=65534

if ! grep -q " $CG cgroup2 " /proc/mounts && ! out=$(mount -t cgroup2 none $CG 2>&1); then
        fail "cgroup v2 is mounted at $CG" "$out"
        finish
        exit 1
fi
check_contains "cgroup v2 has the memory, pids and cpu controllers" "cpu memory pids" \
        "$(tr ' ' '\n' <$CG/cgroup.controllers | grep -xE 'cpu|memory|pids' | sort | xargs)"
echo "+memory +pids +cpu" >$CG/cgroup.subtree_control

# A group delegated to nobody, as systemd does for Delegate=yes.
delegate() { # NAME
        mkdir -p "$CG/$1"
        chown $NOBODY:$NOBODY "$CG/$1" "$CG/$1/cgroup.procs" "$CG/$1/cgroup.subtree_control" \
                "$CG/$1/cgroup.threads"
}
# The command, run from inside group $1 (the root group: "") as user $2
# (bash and util-linux's setpriv: busybox's sh would run its own setpriv).
in_group() { # GROUP UID CMD...
        local g=$1 u=$2
        shift 2
        bash -c 'u=$1; shift; echo $$ >"$0/cgroup.procs" && exec setpriv --reuid="$u" --regid="$u" --clear-groups "$@"' \
                "$CG${g:+/$g}" "$u" "$@"
}

# ---- the unit test ----
unit() { # PLACE GROUP UID
        local out
        out=$(in_group "$2" "$3" env TEST_FILTER=test_cgroup "$UNIT" 2>&1)
        check_contains "$1: the sandbox's cgroup test passes" "[  PASSED  ] 1 test(s)" "$out"
        check_contains "$1: on cgroup v2, with every limit" "cgroup v2 (memory, pids, cpu: 1)" "$out"
}
unit "root group" "" 0
delegate alone
unit "delegated group, alone in it" alone $NOBODY
check_eq "delegated group: osvm moved itself into the leaf alone/osvm" "yes" \
        "$([ -d $CG/alone/osvm ] && echo yes)"
check_eq "delegated group: the test's groups are gone" "" "$(cd $CG/alone && ls -d osvm-* 2>/dev/null)"

# ---- a sandboxed server through osvm ----
server() { # PLACE GROUP UID EXPECTED-GROUP EXPECTED-EXPLAIN EXPECTED-LOG
        local place=$1 g=$2 u=$3
        fresh
        chmod 755 "$TMPROOT"
        chown -R "$u:$u" "$T"
        cat >"$T/osvm-in-group" <<EOF
#!/bin/bash
echo \$\$ >"$CG${g:+/$g}/cgroup.procs" && exec setpriv --reuid=$u --regid=$u --clear-groups "$ROOT/build/osvm" "\$@"
EOF
        chmod 755 "$T/osvm-in-group"
        local OSVM=$T/osvm-in-group
        osvm mcp add evil --memory 64 -- /usr/bin/python3 "$EVIL"
        check_exit "$place: add a sandboxed server" 0
        osvm isolation explain evil/try
        check_contains "$place: explain says how the limits hold" "64 MiB, 64 processes ($5)" "$OUT"
        osvm mcp call evil try attack=read arg=/proc/self/cgroup
        check_contains "$place: the server is in $4" "0::$4" "$OUT"
        check_contains "$place: the start says how its limits hold" "$6" \
                "$(cat "$XDG_STATE_HOME/osvm/logs/osvm.log" 2>/dev/null)"
        check_eq "$place: its group is gone after the call" "" \
                "$(cd "$CG${g:+/$g}" && ls -d osvm-* 2>/dev/null)"
}
server "root group" "" 0 "/osvm-" "cgroup v2 and rlimits" "cgroup v2 (memory, pids)"
delegate alone2
server "delegated group, alone in it" alone2 $NOBODY "/alone2/osvm-" "cgroup v2 and rlimits" \
        "cgroup v2 (memory, pids)"
delegate shared
sleep 600 &
other=$!
echo $other >$CG/shared/cgroup.procs
# (the server is in osvm's group itself: "/shared" and the end of the line)
server "delegated group with another process" shared $NOBODY "/shared\\n" "rlimits only" \
        "rlimits only, no cgroup (osvm's cgroup v2 group holds other processes too"
# root passes such a group over for the top of the hierarchy
server "as root, in a group shared with another process" shared 0 "/osvm-" "cgroup v2 and rlimits" \
        "cgroup v2 (memory, pids)"
kill $other 2>/dev/null
wait $other 2>/dev/null
finish
