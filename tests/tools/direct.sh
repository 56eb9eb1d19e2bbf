#!/bin/bash
# The osvm-mcp tool pack against a stand-in host (fakehost.py) that serves
# fd 3, answers the host calls with canned JSON-RPC responses and records
# them: every case twice, the images run as host processes (direct mode) and
# in the engine (tests/tools/vm_call, fd 3 the same socket). Needs `make tools`
# and build/asan/tests/tools/vm_call (make test builds them).
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

# The system's Python when there is one: it starts faster than a version
# manager's shim, and this test starts it some 700 times.
if [ -x /usr/bin/python3 ]; then
        python3() { /usr/bin/python3 "$@"; }
fi

UK="$ROOT/build/unikernels"
HOST="python3 $ROOT/tests/tools/fakehost.py"
ADDR=4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T
SYS=11111111111111111111111111111111
SIG=5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW
RPC=http://rpc.test:8899/
export OSVM_SOLANA_RPC=$RPC

VMCALL="$ROOT/build/asan/tests/tools/vm_call"
MODE=direct

# The checks of lib.sh, named with the mode.
pass() {
        n=$((n + 1))
        passed=$((passed + 1))
        echo "ok $n - $MODE: $1"
}
fail() {
        n=$((n + 1))
        failed=$((failed + 1))
        echo "not ok $n - $MODE: $1"
        shift
        for line in "$@"; do
                printf '%s\n' "$line" | sed 's/^/#   /'
        done
}

# run IMAGE-NAME FAKEHOST-OPTION...: the tool, stdin $T/in, stdout $T/out.
run() {
        local name=$1
        shift
        if [ "$MODE" != direct ]; then
                $HOST --log "$T/log" "$@" -- "$VMCALL" --platform "${MODE#vm-}" "$UK/osvm-mcp-$name.img" "$name" \
                        <"$T/in" >"$T/out" 2>"$T/err"
        else
                $HOST --log "$T/log" "$@" -- "$UK/osvm-mcp-$name.img" "$name" \
                        <"$T/in" >"$T/out" 2>"$T/err"
        fi
        RC=$?
}

if [ ! -x "$UK/osvm-mcp-get_balance.img" ]; then
        fail "tool images exist in $UK (build them with: make tools)"
        finish
        exit 1
fi
fresh

# tool REQUEST-JSON FAKEHOST-OPTION...: runs the tool named in the request
# (get_slot when it names none of ours);
# RC, $T/out (the result), $T/log (the host calls); RES is the result text.
tool() {
        local req=$1 name
        shift
        name=
        [[ $req =~ ^\{\"name\":\"([a-z_]+)\" ]] && name=${BASH_REMATCH[1]}
        [ -x "$UK/osvm-mcp-$name.img" ] || name=get_slot # requests naming no tool of ours
        printf '%s\n' "$req" >"$T/in"
        rm -f "$T/log"
        run "$name" "$@"
        RES=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["content"][0]["text"])' \
                "$T/out" 2>&1)
}

ok_result() { # name: exit 0, one result, not isError
        check_exit "$1: exit 0" 0
        check_json "$1: not isError" "$T/out" 'd["isError"] is False'
}

err_result() { # name needle: exit 0, isError, the text says needle
        check_exit "$1: exit 0" 0
        check_json "$1: isError" "$T/out" 'd["isError"] is True and len(d["content"]) == 1'
        check_contains "$1: says why" "$2" "$RES"
}

rpc() { # name expression over r (the one JSON-RPC request) and c (the host call)
        check_json "$1" "$T/log" "len(d) == 1 and (lambda c, r: $2)(d[0]['call'], d[0]['rpc'])"
}

no_call() { # name: the tool asked the host nothing
        check_json "$1: no host call" "$T/log" 'd == []'
}

suite() {
# ---- the tools ----

tool "{\"name\":\"get_balance\",\"arguments\":{\"address\":\"$ADDR\"}}" \
        --answer 'result:{"context":{"slot":77},"value":1500000000}'
ok_result get_balance
check_eq "get_balance: text" "Balance of $ADDR: 1500000000 lamports (1.5 SOL)" "$RES"
check_json "get_balance: structured" "$T/out" \
        "d['structuredContent'] == {'address': '$ADDR', 'lamports': 1500000000, 'sol': '1.5', 'slot': 77}"
rpc "get_balance: the host call" \
        "c['op'] == 'http' and c['method'] == 'POST' and c['url'] == '$RPC' and \
         c['headers'] == {'Content-Type': 'application/json'} and \
         r == {'jsonrpc': '2.0', 'id': 1, 'method': 'getBalance', 'params': ['$ADDR']}"

tool "{\"name\":\"get_balance\",\"arguments\":{\"address\":\"$SYS\"}}" \
        --answer 'result:{"context":{"slot":1},"value":1}'
check_contains "get_balance: one lamport" "1 lamports (0.000000001 SOL)" "$RES"

tool "{\"name\":\"get_account_info\",\"arguments\":{\"address\":\"$ADDR\",\"encoding\":\"jsonParsed\"}}" \
        --answer 'result:{"context":{"slot":9},"value":{"lamports":2039280,"owner":"'$SYS'","data":["AAE=","base64"],"executable":false,"rentEpoch":18446744073709551615,"space":165}}'
ok_result "get_account_info: a rent epoch of u64::MAX"
check_json "get_account_info: kept exact, as a string" "$T/out" \
        "d['structuredContent']['account']['rentEpoch'] == '18446744073709551615'"
tool "{\"name\":\"get_account_info\",\"arguments\":{\"address\":\"$ADDR\",\"encoding\":\"jsonParsed\"}}" \
        --answer 'result:{"context":{"slot":9},"value":{"lamports":2039280,"owner":"'$SYS'","data":["AAE=","base64"],"executable":false,"rentEpoch":361,"space":165}}'
ok_result get_account_info
check_contains "get_account_info: text" "Account $ADDR: owner $SYS, 2039280 lamports (0.00203928 SOL), 165 bytes of data" "$RES"
check_json "get_account_info: structured" "$T/out" \
        "d['structuredContent']['exists'] and d['structuredContent']['account']['space'] == 165"
rpc "get_account_info: params" "r['method'] == 'getAccountInfo' and r['params'] == ['$ADDR', {'encoding': 'jsonParsed'}]"
tool "{\"name\":\"get_account_info\",\"arguments\":{\"address\":\"$ADDR\"}}" \
        --answer 'result:{"context":{"slot":9},"value":null}'
ok_result "get_account_info (none)"
check_contains "get_account_info: absent" "does not exist" "$RES"
rpc "get_account_info: base64 by default" "r['params'] == ['$ADDR', {'encoding': 'base64'}]"

tool "{\"name\":\"get_transaction\",\"arguments\":{\"signature\":\"$SIG\",\"commitment\":\"confirmed\"}}" \
        --answer 'result:{"slot":42,"blockTime":1700000000,"meta":{"fee":5000,"err":null},"transaction":{"signatures":["'$SIG'"]}}'
ok_result get_transaction
check_eq "get_transaction: text" "Transaction $SIG: slot 42, fee 5000 lamports, succeeded" "$(head -1 <<<"$RES")"
check_json "get_transaction: structured" "$T/out" \
        "d['structuredContent']['success'] and d['structuredContent']['transaction']['meta']['fee'] == 5000"
rpc "get_transaction: params" \
        "r['method'] == 'getTransaction' and r['params'] == ['$SIG', {'maxSupportedTransactionVersion': 0, 'commitment': 'confirmed'}]"
tool "{\"name\":\"get_transaction\",\"arguments\":{\"signature\":\"$SIG\"}}" \
        --answer 'result:{"slot":42,"meta":{"fee":5000,"err":{"InstructionError":[0,"Custom"]}}}'
check_contains "get_transaction: failed" 'failed: {"InstructionError":[0,"Custom"]}' "$RES"
tool "{\"name\":\"get_transaction\",\"arguments\":{\"signature\":\"$SIG\"}}" --answer 'result:null'
ok_result "get_transaction (none)"
check_contains "get_transaction: not found" "not found" "$RES"
tool "{\"name\":\"get_transaction\",\"arguments\":{\"signature\":\"$SIG\",\"commitment\":\"processed\"}}"
err_result "get_transaction: processed refused" "commitment must be one of confirmed, finalized"
no_call "get_transaction: processed"

tool "{\"name\":\"get_signatures_for_address\",\"arguments\":{\"address\":\"$ADDR\",\"limit\":2,\"before\":\"$SIG\"}}" \
        --answer 'result:[{"signature":"a","slot":3,"err":null},{"signature":"b","slot":2,"err":null}]'
ok_result get_signatures_for_address
check_contains "get_signatures_for_address: text" "2 signatures for $ADDR" "$RES"
check_json "get_signatures_for_address: structured" "$T/out" "d['structuredContent']['count'] == 2"
rpc "get_signatures_for_address: params" \
        "r['method'] == 'getSignaturesForAddress' and r['params'] == ['$ADDR', {'limit': 2, 'before': '$SIG'}]"
tool "{\"name\":\"get_signatures_for_address\",\"arguments\":{\"address\":\"$ADDR\"}}" --answer 'result:[]'
rpc "get_signatures_for_address: no options" "r['params'] == ['$ADDR']"
for bad in 0 1001 '"10"' 2.5 -1; do
        tool "{\"name\":\"get_signatures_for_address\",\"arguments\":{\"address\":\"$ADDR\",\"limit\":$bad}}"
        err_result "get_signatures_for_address: limit $bad" "limit must be an integer from 1 to 1000"
        no_call "get_signatures_for_address: limit $bad"
done
tool "{\"name\":\"get_signatures_for_address\",\"arguments\":{\"address\":\"$ADDR\",\"limit\":1000}}" --answer 'result:[]'
ok_result "get_signatures_for_address: limit 1000"

tool '{"name":"get_slot","arguments":{}}' --answer 'result:123456'
ok_result get_slot
check_eq "get_slot: text" "Current slot: 123456" "$RES"
rpc "get_slot: no params" "r['method'] == 'getSlot' and r['params'] == []"
tool '{"name":"get_slot","arguments":{"commitment":"finalized"}}' --answer 'result:7'
check_eq "get_slot: commitment" "Current slot: 7 (finalized)" "$RES"
rpc "get_slot: commitment param" "r['params'] == [{'commitment': 'finalized'}]"
tool '{"name":"get_slot","arguments":{"commitment":"final"}}'
err_result "get_slot: bad commitment" "commitment must be one of processed, confirmed, finalized (not 'final')"
tool '{"name":"get_slot","arguments":{}}' --answer 'result:"soon"'
err_result "get_slot: a result not a number" "getSlot: the result is not a number"

tool '{"name":"get_block_height","arguments":{"commitment":"confirmed"}}' --answer 'result:99'
ok_result get_block_height
check_eq "get_block_height: text" "Current block height: 99 (confirmed)" "$RES"
check_json "get_block_height: structured" "$T/out" \
        "d['structuredContent'] == {'block_height': 99, 'commitment': 'confirmed'}"
rpc "get_block_height: request" "r['method'] == 'getBlockHeight' and r['params'] == [{'commitment': 'confirmed'}]"

tool '{"name":"get_epoch_info","arguments":{}}' \
        --answer 'result:{"absoluteSlot":166598,"blockHeight":166500,"epoch":27,"slotIndex":2790,"slotsInEpoch":8192,"transactionCount":22661093}'
ok_result get_epoch_info
check_eq "get_epoch_info: text" "Epoch 27: slot 2790 of 8192 in the epoch, absolute slot 166598, block height 166500" "$RES"
check_json "get_epoch_info: structured" "$T/out" \
        "d['structuredContent']['epoch'] == 27 and d['structuredContent']['transaction_count'] == 22661093"
rpc "get_epoch_info: request" "r['method'] == 'getEpochInfo'"

tool '{"name":"get_version","arguments":{}}' --answer 'result:{"solana-core":"1.18.22","feature-set":3241752014}'
ok_result get_version
check_eq "get_version: text" "solana-core 1.18.22, feature set 3241752014" "$RES"
rpc "get_version: no params" "r['method'] == 'getVersion' and 'params' not in r"
tool '{"name":"get_version","arguments":{"verbose":true}}'
err_result "get_version: takes nothing" "unknown argument 'verbose' (get_version takes no arguments)"
no_call "get_version: unknown argument"

TA='{"context":{"slot":5},"value":[{"pubkey":"'$ADDR'","account":{"data":{"parsed":{"info":{"mint":"'$SYS'","tokenAmount":{"amount":"1500","decimals":3,"uiAmountString":"1.5"}}}}}}]}'
tool "{\"name\":\"get_token_accounts_by_owner\",\"arguments\":{\"owner\":\"$ADDR\"}}" --answer "result:$TA"
ok_result get_token_accounts_by_owner
check_contains "get_token_accounts_by_owner: text" "1 token account of $ADDR
- $ADDR: mint $SYS, amount 1.5" "$RES"
rpc "get_token_accounts_by_owner: the SPL Token program by default" \
        "r['method'] == 'getTokenAccountsByOwner' and r['params'] == ['$ADDR', {'programId': 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA'}, {'encoding': 'jsonParsed'}]"
tool "{\"name\":\"get_token_accounts_by_owner\",\"arguments\":{\"owner\":\"$ADDR\",\"mint\":\"$SYS\"}}" --answer "result:$TA"
rpc "get_token_accounts_by_owner: mint" "r['params'][1] == {'mint': '$SYS'}"
tool "{\"name\":\"get_token_accounts_by_owner\",\"arguments\":{\"owner\":\"$ADDR\",\"mint\":\"$SYS\",\"program_id\":\"$SYS\"}}"
err_result "get_token_accounts_by_owner: both filters" "give mint or program_id, not both"
no_call "get_token_accounts_by_owner: both filters"

tool '{"name":"get_latest_blockhash","arguments":{"commitment":"processed"}}' \
        --answer 'result:{"context":{"slot":2792},"value":{"blockhash":"EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N","lastValidBlockHeight":3090}}'
ok_result get_latest_blockhash
check_eq "get_latest_blockhash: text" "Latest blockhash EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N, valid until block height 3090" "$RES"
rpc "get_latest_blockhash: request" "r['method'] == 'getLatestBlockhash' and r['params'] == [{'commitment': 'processed'}]"
tool '{"name":"get_latest_blockhash","arguments":{}}' \
        --answer 'result:{"context":{"slot":2792},"value":{"blockhash":"not a hash!","lastValidBlockHeight":3090}}'
err_result "get_latest_blockhash: a bad hash" "not a blockhash"

tool '{"name":"solana_rpc_call","arguments":{"method":"getMinimumBalanceForRentExemption","params":[50]}}' \
        --answer 'result:500'
ok_result solana_rpc_call
check_eq "solana_rpc_call: text" "getMinimumBalanceForRentExemption: 500" "$RES"
rpc "solana_rpc_call: forwarded" "r['method'] == 'getMinimumBalanceForRentExemption' and r['params'] == [50]"
check_json "solana_rpc_call: structured" "$T/out" \
        "d['structuredContent'] == {'method': 'getMinimumBalanceForRentExemption', 'result': 500}"
tool '{"name":"solana_rpc_call","arguments":{"method":"getHealth"}}' --answer 'result:"ok"'
rpc "solana_rpc_call: no params" "r['method'] == 'getHealth' and 'params' not in r"
for m in sendTransaction requestAirdrop simulateTransaction getbalance ''; do
        tool "{\"name\":\"solana_rpc_call\",\"arguments\":{\"method\":\"$m\",\"params\":[]}}"
        err_result "solana_rpc_call: $m refused" "is not an allowed read-only method"
        no_call "solana_rpc_call: $m"
done
tool '{"name":"solana_rpc_call","arguments":{"method":"getSlot","params":{"commitment":"processed"}}}'
err_result "solana_rpc_call: params not an array" "params must be a JSON array"

tool '{"name":"solana_rpc_call","arguments":{"method":"getProgramAccounts","params":["11111111111111111111111111111111"]}}' \
        --answer many:20000
ok_result "solana_rpc_call: a 3 MiB answer"
check_json "solana_rpc_call: all of it" "$T/out" "len(d['structuredContent']['result']) == 20000"

# ---- bad requests: refused before any host call ----

while IFS='|' read -r label req needle; do
        tool "$req"
        err_result "refused: $label" "$needle"
        no_call "refused: $label"
done <<EOT
address with 0|{"name":"get_balance","arguments":{"address":"0${ADDR:1}"}}|address: '0${ADDR:1}' is not base58: character '0' at position 1
address with l|{"name":"get_balance","arguments":{"address":"${ADDR:0:5}l${ADDR:6}"}}|character 'l' at position 6
short address|{"name":"get_balance","arguments":{"address":"${ADDR:0:20}"}}|decodes to 15 bytes; an address is 32 bytes
signature as address|{"name":"get_balance","arguments":{"address":"$SIG"}}|decodes to 64 bytes; an address is 32 bytes
address as signature|{"name":"get_transaction","arguments":{"signature":"$ADDR"}}|decodes to 32 bytes; a signature is 64 bytes
address not a string|{"name":"get_balance","arguments":{"address":42}}|address must be a string (base58)
missing address|{"name":"get_balance","arguments":{}}|missing argument 'address'
no arguments|{"name":"get_balance"}|missing argument 'address'
unknown argument|{"name":"get_balance","arguments":{"address":"$ADDR","commitment":"finalized"}}|unknown argument 'commitment' (get_balance takes address)
duplicate argument|{"name":"get_balance","arguments":{"address":"$ADDR","address":"$ADDR"}}|not JSON: duplicate object key
arguments not an object|{"name":"get_slot","arguments":[]}|the arguments must be a JSON object
another tool's name|{"name":"get_slot_x","arguments":{}}|this image serves the tool get_slot, the request names 'get_slot_x'
no name|{"arguments":{}}|names no tool
not JSON|{"name":"get_slot",|the request is not JSON
EOT
# (the "another tool" case runs the image of the name it gives: use get_slot's)
printf '%s\n' '{"name":"get_balance","arguments":{}}' >"$T/in"
run get_slot
check_json "wrong image: refused" "$T/out" \
        "d['isError'] and 'this image serves the tool get_slot, the request names ' in d['content'][0]['text']"

# ---- the endpoint and the host failing ----

while IFS='|' read -r label answer needle; do
        tool '{"name":"get_slot","arguments":{}}' --answer "$answer"
        err_result "$label" "$needle"
done <<'EOT'
RPC error|rpcerror:{"code":-32005,"message":"Node is behind by 42 slots"}|getSlot: RPC error -32005: Node is behind by 42 slots
malformed RPC error|rpcerror:"bad"|malformed JSON-RPC error
garbage body|body:200:<html>502 Bad Gateway</html>|getSlot: the RPC endpoint's answer is not JSON ('[' or '{' expected near '<'): <html>502 Bad Gateway</html>
truncated body|body:200:{"jsonrpc":"2.0","id":1,"resu|the RPC endpoint's answer is not JSON
empty body|body:200:|the RPC endpoint sent an empty answer
no result|body:200:{"jsonrpc":"2.0","id":1}|neither a result nor an error
another id|body:200:{"jsonrpc":"2.0","id":7,"result":1}|answered another request
HTTP 503|body:503:Service Unavailable|the RPC endpoint answered HTTP status 503: Service Unavailable
HTTP 429 with a JSON-RPC error|body:429:{"jsonrpc":"2.0","id":1,"error":{"code":429,"message":"Too many requests"}}|RPC error 429: Too many requests (HTTP status 429)
host refused|hosterror:refused: rpc.evil.example:443 is not in the tool's network.allow|the host call failed: refused: rpc.evil.example:443 is not in the tool's network.allow
host timeout|hosterror:timeout after 10000 ms|the host call failed: timeout after 10000 ms
host garbage|raw:hello|the host's answer is not JSON
host answer not a host answer|raw:{"status":200}|not a host-call answer
host answer without status|raw:{"ok":true,"body":"{}"}|has no HTTP status
host closes|close|the host closed the channel without an answer
host answer over 16 MiB|big:17000000|the host's answer is longer than 16 MiB
EOT
tool '{"name":"get_slot","arguments":{}}' --answer 'rpcerror:{"code":-32005,"message":"behind","data":{"numSlotsBehind":42}}'
check_json "RPC error: the error object in structuredContent" "$T/out" \
        "d['structuredContent'] == {'rpc_error': {'code': -32005, 'message': 'behind', 'data': {'numSlotsBehind': 42}}}"

# ---- the environment ----

tool '{"name":"get_slot","arguments":{}}' --no-fd3
err_result "no fd 3" "the host channel is missing"
OSVM_SOLANA_RPC='' tool '{"name":"get_slot","arguments":{}}' --answer 'result:1'
err_result "no OSVM_SOLANA_RPC" "OSVM_SOLANA_RPC is not set"
no_call "no OSVM_SOLANA_RPC"
OSVM_SOLANA_RPC='file:///etc/passwd' tool '{"name":"get_slot","arguments":{}}' --answer 'result:1'
err_result "OSVM_SOLANA_RPC not http" "is not an http:// or https:// URL"
OSVM_TOOL_PROTOCOL=2 tool '{"name":"get_slot","arguments":{}}' --answer 'result:1'
err_result "another protocol version" "get_slot speaks the tool-image protocol 1, the host 2"
no_call "another protocol version"
OSVM_TOOL_PROTOCOL=1 tool '{"name":"get_slot","arguments":{}}' --answer 'result:1'
ok_result "protocol version 1"
printf '' >"$T/in"
run get_slot
check_json "an empty request" "$T/out" "d['isError'] and 'no request on stdin' in d['content'][0]['text']"
python3 -c 'print("{\"name\":\"get_slot\",\"arguments\":{\"x\":\"" + "a" * (1 << 20) + "\"}}")' >"$T/in"
run get_slot
check_json "a request over 1 MiB" "$T/out" "d['isError'] and 'larger than 1 MiB' in d['content'][0]['text']"

}

suite
# in the engine: on the process platform always (a trapped process: every
# host), and in a KVM VM where /dev/kvm is usable
MODE=vm-process
suite
if ! why=$("$VMCALL" --platform kvm --probe 2>&1); then
        skip "the cases in a KVM VM" "KVM is not usable: $why"
else
        MODE=vm-kvm
        suite
fi
MODE=direct

# fd 3 open but a file, not the host's socket (direct mode only)
printf '%s\n' '{"name":"get_slot","arguments":{}}' >"$T/in"
"$UK/osvm-mcp-get_slot.img" get_slot <"$T/in" 3<"$T/in" >"$T/out" 2>"$T/err"
check_json "fd 3 a file: refused" "$T/out" \
        "d['isError'] and 'fd 3 is not a socket' in d['content'][0]['text']"

# ---- the tool definitions: one per image, the same from --describe and tools.json ----

check_json "tools.json: one definition per image" "$UK/osvm-mcp.tools.json" \
        "sorted(t['name'] for t in d) == sorted('$(cd "$UK" && ls osvm-mcp-*.img | tr '\n' ' ')'.replace('osvm-mcp-', '').replace('.img', '').split())"
for img in "$UK"/osvm-mcp-*.img; do
        name=${img##*/osvm-mcp-}
        name=${name%.img}
        "$img" --describe >"$T/desc"
        check_json "$name --describe is its tools.json entry" "$T/desc" \
                "d == [t for t in __import__('json').load(open('$UK/osvm-mcp.tools.json')) if t['name'] == '$name'][0] and d['inputSchema']['additionalProperties'] is False"
done

# ---- in the engine: the same images, no fd 3 (every platform this host has) ----

plats=process
if "$VMCALL" --platform kvm --probe >/dev/null 2>&1; then
        plats="process kvm"
else
        skip "in a KVM VM" "KVM is not usable here (the process platform's leg runs)"
fi
for plat in $plats; do
        printf '%s\n' '{"name":"get_slot","arguments":{}}' >"$T/in"
        "$OSVM" uk run --platform "$plat" "$UK/osvm-mcp-get_slot.img" <"$T/in" >"$T/out" 2>"$T/err"
        RC=$?
        check_exit "$plat: in the engine without fd 3: exit 0" 0
        check_json "$plat: in the engine without fd 3: the host channel is missing" "$T/out" \
                "d['isError'] and d['content'][0]['text'].startswith('the host channel is missing')"
        printf '%s\n' '{"name":"get_balance","arguments":{"address":"0OIl"}}' >"$T/in"
        "$OSVM" uk run --platform "$plat" "$UK/osvm-mcp-get_balance.img" <"$T/in" >"$T/out" 2>"$T/err"
        check_json "$plat: in the engine: a bad address refused" "$T/out" \
                "d['isError'] and 'is not base58' in d['content'][0]['text']"
done

finish
