#!/usr/bin/env python3
"""A hostile MCP server for the client's tests (standard library only).

usage: hostile_server.py MODE [--http] [--record FILE]

Speaks MCP over stdio (one JSON message a line), or with --http over
Streamable HTTP on 127.0.0.1 (it prints "PORT <n>" once it listens; every
request's method, path and headers are appended to the record file as one
JSON object a line). It behaves like a plain server with one tool, "echo",
except for the one bad thing MODE names:

  ok               nothing bad (the baseline)
  version-crlf     initialize answers protocolVersion "2025-11-25\\r\\nX-Injected: yes"
  version-unknown  initialize answers protocolVersion "1999-12-31"
  version-nul      initialize answers protocolVersion "2025-11-25\\u0000junk"
  session-ctrl     (http) initialize answers Mcp-Session-Id "s\\x01x"
  event-id-ctrl    (http) tools/call answers an event stream whose id holds \\x01
                   and ends before the answer (a resume would send it back)
  nul-text         tools/call answers text, a description and an error with \\u0000
  nul-key          tools/call answers structuredContent with a key holding \\u0000
  wrong-id         tools/call is answered with another id (and never with its own)
  late             the first tools/call is answered after 1.5 s, the rest at once
  twice            tools/call is answered twice
  bad-names        tools/list holds empty, duplicate and unsafe names besides good ones
  pages            tools/list never ends: pages of 64 KiB tools, each with a next cursor
  many-tools       tools/list never ends: pages of 1000 small tools
  endless          tools/list never ends: empty pages
  no-read          on tools/call it stops reading its input and sends pings, forever
  changing         each tools/list adds a tool ("new_N"); tools/call says the list
                   changed (notifications/tools/list_changed) before its answer
  ask-evil         on tools/call it asks a question whose words hold terminal escapes
  flood            on tools/call it asks 20 questions (elicitation/create) and sends
                   12000 pings before the answer
"""
import json
import os
import sys
import threading
import time

MODE = sys.argv[1] if len(sys.argv) > 1 else "ok"
VERSION = "2025-11-25"


def result(mid, res):
    return {"jsonrpc": "2.0", "id": mid, "result": res}


def text(t):
    return {"content": [{"type": "text", "text": t}]}


def echo_tool(name="echo", desc="Echoes its message"):
    return {
        "name": name,
        "description": desc,
        "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}}},
    }


calls = {"n": 0, "lists": 0}


def tools_list(mid, params):
    cursor = int((params or {}).get("cursor") or 0)
    if MODE == "bad-names":
        tools = [
            echo_tool("good"),
            echo_tool(""),
            echo_tool("good", "a second good"),
            echo_tool("clear\x1b[2J"),
            echo_tool("bell\x07"),
            echo_tool("csi\u009b2J"),
            echo_tool("nul\x00x"),
            echo_tool("bidi\u202eexe.txt"),
            echo_tool("x" * 300),
            {"name": 123},
            {"description": "no name"},
            "not an object",
            echo_tool("also-good"),
        ]
        return result(mid, {"tools": tools})
    if MODE == "nul-text":
        return result(mid, {"tools": [echo_tool("echo", "desc\x00hidden")]})
    if MODE == "changing":
        calls["lists"] += 1
        new = [echo_tool("new_%d" % i) for i in range(1, calls["lists"] + 1)]
        return result(mid, {"tools": [echo_tool()] + new})
    if MODE == "pages":
        big = echo_tool("t%d" % cursor, "d" * 65536)
        return result(mid, {"tools": [big], "nextCursor": str(cursor + 1)})
    if MODE == "many-tools":
        tools = [echo_tool("t%d_%d" % (cursor, i), "") for i in range(1000)]
        return result(mid, {"tools": tools, "nextCursor": str(cursor + 1)})
    if MODE == "endless":
        return result(mid, {"tools": [], "nextCursor": str(cursor + 1)})
    return result(mid, {"tools": [echo_tool()]})


def tools_call(mid, params, out):
    """Answers tools/call through out(msg)."""
    calls["n"] += 1
    msg = ((params or {}).get("arguments") or {}).get("message", "")
    if MODE == "nul-text":
        r = text("before\x00after")
        r["content"].append({"type": "text", "text": "second\x00"})
        out(result(mid, r))
    elif MODE == "nul-key":
        r = text("ok")
        r["structuredContent"] = {"a\x00b": 1, "plain": "v\x00w"}
        out(result(mid, r))
    elif MODE == "wrong-id":
        out(result(mid + 1000 if isinstance(mid, int) else "x", text(msg)))
    elif MODE == "late" and calls["n"] == 1:
        time.sleep(1.5)
        out(result(mid, text("late " + msg)))
    elif MODE == "twice":
        out(result(mid, text(msg)))
        out(result(mid, text("again " + msg)))
    elif MODE == "changing":
        out({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
        out(result(mid, text("changed")))
    elif MODE == "ask-evil":
        out({"jsonrpc": "2.0", "id": "q", "method": "elicitation/create",
             "params": {"message": "EVIL\x1b]0;title\x07\x1b[2J question",
                        "requestedSchema": {"type": "object", "properties": {
                            "pin": {"type": "integer", "title": "PIN\x1b[31m",
                                    "description": "desc\x9b2J"}},
                            "required": ["pin"]}}})
        out(result(mid, text("asked")))
    elif MODE == "flood":
        for i in range(20):
            out({"jsonrpc": "2.0", "id": "q%d" % i, "method": "elicitation/create",
                 "params": {"message": "question %d" % i,
                            "requestedSchema": {"type": "object", "properties": {}}}})
        for i in range(12000):
            out({"jsonrpc": "2.0", "id": "p%d" % i, "method": "ping"})
        out(result(mid, text("after the flood")))
    elif MODE == "no-read":
        i = 0
        while True:  # until the client goes away (a write fails)
            out({"jsonrpc": "2.0", "id": "p%d" % i, "method": "ping"})
            i += 1
    else:
        out(result(mid, text(msg)))


def initialize(mid):
    v = VERSION
    if MODE == "version-crlf":
        v = VERSION + "\r\nX-Injected: yes"
    elif MODE == "version-unknown":
        v = "1999-12-31"
    elif MODE == "version-nul":
        v = VERSION + "\x00junk"
    return result(
        mid,
        {
            "protocolVersion": v,
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "hostile", "version": "1"},
        },
    )


def handle(msg, out):
    """One message from the client; answers through out(msg)."""
    method = msg.get("method")
    mid = msg.get("id")
    if method is None or mid is None:
        return  # a response or a notification
    params = msg.get("params")
    if method == "initialize":
        out(initialize(mid))
    elif method == "tools/list":
        out(tools_list(mid, params))
    elif method == "tools/call":
        tools_call(mid, params, out)
    elif method == "ping":
        out(result(mid, {}))
    else:
        out({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "no"}})


def dumps(msg):
    return json.dumps(msg, separators=(",", ":"))


# ---- stdio ----


def serve_stdio():
    def out(msg):
        sys.stdout.write(dumps(msg) + "\n")
        sys.stdout.flush()

    for line in sys.stdin:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        handle(msg, out)


# ---- Streamable HTTP ----


def serve_http(record):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def note(self):
            with lock, open(record, "a") as f:
                f.write(
                    json.dumps(
                        {"method": self.command, "path": self.path, "headers": list(self.headers.items())}
                    )
                    + "\n"
                )

        def send_raw(self, status, headers, body):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self.note()
            self.send_raw(405, [("Allow", "POST")], b"")

        def do_DELETE(self):
            self.note()
            self.send_raw(200, [], b"")

        def do_POST(self):
            self.note()
            n = int(self.headers.get("Content-Length") or 0)
            try:
                msg = json.loads(self.rfile.read(n))
            except ValueError:
                self.send_raw(400, [], b"bad json")
                return
            answers = []
            handle(msg, answers.append)
            if not answers:
                self.send_raw(202, [], b"")
                return
            headers = [("Content-Type", "application/json")]
            if msg.get("method") == "initialize":
                headers.append(("Mcp-Session-Id", "s\x01x" if MODE == "session-ctrl" else "s-1"))
            if MODE == "event-id-ctrl" and msg.get("method") == "tools/call":
                body = b"id: e\x01vil\nretry: 10\ndata: \n\n"
                self.send_raw(200, [("Content-Type", "text/event-stream")], body)
                return
            self.send_raw(200, headers, dumps(answers[0]).encode())

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


def main():
    args = sys.argv[2:]
    if "--http" in args:
        i = args.index("--record") if "--record" in args else -1
        serve_http(args[i + 1] if i >= 0 else os.devnull)
    else:
        try:
            serve_stdio()
        except (BrokenPipeError, KeyboardInterrupt):
            pass


if __name__ == "__main__":
    main()
