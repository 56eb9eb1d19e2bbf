#!/usr/bin/env python3
"""`osvm mcp serve` while the registry changes: a server added with
`osvm mcp add` is served and announced with notifications/tools/list_changed,
one removed is no longer served. Prints one JSON object; gateway.sh asserts.

usage: gateway_registry.py OSVM PEER_SCRIPT
"""
import json
import queue
import subprocess
import sys
import threading
import time

osvm, peer = sys.argv[1], sys.argv[2]
p = subprocess.Popen([osvm, "mcp", "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
q = queue.Queue()
threading.Thread(target=lambda: [q.put(json.loads(l)) for l in p.stdout], daemon=True).start()
notes = []


def send(m):
    p.stdin.write((json.dumps(m) + "\n").encode())
    p.stdin.flush()


def call(mid, method, params=None):
    send({"jsonrpc": "2.0", "id": mid, "method": method, "params": params or {}})
    while True:
        m = q.get(timeout=120)  # (only guards a hang)
        if m.get("id") == mid:
            return m
        notes.append(m.get("method"))


def wait_changed():
    # (the bound only guards a hang: 60 s)
    end = time.time() + 60
    while time.time() < end:
        if "notifications/tools/list_changed" in notes:
            notes.clear()
            return True
        try:
            m = q.get(timeout=0.2)
            notes.append(m.get("method"))
        except queue.Empty:
            pass
    return False


def names():
    return sorted(t["name"] for t in call(next(ids), "tools/list")["result"]["tools"])


ids = iter(range(1, 1000))
out = {}
call(next(ids), "initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                               "clientInfo": {"name": "registry-test", "version": "0"}})
send({"jsonrpc": "2.0", "method": "notifications/initialized"})
out["before"] = names()
notes.clear()
subprocess.run([osvm, "mcp", "add", "second", "--", "python3", peer], check=True,
               stdout=subprocess.DEVNULL)
out["added_changed"] = wait_changed()
out["after_add"] = names()
r = call(next(ids), "tools/call", {"name": "second__echo", "arguments": {"message": "new"}})
out["second_echo"] = r.get("result", {}).get("content", [{}])[0].get("text")
subprocess.run([osvm, "mcp", "remove", "second"], check=True, stdout=subprocess.DEVNULL)
out["removed_changed"] = wait_changed()
out["after_remove"] = names()
r = call(next(ids), "tools/call", {"name": "second__echo", "arguments": {"message": "gone"}})
out["removed_call"] = r.get("error", {}).get("code")
p.stdin.close()
out["exit"] = p.wait(timeout=120)
print(json.dumps(out))
