#!/usr/bin/python3
"""peek.py smtp|smpp SRC DST PORT: connect from SRC and show what answers.

smtp: print the 220 greeting. smpp: send enquire_link, print the response
header. Exit 0 when the service answered, 1 when the connection failed or
timed out (e.g. dropped by a firewall), 2 when something else answered.
"""
import socket
import struct
import sys

proto, src, dst, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(2)
try:
    s.bind((src, 0))
    s.connect((dst, port))
    if proto == "smtp":
        line = s.makefile("rb").readline(512).decode("ascii", "replace").rstrip()
        print(f"    {src} -> [{dst}]:{port}  answered: {line!r}")
        sys.exit(0 if line.startswith("220") else 2)
    s.sendall(struct.pack(">IIII", 16, 0x00000015, 0, 1))
    hdr = b""
    while len(hdr) < 16:
        chunk = s.recv(16 - len(hdr))
        if not chunk:
            break
        hdr += chunk
    if len(hdr) < 16:
        print(f"    {src} -> [{dst}]:{port}  closed after {len(hdr)} bytes")
        sys.exit(2)
    length, cmd, status, seq = struct.unpack(">IIII", hdr)
    print(f"    {src} -> [{dst}]:{port}  answered: SMPP command 0x{cmd:08x} "
          f"(enquire_link_resp), status {status}, seq {seq}")
    sys.exit(0 if cmd == 0x80000015 and seq == 1 else 2)
except OSError as e:
    print(f"    {src} -> [{dst}]:{port}  no answer: {e.strerror or e}")
    sys.exit(1)
finally:
    s.close()
