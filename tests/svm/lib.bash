# The local SVM endpoint for shell tests: source it (after tests/lib.sh, or on
# its own), then
#   svm_start || { skip ...; finish; exit; }   starts tests/svm/rpc_server.mjs;
#                                  sets SVM_URL, SVM_PORT, SVM_PID; stops it on exit
#   svm_rpc METHOD [PARAMS-JSON]   POSTs a JSON-RPC request; the answer in SVM_OUT
#   svm_result METHOD [PARAMS]     the same, printing .result as JSON (empty on error)
#   svm_mode MODE                  ok | garbage | close | slow:<ms> | status:<code>
#   svm_requests                   prints the request log (a JSON array)
#   svm_requests_clear             forgets it
#   free_port                      a free port on 127.0.0.1 (nobody listens there after)
# See docs/testing.md.
# shellcheck shell=bash disable=SC2034

SVM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

free_port() {
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Installs the pinned npm packages if needed and starts the server on a free
# port. Fails (status 1, reason in SVM_WHY) when node or the packages are missing.
svm_start() {
        local peers
        SVM_WHY=""
        command -v node >/dev/null || { SVM_WHY="node is not installed"; return 1; }
        command -v curl >/dev/null || { SVM_WHY="curl is not installed"; return 1; }
        peers=$("$SVM_ROOT/tests/peers/install.sh" 2>/dev/null) || peers=""
        if [ -z "$peers" ] || [ ! -f "$peers/node_modules/litesvm/package.json" ]; then
                SVM_WHY="the npm package litesvm is missing (tests/peers/install.sh)"
                return 1
        fi
        SVM_PORT=$(free_port)
        SVM_LOG=$(mktemp "${TMPDIR:-/tmp}/svm.XXXXXX")
        node "$SVM_ROOT/tests/svm/rpc_server.mjs" --port "$SVM_PORT" >"$SVM_LOG" 2>&1 &
        SVM_PID=$!
        # Stopped on exit, before whatever the EXIT trap did already.
        SVM_PREV_TRAP=""
        local t
        t=$(trap -p EXIT) # trap -- 'COMMAND' EXIT
        [ -n "$t" ] && eval "_svm_prev $t"
        trap 'svm_stop; eval "$SVM_PREV_TRAP"' EXIT
        # (up to 120 s: a bound that only guards against a hang, on a loaded machine)
        for _ in $(seq 1200); do
                grep -q "^READY $SVM_PORT\$" "$SVM_LOG" && break
                kill -0 "$SVM_PID" 2>/dev/null || break
                sleep 0.1
        done
        if ! grep -q "^READY $SVM_PORT\$" "$SVM_LOG"; then
                SVM_WHY="the server did not start: $(head -c 600 "$SVM_LOG")"
                return 1
        fi
        SVM_URL=http://127.0.0.1:$SVM_PORT/
        export SVM_URL SVM_PORT SVM_PID
}

_svm_prev() { SVM_PREV_TRAP=$3; }

svm_stop() {
        [ -n "${SVM_PID:-}" ] && kill "$SVM_PID" 2>/dev/null && wait "$SVM_PID" 2>/dev/null
        [ -n "${SVM_LOG:-}" ] && rm -f "$SVM_LOG"
        SVM_PID=""
}

svm_rpc() { # METHOD [PARAMS-JSON]
        SVM_OUT=$(curl -s -m 10 -X POST "$SVM_URL" -H 'Content-Type: application/json' \
                -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":${2:-[]}}")
}

# A Python expression over r, the last answer's "result".
svm_get() { # EXPRESSION
        printf '%s' "$SVM_OUT" | python3 -c 'import json,sys; r=json.load(sys.stdin).get("result"); print(eval(sys.argv[1]))' "$1"
}

svm_result() { # METHOD [PARAMS-JSON]
        svm_rpc "$@"
        svm_get 'json.dumps(r)' 2>/dev/null
}

svm_mode() {
        curl -s -m 5 -X POST "${SVM_URL}__mode" -d "{\"mode\":\"$1\"}" >/dev/null
}

svm_requests() { curl -s -m 5 "${SVM_URL}__requests"; }
svm_requests_clear() { curl -s -m 5 -X DELETE "${SVM_URL}__requests" >/dev/null; }
