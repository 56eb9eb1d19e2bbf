#!/usr/bin/env python3
"""A small MCP server (stdio, one JSON message a line) for the soak
(bench/soak.sh), standard library only.

usage: soak_server.py [CRASH_EVERY]

Tools:
  echo  {message}  answers "echo: MESSAGE (call N)", N its tools/call count so far;
                   with CRASH_EVERY, the process exits without answering on every
                   CRASH_EVERY-th tools/call (a crash mid-call)
  big   {}         answers one message of 17 MiB (past osvm's 16 MiB limit)
  sleep {ms}       answers after MS milliseconds (in a thread of its own)
  hog   {mb}       fills MB MiB of memory, then answers (past its sandbox's memory
                   limit it is killed, or dies of MemoryError, mid-call)
"""
import json
import os
import sys
import threading
import time

CRASH_EVERY = int(sys.argv[1]) if len(sys.argv) > 1 else 0
out_lock = threading.Lock()
calls = 0


def send(msg):
    data = (json.dumps(msg, separators=(",", ":")) + "\n").encode()
    with out_lock:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def text(mid, t):
    send({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": t}]}})


def tool(name, props):
    return {"name": name, "description": name, "inputSchema": {"type": "object", "properties": props}}


TOOLS = [
    tool("echo", {"message": {"type": "string"}}),
    tool("big", {}),
    tool("sleep", {"ms": {"type": "integer"}}),
    tool("hog", {"mb": {"type": "integer"}}),
]


def sleeper(mid, ms):
    time.sleep(ms / 1000.0)
    text(mid, "slept %d ms" % ms)


for line in sys.stdin.buffer:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    mid, method = msg.get("id"), msg.get("method")
    params = msg.get("params") or {}
    if mid is None:
        continue  # a notification
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": mid, "result": {
            "protocolVersion": params.get("protocolVersion", "2025-11-25"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "soak", "version": "1"}}})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": mid, "result": {"tools": TOOLS}})
    elif method == "tools/call":
        calls += 1
        name, args = params.get("name"), params.get("arguments") or {}
        if CRASH_EVERY and calls % CRASH_EVERY == 0:
            os._exit(3)
        if name == "echo":
            text(mid, "echo: %s (call %d)" % (args.get("message"), calls))
        elif name == "big":
            text(mid, "b" * (17 << 20))
        elif name == "hog":
            mb = int(args.get("mb", 0))
            held = bytearray(mb << 20)
            for i in range(0, len(held), 4096):
                held[i] = 1
            text(mid, "held %d MiB" % mb)
            del held
        elif name == "sleep":
            threading.Thread(target=sleeper, args=(mid, int(args.get("ms", 0))), daemon=True).start()
        else:
            send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32602, "message": "no such tool"}})
    elif method == "ping":
        send({"jsonrpc": "2.0", "id": mid, "result": {}})
    else:
        send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "no such method"}})
