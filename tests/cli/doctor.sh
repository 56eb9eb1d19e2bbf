#!/usr/bin/env bash
# `osvm doctor`: each check with a verdict and, when not ok, a fix; exit 0
# unless a check fails; --json; the LLM endpoint asked over loopback without
# the key, which is never printed. And `osvm config paths`.
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

IMAGES=$ROOT/build/unikernels
export OSVM_BUILTIN_IMAGES=$IMAGES OSVM_AGENT_IMAGE=$IMAGES/osvm-agent.img
# The line of one check: its name is the second column, 11 characters wide.
line() { printf '%s\n' "$OUT" | awk -v n="$1" 'substr($0, 7, 11) ~ "^" n " *$"' | head -n 1; }

# ---- without KVM (OSVM_NO_KVM=1: the same on every machine) ----
fresh
OSVM_NO_KVM=1 osvm doctor
check_exit "without KVM nothing fails: exit 0" 0
check_match "it says KVM is off" '^warn +kvm +KVM is turned off \(OSVM_NO_KVM=1\)' "$(line kvm)"
check_contains "and what to do" "fix: unset OSVM_NO_KVM to use /dev/kvm" "$OUT"
# the process platform runs them instead (every machine has it), never
# called a VM
check_match "and that the process platform runs the calls instead" \
        '^warn +kvm +KVM is turned off .*: tool calls and the agent run on the process platform instead, not in VMs: a trapped process' \
        "$(line kvm)"
check_match "tool calls run in trapped processes" \
        '^ok +tools +11 configured tools: 0 run in a fresh KVM VM each, 11 in a fresh trapped process each \(the process platform, not a VM\)' \
        "$(line tools)"
check_match "and the agent in μVM-1's stand-in, not a VM" \
        "^warn +agent +the agent runs in μVM-1's stand-in, a trapped process \(the process platform\), not a VM: KVM is not usable" \
        "$(line agent)"
check_match "the tool images are found, static programs" \
        "^ok +images +the 11 osvm-mcp tool images in $IMAGES are static x86-64 programs" \
        "$(line images)"
check_match "so is the agent's" "^ok +agent image +$IMAGES/osvm-agent.img is a static" \
        "$(line 'agent image')"
check_match "no LLM: the offline planner" '^ok +llm +no LLM configured' "$(line llm)"
check_match "node is found" '^ok +node +/' "$(line node)"
check_match "the config is not written yet" "^ok +config +$OSVM_HOME does not exist yet" \
        "$(line config)"
check_match "a summary closes it" '^[0-9]+ ok, [0-9]+ warnings?, 0 failures$' \
        "$(printf '%s\n' "$OUT" | tail -n 1)"
check_eq "doctor writes nothing" "no" \
        "$({ [ -e "$OSVM_HOME" ] || [ -e "$XDG_STATE_HOME" ]; } && echo yes || echo no)"

OSVM_NO_KVM=1 osvm doctor --json
check_exit "--json exits 0 too" 0
check_json "--json: ok, the checks in order" "$T/out" \
        'd["ok"] is True and [c["name"] for c in d["checks"]][:5] == ["kvm", "images", "agent image", "tools", "agent"]'
check_json "each check has a verdict, and each that is not ok a fix" "$T/out" \
        'all(c["verdict"] in ("ok", "warn", "fail") and (c["verdict"] == "ok" or c["fix"]) for c in d["checks"])'
check_json "and the paths" "$T/out" \
        "d['paths']['registry'] == '$OSVM_HOME/mcp_servers.json' and d['paths']['logs'] == '$XDG_STATE_HOME/osvm/logs'"

# "platform": "kvm": without KVM the calls and the agent run directly
fresh
osvm status # writes the default config
osvm isolation set platform=kvm
OSVM_NO_KVM=1 osvm doctor
check_exit "platform kvm without KVM: nothing fails (exit 0)" 0
check_match "platform kvm: tool calls run directly on their servers" \
        '^warn +tools +11 of 11 configured tools run directly on their servers.*KVM is not usable' \
        "$(line tools)"
check_match "and the agent directly, not inside μVM-1" \
        '^warn +agent +the agent runs directly in the osvm process, not inside μVM-1: KVM' \
        "$(line agent)"

# (the machine's own /dev/kvm, unless OSVM_NO_KVM=1 stands in for it)
if [ ! -e /dev/kvm ] && [ "${OSVM_NO_KVM:-}" != 1 ]; then
        osvm doctor
        check_exit "on this machine without /dev/kvm: exit 0" 0
        check_match "it says there is no /dev/kvm" '^warn +kvm +there is no /dev/kvm' "$(line kvm)"
        check_contains "and what to do" "fix: enable virtualization (VT-x or AMD-V)" "$OUT"
elif [ -c /dev/kvm ] && osvm isolation explain osvm-mcp/get_slot && [ "$RC" = 0 ] &&
        printf '%s\n' "$OUT" | grep -q "fresh VM"; then
        osvm doctor
        check_match "with KVM: ok" '^ok +kvm +/dev/kvm is usable' "$(line kvm)"
        check_match "the tools run in VMs" '^ok +tools +11 configured tools: 11 run in a fresh KVM VM' \
                "$(line tools)"
        check_match "and the agent inside μVM-1" '^ok +agent +the agent runs inside μVM-1' \
                "$(line agent)"
fi

osvm doctor extra
check_exit "an unexpected argument exits 2" 2

# ---- images that cannot run ----
fresh
mkdir "$T/img"
cp "$IMAGES"/* "$T/img"/
printf '#!/bin/sh\necho hi\n' >"$T/img/osvm-mcp-get_slot.img"
rm "$T/img/osvm-mcp-get_balance.img"
OSVM_NO_KVM=1 OSVM_BUILTIN_IMAGES=$T/img OSVM_AGENT_IMAGE=/bin/true osvm doctor
check_exit "a broken image fails: exit 1" 1
check_match "a script in place of an image is named, with why" \
        "^fail +images .*$T/img/osvm-mcp-get_slot.img: not an ELF file" "$(line images)"
check_contains "a missing one too" "get_balance: missing or unreadable" "$(line images)"
check_contains "with what to do" "fix: rebuild them with 'make'" "$OUT"
check_match "a dynamic program is not the agent's image" \
        '^fail +agent image +/bin/true: dynamically linked' "$(line 'agent image')"
OSVM_NO_KVM=1 OSVM_BUILTIN_IMAGES= osvm doctor
check_match "OSVM_BUILTIN_IMAGES empty turns the pack off" '^ok +images +the built-in images are turned off' \
        "$(line images)"

# ---- config files ----
fresh
osvm status # writes the default config
osvm mcp add ghost -- "$T/no-such-server" --stdio
osvm mcp add ev -- node server.js
chmod 0666 "$CFG"
chmod 0644 "$OSVM_HOME/mcp_servers.json"
printf '{"provider": "openai", "url": "http://127.0.0.1:9/v1", "api_key": "sk-5ecret-in-file"}' \
        >"$OSVM_HOME/ai.json"
chmod 0644 "$OSVM_HOME/ai.json"
mkdir -p "$T/bin"
# a PATH without node, for osvm alone
OSVM_NO_KVM=1 PATH=$T/bin "$OSVM" doctor >"$T/out" 2>"$T/err"
RC=$?
OUT=$(cat "$T/out")
ERR=$(cat "$T/err")
check_exit "a server whose command is missing fails: exit 1" 1
check_match "the server is named" "^fail +servers +ghost: its command $T/no-such-server is not found" \
        "$(line servers)"
check_match "node is missing and a server starts with it" \
        '^fail +node +not found in PATH, and ev starts with it' "$(line node)"
check_contains "how to install it" "fix: install Node.js: apt-get install nodejs npm" "$OUT"
check_match "a config others can change" "^warn +config +$CFG is mode 666: others can change" \
        "$(line config)"
check_contains "and the fix" "fix: chmod 600 $CFG" "$OUT"
check_match "a registry others can read" "^warn +registry +.*mode 644: others can read it" \
        "$(line registry)"
check_match "an ai.json others can read" "^warn +ai config +.*ai.json is mode 644" \
        "$(line 'ai config')"
check_not_contains "the key in ai.json is never printed" "5ecret" "$OUT$ERR"

printf '{"default_execution_mode": "unikernel", "servers": [' >"$CFG"
chmod 0777 "$OSVM_HOME"
OSVM_NO_KVM=1 osvm doctor
check_exit "a config with errors fails: exit 1" 1
check_match "it says so" '^fail +config +[0-9]+ errors?; no tool runs until they are fixed' "$OUT"
check_match "and, besides, a directory others can change" "^warn +config +$OSVM_HOME is mode 777" \
        "$OUT"
check_contains "and what to do" "fix: 'osvm isolation validate' names every problem" "$OUT"
check_match "no tool runs" '^fail +tools +no tool runs while the isolation config has errors' \
        "$(line tools)"

printf '{"provider": 5}' >"$OSVM_HOME/ai.json"
OSVM_NO_KVM=1 osvm doctor
check_match "an invalid ai.json fails the LLM check" '^fail +llm +.*ai.json: provider: expected a string' \
        "$(line llm)"

# ---- the state directory ----
fresh
printf 'not a directory\n' >"$T/state-file"
OSVM_NO_KVM=1 XDG_STATE_HOME=$T/state-file osvm doctor
check_exit "a state directory that cannot be made fails: exit 1" 1
check_match "it says why" "^fail +state +$T/state-file/osvm cannot be created" "$(line state)"

# ---- the LLM endpoint, over loopback ----
fresh
python3 - "$T/port" "$T/requests" <<'EOF' &
import http.server, sys

class Handler(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):
        with open(sys.argv[2], "a") as f:
            f.write(f"{self.command} {self.path} auth={self.headers.get('Authorization')} "
                    f"x-api-key={self.headers.get('x-api-key')}\n")
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(server.server_port))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
EOF
SERVER=$!
for _ in $(seq 1 600); do [ -s "$T/port" ] && break; sleep 0.1; done # 60 s: only a hang guard
PORT=$(cat "$T/port")
DEAD=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

export OSVM_AI_URL="http://127.0.0.1:$PORT/v1?api-key=q-5ecret" OSVM_AI_MODEL=m OSVM_AI_KEY=sk-5ecret-key
OSVM_NO_KVM=1 osvm doctor
check_exit "a reachable endpoint: exit 0" 0
check_match "it answers" \
        "^ok +llm +openai, model m, at http://127.0.0.1:$PORT/ \(from the environment \(OSVM_AI_\*\)\): reachable \(HTTP 404\); a key is set" \
        "$(line llm)"
check_not_contains "the key is never printed" "5ecret" "$OUT$ERR"
OSVM_NO_KVM=1 osvm doctor --json
check_not_contains "nor in --json" "5ecret" "$OUT$ERR"
check_eq "one HEAD request each, without the key" \
        "HEAD /v1?api-key=q-5ecret auth=None x-api-key=None" "$(sort -u "$T/requests")"

export OSVM_AI_URL="http://127.0.0.1:$DEAD/v1"
OSVM_NO_KVM=1 osvm doctor
check_exit "an endpoint that does not answer fails: exit 1" 1
check_match "it says so" "^fail +llm +openai, model m, at http://127.0.0.1:$DEAD/ .*not reachable" \
        "$(line llm)"
check_contains "and what to do" "fix: check the URL and the network" "$OUT"
check_not_contains "still without the key" "5ecret" "$OUT$ERR"
kill "$SERVER" 2>/dev/null
wait "$SERVER" 2>/dev/null

# Ctrl-C while the endpoint keeps the request waiting ends doctor (exit 130).
python3 - "$T/silent" <<'EOF' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
with open(sys.argv[1] + ".port", "w") as f:
    f.write(str(s.getsockname()[1]))
c, _ = s.accept()
open(sys.argv[1] + ".accepted", "w").close()
time.sleep(120)  # answers nothing; the test kills it sooner
EOF
SILENT=$!
for _ in $(seq 1 600); do [ -s "$T/silent.port" ] && break; sleep 0.1; done # a hang guard
export OSVM_AI_URL="http://127.0.0.1:$(cat "$T/silent.port")/v1"
OSVM_NO_KVM=1 "$OSVM" doctor >"$T/out" 2>"$T/err" &
DOCTOR=$!
for _ in $(seq 1 600); do [ -e "$T/silent.accepted" ] && break; sleep 0.1; done # a hang guard
kill -INT "$DOCTOR"
wait "$DOCTOR"
RC=$?
OUT=$(cat "$T/out")
check_exit "Ctrl-C during the LLM check ends doctor with 130" 130
check_match "and says the check was cancelled" '^fail +llm +.*not reachable: cancelled' "$(line llm)"
kill "$SILENT" 2>/dev/null
wait "$SILENT" 2>/dev/null
unset OSVM_AI_URL OSVM_AI_MODEL OSVM_AI_KEY

# ---- a server reached by URL whose policy asks for a sandbox ----
fresh
osvm mcp add far --url https://mcp.example.com/mcp
OSVM_NO_KVM=1 osvm doctor
check_eq "no sandbox check while no policy asks for one" "" "$(line sandbox)"
osvm isolation set far sandbox=true
OSVM_NO_KVM=1 osvm doctor
check_exit "fallback direct: a warning, exit 0" 0
check_match "it says the server cannot have the sandbox it asks for" \
        '^warn +sandbox +reached by URL, yet their policy asks for a sandbox, which they cannot have: far \("sandbox": true, fallback direct\); their calls run without one$' \
        "$(line sandbox)"
check_contains "and the fix" "fix: a server reached by URL runs elsewhere, not in a sandbox of osvm's: osvm isolation set far sandbox=false" "$OUT"
osvm isolation set far fallback=deny
OSVM_NO_KVM=1 osvm doctor
check_exit "fallback deny: a failure, exit 1" 1
check_match "its calls are refused" '^fail +sandbox +.*far \("sandbox": true, fallback deny\); calls under fallback deny are refused$' \
        "$(line sandbox)"
osvm isolation set far sandbox=false
osvm isolation set far fallback=direct
osvm isolation explain far/echo
check_contains "explain says where a direct call to it runs" "the call runs on the MCP server reached by URL, elsewhere (not on this host)" "$OUT$ERR"
OSVM_NO_KVM=1 osvm doctor
check_exit "with the fix applied, exit 0" 0
check_eq "and no sandbox check" "" "$(line sandbox)"

# ---- osvm config paths ----
fresh
osvm config paths
check_exit "config paths exits 0" 0
check_match "the config directory" "^config directory +$OSVM_HOME$" "$OUT"
check_match "the isolation config" "^isolation config +$CFG$" "$OUT"
check_match "the registry" "^MCP servers +$OSVM_HOME/mcp_servers.json$" "$OUT"
check_match "ai.json" "^LLM settings +$OSVM_HOME/ai.json$" "$OUT"
check_match "the logs" "^logs +$XDG_STATE_HOME/osvm/logs$" "$OUT"
check_match "the agent's directory" "^the agent's directory +$XDG_STATE_HOME/osvm/agent$" "$OUT"
check_match "the images" "^images +$IMAGES$" "$OUT"
check_match "the agent's image" "^the agent's image +$IMAGES/osvm-agent.img$" "$OUT"
OSVM_BUILTIN_IMAGES= OSVM_AGENT_IMAGE=$T/none.img osvm config paths --json
check_json "--json, null where there is none" "$T/out" \
        "d['config_dir'] == '$OSVM_HOME' and d['images'] is None and d['agent_image'] is None"
check_eq "config paths writes nothing" "no" "$([ -e "$OSVM_HOME" ] && echo yes || echo no)"
finish
