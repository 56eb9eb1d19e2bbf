#!/bin/bash
# The soak: CALLS (default 10000) tool calls in one osvm process (build/bench/soak,
# bench/soak.c), on a fresh osvm home with its servers added as a user adds them.
# Starts the peers the calls go to (a stand-in Solana RPC endpoint, bench/soak_rpc.py;
# server-everything over Streamable HTTP), registers server-everything over stdio,
# the HTTP one, and bench/soak_server.py three times (one that crashes every 100th
# call, one for the limits, one held to 64 MB), then runs the soak. bench/README.md says what it checks.
#
# usage: bench/soak.sh [CALLS] [SOAK]     (SOAK: the binary, default build/bench/soak;
#                                         build/asan/bench/soak for the sanitizer build)
set -eu
cd "$(dirname "$0")/.."
ROOT=$PWD
calls=${1:-10000}
soak=${2:-build/bench/soak}
root=$(tests/peers/install.sh)
everything=$root/node_modules/@modelcontextprotocol/server-everything/dist/index.js
[ -f build/unikernels/osvm-mcp.tools.json ] || { echo "soak: make tools first" >&2; exit 2; }
osvm=$ROOT/build/osvm
[ -x "$osvm" ] || { echo "soak: make build/osvm first" >&2; exit 2; }

tmp=$(mktemp -d)
pids=()
# shellcheck disable=SC2317 # run by the trap
cleanup() {
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
        rm -rf "$tmp"
}
trap cleanup EXIT

export OSVM_HOME=$tmp/osvm XDG_STATE_HOME=$tmp/state XDG_CACHE_HOME=$tmp/cache
export OSVM_AUDIT_FILE=$tmp/audit.jsonl OSVM_BUILTIN_IMAGES=$ROOT/build/unikernels
export OSVM_LOG=${OSVM_LOG:-error}

python3 bench/soak_rpc.py "$tmp/rpc.port" &
pids+=($!)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$tmp" && PORT=$port exec node "$everything" streamableHttp >"$tmp/http.log" 2>&1) &
pids+=($!)
for _ in $(seq 600); do # a bound that only guards a hang
        [ -s "$tmp/rpc.port" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
done
OSVM_SOLANA_RPC=http://127.0.0.1:$(cat "$tmp/rpc.port")/
export OSVM_SOLANA_RPC

{
        "$osvm" mcp add everything -- node "$everything" stdio
        "$osvm" mcp add everything-http --url "http://127.0.0.1:$port/mcp"
        "$osvm" mcp add crashy --mount "$ROOT/bench" -- python3 "$ROOT/bench/soak_server.py" 100
        "$osvm" mcp add limits --mount "$ROOT/bench" -- python3 "$ROOT/bench/soak_server.py"
        "$osvm" mcp add hog --memory 64 --mount "$ROOT/bench" -- python3 "$ROOT/bench/soak_server.py"
        # the limits of two pack tools, which the fake endpoint makes them pass
        "$osvm" isolation set osvm-mcp/get_block_height timeout_ms=300
        "$osvm" isolation set osvm-mcp/get_token_accounts_by_owner memory_mb=16
} >"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log" >&2; exit 1; }

# Under the sanitizer build, each osvm process's report (the soak's, and the
# built-in pack server's, which is the soak binary too) goes to a file of its own.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:log_path=$tmp/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}:log_path=$tmp/ubsan"
rc=0
"$soak" "$calls" || rc=$?
for f in "$tmp"/asan.* "$tmp"/ubsan.*; do
        [ -e "$f" ] || continue
        echo "soak: the sanitizers reported, in $(basename "$f"):" >&2
        cat "$f" >&2
        rc=1
done
exit $rc
