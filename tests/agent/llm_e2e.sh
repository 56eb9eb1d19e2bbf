#!/usr/bin/env bash
# The agent end to end with a scripted LLM on loopback (tests/agent/llm_server.py)
# and the real server-everything: `osvm -p ... --json` runs several rounds of
# tool calls, in the OpenAI and in the Anthropic format, and the requests osvm
# sent are checked (tools array, tool messages, ids, arguments, the key).
# tests/run.sh: also with OSVM_NO_KVM=1 where KVM is usable (the LLM asked through the supervisor or directly).
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

PEERS=$("$ROOT/tests/peers/install.sh" 2>/dev/null) || PEERS=""
EVERYTHING=$PEERS/node_modules/@modelcontextprotocol/server-everything/dist/index.js
if [ -z "$PEERS" ] || [ ! -f "$EVERYTHING" ] || ! command -v python3 >/dev/null; then
        skip "the agent with a scripted LLM" "node, python3 or the npm test peers are missing"
        finish
        exit
fi

# Starts the scripted LLM with script file $1; sets LLM_PID and LLM_PORT.
start_llm() {
        python3 "$ROOT/tests/agent/llm_server.py" --script "$1" --record "$T/record.json" \
                >"$T/llm.out" 2>"$T/llm.err" &
        LLM_PID=$!
        # (up to 120 s: a bound that only guards against a hang, on a loaded machine)
        for _ in $(seq 2400); do
                LLM_PORT=$(sed -n 's/^PORT //p' "$T/llm.out")
                [ -n "$LLM_PORT" ] && return
                sleep 0.05
        done
}

# ---- a key that cannot go in a header ----

fresh
: >"$T/record.json"
printf '[{"status": 200, "body": {}}]' >"$T/one.json"
start_llm "$T/one.json"
OSVM_AI_URL=http://127.0.0.1:$LLM_PORT/v1 OSVM_AI_MODEL=test-model \
        OSVM_AI_KEY="$(printf 'sk-test\r\nX-Injected: yes')" osvm -p "hello"
kill $LLM_PID 2>/dev/null
check_exit "a key holding CR LF is a configuration error" 3
check_contains "the error names where the key came from" "OSVM_AI_KEY" "$ERR"
check_not_contains "and does not show it" "sk-test" "$ERR"
check_eq "nothing reached the LLM" "" "$(cat "$T/record.json")"

# ---- OpenAI format: two rounds of calls, then the answer ----

fresh
osvm mcp add everything -- node "$EVERYTHING" stdio
cat >"$T/openai.json" <<'EOF'
[
 {"status": 200, "body": {"choices": [{"finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
   "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "everything__get-sum", "arguments": "{\"a\": 2, \"b\": 3}"}}]}}]}},
 {"status": 200, "body": {"choices": [{"finish_reason": "tool_calls", "message": {"role": "assistant", "content": "Now I echo it.",
   "tool_calls": [{"id": "call_2", "type": "function", "function": {"name": "everything__echo", "arguments": "{\"message\": \"the sum is 5\"}"}}]}}]}},
 {"status": 200, "body": {"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": "The answer is 5."}}]}}
]
EOF
start_llm "$T/openai.json"
OSVM_AI_URL=http://127.0.0.1:$LLM_PORT/v1 OSVM_AI_MODEL=test-model OSVM_AI_KEY=sk-test \
        osvm -p "add 2 and 3, then echo the result" --json
kill $LLM_PID 2>/dev/null
check_exit "the OpenAI-planned prompt is answered" 0
printf '%s' "$OUT" >"$T/trace.json"
check_json "the trace names the planner" "$T/trace.json" 'd["planner"] == "openai"'
check_json "two rounds of calls ran" "$T/trace.json" \
        '[r["calls"][0]["tool"] for r in d["rounds"]] == ["get-sum", "echo"]'
check_json "each call has its mode, reasons, duration and result" "$T/trace.json" \
        'all(c["mode"] and c["reasons"] and c["duration_ms"] > 0 and c["result"]["content"] for r in d["rounds"] for c in r["calls"])'
check_json "the first call's result is the server's" "$T/trace.json" \
        'd["rounds"][0]["calls"][0]["result"]["content"][0]["text"] == "The sum of 2 and 3 is 5."'
check_json "the answer is the model's" "$T/trace.json" 'd["answer"] == "The answer is 5."'
check_json "three requests reached the LLM" "$T/record.json" 'len(d) == 3'
check_json "each carries the model and the bearer key" "$T/record.json" \
        'all(r["body"]["model"] == "test-model" and r["headers"]["authorization"] == "Bearer sk-test" for r in d)'
check_json "the tools array offers server-everything's tools by API name" "$T/record.json" \
        '"everything__get-sum" in [t["function"]["name"] for t in d[0]["body"]["tools"]]'
check_json "round 2 sends back the call with its id and the tool result" "$T/record.json" \
        'any(m.get("tool_calls", [{}])[0].get("id") == "call_1" for m in d[1]["body"]["messages"]) and any(m["role"] == "tool" and m["tool_call_id"] == "call_1" and "The sum of 2 and 3 is 5." in m["content"] for m in d[1]["body"]["messages"])'
check_json "round 3 has both tool results" "$T/record.json" \
        'sum(1 for m in d[2]["body"]["messages"] if m["role"] == "tool") == 2 and any(m["role"] == "tool" and "Echo: the sum is 5" in m["content"] for m in d[2]["body"]["messages"])'
check_json "the arguments went to the server as the model gave them" "$T/trace.json" \
        'd["rounds"][1]["calls"][0]["arguments"] == {"message": "the sum is 5"}'

# ---- Anthropic format ----

fresh
osvm mcp add everything -- node "$EVERYTHING" stdio
cat >"$T/anthropic.json" <<'EOF'
[
 {"status": 200, "body": {"stop_reason": "tool_use", "content": [{"type": "text", "text": "Adding."},
   {"type": "tool_use", "id": "toolu_1", "name": "everything__get-sum", "input": {"a": 20, "b": 22}}]}},
 {"status": 200, "body": {"stop_reason": "end_turn", "content": [{"type": "text", "text": "It is 42."}]}}
]
EOF
start_llm "$T/anthropic.json"
OSVM_AI_PROVIDER=anthropic OSVM_AI_URL=http://127.0.0.1:$LLM_PORT/v1 OSVM_AI_MODEL=claude-test \
        OSVM_AI_KEY=ak-test osvm -p "what is 20 plus 22" --json
kill $LLM_PID 2>/dev/null
check_exit "the Anthropic-planned prompt is answered" 0
printf '%s' "$OUT" >"$T/trace.json"
check_json "the Anthropic answer" "$T/trace.json" 'd["answer"] == "It is 42." and d["planner"] == "anthropic"'
check_json "its call ran" "$T/trace.json" \
        'd["rounds"][0]["calls"][0]["result"]["content"][0]["text"] == "The sum of 20 and 22 is 42."'
check_json "x-api-key and anthropic-version were sent" "$T/record.json" \
        'all(r["headers"]["x-api-key"] == "ak-test" and r["headers"]["anthropic-version"] == "2023-06-01" for r in d)'
check_json "the tool result went back as a tool_result block with the id" "$T/record.json" \
        'any(b.get("type") == "tool_result" and b["tool_use_id"] == "toolu_1" for m in d[1]["body"]["messages"] if isinstance(m["content"], list) for b in m["content"])'

# ---- failures the user must understand ----

fresh
osvm mcp add everything -- node "$EVERYTHING" stdio
echo '[{"status": 401, "body": {"error": {"message": "Incorrect API key provided"}}}]' >"$T/401.json"
start_llm "$T/401.json"
OSVM_AI_URL=http://127.0.0.1:$LLM_PORT/v1 OSVM_AI_MODEL=m OSVM_AI_KEY=bad osvm -p "add 2 and 3"
kill $LLM_PID 2>/dev/null
check_exit "a refused key fails the prompt" 1
check_contains "and says so" "API key was refused" "$ERR"
check_not_contains "without printing the key" "bad\"" "$ERR"

OSVM_AI_URL=http://127.0.0.1:9/v1 OSVM_AI_MODEL=m osvm -p "add 2 and 3"
check_exit "an unreachable endpoint fails the prompt" 1
check_contains "and names it" "cannot reach" "$ERR"

# ---- tool calls that fail: one-shot mode's exit code ----

fresh
osvm mcp add everything -- node "$EVERYTHING" stdio
cat >"$T/recover.json" <<'EOF'
[
 {"status": 200, "body": {"choices": [{"finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
   "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "everything__get-sum", "arguments": "{\"a\": \"two\", \"b\": 3}"}}]}}]}},
 {"status": 200, "body": {"choices": [{"finish_reason": "tool_calls", "message": {"role": "assistant", "content": "Numbers, then.",
   "tool_calls": [{"id": "call_2", "type": "function", "function": {"name": "everything__get-sum", "arguments": "{\"a\": 2, \"b\": 3}"}}]}}]}},
 {"status": 200, "body": {"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": "It is 5."}}]}}
]
EOF
start_llm "$T/recover.json"
OSVM_AI_URL=http://127.0.0.1:$LLM_PORT/v1 OSVM_AI_MODEL=m osvm -p "add two and 3" --json
kill $LLM_PID 2>/dev/null
check_exit "a failed call that a later call of the same tool made good: exit 0" 0
printf '%s' "$OUT" >"$T/trace.json"
check_json "the trace has each call's outcome, and nothing left failed" "$T/trace.json" \
        '[r["calls"][0]["outcome"] for r in d["rounds"]] == ["error", "ok"] and d["unrecovered_calls"] == []'

cat >"$T/giveup.json" <<'EOF'
[
 {"status": 200, "body": {"choices": [{"finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
   "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "everything__get-sum", "arguments": "{\"a\": \"two\", \"b\": 3}"}}]}}]}},
 {"status": 200, "body": {"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": "I could not add them."}}]}}
]
EOF
start_llm "$T/giveup.json"
OSVM_AI_URL=http://127.0.0.1:$LLM_PORT/v1 OSVM_AI_MODEL=m osvm -p "add two and 3"
kill $LLM_PID 2>/dev/null
check_exit "a failed call that nothing made good: exit 1" 1
check_eq "the answer is still printed" "I could not add them." "$OUT"
check_contains "and the call is named on stderr" "ERROR: everything/get-sum reported an error" "$ERR"

# The offline planner: a refusal by the policy exits 4, a timeout 1. (A tool
# asked to run in a VM of its own, which it has no image for.)
osvm isolation set everything/get-sum execution_mode=unikernel fallback=deny
osvm -p "add 2 and 3"
check_exit "offline: a call refused by the policy exits 4" 4
check_eq "offline: the refusal is said once on stderr, with its remedy" 1 \
        "$(printf '%s\n' "$ERR" | grep -c 'Refusing to run everything/get-sum: .* osvm isolation set everything/get-sum fallback=direct')"
check_not_contains "offline: not wrapped in its own words again" "refused: Refusing" "$OUT$ERR"
osvm -p "add 2 and 3" --json
check_exit "offline --json: a refusal exits 4 too" 4
printf '%s' "$OUT" >"$T/trace.json"
check_json "offline --json: the refused call in the trace" "$T/trace.json" \
        'd["rounds"][0]["calls"][0]["outcome"] == "refused" and [c["outcome"] for c in d["unrecovered_calls"]] == ["refused"]'
osvm isolation set everything timeout_ms=500
osvm -p "trigger a long running operation duration=3 steps=3"
check_exit "offline: a call past its timeout_ms exits 1" 1
check_contains "offline: saying it timed out" \
        "everything/trigger-long-running-operation failed: everything/trigger-long-running-operation timed out after 500 ms" "$ERR"

# ---- the offline planner, as the issue's one-shot check says ----

fresh
osvm mcp add everything -- node "$EVERYTHING" stdio
osvm -p "add 2 and 3" --json
check_exit "offline: add 2 and 3 is answered" 0
printf '%s' "$OUT" >"$T/trace.json"
check_json "offline: one get-sum call with its mode and reasons, and 5 in the answer" "$T/trace.json" \
        'd["planner"] == "offline" and len(d["rounds"]) == 1 and d["rounds"][0]["calls"][0]["tool"] == "get-sum" and d["rounds"][0]["calls"][0]["mode"] and d["rounds"][0]["calls"][0]["reasons"] and "5" in d["answer"]'
osvm -p "echo"
check_exit "offline: a missing argument exits 6 in one-shot mode" 6
check_contains "offline: and names it" "message" "$ERR$OUT"

finish
