#!/usr/bin/env python3
"""A hostile MCP server for the sandbox's tests (standard library only).

Speaks MCP over stdio. Its tool "try" makes one escape attempt, named by the
argument "attack" (with "arg" for its target), and answers one line:
"REFUSED: <how>" when the attempt failed, "BREACH: <what it got>" when it
worked. "echo" answers its "text"; "fetch" gets a URL through the proxy the
environment names (urllib honours HTTP_PROXY) and answers
"STATUS <code> <body>".

attacks:
  read FILE            read a file outside the server's view
  environ MARKER       look for MARKER in /proc/1/environ and os.environ
  write PATH           create a file at PATH
  tcp HOST:PORT        connect straight to HOST:PORT (no proxy)
  connect HOST:PORT    an HTTP CONNECT through the proxy
  relay HOST:PORT      a CONNECT through the proxy to the proxy's own address,
                       asking it there for HOST:PORT (a relayed CONNECT)
  socks HOST:PORT      a SOCKS5 CONNECT through the proxy
  udp HOST:PORT        send a UDP datagram (DNS-like)
  dns NAME             resolve a name in the sandbox
  unix PATH            connect to a unix socket
  ptrace               attach to its parent with ptrace
  forkbomb             fork until refused (children end at once after)
  memory MB            allocate and touch MB MiB
"""
import ctypes
import json
import os
import socket
import sys
import time
import urllib.request


def proxy_addr():
    url = os.environ.get("HTTP_PROXY", "")
    if not url.startswith("http://"):
        return None
    host, _, port = url[len("http://"):].rstrip("/").rpartition(":")
    return host, int(port)


def split(arg):
    host, _, port = arg.rpartition(":")
    return host, int(port)


def attack(kind, arg):
    try:
        if kind == "read":
            with open(arg, "rb") as f:
                return "BREACH: read %r" % f.read(64)
        if kind == "environ":
            found = []
            try:
                with open("/proc/1/environ", "rb") as f:
                    if arg.encode() in f.read():
                        found.append("/proc/1/environ")
            except OSError as e:
                found.append("(/proc/1/environ: %s)" % e.strerror)
            if any(arg in k or arg in v for k, v in os.environ.items()):
                found.append("os.environ")
            hits = [x for x in found if not x.startswith("(")]
            if hits:
                return "BREACH: %s in %s" % (arg, ", ".join(hits))
            return "REFUSED: %s is nowhere in its environment %s" % (arg, " ".join(found))
        if kind == "write":
            with open(arg, "w") as f:
                f.write("pwned")
            return "BREACH: wrote " + arg
        if kind == "tcp":
            s = socket.create_connection(split(arg), timeout=5)
            s.close()
            return "BREACH: connected to " + arg
        if kind in ("connect", "relay"):
            p = proxy_addr()
            if not p:
                return "REFUSED: no proxy in the environment"
            s = socket.create_connection(p, timeout=10)
            if kind == "relay":
                # a CONNECT to the proxy's own address, then the real one inside
                s.sendall(("CONNECT %s:%d HTTP/1.1\r\nHost: x\r\n\r\n" % p).encode())
                head = s.recv(4096).decode("latin-1")
                if " 200 " not in head.split("\r\n")[0]:
                    return "REFUSED: " + head.split("\r\n")[0]
            s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (arg, arg)).encode())
            head = s.recv(4096).decode("latin-1")
            s.close()
            if " 200 " in head.split("\r\n")[0]:
                return "BREACH: tunnel to " + arg
            return "REFUSED: " + head.split("\r\n")[0] + " " + head.split("\r\n\r\n", 1)[-1].strip()
        if kind == "socks":
            p = proxy_addr()
            s = socket.create_connection(p, timeout=10)
            s.sendall(b"\x05\x01\x00")
            if s.recv(2) != b"\x05\x00":
                return "REFUSED: no SOCKS5 greeting"
            host, port = split(arg)
            s.sendall(b"\x05\x01\x00\x03" + bytes([len(host)]) + host.encode() + port.to_bytes(2, "big"))
            rep = s.recv(10)
            s.close()
            if len(rep) >= 2 and rep[1] == 0:
                return "BREACH: SOCKS5 tunnel to " + arg
            return "REFUSED: SOCKS5 reply %d" % (rep[1] if len(rep) > 1 else -1)
        if kind == "udp":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", split(arg))
            return "BREACH: sent a datagram to " + arg
        if kind == "dns":
            addrs = socket.getaddrinfo(arg, 80)
            return "BREACH: resolved %s to %s" % (arg, addrs[0][4][0])
        if kind == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(arg)
            return "BREACH: connected to " + arg
        if kind == "ptrace":
            libc = ctypes.CDLL(None, use_errno=True)
            libc.ptrace.restype = ctypes.c_long
            r = libc.ptrace(16, os.getppid(), None, None)  # PTRACE_ATTACH
            if r == 0:
                return "BREACH: attached to %d" % os.getppid()
            pid = os.fork()
            if pid == 0:
                time.sleep(5)
                os._exit(0)
            r2 = libc.ptrace(16, pid, None, None)
            err = ctypes.get_errno()
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            if r2 == 0:
                return "BREACH: attached to its own child"
            return "REFUSED: ptrace: " + os.strerror(err)
        if kind == "forkbomb":
            kids = []
            why = "no limit hit"
            for _ in range(int(arg or "5000")):
                try:
                    pid = os.fork()
                except OSError as e:
                    why = e.strerror
                    break
                if pid == 0:
                    time.sleep(30)
                    os._exit(0)
                kids.append(pid)
            for pid in kids:
                os.kill(pid, 9)
            for pid in kids:
                os.waitpid(pid, 0)
            if why == "no limit hit":
                return "BREACH: forked %d processes" % len(kids)
            return "REFUSED: fork failed after %d processes: %s" % (len(kids), why)
        if kind == "memory":
            chunks = []
            try:
                for _ in range(int(arg)):
                    chunks.append(bytearray(1 << 20))
            except MemoryError:
                n = len(chunks)
                chunks = None
                return "REFUSED: out of memory after %d MiB" % n
            return "BREACH: holds %d MiB" % len(chunks)
        return "REFUSED: unknown attack " + kind
    except OSError as e:
        return "REFUSED: %s: %s" % (kind, e.strerror or e)
    except Exception as e:  # noqa: BLE001 - every failure is an answer
        return "REFUSED: %s: %s" % (kind, e)


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=20) as r:
            return "STATUS %d %s" % (r.status, r.read(200).decode("latin-1"))
    except urllib.error.HTTPError as e:
        return "STATUS %d %s" % (e.code, e.read(400).decode("latin-1"))
    except Exception as e:  # noqa: BLE001
        return "ERROR %s" % e


TOOLS = [
    {"name": "try", "description": "an escape attempt",
     "inputSchema": {"type": "object", "properties": {"attack": {"type": "string"}, "arg": {"type": "string"}},
                     "required": ["attack"]}},
    {"name": "echo", "description": "echo",
     "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}},
    {"name": "fetch", "description": "GET a URL through the proxy",
     "inputSchema": {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]}},
]


def answer(msg):
    m = msg.get("method")
    if m == "initialize":
        return {"protocolVersion": msg["params"].get("protocolVersion", "2025-11-25"),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "sandbox-hostile", "version": "1"}}
    if m == "tools/list":
        return {"tools": TOOLS}
    if m == "ping":
        return {}
    if m == "tools/call":
        name = msg["params"]["name"]
        args = msg["params"].get("arguments") or {}
        if name == "echo":
            text = args.get("text", "")
        elif name == "fetch":
            text = fetch(args["url"])
        else:
            text = attack(args.get("attack", ""), args.get("arg", ""))
        return {"content": [{"type": "text", "text": text}]}
    return None


def main():
    for line in sys.stdin:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if "id" not in msg:
            continue
        res = answer(msg)
        out = {"jsonrpc": "2.0", "id": msg["id"]}
        if res is None:
            out["error"] = {"code": -32601, "message": "no such method"}
        else:
            out["result"] = res
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
