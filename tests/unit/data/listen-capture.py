#!/usr/bin/python3
# Regenerate tests/unit/data/listen_*.bin: raw NETLINK_SOCK_DIAG dump replies
# (what recv() returns, concatenated up to and including NLMSG_DONE) for a
# known set of listeners. Run as root; works in a throwaway namespace:
#   unshare -n /usr/bin/python3 tests/unit/data/listen-capture.py tests/unit/data
# Listeners: tcp 127.0.0.1:2501, tcp [::]:2503 v6only, tcp [::]:2504 dual-stack,
# tcp 0.0.0.0%lo:2510, udp 0.0.0.0:2505, udp [::1]:2509 v6only.
import os, socket, struct, subprocess, sys

out = sys.argv[1]
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
keep = []
def sock(fam, typ, addr, port, v6only=None, dev=None):
    s = socket.socket(fam, typ)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    if dev:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
    s.bind((addr, port))
    if typ == socket.SOCK_STREAM:
        s.listen()
    keep.append(s)
sock(socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1", 2501)
sock(socket.AF_INET6, socket.SOCK_STREAM, "::", 2503, 1)
sock(socket.AF_INET6, socket.SOCK_STREAM, "::", 2504, 0)
sock(socket.AF_INET, socket.SOCK_STREAM, "0.0.0.0", 2510, dev="lo")
sock(socket.AF_INET, socket.SOCK_DGRAM, "0.0.0.0", 2505)
sock(socket.AF_INET6, socket.SOCK_DGRAM, "::1", 2509, 1)

SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, NLM_F_DUMP, NLMSG_DONE = 20, 1, 0x300, 3
for proto, pname, states in ((socket.IPPROTO_TCP, "tcp", 1 << 10), (socket.IPPROTO_UDP, "udp", 1 << 7)):
    for fam, fname in ((socket.AF_INET, "4"), (socket.AF_INET6, "6")):
        nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4)  # NETLINK_SOCK_DIAG
        req = struct.pack("=BBBxI", fam, proto, 0, states) + bytes(48)
        nl.send(struct.pack("=IHHII", 16 + len(req), SOCK_DIAG_BY_FAMILY,
                            NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + req)
        data = b""
        while True:
            chunk = nl.recv(32768)
            data += chunk
            off, done = 0, False
            while off + 16 <= len(chunk):
                ln, typ = struct.unpack_from("=IH", chunk, off)
                done |= typ == NLMSG_DONE
                off += (ln + 3) & ~3
            if done:
                break
        open(os.path.join(out, "listen_%s%s.bin" % (pname, fname)), "wb").write(data)
        nl.close()
