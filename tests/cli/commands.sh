#!/usr/bin/env bash
# Shell tests of the `osvm` command, TAP-like: one "ok N - name" or
# "not ok N - name" line per check, then "N passed, N failed".
#
# usage: OSVM_BIN=/path/to/osvm bash tests/cli/commands.sh
# (default: build/asan/osvm below the repository root)
#
# Every test runs in its own temporary OSVM_HOME, XDG_STATE_HOME and HOME,
# under LC_ALL=C.UTF-8 unless it says otherwise.
# tests/run.sh: also with OSVM_NO_KVM=1 where KVM is usable (the status line, explain).
set -u

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

IMG=/var/osvm/unikernels/osvm-mcp-get_balance.img

# ---- help, version and usage errors ----

fresh
osvm --help
check_exit "--help exits 0" 0
check_contains "--help lists the isolation command" "isolation" "$OUT"
check_contains "--help lists the status command" "status" "$OUT"
check_contains "--help names OSVM_LOG" "OSVM_LOG" "$OUT"

usage=$(printf '%s\n' "$OUT" | sed -n '/^usage:/,/^$/p')
check_match "--help: bare osvm is the chat" "^usage: osvm \[OPTIONS\] +the agent's chat$" "$usage"
check_match "--help: the usage lists -p" "^ +osvm \[OPTIONS\] -p PROMPT \[--json\] +the agent answers PROMPT" "$usage"

osvm -h
check_exit "-h exits 0" 0
check_contains "-h prints the usage" "usage: osvm" "$OUT"

osvm --version
check_exit "--version exits 0" 0
check_match "--version prints 'osvm X.Y.Z'" '^osvm [0-9]+\.[0-9]+\.[0-9]+$' "$OUT"

osvm -V
check_exit "-V exits 0" 0
check_match "-V prints the version" '^osvm [0-9]+\.[0-9]+\.[0-9]+$' "$OUT"

osvm help
check_exit "help exits 0" 0
check_contains "help prints the main usage" "usage: osvm" "$OUT"

osvm help isolation
check_exit "help isolation exits 0" 0
check_contains "help isolation shows the usage" "usage: osvm isolation show" "$OUT"
check_contains "help isolation describes explain" "explain" "$OUT"
check_contains "help isolation describes set" "isolation set" "$OUT"
check_contains "help isolation describes validate" "isolation validate" "$OUT"

osvm help status
check_exit "help status exits 0" 0
check_contains "help status shows the usage" "usage: osvm status" "$OUT"

osvm isolation --help
check_exit "isolation --help exits 0" 0
check_contains "isolation --help is the isolation help" "usage: osvm isolation show" "$OUT"

osvm help nosuch
check_exit "help nosuch exits 2" 2
check_contains "help nosuch names the command" "nosuch" "$ERR"
check_eq "help nosuch prints nothing on stdout" "" "$OUT"

osvm --bogus
check_exit "unknown option exits 2" 2
check_contains "unknown option is named" "--bogus" "$ERR"

osvm nosuch
check_exit "unknown command exits 2" 2
check_contains "unknown command is named" "nosuch" "$ERR"

osvm isolation
check_exit "isolation with no verb exits 2" 2
check_contains "isolation with no verb lists the verbs" "show, explain" "$ERR"

osvm isolation frobnicate
check_exit "isolation with an unknown verb exits 2" 2
check_contains "the unknown verb is named" "frobnicate" "$ERR"

osvm isolation explain osvm-mcp
check_exit "explain SERVER without a tool exits 2" 2

osvm status extra
check_exit "status with an extra argument exits 2" 2

check_eq "usage errors create no config" "no" "$([ -e "$CFG" ] && echo yes || echo no)"

# ---- the fresh-home trace of explain ----

fresh
if [ -e "$IMG" ]; then
        skip "fresh-home explain prints the five-line trace and what is not enforced" "$IMG exists on this machine"
        skip "fresh-home explain exits 0" "$IMG exists on this machine"
else
        osvm isolation explain osvm-mcp/get_balance
        check_exit "fresh-home explain exits 0" 0
        check_file_is "fresh-home explain prints the five-line trace and what is not enforced" \
                "INFO: Checking isolation config for osvm-mcp/get_balance
INFO: Tool configured for Unikernel execution mode
INFO: Attempting to spawn unikernel with image: $IMG
WARN: Unikernel image not found: $IMG
WARN: Falling back to direct MCP execution
INFO: Not enforced in direct mode: memory_mb (128 MiB), vcpus (1), network.allow (none), mounts (none): the call runs in the MCP server's own process, outside any VM; timeout_ms (30000 ms) holds
" "$T/out"
        check_eq "fresh-home explain writes nothing to stderr" "" "$ERR"

        osvm isolation explain --json osvm-mcp/get_balance
        check_exit "explain --json exits 0" 0
        check_json "explain --json: route direct after a fallback" "$T/out" \
                'd["route"] == "direct" and d["fell_back"] is True'
        check_json "explain --json: the reasons in order" "$T/out" \
                '[r["level"] for r in d["reasons"]] == ["info", "info", "info", "warn", "warn", "info"]'
        check_json "explain --json: the image in the policy" "$T/out" \
                'd["policy"]["image"] == "'"$IMG"'"'
        check_json "explain --json: direct enforces the timeout only" "$T/out" \
                'd["enforced"] == {"memory_mb": False, "vcpus": False, "timeout_ms": True, "network": False, "mounts": False}'
fi

osvm isolation explain osvm-mcp/no_such_tool
check_exit "explain of an unconfigured tool exits 0" 0
check_contains "explain says the tool has no entry" "Tool no_such_tool has no entry under server osvm-mcp" "$OUT"

# ---- the default file: created once, 0600, valid, never overwritten ----

fresh
check_eq "no config before the first run" "no" "$([ -e "$CFG" ] && echo yes || echo no)"
osvm status
check_exit "first run exits 0" 0
check_eq "first run creates isolation_config.json" "yes" "$([ -f "$CFG" ] && echo yes || echo no)"
check_eq "the default file has mode 0600" "600" "$(mode_of "$CFG")"
check_json "the default file is valid JSON with the osvm-mcp server" "$CFG" \
        '"osvm-mcp" in d["mcp_servers"]'
check_json "the default file: unikernel mode for every osvm-mcp tool" "$CFG" \
        'all(t["execution_mode"] == "unikernel" for t in d["mcp_servers"]["osvm-mcp"]["tools"].values())'
check_json "the default file: default_execution_mode and unikernel_dir" "$CFG" \
        'd["default_execution_mode"] == "unikernel" and d["unikernel_dir"] == "/var/osvm/unikernels"'
check_json "the default file has get_balance" "$CFG" \
        '"get_balance" in d["mcp_servers"]["osvm-mcp"]["tools"]'
leftovers=$(find "$OSVM_HOME" -name '*.tmp*' | wc -l)
check_eq "no temporary file is left beside the config" "0" "$leftovers"

before=$(sha "$CFG")
for cmd in "isolation show" "isolation show --json" "isolation show osvm-mcp" \
        "isolation show osvm-mcp/get_balance" "isolation show --json osvm-mcp/get_balance" \
        "isolation explain osvm-mcp/get_balance" "isolation explain --json osvm-mcp/get_balance" \
        "status" "status --json" "isolation validate" "isolation path" ""; do
        # shellcheck disable=SC2086
        osvm $cmd
        check_exit "osvm $cmd exits 0" 0
        check_same "osvm $cmd leaves the config's bytes unchanged" "$CFG" "$before"
done
check_eq "the config keeps mode 0600 after the read-only commands" "600" "$(mode_of "$CFG")"

# An existing hand-written file is never replaced, even a minimal one.
fresh
mkdir -p "$OSVM_HOME"
printf '{ "mcp_servers": {} }\n' >"$CFG"
chmod 644 "$CFG"
before=$(sha "$CFG")
osvm
check_exit "bare osvm on a minimal file exits 0" 0
check_same "an existing file is not overwritten" "$CFG" "$before"
check_eq "an existing file keeps its mode" "644" "$(mode_of "$CFG")"

# A file with errors is not rewritten either.
fresh
mkdir -p "$OSVM_HOME"
printf '{ "default_execution_mode": "direkt" }\n' >"$CFG"
before=$(sha "$CFG")
for cmd in "isolation show" "isolation explain osvm-mcp/get_balance" "status" "isolation validate" ""; do
        # shellcheck disable=SC2086
        osvm $cmd
        check_exit "osvm $cmd on an invalid config exits 3" 3
        check_same "osvm $cmd leaves an invalid config unchanged" "$CFG" "$before"
done

# ---- where the config lives ----

fresh
osvm isolation path
check_eq "isolation path under OSVM_HOME" "$OSVM_HOME/isolation_config.json" "$OUT"
(
        unset OSVM_HOME
        export XDG_CONFIG_HOME="$T/xdg"
        osvm isolation path
        check_eq "isolation path under XDG_CONFIG_HOME/osvm" "$T/xdg/osvm/isolation_config.json" "$OUT"
        export XDG_CONFIG_HOME=relative/dir
        osvm isolation path
        check_eq "a relative XDG_CONFIG_HOME is ignored" "$HOME/.config/osvm/isolation_config.json" "$OUT"
        unset XDG_CONFIG_HOME
        osvm status
        check_exit "status with only HOME exits 0" 0
        check_eq "the default file is created under ~/.config/osvm" "yes" \
                "$([ -f "$HOME/.config/osvm/isolation_config.json" ] && echo yes || echo no)"
        # Pass this subshell's counts back to the parent.
        echo "$n $passed $failed" >"$T/counts"
)
read -r n passed failed <"$T/counts"

# ---- fallback "deny" ----

fresh
osvm isolation set osvm-mcp/get_balance fallback=deny
check_exit "set fallback=deny on a tool exits 0" 0
check_json "the file holds the tool's fallback" "$CFG" \
        'd["mcp_servers"]["osvm-mcp"]["tools"]["get_balance"]["fallback"] == "deny"'
if [ -e "$IMG" ]; then
        skip "explain under a tool's deny exits 4" "$IMG exists on this machine"
else
        osvm isolation explain osvm-mcp/get_balance
        check_exit "explain under a tool's deny exits 4" 4
        last=$(printf '%s\n' "$OUT" | tail -n 1)
        check_match "the last line refuses the call" '^ERROR: Refusing to run osvm-mcp/get_balance' "$last"
        check_contains "the refusal says why" 'fallback policy is "deny"' "$last"
        check_not_contains "a denied call does not fall back" "Falling back" "$OUT"
        osvm isolation explain --json osvm-mcp/get_balance
        check_exit "explain --json under deny exits 4" 4
        check_json "explain --json under deny: route deny" "$T/out" 'd["route"] == "deny"'
fi
osvm isolation explain osvm-mcp/get_slot
check_exit "another tool still falls back (deny was set on one tool)" 0

fresh
mkdir -p "$OSVM_HOME"
cat >"$CFG" <<'EOF'
{
  "default_execution_mode": "unikernel",
  "fallback": "deny",
  "mcp_servers": {
    "osvm-mcp": {
      "microvm_id": "μVM-1",
      "tools": { "get_balance": { "execution_mode": "unikernel" } }
    }
  }
}
EOF
before=$(sha "$CFG")
if [ -e "$IMG" ]; then
        skip "explain under a top-level deny exits 4" "$IMG exists on this machine"
else
        osvm isolation explain osvm-mcp/get_balance
        check_exit "explain under a hand-written top-level deny exits 4" 4
        last=$(printf '%s\n' "$OUT" | tail -n 1)
        check_match "the last line refuses the call (top-level deny)" '^ERROR: Refusing to run' "$last"
fi
osvm isolation show --json osvm-mcp/get_balance
check_json "show: the deny comes from the config level" "$T/out" \
        'd["fallback"] == "deny" and d["sources"]["fallback"] == "config"'
check_same "explain does not touch a hand-written file" "$CFG" "$before"

fresh
osvm isolation set fallback=deny
check_exit "set fallback=deny at the top level exits 0" 0
check_json "the top level holds fallback deny" "$CFG" 'd["fallback"] == "deny"'
if [ ! -e /var/osvm/unikernels/osvm-mcp-get_slot.img ]; then
        osvm isolation explain osvm-mcp/get_slot
        check_exit "a top-level deny refuses every tool (exit 4)" 4
fi

# ---- "execution_mode": "direkt" ----

fresh
cat >"$T/direkt.json" <<'EOF'
{
  "mcp_servers": {
    "osvm-mcp": {
      "tools": { "get_balance": { "execution_mode": "direkt" } }
    }
  }
}
EOF
osvm isolation validate "$T/direkt.json"
check_exit "validate of execution_mode direkt exits 3" 3
check_contains "validate names the field's path" \
        "mcp_servers.osvm-mcp.tools.get_balance.execution_mode" "$ERR"
check_contains "validate names the allowed values" "unikernel, microvm, direct" "$ERR"
check_contains "validate names the file" "$T/direkt.json" "$ERR"
check_contains "validate quotes the bad value" '"direkt"' "$ERR"

mkdir -p "$OSVM_HOME"
cp "$T/direkt.json" "$CFG"
osvm isolation explain osvm-mcp/get_balance
check_exit "explain on a home with direkt exits 3" 3
check_eq "explain on an invalid config prints no trace" "" "$OUT"
check_contains "explain on an invalid config says no tool will run" "no tool will run" "$ERR"
check_contains "explain on an invalid config names the field" \
        "mcp_servers.osvm-mcp.tools.get_balance.execution_mode" "$ERR"

osvm isolation validate
check_exit "validate with no FILE checks the user's config (exit 3)" 3

# ---- bad files ----

fresh
printf '{\n  "unikernel_dir": "/x",\n  ]\n}\n' >"$T/bad.json"
osvm isolation validate "$T/bad.json"
check_exit "invalid JSON exits 3" 3
check_contains "invalid JSON names file, line and column" "$T/bad.json:3:3:" "$ERR"
check_contains "invalid JSON says it is invalid JSON" "invalid JSON" "$ERR"

: >"$T/empty.json"
osvm isolation validate "$T/empty.json"
check_exit "an empty file exits 3" 3
check_contains "an empty file is called empty" "empty" "$ERR"

printf '  \n\t\n' >"$T/blank.json"
osvm isolation validate "$T/blank.json"
check_exit "a whitespace-only file exits 3" 3
check_contains "a whitespace-only file is called empty" "empty" "$ERR"

printf '[1, 2]\n' >"$T/array.json"
osvm isolation validate "$T/array.json"
check_exit "a top-level array exits 3" 3
check_contains "a top-level array: must be an object" "must be a JSON object" "$ERR"

mkdir "$T/dir.json"
osvm isolation validate "$T/dir.json"
check_exit "a directory in place of the file exits 3" 3
check_contains "a directory is called a directory" "directory" "$ERR"

mkdir -p "$CFG"
osvm isolation show
check_exit "a directory at the config path: show exits 3" 3
check_contains "a directory at the config path is named" "$CFG" "$ERR"
check_eq "the directory is left in place" "yes" "$([ -d "$CFG" ] && echo yes || echo no)"
rmdir "$CFG"

osvm isolation validate "$T/does-not-exist.json"
check_exit "a missing FILE exits 3" 3
check_contains "a missing FILE is named" "does-not-exist.json" "$ERR"

printf '{"unikernel_dir": "/var/\xff\xfeosvm"}\n' >"$T/latin.json"
osvm isolation validate "$T/latin.json"
check_exit "non-UTF-8 bytes exit 3" 3
check_contains "non-UTF-8: says so" "UTF-8" "$ERR"
check_contains "non-UTF-8: names file, line and column" "$T/latin.json:1:25:" "$ERR"

truncate -s 100M "$T/huge.json"
osvm isolation validate "$T/huge.json"
check_exit "a 100 MiB file exits 3" 3
check_contains "a 100 MiB file is too large" "too large" "$ERR"
# refused by its size, before it is read: the size and the limit are named
check_contains "a 100 MiB file is refused by its size" "(104857600 bytes; the limit is" "$ERR"

python3 -c 'import sys; sys.stdout.write("[" * 10000)' >"$T/deep.json"
osvm isolation validate "$T/deep.json"
check_exit "nesting 10,000 deep exits 3 (no crash)" 3
check_contains "deep nesting names the file" "$T/deep.json" "$ERR"
python3 -c 'import sys; sys.stdout.write("{\"a\":" * 10000 + "1" + "}" * 10000)' >"$T/deepobj.json"
osvm isolation validate "$T/deepobj.json"
check_exit "objects nested 10,000 deep exit 3 (no crash)" 3

printf '{"mcp_servers": {}, "mcp_servers": {}}\n' >"$T/dup.json"
osvm isolation validate "$T/dup.json"
check_exit "a duplicated key exits 3" 3

cat >"$T/types.json" <<'EOF'
{
  "timeout_ms": "soon",
  "network": { "allow": ["bad host"] },
  "mcp_servers": { "s": { "tools": { "t": { "memory_mb": 0, "mounts": [{"vm_path": "/x"}] } } } }
}
EOF
osvm isolation validate "$T/types.json"
check_exit "wrong types and ranges exit 3" 3
check_contains "a wrong type names the field" "timeout_ms: expected an integer" "$ERR"
check_contains "a bad host names its index" "network.allow[0]" "$ERR"
check_contains "an out-of-range value names the field" "mcp_servers.s.tools.t.memory_mb" "$ERR"
check_contains "a missing required mount field is named" "mcp_servers.s.tools.t.mounts[0].host_path: missing" "$ERR"
check_contains "every error is counted" "invalid: 4 errors" "$ERR"

# ---- an unreadable file (as nobody) ----

fresh
if ! command -v setpriv >/dev/null 2>&1; then
        skip "an unreadable file exits 3" "setpriv is not installed"
elif [ "$(id -u)" -ne 0 ]; then
        skip "an unreadable file exits 3" "needs root to switch to nobody"
else
        osvm status # creates the default file
        chmod 755 "$T" "$OSVM_HOME"
        chmod 000 "$CFG"
        before=$(sha "$CFG")
        setpriv --reuid=65534 --regid=65534 --clear-groups "$OSVM" isolation show >"$T/out" 2>"$T/err"
        RC=$?
        ERR=$(cat "$T/err")
        check_exit "an unreadable config: show as nobody exits 3" 3
        check_contains "an unreadable config: the reason is given" "Permission denied" "$ERR"
        check_contains "an unreadable config: the file is named" "$CFG" "$ERR"
        check_same "an unreadable config is not replaced" "$CFG" "$before"
        check_eq "an unreadable config keeps its mode" "0" "$(mode_of "$CFG")"
        setpriv --reuid=65534 --regid=65534 --clear-groups "$OSVM" isolation validate "$CFG" >"$T/out" 2>"$T/err"
        RC=$?
        check_exit "an unreadable FILE: validate as nobody exits 3" 3
fi

# ---- warnings: unknown fields, missing microvm_id ----

fresh
cat >"$T/unknown.json" <<'EOF'
{
  "x_top": 1,
  "mcp_servers": {
    "s": { "x_server": true, "tools": { "t": { "execution_mode": "direct", "x_tool": "y" } } }
  }
}
EOF
osvm isolation validate "$T/unknown.json"
check_exit "unknown fields only warn (exit 0)" 0
check_contains "the unknown top-level field is named" "x_top: unknown field" "$ERR"
check_contains "the unknown server field is named with its path" "mcp_servers.s.x_server: unknown field" "$ERR"
check_contains "the unknown tool field is named with its path" "mcp_servers.s.tools.t.x_tool: unknown field" "$ERR"
check_contains "validate reports valid with the warning count" "valid (1 server, 1 tool, 3 warnings)" "$OUT"

osvm -q isolation validate "$T/unknown.json"
check_exit "-q validate exits 0" 0
check_eq "-q silences the warnings" "" "$ERR"

cat >"$T/noid.json" <<'EOF'
{ "mcp_servers": { "osvm-mcp": { "tools": { "get_balance": { "execution_mode": "unikernel" } } } } }
EOF
osvm isolation validate "$T/noid.json"
check_exit "a missing microvm_id is fine (exit 0)" 0
check_eq "a missing microvm_id draws no warning" "" "$ERR"
mkdir -p "$OSVM_HOME"
cp "$T/noid.json" "$CFG"
osvm status
check_exit "status without microvm_id exits 0" 0
check_contains "a server without microvm_id runs on the host" "osvm-mcp(host:cfg)" "$OUT"

# ---- a file written for the original osvm ----

fresh
cat >"$T/original.json" <<'EOF'
{
  "default_execution_mode": "microvm",
  "unikernel_dir": "/var/osvm/unikernels",
  "mcp_servers": {
    "solana": {
      "microvm_id": "μVM-1",
      "use_microvm": true,
      "microvm_config": { "memory_mb": 512, "vcpus": 2 },
      "server_command": "npx -y @modelcontextprotocol/server-solana",
      "microvm_mounts": [
        { "host_path": "~/.config/osvm", "vm_path": "/mnt/osvm-config", "readonly": true }
      ],
      "tools": {
        "get_balance": {
          "execution_mode": "unikernel",
          "unikernel_image": "solana-get_balance.img",
          "mounts": [
            { "host_path": "~/.config/solana", "vm_path": "/data/solana-config", "readonly": true }
          ],
          "memory_mb": 128,
          "vcpus": 1
        },
        "transfer": {
          "execution_mode": "unikernel",
          "unikernel_image": "solana-transfer.img",
          "mounts": [
            { "host_path": "~/.config/solana", "vm_path": "/data/solana-config", "readonly": true },
            { "host_path": "~/Documents/keypairs", "vm_path": "/data/keypairs", "readonly": false }
          ],
          "memory_mb": 128,
          "vcpus": 1
        }
      }
    },
    "github": {
      "microvm_id": "μVM-2",
      "use_microvm": true,
      "microvm_config": { "memory_mb": 256, "vcpus": 1 },
      "server_command": "npx -y @modelcontextprotocol/server-github",
      "microvm_mounts": [],
      "tools": {
        "create_issue": {
          "execution_mode": "microvm",
          "unikernel_image": null,
          "mounts": [],
          "memory_mb": 128,
          "vcpus": 1
        }
      }
    }
  }
}
EOF
osvm isolation validate "$T/original.json"
check_exit "the original osvm's file validates (exit 0)" 0
check_contains "the original file: 2 servers, 3 tools, no warnings" "valid (2 servers, 3 tools, 0 warnings)" "$OUT"
check_eq "the original file draws no diagnostics" "" "$ERR"

mkdir -p "$OSVM_HOME"
cp "$T/original.json" "$CFG"
before=$(sha "$CFG")
osvm isolation show --json solana/get_balance
check_exit "show on the original file exits 0" 0
check_json "a relative unikernel_image resolves under unikernel_dir" "$T/out" \
        'd["image"] == "/var/osvm/unikernels/solana-get_balance.img" and d["sources"]["image"] == "tool"'
check_json "~ in a mount expands to HOME" "$T/out" \
        'd["mounts"] == [{"host_path": "'"$HOME"'/.config/solana", "vm_path": "/data/solana-config", "readonly": True}]'
osvm isolation show --json solana/transfer
check_json "\"readonly\": false gives a read-write mount" "$T/out" \
        '[m["readonly"] for m in d["mounts"]] == [True, False]'
osvm isolation show --json github/create_issue
check_json "a microvm tool shows mode microvm and its VM" "$T/out" \
        'd["mode"] == "microvm" and d["microvm_id"] == "μVM-2"'
osvm isolation explain github/create_issue
check_exit "explain of a microvm tool exits 0 (its server, in the sandbox)" 0
check_contains "explain says the microVM engine is missing and the server runs in its sandbox" \
        "MicroVM engine not available; running server in sandbox" "$OUT"
check_contains "the microvm tool runs on its server, confined (not a fallback)" \
        "The server runs in its sandbox (\"use_microvm\": true)" "$OUT"
osvm isolation explain solana/some_other_tool
check_contains "an unlisted tool takes default_execution_mode (microvm)" \
        "Tool configured for MicroVM execution mode" "$OUT"
osvm status
check_exit "status on the original file exits 0" 0
check_match "status lists both servers, confined" \
        "solana\((sandbox|reduced):cfg\) • github\((sandbox|reduced):cfg\)" "$OUT"
check_same "the original file is never rewritten" "$CFG" "$before"

# ---- isolation set ----

fresh
osvm isolation set osvm-mcp/get_balance memory_mb=256
check_exit "set on a fresh home exits 0" 0
check_eq "set reports what it set" "set osvm-mcp/get_balance memory_mb=256" "$OUT"
check_json "set changed the field" "$CFG" \
        'd["mcp_servers"]["osvm-mcp"]["tools"]["get_balance"]["memory_mb"] == 256'
check_eq "set keeps mode 0600" "600" "$(mode_of "$CFG")"

# Unknown fields, added by hand, survive an edit.
python3 - "$CFG" <<'EOF'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["x_custom"] = {"keep": [1, 2]}
d["mcp_servers"]["osvm-mcp"]["x_server_note"] = "hello"
d["mcp_servers"]["osvm-mcp"]["tools"]["get_balance"]["x_tool_note"] = 7
json.dump(d, open(p, "w"), indent=2, ensure_ascii=False)
EOF
osvm isolation set osvm-mcp/get_balance vcpus=2
check_exit "set with unknown fields present exits 0" 0
check_json "set keeps an unknown top-level field" "$CFG" 'd["x_custom"] == {"keep": [1, 2]}'
check_json "set keeps an unknown server field" "$CFG" \
        'd["mcp_servers"]["osvm-mcp"]["x_server_note"] == "hello"'
check_json "set keeps an unknown tool field" "$CFG" \
        'd["mcp_servers"]["osvm-mcp"]["tools"]["get_balance"]["x_tool_note"] == 7'
check_json "set keeps the other known fields" "$CFG" \
        'd["mcp_servers"]["osvm-mcp"]["tools"]["get_balance"]["memory_mb"] == 256 and d["mcp_servers"]["osvm-mcp"]["microvm_id"] == "μVM-1" and len(d["mcp_servers"]["osvm-mcp"]["tools"]) == 11'
check_json "set applied the new value" "$CFG" \
        'd["mcp_servers"]["osvm-mcp"]["tools"]["get_balance"]["vcpus"] == 2'
check_contains "the unknown fields are still warned about" "x_custom: unknown field" "$ERR"
leftovers=$(find "$OSVM_HOME" -name '*.tmp*' | wc -l)
check_eq "set leaves no temporary file" "0" "$leftovers"

osvm isolation set osvm-mcp/get_balance memory_mb=
check_exit "KEY= exits 0" 0
check_json "KEY= removes the field" "$CFG" \
        '"memory_mb" not in d["mcp_servers"]["osvm-mcp"]["tools"]["get_balance"]'
osvm isolation show --json osvm-mcp/get_balance
check_json "a removed field is inherited again (default 128, source default)" "$T/out" \
        'd["memory_mb"] == 128 and d["sources"]["memory_mb"] == "default"'

before=$(sha "$CFG")
osvm isolation set osvm-mcp/get_balance execution_mode=direkt
check_exit "set of an invalid enum value exits 3" 3
check_same "an invalid enum value leaves the file byte-identical" "$CFG" "$before"
check_contains "the invalid value names the field's path" \
        "mcp_servers.osvm-mcp.tools.get_balance.execution_mode" "$ERR"

osvm isolation set osvm-mcp/get_balance timeout_ms=0
check_exit "set of an out-of-range number exits 3" 3
check_same "an out-of-range number leaves the file byte-identical" "$CFG" "$before"

osvm isolation set osvm-mcp/get_balance timeout_ms=soon
check_exit "set of a non-number for timeout_ms exits 3 (an invalid value)" 3
check_same "a non-number leaves the file byte-identical" "$CFG" "$before"

osvm isolation set osvm-mcp/get_balance 'network.allow=bad host!'
check_exit "set of a bad host exits 3" 3
check_same "a bad host leaves the file byte-identical" "$CFG" "$before"

osvm isolation set osvm-mcp/get_balance memory_mb=64 fallback=sometimes
check_exit "one bad assignment among several exits 3" 3
check_same "one bad assignment among several changes nothing" "$CFG" "$before"

osvm isolation set osvm-mcp/get_balance no_such_key=1
check_exit "set of an unknown key is a usage error (2)" 2
check_contains "the unknown key is named" '"no_such_key"' "$ERR"
check_contains "the known keys are listed" "execution_mode" "$ERR"
check_same "an unknown key leaves the file byte-identical" "$CFG" "$before"

osvm isolation set osvm-mcp/get_balance
check_exit "set without KEY=VALUE exits 2" 2
osvm isolation set
check_exit "set with nothing exits 2" 2

# Server level and inheritance.
osvm isolation set osvm-mcp timeout_ms=5000
check_exit "set at server level exits 0" 0
check_json "the server holds timeout_ms" "$CFG" 'd["mcp_servers"]["osvm-mcp"]["timeout_ms"] == 5000'
osvm isolation show --json osvm-mcp/get_balance
check_json "timeout_ms set on the server shows with source server" "$T/out" \
        'd["timeout_ms"] == 5000 and d["sources"]["timeout_ms"] == "server"'
osvm isolation set osvm-mcp/get_balance timeout_ms=7000
osvm isolation show --json osvm-mcp/get_balance
check_json "the tool's timeout_ms overrides the server's" "$T/out" \
        'd["timeout_ms"] == 7000 and d["sources"]["timeout_ms"] == "tool"'
osvm isolation show --json osvm-mcp/get_slot
check_json "a sibling tool still inherits the server's timeout_ms" "$T/out" \
        'd["timeout_ms"] == 5000 and d["sources"]["timeout_ms"] == "server"'

# A server's execution_mode: for its tools that set none.
osvm isolation set modesrv execution_mode=direct
check_exit "set execution_mode at server level exits 0" 0
check_json "the server holds execution_mode" "$CFG" 'd["mcp_servers"]["modesrv"]["execution_mode"] == "direct"'
osvm isolation explain modesrv/anytool
check_exit "explain of a tool of a direct server exits 0" 0
check_contains "explain says the mode came from the server" \
        "Tool configured for Direct execution mode (the server's execution_mode)" "$OUT"
check_not_contains "a direct server's tool does not fall back" "Falling back" "$OUT"
osvm isolation show --json modesrv/anytool
check_json "show: the mode and its source, server" "$T/out" \
        'd["mode"] == "direct" and d["sources"]["mode"] == "server"'
# What direct mode cannot enforce is marked so, not printed as a limit.
osvm isolation set modesrv/t memory_mb=64 'mounts=/tmp:/data'
osvm isolation show modesrv/t
check_match "show: the route of a direct tool" '^  route +direct +\(configured\)$' "$OUT"
check_match "show: memory is not enforced in direct mode" '^  memory +64 MiB +\(tool\) +\[not enforced\]$' "$OUT"
check_match "show: vcpus are not enforced in direct mode" '^  vcpus +1 +\(default\) +\[not enforced\]$' "$OUT"
check_match "show: the network is not enforced in direct mode" '^  network +none +\(default\) +\[not enforced\]$' "$OUT"
check_match "show: mounts are not enforced in direct mode" '^  mounts +\[not enforced\]$' "$OUT"
check_match "show: the timeout holds" '^  timeout +[0-9]+ ms +\((config|default)\)$' "$OUT"
check_contains "show says why" "the call runs in its MCP server's own process, outside any VM" "$OUT"
osvm isolation show --json modesrv/t
check_json "show --json: route and what is enforced" "$T/out" \
        'd["route"] == "direct" and d["fell_back"] is False and d["enforced"] == {"memory_mb": False, "vcpus": False, "timeout_ms": True, "network": False, "mounts": False} and d["memory_mb"] == 64'
osvm isolation explain modesrv/t
check_contains "explain says what direct mode does not enforce" \
        "INFO: Not enforced in direct mode: memory_mb (64 MiB), vcpus (1), network.allow (none), mounts (1)" "$OUT"
osvm isolation set modesrv/t execution_mode=unikernel fallback=deny
osvm isolation show modesrv/t
check_not_contains "a refused call has nothing marked as not enforced" "[not enforced]" "$OUT"
check_match "show: the route of a refused call" '^  route +deny +\(refused: unikernel is not possible here' "$OUT"

osvm isolation set osvm-mcp execution_mode=direct
check_exit "set execution_mode on a server whose tools set their own exits 0" 0
check_contains "and names the tools whose own mode wins" \
        "11 tools of osvm-mcp set their own execution_mode" "$ERR"
osvm isolation show --json osvm-mcp/get_slot
check_json "a tool's own execution_mode wins over the server's" "$T/out" \
        'd["mode"] == "unikernel" and d["sources"]["mode"] == "tool"'
osvm isolation set osvm-mcp execution_mode=
check_exit "a server's execution_mode can be removed" 0

osvm isolation set osvm-mcp use_microvm=true microvm_config.memory_mb=512
check_exit "set of server fields (use_microvm, microvm_config.memory_mb) exits 0" 0
check_json "the server fields are set" "$CFG" \
        'd["mcp_servers"]["osvm-mcp"]["use_microvm"] is True and d["mcp_servers"]["osvm-mcp"]["microvm_config"] == {"memory_mb": 512, "vcpus": 1}'

osvm isolation set newsrv/newtool execution_mode=direct
check_exit "set creates a new server and tool" 0
check_json "the new tool is in the file" "$CFG" \
        'd["mcp_servers"]["newsrv"]["tools"]["newtool"]["execution_mode"] == "direct"'
osvm isolation explain newsrv/newtool
check_exit "explain of the new direct tool exits 0" 0
check_contains "the new tool runs directly" "Tool configured for Direct execution mode" "$OUT"

# Top level.
osvm isolation set fallback=deny timeout_ms=1000
check_exit "set at the top level exits 0" 0
check_eq "set at the top level reports each assignment" "set fallback=deny
set timeout_ms=1000" "$OUT"
check_json "the top level holds both values" "$CFG" 'd["fallback"] == "deny" and d["timeout_ms"] == 1000'
osvm isolation show --json osvm-mcp/get_slot
check_json "the top-level fallback reaches a tool (source config)" "$T/out" \
        'd["fallback"] == "deny" and d["sources"]["fallback"] == "config"'

# network.allow and mounts.
osvm isolation set osvm-mcp/get_balance 'network.allow=api.mainnet-beta.solana.com:443, *.example.org,[::1]:8080'
check_exit "set network.allow exits 0" 0
check_json "network.allow is a list of hosts" "$CFG" \
        'd["mcp_servers"]["osvm-mcp"]["tools"]["get_balance"]["network"]["allow"] == ["api.mainnet-beta.solana.com:443", "*.example.org", "[::1]:8080"]'
osvm isolation show --json osvm-mcp/get_balance
check_json "show lists the allowed hosts with source tool" "$T/out" \
        'd["network"]["allow"][0] == "api.mainnet-beta.solana.com:443" and d["sources"]["network"] == "tool"'
osvm isolation set osvm-mcp 'network.allow=["rpc.example.com"]'
check_exit "set network.allow as JSON on a server exits 0" 0
osvm isolation show --json osvm-mcp/get_slot
check_json "a sibling tool inherits the server's network.allow" "$T/out" \
        'd["network"]["allow"] == ["rpc.example.com"] and d["sources"]["network"] == "server"'
osvm isolation set osvm-mcp/get_balance 'network.allow='
osvm isolation show --json osvm-mcp/get_balance
check_json "removing the tool's network.allow inherits the server's" "$T/out" \
        'd["network"]["allow"] == ["rpc.example.com"]'

osvm isolation set osvm-mcp/get_balance 'mounts=~/.config/solana:/data/solana-config,/tmp/work:/work:rw'
check_exit "set mounts exits 0" 0
check_json "mounts are read-only unless :rw" "$CFG" \
        '[(m["host_path"], m["vm_path"], m["readonly"]) for m in d["mcp_servers"]["osvm-mcp"]["tools"]["get_balance"]["mounts"]] == [("~/.config/solana", "/data/solana-config", True), ("/tmp/work", "/work", False)]'
osvm isolation show osvm-mcp/get_balance
check_contains "show prints a read-only mount" "$HOME/.config/solana -> /data/solana-config (read-only)" "$OUT"
check_contains "show prints a read-write mount" "/tmp/work -> /work (read-write)" "$OUT"
before=$(sha "$CFG")
osvm isolation set osvm-mcp/get_balance 'mounts=/tmp:../escape'
check_exit "a mount with a relative vm_path exits 3" 3
check_same "a bad mount leaves the file byte-identical" "$CFG" "$before"
osvm isolation set osvm-mcp/get_balance 'mounts=nocolon'
check_failed "a mount without HOST:VM exits non-zero"
check_same "a malformed mount leaves the file byte-identical" "$CFG" "$before"

osvm isolation validate
check_exit "the edited file still validates" 0

# set can repair an invalid file.
fresh
mkdir -p "$OSVM_HOME"
printf '{ "mcp_servers": { "osvm-mcp": { "tools": { "get_balance": { "execution_mode": "direkt" } } } } }\n' >"$CFG"
osvm isolation set osvm-mcp/get_balance execution_mode=direct
check_exit "set can repair an invalid value" 0
osvm isolation validate
check_exit "the repaired file validates" 0

# ---- isolation show ----

fresh
osvm isolation show
check_exit "show exits 0" 0
check_contains "show names the config file" "Isolation config: $CFG" "$OUT"
check_contains "show names the default mode and image dir" "Default mode: unikernel; images in /var/osvm/unikernels" "$OUT"
check_contains "show lists every tool (get_balance)" "osvm-mcp/get_balance" "$OUT"
check_contains "show lists every tool (solana_rpc_call)" "osvm-mcp/solana_rpc_call" "$OUT"
check_eq "show prints 11 tools" "11" "$(printf '%s\n' "$OUT" | grep -c '^osvm-mcp/')"

osvm isolation show osvm-mcp
check_exit "show SERVER exits 0" 0
check_eq "show SERVER prints that server's 11 tools" "11" "$(printf '%s\n' "$OUT" | grep -c '^osvm-mcp/')"

osvm isolation show osvm-mcp/get_balance
check_exit "show SERVER/TOOL exits 0" 0
check_eq "show SERVER/TOOL prints one tool" "1" "$(printf '%s\n' "$OUT" | grep -c '^osvm-mcp/')"
check_match "show: mode with its source" '^  mode +unikernel +\(tool\)$' "$OUT"
check_match "show: image with its source" "^  image +$IMG +\\(default\\)$" "$OUT"
check_match "show: memory" '^  memory +128 MiB' "$OUT"
check_match "show: timeout from the config level" '^  timeout +30000 ms +\(config\)$' "$OUT"
check_match "show: fallback" '^  fallback +direct' "$OUT"
check_match "show: no network" '^  network +none' "$OUT"

osvm isolation show --json
check_exit "show --json exits 0" 0
check_json "show --json is an array of 11 policies" "$T/out" 'isinstance(d, list) and len(d) == 11'
check_json "show --json: every tool in unikernel mode" "$T/out" 'all(p["mode"] == "unikernel" for p in d)'

osvm isolation show --json osvm-mcp
check_json "show --json SERVER is an array" "$T/out" 'isinstance(d, list) and len(d) == 11'

osvm isolation show --json osvm-mcp/get_balance
check_exit "show --json SERVER/TOOL exits 0" 0
check_json "show --json: mode, image, limits" "$T/out" \
        'd["mode"] == "unikernel" and d["image"] == "'"$IMG"'" and d["memory_mb"] == 128 and d["vcpus"] == 1 and d["timeout_ms"] == 30000 and d["fallback"] == "direct"'
check_json "show --json: the sources" "$T/out" \
        'd["sources"] == {"mode": "tool", "image": "default", "memory_mb": "tool", "vcpus": "tool", "timeout_ms": "config", "fallback": "config", "network": "default"}'
check_json "show --json: microvm_id" "$T/out" 'd["microvm_id"] == "μVM-1"'

osvm isolation show --json osvm-mcp/unlisted
check_exit "show of an unlisted tool exits 0" 0
check_json "an unlisted tool: defaults, marked as not configured" "$T/out" \
        'd["tool_configured"] is False and d["image"] == "/var/osvm/unikernels/osvm-mcp-unlisted.img" and d["sources"]["mode"] == "config"'

osvm isolation show nosuchserver
check_exit "show of an unknown server exits 1" 1
check_contains "show of an unknown server names it" '"nosuchserver"' "$ERR"

osvm isolation show a b
check_exit "show with two targets exits 2" 2
osvm isolation show --bogus
check_exit "show with an unknown option exits 2" 2

# ---- the bare command ----

fresh
osvm
check_exit "bare osvm (the chat, at end of input) exits 0" 0
check_match "bare osvm greets with the version" '^osvm [0-9]+\.[0-9]+\.[0-9]+: ' "$(printf '%s\n' "$OUT" | head -n 1)"
check_contains "bare osvm names its planner" "planner: offline" "$OUT"
# the agent runs inside μVM-1 where the host can, else in a trapped process
# (the process platform, counted as μPs, never as a VM), and the line says so
live="0μVMs 0uK"
if [ -f "${OSVM_AGENT_IMAGE:-}" ]; then
        live="0μVMs 0uK 1μPs 0uKp"
        kvm_probe && live="1μVMs 0uK"
fi
check_eq "bare osvm shows the status line" \
        "OSVM: ${live} • osvm-mcp(μVM-1:cfg) • net:unknown • up:0s" "$(printf '%s\n' "$OUT" | tail -n 1)"

# ---- without KVM (OSVM_NO_KVM=1; the same on a host without /dev/kvm) ----
# The process platform runs the agent and the tool calls instead, in words
# that never call a process a VM (docs/vmm.md); with "platform": "kvm" in the
# isolation config nothing is isolated without KVM and each tool's fallback
# holds, KVM named as the reason.

fresh
OSVM_NO_KVM=1 osvm
check_exit "no KVM: the chat runs (exit 0)" 0
greeting=$(printf '%s\n' "$OUT" | head -n 1)
check_not_contains "no KVM: the greeting claims no VM" "runs in its own VM" "$greeting"
check_contains "no KVM: the greeting says trapped processes" \
        "every tool call runs in its own trapped process (the process platform: no KVM here)" "$greeting"
check_eq "no KVM: the μVM-1 notice is one line" 1 "$(grep -c 'μVM-1' "$T/err")"
if [ -f "${OSVM_AGENT_IMAGE:-}" ]; then
        check_contains "no KVM: the notice says a trapped process, not a VM, and why" \
                "the agent runs in μVM-1's stand-in, a trapped process, not a VM (the process platform): KVM is turned off (OSVM_NO_KVM=1): unset it" "$ERR"
else
        check_contains "no KVM: the notice says why, and how to get KVM" \
                "not inside μVM-1: KVM is turned off (OSVM_NO_KVM=1): unset it" "$ERR"
fi
OSVM_NO_KVM=1 osvm -q
check_exit "no KVM, -q: the chat runs (exit 0)" 0
check_eq "no KVM: -q hides the notice" "" "$ERR"
OSVM_NO_KVM=1 osvm -q -p "get the version"
check_not_contains "no KVM: -q hides the notice for -p too" "μVM-1" "$ERR"

UK=$ROOT/build/unikernels
G=$ROOT/build/guests
OSVM_NO_KVM=1 osvm uk run /bin/true
check_exit "no KVM: uk run of a dynamic program fails (exit 1)" 1
check_contains "no KVM: on the process platform, which names what is wrong with it" \
        "/bin/true: dynamically linked" "$ERR"
OSVM_NO_KVM=1 osvm uk run --platform kvm /bin/true
check_exit "no KVM: uk run --platform kvm fails (exit 1)" 1
check_contains "no KVM: --platform kvm says so, and how to get KVM, before anything about the image" \
        "/bin/true: cannot run it in a VM: KVM is turned off (OSVM_NO_KVM=1): unset it to use /dev/kvm" "$ERR"
if [ -x "$G/hello" ]; then
        OSVM_NO_KVM=1 osvm uk run "$G/hello"
        check_exit "no KVM: uk run runs a static program in a trapped process (exit 0)" 0
fi
# (the machine's own /dev/kvm, unless OSVM_NO_KVM=1 stands in for it)
if [ ! -e /dev/kvm ] && [ "${OSVM_NO_KVM:-}" != 1 ]; then
        osvm uk run --platform kvm /bin/true
        check_contains "without /dev/kvm uk run --platform kvm says how to get KVM" "enable virtualization" "$ERR"
fi

if [ -f "$UK/osvm-mcp-get_balance.img" ]; then
        fresh
        export OSVM_BUILTIN_IMAGES=$UK
        OSVM_NO_KVM=1 osvm isolation explain osvm-mcp/get_balance
        check_exit "no KVM: a tool with an image runs (exit 0)" 0
        check_contains "no KVM: explain names KVM as the reason for the process platform" \
                "INFO: KVM is not usable here (KVM is turned off (OSVM_NO_KVM=1): unset it to use /dev/kvm): the process platform runs it" "$OUT"
        check_contains "no KVM: and never calls the process a VM" \
                "the call runs in a fresh trapped process, not a VM" "$OUT"
        osvm isolation set platform=kvm
        OSVM_NO_KVM=1 osvm
        check_contains "no KVM, platform kvm: the greeting says tools run without a VM" \
                "no KVM here (and the isolation config's platform is \"kvm\"), so tool calls run without a VM" \
                "$(printf '%s\n' "$OUT" | head -n 1)"
        check_contains "no KVM, platform kvm: the agent runs directly, saying why" \
                "not inside μVM-1: KVM is turned off (OSVM_NO_KVM=1)" "$ERR"
        OSVM_NO_KVM=1 osvm isolation explain osvm-mcp/get_balance
        check_exit "no KVM, platform kvm: a tool with an image falls back (exit 0)" 0
        check_contains "no KVM, platform kvm: explain names KVM as the reason" \
                "WARN: KVM is not usable: KVM is turned off (OSVM_NO_KVM=1)" "$OUT"
        osvm isolation set osvm-mcp/get_balance fallback=deny
        OSVM_NO_KVM=1 osvm isolation explain osvm-mcp/get_balance
        check_exit "no KVM, deny: explain exits 4" 4
        last=$(printf '%s\n' "$OUT" | tail -n 1)
        check_contains "no KVM, deny: the refusal names KVM and how to get it" \
                "(KVM is not usable: KVM is turned off (OSVM_NO_KVM=1): unset it to use /dev/kvm (the config's platform is \"kvm\"))" "$last"
        check_contains "no KVM, deny: the refusal names the setting that lets it run" \
                "To run it without a VM instead: osvm isolation set osvm-mcp/get_balance fallback=direct" "$last"
        OSVM_NO_KVM=1 osvm -q mcp call osvm-mcp get_balance address=11111111111111111111111111111111
        check_exit "no KVM, deny: mcp call is refused (exit 4)" 4
        check_eq "no KVM, deny: the refusal is said once, on one line" 1 "$(wc -l <"$T/err")"
        check_contains "no KVM, deny: with its remedy" "fallback=direct" "$ERR"
        OSVM_NO_KVM=1 osvm mcp call osvm-mcp get_balance address=11111111111111111111111111111111
        check_eq "no KVM, deny: without -q, the refusal is still said once" 1 "$(grep -c 'Refusing\|refused' "$T/err")"
        OSVM_NO_KVM=1 osvm -q -p "get the balance of So11111111111111111111111111111111111111112"
        check_contains "no KVM, deny: the agent's line says refused" \
                "refused: osvm-mcp/get_balance" "$ERR"
        unset OSVM_BUILTIN_IMAGES
else
        skip "no KVM: explain and a refusal of a tool with an image" "$UK/osvm-mcp-get_balance.img is not built"
fi

# ---- the status line ----

fresh
osvm status
check_exit "status exits 0" 0
check_file_is "status under C.UTF-8" "OSVM: 0μVMs 0uK • osvm-mcp(μVM-1:cfg) • net:unknown • up:0s
" "$T/out"

LC_ALL=C osvm status
check_exit "status under LC_ALL=C exits 0" 0
check_file_is "status under LC_ALL=C is ASCII" "OSVM: 0uVMs 0uK - osvm-mcp(uVM-1:cfg) - net:unknown - up:0s
" "$T/out"
if LC_ALL=C grep -q '[^ -~]' "$T/out"; then
        fail "status under LC_ALL=C has only printable ASCII bytes"
else
        pass "status under LC_ALL=C has only printable ASCII bytes"
fi

osvm status --json
check_exit "status --json exits 0" 0
check_json "status --json: the figures" "$T/out" \
        'd["live_microvms"] == 0 and d["unikernels_run"] == 0 and d["fallbacks"] == 0 and d["net"]["state"] == "unknown" and d["uptime_s"] == 0'
check_json "status --json: the servers" "$T/out" \
        '[(s["name"], s["where"], s["state"], s["in_config"], s["policy_source"], s["tools_in_config"]) for s in d["servers"]] == [("osvm-mcp", "μVM-1", "configured", True, "isolation_config.json", 11)]'
check_json "status --json: a server's policy" "$T/out" \
        'd["servers"][0]["policy"]["mode"] == "unikernel" and d["servers"][0]["policy"]["timeout_ms"] == 30000 and "enforced" in d["servers"][0]["policy"]'
check_json "status --json: the line" "$T/out" \
        'd["line"] == "OSVM: 0μVMs 0uK • osvm-mcp(μVM-1:cfg) • net:unknown • up:0s"'

# Colour: only on a terminal, never with NO_COLOR. `script` gives a terminal.
if command -v script >/dev/null 2>&1; then
        script -qec "$OSVM status" /dev/null >"$T/tty" 2>&1
        if grep -q $'\033' "$T/tty"; then
                pass "status on a terminal is coloured"
        else
                fail "status on a terminal is coloured" "$(od -c "$T/tty" | head -3)"
        fi
        NO_COLOR=1 script -qec "$OSVM status" /dev/null >"$T/tty" 2>&1
        if grep -q $'\033' "$T/tty"; then
                fail "NO_COLOR: status on a terminal has no escape bytes" "$(od -c "$T/tty" | head -3)"
        else
                pass "NO_COLOR: status on a terminal has no escape bytes"
        fi
        check_contains "NO_COLOR: the status line is still printed" "OSVM: 0μVMs" "$(cat "$T/tty")"
        NO_COLOR=1 script -qec "$OSVM --bogus" /dev/null >"$T/tty" 2>&1
        if grep -q $'\033' "$T/tty"; then
                fail "NO_COLOR: errors on a terminal have no escape bytes"
        else
                pass "NO_COLOR: errors on a terminal have no escape bytes"
        fi
else
        skip "status on a terminal is coloured" "script(1) is not installed"
fi
NO_COLOR=1 osvm status
if grep -q $'\033' "$T/out" "$T/err"; then
        fail "NO_COLOR: no escape bytes in status output"
else
        pass "NO_COLOR: no escape bytes in status output"
fi
osvm isolation explain osvm-mcp/get_balance
if grep -q $'\033' "$T/out" "$T/err"; then
        fail "output to a pipe has no escape bytes"
else
        pass "output to a pipe has no escape bytes"
fi

# ---- logging ----

fresh
osvm status
check_not_contains "by default, info lines do not reach stderr" "INFO:" "$ERR"
log="$XDG_STATE_HOME/osvm/logs/osvm.log"
check_eq "a log file appears under \$XDG_STATE_HOME/osvm/logs" "yes" "$([ -f "$log" ] && echo yes || echo no)"
check_contains "the log file records the created config" "info: created the default isolation config: $CFG" "$(cat "$log" 2>/dev/null)"
check_eq "the log file has mode 0600" "600" "$(mode_of "$log" 2>/dev/null)"

fresh
OSVM_LOG=info osvm status
check_exit "OSVM_LOG=info status exits 0" 0
check_contains "OSVM_LOG=info: info lines on stderr" "INFO: created the default isolation config" "$ERR"
check_eq "OSVM_LOG=info: stdout is only the status line" \
        "OSVM: 0μVMs 0uK • osvm-mcp(μVM-1:cfg) • net:unknown • up:0s" "$OUT"

fresh
osvm -v status
check_contains "-v: info lines on stderr" "INFO: created the default isolation config" "$ERR"

fresh
OSVM_LOG=nonsense osvm status
check_exit "a bad OSVM_LOG does not stop the command" 0
check_contains "a bad OSVM_LOG is warned about" "OSVM_LOG=nonsense is not a level" "$ERR"

fresh
mkdir -p "$OSVM_HOME"
printf '{ "x_unknown": 1 }\n' >"$CFG"
osvm status
check_contains "warnings reach stderr by default" "x_unknown: unknown field" "$ERR"
osvm -q status
check_exit "-q status exits 0" 0
check_eq "-q silences warnings" "" "$ERR"
OSVM_LOG=error osvm status
check_eq "OSVM_LOG=error silences warnings" "" "$ERR"
printf '{ "default_execution_mode": "direkt" }\n' >"$CFG"
osvm -q status
check_exit "-q still fails on an invalid config (exit 3)" 3
check_contains "-q still prints errors" "default_execution_mode" "$ERR"

# The log file is bounded: past 1 MiB it is rotated once to osvm.log.1.
fresh
logdir="$XDG_STATE_HOME/osvm/logs"
mkdir -p "$logdir"
head -c 1048570 /dev/zero | tr '\0' 'x' >"$logdir/osvm.log"
printf 'old rotation\n' >"$logdir/osvm.log.1"
osvm status # logs "created the default isolation config"
check_exit "status with a full log exits 0" 0
check_eq "a full log is rotated to osvm.log.1" "1048570" "$(stat -c %s "$logdir/osvm.log.1" 2>/dev/null)"
check_contains "the new osvm.log holds the new line" "created the default isolation config" "$(cat "$logdir/osvm.log" 2>/dev/null)"
check_eq "only one rotation is kept" "" "$(find "$logdir" -mindepth 1 ! -name osvm.log ! -name osvm.log.1)"

# ---- the end ----

finish
