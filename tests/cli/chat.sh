#!/usr/bin/env bash
# The chat through a pseudo-terminal (tests/cli/chat_pty.py) with the real
# server-everything registered.
# tests/run.sh: also with OSVM_NO_KVM=1 where KVM is usable (the chat inside μVM-1 or directly).
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

PEERS=$("$ROOT/tests/peers/install.sh" 2>/dev/null) || PEERS=""
EVERYTHING=$PEERS/node_modules/@modelcontextprotocol/server-everything/dist/index.js
if [ -z "$PEERS" ] || [ ! -f "$EVERYTHING" ] || ! command -v python3 >/dev/null; then
        skip "the chat in a pseudo-terminal" "node, python3 or the npm test peers are missing"
        finish
        exit
fi
fresh
osvm mcp add everything -- node "$EVERYTHING" stdio
check_exit "server-everything registered" 0
# the tool pack's images, for a tool that runs in a VM of its own
export OSVM_BUILTIN_IMAGES=$ROOT/build/unikernels

# The chat's own commands, a line each as a script sends them: inside μVM-1
# (a VM where KVM is usable, else its stand-in on the process platform), and
# directly.
osvm isolation explain --json osvm-mcp/get_slot
where=$(python3 -c 'import json, sys; d = json.load(sys.stdin)
w = d["route"]
if w == "unikernel" and d.get("platform") == "process": w = "trapped process"
if w == "direct" and d.get("sandboxed"): w = "sandbox"
print(w + ("*" if d["fell_back"] else ""))' <"$T/out")
# whether osvm can run VMs here, as osvm decides (OSVM_NO_KVM=1 counts)
OSVM_TEST_KVM=0
kvm_probe && OSVM_TEST_KVM=1
export OSVM_TEST_KVM
# inside μVM-1 (its stand-in, a trapped process, without KVM) wherever its image is
[ -f "${OSVM_AGENT_IMAGE:-}" ] && inside=yes || inside=no
printf '%s\n' /help /tools "/tools osvm" "/tools everything" /status /tols \
        "/tmp/nowhere is a path, not a command" /exit "echo zebra-never-sent" >"$T/in"
for mode in "" --no-microvm; do
        name="chat${mode:+ $mode}"
        OSVM_STDIN=$T/in osvm ${mode:+"$mode"}
        check_exit "$name: the commands run and /exit leaves with 0" 0
        check_contains "$name: /help lists the commands" "/tools [SERVER]" "$OUT"
        check_match "$name: /tools lists each server's tools" '^everything \([0-9]+ tools\)$' "$OUT"
        check_match "$name: and where each runs, as isolation explain says" \
                "^  get_slot +${where//\*/\\*} +Get the current slot" "$OUT"
        check_eq "$name: /tools SERVER lists that server's" 2 \
                "$(printf '%s\n' "$OUT" | grep -c '^everything (')"
        check_contains "$name: /tools with a mistyped server says which was meant" \
                'no server "osvm" has tools here; did you mean "osvm-mcp"?' "$ERR"
        check_match "$name: /status shows where the agent runs" \
                "^agent: +$([ "$inside" = yes ] && [ -z "$mode" ] && echo inside ||
                        echo directly)" "$OUT"
        check_match "$name: and the planner" '^planner: +offline \(no LLM configured\)$' "$OUT"
        check_match "$name: and the servers" '^servers: +.*osvm-mcp \(11 tools\)' "$OUT"
        check_not_contains "$name: /tools decides without counting a fallback" "0uK*" "$OUT"
        check_contains "$name: an unknown /command says so, and the nearest" \
                "no command /tols; did you mean /tools?" "$ERR"
        check_not_contains "$name: a line that starts with a path is a prompt" "no command /tmp" \
                "$ERR"
        check_not_contains "$name: nothing runs after /exit" "zebra-never-sent" "$OUT"
done

# /status names the LLM endpoint without what may be a credential in its URL
printf '/status\n' >"$T/in"
for mode in "" --no-microvm; do
        OSVM_AI_URL="http://user:pw-5ecret@127.0.0.1:9/v1/q-5ecret?key=k-5ecret" OSVM_AI_MODEL=m \
                OSVM_AI_KEY=sk-5ecret OSVM_STDIN=$T/in osvm ${mode:+"$mode"}
        check_match "chat${mode:+ $mode}: /status names the LLM endpoint" \
                '^planner: +openai, model m, at http://127.0.0.1:9/$' "$OUT"
        check_not_contains "chat${mode:+ $mode}: without its credentials" "5ecret" "$OUT$ERR"
done

if python3 "$ROOT/tests/cli/chat_pty.py" "$OSVM"; then
        pass "the chat in a pseudo-terminal (above)"
else
        fail "the chat in a pseudo-terminal (above)"
fi
finish
