#!/usr/bin/env bash
# Shell tests of the local SVM endpoint itself (tests/svm/rpc_server.mjs, a
# Solana JSON-RPC server over litesvm), with curl: the methods and their shapes,
# airdrops and transfers, the request log and the failure modes.
set -u
# This test never runs osvm: tests/lib.sh only needs something executable.
[ -z "${OSVM_BIN:-}" ] && [ ! -x "$(dirname "$0")/../../build/asan/osvm" ] && OSVM_BIN=$(type -P true || echo /bin/true) && export OSVM_BIN
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=lib.bash
. "$ROOT/tests/svm/lib.bash"

if ! svm_start; then
        skip "the local SVM endpoint" "$SVM_WHY"
        finish
        exit
fi
fresh

# The answer of the last svm_rpc, as a file for check_json.
ans() { printf '%s' "$SVM_OUT" >"$T/a.json"; }
rpc_json() { # name method params expression-over-d
        svm_rpc "$2" "$3"
        ans
        check_json "$1" "$T/a.json" "$4"
}

# ---- cluster shapes ----

rpc_json "getHealth is ok" getHealth '[]' 'd["result"] == "ok" and d["id"] == 1 and d["jsonrpc"] == "2.0"'
rpc_json "getVersion names litesvm and a feature set" getVersion '[]' \
        'd["result"]["solana-core"].endswith("-litesvm") and isinstance(d["result"]["feature-set"], int)'
rpc_json "getSlot is a number" getSlot '[]' 'isinstance(d["result"], int) and d["result"] >= 1'
SLOT0=$(svm_get r)
rpc_json "getBlockHeight is a number" getBlockHeight '[{"commitment":"finalized"}]' 'isinstance(d["result"], int)'
rpc_json "getEpochInfo has the real fields" getEpochInfo '[]' \
        'sorted(d["result"]) == ["absoluteSlot","blockHeight","epoch","slotIndex","slotsInEpoch","transactionCount"] and d["result"]["slotsInEpoch"] == 432000'
rpc_json "getLatestBlockhash is wrapped in a context" getLatestBlockhash '[]' \
        'sorted(d["result"]) == ["context","value"] and isinstance(d["result"]["context"]["slot"], int) and d["result"]["context"]["apiVersion"] and 32 <= len(d["result"]["value"]["blockhash"]) <= 44 and d["result"]["value"]["lastValidBlockHeight"] > d["result"]["context"]["slot"]'
BLOCKHASH=$(svm_get 'r["value"]["blockhash"]')

# ---- an airdrop, then the balance and the account ----

rpc_json "osvmTestKeypair makes a keypair" osvmTestKeypair '[]' \
        'len(d["result"]["secretKeyBytes"]) == 64 and 32 <= len(d["result"]["address"]) <= 44 and "signature" not in d["result"]'
ALICE=$(svm_get 'r["address"]')
ALICE_SECRET=$(svm_get 'r["secretKey"]')

rpc_json "a new account's balance is 0" getBalance "[\"$ALICE\"]" 'd["result"]["value"] == 0'
rpc_json "a new account's info is null" getAccountInfo "[\"$ALICE\", {\"encoding\":\"base64\"}]" \
        'd["result"]["value"] is None and "context" in d["result"]'

rpc_json "requestAirdrop answers a signature" requestAirdrop "[\"$ALICE\", 2000000000]" \
        'isinstance(d["result"], str) and 64 <= len(d["result"]) <= 88'
AIRDROP_SIG=$(svm_get r)
rpc_json "getBalance shows the airdrop" getBalance "[\"$ALICE\"]" \
        'd["result"]["value"] == 2000000000 and d["result"]["context"]["slot"] > '"$SLOT0"
rpc_json "getAccountInfo base64 of the funded account" getAccountInfo "[\"$ALICE\", {\"encoding\":\"base64\"}]" \
        'd["result"]["value"] == {"data": ["", "base64"], "executable": False, "lamports": 2000000000, "owner": "11111111111111111111111111111111", "rentEpoch": 18446744073709551615, "space": 0}'
rpc_json "getAccountInfo jsonParsed falls back to base64" getAccountInfo "[\"$ALICE\", {\"encoding\":\"jsonParsed\"}]" \
        'd["result"]["value"]["data"] == ["", "base64"]'
rpc_json "getAccountInfo without encoding is legacy base58" getAccountInfo "[\"$ALICE\"]" \
        'd["result"]["value"]["data"] == "" and d["result"]["value"]["lamports"] == 2000000000'
check_contains "rentEpoch is the exact u64 maximum" '"rentEpoch":18446744073709551615' "$SVM_OUT"
rpc_json "getAccountInfo base58" getAccountInfo "[\"$ALICE\", {\"encoding\":\"base58\"}]" \
        'd["result"]["value"]["data"] == ["", "base58"]'
rpc_json "getMultipleAccounts" getMultipleAccounts "[[\"$ALICE\", \"11111111111111111111111111111112\"], {\"encoding\":\"base64\"}]" \
        'd["result"]["value"][0]["lamports"] == 2000000000 and d["result"]["value"][1] is None'
rpc_json "getMinimumBalanceForRentExemption of 0 bytes" getMinimumBalanceForRentExemption '[0]' 'd["result"] == 890880'
rpc_json "osvmTestKeypair with lamports funds it" osvmTestKeypair '[{"lamports": 5000000}]' '"signature" in d["result"]'
svm_rpc getBalance "[\"$(svm_get 'r["address"]')\"]"
ans
check_json "and the new keypair has them" "$T/a.json" 'd["result"]["value"] == 5000000'
rpc_json "getAccountInfo of the system program" getAccountInfo '["11111111111111111111111111111111", {"encoding":"base64"}]' \
        'd["result"]["value"]["executable"] is True'

# ---- a transfer, then the transaction ----

rpc_json "osvmTestKeypair for a recipient" osvmTestKeypair '[]' '"address" in d["result"]'
BOB=$(svm_get 'r["address"]')
rpc_json "osvmTestTransfer from a secret" osvmTestTransfer \
        "[{\"from_secret\":\"$ALICE_SECRET\", \"to\":\"$BOB\", \"lamports\":1000000}]" \
        'd["result"]["from"] == "'"$ALICE"'" and d["result"]["to"] == "'"$BOB"'" and d["result"]["lamports"] == 1000000'
SIG=$(svm_get 'r["signature"]')
TX_SLOT=$(svm_get 'r["slot"]')

rpc_json "getTransaction: slot, blockTime, status" getTransaction "[\"$SIG\", {\"encoding\":\"json\"}]" \
        'sorted(d["result"]) == ["blockTime","meta","slot","transaction"] and d["result"]["slot"] == '"$TX_SLOT"' and isinstance(d["result"]["blockTime"], int) and d["result"]["meta"]["err"] is None and d["result"]["meta"]["status"] == {"Ok": None}'
check_json "getTransaction: the fee is 5000 lamports" "$T/a.json" 'd["result"]["meta"]["fee"] == 5000'
check_json "getTransaction: pre and post balances" "$T/a.json" \
        'd["result"]["meta"]["preBalances"] == [2000000000, 0, 1] and d["result"]["meta"]["postBalances"] == [2000000000 - 1000000 - 5000, 1000000, 1]'
check_json "getTransaction: signatures and account keys" "$T/a.json" \
        'd["result"]["transaction"]["signatures"] == ["'"$SIG"'"] and d["result"]["transaction"]["message"]["accountKeys"] == ["'"$ALICE"'", "'"$BOB"'", "11111111111111111111111111111111"]'
check_json "getTransaction: header, instruction, blockhash" "$T/a.json" \
        'd["result"]["transaction"]["message"]["header"] == {"numReadonlySignedAccounts": 0, "numReadonlyUnsignedAccounts": 1, "numRequiredSignatures": 1} and d["result"]["transaction"]["message"]["instructions"][0]["programIdIndex"] == 2 and d["result"]["transaction"]["message"]["instructions"][0]["accounts"] == [0, 1] and len(d["result"]["transaction"]["message"]["recentBlockhash"]) >= 32'
rpc_json "getTransaction with maxSupportedTransactionVersion says legacy" getTransaction \
        "[\"$SIG\", {\"encoding\":\"json\", \"maxSupportedTransactionVersion\": 0}]" 'd["result"]["version"] == "legacy"'
rpc_json "getTransaction jsonParsed parses the transfer" getTransaction "[\"$SIG\", {\"encoding\":\"jsonParsed\"}]" \
        'd["result"]["transaction"]["message"]["instructions"][0]["parsed"] == {"info": {"destination": "'"$BOB"'", "lamports": 1000000, "source": "'"$ALICE"'"}, "type": "transfer"} and d["result"]["transaction"]["message"]["accountKeys"][0]["signer"] is True'
rpc_json "getTransaction base64" getTransaction "[\"$SIG\", {\"encoding\":\"base64\"}]" \
        'd["result"]["transaction"][1] == "base64" and len(d["result"]["transaction"][0]) > 100'
rpc_json "getTransaction of an unknown signature is null" getTransaction \
        '["5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW"]' \
        '"result" in d and d["result"] is None'
rpc_json "the recipient's balance" getBalance "[\"$BOB\"]" 'd["result"]["value"] == 1000000'

rpc_json "getSignaturesForAddress lists the transfer, then the airdrop" getSignaturesForAddress "[\"$ALICE\"]" \
        '[s["signature"] for s in d["result"]] == ["'"$SIG"'", "'"$AIRDROP_SIG"'"]'
check_json "each entry has the real fields" "$T/a.json" \
        'all(sorted(s) == ["blockTime","confirmationStatus","err","memo","signature","slot"] and s["err"] is None for s in d["result"]) and d["result"][0]["slot"] == '"$TX_SLOT"
rpc_json "getSignaturesForAddress honours limit" getSignaturesForAddress "[\"$ALICE\", {\"limit\": 1}]" \
        '[s["signature"] for s in d["result"]] == ["'"$SIG"'"]'
rpc_json "getSignaturesForAddress honours before" getSignaturesForAddress "[\"$ALICE\", {\"before\": \"$SIG\"}]" \
        '[s["signature"] for s in d["result"]] == ["'"$AIRDROP_SIG"'"]'
rpc_json "getSignaturesForAddress of the recipient" getSignaturesForAddress "[\"$BOB\"]" \
        '[s["signature"] for s in d["result"]] == ["'"$SIG"'"]'
rpc_json "getSignatureStatuses" getSignatureStatuses "[[\"$SIG\"]]" \
        'd["result"]["value"][0]["confirmationStatus"] == "finalized" and d["result"]["value"][0]["err"] is None'

rpc_json "osvmTestTransfer without a sender funds a new one" osvmTestTransfer "[{\"to\":\"$BOB\", \"lamports\":2000000}]" \
        'd["result"]["from"] != "'"$ALICE"'" and len(d["result"]["funding_signature"]) >= 64'
SIG2=$(svm_get 'r["signature"]')
rpc_json "its transaction: the sender had lamports + 1 SOL" getTransaction "[\"$SIG2\"]" \
        'd["result"]["meta"]["preBalances"][:2] == [1002000000, 1000000] and d["result"]["meta"]["postBalances"][:2] == [1000000000 - 5000, 3000000]'
rpc_json "the same transfer twice is two transactions" osvmTestTransfer \
        "[{\"from_secret\":\"$ALICE_SECRET\", \"to\":\"$BOB\", \"lamports\":1000000}]" 'd["result"]["signature"] != "'"$SIG"'"'

# ---- sendTransaction with a transaction built by the test ----

svm_rpc getLatestBlockhash
BLOCKHASH=$(svm_get 'r["value"]["blockhash"]')
read -r WIRE WIRE_SIG < <(node "$ROOT/tests/svm/make_tx.mjs" "$ALICE_SECRET" "$BOB" 3000000 "$BLOCKHASH")
rpc_json "sendTransaction (base64) answers the signature" sendTransaction "[\"$WIRE\", {\"encoding\":\"base64\"}]" \
        'd["result"] == "'"$WIRE_SIG"'"'
rpc_json "and getTransaction finds it" getTransaction "[\"$WIRE_SIG\"]" \
        'd["result"]["meta"]["postBalances"][1] - d["result"]["meta"]["preBalances"][1] == 3000000 and d["result"]["meta"]["fee"] == 5000'
read -r WIRE58 WIRE58_SIG < <(node "$ROOT/tests/svm/make_tx.mjs" "$ALICE_SECRET" "$BOB" 3000001 "$BLOCKHASH")
WIRE58=$(python3 -c 'import base64,sys
a="123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"; b=base64.b64decode(sys.argv[1]); n=int.from_bytes(b,"big"); s=""
while n: n,r=divmod(n,58); s=a[r]+s
print("1"*(len(b)-len(b.lstrip(b"\0")))+s)' "$WIRE58")
rpc_json "sendTransaction (base58, the default) answers the signature" sendTransaction "[\"$WIRE58\"]" \
        'd["result"] == "'"$WIRE58_SIG"'"'
rpc_json "sending it again is refused" sendTransaction "[\"$WIRE\", {\"encoding\":\"base64\"}]" \
        'd["error"]["code"] == -32002 and d["error"]["data"]["err"] == "AlreadyProcessed"'
svm_rpc getBalance "[\"$ALICE\"]"
BEFORE=$(svm_get 'r["value"]')
read -r WIRE _ < <(node "$ROOT/tests/svm/make_tx.mjs" "$ALICE_SECRET" "$BOB" 900000000000 "$BLOCKHASH")
rpc_json "an overspending transaction fails its preflight" sendTransaction "[\"$WIRE\", {\"encoding\":\"base64\"}]" \
        'd["error"]["code"] == -32002 and d["error"]["data"]["err"] == {"InstructionError": [0, {"Custom": 1}]} and any("insufficient lamports" in l for l in d["error"]["data"]["logs"])'
rpc_json "and costs nothing" getBalance "[\"$ALICE\"]" "d[\"result\"][\"value\"] == $BEFORE"
rpc_json "with skipPreflight it lands, failed" sendTransaction "[\"$WIRE\", {\"encoding\":\"base64\", \"skipPreflight\": true}]" \
        'isinstance(d["result"], str)'
FAILED_SIG=$(svm_get r)
rpc_json "its getTransaction has the error and the fee" getTransaction "[\"$FAILED_SIG\"]" \
        'd["result"]["meta"]["err"] == {"InstructionError": [0, {"Custom": 1}]} and d["result"]["meta"]["status"] == {"Err": {"InstructionError": [0, {"Custom": 1}]}} and d["result"]["meta"]["fee"] == 5000 and d["result"]["meta"]["postBalances"][1] == d["result"]["meta"]["preBalances"][1]'
rpc_json "getSignaturesForAddress shows the error" getSignaturesForAddress "[\"$ALICE\", {\"limit\": 1}]" \
        'd["result"][0]["signature"] == "'"$FAILED_SIG"'" and d["result"][0]["err"] == {"InstructionError": [0, {"Custom": 1}]}'
rpc_json "a transaction that is not one" sendTransaction '["AAAA", {"encoding":"base64"}]' 'd["error"]["code"] == -32602'

# ---- token accounts ----

rpc_json "getTokenAccountsByOwner of a plain wallet is empty" getTokenAccountsByOwner \
        "[\"$ALICE\", {\"programId\":\"TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA\"}, {\"encoding\":\"jsonParsed\"}]" \
        'd["result"]["value"] == [] and "slot" in d["result"]["context"]'
rpc_json "osvmTestTokenAccount makes a mint and an account" osvmTestTokenAccount \
        "[{\"owner\":\"$ALICE\", \"amount\": 1234500, \"decimals\": 6}]" '"mint" in d["result"] and "account" in d["result"]'
MINT=$(svm_get 'r["mint"]')
rpc_json "getTokenAccountsByOwner lists it, parsed" getTokenAccountsByOwner \
        "[\"$ALICE\", {\"mint\":\"$MINT\"}, {\"encoding\":\"jsonParsed\"}]" \
        'd["result"]["value"][0]["account"]["data"]["parsed"]["info"]["tokenAmount"] == {"amount": "1234500", "decimals": 6, "uiAmount": 1.2345, "uiAmountString": "1.2345"} and d["result"]["value"][0]["account"]["owner"] == "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"'
rpc_json "getTokenAccountsByOwner base64" getTokenAccountsByOwner \
        "[\"$ALICE\", {\"programId\":\"TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA\"}, {\"encoding\":\"base64\"}]" \
        'd["result"]["value"][0]["account"]["data"][1] == "base64" and d["result"]["value"][0]["account"]["space"] == 165'

# ---- errors ----

rpc_json "an unknown method is -32601" getNothing '[]' 'd["error"]["code"] == -32601 and d["id"] == 1'
rpc_json "an invalid address is -32602" getBalance '["not-a-base58-address!"]' 'd["error"]["code"] == -32602'
rpc_json "a wrong-length address is -32602" getAccountInfo '["11111"]' 'd["error"]["code"] == -32602'
SVM_OUT=$(curl -s -X POST "$SVM_URL" -d '{"jsonrpc":"2.0",')
ans
check_json "a body that is not JSON is -32700" "$T/a.json" 'd["error"]["code"] == -32700'
SVM_OUT=$(curl -s -X POST "$SVM_URL" -d '[{"jsonrpc":"2.0","id":1,"method":"getSlot"},{"jsonrpc":"2.0","id":2,"method":"getHealth"}]')
ans
check_json "a batch is answered in order" "$T/a.json" '[x["id"] for x in d] == [1, 2] and d[1]["result"] == "ok"'

check_eq "GET /health is ok" ok "$(curl -s "${SVM_URL}health")"

# ---- the request log ----

svm_requests_clear
curl -s -X POST "$SVM_URL" -H 'Authorization: Bearer test-key-123' -H 'Content-Type: application/json' \
        -d "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"getBalance\",\"params\":[\"$ALICE\"]}" >/dev/null
svm_requests >"$T/log.json"
check_json "the log holds exactly the request" "$T/log.json" \
        'len(d) == 1 and d[0]["method"] == "getBalance" and d[0]["params"] == ["'"$ALICE"'"] and d[0]["id"] == 7'
check_json "with its headers (Authorization included)" "$T/log.json" \
        'd[0]["headers"]["authorization"] == "Bearer test-key-123" and d[0]["headers"]["content-type"] == "application/json"'
svm_requests_clear
svm_requests >"$T/log.json"
check_json "DELETE /__requests empties it" "$T/log.json" 'd == []'

# ---- failure modes ----

http() { # prints "<curl exit> <status> <body>" of a getSlot; extra curl args
        local body rc
        body=$(curl -s -o "$T/body" -w '%{http_code}' "$@" -X POST "$SVM_URL" -H 'Content-Type: application/json' \
                -d '{"jsonrpc":"2.0","id":1,"method":"getSlot"}')
        rc=$?
        echo "$rc $body $(head -c 200 "$T/body" 2>/dev/null)"
}

svm_mode garbage
R=$(http)
check_match "garbage: 200 with a body" '^0 200 .' "$R"
if python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/body" 2>/dev/null; then
        fail "garbage: the body is not JSON" "$(cat "$T/body")"
else
        pass "garbage: the body is not JSON"
fi

svm_mode status:500
check_match "status:500 answers HTTP 500" '^0 500 ' "$(http)"
svm_mode status:429
check_match "status:429 answers HTTP 429" '^0 429 ' "$(http)"

svm_mode slow:1500
start=$(date +%s%N)
R=$(http)
ms=$((($(date +%s%N) - start) / 1000000))
check_match "slow:1500 still answers" '^0 200 \{' "$R"
if [ "$ms" -ge 1400 ]; then pass "slow:1500 takes 1.5 s (${ms} ms)"; else fail "slow:1500 takes 1.5 s" "took ${ms} ms"; fi
svm_mode slow:60000
check_match "slow:60000 passes a 0.5 s client timeout" '^28 ' "$(http -m 0.5)"

svm_mode close
check_match "close: the connection ends without an answer" '^52 ' "$(http)"

curl -s -o "$T/body" -w '%{http_code}' -X POST "${SVM_URL}__mode" -d '{"mode":"sideways"}' >"$T/code"
check_eq "an unknown mode is refused" 400 "$(cat "$T/code")"
check_eq "the mode is still close" '{"mode":"close"}' "$(curl -s "${SVM_URL}__mode")"

svm_mode ok
check_match "ok: normal again" '^0 200 \{"jsonrpc":"2.0","result":[0-9]+' "$(http)"
svm_requests >"$T/log.json"
check_json "requests are logged in every mode" "$T/log.json" \
        '[r["mode"] for r in d if r["method"] == "getSlot"][:5] == ["garbage", "status:500", "status:429", "slow:1500", "slow:60000"]'

# --fail-mode at start, on a second server.
PORT2=$(free_port)
node "$ROOT/tests/svm/rpc_server.mjs" --port "$PORT2" --fail-mode status:503 >"$T/srv2" 2>&1 &
PID2=$!
# (up to 120 s: a bound that only guards against a hang, on a loaded machine)
for _ in $(seq 1200); do grep -q READY "$T/srv2" && break; sleep 0.1; done
check_eq "--fail-mode: READY with the port" "READY $PORT2" "$(cat "$T/srv2")"
check_match "--fail-mode status:503 answers 503" '^0 503 ' "$(SVM_URL=http://127.0.0.1:$PORT2/ http)"
kill "$PID2" 2>/dev/null
wait "$PID2" 2>/dev/null
check_match "endpoint down: the connection is refused" '^7 000' "$(SVM_URL=http://127.0.0.1:$PORT2/ http)"

node "$ROOT/tests/svm/rpc_server.mjs" --port "$SVM_PORT" >"$T/srv4" 2>&1
check_contains "a port in use stops a second server" "EADDRINUSE" "$(cat "$T/srv4")"
node "$ROOT/tests/svm/rpc_server.mjs" --port "$PORT2" --fail-mode wobbly >"$T/srv3" 2>&1
check_contains "a bad --fail-mode stops the server" "bad mode" "$(cat "$T/srv3")"

finish
