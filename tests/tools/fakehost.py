#!/usr/bin/env python3
"""A stand-in for osvm's host-call service (docs/tool-images.md, "Host calls").

Runs a tool program as a host process with fd 3 one end of a socket pair,
answers each host-call line from the other end with a canned answer, and
records what the tool asked. stdin and stdout are the tool's own.

usage: fakehost.py [--log FILE] [--no-fd3] [--answer SPEC]... -- CMD [ARGS...]

SPEC, one per host call in order (the last one repeats):
  result:JSON      HTTP 200 with a JSON-RPC response carrying JSON as result
  rpcerror:JSON    HTTP 200 with a JSON-RPC response carrying JSON as error
  body:STATUS:TEXT HTTP STATUS with TEXT as the body
  raw:TEXT         TEXT as the answer line itself
  hosterror:TEXT   {"ok": false, "error": TEXT}
  close            closes the channel without answering
  big:N            an answer line of N bytes (not JSON)
  many:N           HTTP 200, a JSON-RPC result: a list of N account-like objects

The log (a JSON array) has one entry per request: {"call": the request line
parsed, "rpc": its body parsed} or {"bad": the line} when it is not JSON.
Exit status: the tool's (124 when it ran past HANG_S, a bound that only
guards against a hang, generous for a loaded machine under the sanitizers).
"""
import json
import os
import socket
import subprocess
import sys
import threading

HANG_S = 120


def answer(spec, rpc):
    kind, _, rest = spec.partition(":")
    rid = rpc.get("id") if isinstance(rpc, dict) else None
    if kind in ("result", "rpcerror"):
        key = "result" if kind == "result" else "error"
        body = json.dumps({"jsonrpc": "2.0", "id": rid, key: json.loads(rest)})
        return json.dumps({"ok": True, "status": 200, "content_type": "application/json",
                           "body": body}) + "\n"
    if kind == "body":
        status, _, text = rest.partition(":")
        return json.dumps({"ok": True, "status": int(status), "body": text}) + "\n"
    if kind == "raw":
        return rest + "\n"
    if kind == "hosterror":
        return json.dumps({"ok": False, "error": rest}) + "\n"
    if kind == "close":
        return None
    if kind == "big":
        return "x" * int(rest) + "\n"
    if kind == "many":
        acct = {"pubkey": "11111111111111111111111111111111",
                "account": {"lamports": 1, "owner": "11111111111111111111111111111111",
                            "data": ["", "base64"], "executable": False, "rentEpoch": 0}}
        body = json.dumps({"jsonrpc": "2.0", "id": rid, "result": [acct] * int(rest)})
        return json.dumps({"ok": True, "status": 200, "body": body}) + "\n"
    raise SystemExit("fakehost: unknown answer " + spec)


def serve(sock, answers, log):
    f = sock.makefile("rb")
    i = 0
    while True:
        line = f.readline()
        if not line:
            break
        entry = {}
        rpc = None
        try:
            call = json.loads(line)
            entry["call"] = call
            try:
                rpc = json.loads(call.get("body", ""))
            except ValueError:
                rpc = None
            entry["rpc"] = rpc
        except ValueError:
            entry["bad"] = line.decode("utf-8", "replace")
        log.append(entry)
        spec = answers[min(i, len(answers) - 1)] if answers else "close"
        i += 1
        a = answer(spec, rpc)
        if a is None:
            break
        sock.sendall(a.encode())
    sock.close()


def main():
    args = sys.argv[1:]
    logfile, no_fd3, answers = None, False, []
    while args and args[0] != "--":
        o = args.pop(0)
        if o == "--log":
            logfile = args.pop(0)
        elif o == "--no-fd3":
            no_fd3 = True
        elif o == "--answer":
            answers.append(args.pop(0))
        else:
            raise SystemExit("fakehost: unknown option " + o)
    cmd = args[1:]
    log = []
    if no_fd3:
        p = subprocess.Popen(cmd, close_fds=True)
        t = None
    else:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        fd = theirs.fileno()
        p = subprocess.Popen(cmd, pass_fds=(fd, 3), preexec_fn=lambda: os.dup2(fd, 3))
        theirs.close()
        t = threading.Thread(target=serve, args=(ours, answers, log), daemon=True)
        t.start()
    try:
        rc = p.wait(timeout=HANG_S)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = 124
    if t:
        t.join(timeout=HANG_S)
    if logfile:
        with open(logfile, "w") as f:
            json.dump(log, f)
    sys.exit(rc if rc >= 0 else 128 - rc)


main()
