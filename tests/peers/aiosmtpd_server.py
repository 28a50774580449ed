#!/usr/bin/python3
"""aiosmtpd_server.py ADDR PORT [CERT KEY]: Debian's python3-aiosmtpd (Sink handler)
on ADDR (IPv4 or IPv6) and PORT; with CERT and KEY it offers STARTTLS."""
import asyncio
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink

addr, port = sys.argv[1], int(sys.argv[2])
kw = {}
if len(sys.argv) > 4:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    kw["tls_context"] = ctx
c = Controller(Sink(), hostname=addr, port=port, ready_timeout=10, **kw)
c.start()
try:
    asyncio.new_event_loop().run_forever()
finally:
    c.stop()
