#!/bin/bash
# The gateway's overhead, side by side in one run: the TypeScript SDK client
# calling server-everything's echo straight (stdio: it starts the server;
# HTTP: the server's own Streamable HTTP) and through `osvm mcp serve`
# (stdio; and --http, osvm reaching the server over stdio), rounds
# alternating so that the machine's noise falls on both. Over stdio also
# - through a relay that only copies bytes (bench/gateway_relay.c): the floor
#   that a second process hop sets, whatever the gateway does;
# - through the same relay spinning before its waits as osvm does: that
#   floor once the hop's wake-ups are spun away;
# - through osvm to the server in its sandbox, as `mcp add` runs it;
# - through osvm with its spinning off (OSVM_SPIN_US=0: every wait blocks at
#   once; docs/gateway.md, "Concurrency, cancellation, progress").
# Then the gateway's resident memory with three servers fronted. Release
# build (build/osvm).
#
# usage: bench/gateway.sh [CALLS_PER_ROUND] [ROUNDS]     (default 500 3)
set -eu
cd "$(dirname "$0")/.."
calls=${1:-500}
rounds=${2:-3}
root=$(tests/peers/install.sh)
nm=$root/node_modules
ev=$nm/@modelcontextprotocol/server-everything/dist/index.js
fsrv=$nm/@modelcontextprotocol/server-filesystem/dist/index.js
mem=$nm/@modelcontextprotocol/server-memory/dist/index.js
make --no-print-directory -s build/osvm build/bench/gateway_relay >/dev/null
osvm=$PWD/build/osvm
tmp=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
export OSVM_HOME=$tmp/config XDG_STATE_HOME=$tmp/state OSVM_BUILTIN_IMAGES=
mkdir -p "$OSVM_HOME" "$tmp/files"
# ev: the calls go to the server run as the straight side runs it (direct, no
# sandbox): what is measured is the gateway itself. evs: the same server in
# its sandbox, as `mcp add` runs it by default.
"$osvm" mcp add ev --no-sandbox -- node "$ev" stdio >/dev/null
"$osvm" mcp add evs -- node "$ev" stdio >/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; }

port=$(free_port)
(cd "$tmp" && PORT=$port exec node "$ev" streamableHttp >/dev/null 2>&1) &
pids="$pids $!"
wait_port "$port"
gport=$(free_port)
"$osvm" mcp serve --http "127.0.0.1:$gport" ev 2>"$tmp/gw.err" &
gpid=$!
pids="$pids $gpid"
wait_port "$gport"
token=$(cat "$OSVM_HOME/gateway_token")

# --no-warnings: the SDK's HTTP client adds an abort listener a request to
# one signal, and node warns of it at each request past 1,500, on both sides
bench() { node --no-warnings bench/gateway_echo.mjs "$root" "$@"; }
for r in $(seq "$rounds"); do
        bench stdio echo "$calls" node "$ev" stdio | sed 's/^{/{"path":"direct",/' >>"$tmp/results"
        bench stdio ev__echo "$calls" "$osvm" mcp serve ev | sed 's/^{/{"path":"gateway",/' >>"$tmp/results"
        bench stdio echo "$calls" build/bench/gateway_relay node "$ev" stdio | sed 's/^{/{"path":"relay",/' >>"$tmp/results"
        bench stdio echo "$calls" build/bench/gateway_relay --spin 300 node "$ev" stdio | sed 's/^{/{"path":"relayspin",/' >>"$tmp/results"
        bench stdio evs__echo "$calls" "$osvm" mcp serve evs | sed 's/^{/{"path":"sandboxed",/' >>"$tmp/results"
        OSVM_SPIN_US=0 bench stdio ev__echo "$calls" "$osvm" mcp serve ev | sed 's/^{/{"path":"nospin",/' >>"$tmp/results"
        bench http echo "$calls" "http://127.0.0.1:$port/mcp" | sed 's/^{/{"path":"direct",/' >>"$tmp/results"
        bench http ev__echo "$calls" "http://127.0.0.1:$gport/mcp" "$token" "$gpid" | sed 's/^{/{"path":"gateway",/' >>"$tmp/results"
done
kill "$gpid"
wait "$gpid" 2>/dev/null || true

# three servers fronted: the gateway's memory after calls to each
"$osvm" mcp add fs -- node "$fsrv" "$tmp/files" >/dev/null
"$osvm" mcp add memory -- node "$mem" >/dev/null
g3port=$(free_port)
"$osvm" mcp serve --http "127.0.0.1:$g3port" 2>"$tmp/gw3.err" &
g3pid=$!
pids="$pids $g3pid"
wait_port "$g3port"
bench http ev__echo 200 "http://127.0.0.1:$g3port/mcp" "$token" "$g3pid" | sed 's/^{/{"path":"gateway3",/' >>"$tmp/results"

python3 - "$tmp/results" "$calls" "$rounds" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"echo through the gateway against straight to server-everything: {sys.argv[2]} calls x {sys.argv[3]} rounds (SDK client, release build)")
# the CPU of the process between the client and the server (its own, not
# the server's), per call: steadier than a p50 here
per = lambda rs: statistics.median(1000 * r["cpu_ms"] / (r["calls"] + 30) for r in rs)
for t in ("stdio", "http"):
    d = [r for r in rows if r["transport"] == t and r["path"] == "direct"]
    g = [r for r in rows if r["transport"] == t and r["path"] == "gateway"]
    dp = statistics.median(r["p50_us"] for r in d)
    gp = statistics.median(r["p50_us"] for r in g)
    dm = statistics.median(r["p90_us"] for r in d)
    gm = statistics.median(r["p90_us"] for r in g)
    print(f"  {t:5}: p50 straight {dp:7.1f} us, through osvm {gp:7.1f} us: ratio {gp / dp:.2f}x, {100 * (gp - dp) / dp:+.1f}% ({gp - dp:+.1f} us); p90 {dm:.1f} / {gm:.1f} us")
    print(f"         per round p50 straight {[r['p50_us'] for r in d]}, through osvm {[r['p50_us'] for r in g]}")
    # each round's own ratio: its runs follow one another, so the machine's
    # drift between rounds falls out
    rr = [b["p50_us"] / a["p50_us"] for a, b in zip(d, g)]
    print(f"         median of the rounds' own ratios: {statistics.median(rr):.2f}x ({', '.join(f'{x:.2f}' for x in rr)})")
    rl = [r for r in rows if r["transport"] == t and r["path"] == "relay"]
    if rl:
        rp = statistics.median(r["p50_us"] for r in rl)
        rr = [b["p50_us"] / a["p50_us"] for a, b in zip(d, rl)]
        print(f"         the floor, a relay that only copies bytes between the pipes (bench/gateway_relay.c): p50 {rp:.1f} us, ratio {rp / dp:.2f}x, {100 * (rp - dp) / dp:+.1f}% ({rp - dp:+.1f} us); per round {[r['p50_us'] for r in rl]}, the rounds' own ratios' median {statistics.median(rr):.2f}x")
    rs = [r for r in rows if r["transport"] == t and r["path"] == "relayspin"]
    if rs:
        xp = statistics.median(r["p50_us"] for r in rs)
        rr = [b["p50_us"] / a["p50_us"] for a, b in zip(d, rs)]
        print(f"         the same relay spinning up to 300 us before each wait, as osvm does (--spin 300): p50 {xp:.1f} us, ratio {xp / dp:.2f}x, {100 * (xp - dp) / dp:+.1f}%; per round {[r['p50_us'] for r in rs]}, the rounds' own ratios' median {statistics.median(rr):.2f}x")
    if t == "stdio" and rl:
        ratio = f"{per(g) / per(rl):.2f}x the relay's" if per(rl) > 0 else "no ratio: too few calls for the 10 ms ticks"
        print(f"         CPU per call of the process in between (warm-up and start included): osvm {per(g):.0f} us, the relay {per(rl):.0f} us: {ratio}")
    ns = [r for r in rows if r["transport"] == t and r["path"] == "nospin"]
    if ns:
        np_ = statistics.median(r["p50_us"] for r in ns)
        rr = [b["p50_us"] / a["p50_us"] for a, b in zip(d, ns)]
        print(f"         through osvm with no spin before its waits (OSVM_SPIN_US=0): p50 {np_:.1f} us, ratio {np_ / dp:.2f}x, {100 * (np_ - dp) / dp:+.1f}%; per round {[r['p50_us'] for r in ns]}, the rounds' own ratios' median {statistics.median(rr):.2f}x; CPU per call {per(ns):.0f} us")
    sb = [r for r in rows if r["transport"] == t and r["path"] == "sandboxed"]
    if sb:
        sp = statistics.median(r["p50_us"] for r in sb)
        rr = [b["p50_us"] / a["p50_us"] for a, b in zip(d, sb)]
        print(f"         through osvm to the server in its sandbox (mcp add's default): p50 {sp:.1f} us, ratio {sp / dp:.2f}x, {100 * (sp - dp) / dp:+.1f}%; per round {[r['p50_us'] for r in sb]}, the rounds' own ratios' median {statistics.median(rr):.2f}x")
g3 = [r for r in rows if r["path"] == "gateway3"][0]
g1 = [r for r in rows if r["path"] == "gateway" and r["transport"] == "http"][-1]
print(f"  the gateway's RSS (osvm itself, not the servers): one server fronted {g1['rss_kb']} KiB (peak {g1['hwm_kb']}), three {g3['rss_kb']} KiB (peak {g3['hwm_kb']})")
PY
