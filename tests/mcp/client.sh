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

# the test peers started below, ended at exit
PEER_PIDS=""
trap 'for p in $PEER_PIDS; do kill "$p" 2>/dev/null; done; chmod -R u+rwX "$TMPROOT" 2>/dev/null; rm -rf "$TMPROOT"' EXIT

# ---- start-up in parallel ----

# Two servers that each answer only once the other has started: started one
# after the other, the first would wait for the second for ever (until its
# init_timeout_ms); started together, both answer. (On the host: each sees
# the other's mark, which two sandboxes would not.)
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
        osvm mcp add "$me" --no-sandbox -- sh "$T/$me.sh"
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
# one that exits at start: its end and the last lines of its stderr are said
osvm mcp add dies -- sh -c 'echo "boom: no such thing" >&2; exit 3'
osvm mcp tools
check_contains "tools: a server that exits at start says how" "exited with status 3" "$ERR"
check_contains "tools: with the last lines of its stderr" "boom: no such thing" "$ERR"
check_contains "tools: the others are listed all the same" "a/echo" "$OUT"
osvm mcp tools a --json
check_json "tools NAME --json: the same shape" "$T/out" 'list(d) == ["a"]'

# Ctrl-C during the start-up ends the wait for a server that does not answer.
fresh
osvm mcp add mute --init-timeout 600000 -- sleep 600
"$OSVM" --no-microvm -p "hello" </dev/null >"$T/out" 2>"$T/err" &
pid=$!
if wait_sigint_caught $pid; then
        kill -INT $pid
        # (up to 120 s: a bound that only guards against a hang)
        for _ in $(seq 1200); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
        if kill -0 $pid 2>/dev/null; then
                kill -9 $pid
                fail "Ctrl-C during the start-up: osvm still waits for the server"
        else
                pass "Ctrl-C during the start-up: the wait ends"
        fi
        wait $pid
        check_eq "Ctrl-C during the start-up: exit 130" "130" "$?"
else
        fail "Ctrl-C during the start-up: osvm never caught SIGINT"
fi

# ---- mcp import: VS Code's format, cwd, disabled ----

fresh
mkdir -p "$T/srv"
cat >"$T/vscode.json" <<JSON
{"servers": {
  "here": {"type": "stdio", "command": "sh", "args": ["-c", "pwd > where.txt; exec node $EVERYTHING stdio"],
           "cwd": "$T/srv"},
  "off": {"command": "node", "args": ["$EVERYTHING", "stdio"], "disabled": true},
  "old": {"type": "sse", "url": "http://127.0.0.1:1/sse"},
  "nodir": {"command": "true", "cwd": "$T/missing"}}}
JSON
osvm mcp import --no-sandbox "$T/vscode.json"
check_contains "import: VS Code's servers are read" "imported 3 servers" "$OUT"
check_contains "import: the legacy HTTP+SSE transport is said to be unsupported" \
        "skipped \"old\": it uses the legacy HTTP+SSE transport (2024-11-05), which osvm does not speak" "$ERR"
osvm mcp list
check_contains "import: disabled is kept" "(disabled)" "$OUT"
osvm mcp tools here
check_exit "import: the server starts" 0
check_eq "import: in its cwd" "$T/srv" "$(cat "$T/srv/where.txt" 2>/dev/null)"
osvm mcp tools nodir
check_contains "a cwd that is not a directory is named" "nodir: its working directory (cwd) $T/missing is not a directory" "$ERR"
# in the sandbox a cwd does not apply, and osvm says so
fresh
mkdir -p "$T/srv"
cat >"$T/cwd.json" <<JSON
{"mcpServers": {"here": {"command": "node", "args": ["$EVERYTHING", "stdio"], "cwd": "$T/srv"}}}
JSON
osvm mcp import "$T/cwd.json"
osvm mcp tools here
check_exit "import: a sandboxed server with a cwd starts" 0
check_contains "import: it is told that its cwd does not apply in the sandbox" \
        "here: its working directory (cwd) does not apply in the sandbox" "$ERR"

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

# In the chat the person answers (here a script: the lines after the prompt).
fresh
osvm mcp add everything -- node "$EVERYTHING" stdio
# (13 fields: a name, yes, then 11 left empty)
printf 'trigger elicitation request\nAda\ny\n\n\n\n\n\n\n\n\n\n\n\n' >"$T/in"
OSVM_STDIN=$T/in osvm --no-microvm
check_exit "chat: a question is answered" 0
check_contains "chat: the question is shown" "Please provide inputs for the following fields:" "$ERR"
check_contains "chat: with its fields, type and default" \
        "Integer (integer; Enter takes 42): Your favorite integer" "$ERR"
check_contains "chat: the answer reaches the server" '"name": "Ada"' "$OUT"
check_contains "chat: a field left empty takes the schema's default" '"integer": 42' "$OUT"
printf 'trigger elicitation request\n!decline\n' >"$T/in"
OSVM_STDIN=$T/in osvm --no-microvm
check_contains "chat: the person may decline" "User declined" "$OUT"
fresh
osvm mcp add evil -- python3 "$ROOT/tests/mcp/hostile_server.py" ask-evil
printf 'echo\nabc\n12\n' >"$T/in"
OSVM_STDIN=$T/in osvm --no-microvm
check_exit "chat: a hostile question" 0
check_contains "chat: its words are shown sanitized" 'EVIL^[]0;title^G^[[2J question' "$ERR"
check_contains "chat: its field's too" 'PIN^[[31m (integer, required): desc\u009b2J' "$ERR"
check_contains "chat: an answer of the wrong type is asked again" "not a number" "$ERR"
check_not_contains "chat: no escape reaches the terminal" $'\e' "$(cat "$T/out" "$T/err")"

# At a terminal, the chat's prompt comes with the first server up (after a
# short grace); a slow one joins with a line. (The slow one starts only once
# the chat has answered a first /tools.)
fresh
osvm mcp add fast -- node "$EVERYTHING" stdio
cat >"$T/slow.sh" <<SH
# (120 s: a bound that only guards against a hang)
for _ in \$(seq 1200); do [ -e "$T/go" ] && exec node "$EVERYTHING" stdio; sleep 0.1; done
SH
# (on the host: the script runs node from outside its own folder, which its
# sandbox would not show it)
osvm mcp add slow --no-sandbox --init-timeout 150000 -- sh "$T/slow.sh"
python3 - "$OSVM" "$T" >"$T/pty.out" 2>&1 <<'PY'
import os, pty, select, sys, time
osvm, t = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(osvm, [osvm, "--no-microvm"])
buf = b""
def wait_for(what, send=None, every=0.5):
    global buf
    end = time.time() + 120  # only guards against a hang
    last = 0
    while time.time() < end:
        if what.encode() in buf:
            return True
        if send and time.time() - last > every:
            os.write(fd, send.encode())
            last = time.time()
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                buf += os.read(fd, 65536)
            except OSError:
                return False
    return False
ok = wait_for("osvm> ")
os.write(fd, b"/tools\r")
ok = ok and wait_for("fast (")
first = buf
open(os.path.join(t, "go"), "w").close()
joined = wait_for("(slow joined", send="/status\r")
os.write(fd, b"/tools slow\r")
listed = wait_for("slow (")
os.write(fd, b"/exit\r")
print("prompt-before-slow: " + ("yes" if ok and b"slow (" not in first else "no"))
print("joined: " + ("yes" if joined else "no"))
print("listed: " + ("yes" if listed else "no"))
os.waitpid(pid, 0)
PY
check_contains "join: at a terminal the prompt comes before the slow server" "prompt-before-slow: yes" "$(cat "$T/pty.out")"
check_contains "join: the slow one joins with a line" "joined: yes" "$(cat "$T/pty.out")"
check_contains "join: then its tools are the agent's" "listed: yes" "$(cat "$T/pty.out")"

# tools/list_changed: the agent's tools are listed again before the next prompt.
fresh
osvm mcp add changing -- python3 "$ROOT/tests/mcp/hostile_server.py" changing
printf '/tools changing\necho message\n/tools changing\n' >"$T/in"
OSVM_STDIN=$T/in osvm --no-microvm
check_exit "list_changed: the chat runs" 0
check_contains "list_changed: the chat says the tools changed" "(the servers' tools changed: " "$OUT"
check_contains "list_changed: /tools shows the new list" "new_2" "$OUT"

# Sampling in the chat: the server's request goes to the configured LLM (a
# scripted one on loopback) once the person consents, and the answer back.
fresh
osvm mcp add everything -- node "$EVERYTHING" stdio
cat >"$T/llm-script.json" <<'JSON'
[{"status": 200, "body": {"choices": [{"finish_reason": "tool_calls", "message": {"role": "assistant",
   "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {
   "name": "everything__trigger-sampling-request",
   "arguments": "{\"prompt\": \"say sampled-words\", \"maxTokens\": 50}"}}]}}]}},
 {"status": 200, "body": {"choices": [{"finish_reason": "stop", "message": {"role": "assistant",
   "content": "sampled-words from the LLM"}}]}},
 {"status": 200, "body": {"choices": [{"finish_reason": "stop", "message": {"role": "assistant",
   "content": "all done"}}]}}]
JSON
python3 "$ROOT/tests/agent/llm_server.py" --script "$T/llm-script.json" --record "$T/llm-record.json" \
        >"$T/llm.out" 2>"$T/llm.err" &
PEER_PIDS="$PEER_PIDS $!"
# (up to 60 s: a bound that only guards against a hang)
for _ in $(seq 600); do grep -q '^PORT ' "$T/llm.out" && break; sleep 0.1; done
LLM_PORT=$(sed -n 's/^PORT //p' "$T/llm.out")
printf 'ask the sampler\ny\ny\n' >"$T/in"
OSVM_AI_URL=http://127.0.0.1:$LLM_PORT/v1 OSVM_AI_MODEL=test-model OSVM_STDIN=$T/in osvm --no-microvm
check_exit "sampling: the chat runs" 0
check_contains "sampling: the person is asked first" "everything asks to use your LLM (test-model)" "$ERR"
check_contains "sampling: with the server's words" "context: say sampled-words" "$ERR"
check_contains "sampling: and the LLM's answer, before it is given" \
        "The LLM answers: sampled-words from the LLM" "$ERR"
check_json "sampling: the LLM got the server's prompt and limit" "$T/llm-record.json" \
        'd[1]["body"]["messages"][-1]["content"].endswith("say sampled-words") and d[1]["body"]["max_tokens"] == 50'
check_json "sampling: the server got the LLM's answer (its tool result, back to the planner)" \
        "$T/llm-record.json" '"sampled-words from the LLM" in d[2]["body"]["messages"][-1]["content"]'
check_contains "sampling: the chat answers" "all done" "$OUT"

# The same questions in the chat inside μVM-1 (without KVM, its stand-in: the
# agent in a trapped process): the supervisor puts a server's request to the
# agent while the agent's tool call runs, and the agent asks the person on
# its terminal; a sampling request's LLM call is the agent's host call.
if kvm_probe; then inside="1μVMs"; else inside="1μPs"; fi
LLM_SCRIPT=$T/llm-script.json
fresh
osvm mcp add everything -- node "$EVERYTHING" stdio
printf 'trigger elicitation request\nAda\ny\n\n\n\n\n\n\n\n\n\n\n\n' >"$T/in"
OSVM_STDIN=$T/in osvm
check_exit "μVM-1 chat: a question is answered" 0
check_contains "μVM-1 chat: the agent ran inside μVM-1 (or its stand-in)" "$inside" "$OUT"
check_contains "μVM-1 chat: the question is shown by the agent" \
        "Integer (integer; Enter takes 42): Your favorite integer" "$ERR"
check_contains "μVM-1 chat: the answer reaches the server" '"name": "Ada"' "$OUT"
check_contains "μVM-1 chat: with the schema's defaults" '"integer": 42' "$OUT"
printf 'trigger elicitation request\n!decline\n' >"$T/in"
OSVM_STDIN=$T/in osvm
check_contains "μVM-1 chat: the person may decline" "User declined" "$OUT"
osvm -p "trigger elicitation request"
check_contains "μVM-1 one-shot: the question is declined as outside the chat" \
        "declined: nobody is asked outside the chat" "$ERR"
fresh
osvm mcp add everything -- node "$EVERYTHING" stdio
python3 "$ROOT/tests/agent/llm_server.py" --script "$LLM_SCRIPT" \
        --record "$T/llm-record.json" >"$T/llm.out" 2>"$T/llm.err" &
PEER_PIDS="$PEER_PIDS $!"
# (up to 60 s: a bound that only guards against a hang)
for _ in $(seq 600); do grep -q '^PORT ' "$T/llm.out" && break; sleep 0.1; done
LLM_PORT=$(sed -n 's/^PORT //p' "$T/llm.out")
printf 'ask the sampler\ny\ny\n' >"$T/in"
OSVM_AI_URL=http://127.0.0.1:$LLM_PORT/v1 OSVM_AI_MODEL=test-model OSVM_STDIN=$T/in osvm
check_exit "μVM-1 sampling: the chat runs" 0
check_contains "μVM-1 sampling: inside μVM-1 (or its stand-in)" "$inside" "$OUT"
check_contains "μVM-1 sampling: the person is asked first" \
        "everything asks to use your LLM (test-model)" "$ERR"
check_contains "μVM-1 sampling: and sees the LLM's answer before it is given" \
        "The LLM answers: sampled-words from the LLM" "$ERR"
check_json "μVM-1 sampling: the server got the LLM's answer" "$T/llm-record.json" \
        '"sampled-words from the LLM" in d[2]["body"]["messages"][-1]["content"]'
check_contains "μVM-1 sampling: the chat answers" "all done" "$OUT"

# A server that floods osvm with requests of its own during one call.
fresh
osvm mcp add flood -- python3 "$ROOT/tests/mcp/hostile_server.py" flood
osvm mcp call flood echo message=x
check_exit "flood: the call completes" 0
check_contains "flood: its answer arrives" "after the flood" "$OUT"
check_contains "flood: questions past the bound are declined, said once" \
        "the server asked more than 8 questions during one request; the rest are declined" "$ERR"
check_contains "flood: requests past the bound get an error, said once" \
        "the server sent more than 10000 requests of its own during one request" "$ERR"
check_eq "flood: the bound is said once" "1" "$(grep -c 'more than 10000 requests' "$T/err")"

# ---- OAuth: our own authorization server and protected MCP server on loopback ----

# Starts tests/mcp/oauth_peer.py in MODE; sets RS (the MCP URL), ASP (the
# authorization server's port), REC (its record of requests) and PEER_PID.
start_peer() { # mode
        REC=$T/record.jsonl
        : >"$REC"
        python3 "$ROOT/tests/mcp/oauth_peer.py" "$1" "$REC" >"$T/peer.out" 2>"$T/peer.err" &
        PEER_PID=$!
        PEER_PIDS="$PEER_PIDS $PEER_PID"
        # (up to 60 s: a bound that only guards against a hang)
        for _ in $(seq 600); do
                grep -q '^AS ' "$T/peer.out" 2>/dev/null && break
                sleep 0.1
        done
        RS=http://127.0.0.1:$(sed -n 's/^RS //p' "$T/peer.out")/mcp
        ASP=$(sed -n 's/^AS //p' "$T/peer.out")
}
# The browser: any command that follows the redirect back to osvm's listener.
export BROWSER="curl -fsS -o /dev/null -L --max-redirs 3"
# Did a request carrying a token reach the authorization server's origin?
token_sent_away() {
        python3 - "$REC" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["origin"] == "as" and r["headers"].get("Authorization", "").startswith("Bearer "):
        sys.exit(0)
sys.exit(1)
PY
}

fresh
start_peer ok
osvm mcp add prot --url "$RS"
osvm mcp tools prot
check_exit "oauth: add then tools walks the whole flow" 0
check_contains "oauth: the tools are listed" "prot/whoami" "$OUT"
check_contains "oauth: the sign-in URL is printed" "needs you to sign in" "$ERR"
check_contains "oauth: with PKCE S256" "code_challenge_method=S256" "$ERR"
check_contains "oauth: and the resource (RFC 8707)" "resource=http%3A%2F%2F127.0.0.1" "$ERR"
TOKFILE=$XDG_STATE_HOME/osvm/mcp-auth/prot.json
check_eq "oauth: the token is kept 0600" "600" "$(stat -c %a "$TOKFILE" 2>/dev/null)"
check_eq "oauth: in a directory of 0700" "700" "$(stat -c %a "$(dirname "$TOKFILE")" 2>/dev/null)"
if grep -rq "access-1" "$XDG_STATE_HOME/osvm"/*.log "$XDG_STATE_HOME/osvm/log"* 2>/dev/null || grep -q "access-1" "$T/err"; then
        fail "oauth: the token is never logged or shown"
else
        pass "oauth: the token is never logged or shown"
fi
if token_sent_away; then fail "oauth: the token went to the authorization server"; else pass "oauth: the token went to the MCP server alone"; fi
osvm mcp call prot whoami
check_exit "oauth: a second run uses the kept token" 0
check_contains "oauth: with the scope of the challenge" "whoami with scopes mcp:read" "$OUT"
check_not_contains "oauth: no second sign-in" "needs you to sign in" "$ERR"
osvm mcp call prot write
check_exit "oauth: step-up on insufficient_scope" 0
check_contains "oauth: the new token holds both scopes" "write with scopes mcp:read mcp:write" "$OUT"
osvm mcp logout prot
check_exit "oauth: logout" 0
check_eq "oauth: logout removes the tokens" "no" "$([ -e "$TOKFILE" ] && echo yes || echo no)"
osvm mcp logout prot
check_contains "oauth: a second logout says there was nothing" "no tokens were kept for prot" "$OUT"
kill "$PEER_PID"

fresh
start_peer expire
osvm mcp add prot --url "$RS"
osvm mcp tools prot
check_exit "oauth: the first run signs in" 0
osvm mcp call prot whoami
check_exit "oauth: the next run, its token expired, refreshes it" 0
check_not_contains "oauth: with the refresh token, not a second sign-in" "needs you to sign in" "$ERR"
check_contains "oauth: the refreshed token works" "whoami with scopes mcp:read" "$OUT"
check_eq "oauth: the refresh went to the token endpoint" "2" "$(grep -c '"path": "/token"' "$REC")"
kill "$PEER_PID"

fresh
start_peer prm-elsewhere
osvm mcp add prot --url "$RS"
osvm mcp tools prot
check_exit "oauth hostile: metadata naming another origin's resource is refused" 1
check_contains "oauth hostile: the error names the resource" \
        "names the resource http://127.0.0.1:$ASP/mcp, not this server" "$ERR"
check_not_contains "oauth hostile: no sign-in for it" "needs you to sign in" "$ERR"
kill "$PEER_PID"

fresh
start_peer issuer-wrong
osvm mcp add prot --url "$RS"
osvm mcp tools prot
check_exit "oauth hostile: an authorization server naming another issuer is refused" 1
check_contains "oauth hostile: the error says so" "names the issuer http://127.0.0.1:1" "$ERR"
kill "$PEER_PID"

fresh
start_peer token-junk
osvm mcp add prot --url "$RS"
osvm mcp tools prot
check_exit "oauth hostile: a token endpoint answering junk fails" 1
check_contains "oauth hostile: the error says what was wrong" \
        "the token endpoint answered without an access_token (not a JSON object); refused" "$ERR"
check_not_contains "oauth hostile: the junk is not shown raw" $'\e[2J' "$ERR"
kill "$PEER_PID"

fresh
start_peer redirect-away
osvm mcp add prot --url "$RS"
osvm mcp tools prot
check_exit "redirect to another origin: refused" 1
check_contains "redirect to another origin: the error names the Location" \
        "redirected (HTTP 307) to http://127.0.0.1:$ASP/mcp, another origin; not followed" "$ERR"
if token_sent_away; then fail "redirect to another origin: the token went there"; else pass "redirect to another origin: the token was not sent there"; fi
kill "$PEER_PID"

fresh
start_peer redirect-here
osvm mcp add prot --url "$RS"
osvm mcp tools prot
check_exit "redirect within the origin: followed" 0
check_contains "redirect within the origin: the tools are listed" "prot/whoami" "$OUT"
kill "$PEER_PID"


# A machine client: client credentials with private_key_jwt (SEP-1046). The
# key file must be its owner's alone and a key osvm can sign with; the
# assertion names the client and the authorization server (the conformance
# suite verifies its signature too).
fresh
start_peer machine
umask 022
printf 'not a key\n' >"$T/junk.pem"
chmod 600 "$T/junk.pem"
osvm mcp add m1 --url "$RS" --client-id machine-1 --client-key "$T/junk.pem"
osvm mcp tools m1
check_exit "private_key_jwt: a key that is not PEM fails the sign-in" 1
check_contains "private_key_jwt: saying so" "not a PEM private key" "$ERR"
if command -v openssl >/dev/null; then
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/ec.pem" 2>/dev/null
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rsa.pem" 2>/dev/null
        chmod 644 "$T/ec.pem"
        osvm mcp add m2 --url "$RS" --client-id machine-2 --client-key "$T/ec.pem"
        osvm mcp tools m2
        check_exit "private_key_jwt: a key others may read is refused" 1
        check_contains "private_key_jwt: saying how to fix it" "only its owner may read (chmod 600" "$ERR"
        chmod 600 "$T/ec.pem" "$T/rsa.pem"
        osvm mcp tools m2
        check_exit "private_key_jwt: with an EC key the machine client gets its token" 0
        check_contains "private_key_jwt: and the tools are listed" "m2/whoami" "$OUT"
        osvm mcp add m3 --url "$RS" --client-id machine-3 --client-key "$T/rsa.pem"
        osvm mcp tools m3
        check_exit "private_key_jwt: with an RSA key too" 0
        python3 - "$REC" "$T/claims.json" <<'PY'
import json, sys
a = [json.loads(l)["assertion"] for l in open(sys.argv[1]) if '"assertion"' in l]
json.dump(a, open(sys.argv[2], "w"))
PY
        check_json "private_key_jwt: ES256 then RS256, iss = sub = the client, aud = the issuer, 5 minutes" \
                "$T/claims.json" \
                '[x["header"]["alg"] for x in d] == ["ES256", "RS256"] and d[0]["signature_bytes"] == 64 and d[1]["signature_bytes"] == 256 and all(x["claims"]["iss"] == x["claims"]["sub"] == x["client_id"] and x["claims"]["aud"] == x["issuer"] and x["claims"]["exp"] - x["claims"]["iat"] == 300 and len(x["claims"]["jti"]) >= 16 for x in d)'
        check_not_contains "private_key_jwt: the key is not in osvm's files" "PRIVATE KEY" \
                "$(cat "$OSVM_HOME"/*.json "$XDG_STATE_HOME"/osvm/mcp-auth/*.json 2>/dev/null)"
else
        skip "private_key_jwt with real keys" "the openssl command is not installed"
fi
kill "$PEER_PID"

finish
