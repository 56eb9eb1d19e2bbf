#!/bin/bash
# Inside the nested AMD-V guest (tests/nested/runner.bash): every osvm-mcp
# tool image once, through `osvm mcp call` in a VM of its own, its host call
# sent by osvm to a local endpoint (tests/agent/llm_server.py answering one
# scripted JSON-RPC reply per request; LiteSVM on Node.js, which
# tests/tools/solana.sh uses, is too large for the guest). Then the error
# paths: the tool's own (a bad argument, no host call), an endpoint that is
# down, and an answer slower than the call's time limit.
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

UK=$ROOT/build/unikernels
ADDR=4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T
SYS=11111111111111111111111111111111
SIG=5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW
HASH=EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N
KEY=nested-rpc-5ecret-41c7
fresh

# TOOL|ARGUMENTS|RESULT (the JSON-RPC result the endpoint sends)|TEXT (in the tool's answer)
cat >"$T/cases" <<EOT
get_account_info|{"address":"$ADDR"}|{"context":{"slot":9},"value":{"lamports":2039280,"owner":"$SYS","data":["AAE=","base64"],"executable":false,"rentEpoch":361,"space":165}}|Account $ADDR: owner $SYS, 2039280 lamports (0.00203928 SOL), 165 bytes of data
get_balance|{"address":"$ADDR"}|{"context":{"slot":77},"value":1500000000}|Balance of $ADDR: 1500000000 lamports (1.5 SOL)
get_block_height|{"commitment":"confirmed"}|99|Current block height: 99 (confirmed)
get_epoch_info|{}|{"absoluteSlot":166598,"blockHeight":166500,"epoch":27,"slotIndex":2790,"slotsInEpoch":8192,"transactionCount":22661093}|Epoch 27: slot 2790 of 8192 in the epoch, absolute slot 166598, block height 166500
get_latest_blockhash|{"commitment":"processed"}|{"context":{"slot":2792},"value":{"blockhash":"$HASH","lastValidBlockHeight":3090}}|Latest blockhash $HASH, valid until block height 3090
get_signatures_for_address|{"address":"$ADDR","limit":2}|[{"signature":"a","slot":3,"err":null},{"signature":"b","slot":2,"err":null}]|2 signatures for $ADDR
get_slot|{}|123456|Current slot: 123456
get_token_accounts_by_owner|{"owner":"$ADDR"}|{"context":{"slot":5},"value":[{"pubkey":"$ADDR","account":{"data":{"parsed":{"info":{"mint":"$SYS","tokenAmount":{"amount":"1500","decimals":3,"uiAmountString":"1.5"}}}}}}]}|1 token account of $ADDR
get_transaction|{"signature":"$SIG"}|{"slot":42,"blockTime":1700000000,"meta":{"fee":5000,"err":null},"transaction":{"signatures":["$SIG"]}}|Transaction $SIG: slot 42, fee 5000 lamports, succeeded
get_version|{}|{"solana-core":"1.18.22","feature-set":3241752014}|solana-core 1.18.22, feature set 3241752014
solana_rpc_call|{"method":"getMinimumBalanceForRentExemption","params":[50]}|500|getMinimumBalanceForRentExemption: 500
EOT
# The endpoint's script: one reply per case, in order, then one a minute late.
python3 - "$T/cases" >"$T/script.json" <<'EOF'
import json, sys
script = []
for line in open(sys.argv[1]):
    tool, args, result, text = line.rstrip("\n").split("|")
    script.append({"body": {"jsonrpc": "2.0", "id": 1, "result": json.loads(result)}})
script.append({"delay_ms": 60000, "body": {"jsonrpc": "2.0", "id": 1, "result": 1}})
print(json.dumps(script))
EOF
python3 "$ROOT/tests/agent/llm_server.py" --script "$T/script.json" --record "$T/record.json" \
        >"$T/server.out" 2>"$T/server.err" &
server=$!
trap 'kill $server 2>/dev/null; chmod -R u+rwX "$TMPROOT" 2>/dev/null; rm -rf "$TMPROOT"' EXIT
# (120 s only guards a hang: the server is up in a second or two)
for _ in $(seq 1200); do
        grep -q '^PORT ' "$T/server.out" 2>/dev/null && break
        kill -0 $server 2>/dev/null || break
        sleep 0.1
done
port=$(sed -n 's/^PORT //p' "$T/server.out")
if [ -z "$port" ]; then
        fail "the local endpoint starts" "$(cat "$T/server.err")"
        finish
        exit
fi
export OSVM_BUILTIN_IMAGES=$UK OSVM_SOLANA_RPC=http://127.0.0.1:$port/ OSVM_SOLANA_RPC_KEY=$KEY

ntools=0
while IFS='|' read -r tool args result text; do
        ntools=$((ntools + 1))
        osvm mcp call osvm-mcp "$tool" "$args" --json
        printf '%s' "$OUT" >"$T/call.json"
        check_exit "$tool: exits 0" 0
        check_json "$tool: ran in a VM of its own" "$T/call.json" 'd["mode"] == "unikernel"'
        check_json "$tool: answers from the endpoint's reply" "$T/call.json" \
                'd["result"]["isError"] is False and '"$(printf '%s' "$text" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')"' in d["result"]["content"][0]["text"]'
done <"$T/cases"
check_eq "one image per tool, each called once" "$(ls "$UK"/osvm-mcp-*.img | wc -l)" "$ntools"
check_json "the endpoint got one request per call, the tool's method" "$T/record.json" \
        '[r["body"]["method"] for r in d] == ["getAccountInfo", "getBalance", "getBlockHeight", "getEpochInfo", "getLatestBlockhash", "getSignaturesForAddress", "getSlot", "getTokenAccountsByOwner", "getTransaction", "getVersion", "getMinimumBalanceForRentExemption"]'
check_json "each carried the host's credential, added outside the VM" "$T/record.json" \
        'all(r["headers"].get("authorization") == "Bearer '"$KEY"'" for r in d)'

# The tool's own error path: refused in the VM, nothing sent.
osvm mcp call osvm-mcp get_balance '{"address":"not-base58-0OIl"}'
check_exit "an invalid address is a tool error" 5
check_contains "naming it" "base58" "$ERR"
check_json "and nothing reached the endpoint" "$T/record.json" 'len(d) == 11'
# An endpoint that is down (a port nobody listens on).
OSVM_SOLANA_RPC=http://127.0.0.1:9/ osvm mcp call osvm-mcp get_slot
check_exit "an endpoint that is down is a tool error" 5
check_contains "saying it cannot be reached" "cannot reach" "$ERR"
# An answer a minute late: only the call's time limit ends it sooner.
osvm isolation set osvm-mcp timeout_ms=1500 >/dev/null
osvm mcp call osvm-mcp get_slot
check_exit "a slow answer past the timeout is a tool error" 5
check_match "it stops at the timeout" "(time limit|timed out after 1500 ms|within 1?[0-9]{1,3} ms)" "$ERR"
finish
