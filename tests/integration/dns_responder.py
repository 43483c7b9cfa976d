"""A tiny authoritative DNS responder on loopback, UDP and TCP on one port, for the re-resolution tests:

    python3 dns_responder.py --zone zone.json [--bind ::1]

answers A and AAAA queries from zone.json, read again for every query so a test changes answers
by rewriting the file: {"name.test": {"a": ["127.0.0.1"], "ttl": 2}}. A name not in the file is
NXDOMAIN; a name without AAAA records answers AAAA with no records (NODATA). A name with
"silent": true is never answered (a black hole: the query is logged as "dropped"); with
"truncate": true its UDP answers are empty with TC set, so the client must ask again over TCP.
Prints {"msg": "listening", "port": N}, then {"msg": "query", "name": ..., "type": "A"|"AAAA",
"transport": "udp"|"tcp"} per query answered."""

import argparse
import ipaddress
import json
import socket
import struct
import sys
import threading

TYPES = {1: "A", 28: "AAAA"}
PRINT = threading.Lock()


def say(obj):
    """One log line, whole, whichever thread (UDP or TCP) prints it."""
    with PRINT:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def question(packet):
    labels, at = [], 12
    while packet[at]:
        n = packet[at]
        labels.append(packet[at + 1:at + 1 + n].decode("ascii").lower())
        at += 1 + n
    qtype, qclass = struct.unpack("!HH", packet[at + 1:at + 5])
    return ".".join(labels), qtype, packet[12:at + 5]


def answer(packet, zone, transport):
    """The reply to `packet` (None: stay silent)."""
    ident, flags = struct.unpack("!HH", packet[:4])
    name, qtype, qsection = question(packet)
    entry = zone.get(name)
    records = []
    log = {"name": name, "type": TYPES.get(qtype, str(qtype)), "transport": transport}
    if entry is not None and entry.get("silent"):
        say({"msg": "dropped", **log})
        return None
    truncated = entry is not None and entry.get("truncate") and transport == "udp"
    if entry is not None and not truncated:
        for text in entry.get("a", []):
            address = ipaddress.ip_address(text)
            if (address.version, qtype) in ((4, 1), (6, 28)):
                records.append(struct.pack("!HHHIH", 0xC00C, qtype, 1, entry["ttl"], len(address.packed)) +
                               address.packed)
    rcode = 3 if entry is None else 0
    tc = 0x0200 if truncated else 0
    head = struct.pack("!HHHHHH", ident, 0x8400 | tc | (flags & 0x0100) | rcode, 1, len(records), 0, 0)
    say({"msg": "query", **log})
    return head + qsection + b"".join(records)


def read_zone(path):
    with open(path) as f:
        return json.load(f)


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def serve_tcp(listener, zone_path):
    while True:
        conn, _ = listener.accept()
        with conn:
            try:
                (length,) = struct.unpack("!H", read_exact(conn, 2))
                reply = answer(read_exact(conn, length), read_zone(zone_path), "tcp")
                if reply is not None:
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
            except ConnectionError:
                pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--zone", required=True)
    parser.add_argument("--bind", default="127.0.0.1")
    args = parser.parse_args()
    family = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
    # One port for UDP and TCP: the kernel picks a free UDP port, whose TCP twin may be taken (a
    # listener or a connection of another test running alongside): then another pick.
    for attempt in range(100):
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((args.bind, 0))
        port = sock.getsockname()[1]
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((args.bind, port))
            break
        except OSError:
            if attempt == 99:
                raise
            listener.close()
            sock.close()
    listener.listen(8)
    threading.Thread(target=serve_tcp, args=(listener, args.zone), daemon=True).start()
    say({"msg": "listening", "port": port})
    while True:
        packet, peer = sock.recvfrom(4096)
        reply = answer(packet, read_zone(args.zone), "udp")
        if reply is not None:
            sock.sendto(reply, peer)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
