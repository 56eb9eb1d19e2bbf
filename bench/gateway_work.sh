#!/bin/bash
# What a stdio gateway's own work on a call's path costs the call: the SDK
# client calling server-everything's echo straight, through osvm, and through
# the spinning relay (bench/gateway_relay.c --spin 300) made to work a given
# number of microseconds on each request and each answer before it passes
# them on (--busy REQ,ANS). Rounds alternate, side by side; each row's ratio
# is the median of its rounds' own against the straight run of that round.
# docs/gateway.md reads the curve.
#
# usage: bench/gateway_work.sh [CALLS_PER_ROUND] [ROUNDS] [REQ,ANS ...]
#        (default 500 6 0,0 5,5 8,8 11,11 15,16)
set -eu
cd "$(dirname "$0")/.."
calls=${1:-500}
rounds=${2:-6}
shift $(($# < 2 ? $# : 2))
works=${*:-0,0 5,5 8,8 11,11 15,16}
root=$(tests/peers/install.sh)
ev=$root/node_modules/@modelcontextprotocol/server-everything/dist/index.js
make --no-print-directory -s build/osvm build/bench/gateway_relay >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OSVM_HOME=$tmp/config XDG_STATE_HOME=$tmp/state OSVM_BUILTIN_IMAGES=
mkdir -p "$OSVM_HOME"
build/osvm mcp add ev --no-sandbox -- node "$ev" stdio >/dev/null
run() { # NAME TOOL CMD...
        local name=$1 tool=$2
        shift 2
        printf '%s ' "$name"
        node --no-warnings bench/gateway_echo.mjs "$root" stdio "$tool" "$calls" "$@"
}
for _ in $(seq "$rounds"); do
        run straight echo node "$ev" stdio
        run osvm ev__echo build/osvm mcp serve ev
        for w in $works; do
                run "relay+$w" echo build/bench/gateway_relay --spin 300 --busy "$w" node "$ev" stdio
        done
done >"$tmp/results"
python3 - "$tmp/results" "$calls" "$rounds" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, j = line.split(" ", 1)
    rows.setdefault(name, []).append(json.loads(j)["p50_us"])
print(f"a gateway's work on the path, against straight: {sys.argv[2]} calls x {sys.argv[3]} rounds, p50")
base = rows["straight"]
for name, v in rows.items():
    label = name if not name.startswith("relay+") else \
        "spinning relay working %s us (request, answer)" % name[6:].replace(",", ", ")
    own = statistics.median(b / a for a, b in zip(base, v))
    print(f"  {label:48} p50 {statistics.median(v):7.1f} us, rounds' own ratios' median {own:.2f}x")
PY
