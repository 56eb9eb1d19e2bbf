#!/bin/sh
# osvm's main job on the built-in default: the agent, with the offline planner
# (or the LLM that OSVM_AI_URL / ai.json names), and two reference MCP servers
# registered in a demo home (build/demo-home, so that ~/.config is left alone).
# It answers one prompt, then opens the chat when there is a terminal.
set -eu
cd "$(dirname "$0")/.."
peers=$(tests/peers/install.sh demo) # only what the demo uses (not the tests' peers)
export OSVM_HOME="${OSVM_HOME:-$PWD/build/demo-home}"
osvm=build/osvm
registered=$("$osvm" -q mcp list)
case "$registered" in
*everything*) ;;
*) "$osvm" -q mcp add everything -- node \
        "$peers/node_modules/@modelcontextprotocol/server-everything/dist/index.js" stdio ;;
esac
case "$registered" in
*files*) ;;
*) "$osvm" -q mcp add files -- node \
        "$peers/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js" /tmp ;;
esac
echo "\$ osvm -p \"add 2 and 3\""
"$osvm" -p "add 2 and 3"
if [ -t 0 ]; then
        echo
        echo "\$ osvm        (the chat; try: echo hello world, list the files in /tmp)"
        exec "$osvm"
fi
