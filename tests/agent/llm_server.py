#!/usr/bin/env python3
"""A scripted fake LLM endpoint for the planner tests (standard library only).

usage: llm_server.py --script FILE --record FILE [--port N]

Listens on 127.0.0.1 (port N, or a free one) and prints "PORT <n>" on stdout
once it accepts connections. Each POST is answered with the next entry of
the script, a JSON list of
    {"status": 200, "headers": {"Name": "value"}, "body": <JSON value or string>,
     "delay_ms": 0, "pad_bytes": 0}
(body a string is sent as it is; anything else as JSON; pad_bytes spaces
follow it, to make a large reply). Past the end of the
script it answers 599. Every request is recorded before it is answered: the
record file is rewritten, atomically, as a JSON list of
    {"method", "path", "headers": {lower-case name: value}, "body": <JSON or raw text>}.
"""
import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, script, record):
        self.script = script
        self.record = record
        self.requests = []
        self.lock = threading.Lock()

    def take(self, req):
        with self.lock:
            n = len(self.requests)
            self.requests.append(req)
            tmp = self.record + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.requests, f, indent=1)
            os.replace(tmp, self.record)
            if n < len(self.script):
                return self.script[n]
            return {"status": 599, "body": {"error": {"message": "script exhausted"}}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.answer({"status": 405, "body": {"error": {"message": "POST only"}}})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n).decode("utf-8", "replace")
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        req = {
            "method": "POST",
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
        }
        self.answer(self.server.state.take(req))

    def answer(self, entry):
        delay = entry.get("delay_ms", 0)
        if delay:
            time.sleep(delay / 1000.0)
        body = entry.get("body", "")
        if not isinstance(body, str):
            body = json.dumps(body)
        data = body.encode("utf-8") + b" " * entry.get("pad_bytes", 0)
        try:
            self.send_response(entry.get("status", 200))
            headers = entry.get("headers", {})
            if not any(k.lower() == "content-type" for k in headers):
                self.send_header("Content-Type", "application/json")
            for k, v in headers.items():
                self.send_header(k, str(v))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    with open(a.script) as f:
        script = json.load(f)
    if not isinstance(script, list):
        sys.exit("llm_server.py: the script must be a JSON list")
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.state = State(script, a.record)
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
