#!/usr/bin/env python3
"""An OAuth-protected MCP server and its authorization server, on loopback,
for the client's tests (standard library only).

usage: oauth_peer.py MODE RECORD_FILE

Two origins: the MCP server (the protected resource) on one port, the
authorization server on another. Prints "RS <port>" and "AS <port>" once
both listen. Every request either receives is appended to RECORD_FILE as one
JSON object a line: {"origin": "rs"|"as", "method", "path", "headers"}.

The MCP server answers POST /mcp with one JSON message; without a valid
token it answers 401 with a WWW-Authenticate challenge naming its protected
resource metadata. Tools: "whoami" (needs scope mcp:read) and "write"
(needs mcp:write: a 403 insufficient_scope first, a step-up). The
authorization server has metadata, dynamic registration, an authorization
endpoint that redirects at once (no person: the test's $BROWSER follows the
redirect), and a token endpoint that checks PKCE S256, the resource and the
code, and issues refresh tokens.

MODE makes one thing bad:
  ok              nothing (the baseline)
  prm-elsewhere   the protected resource metadata names a resource on the
                  authorization server's origin, not the MCP server
  issuer-wrong    the authorization server's metadata names another issuer
  token-junk      the token endpoint answers 200 with an HTML page
  redirect-away   with a valid token, POST /mcp answers 307 to the
                  authorization server's origin
  redirect-here   POST /mcp answers 307 to /mcp2 on its own origin (once per path)
  expire          a token from a sign-in expires after 3 requests (401 invalid_token):
                  the next run refreshes it
  machine         (not bad) the authorization server offers only the
                  client_credentials grant, its clients authenticating with
                  private_key_jwt: the token endpoint records the assertion's
                  header and claims ({"origin": "as", "assertion": ...}; the
                  signature is not checked here, the conformance suite does)
"""
import base64
import hashlib
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = sys.argv[1]
RECORD = sys.argv[2]
lock = threading.Lock()
state = {"codes": {}, "tokens": {}, "refresh": {}, "n": 0, "uses": {}, "short": set()}
ports = {}


def record(origin, handler):
    with lock, open(RECORD, "a") as f:
        f.write(json.dumps({"origin": origin, "method": handler.command, "path": handler.path,
                            "headers": dict(handler.headers.items())}) + "\n")


def rs_url():
    return "http://127.0.0.1:%d" % ports["rs"]


def as_url():
    return "http://127.0.0.1:%d" % ports["as"]


class Base(BaseHTTPRequestHandler):
    origin = "?"

    def log_message(self, *a):
        pass

    def send_json(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n).decode() if n else ""


class RS(Base):
    origin = "rs"

    def challenge(self, status, scope, error=None):
        parts = ['resource_metadata="%s/.well-known/oauth-protected-resource/mcp"' % rs_url(),
                 'scope="%s"' % scope]
        if error:
            parts.append('error="%s"' % error)
        self.send_json(status, {"error": error or "invalid_token"},
                       [("WWW-Authenticate", "Bearer " + ", ".join(parts))])

    def do_GET(self):
        record(self.origin, self)
        if self.path == "/.well-known/oauth-protected-resource/mcp":
            res = as_url() + "/mcp" if MODE == "prm-elsewhere" else rs_url() + "/mcp"
            self.send_json(200, {"resource": res, "authorization_servers": [as_url()],
                                 "scopes_supported": ["mcp:read", "mcp:write"]})
        else:
            self.send_response(405)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def do_DELETE(self):
        record(self.origin, self)
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        record(self.origin, self)
        raw = self.body()
        msg = json.loads(raw) if raw else {}
        if MODE == "redirect-here" and self.path == "/mcp":
            self.send_response(307)
            self.send_header("Location", rs_url() + "/mcp2")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        auth = self.headers.get("Authorization", "")
        tok = auth[7:] if auth.startswith("Bearer ") else None
        with lock:
            scopes = state["tokens"].get(tok)
        if scopes is None:
            return self.challenge(401, "mcp:read")
        with lock:
            state["uses"][tok] = state["uses"].get(tok, 0) + 1
            expired = tok in state["short"] and state["uses"][tok] > 3
        if expired:
            return self.challenge(401, "mcp:read", "invalid_token")
        if MODE == "redirect-away":
            self.send_response(307)
            self.send_header("Location", as_url() + "/mcp")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        method = msg.get("method", "")
        if "id" not in msg:
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if method == "initialize":
            result = {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                      "serverInfo": {"name": "oauth-peer", "version": "1"}}
        elif method == "tools/list":
            result = {"tools": [{"name": "whoami", "inputSchema": {"type": "object"}},
                                {"name": "write", "inputSchema": {"type": "object"}}]}
        elif method == "tools/call":
            name = msg["params"]["name"]
            if name == "write" and "mcp:write" not in scopes:
                return self.challenge(403, "mcp:write", "insufficient_scope")
            result = {"content": [{"type": "text",
                                   "text": "%s with scopes %s" % (name, " ".join(sorted(scopes)))}]}
        else:
            result = {}
        self.send_json(200, {"jsonrpc": "2.0", "id": msg["id"], "result": result})


class AS(Base):
    origin = "as"

    def do_GET(self):
        record(self.origin, self)
        u = urllib.parse.urlparse(self.path)
        if u.path == "/.well-known/oauth-authorization-server":
            issuer = "http://127.0.0.1:1" if MODE == "issuer-wrong" else as_url()
            self.send_json(200, {
                "issuer": issuer,
                "authorization_endpoint": as_url() + "/authorize",
                "token_endpoint": as_url() + "/token",
                "registration_endpoint": as_url() + "/register",
                "response_types_supported": ["code"],
                "grant_types_supported": ["client_credentials"] if MODE == "machine"
                else ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"] if MODE == "machine"
                else ["none"],
            })
        elif u.path == "/authorize":
            q = dict(urllib.parse.parse_qsl(u.query))
            code = "code-%d" % len(state["codes"])
            with lock:
                state["codes"][code] = q
            loc = q["redirect_uri"] + "?" + urllib.parse.urlencode({"code": code, "state": q["state"]})
            self.send_response(302)
            self.send_header("Location", loc)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_json(404, {"error": "not found"})

    def do_POST(self):
        record(self.origin, self)
        raw = self.body()
        if self.path == "/register":
            req = json.loads(raw)
            return self.send_json(201, {"client_id": "client-1", "redirect_uris": req["redirect_uris"],
                                        "token_endpoint_auth_method": "none"})
        if self.path != "/token":
            return self.send_json(404, {"error": "not found"})
        if MODE == "token-junk":
            body = b"<html>\x1b[2J not a token</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        f = dict(urllib.parse.parse_qsl(raw))
        with lock:
            if f.get("grant_type") == "authorization_code":
                q = state["codes"].pop(f.get("code"), None)
                if not q:
                    return self.send_json(400, {"error": "invalid_grant"})
                digest = hashlib.sha256(f.get("code_verifier", "").encode()).digest()
                want = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
                if want != q.get("code_challenge") or q.get("code_challenge_method") != "S256":
                    return self.send_json(400, {"error": "invalid_grant", "error_description": "PKCE"})
                if f.get("resource") != rs_url() + "/mcp" or q.get("resource") != rs_url() + "/mcp":
                    return self.send_json(400, {"error": "invalid_target"})
                scopes = set(q.get("scope", "").split()) - {""}
            elif f.get("grant_type") == "client_credentials" and MODE == "machine":
                parts = f.get("client_assertion", "").split(".")
                if (f.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                        or len(parts) != 3):
                    return self.send_json(401, {"error": "invalid_client"})
                dec = lambda p: json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
                with open(RECORD, "a") as rf:
                    rf.write(json.dumps({"origin": "as", "assertion": {
                        "header": dec(parts[0]), "claims": dec(parts[1]),
                        "signature_bytes": len(base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))),
                        "client_id": f.get("client_id"), "issuer": as_url()}}) + "\n")
                scopes = set(f.get("scope", "").split()) - {""}
            elif f.get("grant_type") == "refresh_token":
                scopes = state["refresh"].pop(f.get("refresh_token"), None)
                if scopes is None:
                    return self.send_json(400, {"error": "invalid_grant"})
            else:
                return self.send_json(400, {"error": "unsupported_grant_type"})
            state["n"] += 1
            tok = "access-%d" % state["n"]
            ref = "refresh-%d" % state["n"]
            state["tokens"][tok] = scopes
            state["refresh"][ref] = scopes
            if MODE == "expire" and f.get("grant_type") == "authorization_code":
                state["short"].add(tok)
        self.send_json(200, {"access_token": tok, "token_type": "Bearer", "expires_in": 3600,
                             "refresh_token": ref, "scope": " ".join(sorted(scopes))})


def main():
    rs = ThreadingHTTPServer(("127.0.0.1", 0), RS)
    asv = ThreadingHTTPServer(("127.0.0.1", 0), AS)
    ports["rs"] = rs.server_address[1]
    ports["as"] = asv.server_address[1]
    threading.Thread(target=asv.serve_forever, daemon=True).start()
    print("RS %d" % ports["rs"], flush=True)
    print("AS %d" % ports["as"], flush=True)
    rs.serve_forever()


if __name__ == "__main__":
    main()
