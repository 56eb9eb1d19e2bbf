#!/usr/bin/env bash
# The chat through a pseudo-terminal (tests/cli/chat_pty.py) with the real
# server-everything registered.
# tests/run.sh: also with OSVM_NO_KVM=1 where KVM is usable (the chat inside μVM-1 or directly).
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

PEERS=$("$ROOT/tests/peers/install.sh" 2>/dev/null) || PEERS=""
EVERYTHING=$PEERS/node_modules/@modelcontextprotocol/server-everything/dist/index.js
if [ -z "$PEERS" ] || [ ! -f "$EVERYTHING" ] || ! command -v python3 >/dev/null; then
        skip "the chat in a pseudo-terminal" "node, python3 or the npm test peers are missing"
        finish
        exit
fi
fresh
osvm mcp add everything -- node "$EVERYTHING" stdio
check_exit "server-everything registered" 0
# the tool pack's images, for a tool that runs in a VM of its own
export OSVM_BUILTIN_IMAGES=$ROOT/build/unikernels
# whether osvm can run VMs here, as osvm decides (OSVM_NO_KVM=1 counts)
OSVM_TEST_KVM=0
kvm_probe && OSVM_TEST_KVM=1
export OSVM_TEST_KVM
python3 "$ROOT/tests/cli/chat_pty.py" "$OSVM"
