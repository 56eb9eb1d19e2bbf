#!/usr/bin/env python3
"""The chat driven through a pseudo-terminal, as a person would: a tool call,
Ctrl-C during a long tool (the tool stops, the chat goes on), a resize,
history, Ctrl-D, the terminal as it was found afterwards (after a kill too),
and Ctrl-Z and fg under a shell. With the agent's image, all of it inside μVM-1:
a KVM VM where osvm can use KVM (and OSVM_NO_KVM=1 is not set), else a trapped
process (the process platform, never called a VM).

usage: chat_pty.py OSVM_BIN   (OSVM_HOME with server-everything registered;
       OSVM_TEST_KVM=1 when osvm can run VMs here, as tests/lib.sh's kvm_probe says)
Prints TAP-like lines and "N passed, N failed"; exits non-zero on a failure.
"""
import fcntl
import glob
import os
import pty
import struct
import termios
import re
import select
import signal
import sys
import time

osvm = sys.argv[1]
results = []
# Each wait ends on what it waits for; this bound only guards against a hang,
# generous for a loaded machine under the sanitizers.
HANG = 120
# Whether osvm can run VMs here (OSVM_NO_KVM=1 counts): chat.sh asks osvm's probe.
kvm = os.environ.get("OSVM_TEST_KVM") == "1"


def check(name, ok, detail=""):
    results.append(ok)
    print(("ok" if ok else "not ok") + f" {len(results)} - {name}")
    if not ok and detail:
        for line in detail.splitlines()[-15:]:
            print("#   " + line)


class Term:
    def __init__(self, argv):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.environ["TERM"] = "xterm"
            os.execv(argv[0], argv)
        self.buf = b""

    def read_until(self, pattern, timeout):
        """Reads until pattern (a regex on the text so far) matches; True if it did."""
        end = time.monotonic() + timeout
        rx = re.compile(pattern.encode(), re.S)
        while not rx.search(self.buf):
            left = end - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    return bool(rx.search(self.buf))
                if not data:
                    return bool(rx.search(self.buf))
                self.buf += data
        return True

    def mark(self):
        """Forgets what was read, so the next read_until sees only new output."""
        self.buf = b""

    def send(self, text):
        os.write(self.fd, text.encode())

    def text(self):
        return self.buf.decode(errors="replace")

    def wait(self, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return status
            try:
                r, _, _ = select.select([self.fd], [], [], 0.05)
                if r:
                    self.buf += os.read(self.fd, 65536)
            except OSError:
                pass
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        return None


t = Term([osvm])
check("the chat greets and prompts", t.read_until(r"osvm> ", HANG), t.text())
check("the greeting shows the status line", "OSVM:" in t.text() and "net:" in t.text(), t.text())
image = os.environ.get("OSVM_AGENT_IMAGE", "")
if kvm and os.path.isfile(image):
    check("the chat runs inside μVM-1 (1μVMs)", "1μVMs" in t.text(), t.text())
elif os.path.isfile(image):
    check("the chat runs in a trapped process (1μPs), not counted as a VM",
          "0μVMs 0uK 1μPs" in t.text(), t.text())
    check("the banner says tool calls run in trapped processes, not VMs",
          "runs in its own trapped process" in t.text() and "its own VM" not in t.text(), t.text())

t.mark()
t.send("echo hello world\r")
ok = t.read_until(r"hello world.*osvm> ", HANG)
check("a tool call answers in the chat", ok, t.text())
check("the call's mode is shown",
      any(m in t.text() for m in ("[sandbox]", "[direct]", "[unikernel]", "[unikernel, trapped process]")),
      t.text())

t.mark()
t.send("/tools\r")
ok = t.read_until(r"osvm-mcp \(11 tools\).*osvm> ", HANG)
check("/tools lists the tools by server", ok and "get-sum" in t.text(), t.text())
t.mark()
t.send("/status\r")
ok = t.read_until(r"servers:.*osvm> ", HANG)
# μVM-1 on KVM, or its stand-in, a trapped process, where there is none
where = "inside μVM-1" if os.path.isfile(image) else "directly"
check("/status shows the status line and where the agent runs",
      ok and "OSVM:" in t.text() and where in t.text(), t.text())
t.mark()
t.send("/hlep\r")
check("an unknown /command says so", t.read_until(r"did you mean /help\?.*osvm> ", HANG),
      t.text())

t.mark()
t.send("get the slot\r")
ok = t.read_until(r"osvm-mcp/get_slot.*osvm> ", HANG)
if kvm:
    check("a tool of the pack runs in a VM of its own", ok and "[unikernel]" in t.text(), t.text())
    check("and the status line counts it", bool(re.search(r"VMs 1uK", t.text())), t.text())
else:
    check("a tool of the pack runs in a trapped process of its own",
          ok and "[unikernel, trapped process]" in t.text(), t.text())
    check("and the status line counts it, not as a VM",
          bool(re.search(r"0uK \d+μPs 1uKp", t.text())), t.text())

t.mark()
t.send("trigger the long running operation duration=30 steps=30\r")
started = t.read_until(r"trigger-long-running-operation", HANG)
check("a long tool starts with a visible spinner or progress", started, t.text())
time.sleep(1.0)
t.mark()
t.send("\x03")  # Ctrl-C
ok = t.read_until(r"cancel.*osvm> ", HANG)
check("Ctrl-C cancels the running tool and the prompt comes back", ok, t.text())
check("the tool did not run to its end", "completed" not in t.text(), t.text())

t.mark()
t.send("echo still here\r")
check("the chat goes on after Ctrl-C", t.read_until(r"still here.*osvm> ", HANG), t.text())

t.mark()
t.send("\x03")  # Ctrl-C at an empty prompt: a fresh prompt, not an exit
check("Ctrl-C at the prompt does not leave", t.read_until(r"osvm> ", HANG), t.text())

# A new window size reaches the agent (it logs the size it then reads).
fcntl.ioctl(t.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
t.mark()
t.send("echo after resize\r")
check("the chat goes on after a resize", t.read_until(r"after resize.*osvm> ", HANG), t.text())
state = os.environ.get("XDG_STATE_HOME", "")
logs = ""
for f in glob.glob(os.path.join(state, "osvm", "**", "*.log"), recursive=True):
    with open(f, encoding="utf-8", errors="replace") as fh:
        logs += fh.read()
check("the agent sees the new window size", "the window is now 100x40" in logs, logs[-2000:])

t.mark()
time.sleep(0.5)  # as a person would: the line editor has taken the terminal
t.send("\x04")  # Ctrl-D
status = t.wait(HANG)
check("Ctrl-D leaves with status 0", status is not None and os.WIFEXITED(status)
      and os.WEXITSTATUS(status) == 0, f"status {status}\n" + t.text())

state = os.environ.get("XDG_STATE_HOME", "")
hist = os.path.join(state, "osvm", "agent", "history")
try:
    with open(hist, encoding="utf-8", errors="replace") as f:
        lines = f.read().replace("\\040", " ")  # libedit's history escapes blanks
    check("the history keeps the prompts", "echo hello world" in lines and "still here" in lines,
          lines)
    check("the history file is private (0600)", (os.stat(hist).st_mode & 0o777) == 0o600,
          oct(os.stat(hist).st_mode))
except OSError as e:
    check("the history file exists", False, str(e))

# A second session sees the history: up-arrow brings the last prompt back.
t = Term([osvm])
t.read_until(r"osvm> ", HANG)
t.mark()
t.send("\x1b[A")
check("up-arrow recalls the last prompt from history", t.read_until(r"echo after resize", HANG),
      t.text())
t.send("\x15\x04")  # clear the line, then Ctrl-D
t.wait(HANG)

# The terminal is left as it was found: after a clean exit, and after the
# supervisor is killed mid-session (SIGTERM) while the agent had it in raw mode.
for how in ("exit", "kill"):
    script = ('stty -g; "$0" </dev/tty; stty -g; echo END' if how == "exit" else
              'stty -g; "$0" </dev/tty & pid=$!; sleep 4; kill -TERM $pid; wait $pid; '
              'stty -g; echo END')
    t = Term(["/bin/sh", "-c", script, osvm])
    if how == "exit":
        t.read_until(r"osvm> ", HANG)
        time.sleep(0.5)  # as a person would: the line editor has taken the terminal
        t.send("\x04")
    ok = t.read_until(r"END", HANG)
    settings = re.findall(r"^([0-9a-f]+(?::[0-9a-f]+){10,})\r?$", t.text(), re.M)
    check(f"the terminal is restored after {'Ctrl-D' if how == 'exit' else 'SIGTERM'}",
          ok and len(settings) == 2 and settings[0] == settings[1], t.text())
    t.wait(HANG)

# Ctrl-Z under a shell with job control: the shell gets the terminal as it
# was while osvm is stopped, and after fg the chat goes on.
if os.path.exists("/bin/bash"):
    os.environ["PS1"] = "SH$ "
    t = Term(["/bin/bash", "--norc", "--noprofile", "-i"])
    t.read_until(r"SH\$ ", HANG)
    settings = r"([0-9a-f]+(?::[0-9a-f]+){10,})"
    t.mark()
    t.send(f"stty -g; {osvm}\r")
    t.read_until(r"osvm> ", HANG)
    before = re.findall(settings, t.text())
    time.sleep(0.5)  # the line editor has the terminal
    t.mark()
    t.send("\x1a")  # Ctrl-Z
    stopped = t.read_until(r"Stopped.*SH\$ ", HANG)
    check("Ctrl-Z stops the chat and the shell comes back", stopped, t.text())
    t.mark()
    t.send("stty -g\r")
    t.read_until(settings + r".*SH\$ ", HANG)
    during = re.findall(settings, t.text())
    check("while stopped the terminal is as it was found", before and before == during,
          f"{before} {during}")
    t.mark()
    t.send("fg\r")
    time.sleep(1.0)
    t.send("echo back again\r")
    check("after fg the chat goes on", t.read_until(r"back again.*osvm> ", HANG), t.text())
    time.sleep(0.5)
    t.send("\x04")
    t.read_until(r"SH\$ ", HANG)
    t.send("exit\r")
    t.wait(HANG)

passed = sum(results)
print(f"{passed} passed, {len(results) - passed} failed")
sys.exit(0 if passed == len(results) else 1)
