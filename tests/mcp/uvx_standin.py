#!/usr/bin/env python3
"""A stand-in for uv's `uvx` in the sandbox's tests: uv is not a Debian
package, and PyPI is out of the test machines' reach. The tests install it as
PREFIX/bin/uvx. It reads its command line as uvx does (options, --from,
COMMAND [ARGS]) and the variables uv reads (UV_CACHE_DIR, UV_OFFLINE,
HTTPS_PROXY), and:

- online (the fetch step osvm runs first): says its command line and the
  variables on stderr, asks the proxy for a tunnel to each host:port named in
  PROBE (comma-separated) and says what the proxy answered, then "downloads"
  the package: copies PREFIX/index/PKG.py into the cache, where uv keeps what
  it fetched;
- offline (UV_OFFLINE=1, the server's start): runs the cached PKG.py with the
  same Python, or fails as uv does when the cache lacks the package.
"""
import os
import shutil
import socket
import sys

VALUED = {"--from", "--with", "--python", "-p", "--index", "--index-url", "-i"}


def parse(argv):
    """(options, from, command, args) of a uvx command line."""
    opts, frm, i = [], None, 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            i += 1
            break
        if not a.startswith("-"):
            break
        opts.append(a)
        if a in VALUED and i + 1 < len(argv):
            if a == "--from":
                frm = argv[i + 1]
            opts.append(argv[i + 1])
            i += 1
        i += 1
    cmd = argv[i] if i < len(argv) else None
    return opts, frm, cmd, argv[i + 1:]


def tunnel(target):
    url = os.environ.get("HTTPS_PROXY", "")
    if not url.startswith("http://"):
        return "no proxy"
    host, _, port = url[len("http://"):].rstrip("/").rpartition(":")
    try:
        s = socket.create_connection((host, int(port)), timeout=30)
        s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
        head = s.recv(4096).decode("latin-1")
        s.close()
        return head.split("\r\n")[0]
    except OSError as e:
        return "error " + str(e)


def main():
    opts, frm, cmd, args = parse(sys.argv[1:])
    pkg = (frm or cmd or "").split("@")[0].split("==")[0]
    cache = os.environ.get("UV_CACHE_DIR")
    if not pkg or not cache:
        sys.stderr.write("uvx stand-in: no package or no UV_CACHE_DIR\n")
        return 2
    cached = os.path.join(cache, pkg + ".py")
    if os.environ.get("UV_OFFLINE") == "1":
        if not os.path.exists(cached):
            sys.stderr.write("error: %s was not found in the cache, and network access is disabled\n" % pkg)
            return 1
        os.execv(sys.executable, [sys.executable, cached] + args)
    sys.stderr.write("uvx stand-in: fetch %s; command %s %s; python downloads %s\n" % (
        pkg, cmd, " ".join(args), os.environ.get("UV_PYTHON_DOWNLOADS", "unset")))
    for target in filter(None, os.environ.get("PROBE", "").split(",")):
        sys.stderr.write("uvx stand-in: proxy for %s: %s\n" % (target, tunnel(target)))
    if os.environ.get("STANDIN_SLOW"):
        import time
        time.sleep(int(os.environ["STANDIN_SLOW"]))
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    os.makedirs(cache, exist_ok=True)
    shutil.copy(os.path.join(prefix, "index", pkg + ".py"), cached)
    return 0


if __name__ == "__main__":
    sys.exit(main())
