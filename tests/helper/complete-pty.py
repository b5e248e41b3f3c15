#!/usr/bin/env python3
# Types LINE and a TAB into an interactive bash (on a pty, so readline splits
# the words as for a person) that has sourced the completion file, then
# prints what the line became.  Usage: complete-pty.py COMPLETION-FILE LINE
import os, pty, select, sys, time

comp, line = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.environ.update(PS1="$ ", TERM="dumb", INPUTRC="/dev/null", HOME="/nonexistent")
    os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])

def read(t=1.0):
    out, end = b"", time.time() + t
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
    return out.decode(errors="replace")

read(0.5)
os.write(fd, ("source %s; bind 'set show-all-if-ambiguous on'\n" % comp).encode())
read(0.5)
os.write(fd, (line + "\t").encode())
read(1.0)
# Print the line as readline holds it now, whatever the terminal echoed.
os.write(fd, b"\x01echo \"LINE:\x05\"\n")
out = read(1.0)
os.write(fd, b"exit\n")
for l in out.splitlines():
    if l.startswith("LINE:"):
        print(l[5:].rstrip())
        break
