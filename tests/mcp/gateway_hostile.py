#!/usr/bin/env python3
"""Hostile input to `osvm mcp serve` over stdio: each case is one line sent,
and what came back is printed as one JSON object a case (the shell test
asserts on it). After all of them, a ping must still be answered.

usage: gateway_hostile.py OSVM [ARGS...]
"""
import json
import subprocess
import sys
import threading
import queue

p = subprocess.Popen(sys.argv[1:] + [], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
q = queue.Queue()


def reader():
    for line in p.stdout:
        q.put(line)
    q.put(None)


threading.Thread(target=reader, daemon=True).start()


def send(raw):
    p.stdin.write(raw if isinstance(raw, bytes) else raw.encode())
    p.stdin.write(b"\n")
    p.stdin.flush()


def recv():
    # (the bound only guards a hang: 120 s)
    line = q.get(timeout=120)
    return json.loads(line) if line else None


def req(mid, method, params=None):
    m = {"jsonrpc": "2.0", "id": mid, "method": method}
    if params is not None:
        m["params"] = params
    return json.dumps(m)


out = {}
send(req(1, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                           "clientInfo": {"name": "hostile", "version": "0"}}))
out["initialize"] = recv()["result"]["serverInfo"]["name"]
send('{"jsonrpc":"2.0","method":"notifications/initialized"}')
cases = [
    ("bad_json", '{"jsonrpc":"2.0","id":2,"method":'),
    ("batch", "[" + req(3, "ping") + "," + req(4, "ping") + "]"),
    ("not_object", '"just a string"'),
    ("no_jsonrpc", '{"id":5,"method":"ping"}'),
    ("bad_id", '{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}'),
    ("unknown_method", req(6, "no/such/method")),
    ("unknown_tool", req(7, "tools/call", {"name": "ev__no_such_tool"})),
    ("unknown_server", req(8, "tools/call", {"name": "nobody__echo"})),
    ("no_name", req(9, "tools/call", {"arguments": {}})),
    ("args_not_object", req(10, "tools/call", {"name": "ev__echo", "arguments": [1, 2]})),
    ("control_name", req(11, "tools/call", {"name": "ev__\u001b[31mred"})),
    ("bad_params", '{"jsonrpc":"2.0","id":12,"method":"tools/list","params":[1]}'),
    ("huge", b'{"jsonrpc":"2.0","id":13,"method":"ping","params":{"pad":"' + b"x" * (17 << 20) + b'"}}'),
    ("bad_utf8", b'{"jsonrpc":"2.0","id":14,"method":"ping","params":{"x":"\xff\xfe"}}'),
]
for name, raw in cases:
    send(raw)
    out[name] = recv()


def long_call(mid):
    return req(mid, "tools/call", {"name": "ev__trigger-long-running-operation",
                                   "arguments": {"duration": 60, "steps": 60}})


def cancel(mid):
    return json.dumps({"jsonrpc": "2.0", "method": "notifications/cancelled",
                       "params": {"requestId": mid, "reason": "the test is done with it"}})


# A ping behind a long call in the same write (read together): answered while
# the call runs. Then a ping sent alone while it runs. Each long call is then
# cancelled: no answer comes for it (the spec), and the next ping shows the
# gateway still reads.
send(long_call(20).encode() + b"\n" + req(21, "ping").encode())
out["ping_read_with_long"] = recv()
send(cancel(20))
send(long_call(22))
send(req(23, "ping"))
out["ping_while_long"] = recv()
send(cancel(22))
send(req(99, "ping"))
out["ping_after"] = recv()
p.stdin.close()
out["exit"] = p.wait(timeout=120)
print(json.dumps(out))
