#!/usr/bin/env bash
# The audit log: a record per call of `osvm mcp call` (and so of the hub,
# which the agent and the gateway call through), chained by SHA-256, and
# `osvm audit verify` naming an edited, removed or reordered line.
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

PEERS=$("$ROOT/tests/peers/install.sh" 2>/dev/null) || PEERS=""
EVERYTHING=$PEERS/node_modules/@modelcontextprotocol/server-everything/dist/index.js
if [ -z "$PEERS" ] || [ ! -f "$EVERYTHING" ] || ! command -v node >/dev/null; then
        skip "the audit log" "node or the npm test peers are missing"
        finish
        exit
fi

fresh
osvm mcp add ev -- node "$EVERYTHING" stdio
LOG=$XDG_STATE_HOME/osvm/audit.jsonl
osvm audit tail
check_exit "tail with no log yet exits 0" 0
check_contains "and says nothing was recorded" "no call was recorded yet" "$OUT"
osvm audit verify
check_exit "verify with no log fails" 1

osvm mcp call ev echo message=hello
check_exit "a call" 0
osvm mcp call ev get-sum '{"b": 3, "a": 2}'
check_exit "a second call" 0
osvm mcp call ev no-such-tool
check_exit "a tool error" 5
cat >"$OSVM_HOME/isolation_config.json" <<JSON
{"mcp_servers": {"ev": {"tools": {"echo": {"execution_mode": "unikernel", "fallback": "deny"}}}}}
JSON
osvm mcp call ev echo message=refused
check_exit "a refused call" 4
rm "$OSVM_HOME/isolation_config.json"

check_eq "the log is 0600" 600 "$(mode_of "$LOG")"
check_eq "its directory is 0700" 700 "$(mode_of "$XDG_STATE_HOME/osvm")"
check_eq "one line a call" 4 "$(wc -l <"$LOG")"
python3 - "$LOG" >"$T/check" <<'PY'
import hashlib, json, sys
lines = open(sys.argv[1]).read().splitlines()
recs = [json.loads(l) for l in lines]
ok = []
ok.append([r["seq"] for r in recs] == [0, 1, 2, 3])
ok.append(all(r["caller"] == "osvm mcp call" and r["server"] == "ev" for r in recs))
ok.append([r["tool"] for r in recs] == ["echo", "get-sum", "no-such-tool", "echo"])
ok.append([r["status"] for r in recs] == ["ok", "ok", "tool_error", "denied"])
ok.append([r["route"] for r in recs] == ["direct", "direct", "direct", "deny"])
# where its server ran: its sandbox (the reduced tier on a host without user
# namespaces); a refused call ran nowhere
ok.append(recs[0].get("tier") in ("sandbox", "reduced")
          and [r.get("tier") for r in recs] == [recs[0]["tier"]] * 3 + [None])
# the arguments' hash: SHA-256 of their compact JSON with sorted keys
ok.append(recs[1]["args_sha256"] == hashlib.sha256(b'{"a":2,"b":3}').hexdigest())
ok.append(recs[0]["bytes_in"] == len('{"message":"hello"}') and recs[0]["bytes_out"] > 0)
ok.append(all(isinstance(r["duration_us"], int) and r["reasons"] for r in recs))
# in its sandbox: what the server asked osvm's proxy for (nothing); refused: not run
ok.append([r["egress"] for r in recs] == [[], [], [], None])
ok.append("refused" in recs[3]["error"] or "deny" in recs[3]["error"] or "unikernel" in recs[3]["error"])
# the chain: prev is the hash before; hash is of the line without it
prev = "0" * 64
for l, r in zip(lines, recs):
    body = l[: l.rindex(',"hash":')] + "}"
    ok.append(r["prev"] == prev and hashlib.sha256(body.encode()).hexdigest() == r["hash"])
    prev = r["hash"]
print(" ".join("1" if x else "0" for x in ok))
PY
check_eq "each record holds what the call was, chained by SHA-256" \
        "$(python3 -c 'print(" ".join(["1"] * 15))')" "$(cat "$T/check")"

osvm audit tail
check_exit "tail exits 0" 0
check_eq "tail shows the four calls" 4 "$(printf '%s\n' "$OUT" | grep -c 'ev/')"
TIER=$(python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())["tier"])' "$LOG")
check_contains "with route, where its server ran, and status" "ev/get-sum  direct:$TIER  ok" "$OUT"
osvm audit tail -n 1 --json
check_json "tail -n 1 --json: the last record as it is" "$T/out" 'd["seq"] == 3 and d["status"] == "denied"'
osvm audit verify
check_exit "verify accepts the log as written" 0
check_contains "and says how many records" "4 records, the chain is whole" "$OUT"

cp "$LOG" "$T/orig"
sed -i '2s/"bytes_in":[0-9]*/"bytes_in":99/' "$LOG"
osvm audit verify
check_exit "an edited line: verify fails" 1
check_contains "and names it" "audit.jsonl line 2: record 1 was edited" "$ERR"
cp "$T/orig" "$LOG"
sed -i '2d' "$LOG"
osvm audit verify
check_exit "a removed line: verify fails" 1
check_contains "and names the gap" "line 2: record 2 does not follow record 0: record 1 was removed" "$ERR"
cp "$T/orig" "$LOG"
(sed -n 1p "$T/orig"; sed -n 3p "$T/orig"; sed -n 2p "$T/orig"; sed -n 4p "$T/orig") >"$LOG"
osvm audit verify
check_exit "reordered lines: verify fails" 1
check_contains "and says so" "record 1 comes after record 2: the lines were reordered" "$ERR"
cp "$T/orig" "$LOG"
sed -i '1d' "$LOG"
osvm audit verify
check_exit "the first line removed: verify fails" 1
check_contains "and says the log starts late" "the log starts at record 1" "$ERR"
cp "$T/orig" "$LOG"

# tail -f: a record written after it started shows, until Ctrl-C.
"$OSVM" audit tail -f -n 0 >"$T/follow" 2>&1 &
FPID=$!
osvm mcp call ev echo message=followed
# (the bound only guards a hang: 60 s)
for _ in $(seq 600); do grep -q "ev/echo" "$T/follow" && break; sleep 0.1; done
kill -INT "$FPID"
wait "$FPID"
check_eq "tail -f ends at Ctrl-C with exit 0" 0 $?
check_eq "tail -f shows the new record, and only it" 1 "$(grep -c 'ev/echo' "$T/follow")"
cp "$LOG" "$T/orig"
sed -i '$d' "$LOG" # (back to the four records the checks below expect)

# Rotation keeps the chain: the new file goes on from the old one's last hash.
export OSVM_AUDIT_MAX_BYTES=4096
for i in 1 2 3 4; do osvm mcp call ev echo "message=rot$i"; done
unset OSVM_AUDIT_MAX_BYTES
check_eq "the log was rotated" "yes" "$([ -f "$LOG.1" ] && echo yes)"
osvm audit verify
check_exit "verify follows the chain across the rotated files" 0
check_contains "all eight records" "8 records, the chain is whole" "$OUT"

# A long-lived osvm (the gateway) keeps the log open between its records:
# another osvm appending between them, rotating the file, or the file
# removed, and its chain still goes on from the last record written.
rm -f "$LOG" "$LOG".*
python3 - "$OSVM" "$LOG" >"$T/gw" 2>"$T/gw.err" <<'PY'
import json, os, subprocess, sys
osvm, log = sys.argv[1], sys.argv[2]
gw = subprocess.Popen([osvm, "mcp", "serve", "ev"], stdin=subprocess.PIPE,
                      stdout=subprocess.PIPE, text=True)
n = 0
def ask(method, params):
    global n
    n += 1
    gw.stdin.write(json.dumps({"jsonrpc": "2.0", "id": n, "method": method, "params": params}) + "\n")
    gw.stdin.flush()
    while True:
        m = json.loads(gw.stdout.readline())
        if m.get("id") == n:
            return m
def call(msg):
    r = ask("tools/call", {"name": "ev__echo", "arguments": {"message": msg}})
    return r["result"]["content"][0]["text"]
def other(msg, **env):
    subprocess.run([osvm, "mcp", "call", "ev", "echo", "message=" + msg],
                   env={**os.environ, **env}, capture_output=True, check=True)
ask("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "audit-test", "version": "1"}})
got = [call("g1"), call("g2")]
other("o1")                                # another osvm appends between two records
got.append(call("g3"))
other("o2", OSVM_AUDIT_MAX_BYTES="1024")   # and rotates the file
got.append(call("g4"))
os.unlink(log)                             # the file removed
got.append(call("g5"))
gw.stdin.close()
gw.wait(timeout=60)
print(" ".join(got))
PY
check_eq "the gateway answered each call" "Echo: g1 Echo: g2 Echo: g3 Echo: g4 Echo: g5" \
        "$(cat "$T/gw")"
osvm audit verify
check_exit "verify accepts the chain written by two processes, across rotation and removal" 0
python3 - "$LOG" >"$T/seqs" <<'PY'
import hashlib, json, sys
recs = []
for f in [sys.argv[1] + ".1", sys.argv[1]]:
    recs += [json.loads(l) for l in open(f)]
g5 = hashlib.sha256(b'{"message":"g5"}').hexdigest()
print(" ".join(str(r["seq"]) for r in recs), recs[-1]["args_sha256"] == g5)
PY
# .1 holds g1 g2 o1 g3; the file o2 and g4 were in is gone; g5 goes on from g3
check_eq "the new log goes on from the rotated file's last record" "0 1 2 3 4 True" \
        "$(cat "$T/seqs")"

# Safely created: a symbolic link in its place is not followed.
fresh
osvm mcp add ev -- node "$EVERYTHING" stdio
mkdir -p "$XDG_STATE_HOME/osvm"
ln -s "$T/elsewhere" "$XDG_STATE_HOME/osvm/audit.jsonl"
osvm mcp call ev echo message=x
check_exit "a call still runs when its record cannot be written" 0
check_contains "and says the call was not recorded" "was not recorded" "$ERR"
check_eq "nothing was written through the link" "no" "$([ -e "$T/elsewhere" ] && echo yes || echo no)"
finish
