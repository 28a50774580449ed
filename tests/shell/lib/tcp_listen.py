#!/usr/bin/python3
"""tcp_listen.py PORT...: accept TCP connections on [::]:PORT (dual-stack) and close them."""
import selectors
import socket
import sys

sel = selectors.DefaultSelector()
for p in sys.argv[1:]:
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", int(p)))
    s.listen(128)
    sel.register(s, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        try:
            c, _ = key.fileobj.accept()
            c.close()
        except OSError:
            pass
