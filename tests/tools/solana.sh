#!/usr/bin/env bash
# The osvm-mcp pack end to end against a real SVM (litesvm behind a local
# JSON-RPC endpoint, tests/svm/rpc_server.mjs): `osvm mcp call osvm-mcp ...`
# with the built-in server, in a VM per call and as host processes, egress
# only through the host, the credential added there, and the failures.
# tests/run.sh: also with OSVM_NO_KVM=1 where KVM is usable (the direct leg alone).
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../svm/lib.bash
. "$ROOT/tests/svm/lib.bash"

IMAGES=$ROOT/build/unikernels
if [ ! -f "$IMAGES/osvm-mcp.tools.json" ]; then
        fail "the osvm-mcp images are built (make tools)"
        finish
        exit
fi
if ! svm_start; then
        skip "osvm-mcp against a local SVM" "$SVM_WHY"
        finish
        exit
fi
trap 'svm_stop; chmod -R u+rwX "$TMPROOT" 2>/dev/null; rm -rf "$TMPROOT"' EXIT

export OSVM_BUILTIN_IMAGES=$IMAGES OSVM_SOLANA_RPC=$SVM_URL OSVM_SOLANA_RPC_KEY=rpc-secret-7f3a
# Where the engine runs here: one of the pack's images (static, unlike
# /bin/true, which the engine refuses whatever /dev/kvm says), no request,
# on the process platform (every host) and in a KVM VM.
PROC=1
"$OSVM" uk run --platform process "$IMAGES/osvm-mcp-get_slot.img" </dev/null >/dev/null 2>&1 || PROC=0
KVM=1
"$OSVM" uk run --platform kvm "$IMAGES/osvm-mcp-get_slot.img" </dev/null >/dev/null 2>&1 || KVM=0
[ $PROC = 1 ] || fail "the process platform runs here (osvm uk run --platform process)"

# A funded account and a transfer to look at.
svm_rpc osvmTestKeypair '[{"lamports": 2500000000}]'
ADDR=$(svm_get 'r["address"]')
SECRET=$(svm_get 'r["secretKey"]')
svm_rpc osvmTestKeypair '[]'
TO=$(svm_get 'r["address"]')
svm_rpc osvmTestKeypair '[{"lamports": 2500000000}]'
RICH=$(svm_get 'r["address"]') # only read: its balance stays 2.5 SOL
svm_rpc osvmTestTransfer "[{\"from_secret\": \"$SECRET\", \"to\": \"$TO\", \"lamports\": 1000000}]"
SIG=$(svm_get 'r["signature"]')
check_match "the SVM funded an account and made a transfer" '^[1-9A-HJ-NP-Za-km-z]{80,90}$' "$SIG"

# Runs `osvm mcp call osvm-mcp TOOL ARGS... --json`; sets RESULT (the first text) and MODE.
call() {
        osvm mcp call osvm-mcp "$@" --json
        printf '%s' "$OUT" >"$T/call.json"
        RESULT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["result"]["content"][0]["text"])' "$T/call.json" 2>/dev/null)
        MODE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mode"])' "$T/call.json" 2>/dev/null)
}

for where in process kvm direct; do
        fresh
        if [ $where = direct ]; then
                osvm isolation set osvm-mcp default_execution_mode=direct >/dev/null
                osvm isolation set default_execution_mode=direct
                for t in get_balance get_transaction get_account_info get_signatures_for_address get_slot get_latest_blockhash; do
                        osvm isolation set osvm-mcp/$t execution_mode=direct
                done
                want=direct
        elif [ $where = kvm ]; then
                [ $KVM = 1 ] || { skip "osvm-mcp in KVM VMs" "/dev/kvm is not usable"; continue; }
                osvm isolation set platform=kvm >/dev/null
                want=unikernel
        else
                [ $PROC = 1 ] || continue
                osvm isolation set platform=process >/dev/null
                want=unikernel
        fi

        call get_balance address="$RICH"
        check_exit "[$where] get_balance exits 0" 0
        check_eq "[$where] get_balance runs $want" "$want" "$MODE"
        [ $where = direct ] ||
                check_json "[$where] on the $where platform" "$T/call.json" 'd["platform"] == "'$where'"'
        check_contains "[$where] get_balance reads the balance" "2500000000 lamports (2.5 SOL)" "$RESULT"
        check_json "[$where] get_balance gives structured lamports" "$T/call.json" \
                'd["result"]["structuredContent"]["lamports"] == 2500000000'

        call get_transaction signature="$SIG"
        check_exit "[$where] get_transaction exits 0" 0
        check_json "[$where] get_transaction shows the fee and the balances" "$T/call.json" \
                '"5000" in json.dumps(d["result"]) and "'"$TO"'" in json.dumps(d["result"])'

        call get_account_info address="$RICH"
        check_contains "[$where] get_account_info reads the account" "2500000000" "$(cat "$T/call.json")"

        call get_signatures_for_address address="$TO"
        check_contains "[$where] get_signatures_for_address lists the transfer" "$SIG" "$(cat "$T/call.json")"

        call get_slot
        check_exit "[$where] get_slot exits 0" 0
        call get_latest_blockhash
        check_json "[$where] get_latest_blockhash has a blockhash" "$T/call.json" \
                '"blockhash" in json.dumps(d["result"]["structuredContent"])'

        # The failures.
        osvm mcp call osvm-mcp get_balance address=not-base58-0OIl
        check_exit "[$where] an invalid address is a tool error" 5
        check_contains "[$where] naming it" "base58" "$ERR"

        OSVM_SOLANA_RPC=http://127.0.0.1:$(free_port)/ osvm mcp call osvm-mcp get_slot
        check_exit "[$where] an endpoint that is down is a tool error" 5
        check_contains "[$where] saying it cannot be reached" "cannot reach" "$ERR"

        svm_mode garbage
        osvm mcp call osvm-mcp get_slot
        check_exit "[$where] a garbage answer is a tool error" 5
        check_contains "[$where] saying it is not JSON" "JSON" "$ERR"
        svm_mode ok

        # the answer would come in a minute: only the timeout ends the call sooner
        osvm isolation set osvm-mcp timeout_ms=1500 >/dev/null
        svm_mode slow:60000
        osvm mcp call osvm-mcp get_slot
        svm_mode ok
        check_exit "[$where] a slow answer past the timeout is a tool error" 5
        # (osvm's limit stops the tool, or the host call ends within what is left of it)
        check_match "[$where] it stops at the timeout" "(time limit|timed out after 1500 ms|within 1?[0-9]{1,3} ms)" "$ERR"
        osvm isolation set osvm-mcp timeout_ms= >/dev/null

        osvm isolation set osvm-mcp network.allow=api.mainnet-beta.solana.com:443 >/dev/null
        osvm mcp call osvm-mcp get_slot
        check_exit "[$where] a host outside the allow-list is a tool error" 5
        check_contains "[$where] refused in words" "not in osvm-mcp/get_slot's network.allow" "$ERR"
        osvm isolation set osvm-mcp network.allow= >/dev/null
done

# The credential: added by the host for the RPC endpoint, never seen by a tool.
svm_requests >"$T/requests.json"
check_json "every RPC request carried the host's credential" "$T/requests.json" \
        'all(r["headers"].get("authorization") == "Bearer rpc-secret-7f3a" for r in d if not r["method"].startswith("osvm"))'
fresh
call get_balance address="$RICH"
check_not_contains "the tool's output holds no credential" "rpc-secret" "$(cat "$T/call.json")"

# The original design's criteria: no image -> the five lines and 0uK*; with the
# image -> a VM, counted, the same result.
fresh
osvm isolation set use_builtin_images=false >/dev/null
OSVM_LOG=info osvm mcp call osvm-mcp get_balance address="$RICH" --json
printf '%s' "$OUT" >"$T/noimg.json"
check_exit "with no image the call still runs" 0
check_contains "the five lines, in order" "INFO: Checking isolation config for osvm-mcp/get_balance
INFO: Tool configured for Unikernel execution mode
INFO: Attempting to spawn unikernel with image: /var/osvm/unikernels/osvm-mcp-get_balance.img
WARN: Unikernel image not found: /var/osvm/unikernels/osvm-mcp-get_balance.img
WARN: Falling back to direct MCP execution" "$(grep -E '^(INFO|WARN): (Checking|Tool conf|Attempting|Unikernel image not|Falling)' "$T/err")"
check_json "and the status line shows 0uK*" "$T/noimg.json" '" 0uK* " in d["status"]'
for plat in process kvm; do
        [ $plat = kvm ] && [ $KVM = 0 ] && continue
        [ $plat = process ] && [ $PROC = 0 ] && continue
        osvm isolation set use_builtin_images=true platform=$plat >/dev/null
        osvm mcp call osvm-mcp get_balance address="$RICH" --json
        printf '%s' "$OUT" >"$T/img.json"
        if [ $plat = kvm ]; then
                check_json "with the image the call runs in a VM, counted" "$T/img.json" \
                        'd["mode"] == "unikernel" and " 1uK " in d["status"]'
        else
                check_json "with the image the call runs in a trapped process, counted, not as a VM" \
                        "$T/img.json" 'd["mode"] == "unikernel" and " 0uK 0μPs 1uKp" in d["status"]'
        fi
        check_json "[$plat] and the result is identical" "$T/img.json" \
                'd["result"] == json.load(open("'"$T/noimg.json"'"))["result"]'
done

# The agent uses the pack: the offline planner picks get_balance from the address.
fresh
osvm -p "what is the balance of $RICH" --json
printf '%s' "$OUT" >"$T/agent.json"
check_json "the agent answers with get_balance" "$T/agent.json" \
        'd["rounds"][0]["calls"][0]["tool"] == "get_balance" and "2.5 SOL" in d["answer"]'
# what the call reached out to, as its audit record has it: the RPC endpoint,
# its URL cut to scheme, host and port (the key rides in no URL)
check_json "the trace holds the call's egress: the RPC endpoint, allowed" "$T/agent.json" \
        '[(e["url"], e["method"], e["allowed"]) for e in d["rounds"][0]["calls"][0]["egress"]] == [("'"${SVM_URL%/}"'/", "POST", True)]'
osvm audit tail -n 1 --json
check_json "the same as its audit record's" "$T/out" \
        'd["egress"] == json.load(open("'"$T/agent.json"'"))["rounds"][0]["calls"][0]["egress"]'

finish
