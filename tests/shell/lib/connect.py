#!/usr/bin/python3
"""connect.py SRC DST PORT TIMEOUT: TCP connect from SRC; exit 0 if it connected."""
import socket
import sys

src, dst, port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(timeout)
try:
    if src != "-":
        s.bind((src, 0))
    s.connect((dst, port))
except OSError:
    sys.exit(1)
finally:
    s.close()
sys.exit(0)
