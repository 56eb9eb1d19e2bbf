#!/usr/bin/env python3
"""An MCP server (stdio) for the gateway's tests, standard library only.

Tools: "echo" (the same name as server-everything's, so that the gateway
must keep the two apart: it answers "peer: MESSAGE"), and "add-tool", which
adds the tool "extra" and says so with notifications/tools/list_changed
before it answers.
"""
import json
import sys

tools = [
    {"name": "echo", "description": "Echoes its message, from the peer",
     "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}}}},
    {"name": "add-tool", "description": "Adds the tool 'extra'",
     "inputSchema": {"type": "object"}},
]


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def text(t, err=False):
    r = {"content": [{"type": "text", "text": t}]}
    if err:
        r["isError"] = True
    return r


for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    mid, method, params = msg.get("id"), msg.get("method"), msg.get("params") or {}
    if mid is None or method is None:
        continue
    if method == "initialize":
        res = {"protocolVersion": "2025-11-25", "capabilities": {"tools": {"listChanged": True}},
               "serverInfo": {"name": "gateway-peer", "version": "1"},
               "instructions": "The peer's own words."}
    elif method == "ping":
        res = {}
    elif method == "tools/list":
        res = {"tools": tools}
    elif method == "tools/call":
        name = params.get("name")
        args = params.get("arguments") or {}
        if name == "echo":
            res = text("peer: " + str(args.get("message")))
        elif name == "add-tool":
            if not any(t["name"] == "extra" for t in tools):
                tools.append({"name": "extra", "description": "Added at run time",
                              "inputSchema": {"type": "object"}})
            send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
            res = text("added")
        elif name == "extra":
            res = text("extra ran")
        else:
            res = text("Unknown tool: %s" % name, True)
    else:
        send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "Method not found"}})
        continue
    send({"jsonrpc": "2.0", "id": mid, "result": res})
