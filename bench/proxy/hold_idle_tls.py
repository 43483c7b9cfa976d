"""Opens N TLS connections to HOST:PORT, completes each handshake, then holds them idle until killed.

usage: hold_idle_tls.py HOST PORT N READY_FILE   (READY_FILE is created once all N are open)
"""
import signal
import socket
import ssl
import sys
import time

host, port, n, ready = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE  # a memory probe, not a client: the proxies' certificates are dev certs
ctx.set_alpn_protocols(["http/1.1"])
held = []
for i in range(n):
    s = ctx.wrap_socket(socket.create_connection((host, port)), server_hostname="localhost")
    held.append(s)
open(ready, "w").write(str(len(held)))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    time.sleep(3600)
