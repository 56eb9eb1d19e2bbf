#!/usr/bin/env bash
# Shell tests of `osvm mcp` against the real reference servers from npm,
# over stdio and Streamable HTTP.
# tests/run.sh: also with OSVM_NO_KVM=1 where KVM is usable (routes and fallbacks).
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

PEERS=$("$ROOT/tests/peers/install.sh" 2>/dev/null) || PEERS=""
EVERYTHING=$PEERS/node_modules/@modelcontextprotocol/server-everything/dist/index.js
FILESYSTEM=$PEERS/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js
if [ -z "$PEERS" ] || [ ! -f "$EVERYTHING" ] || [ ! -f "$FILESYSTEM" ] || ! command -v node >/dev/null; then
        skip "osvm mcp against real servers" "node or the npm test peers are missing"
        finish
        exit
fi

# A free port on loopback, and server-everything's HTTP transport on it.
free_port() {
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
HTTP_PORT=$(free_port)
(cd "$TMPROOT" && PORT=$HTTP_PORT exec node "$EVERYTHING" streamableHttp >"$TMPROOT/http.log" 2>&1) &
HTTP_PID=$!
trap 'kill $HTTP_PID 2>/dev/null; chmod -R u+rwX "$TMPROOT" 2>/dev/null; rm -rf "$TMPROOT"' EXIT
# (up to 120 s: a bound that only guards against a hang, on a loaded machine)
for _ in $(seq 1200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null && break
        sleep 0.1
done
URL=http://127.0.0.1:$HTTP_PORT/mcp

# ---- the registry ----

fresh
osvm mcp list
check_exit "list on a fresh home exits 0" 0
check_contains "list says there is nothing yet" "no MCP servers registered" "$OUT"

# (on the host, its calls direct: "sandbox": false, "execution_mode": "direct";
# tests/mcp/sandbox.sh covers the sandbox servers get by default)
osvm mcp add everything --no-sandbox -- node "$EVERYTHING" stdio
check_exit "add a stdio server" 0
osvm mcp add web --url "$URL" --header "X-Test: 1"
check_exit "add an HTTP server" 0
osvm mcp add everything -- node x.js
check_failed "adding an existing name fails"
check_contains "and says so" "already registered" "$ERR"
osvm mcp add "bad/name" -- node x.js
check_exit "a bad name is a usage error" 2
osvm mcp add lonely
check_exit "add without a command or URL is a usage error" 2
osvm mcp add remote "$URL?token=s3cret"
check_exit "a URL given as the command is a usage error" 2
check_contains "which names --url" "osvm mcp add remote --url URL" "$ERR"
check_not_contains "and never shows the URL (it may hold a credential)" "s3cret" "$ERR$OUT"
check_not_contains "nothing was registered" '"remote"' "$(cat "$OSVM_HOME/mcp_servers.json" 2>/dev/null)"
osvm mcp add srv npx -y some-package
check_exit "a server's option typed without -- is a usage error" 2
check_contains "which says where it goes" "-y is not an option of 'osvm mcp add'; a server's own options go after --" "$ERR"
osvm mcp add srv --token=s3cret -- node x.js
check_contains "an unknown long option is named" "--token is not an option" "$ERR"
check_not_contains "without the value given with it" "s3cret" "$ERR"
osvm mcp add srv node x.js --env
check_contains "an option without its value says so" "--env needs a value" "$ERR"
check_not_contains "none of them registered a server" '"srv"' "$(cat "$OSVM_HOME/mcp_servers.json" 2>/dev/null)"
osvm mcp add evil --url "$URL" --header "$(printf 'X-Test: 1\r\nX-Injected: 1')"
check_exit "a header holding CR LF is a usage error" 2
check_contains "and the error names the header" "X-Test" "$ERR"
osvm mcp add evil --url "$URL" --header "$(printf 'X-Test: a\001b')"
check_exit "a header holding another control character is a usage error" 2

REG=$OSVM_HOME/mcp_servers.json
check_eq "the registry file is 0600" 600 "$(mode_of "$REG")"
check_json "the registry keeps the original osvm fields" "$REG" \
        'd["everything"]["transport_type"] == "stdio" and d["everything"]["enabled"] is True and "extra_config" in d["everything"] and d["everything"]["command"] == "node"'
check_json "the HTTP entry has its URL and header" "$REG" \
        'd["web"]["transport_type"] == "http" and d["web"]["headers"] == {"X-Test": "1"}'
check_json "the refused ones were not registered" "$REG" '"evil" not in d'

# --no-sandbox names the server in isolation_config.json: on the host, its calls direct
osvm isolation show everything
check_contains "a --no-sandbox server is shown with its own policy" \
        "everything/*  (every tool not listed under it in isolation_config.json)" "$OUT"
check_match "its mode, from the server" '^  mode +direct +\(server\)' "$OUT"

# Registered, not in isolation_config.json (a registry older than its policy):
# known, with the config's defaults.
python3 - "$OSVM_HOME/isolation_config.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
del d["mcp_servers"]["everything"]
json.dump(d, open(sys.argv[1], "w"))
PY
osvm isolation show everything
check_exit "isolation show of a registered server that the config does not name exits 0" 0
check_contains "it is shown with the defaults, said so" \
        "everything/*  (every tool: defaults, not in isolation_config.json)" "$OUT"
check_match "with the route its calls take" '^  route +direct' "$OUT"
osvm isolation show --json everything
check_json "isolation show --json of it: one policy for every tool" "$T/out" \
        'len(d) == 1 and d[0]["tool"] == "*" and d[0]["server_configured"] is False and d[0]["registered"] is True'
osvm isolation show
check_contains "isolation show lists the registered servers too" "everything/*" "$OUT"
check_contains "and the HTTP one" "web/*" "$OUT"
osvm status
check_contains "status lists a registered server the config does not name" "everything(host:cfg)" "$OUT"
osvm status --json
check_json "status --json: the registered server, with its policy and where it comes from" "$T/out" \
        '[(s["registered"], s["in_config"], s["policy_source"], s["policy"]["mode"]) for s in d["servers"] if s["name"] == "everything"] == [(True, False, "defaults, not in isolation_config.json", "unikernel")]'
osvm isolation show nosuch
check_exit "isolation show of a server known nowhere exits 1" 1
check_contains "and says where it looked" "or in the registry" "$ERR"
osvm isolation set everything sandbox=false execution_mode=direct

osvm mcp list --json
printf '%s' "$OUT" >"$T/list.json"
check_json "list --json names both" "$T/list.json" \
        'sorted(s["name"] for s in d) == ["everything", "web"]'

# ---- tools and calls, both transports ----

for target in everything web; do
        osvm mcp tools "$target"
        check_exit "tools $target exits 0" 0
        check_contains "tools $target lists echo" "$target/echo" "$OUT"
        check_contains "tools $target lists get-sum" "$target/get-sum" "$OUT"

        osvm mcp call "$target" get-sum a=2 b=3
        check_exit "call $target get-sum exits 0" 0
        check_contains "call $target get-sum adds" "The sum of 2 and 3 is 5" "$OUT"
        if [ "$target" = everything ]; then
                # --no-sandbox: the server's calls go straight to it, no image tried
                check_not_contains "a --no-sandbox server's call does not fall back" "Falling back" "$ERR"
        else
                # a server the isolation config does not name: the default policy
                check_contains "the fallback is said in the words of the original design" \
                        "Falling back to direct MCP execution" "$ERR"
        fi

        osvm mcp call "$target" echo '{"message": "hello world"}'
        check_contains "call $target echo with a JSON object" "Echo: hello world" "$OUT"

        osvm mcp call "$target" echo message="hello world" --json
        check_exit "call --json exits 0" 0
        printf '%s' "$OUT" >"$T/call.json"
        check_json "call --json has server, tool, mode, reasons, duration, result" "$T/call.json" \
                'd["server"] == "'"$target"'" and d["tool"] == "echo" and d["mode"] == "direct" and len(d["reasons"]) >= 3 and d["duration_ms"] > 0 and d["result"]["content"][0]["text"] == "Echo: hello world"'
        # where its server runs: on the host (--no-sandbox), or elsewhere (by URL)
        check_json "and where its server runs" "$T/call.json" \
                'd["tier"] == ("host" if "'"$target"'" == "everything" else "remote")'

        osvm mcp call "$target" no-such-tool
        check_exit "an unknown tool on $target is a tool error (5)" 5
        check_contains "and the server's words are shown" "no-such-tool" "$ERR"

        osvm mcp call "$target" get-sum a=two b=3
        check_exit "a value that is not the schema's type is a usage error" 2
        check_contains "naming the argument" "a: \"two\" is not a valid number" "$ERR"

        osvm mcp call "$target" trigger-long-running-operation duration=0.4 steps=2
        check_exit "a call with progress exits 0" 0
        check_contains "progress is shown on stderr" "progress: 2/2" "$ERR"
done

osvm mcp tools "$URL"
check_contains "a URL works without registering it" "adhoc/echo" "$OUT"

# A server reached by URL runs elsewhere: a policy that asks for its sandbox
# (microvm mode) is not called one; the call takes its fallback, and says why.
osvm isolation set web execution_mode=microvm
osvm isolation explain web/echo
check_contains "explain: a URL server cannot have a sandbox" \
        "nor is the server's sandbox: it is reached by URL" "$OUT"
check_not_contains "and is not said to run in one" "runs in its sandbox" "$OUT"
osvm mcp call web echo message=hi --json
check_exit "its call falls back to the server as it is" 0
printf '%s' "$OUT" >"$T/call.json"
check_json "and its tier is remote" "$T/call.json" 'd["mode"] == "direct" and d["tier"] == "remote"'
osvm status
check_contains "the status line says remote, not sandbox" "web(remote:cfg)" "$OUT"
check_not_contains "and counts no sandbox" "sbx" "$OUT"
osvm isolation set web fallback=deny
osvm mcp call web echo message=hi
check_exit "with fallback deny, refused (4)" 4
check_contains "saying why" "reached by URL" "$ERR"
osvm isolation set web execution_mode= fallback=

# ---- cancellation and timeouts ----

"$OSVM" mcp call everything trigger-long-running-operation duration=20 steps=20 \
        >"$T/out" 2>"$T/err" &
pid=$!
# Ctrl-C once the call is under way: its first progress shows (the bound of
# 120 s only guards against a hang, on a loaded machine)
for _ in $(seq 1200); do
        grep -q "progress:" "$T/err" && break
        sleep 0.1
done
kill -INT $pid
wait $pid
RC=$?
check_exit "Ctrl-C cancels the call: exit 130" 130
check_contains "and says it was cancelled" "cancelled" "$(cat "$T/err")"
check_not_contains "and the call did not run to its end" "completed" "$(cat "$T/out")"

# Ctrl-C while a server has not answered initialize yet: 130 as well
osvm mcp add mute -- sh -c 'exec sleep 60'
"$OSVM" mcp call mute echo message=x >"$T/out" 2>"$T/err" &
pid=$!
wait_sigint_caught $pid
sleep 0.3 # (into the server's start; either way the answer is the same)
kill -INT $pid
wait $pid
check_eq "Ctrl-C before the server answered initialize: exit 130" 130 $?
check_contains "said as cancelled" "cancelled" "$(cat "$T/err")"

osvm mcp call --timeout 500 web trigger-long-running-operation duration=20 steps=20
check_exit "a timeout fails the call" 1
check_contains "naming the limit" "timed out after 500 ms" "$ERR"

# The policy's timeout_ms holds for a call on the server (here a fallback) as in a VM.
osvm isolation set everything timeout_ms=1000
osvm mcp call everything trigger-long-running-operation duration=3 steps=3
check_exit "the policy's timeout_ms ends a fallback call (exit 1)" 1
check_contains "saying it timed out, and by which limit" \
        "timed out after 1000 ms, the limit of its policy (timeout_ms, set at the server level)" "$ERR"
check_not_contains "the call did not finish" "Long running operation completed" "$OUT"
osvm isolation set everything timeout_ms=

# ---- a server that dies, a server that is not there ----

osvm mcp add crash -- sh -c 'read line; exit 7'
osvm mcp call crash echo message=x
check_exit "a server that exits at once fails the call" 1
check_contains "naming how it ended" "exited with status 7" "$ERR"

osvm mcp add noisy -- sh -c 'echo "starting" >&2; echo "Error: Cannot find module /srv/x.js" >&2; exit 1'
osvm mcp call noisy echo message=x
check_exit "a server that exits at start fails the call" 1
check_contains "with the last lines of its stderr" "exited with status 1; the last lines of its stderr:" "$ERR"
check_contains "the first of them on a line of its own" "$(printf '\n    starting\n')" "$ERR"
check_contains "and the last" "$(printf '\n    Error: Cannot find module /srv/x.js')" "$ERR"

osvm mcp add ghost -- /nonexistent/server
check_exit "adding a command that does not exist still adds it" 0
check_contains "but warns at once" 'the command "/nonexistent/server" is not found (no executable file there)' "$ERR"
check_contains "and says it is added all the same" "registered all the same" "$ERR"
PATH=/nonexistent-osvm-test "$OSVM" mcp add nonpx -- npx -y @modelcontextprotocol/server-everything \
        >"$T/out" 2>"$T/err"
RC=$?
check_exit "adding a server whose interpreter is missing exits 0" 0
check_contains "and says how to install it" "npx is not installed: on Debian, 'apt-get install npm'" "$(cat "$T/err")"
osvm mcp add here -- node "$EVERYTHING" stdio
check_not_contains "a command on PATH draws no warning" "not found" "$ERR"
osvm mcp remove nonpx >/dev/null
osvm mcp remove here >/dev/null
osvm mcp call ghost echo
check_exit "a server that cannot start fails the call" 1
check_contains "naming the command" "/nonexistent/server" "$ERR"

osvm mcp call nobody echo
check_exit "an unregistered server is a usage error" 2

# ---- the filesystem server, routing and status ----

mkdir -p "$T/files"
printf 'hi there\n' >"$T/files/hello.txt"
osvm mcp add fs -- node "$FILESYSTEM" "$T/files"
osvm mcp call fs read_text_file path="$T/files/hello.txt"
check_eq "filesystem read_text_file" "hi there" "$OUT"
# an added server's calls go to it in its sandbox: no image of its tools is tried
check_not_contains "a sandboxed server's call tries no image and falls back from nothing" "WARN" "$ERR"
osvm isolation explain fs/read_text_file
check_contains "explain: its calls run on the server, in its sandbox" \
        "Tool configured for MicroVM execution mode (the server's execution_mode)
INFO: MicroVM engine not available; running server in sandbox" "$OUT"
osvm mcp call fs read_text_file path=/etc/hostname
check_exit "a path outside the server's roots is a tool error" 5

# a tool asked to run in a VM of its own, which has no image: its fallback decides
osvm isolation set fs/read_text_file execution_mode=unikernel fallback=deny
osvm mcp call fs read_text_file path="$T/files/hello.txt"
check_exit "fallback deny refuses the call (4)" 4
check_contains "and says why" 'Refusing to run fs/read_text_file: its fallback policy is "deny"' "$ERR"
check_contains "and how to let it run" "osvm isolation set fs/read_text_file fallback=direct" "$ERR"
check_eq "and says it once" 1 "$(grep -c "Refusing\|refused" "$T/err")"
check_eq "nothing was printed as a result" "" "$OUT"

osvm status
check_contains "the status line lists the registered servers" "fs(sandbox:cfg)" "$OUT"
check_contains "and the one on the host" "everything(host:cfg)" "$OUT"

# ---- remove and import ----

osvm mcp remove ghost
check_exit "remove exits 0" 0
osvm mcp remove ghost
check_failed "removing it again fails"
cat >"$T/import.json" <<EOF
{"mcpServers": {"imported": {"command": "node", "args": ["$EVERYTHING", "stdio"]},
                "fs": {"command": "other"}}}
EOF
osvm mcp import "$T/import.json"
check_exit "import exits 0" 0
check_contains "import counts what it added and skipped" "imported 1 server" "$OUT"
check_contains "and the existing one was skipped" "1 skipped" "$OUT"
osvm mcp call imported get-sum a=20 b=22
check_contains "an imported server works" "The sum of 20 and 22 is 42" "$OUT"

finish
