#!/usr/bin/python3
"""smtp_hold.py SRC HOST PORT READYFILE: an smtplib client that connects from
SRC, says EHLO and holds the session open (NOOP every 2 s) until killed;
writes "ehlo LOCALPORT" to READYFILE once the server answered EHLO."""
import os
import smtplib
import sys
import time

src, host, port, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = smtplib.SMTP(host, port, source_address=(src, 0), timeout=5)
code, _ = s.ehlo("impact.test")
if code != 250:
    sys.exit(f"smtp_hold.py: EHLO answered {code}")
with open(ready + ".tmp", "w") as f:
    f.write(f"ehlo {s.sock.getsockname()[1]}\n")
os.rename(ready + ".tmp", ready)
while True:
    time.sleep(2)
    try:
        s.noop()
    except (OSError, smtplib.SMTPException):
        time.sleep(3600)  # cut: keep the process (the test decides)
