#!/usr/bin/env python3
"""Hostile and protocol cases against `osvm mcp serve --http` (standard
library only): the token, Host and Origin checks, the session header, bad
bodies, batches, over-size messages, and resumption of a dropped stream with
Last-Event-ID. Prints one JSON object of what came back; gateway.sh asserts.

usage: gateway_http.py URL TOKEN
"""
import http.client
import json
import sys
import urllib.parse

url, token = sys.argv[1], sys.argv[2]
u = urllib.parse.urlparse(url)
HOSTPORT = u.netloc
ACCEPT = "application/json, text/event-stream"


def conn():
    # (the timeout only guards a hang: 120 s)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=120)


def request(method, body=None, headers=None, path=None, read=True):
    h = {"Host": HOSTPORT, "Authorization": "Bearer " + token, "Accept": ACCEPT,
         "Content-Type": "application/json"}
    h.update(headers or {})
    h = {k: v for k, v in h.items() if v is not None}
    c = conn()
    data = body if isinstance(body, (bytes, type(None))) else body.encode()
    c.request(method, path or u.path, body=data, headers=h)
    r = c.getresponse()
    if not read:
        return r, c
    text = r.read().decode("utf-8", "replace")
    c.close()
    return r, text


def events(text):
    """The data of each SSE event, parsed (empty ones left out)."""
    out = []
    for block in text.split("\n\n"):
        data = [l[5:].lstrip() for l in block.split("\n") if l.startswith("data:")]
        if data and "".join(data):
            out.append(json.loads("".join(data)))
    return out


def rpc(mid, method, params=None):
    m = {"jsonrpc": "2.0", "id": mid, "method": method}
    if params is not None:
        m["params"] = params
    return json.dumps(m)


out = {}
init = rpc(1, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                             "clientInfo": {"name": "py-http", "version": "0"}})
# the checks before anything is served
r, t = request("POST", init, {"Authorization": None})
out["no_token"] = [r.status, r.getheader("WWW-Authenticate")]
r, t = request("POST", init, {"Authorization": "Bearer wrong"})
out["wrong_token"] = r.status
r, t = request("POST", init, {"Authorization": "Bearer " + token[:-1]})
out["token_prefix"] = r.status
r, t = request("POST", init, {"Host": "evil.example.com"})
out["evil_host"] = r.status
r, t = request("POST", init, {"Host": "evil.example.com:%d" % u.port})
out["evil_host_port"] = r.status
r, t = request("POST", init, {"Origin": "http://evil.example.com"})
out["evil_origin"] = r.status
r, t = request("POST", init, {"Origin": "http://localhost:%d" % u.port})
out["local_origin"] = r.status
r, t = request("POST", init, path="/other")
out["other_path"] = r.status
r, t = request("POST", init, {"Accept": "application/json"})
out["no_sse_accept"] = r.status
r, t = request("PUT", init)
out["put"] = r.status

# a session
r, t = request("POST", init)
sid = r.getheader("Mcp-Session-Id")
out["init"] = [r.status, r.getheader("Content-Type"), bool(sid), events(t)[0]["result"]["serverInfo"]["name"]]
S = {"Mcp-Session-Id": sid}
r, t = request("POST", '{"jsonrpc":"2.0","method":"notifications/initialized"}', S)
out["initialized"] = r.status


def refusal(r, t):
    """The status and the JSON-RPC error's code and id of a refused POST."""
    try:
        e = json.loads(t)
        return [r.status, e["error"]["code"], e["id"]]
    except (ValueError, KeyError, TypeError):
        return [r.status, "not a JSON-RPC error: " + t[:80]]


r, t = request("POST", rpc(2, "ping"))
out["no_session"] = refusal(r, t)
r, t = request("POST", rpc(2, "ping"), {"Mcp-Session-Id": "nosuchsession"})
out["unknown_session"] = refusal(r, t)
# an id neither a string nor an integer: refused at once, not a stream that never ends
r, t = request("POST", '{"jsonrpc":"2.0","id":null,"method":"ping"}', S)
out["null_id"] = refusal(r, t)
r, t = request("POST", '{"jsonrpc":"2.0","id":[1],"method":"ping"}', S)
out["array_id"] = refusal(r, t)
r, t = request("POST", rpc(3, "ping"), S)
out["ping"] = events(t)
r, t = request("POST", '{"jsonrpc":"2.0","id":4,', S)
out["bad_json"] = [r.status, json.loads(t)["error"]["code"]]
r, t = request("POST", "[" + rpc(5, "ping") + "]", S)
out["batch"] = [r.status, json.loads(t)["error"]["code"], json.loads(t)["error"]["message"]]
r, t = request("POST", rpc(6, "ping", {"pad": "x" * (17 << 20)}), S)
out["huge"] = [r.status, json.loads(t)["error"]["code"]]
r, t = request("POST", rpc(7, "tools/call", {"name": "ev__nope"}), S)
out["unknown_tool"] = events(t)[-1]["error"]["code"]
r, t = request("POST", rpc(8, "ping"), dict(S, **{"Content-Type": "text/plain"}))
out["text_plain"] = r.status

# resumption: a long call's stream dropped after its first progress, taken
# up again with GET and Last-Event-ID: the rest of its progress and the result
r, c = request("POST", rpc(9, "tools/call", {"name": "ev__trigger-long-running-operation",
                                             "arguments": {"duration": 2, "steps": 4},
                                             "_meta": {"progressToken": "tok"}}), S, read=False)
last_id, seen = None, []
buf = b""
while True:
    line = r.fp.readline()
    if not line:
        break
    line = line.decode().rstrip("\n")
    if line.startswith("id:"):
        last_id = line[3:].strip()
    elif line.startswith("data:") and line[5:].strip():
        seen.append(json.loads(line[5:].strip()))
        if seen[-1].get("method") == "notifications/progress":
            break
c.close()  # dropped mid-call
out["before_drop"] = [m.get("method") for m in seen]
r, t = request("GET", None, dict(S, **{"Last-Event-ID": last_id, "Content-Type": None}))
rest = events(t)
out["resumed"] = [r.status, [m.get("method") or ("result" if "result" in m else "error") for m in rest]]
out["resumed_result"] = rest[-1].get("result", {}).get("content", [{}])[0].get("text", "") if rest else None
out["progress_token"] = [m["params"]["progressToken"] for m in seen + rest if m.get("method") == "notifications/progress"][:1]

# DELETE ends the session
r, t = request("DELETE", None, dict(S, **{"Content-Type": None}))
out["delete"] = r.status
r, t = request("POST", rpc(10, "ping"), S)
out["after_delete"] = r.status
print(json.dumps(out))
