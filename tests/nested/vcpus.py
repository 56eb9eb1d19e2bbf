#!/usr/bin/env python3
"""What the nested guest's vCPUs are doing, for the report of a hang
(tests/nested/nested.sh): QEMU's monitor's "info cpus" and "info registers
-a", each vCPU's RIP and CPL first. The kernel boots with nokaslr, so a RIP
in it is found in the /proc/kallsyms of any boot of the same kernel (Debian's
System.map is a placeholder).

usage: vcpus.py MONITOR-SOCKET
"""
import re
import socket
import sys
import time


def monitor(path, commands):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.settimeout(2)
    out = b""
    for cmd in commands:
        s.sendall(cmd.encode() + b"\n")
        time.sleep(1)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except OSError:
            pass
    # the monitor echoes what it is sent with terminal escapes: keep the answers
    text = out.decode("utf-8", "replace").replace("\r", "")
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def main():
    text = monitor(sys.argv[1], ["info cpus", "info registers -a"])
    for m in re.finditer(r"RIP=([0-9a-f]{16}) .*?CPL=(\d)", text):
        print("vCPU RIP %s CPL%s" % (m.group(1), m.group(2)))
    print(text)


if __name__ == "__main__":
    main()
