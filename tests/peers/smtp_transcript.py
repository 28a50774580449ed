#!/usr/bin/python3
"""smtp_transcript.py HOST PORT: run the 15 behavioural tests of portlock's SMTP
fingerprint (src/probe_smtp.c, probe_smtp_tests) each on a fresh connection and
print 'N code text' per test. Used to record data/fingerprints.conf."""
import socket
import sys

HELO = "HELO probe.portlock.invalid"
TESTS = [
    ["MAIL FROM:<probe@portlock.invalid>"], ["HELO"], [HELO, "MAIL FROM test"],
    [HELO, "MAIL FROM: <>"], [HELO, "MAIL FROM: <probe@portlock.invalid"],
    [HELO, "MAIL FROM:<probe@[300.1.2.3]>"], [HELO, "MAIL FROM:<>", "RCPT TO: test"],
    [HELO, "HELP"], [HELO, "VRFY root"], [HELO, "EXPN root"], [HELO, "TURN"],
    [HELO, "SOML FROM:<probe@portlock.invalid>"], [HELO, "SAML FROM:<probe@portlock.invalid>"],
    [HELO, "NOOP"], ["EHLO probe.portlock.invalid"],
]


def reply(f):
    lines = []
    while True:
        line = f.readline(4096)
        if not line:
            return 0, lines
        lines.append(line.rstrip(b"\r\n").decode("latin-1"))
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3]), lines


host, port = sys.argv[1], int(sys.argv[2])
for i, cmds in enumerate(TESTS):
    s = socket.create_connection((host, port), timeout=10)
    f = s.makefile("rb")
    code, lines = reply(f)
    for c in cmds:
        s.sendall(c.encode() + b"\r\n")
        code, lines = reply(f)
        if code == 0:
            break
    print(i, code, " | ".join(lines))
    try:
        s.sendall(b"QUIT\r\n")
    except OSError:
        pass
    s.close()
