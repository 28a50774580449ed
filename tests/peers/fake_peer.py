#!/usr/bin/python3
"""fake_peer.py MODE ADDR PORT: decoys and hostile peers for portlock's probe tests.

MODE:
  http        answers whatever it gets first with an HTTP/1.1 400
  ssh         sends an SSH-2.0 banner first, then drops what it gets
  ftp         vsftpd's behaviour: '220 (vsFTPd 3.0.3)', '530 Please login...' to all
  silent      accepts and never says anything
  random      sends 64 random bytes at once and on every input
  endless     an endless '220-' banner (10 MB, as fast as the peer reads)
  drip        '220 slow ESMTP' one byte per second
  greetclose  '220 mx ESMTP' then closes at once
  smpphuge    answers anything with an SMPP enquire_link_resp header whose
              command_length is 0xFFFFFFFF, echoing the sequence number
  greetpause  SMTP with Sendmail's greet_pause: greets after 2 s; a client that
              talks first gets '554 5.5.0 talking too soon' and is dropped
  smpp34      a strict SMPP v3.4 SMSC: closes on enquire_link before bind, answers
              bind_transmitter with ESME_RINVPASWD (0x0E)
  ansi        SMTP whose greeting carries terminal escapes, NUL and UTF-8
  echosmtp    SMTP whose greeting names the client address (for --source tests)
  refuse      '554 5.7.1 no SMTP service for you' then closes (an SMTP refusal)
  ehlogarbage '220 mx ESMTP', then random bytes in answer to EHLO
"""
import os
import socket
import struct
import sys
import threading
import time

mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])


def smtp_loop(c, f):
    for line in f:
        cmd = line.strip().upper()
        if cmd.startswith(b"EHLO"):
            c.sendall(b"250-fake.portlock.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n")
        elif cmd.startswith(b"HELO"):
            c.sendall(b"250 fake.portlock.test\r\n")
        elif cmd.startswith(b"QUIT"):
            c.sendall(b"221 bye\r\n")
            return
        else:
            c.sendall(b"502 5.5.2 no\r\n")


def serve(c, peer):
    f = c.makefile("rb")
    if mode == "http":
        c.recv(8192)
        c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    elif mode == "ssh":
        c.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
        while c.recv(4096):
            pass
    elif mode == "ftp":
        c.sendall(b"220 (vsFTPd 3.0.3)\r\n")
        for line in f:
            if line.strip().upper().startswith(b"QUIT"):
                c.sendall(b"221 Goodbye.\r\n")
                return
            c.sendall(b"530 Please login with USER and PASS.\r\n")
    elif mode == "silent":
        while c.recv(4096):
            pass
    elif mode == "random":
        c.sendall(os.urandom(64))
        while c.recv(4096):
            c.sendall(os.urandom(64))
    elif mode == "endless":
        chunk = b"220-" + b"x" * 60 + b"\r\n"
        for _ in range(10 * 1024 * 1024 // len(chunk)):
            c.sendall(chunk)
    elif mode == "drip":
        for b in b"220 slow ESMTP\r\n":
            c.sendall(bytes([b]))
            time.sleep(1)
    elif mode == "greetclose":
        c.sendall(b"220 mx ESMTP\r\n")
    elif mode == "smpphuge":
        d = c.recv(16)
        if len(d) >= 16:
            c.sendall(b"\xff\xff\xff\xff\x80\x00\x00\x15\x00\x00\x00\x00" + d[12:16])
        while c.recv(4096):
            pass
    elif mode == "greetpause":
        c.settimeout(2.0)
        try:
            early = c.recv(4096)
        except socket.timeout:
            early = None
        c.settimeout(None)
        if early is not None:
            if early:
                c.sendall(b"554 5.5.0 fake.portlock.test talking too soon\r\n")
            return
        c.sendall(b"220 fake.portlock.test ESMTP greet_pause\r\n")
        smtp_loop(c, f)
    elif mode == "refuse":
        c.sendall(b"554 5.7.1 fake.portlock.test no SMTP service for you\r\n")
    elif mode == "ehlogarbage":
        c.sendall(b"220 mx ESMTP\r\n")
        f.readline(4096)
        c.sendall(os.urandom(48) + b"\r\n")
        while c.recv(4096):
            pass
    elif mode == "smpp34":
        hdr = b""
        while len(hdr) < 16:
            d = c.recv(16 - len(hdr))
            if not d:
                return
            hdr += d
        length, cid, _, seq = struct.unpack(">IIII", hdr)
        if cid != 2 or not 16 < length <= 200:
            return                      # close, as v3.4 allows before bind
        body = b""
        while len(body) < length - 16:
            d = c.recv(length - 16 - len(body))
            if not d:
                return
            body += d
        c.sendall(struct.pack(">IIII", 17, 0x80000002, 0x0E, seq) + b"\0")
    elif mode == "ansi":
        c.sendall(b"220 \x1b[2J\x1b]0;pwned\x07 caf\xc3\xa9 ESMTP\r\n")
        smtp_loop(c, f)
    elif mode == "echosmtp":
        c.sendall(b"220 fake.portlock.test ESMTP client=" + peer.encode() + b"\r\n")
        smtp_loop(c, f)


def handle(c, peer):
    try:
        serve(c, peer)
    except OSError:
        pass
    finally:
        c.close()


fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(64)
while True:
    c, a = s.accept()
    threading.Thread(target=handle, args=(c, a[0]), daemon=True).start()
