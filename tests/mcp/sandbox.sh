#!/usr/bin/env bash
# The MCP server sandbox: a hostile server of ours (sandbox_server.py) tries
# to get out, in each tier (full, reduced, none), and the real servers from
# npm run confined (server-filesystem, server-memory, server-everything).
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3
EVIL=$ROOT/tests/mcp/sandbox_server.py
if [ ! -x "$PY" ]; then
        skip "the MCP server sandbox" "no $PY"
        finish
        exit
fi

free_port() {
        "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# A listener on the host's loopback (HTTP), and one on a unix socket.
WEB=$TMPROOT/web
mkdir -p "$WEB"
printf 'hello-from-host' >"$WEB/index.html"
HTTP_PORT=$(free_port)
(cd "$WEB" && exec "$PY" -m http.server --bind 127.0.0.1 "$HTTP_PORT" >"$TMPROOT/http.log" 2>&1) &
HTTP_PID=$!
SOCK=$TMPROOT/host.sock
"$PY" -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(); time.sleep(3600)' "$SOCK" &
UNIX_PID=$!
trap 'kill $HTTP_PID $UNIX_PID 2>/dev/null; chmod -R u+rwX "$TMPROOT" 2>/dev/null; rm -rf "$TMPROOT"' EXIT
# (up to 60 s: a bound that only guards against a hang, on a loaded machine)
for _ in $(seq 600); do
        (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null && [ -S "$SOCK" ] && break
        sleep 0.1
done

export OSVM_TEST_SECRET=hunter2-sandbox-marker

# The attacks, each refused; the next call works. $1 names the tier.
hostile_suite() {
        local tier=$1
        fresh
        mkdir -p "$HOME/.ssh"
        printf 'KEYDATA' >"$HOME/.ssh/id_test"
        osvm mcp add evil --allow-net "127.0.0.1:$HTTP_PORT" --memory 128 -- "$PY" "$EVIL"
        check_exit "$tier: add the hostile server, sandboxed" 0
        check_contains "$tier: add says it is sandboxed" "sandboxed" "$OUT"
        osvm isolation set evil microvm_config.max_processes=32
        check_exit "$tier: set a server-level limit" 0

        osvm mcp list
        check_contains "$tier: mcp list shows the tier" "evil                 stdio $tier" "$OUT"
        check_contains "$tier: and the allow-list" "network: 127.0.0.1:$HTTP_PORT" "$OUT"
        osvm status
        check_contains "$tier: the status line counts it" "1sbx" "$OUT"
        check_contains "$tier: and names its tier" "evil($tier:cfg)" "$OUT"

        try() { # name attack arg expected
                osvm mcp call evil try attack="$2" arg="$3"
                TRY_ERR=$ERR
                check_contains "$tier: $1" "$4" "$OUT"
                check_not_contains "$tier: $1: no breach" "BREACH" "$OUT"
                osvm mcp call evil echo text=still-here
                check_contains "$tier: $1: the next call works" "still-here" "$OUT"
        }
        try "a key file in the user's home is out of reach" read "$HOME/.ssh/id_test" "REFUSED"
        try "the user's environment is not there" environ "$OSVM_TEST_SECRET" "REFUSED"
        try "writing outside fails" write "$T/outside" "REFUSED"
        check_eq "$tier: and nothing was written" "absent" "$([ -e "$T/outside" ] && echo there || echo absent)"
        try "a straight connection to a host listener fails" tcp "127.0.0.1:$HTTP_PORT" "REFUSED"
        try "a host off the allow-list is refused by the proxy" connect "example.com:443" "403"
        check_contains "$tier: the refusal says how to allow it" \
                "osvm isolation set evil network.allow=example.com:443" "$TRY_ERR"
        # what the server asked for, in the call's audit record
        osvm mcp call evil try attack=connect arg=example.com:443
        osvm audit tail -n 1 --json
        check_json "$tier: a destination refused is in the call's audit record, with why" "$T/out" \
                'd["tool"] == "try" and [(e["host"], e["port"], e["method"], e["allowed"]) for e in d["egress"]] == [("example.com", 443, "CONNECT", False)] and "allow-list" in d["egress"][0]["why"]'
        osvm audit tail -n 1
        check_contains "$tier: and tail shows it, and where it ran" "evil/try  direct:$tier  ok" "$OUT"
        check_contains "$tier: (the destination, refused)" "egress: example.com:443 refused" "$OUT"
        osvm mcp call evil try attack=connect arg=example.com:443 --json
        printf '%s' "$OUT" >"$T/call.json"
        check_json "$tier: call --json holds the same egress, and the tier" "$T/call.json" \
                '[(e["host"], e["port"], e["allowed"]) for e in d["egress"]] == [("example.com", 443, False)] and d["tier"] == "'"$tier"'"'
        # the agent's line for a call says what it was kept from reaching
        osvm -p "fetch https://example.com/"
        check_contains "$tier: the agent's done line names the refused destination" \
                "[sandbox] (" "$ERR"
        check_contains "$tier: (egress: example.com:443 refused)" "egress: example.com:443 refused)" \
                "$ERR"
        osvm mcp call evil echo text=x
        osvm audit tail -n 1 --json
        check_json "$tier: a call that reaches nothing: its egress is seen, and empty" "$T/out" \
                'd["tool"] == "echo" and d["egress"] == []'
        try "a name for the host itself is refused" connect "localhost:$HTTP_PORT" "REFUSED"
        try "a relayed CONNECT is refused" relay "127.0.0.1:$HTTP_PORT" "REFUSED"
        try "SOCKS5 to a host off the list is refused" socks "example.com:80" "SOCKS5 reply 2"
        try "UDP is refused" udp "127.0.0.1:53" "REFUSED"
        try "DNS in the sandbox does not work" dns "example.com" "REFUSED"
        try "a unix socket to a host listener is refused" unix "$SOCK" "REFUSED"
        try "ptrace is refused" ptrace "" "REFUSED: ptrace"
        try "a fork bomb hits the process limit" forkbomb 5000 "REFUSED: fork failed"
        # the memory hog: refused (MemoryError) or the server killed; osvm survives either way
        osvm mcp call evil try attack=memory arg=1024
        check_not_contains "$tier: a memory hog does not get 1 GiB" "BREACH" "$OUT"
        osvm mcp call evil echo text=after-the-hog
        check_contains "$tier: a memory hog: the next call works" "after-the-hog" "$OUT"

        # what it may do: the allowed host, through the proxy (HTTP and SOCKS5)
        osvm mcp call evil fetch url="http://127.0.0.1:$HTTP_PORT/index.html"
        check_contains "$tier: the allowed host is reached through osvm" "STATUS 200 hello-from-host" "$OUT"
        osvm audit tail -n 1 --json
        check_json "$tier: and the call's audit record says so" "$T/out" \
                "d['tool'] == 'fetch' and d['egress'] == [{'host': '127.0.0.1', 'port': $HTTP_PORT, 'method': 'HTTP', 'allowed': True}]"
        OSVM_LOG=info osvm mcp call evil try attack=socks arg="127.0.0.1:$HTTP_PORT"
        check_contains "$tier: SOCKS5 to the allowed host works" "SOCKS5 tunnel" "$OUT"
        check_contains "$tier: the attempt is logged with server, host, port and bytes" \
                "evil: network: SOCKS5 to 127.0.0.1:$HTTP_PORT allowed" "$ERR"
}

hostile_suite sandbox
OSVM_SANDBOX_NO_USERNS=1 hostile_suite reduced

# A server whose script sits in a folder too broad to show it (the home, a
# folder holding osvm's own files, ~/node_modules): the narrowest part that
# still runs is bound, not the folder, and the rest stays out of reach.
package_views() {
        local tier=$1
        fresh
        export XDG_STATE_HOME=$HOME/.local/state # the default layout
        mkdir -p "$HOME/node_modules/pkg" "$HOME/.local/bin" "$HOME/.local/share" "$T/srv"
        printf 'KEYRING' >"$HOME/.local/share/keyring.txt"
        cp "$(realpath "$PY")" "$HOME/.local/bin/python3"
        cp "$EVIL" "$T/srv/server.py"
        osvm mcp add s-local -- "$HOME/.local/bin/python3" "$T/srv/server.py"
        check_exit "$tier: a server whose command is in ~/.local/bin is added" 0
        check_not_contains "$tier: its script's own folder is not too broad" "shows it only" "$OUT"
        printf 'PRIVATE' >"$HOME/private.txt"
        printf 'BESIDE' >"$HOME/node_modules/pkg/beside.txt"
        cp "$EVIL" "$HOME/server.py"
        cp "$EVIL" "$T/server.py"
        cp "$EVIL" "$HOME/node_modules/pkg/server.py"
        local where
        for where in home:"$HOME/server.py" above:"$T/server.py" nm:"$HOME/node_modules/pkg/server.py"; do
                osvm mcp add "s-${where%%:*}" -- "$PY" "${where#*:}"
                check_exit "$tier: a server at ${where#*:} is added" 0
                check_contains "$tier: and add says what its sandbox shows of it" \
                        "s-${where%%:*}: its sandbox shows it only " "$OUT"
        done
        view() { # server name path expected
                osvm mcp call "$1" try attack=read arg="$3"
                check_contains "$tier: $1: $2" "$4" "$OUT"
        }
        view s-home "its script in the home: the home's other files are out of reach" \
                "$HOME/private.txt" "REFUSED"
        view s-home "and it runs (its own file is there)" "$HOME/server.py" "BREACH: read"
        view s-above "its script above osvm's files: the registry is out of reach" \
                "$OSVM_HOME/mcp_servers.json" "REFUSED"
        view s-above "and the home too" "$HOME/private.txt" "REFUSED"
        view s-nm "its script in ~/node_modules: the home's files are out of reach" \
                "$HOME/private.txt" "REFUSED"
        view s-nm "and its package is there" "$HOME/node_modules/pkg/beside.txt" "BREACH: read"
        view s-local "its command in ~/.local/bin: the rest of ~/.local is out of reach" \
                "$HOME/.local/share/keyring.txt" "REFUSED"
        view s-local "and it runs from there" "$T/srv/server.py" "BREACH: read"

        # a mount of a folder that holds osvm's own files: they are hidden
        osvm mcp add s-mount --mount "$T" -- "$PY" "$T/srv/server.py"
        check_exit "$tier: a server with a mount of the folder above the home is added" 0
        view s-mount "the mount is seen" "$HOME/private.txt" "BREACH: read"
        osvm doctor
        check_contains "$tier: doctor names the server whose mount holds osvm's files" \
                "s-mount ($T)" "$OUT"
        check_contains "$tier: and says its sandbox keeps them from it" \
                "which the servers' sandbox keeps from them" "$OUT"
        view s-mount "but not osvm's registry under it" "$OSVM_HOME/mcp_servers.json" "REFUSED"
        view s-mount "nor its audit log" "$XDG_STATE_HOME/osvm/audit.jsonl" "REFUSED"
        view s-mount "while the rest of the folders on the way is" "$HOME/.local/share/keyring.txt" \
                "BREACH: read"
        view_write() { # name path
                osvm mcp call s-mount try attack=write arg="$2"
                check_contains "$tier: s-mount: $1" "REFUSED" "$OUT"
        }
        osvm mcp add s-own --mount "$OSVM_HOME" -- "$PY" "$T/srv/server.py"
        view s-own "a mount of osvm's own folder itself shows nothing of it" \
                "$OSVM_HOME/mcp_servers.json" "REFUSED"
        view_write "the read-only mount is not written, on the way down" "$T/planted"
        view_write "nor below it" "$HOME/.local/share/planted"
        check_eq "$tier: s-mount: and nothing was planted" "no" \
                "$([ -e "$T/planted" ] || [ -e "$HOME/.local/share/planted" ] && echo yes || echo no)"
}
package_views sandbox
OSVM_SANDBOX_NO_USERNS=1 package_views reduced

# ---- with neither user namespaces nor Landlock: the fallback decides, loudly ----
fresh
osvm mcp add evil -- "$PY" "$EVIL"
OSVM_SANDBOX_NO_USERNS=1 OSVM_SANDBOX_NO_LANDLOCK=1 osvm mcp list
check_contains "no sandbox possible: mcp list says so" "NO SANDBOX here" "$OUT"
OSVM_SANDBOX_NO_USERNS=1 OSVM_SANDBOX_NO_LANDLOCK=1 osvm mcp call evil echo text=hi
check_exit "no sandbox possible, fallback direct: the call runs" 0
check_contains "and osvm says loudly that it is unconfined" "NO SANDBOX" "$ERR"
osvm audit tail -n 1 --json
check_json "and its audit record says it ran on the host" "$T/out" \
        'd["route"] == "direct" and d["tier"] == "host" and d["egress"] is None'
OSVM_SANDBOX_NO_USERNS=1 OSVM_SANDBOX_NO_LANDLOCK=1 osvm isolation explain evil/echo
check_not_contains "explain does not say it runs in its sandbox" "runs in its sandbox" "$OUT"
check_contains "but that it cannot have one, and why" \
        "nor is the server's sandbox: none can be made here: no user namespaces" "$OUT"
osvm isolation set evil fallback=deny
OSVM_SANDBOX_NO_USERNS=1 OSVM_SANDBOX_NO_LANDLOCK=1 osvm mcp call evil echo text=hi
check_exit "no sandbox possible, fallback deny: refused" 4
check_contains "saying why" "none can be made here" "$ERR"

# ---- --no-sandbox: on the host, its calls straight to it ----
fresh
osvm mcp add plain --no-sandbox -- "$PY" "$EVIL"
check_contains "--no-sandbox says so" "no sandbox" "$OUT"
check_json "--no-sandbox: the config says so, and that its calls go direct" \
        "$OSVM_HOME/isolation_config.json" \
        'd["mcp_servers"]["plain"] == {"sandbox": False, "execution_mode": "direct"}'
osvm mcp call plain try attack=environ arg="$OSVM_TEST_SECRET"
check_contains "a server without a sandbox has the user's environment (as before)" "BREACH" "$OUT"
check_not_contains "and no image of its tools is tried" "Unikernel image not found" "$ERR"

# ---- remove takes the server's policy with it; add starts from its flags alone ----
osvm mcp add gone --allow-net api.example.com --secret TOKEN=tok@api.example.com -- "$PY" "$EVIL"
osvm isolation set gone/echo execution_mode=direct
osvm mcp remove gone
check_contains "remove says the policy went too" "removed gone and its isolation policy" "$OUT"
check_json "and the config no longer names it" "$OSVM_HOME/isolation_config.json" \
        '"gone" not in d["mcp_servers"] and "osvm-mcp" in d["mcp_servers"]'
osvm isolation set gone secrets='["TOKEN=tok@api.example.com"]' network.allow=api.example.com
osvm mcp add gone -- "$PY" "$EVIL"
check_contains "a policy already there under the name is replaced, saying so" \
        "gone: the entry isolation_config.json already had for gone is replaced" "$OUT"
check_json "by what add's flags say: no secret, no host of an earlier one" \
        "$OSVM_HOME/isolation_config.json" \
        'd["mcp_servers"]["gone"] == {"sandbox": True, "execution_mode": "microvm", "microvm_mounts": [], "network": {"allow": []}}'
# a server reached by URL runs elsewhere: a policy left under its name (a
# sandbox that cannot hold it, secrets) goes, saying so; add and import alike
osvm isolation set web2 sandbox=true fallback=deny secrets='["TOKEN=tok@api.example.com"]' \
        network.allow=api.example.com
osvm mcp add web2 --url http://127.0.0.1:9/mcp
check_contains "a URL server: a policy left under its name is removed, saying so" \
        "web2: the entry isolation_config.json already had for web2 is removed" "$OUT"
check_json "and the config no longer names it" "$OSVM_HOME/isolation_config.json" \
        '"web2" not in d["mcp_servers"] and "gone" in d["mcp_servers"]'
osvm isolation set web3 sandbox=true
printf '{"mcpServers": {"web3": {"url": "http://127.0.0.1:9/mcp"}}}' >"$T/web3.json"
osvm mcp import "$T/web3.json"
check_contains "import too" "web3: the entry isolation_config.json already had for web3 is removed" "$OUT"
check_json "(the config no longer names it)" "$OSVM_HOME/isolation_config.json" \
        '"web3" not in d["mcp_servers"]'
osvm mcp add gone --no-sandbox -- "$PY" "$EVIL"
check_failed "adding a registered name again fails"
check_json "and leaves its policy as it was" "$OSVM_HOME/isolation_config.json" \
        'd["mcp_servers"]["gone"]["sandbox"] is True'
osvm mcp remove osvm-mcp
check_failed "the built-in pack is not removed"
check_json "nor its policy" "$OSVM_HOME/isolation_config.json" '"osvm-mcp" in d["mcp_servers"]'

# ---- old files load unchanged: a server the isolation config does not name runs on the host ----
osvm isolation set plain sandbox= execution_mode=
osvm mcp call plain try attack=environ arg="$OSVM_TEST_SECRET"
check_contains "a server the config does not name has the user's environment (as before)" \
        "BREACH" "$OUT"
check_contains "after the original design's fallback" "Falling back to direct MCP execution" "$ERR"

# ---- import: the same flags, for every server it adds ----
fresh
mkdir -p "$T/d"
printf '{"mcpServers": {"a": {"command": "%s", "args": ["%s"]}, "u": {"url": "http://127.0.0.1:9/mcp"}}}' \
        "$PY" "$EVIL" >"$T/servers.json"
osvm mcp import --mount "$T/d:/d:rw" --allow-net example.com --memory 256 "$T/servers.json"
check_contains "import: the servers are sandboxed" "imported 2 servers" "$OUT"
osvm mcp list
check_contains "import: the stdio one with its mount, allow-list and memory" \
        "mounts: $T/d at /d (rw); network: example.com (through osvm's proxy); limits: 256 MiB" "$OUT"
check_contains "import: the HTTP one is remote" "u                    http  remote" "$OUT"
osvm mcp call a try attack=write arg=/d/inside
check_contains "import: its writable mount takes a write" "BREACH: wrote /d/inside" "$OUT"
check_eq "import: on the host, where the mount says" "pwned" "$(cat "$T/d/inside" 2>/dev/null)"
osvm mcp import --mount /nonexistent "$T/servers.json"
check_exit "import: a mount that is not there is a usage error" 2

# ---- the original fields ask for it too: use_microvm, a tool in microvm mode ----
fresh
osvm mcp add old --no-sandbox -- "$PY" "$EVIL"
osvm isolation set old sandbox= execution_mode= use_microvm=true
osvm mcp call old echo text=hi
check_contains "use_microvm: true runs the server confined" "hi" "$OUT"
check_contains "and says once that no microVM engine is here" \
        "old: MicroVM engine not available; running server in sandbox" "$ERR"
check_eq "once" 1 "$(grep -c "MicroVM engine not available" "$T/err")"
osvm isolation set old use_microvm=false
osvm isolation set old/echo execution_mode=microvm
osvm isolation explain old/echo
check_contains "a tool in microvm mode: explain says the server runs in its sandbox" \
        "MicroVM engine not available; running server in sandbox" "$OUT"
check_contains "and what the sandbox holds" "SANDBOX: sandbox; mounts: none; network: none" "$OUT"
osvm isolation set old sandbox=false
osvm mcp call old try attack=environ arg="$OSVM_TEST_SECRET"
check_contains "\"sandbox\": false says no, whatever the rest says" "BREACH" "$OUT"

# ---- npx: the first start fetches the package in a step of its own ----
# (it reaches the npm registry: only with OSVM_TEST_REGISTRY=1)
if [ "${OSVM_TEST_REGISTRY:-}" = 1 ] && command -v npx >/dev/null; then
        fresh
        osvm mcp add mem -- npx -y @modelcontextprotocol/server-memory@2026.8.31
        osvm mcp call mem read_graph
        check_contains "npx: the first start says it fetches, and from where" \
                "first start: fetching @modelcontextprotocol/server-memory@2026.8.31 from the npm registry" "$ERR"
        check_contains "npx: then the server runs, with no network of its own" '"entities"' "$OUT"
        osvm mcp call mem read_graph
        check_not_contains "npx: the next start needs no fetch" "first start" "$ERR"
        check_contains "npx: and runs offline" '"entities"' "$OUT"
else
        skip "npx: the first start's fetch step" "set OSVM_TEST_REGISTRY=1 to reach the npm registry"
fi

# ---- uvx: the same first step, PyPI its only egress ----
# uv is not a Debian package and PyPI is out of reach here: a stand-in
# (tests/mcp/uvx_standin.py) reads what uvx reads and asks the proxy for what
# uv would fetch; what is checked is osvm's part.
fresh
UVP=$T/uvprefix
mkdir -p "$UVP/bin" "$UVP/index"
cp "$ROOT/tests/mcp/uvx_standin.py" "$UVP/bin/uvx"
chmod 755 "$UVP/bin/uvx"
cp "$EVIL" "$UVP/index/evilpkg.py"
osvm mcp add py --env "PROBE=pypi.org:443,files.pythonhosted.org:443,127.0.0.1:$HTTP_PORT" \
        -- "$UVP/bin/uvx" --python 3 evilpkg@1.0
osvm mcp call py try attack=connect arg=pypi.org:443
check_contains "uvx: the first start says it fetches, and from where" \
        "first start: fetching evilpkg@1.0 from PyPI (this step's only egress: pypi.org:443, files.pythonhosted.org:443;" "$ERR"
check_contains "uvx: the step makes the tool's environment and runs nothing of it, with the host's Python" \
        "uvx stand-in: fetch evilpkg; command python -c pass; python downloads never" "$ERR"
check_contains "uvx: the step may reach pypi.org" "proxy for pypi.org:443: HTTP/1.1" "$ERR"
check_not_contains "uvx: (not refused there)" "proxy for pypi.org:443: HTTP/1.1 403" "$ERR"
check_contains "uvx: and files.pythonhosted.org" "proxy for files.pythonhosted.org:443: HTTP/1.1" "$ERR"
check_not_contains "uvx: (not refused there either)" "proxy for files.pythonhosted.org:443: HTTP/1.1 403" "$ERR"
check_contains "uvx: but nothing else" "proxy for 127.0.0.1:$HTTP_PORT: HTTP/1.1 403" "$ERR"
check_contains "uvx: then the server runs from the cache, with no network of its own" \
        "REFUSED: HTTP/1.1 403" "$OUT"
osvm mcp call py echo text=from-the-cache
check_not_contains "uvx: the next start needs no fetch" "first start" "$ERR"
check_contains "uvx: and runs offline from the cache" "from-the-cache" "$OUT"
rm -f "$XDG_STATE_HOME"/osvm/sandbox/py/uv/evilpkg.py
osvm mcp call py echo text=x
check_failed "uvx: the server's start is offline: a package not in the cache is not fetched then"
# Ctrl-C ends the fetch step (here one that would take 10 minutes) and osvm at once
osvm mcp add slow --env STANDIN_SLOW=600 -- "$UVP/bin/uvx" evilpkg
"$OSVM" mcp call slow echo text=x >"$T/out" 2>"$T/err" </dev/null &
pid=$!
for _ in $(seq 600); do # (60 s: a bound that only guards a hang)
        grep -q "uvx stand-in: fetch" "$T/err" && break
        sleep 0.1
done
kill -INT $pid
for _ in $(seq 600); do # (60 s, the same)
        kill -0 $pid 2>/dev/null || break
        sleep 0.1
done
if kill -0 $pid 2>/dev/null; then
        fail "uvx: Ctrl-C ends the fetch step" "osvm still runs 60 s after SIGINT"
        kill -9 $pid
fi
wait $pid
RC=$?
check_exit "uvx: Ctrl-C during the fetch step ends osvm as cancelled" 130
check_contains "uvx: and says what it cancelled" "first start: fetching evilpkg was cancelled" "$(cat "$T/err")"
# (this run's stand-in alone: its path is under this run's own $T)
check_eq "uvx: no fetch step is left running" "" "$(pgrep -f "$UVP/bin/uvx" || true)"

# ---- the real servers from npm, confined ----
PEERS=$("$ROOT/tests/peers/install.sh" 2>/dev/null) || PEERS=""
MCP=$PEERS/node_modules/@modelcontextprotocol
if [ -z "$PEERS" ] || ! command -v node >/dev/null || [ ! -f "$MCP/server-memory/dist/index.js" ]; then
        skip "the npm servers in the sandbox" "node or the npm test peers are missing"
        finish
        exit
fi

fresh
mkdir -p "$T/files" "$T/secret"
printf 'inside the mount' >"$T/files/hello.txt"
printf 'KEYDATA' >"$T/secret/key"
osvm mcp add fs --mount "$T/files:/data" -- node "$MCP/server-filesystem/dist/index.js" /data
check_exit "server-filesystem: added with a mount" 0
osvm mcp call fs read_text_file path=/data/hello.txt
check_contains "server-filesystem: a read inside the mount works" "inside the mount" "$OUT"
osvm mcp call fs list_directory path=/data
check_contains "server-filesystem: and a listing" "hello.txt" "$OUT"
osvm mcp call fs write_file path=/data/new.txt content=x
check_contains "server-filesystem: writing to a read-only mount fails" "read-only file system" "$OUT$ERR"
check_eq "server-filesystem: and nothing was written" "absent" "$([ -e "$T/files/new.txt" ] && echo there || echo absent)"
# the server's own check is widened to / so that only the sandbox stands in the way
osvm mcp remove fs
osvm mcp add fs --mount "$T/files:/data" -- node "$MCP/server-filesystem/dist/index.js" /
osvm mcp call fs read_text_file path="$T/secret/key"
check_not_contains "server-filesystem: a host file outside its mounts is not there" "KEYDATA" "$OUT"
check_contains "server-filesystem: (not there at all)" "ENOENT" "$OUT$ERR"
osvm mcp call fs read_text_file path=/data/hello.txt
check_contains "server-filesystem: its mount is still there" "inside the mount" "$OUT"

fresh
mkdir -p "$T/state"
osvm mcp add mem --env MEMORY_FILE_PATH=/state/memory.jsonl --mount "$T/state:/state:rw" \
        -- node "$MCP/server-memory/dist/index.js"
check_exit "server-memory: added with a writable mount" 0
osvm mcp call mem create_entities \
        '{"entities": [{"name": "osvm", "entityType": "project", "observations": ["sandboxed"]}]}'
check_exit "server-memory: an entity is made" 0
check_contains "server-memory: its memory file is in the writable mount" "osvm" "$(cat "$T/state/memory.jsonl" 2>/dev/null)"
osvm mcp call mem read_graph
check_contains "server-memory: the entity persists across restarts" "sandboxed" "$OUT"

fresh
osvm mcp add everything -- node "$MCP/server-everything/dist/index.js" stdio
osvm mcp tools everything
check_contains "server-everything: its tools, listed from the sandbox" "everything/get-sum" "$OUT"
osvm mcp call everything get-sum a=2 b=3
check_contains "server-everything: a call" "The sum of 2 and 3 is 5" "$OUT"
osvm mcp call everything echo message=confined
check_contains "server-everything: echo" "confined" "$OUT"
osvm mcp call everything trigger-long-running-operation duration=0.4 steps=2
check_contains "server-everything: progress comes through" "progress: 2/2" "$ERR"
osvm mcp call --timeout 500 everything trigger-long-running-operation duration=20 steps=20
check_failed "server-everything: a call past its time is cancelled"
osvm mcp call everything get-env
check_not_contains "server-everything: get-env does not see the user's environment" "$OSVM_TEST_SECRET" "$OUT"
check_contains "server-everything: it sees the proxy" "HTTP_PROXY" "$OUT"

finish
