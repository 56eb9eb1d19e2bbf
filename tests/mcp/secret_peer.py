#!/usr/bin/env python3
"""An HTTP(S) endpoint for the secret tests: logs what it receives.

usage: secret_peer.py PORT LOG [CERT KEY]   (with CERT and KEY: HTTPS)

Each request is appended to LOG as one JSON line: method, path, headers and
body. It answers GitHub-like JSON: /users/NAME -> a user, /repos/O/R -> a
repository, anything else -> {"ok": true, "path": ...}. With a keep-alive
HTTP/1.1 connection, as a real API does.
"""
import json
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def handle_one(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        rec = {
            "method": self.command,
            "path": self.path,
            "headers": {k: v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
        }
        with LOCK, open(sys.argv[2], "a") as f:
            f.write(json.dumps(rec) + "\n")
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) == 2 and parts[0] == "users":
            out = {"login": parts[1], "id": 4242, "type": "User", "name": "Fake " + parts[1],
                   "auth_seen": self.headers.get("Authorization", "")[:7]}
        elif len(parts) == 3 and parts[0] == "repos":
            out = {"id": 99, "name": parts[2], "full_name": parts[1] + "/" + parts[2],
                   "owner": {"login": parts[1]}}
        else:
            out = {"ok": True, "path": self.path}
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    if len(sys.argv) > 4:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
