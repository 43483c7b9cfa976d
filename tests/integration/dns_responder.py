"""A tiny authoritative DNS responder on loopback UDP, for the re-resolution tests:

    python3 dns_responder.py --zone zone.json

answers A and AAAA queries from zone.json, read again for every query so a test changes answers
by rewriting the file: {"name.test": {"a": ["127.0.0.1"], "ttl": 2}}. A name not in the file is
NXDOMAIN; a name without AAAA records answers AAAA with no records (NODATA). Prints
{"msg": "listening", "port": N}, then {"msg": "query", "name": ..., "type": "A"|"AAAA"} per query."""

import argparse
import ipaddress
import json
import socket
import struct
import sys

TYPES = {1: "A", 28: "AAAA"}


def question(packet):
    labels, at = [], 12
    while packet[at]:
        n = packet[at]
        labels.append(packet[at + 1:at + 1 + n].decode("ascii").lower())
        at += 1 + n
    qtype, qclass = struct.unpack("!HH", packet[at + 1:at + 5])
    return ".".join(labels), qtype, packet[12:at + 5]


def answer(packet, zone):
    ident, flags = struct.unpack("!HH", packet[:4])
    name, qtype, qsection = question(packet)
    entry = zone.get(name)
    records = []
    if entry is not None:
        for text in entry.get("a", []):
            address = ipaddress.ip_address(text)
            if (address.version, qtype) in ((4, 1), (6, 28)):
                records.append(struct.pack("!HHHIH", 0xC00C, qtype, 1, entry["ttl"], len(address.packed)) +
                               address.packed)
    rcode = 3 if entry is None else 0
    head = struct.pack("!HHHHHH", ident, 0x8400 | (flags & 0x0100) | rcode, 1, len(records), 0, 0)
    return name, qtype, head + qsection + b"".join(records)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--zone", required=True)
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    print(json.dumps({"msg": "listening", "port": sock.getsockname()[1]}), flush=True)
    while True:
        packet, peer = sock.recvfrom(4096)
        with open(args.zone) as f:
            zone = json.load(f)
        name, qtype, reply = answer(packet, zone)
        sock.sendto(reply, peer)
        print(json.dumps({"msg": "query", "name": name, "type": TYPES.get(qtype, str(qtype))}), flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
