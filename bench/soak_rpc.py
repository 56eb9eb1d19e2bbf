#!/usr/bin/env python3
"""A stand-in Solana JSON-RPC endpoint for the soak (bench/soak.sh): fixed
answers, so that every call of the osvm-mcp pack has one right result, and a
few methods that make a tool pass a limit (standard library only).

usage: soak_rpc.py PORT_FILE     (listens on a free loopback port, writes it there)

  getSlot                  4242
  getBalance               1500000000 lamports at slot 7
  getVersion               solana-core 1.18.26, feature set 123
  getBlockHeight           answers after 5 s (the caller's time limit is shorter)
  getEpochInfo             answers after 5 s (the caller cancels the call)
  getTokenAccountsByOwner  ~3.9 MB of small numbers (more than a 16 MB guest can parse)
  getSupply                a 5 MB body (more than osvm's host-call answer limit)
"""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def result(method):
    if method == "getSlot":
        return 4242
    if method == "getBalance":
        return {"context": {"slot": 7}, "value": 1500000000}
    if method == "getVersion":
        return {"solana-core": "1.18.26", "feature-set": 123}
    if method in ("getBlockHeight", "getEpochInfo"):
        return 1
    if method == "getTokenAccountsByOwner":
        return {"context": {"slot": 1}, "value": [0] * 1950000}
    if method == "getSupply":
        return {"context": {"slot": 1}, "value": "x" * (5 << 20)}
    return None


# Each result encoded once: a loaded machine answers the big ones in time too.
RESULTS = {}


def answer(method):
    if method in ("getBlockHeight", "getEpochInfo"):
        time.sleep(5)
    if method not in RESULTS:
        RESULTS[method] = json.dumps(result(method), separators=(",", ":")).encode()
    return RESULTS[method]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        try:
            req = json.loads(self.rfile.read(n))
            rid = json.dumps(req.get("id")).encode()
            body = b'{"jsonrpc":"2.0","id":' + rid + b',"result":' + answer(req.get("method")) + b"}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the caller gave up (a limit, a cancel)

    def log_message(self, *a):
        pass


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
srv.handle_error = lambda request, address: None  # a caller that gave up mid-request
for m in ("getTokenAccountsByOwner", "getSupply"):
    answer(m)
with open(sys.argv[1], "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
