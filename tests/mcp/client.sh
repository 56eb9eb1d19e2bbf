#!/usr/bin/env bash
# The MCP client's start-up, server requests and authorization, against the
# real reference servers from npm and test peers of our own on loopback
# (tests/mcp/oauth_peer.py: an OAuth authorization server and a protected
# MCP server).
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

PEERS=$("$ROOT/tests/peers/install.sh" 2>/dev/null) || PEERS=""
EVERYTHING=$PEERS/node_modules/@modelcontextprotocol/server-everything/dist/index.js
if [ -z "$PEERS" ] || [ ! -f "$EVERYTHING" ] || ! command -v node >/dev/null; then
        skip "the MCP client against real servers" "node or the npm test peers are missing"
        finish
        exit
fi

# ---- start-up in parallel ----

# Two servers that each answer only once the other has started: started one
# after the other, the first would wait for the second for ever (until its
# init_timeout_ms); started together, both answer.
fresh
mkdir -p "$T/marks"
for me in a b; do
        other=$([ $me = a ] && echo b || echo a)
        cat >"$T/$me.sh" <<SH
touch "$T/marks/$me"
# (120 s: a bound that only guards against a hang)
for _ in \$(seq 1200); do [ -e "$T/marks/$other" ] && exec node "$EVERYTHING" stdio; sleep 0.1; done
exit 3
SH
        osvm mcp add "$me" -- sh "$T/$me.sh"
done
# and one that never answers: given up on after its own init_timeout_ms
osvm mcp add mute -- sleep 600
python3 - "$OSVM_HOME/mcp_servers.json" <<'PY'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["mute"]["init_timeout_ms"] = 1500
json.dump(d, open(p, "w"))
PY
osvm mcp tools
check_exit "tools: a server that does not answer fails the listing" 1
check_contains "tools: the first of two mutually waiting servers is up" "a/echo" "$OUT"
check_contains "tools: so is the second (they started together)" "b/echo" "$OUT"
check_contains "tools: the mute one is named with its own timeout" \
        "mute: no answer to initialize within 1500 ms (init_timeout_ms in mcp_servers.json); skipped" "$ERR"
osvm mcp tools --json
check_json "tools --json: one object of servers, the ones that are up" "$T/out" \
        'sorted(d) == ["a", "b"] and any(t["name"] == "echo" for t in d["a"])'
osvm mcp tools a --json
check_json "tools NAME --json: the same shape" "$T/out" 'list(d) == ["a"]'

# ---- a server's own requests: elicitation, sampling, roots ----

fresh
osvm mcp add everything -- node "$EVERYTHING" stdio
osvm mcp tools everything
check_contains "elicitation is declared: its trigger tool is offered" "everything/trigger-elicitation-request" "$OUT"
osvm mcp call everything trigger-elicitation-request
check_exit "one-shot: the question is declined, the call completes" 0
check_contains "one-shot: the server hears the decline" "decline" "$OUT"
check_contains "one-shot: the user is told why" "declined: nobody is asked outside the chat" "$ERR"
python3 - "$OSVM_HOME/mcp_servers.json" <<'PY'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["everything"]["elicitation"] = "defaults"
json.dump(d, open(p, "w"))
PY
osvm mcp call everything trigger-elicitation-request
check_exit "policy defaults: the call completes" 0
check_contains "policy defaults: a required field without a default cannot be answered: declined" \
        "declined" "$OUT"
check_contains "policy defaults: the user is told why" "a required field has no value" "$ERR"

finish
