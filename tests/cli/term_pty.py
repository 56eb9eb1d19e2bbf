#!/usr/bin/env python3
"""A tool call shown on a terminal: `osvm -p` in a pseudo-terminal of 60
columns, with the hostile server (hostile_server.py) registered as "hostile"
and a prompt whose arguments are longer than the line and hold wide
characters. The spinner's frames and the done: line fit the window (display
columns counted as a terminal does), the spinner's line is cleared whole
before the done: line and before a warning logged during the call, the
arguments are cut with an ellipsis, and nothing the server sent drives the
terminal.

usage: term_pty.py OSVM_BIN   (OSVM_HOME with the hostile server registered)
Prints TAP-like lines and "N passed, N failed"; exits non-zero on a failure.
"""
import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios
import time
import unicodedata

osvm = sys.argv[1]
COLS = 60
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(("ok" if ok else "not ok") + f" {len(results)} - {name}")
    if not ok and detail:
        for line in detail.splitlines()[-15:]:
            print("#   " + line)


def columns(text):
    """Display columns of text as a terminal shows it."""
    n = 0
    for c in text:
        if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf"):
            continue
        n += 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
    return n


def run(argv, timeout=60):
    """Runs argv on a terminal of COLS columns; returns (status, output bytes)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm"
        os.environ.pop("COLUMNS", None)
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, COLS, 0, 0))
        os.execv(argv[0], argv)
    out = b""
    end = time.monotonic() + timeout  # only guards a hang
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            out += data
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return status, out


# A tool that takes a while (the server's "slow"), so that the spinner turns.
WIDE = "日本語の長い文章がここにあります、とても長いです。" * 3
status, out = run([osvm, "-p", "hostile echo slow " + WIDE])
text = out.decode("utf-8", errors="replace")
check("the call is answered (exit 0)", os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0,
      f"status {status}\n{text[-1500:]}")

for name, seq in [("ESC [2J", b"\x1b[2J"), ("OSC", b"\x1b]"), ("BEL", b"\x07"),
                  ("C1 CSI", b"\xc2\x9b"), ("RLO", "\u202e".encode()),
                  ("LRI", "\u2066".encode()), ("CR", b"\r cr")]:
    check(f"no {name} from the server reaches the terminal", seq not in out,
          repr(out[max(0, out.find(seq) - 80):out.find(seq) + 80]))

# What the terminal shows, piece by piece: each "\r" or "\n" starts a new
# piece, osvm's own SGR colours and erase-line are not text.
pieces = [re.sub(r"\x1b\[[0-9;]*[mK]", "", p) for p in re.split(r"[\r\n]", text)]
frames = [p for p in pieces if p[:1] in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏" and p.strip()]
done = [p for p in pieces if p.startswith(("done: ", "failed: ", "tool: "))]
check("the spinner was drawn", len(frames) > 0, text[-1500:])
check("the done: line is there", len(done) == 1, text[-1500:])
wide = [p for p in frames + done if columns(p) >= COLS]
check(f"every spinner frame and the done: line fit in {COLS} columns", not wide,
      "\n".join(f"{columns(p)}: {p}" for p in wide))
check("the arguments are cut with an ellipsis", bool(done) and "…" in done[0], "\n".join(done))
check("the done: line keeps the mode and the time",
      bool(done) and re.search(r"\[(sandbox|direct)\] \(\d+ ms\)$", done[0]) is not None, "\n".join(done))
check("the spinner shows the progress, escaped", any("3 step EVIL-BEGIN ^[" in p or
                                                     "/3 step" in p for p in frames),
      "\n".join(frames[-5:]))
check("a warning during the call clears the spinner's line first",
      re.search(r"\r\x1b\[K(\x1b\[[0-9;]*m)*WARN:(\x1b\[[0-9;]*m)* hostile: skipped a malformed line "
                r"from the server \([^)]*\): not json either", text) is not None
      and not any("WARN" in p for p in frames), repr(text[-2500:]))
check("the spinner's line is cleared whole before the done: line",
      re.search(r"\r\x1b\[K(\x1b\[[0-9;]*m)*done: ", text) is not None, repr(text[-600:]))
check("the answer holds the result, escaped", "echo: EVIL-BEGIN ^[[2J clear" in text, text[-1500:])

passed = sum(results)
print(f"{passed} passed, {len(results) - passed} failed")
sys.exit(0 if passed == len(results) else 1)
