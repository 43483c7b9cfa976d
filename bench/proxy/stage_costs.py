#!/usr/bin/env python3
"""CPU time per request by pipeline stage, from a `perf record -g --call-graph dwarf` of one sovgw.

    stage_costs.py PERF_DATA REQUESTS CPU_US_PER_REQUEST

Reads `perf script` of PERF_DATA (cpu-clock samples of every sovgw thread), assigns each sample to
the first stage found walking its stack from the leaf up (so a SHA-512 inside the receipt signature
counts as "receipt", a SHA-256 inside the Content-Digest as "signing"), and prints each stage's
share of the samples and, scaled by the measured CPU time per request, its microseconds per request.
Samples of the audit log's threads (and RocksDB's) count as "audit" whatever they run.
"""
import collections
import re
import subprocess
import sys

# (stage, pattern on a frame's symbol), tried in this order on each frame from the leaf up.
STAGES = [
    ("receipt signature", r"sign_receipt|append_receipt"),
    ("request signature + digest", r"sign_forwarded_request|content_digest|make_nonce|tenant_pseudonym"),
    ("geo-tags", r"geo_tagger::tag"),
    ("classify + detectors", r"pipeline::classify|sovgw::classify::|json_inspector"),
    ("policy decision", r"pipeline::decide|sovgw::policy::|pipeline::route"),
    ("identify / admit", r"pipeline::identify|pipeline::admit|client_address"),
    ("audit seal + append", r"sovgw::audit::|request_recorder::(audit_record|finish|append_and_wait)|rocksdb::"),
    ("parse", r"http::parse|http_parser|parse_head"),
]
COMPILED = [(name, re.compile(p)) for name, p in STAGES]
KERNEL = "kernel (syscalls: sockets, epoll)"
TLS = "tls (OpenSSL record layer)"
OTHER = "relay, I/O loop, allocator, other"
# Only when no stage above is on the stack: OpenSSL's record layer and ciphers.
TLS_RX = re.compile(r"^(SSL_|ssl|tls|ossl_|EVP_|aesni|gcm_|CRYPTO_|ChaCha|Poly1305|BIO_|OPENSSL_)|libssl|libcrypto")


def classify(frames, comm):
    """A stage on the stack wins (a SHA-256 under content_digest is signing, a write(2) under the
    audit log is audit); then time in the kernel; then OpenSSL; then the rest."""
    if comm.startswith(("audit", "rocksdb")):
        return "audit seal + append"
    for sym, _ in frames:
        if "boost::asio" in sym:
            continue  # a handler's type names the code it resumes, not the code running now
        for name, rx in COMPILED:
            if rx.search(sym):
                return name
    if frames and "kernel" in frames[0][1]:
        return KERNEL
    for sym, dso in frames:
        if TLS_RX.search(sym) or TLS_RX.search(dso):
            return TLS
    return OTHER


def samples(perf_data):
    out = subprocess.run(["perf", "script", "-i", perf_data, "-F", "comm,tid,ip,sym,dso"],
                         capture_output=True, text=True, errors="replace", check=True).stdout
    comm, frames = None, []
    for line in out.splitlines():
        if not line.strip():
            if comm is not None:
                yield comm, frames
            comm, frames = None, []
            continue
        if not line.startswith((" ", "\t")):
            comm = line.split()[0]
            frames = []
            continue
        m = re.match(r"\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
        if m:
            frames.append((m.group(1), m.group(2)))
    if comm is not None:
        yield comm, frames


def main():
    perf_data, requests, cpu_us = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    counts = collections.Counter()
    for comm, frames in samples(perf_data):
        counts[classify(frames, comm)] += 1
    total = sum(counts.values()) or 1
    print(f"{'stage':38} {'share':>6} {'us_cpu_per_req':>14}")
    order = [n for n, _ in STAGES] + [KERNEL, TLS, OTHER]
    for name in order:
        share = counts[name] / total
        print(f"{name:38} {share * 100:5.1f}% {share * cpu_us:14.1f}")
    print(f"{'total':38} {100:5.1f}% {cpu_us:14.1f}   ({total} samples, {requests} requests)")
    signing = (counts["request signature + digest"] + counts["receipt signature"]) / total * cpu_us
    print(f"signature_us_per_request={signing:.1f} (sampled: request signature + Content-Digest + nonce "
          f"+ receipt signature, on the gateway's own thread)")


if __name__ == "__main__":
    main()
