#!/usr/bin/env bash
# `osvm mcp serve`: the gateway in front of every registered server, with
# the TypeScript SDK's client (from npm) as its client over stdio; hostile
# input; the audit records of its calls; osvm's own pack on the process
# platform behind it.
# tests/run.sh: also with OSVM_NO_KVM=1 where KVM is usable (routes and fallbacks).
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

PEERS=$("$ROOT/tests/peers/install.sh" 2>/dev/null) || PEERS=""
EVERYTHING=$PEERS/node_modules/@modelcontextprotocol/server-everything/dist/index.js
FILESYSTEM=$PEERS/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js
SDK=$PEERS/node_modules/@modelcontextprotocol/sdk/dist/esm/client/index.js
INSPECTOR=$PEERS/node_modules/@modelcontextprotocol/inspector/cli/build/index.js
if [ -z "$PEERS" ] || [ ! -f "$EVERYTHING" ] || [ ! -f "$SDK" ] || ! command -v node >/dev/null; then
        skip "the gateway" "node or the npm test peers are missing"
        finish
        exit
fi
export OSVM_BUILTIN_IMAGES= # osvm's own pack only where a case asks for it

fresh
mkdir -p "$T/files" && echo "a file" >"$T/files/a.txt"
osvm mcp add ev -- node "$EVERYTHING" stdio
osvm mcp add fs -- node "$FILESYSTEM" "$T/files"
osvm mcp add peer -- python3 "$ROOT/tests/mcp/gateway_peer.py"

# ---- the SDK client, over stdio ----
# (timeout 300: only guards against a hang)
OSVM_GATEWAY_POLL_MS=200 timeout 300 node "$ROOT/tests/mcp/gateway_client.mjs" "$PEERS" "$OSVM" >"$T/sdk.json" 2>"$T/sdk.err"
check_eq "the SDK client's run through the gateway exits 0" 0 $?
[ -s "$T/sdk.json" ] || cat "$T/sdk.err" | tail -20
J=$T/sdk.json
check_json "it is osvm" "$J" 'd["server"]["name"] == "osvm"'
# (server-everything offers 15: osvm declares elicitation, so its two
# elicitation triggers are among them)
check_json "the tools of every server, qualified SERVER__TOOL" "$J" \
        'len([t for t in d["tools"] if t.startswith("ev__")]) == 15 and len([t for t in d["tools"] if t.startswith("fs__")]) == 14 and sorted(t for t in d["tools"] if t.startswith("peer__")) == ["peer__add-tool", "peer__echo"]'
# (ev, added as mcp add adds: in its sandbox, the reduced tier on a host
# without user namespaces)
check_json "a tool says where it comes from, how it is routed and where its server runs" "$J" \
        'd["echo_meta"] in [{"osvm/server": "ev", "osvm/tool": "echo", "osvm/route": "direct", "osvm/tier": t} for t in ("sandbox", "reduced")]'
check_json "two servers' echo tools do not clash" "$J" \
        'd["ev_echo"] == "Echo: hello" and d["peer_echo"] == "peer: hello"'
check_json "the instructions say where the calls run: in the server, in its sandbox" "$J" \
        '("- ev: 15 tools run in the server'"'"'s own process, confined in osvm'"'"'s sandbox on this host (not a VM)." in d["instructions"] or "- ev: 15 tools run in the server'"'"'s own process, in osvm'"'"'s reduced sandbox on this host" in d["instructions"]) and "audit log" in d["instructions"]'
check_json "and carry each server's own, named" "$J" '"From peer:\nThe peer'"'"'s own words." in d["instructions"]'
check_json "the capabilities are the union of the servers'" "$J" \
        'd["capabilities"]["tools"]["listChanged"] and d["capabilities"]["resources"]["subscribe"] and "prompts" in d["capabilities"] and "completions" in d["capabilities"] and "logging" in d["capabilities"]'
check_json "progress of a long call is forwarded" "$J" 'd["progress_seen"] >= 1'
check_json "a ping while a long call runs is answered before it ends" "$J" 'd["ping_while_long"]'
check_json "a second call while a long call runs is answered before it ends" "$J" \
        'd["echo_while_long"] == "Echo: meanwhile" and d["long_still_running"]'
check_json "the long call, cancelled, gets no answer (the SDK's own abort)" "$J" \
        'd["long"].startswith("rejected") and "the test cancels it" in d["long"]'
check_json "an unknown tool is a JSON-RPC error -32602" "$J" \
        'd["unknown"]["code"] == -32602 and "Unknown tool: ev__no-such-tool" in d["unknown"]["message"]'
check_json "a server's tools/list_changed reaches the client" "$J" 'd["list_changed"] >= 1'
check_json "and the new tool is listed and runs" "$J" \
        '"peer__extra" in d["tools_after"] and d["extra"] == "extra ran"'
check_json "resources are listed with qualified URIs, and read" "$J" \
        'd["resources"] > 0 and d["resource_uri"].startswith("osvm-gw://ev/") and d["read_uri"] == d["resource_uri"] and d["read_has_content"]'
check_json "resource templates too" "$J" 'd["template"].startswith("osvm-gw://ev/") and "{" in d["template"]'
check_json "an unknown resource is -32602" "$J" 'd["bad_uri"] == -32602'
check_json "prompts are qualified and got" "$J" \
        'all(p.startswith("ev__") for p in d["prompts"]) and d["prompt_messages"] >= 1'
check_json "completion and logging pass through" "$J" 'd["completion"] is True and d["set_level"] == "ok"'
check_json "a server's log messages reach the client, the server's id heading the logger" "$J" \
        'd["log_logger"] is not None and d["log_logger"].startswith("ev") and d["log_level"] is not None'

# ---- the audit log: the gateway's calls, with who asked ----
LOG=$XDG_STATE_HOME/osvm/audit.jsonl
python3 - "$LOG" >"$T/audit.json" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
print(json.dumps([[r["caller"], r["server"], r["tool"], r["status"]] for r in recs]))
PY
check_json "each call through the gateway is recorded, with the client and its session" "$T/audit.json" \
        'all(c[0].startswith("gateway sdk-test session ") and len(c[0].split()[-1]) == 32 for c in d) and ["ev", "echo", "ok"] in [c[1:] for c in d] and ["peer", "echo", "ok"] in [c[1:] for c in d]'
check_json "the cancelled call as cancelled" "$T/audit.json" \
        '["ev", "trigger-long-running-operation", "cancelled"] in [c[1:] for c in d]'
osvm audit verify
check_exit "and the chain is whole" 0

# ---- hostile input ----
timeout 300 python3 "$ROOT/tests/mcp/gateway_hostile.py" "$OSVM" mcp serve ev >"$T/hostile.json" 2>"$T/hostile.err"
check_eq "the hostile client's run exits 0" 0 $?
H=$T/hostile.json
check_json "bad JSON: -32700" "$H" 'd["bad_json"]["error"]["code"] == -32700 and d["bad_json"]["id"] is None'
check_json "a batch: -32600, and it says batches are not supported" "$H" \
        'd["batch"]["error"]["code"] == -32600 and "batches are not supported" in d["batch"]["error"]["message"]'
check_json "a message that is not an object: -32600" "$H" 'd["not_object"]["error"]["code"] == -32600'
check_json "no jsonrpc 2.0: -32600" "$H" 'd["no_jsonrpc"]["error"]["code"] == -32600 and d["no_jsonrpc"]["id"] == 5'
check_json "an id that is an object: -32600, id null" "$H" 'd["bad_id"]["error"]["code"] == -32600 and d["bad_id"]["id"] is None'
check_json "an unknown method: -32601" "$H" 'd["unknown_method"]["error"]["code"] == -32601'
check_json "an unknown tool: -32602" "$H" 'd["unknown_tool"]["error"]["code"] == -32602 and d["unknown_tool"]["id"] == 7'
check_json "a tool of an unknown server: -32602" "$H" 'd["unknown_server"]["error"]["code"] == -32602'
check_json "a call without a name: -32602" "$H" 'd["no_name"]["error"]["code"] == -32602'
check_json "arguments that are not an object: -32602" "$H" 'd["args_not_object"]["error"]["code"] == -32602'
check_json "a ping read in the same write as a long call is answered while the call runs" "$H" \
        'd["ping_read_with_long"] == {"jsonrpc": "2.0", "id": 21, "result": {}}'
check_json "a ping sent while a long call runs is answered while it runs" "$H" \
        'd["ping_while_long"] == {"jsonrpc": "2.0", "id": 23, "result": {}}'
check_json "a name with control characters is quoted back sanitized" "$H" \
        'd["control_name"]["error"]["code"] == -32602 and "\x1b" not in d["control_name"]["error"]["message"]'
check_json "params that are not an object: -32600" "$H" 'd["bad_params"]["error"]["code"] == -32600'
check_json "a message over 16 MiB: a JSON-RPC error" "$H" \
        'd["huge"]["error"]["code"] == -32600 and "over 16777216 bytes" in d["huge"]["error"]["message"]'
check_json "bytes that are not UTF-8: -32700" "$H" 'd["bad_utf8"]["error"]["code"] == -32700'
check_json "after all that the gateway still answers a ping, and exits 0 at the end of input" "$H" \
        'd["ping_after"] == {"jsonrpc": "2.0", "id": 99, "result": {}} and d["exit"] == 0'

# ---- a tool's routing decision is logged once while it is unchanged ----
# (each call's reasons are in its audit record; OSVM_LOG=info shows every call's)
three_echoes() {
        python3 - "$OSVM" <<'PY'
import json, subprocess, sys
p = subprocess.Popen([sys.argv[1], "mcp", "serve", "ev"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
def rpc(m):
    p.stdin.write((json.dumps(m) + "\n").encode()); p.stdin.flush()
    return json.loads(p.stdout.readline())
rpc({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})
for i in range(3):
    assert rpc({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call", "params": {"name": "ev__echo", "arguments": {"message": "x"}}})["result"]["content"][0]["text"] == "Echo: x"
p.stdin.close()
sys.exit(p.wait(timeout=120))
PY
}
XDG_STATE_HOME=$T/once three_echoes 2>"$T/once.err"
check_eq "three calls of one tool through the gateway" 0 $?
check_eq "its decision is logged once" 1 "$(grep -c "Checking isolation config for ev/echo" "$T/once/osvm/logs/osvm.log")"
check_eq "each call has its audit record, with the reasons" 3 \
        "$(grep '"tool":"echo"' "$T/once/osvm/audit.jsonl" | grep -c 'Checking isolation config for ev/echo')"
XDG_STATE_HOME=$T/each OSVM_LOG=info three_echoes 2>"$T/each.err"
check_eq "with OSVM_LOG=info every call's decision is shown" 3 \
        "$(grep -c "Checking isolation config for ev/echo" "$T/each.err")"

# ---- the MCP Inspector's CLI, over stdio ----
# (timeout 300: only guards against a hang)
inspect() { timeout 300 node "$INSPECTOR" "$@" >"$T/insp.json" 2>"$T/insp.err"; }
if [ -f "$INSPECTOR" ]; then
        inspect "$OSVM" mcp serve --method tools/list
        check_eq "the Inspector lists through the gateway over stdio" 0 $?
        check_json "the Inspector sees every server's tools, qualified" "$T/insp.json" \
                '{"ev__echo", "fs__read_text_file", "peer__echo"} <= {t["name"] for t in d["tools"]}'
        # (the target first: --tool-arg takes every word after it)
        inspect "$OSVM" mcp serve --method tools/call --tool-name ev__echo --tool-arg message=inspected
        check_json "the Inspector calls a tool through the gateway over stdio" "$T/insp.json" \
                'd["content"][0]["text"] == "Echo: inspected"'
else
        skip "the MCP Inspector's legs" "it is not among the npm test peers ($INSPECTOR)"
fi

# ---- Streamable HTTP: the same client, and hostile requests ----
OSVM_GATEWAY_POLL_MS=200 "$OSVM" mcp serve --http 127.0.0.1:0 >"$T/http.out" 2>"$T/http.err" &
GW_PID=$!
# (up to 120 s: a bound that only guards against a hang)
for _ in $(seq 1200); do grep -q "serving MCP at" "$T/http.err" && break; sleep 0.1; done
URL=$(sed -n 's/^osvm: serving MCP at //p' "$T/http.err")
check_match "it says where it serves, on loopback" '^http://127\.0\.0\.1:[0-9]+/mcp$' "$URL"
TOKFILE=$OSVM_HOME/gateway_token
check_eq "the token is made on first use, 0600, beside the config" 600 "$(mode_of "$TOKFILE")"
TOKEN=$(cat "$TOKFILE")
check_contains "and printed with a client's configuration" "\"Authorization\": \"Bearer $TOKEN\"" "$(cat "$T/http.err")"
GW_URL=$URL GW_TOKEN=$TOKEN timeout 300 node "$ROOT/tests/mcp/gateway_client.mjs" "$PEERS" >"$T/sdkh.json" 2>"$T/sdkh.err"
check_eq "the SDK client's run over HTTP exits 0" 0 $?
[ -s "$T/sdkh.json" ] || tail -20 "$T/sdkh.err"
J=$T/sdkh.json
check_json "HTTP: a session, and every server's tools, qualified" "$J" \
        'len(d["session"]) == 32 and len(d["tools"]) == 31 and d["ev_echo"] == "Echo: hello" and d["peer_echo"] == "peer: hello"'
check_json "HTTP: a ping and a second call while a long call runs; progress; the long one cancelled" "$J" \
        'd["ping_while_long"] and d["echo_while_long"] == "Echo: meanwhile" and d["long_still_running"] and d["progress_seen"] >= 1 and "the test cancels it" in d["long"]'
check_json "HTTP: unknown tool -32602, list_changed, resources, prompts, completion" "$J" \
        'd["unknown"]["code"] == -32602 and d["list_changed"] >= 1 and "peer__extra" in d["tools_after"] and d["read_uri"].startswith("osvm-gw://ev/") and d["prompt_messages"] >= 1 and d["completion"] is True'
if [ -f "$INSPECTOR" ]; then
        inspect "$URL" --transport http --header "Authorization: Bearer $TOKEN" --method tools/list
        check_eq "the Inspector lists through the gateway over HTTP" 0 $?
        check_json "over HTTP too: every server's tools, qualified" "$T/insp.json" \
                '{"ev__echo", "fs__read_text_file", "peer__echo"} <= {t["name"] for t in d["tools"]}'
        inspect "$URL" --transport http --header "Authorization: Bearer $TOKEN" \
                --method tools/call --tool-name peer__echo --tool-arg message=inspected
        check_json "the Inspector calls a tool through the gateway over HTTP" "$T/insp.json" \
                'd["content"][0]["text"] == "peer: inspected"'
        inspect "$URL" --transport http --method tools/list
        check_contains "without the token the Inspector is refused" "a bearer token is needed" \
                "$(cat "$T/insp.json" "$T/insp.err")"
fi
SID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["session"])' "$T/sdkh.json")
grep -c "\"caller\":\"gateway sdk-test session $SID\"" "$XDG_STATE_HOME/osvm/audit.jsonl" >"$T/n"
check_json "HTTP calls are recorded with the client and its Mcp-Session-Id" "$T/n" 'd >= 5'
timeout 300 python3 "$ROOT/tests/mcp/gateway_http.py" "$URL" "$TOKEN" >"$T/hh.json" 2>"$T/hh.err"
check_eq "the hostile HTTP client's run exits 0" 0 $?
[ -s "$T/hh.json" ] || tail -20 "$T/hh.err"
H=$T/hh.json
check_json "no token, a wrong one, a prefix of it: 401 with WWW-Authenticate: Bearer" "$H" \
        'd["no_token"] == [401, "Bearer"] and d["wrong_token"] == 401 and d["token_prefix"] == 401'
check_json "a foreign Host (DNS rebinding) or Origin: 403; our own Origin is served" "$H" \
        'd["evil_host"] == 403 and d["evil_host_port"] == 403 and d["evil_origin"] == 403 and d["local_origin"] == 200'
check_json "another path 404, no text/event-stream in Accept 406, PUT 405, text/plain 415" "$H" \
        'd["other_path"] == 404 and d["no_sse_accept"] == 406 and d["put"] == 405 and d["text_plain"] == 415'
check_json "initialize: an event stream and an Mcp-Session-Id" "$H" 'd["init"] == [200, "text/event-stream", True, "osvm"] and d["initialized"] == 202'
check_json "no session header 400, an unknown session 404, each a JSON-RPC error with the request's id" "$H" \
        'd["no_session"] == [400, -32600, 2] and d["unknown_session"] == [404, -32001, 2]'
check_json "an id that is neither a string nor an integer: 400/-32600 at once" "$H" \
        'd["null_id"] == [400, -32600, None] and d["array_id"] == [400, -32600, None]'
check_json "bad JSON 400/-32700, a batch 400/-32600, over 16 MiB 413/-32600, an unknown tool -32602" "$H" \
        'd["bad_json"] == [400, -32700] and d["batch"][:2] == [400, -32600] and d["huge"] == [413, -32600] and d["unknown_tool"] == -32602'
check_json "a dropped stream resumed with Last-Event-ID: the rest of the progress and the result" "$H" \
        'd["before_drop"] == ["notifications/progress"] and d["resumed"][0] == 200 and d["resumed"][1][-1] == "result" and "notifications/progress" in d["resumed"][1] and d["resumed_result"].startswith("Long running operation completed") and d["progress_token"] == ["tok"]'
check_json "DELETE ends the session" "$H" 'd["delete"] == 200 and d["after_delete"] == 404'
kill -TERM "$GW_PID"
wait "$GW_PID"
RC=$?
check_eq "SIGTERM ends the HTTP gateway, exit 0" 0 $RC
[ "$RC" = 0 ] || tail -40 "$T/http.err"
"$OSVM" mcp serve --http nonsense </dev/null >/dev/null 2>"$T/e"
check_eq "--http with a bad address is a usage error" 2 $?
"$OSVM" mcp serve --no-auth </dev/null >/dev/null 2>"$T/e"
check_eq "--no-auth without --http is a usage error" 2 $?
"$OSVM" mcp serve --http 0.0.0.0:0 --no-auth </dev/null >/dev/null 2>"$T/e"
check_eq "--no-auth off loopback is refused" 2 $?
check_contains "saying it is for loopback only" "loopback only" "$(cat "$T/e")"
chmod 644 "$TOKFILE"
"$OSVM" mcp serve --http 0 </dev/null >/dev/null 2>"$T/e"
check_eq "a token file others may read is refused" 1 $?
check_contains "saying what to do" "chmod 600" "$(cat "$T/e")"

# ---- names ----
osvm mcp serve nobody </dev/null
check_exit "serving a server that is not registered is a usage error" 2
check_contains "which says so" 'no MCP server "nobody" is registered' "$ERR"
osvm mcp serve --bogus </dev/null
check_exit "an unknown option is a usage error" 2
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' | timeout 120 "$OSVM" mcp serve peer >"$T/only.out" 2>/dev/null
check_json "with names, only those servers' tools" "$T/only.out" \
        'sorted(t["name"] for t in d["result"]["tools"]) == ["peer__add-tool", "peer__echo"]'

# --tools: only the tools its globs name are listed and callable
timeout 120 python3 - "$OSVM" >"$T/tools.json" 2>"$T/tools.err" <<'PY'
import json, subprocess, sys
p = subprocess.Popen([sys.argv[1], "mcp", "serve", "--tools", "ev__echo,peer__*", "--tools", "nosuch__*"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
def rpc(i, m, params):
    p.stdin.write((json.dumps({"jsonrpc": "2.0", "id": i, "method": m, "params": params}) + "\n").encode())
    p.stdin.flush()
    return json.loads(p.stdout.readline())
init = rpc(0, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}})
tools = rpc(1, "tools/list", {})
served = rpc(2, "tools/call", {"name": "ev__echo", "arguments": {"message": "x"}})
other = rpc(3, "tools/call", {"name": "ev__get-sum", "arguments": {"a": 1, "b": 2}})
p.stdin.close()
print(json.dumps({"instructions": init["result"]["instructions"], "tools": sorted(t["name"] for t in tools["result"]["tools"]),
                  "served": served.get("result"), "other": other.get("error"), "exit": p.wait(timeout=60)}))
PY
check_json "--tools: only the tools its globs name are listed" "$T/tools.json" \
        'd["tools"] == ["ev__echo", "peer__add-tool", "peer__echo"]'
check_json "and called" "$T/tools.json" 'd["served"]["content"][0]["text"] == "Echo: x"'
check_json "another is no tool there (-32602)" "$T/tools.json" \
        'd["other"]["code"] == -32602 and "Unknown tool: ev__get-sum" in d["other"]["message"]'
check_json "the instructions say so, and count only those" "$T/tools.json" \
        '"only those named are served: ev__echo, peer__*, nosuch__*." in d["instructions"] and "- ev: 1 tool run" in d["instructions"] and d["exit"] == 0'
check_contains "a glob that names no tool is warned about" "--tools nosuch__* names no tool" \
        "$(cat "$T/tools.err")"
osvm mcp serve --tools 'ev__echo,,peer__*' </dev/null
check_exit "an empty glob is a usage error" 2
check_contains "which says what --tools takes" "--tools takes globs over SERVER__TOOL" "$ERR"

# ---- the registry changes while the gateway runs ----
fresh
osvm mcp add peer -- python3 "$ROOT/tests/mcp/gateway_peer.py"
OSVM_GATEWAY_POLL_MS=200 timeout 300 python3 "$ROOT/tests/mcp/gateway_registry.py" "$OSVM" \
        "$ROOT/tests/mcp/gateway_peer.py" >"$T/reg.json" 2>"$T/reg.err"
check_eq "the registry client's run exits 0" 0 $?
[ -s "$T/reg.json" ] || tail -20 "$T/reg.err"
R=$T/reg.json
check_json "a server added to the registry is announced (tools/list_changed) and served" "$R" \
        'd["before"] == ["peer__add-tool", "peer__echo"] and d["added_changed"] and "second__echo" in d["after_add"] and d["second_echo"] == "peer: new"'
check_json "one removed is announced and no longer served" "$R" \
        'd["removed_changed"] and d["after_remove"] == ["peer__add-tool", "peer__echo"] and d["removed_call"] == -32602 and d["exit"] == 0'

# ---- osvm's own pack behind the gateway: a trapped process (or VM) per call ----
UK=$ROOT/build/unikernels
if [ ! -f "$UK/osvm-mcp.tools.json" ]; then
        skip "osvm-mcp behind the gateway" "the tool images are not built (make tools)"
else
        RPCPORT_FILE=$T/rpc.port
        python3 - "$RPCPORT_FILE" <<'PY' &
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps({"jsonrpc": "2.0", "id": req.get("id"), "result": 4242}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
        RPC_PID=$!
        for _ in $(seq 600); do [ -s "$RPCPORT_FILE" ] && break; sleep 0.1; done
        fresh
        printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"pack-test","version":"1"}}}' \
                '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"osvm-mcp__get_slot","arguments":{}}}' |
                OSVM_BUILTIN_IMAGES=$UK OSVM_SOLANA_RPC="http://127.0.0.1:$(cat "$RPCPORT_FILE")/" \
                        timeout 120 "$OSVM" mcp serve osvm-mcp >"$T/pack.out" 2>"$T/pack.err"
        kill "$RPC_PID" 2>/dev/null
        sed -n 2p "$T/pack.out" >"$T/pack.call"
        check_json "osvm-mcp__get_slot runs through the gateway" "$T/pack.call" \
                'd["result"]["content"][0]["text"] == "Current slot: 4242"'
        tail -n 1 "$XDG_STATE_HOME/osvm/audit.jsonl" >"$T/pack.rec"
        check_json "its record: the unikernel route, on the platform that ran it" "$T/pack.rec" \
                'd["server"] == "osvm-mcp" and d["tool"] == "get_slot" and d["route"] == "unikernel" and d["platform"] in ("kvm", "process") and d["status"] == "ok"'
        check_json "and its host call: the RPC endpoint, allowed, answered 200" "$T/pack.rec" \
                'd["egress"] == [{"url": "http://127.0.0.1:'"$(cat "$RPCPORT_FILE")"'/", "method": "POST", "allowed": True, "status": 200}]'
        sed -n 1p "$T/pack.out" >"$T/pack.init"
        if [ "${OSVM_NO_KVM:-}" = 1 ] || [ ! -w /dev/kvm ]; then
                check_json "the instructions say trapped process, not VM, without KVM" "$T/pack.init" \
                        '"11 tools run each call in its own trapped process" in d["result"]["instructions"] and "its own VM" not in d["result"]["instructions"]'
        fi
fi
finish
