#!/usr/bin/env python3
"""Start-up of the chat: host start to the agent's prompt ready, inside μVM-1
and directly (--no-microvm), alternating in the same run.

usage: bench/microvm_startup.py [OSVM_BIN] [RUNS]   (defaults: build/osvm, 30)

Each run starts osvm in a pseudo-terminal on a fresh home, times it until the
prompt "osvm> " appears, then leaves with Ctrl-D. Prints p50/p90 for each mode
and the difference of the medians.
"""
import os
import pty
import select
import shutil
import statistics
import sys
import tempfile
import time

osvm = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/osvm")
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 30


def start_to_prompt(args, home):
    env = dict(os.environ, HOME=home, XDG_STATE_HOME=home + "/state", OSVM_HOME=home + "/cfg",
               TERM="xterm")
    for k in ("OSVM_SKIP_MICROVM", "OSVM_AI_URL", "OSVM_AI_KEY", "OPENAI_API_KEY"):
        env.pop(k, None)
    t0 = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(osvm, [osvm] + args, env)
    buf = b""
    took = None
    end = t0 + 30
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                buf += os.read(fd, 65536)
            except OSError:
                break
            if b"osvm> " in buf:
                took = time.monotonic() - t0
                break
    time.sleep(0.05)
    os.write(fd, b"\x04")
    os.waitpid(pid, 0)
    os.close(fd)
    if took is None:
        sys.exit(f"no prompt from osvm {' '.join(args)}: {buf[-500:]!r}")
    if args == [] and b"1\xce\xbcVMs" not in buf and b"1uVMs" not in buf:
        sys.exit("the chat did not run inside μVM-1 (no 1μVMs in its status line): "
                 + buf[-500:].decode(errors="replace"))
    return took * 1000


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p / 100 * len(v)))]


home = tempfile.mkdtemp(prefix="osvm-bench-")
try:
    start_to_prompt([], home)  # the first run writes the default config
    times = {"microvm": [], "direct": []}
    for _ in range(runs):
        times["microvm"].append(start_to_prompt([], home))
        times["direct"].append(start_to_prompt(["--no-microvm"], home))
finally:
    shutil.rmtree(home, ignore_errors=True)

print(f"osvm chat start to prompt, {runs} runs each, alternating (ms)")
print(f"{'mode':10} {'p50':>8} {'p90':>8} {'min':>8}")
for mode, v in times.items():
    print(f"{mode:10} {statistics.median(v):8.1f} {pct(v, 90):8.1f} {min(v):8.1f}")
d = statistics.median(times["microvm"]) - statistics.median(times["direct"])
print(f"inside μVM-1 costs {d:+.1f} ms at the median over direct mode "
      f"({statistics.median(times['microvm']) / statistics.median(times['direct']):.2f}x)")
