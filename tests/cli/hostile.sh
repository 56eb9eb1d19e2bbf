#!/usr/bin/env bash
# Text from a hostile MCP server (tests/cli/hostile_server.py) and a hostile
# LLM (tests/agent/llm_server.py) never reaches the terminal or the log raw:
# tool names, descriptions, progress and error messages, results, malformed
# lines and the LLM's answer hold ESC, OSC 0 and OSC 52 sequences, BEL, CR,
# a C1 CSI and bidirectional overrides, and osvm's stdout, stderr and log
# files hold none of them, in every command that shows such text; the text
# is still there, readable in escaped form. Then, in a pseudo-terminal, the
# spinner and the lines of a tool call (tests/cli/term_pty.py).
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

if ! command -v python3 >/dev/null; then
        skip "osvm against a hostile server" "python3 is missing"
        finish
        exit
fi
SERVER=$ROOT/tests/cli/hostile_server.py

# What a terminal would obey: C0 controls but newline and tab (ESC, BEL, CR,
# ...), DEL, C1 controls (U+0080-U+009F, or such a byte alone), the
# bidirectional controls, and bytes that are not UTF-8.
BAD_PY='
import sys
BIDI = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A)) | {0x200E, 0x200F, 0x061C}
def bad(data):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return "not UTF-8 at byte %d" % e.start
    for i, c in enumerate(text):
        o = ord(c)
        if (o < 0x20 and c not in "\n\t") or 0x7F <= o <= 0x9F or o in BIDI:
            return "U+%04X at %d: %r" % (o, i, text[max(0, i - 30):i + 30])
    return None
'

# check_clean NAME FILE...: none of those in any of the files.
check_clean() {
        local name=$1 msg
        shift
        if msg=$(python3 -c "$BAD_PY"'
for f in sys.argv[1:]:
    with open(f, "rb") as fh:
        why = bad(fh.read())
    if why:
        print(f + ": " + why)
        sys.exit(1)
' "$@" 2>&1); then
                pass "$name"
        else
                fail "$name" "$msg"
        fi
}

# The payload's markers, escaped: ESC as ^[, BEL as ^G, CR as ^M, C1 and bidi as \u.
ESCAPED='EVIL-BEGIN ^[[2J clear ^[]0;pwned-title^G title ^[]52;c;ZXZpbA==^G clip ^M cr \u009b31m c1 \u202e bidi'
# its start, for what is cut (a description's first 80 columns, a malformed line's first 80 bytes)
START='EVIL-BEGIN ^[[2J clear ^[]0;pwned-title^G title'

fresh
osvm mcp add hostile -- python3 "$SERVER"
check_exit "the hostile server is registered" 0

# ---- osvm mcp ----

osvm mcp list
check_clean "mcp list: stdout and stderr are clean" "$T/out" "$T/err"

osvm mcp tools hostile
check_exit "mcp tools: exit 0" 0
check_clean "mcp tools: stdout and stderr are clean" "$T/out" "$T/err"
check_contains "mcp tools: a description is shown escaped" "Echoes a message $START" "$OUT"
check_contains "mcp tools: a tool name with controls is refused, shown escaped" 'refused the tool "evil^[]0;name-title^G^[[2J\u202ename"' "$ERR"
check_not_contains "mcp tools: and not listed" 'hostile/evil' "$OUT"
check_contains "mcp tools: the malformed line is reported escaped" "not json $START" "$ERR"

osvm mcp tools hostile --json
check_exit "mcp tools --json: exit 0" 0
check_clean "mcp tools --json: stdout and stderr are clean" "$T/out" "$T/err"
check_json "mcp tools --json: the data is whole (JSON escapes, not the sanitizer's)" "$T/out" \
        'any(t["name"] == "hostile_echo" and "\x1b[2J clear \x1b]0;pwned-title\x07" in t["description"] and "\x9b31m" in t["description"] and "\u202e" in t["description"] and "\x7f" in t["description"] for t in d["hostile"])'

osvm mcp call hostile hostile_echo message=hi
check_exit "mcp call: exit 0" 0
check_clean "mcp call: stdout and stderr are clean" "$T/out" "$T/err"
check_contains "mcp call: the result is shown escaped" "echo: $ESCAPED" "$OUT"
check_contains "mcp call: progress is shown escaped" "progress: 1/3 step EVIL-BEGIN ^[[2J" "$ERR"

osvm mcp call hostile hostile_echo message=hi --json
check_exit "mcp call --json: exit 0" 0
check_clean "mcp call --json: stdout and stderr are clean" "$T/out" "$T/err"
check_json "mcp call --json: the result is whole" "$T/out" \
        'd["result"]["content"][0]["text"].startswith("echo: EVIL-BEGIN \x1b[2J clear") and "\x9b31m c1 \u202e bidi" in d["result"]["content"][0]["text"]'

osvm mcp call hostile hostile_fail
check_exit "mcp call of a failing tool: exit 1" 1
check_clean "mcp call of a failing tool: stdout and stderr are clean" "$T/out" "$T/err"
check_contains "the error message is shown escaped" "failed $ESCAPED" "$ERR"

osvm mcp call hostile hostile_iserror
check_exit "mcp call of a tool error: exit 5" 5
check_clean "mcp call of a tool error: stdout and stderr are clean" "$T/out" "$T/err"
check_contains "the tool's error text is shown escaped" "tool error $ESCAPED" "$ERR"

osvm mcp call hostile hostile_blocks
check_exit "mcp call with every kind of block: exit 0" 0
check_clean "every kind of block: stdout and stderr are clean" "$T/out" "$T/err"
check_contains "a resource's text is shown escaped" "resource $ESCAPED" "$OUT"
check_contains "a link's URI is shown escaped" "[resource link: file:///x$ESCAPED" "$OUT"

osvm mcp call hostile hostile_structured
check_exit "mcp call with structured content: exit 0" 0
check_clean "structured content: stdout and stderr are clean" "$T/out" "$T/err"

osvm mcp call hostile "$(printf 'no\033[2Jsuch')"
check_clean "a tool name from the command line is not echoed raw" "$T/out" "$T/err"

# ---- the agent: one-shot, --json, the chat ----

osvm -v -p "hostile echo hi"
check_exit "-p with the hostile tool: exit 0" 0
check_clean "-p: stdout and stderr are clean" "$T/out" "$T/err"
check_contains "-p: the answer holds the result, escaped" "echo: $ESCAPED" "$OUT"
check_contains "-p: the tool line is shown" "tool: hostile/hostile_echo" "$ERR"
check_contains "-p: progress is shown escaped" "step EVIL-BEGIN ^[[2J" "$ERR"

osvm -p "hostile echo hi" --json
check_exit "-p --json: exit 0" 0
check_clean "-p --json: stdout and stderr are clean" "$T/out" "$T/err"
check_json "-p --json: the trace holds the result whole" "$T/out" \
        '"\x1b]52;c;ZXZpbA==\x07" in d["rounds"][0]["calls"][0]["result"]["content"][0]["text"]'

printf 'hostile echo hi\nhostile fail\n' >"$T/in"
OSVM_STDIN=$T/in osvm
check_exit "the chat at end of input: exit 0" 0
check_clean "the chat: stdout and stderr are clean" "$T/out" "$T/err"
check_contains "the chat: the answer is shown escaped" "echo: $ESCAPED" "$OUT"

# ---- the isolation policy: names from the command line ----
# (The config file refuses such names; the status line's are tested in test_status.)

EVIL_TOOL=$(printf 'evil\033]0;t\007\033[2J\342\200\256')
osvm isolation set "hostile/$EVIL_TOOL" fallback=deny
check_exit "isolation set refuses a name with controls" 3
check_clean "isolation set: stdout and stderr are clean" "$T/out" "$T/err"
osvm isolation show "hostile/$EVIL_TOOL"
check_clean "isolation show: stdout and stderr are clean" "$T/out" "$T/err"
osvm isolation explain "hostile/$EVIL_TOOL"
check_clean "isolation explain: stdout and stderr are clean" "$T/out" "$T/err"
check_contains "isolation explain: the name is shown escaped" 'hostile/evil^[]0;t^G^[[2J\u202e' "$OUT"
osvm isolation explain --json "hostile/$EVIL_TOOL"
check_clean "isolation explain --json: stdout and stderr are clean" "$T/out" "$T/err"
osvm mcp call hostile "$EVIL_TOOL"
check_clean "a call of that name: stdout and stderr are clean" "$T/out" "$T/err"
osvm status
check_clean "status: stdout and stderr are clean" "$T/out" "$T/err"

OSVM_LOG=$(printf 'loud\033[2J') osvm status
check_clean "a bad OSVM_LOG is not echoed raw" "$T/out" "$T/err"

# ---- an LLM that answers with controls ----

LLM_SCRIPT=$T/llm.json
python3 - "$LLM_SCRIPT" <<'EOF'
import json, sys
evil = "LLM-BEGIN \x1b[2J \x1b]0;llm-title\x07 \x1b]52;c;ZXZpbA==\x07 \r \x9b31m \u202e LLM-END"
script = [
    {"status": 200, "body": {"choices": [{"finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": evil, "tool_calls": [{"id": "call_1", "type": "function",
        "function": {"name": "hostile__hostile_echo", "arguments": json.dumps({"message": evil})}}]}}]}},
    {"status": 200, "body": {"choices": [{"finish_reason": "stop", "message": {
        "role": "assistant", "content": "The answer:\n" + evil}}]}},
]
json.dump(script, open(sys.argv[1], "w"))
EOF
python3 "$ROOT/tests/agent/llm_server.py" --script "$LLM_SCRIPT" --record "$T/record.json" \
        >"$T/llm.out" 2>"$T/llm.err" &
LLM_PID=$!
LLM_PORT=
# (up to 120 s: a bound that only guards against a hang, on a loaded machine)
for _ in $(seq 2400); do
        LLM_PORT=$(sed -n 's/^PORT //p' "$T/llm.out")
        [ -n "$LLM_PORT" ] && break
        sleep 0.05
done
OSVM_AI_URL=http://127.0.0.1:$LLM_PORT/v1 OSVM_AI_MODEL=m OSVM_AI_KEY=k osvm -v -p "anything"
kill $LLM_PID 2>/dev/null
wait $LLM_PID 2>/dev/null
check_exit "-p with the hostile LLM: exit 0" 0
check_clean "the LLM's answer and arguments: stdout and stderr are clean" "$T/out" "$T/err"
check_contains "the LLM's answer is shown escaped, its lines kept" \
        "The answer:
LLM-BEGIN ^[[2J ^[]0;llm-title^G ^[]52;c;ZXZpbA==^G ^M \u009b31m \u202e LLM-END" "$OUT"

# ---- the log files: every message of all the runs above, debug included ----

OSVM_LOG=debug osvm mcp call hostile hostile_fail
check_contains "at debug the server's stderr is logged, escaped" "stderr line $ESCAPED" "$ERR"
mapfile -t LOGS < <(find "$XDG_STATE_HOME" -name '*.log*' -type f)
if [ "${#LOGS[@]}" -eq 0 ]; then
        fail "the log files exist" "none below $XDG_STATE_HOME"
else
        check_clean "the log files are clean" "${LOGS[@]}"
        check_contains "the log holds the escaped text" "failed $ESCAPED" "$(cat "${LOGS[@]}")"
        check_contains "the log holds a call's arguments in full" \
                'tool: hostile/hostile_echo {"message":"hi"} [sandbox]' "$(cat "${LOGS[@]}")"
        lines=$(cat "${LOGS[@]}" | grep -cv '^[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9:.]*Z \[[0-9]*\] [a-z]*: ')
        check_eq "every line of the log is a record of its own" 0 "$lines"
fi

# ---- in a pseudo-terminal: the spinner, progress and the tool lines ----

fresh
osvm mcp add hostile -- python3 "$SERVER"
python3 "$ROOT/tests/cli/term_pty.py" "$OSVM"
pty_rc=$?
[ "$pty_rc" -eq 0 ] && pass "the terminal checks (term_pty.py)" || fail "the terminal checks (term_pty.py)"

finish
