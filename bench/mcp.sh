#!/bin/bash
# MCP round trips: osvm's client against the official TypeScript SDK client,
# side by side in one run, calling server-everything's `echo` over stdio and
# over Streamable HTTP. Rounds alternate between the two clients so that the
# machine's noise falls on both. Prints per-call latency and peak RSS of each
# client process (the server is the same process type for both), and ratios.
#
# usage: bench/mcp.sh [CALLS_PER_ROUND] [ROUNDS]     (default 500 3)
set -eu
cd "$(dirname "$0")/.."
calls=${1:-500}
rounds=${2:-3}
root=$(tests/peers/install.sh)
server=$root/node_modules/@modelcontextprotocol/server-everything/dist/index.js
make --no-print-directory -s build/bench/bench_mcp >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tmp=$(mktemp -d)
(cd "$tmp" && PORT=$port exec node "$server" streamableHttp >/dev/null 2>&1) &
http_pid=$!
trap 'kill $http_pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
done
url=http://127.0.0.1:$port/mcp

for r in $(seq "$rounds"); do
        for t in stdio http; do
                target=$server
                [ $t = http ] && target=$url
                build/bench/bench_mcp $t "$target" "$calls" >>"$tmp/results"
                NODE_PATH=$root/node_modules node bench/sdk_echo.mjs $t "$target" "$calls" >>"$tmp/results"
        done
done

python3 - "$tmp/results" "$calls" "$rounds" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"MCP echo round trips: {sys.argv[2]} calls x {sys.argv[3]} rounds per client and transport")
print(f"{'transport':9} {'client':6} {'p50 us':>9} {'p99 us':>9} {'mean us':>9} {'peak RSS':>10}")
for t in ("stdio", "http"):
    res = {}
    for c in ("osvm", "sdk"):
        rs = [r for r in rows if r["transport"] == t and r["client"] == c]
        p50 = statistics.median(r["p50_us"] for r in rs)
        p99 = statistics.median(r["p99_us"] for r in rs)
        mean = statistics.median(r["mean_us"] for r in rs)
        rss = max(r["maxrss_kb"] for r in rs)
        res[c] = (p50, rss)
        print(f"{t:9} {c:6} {p50:9.1f} {p99:9.1f} {mean:9.1f} {rss/1024:8.1f} MB")
    print(f"{t:9} ratio  osvm/sdk per-call p50 {res['osvm'][0]/res['sdk'][0]:.2f}x, "
          f"peak RSS {res['osvm'][1]/res['sdk'][1]:.3f}x (1/{res['sdk'][1]/res['osvm'][1]:.0f})")
PY
