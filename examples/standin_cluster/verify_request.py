"""Verify a request forwarded by the Sovereign Gateway, without the gateway's code.

A reference for cluster operators (docs/signatures.md): the sovgw RFC 9421 profile checked in plain
Python with the `cryptography` package (Debian: python3-cryptography). It handles exactly what the
gateway sends (components without parameters, one `sovgw` signature); for anything more general use
a full RFC 9421 library and apply the same rules. The stand-in cluster's --require-signature mode
(signature_check.cpp) is the complete implementation.

    from verify_request import verify
    reason = verify("POST", "cluster.example:9443", "/v1/chat/completions", headers, body, jwk_text,
                    cluster="paris")
    # None when the request is good, else a reason such as "content_digest_mismatch"

jwk_text is the gateway's public JWK or the JWK Set its admin listener publishes; a cluster the
gateway signs for with hmac-sha256 passes hmac_secret=read_hmac_secret("cluster.hmac") (the file
`sovgw keys hmac-new` writes) instead of, or as well as, the JWK.

Replays are refused by a NonceCache of this process (the default); replicas of one cluster pass
`nonces=` a store they share, with the same check() (docs/signatures.md shows one on Redis).
"""

import base64
import hashlib
import heapq
import hmac
import json
import re
import threading
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

REQUIRED = ["@method", "@authority", "@path", "@query", "sovereign-request-id", "sovereign-policy-version"]
# Fields a forwarded request's signature never covers: they frame the message on its hop (Host is
# "@authority"; content-digest binds the body) or are the signature itself.
NEVER_COVERED = {"host", "content-length", "transfer-encoding", "connection", "te", "keep-alive", "signature",
                 "signature-input"}


def _b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _thumbprint(x):
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def _keys(jwk_text, hmac_secret):
    """{keyid: (alg, key)}: the gateway's Ed25519 public key(s), by their RFC 7638 thumbprint (a JWK
    or a JWK Set), and the cluster's hmac-sha256 secret. A JWK that is not an Ed25519 public key
    (another kty or crv, or private material) or whose kid is not its thumbprint is refused (a kid
    that lies would be printed as the signer's)."""
    keys = {}
    if jwk_text is not None:
        # As `sovgw keys http-public` writes it: the JWK, then the same key as PEM, which is skipped
        # (probe round 50: json.loads raised on that file).
        text = jwk_text.strip()
        try:
            doc, end = json.JSONDecoder().raw_decode(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"the key is not a JWK or a JWK Set (JSON): {e}") from None
        rest = text[end:].strip()
        if rest and not (rest.startswith("-----BEGIN PUBLIC KEY-----") and rest.endswith("-----END PUBLIC KEY-----")):
            raise ValueError("the key file holds more than a JWK (and the PEM `sovgw keys http-public` writes after it)")
        for jwk in doc["keys"] if isinstance(doc, dict) and "keys" in doc else [doc]:
            if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or \
                    not isinstance(jwk.get("x"), str):
                raise ValueError("the JWK is not an Ed25519 public key (kty OKP, crv Ed25519, x)")
            if "d" in jwk:
                raise ValueError("the JWK holds a private key (d): give the public key only")
            keyid = _thumbprint(jwk["x"])
            if jwk.get("kid", keyid) != keyid:
                raise ValueError(f"the JWK's kid {jwk['kid']!r} is not its RFC 7638 thumbprint {keyid!r}, the "
                                 "keyid the gateway signs with")
            keys[keyid] = ("ed25519", Ed25519PublicKey.from_public_bytes(_b64url(jwk["x"])))
    if hmac_secret is not None:
        digest = hashlib.sha256(b"sovgw hmac-sha256 keyid\x00" + hmac_secret).digest()[:16]
        keys["hmac-" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()] = ("hmac-sha256", hmac_secret)
    if not keys:
        raise ValueError("no key: give the gateway's JWK (or JWK Set), or the cluster's hmac secret")
    return keys


def read_hmac_secret(path):
    """The secret of a `sovgw keys hmac-new` file: `sovgw-secret-key-v1 hmac-sha256-http-signing <base64>`."""
    with open(path) as f:
        magic, kind, b64 = f.read().split()
    if (magic, kind) != ("sovgw-secret-key-v1", "hmac-sha256-http-signing"):
        raise ValueError(f"{path} is not an hmac-sha256 signing secret")
    return base64.b64decode(b64, validate=True)


def _sf_bytes(text):
    """An RFC 8941 Byte Sequence's base64 as the C++ parser reads it (padding optional), or None."""
    data = text.rstrip("=")
    pads = len(text) - len(data)
    if pads > 2 or len(data) % 4 == 1 or (pads and (len(data) + pads) % 4) or re.search(r"[^A-Za-z0-9+/]", data):
        return None
    return base64.b64decode(data + "=" * (-len(data) % 4))


class NonceCache:
    """The nonces of accepted requests, each kept `window` seconds after its `created` (max_age +
    max_skew: anything older is refused as too old anyway), `capacity` at most. When full, the
    oldest is forgotten and becomes the floor: a request created at or before it is refused
    (nonce_unverifiable), so a replay is never accepted. Thread-safe. Once per cache: a restarted
    process or another replica has its own."""

    def __init__(self, window=330, capacity=100000):
        self.window, self.capacity, self.floor = window, capacity, None
        self._created, self._oldest, self._lock = {}, [], threading.Lock()

    def check(self, keyid, nonce, created, now):
        """None when the nonce is fresh (it is remembered now), else the reason to refuse."""
        with self._lock:
            while self._oldest and self._oldest[0][0] < now - self.window:
                del self._created[heapq.heappop(self._oldest)[1]]
            if created < now - self.window or (self.floor is not None and created <= self.floor):
                return "nonce_unverifiable"
            if (keyid, nonce) in self._created:
                return "replayed_nonce"
            if len(self._created) >= self.capacity:
                self.floor, oldest = heapq.heappop(self._oldest)
                del self._created[oldest]
                if created <= self.floor:
                    return "nonce_unverifiable"
            self._created[(keyid, nonce)] = created
            heapq.heappush(self._oldest, (created, (keyid, nonce)))
            return None


NONCES = NonceCache()


def _sf_string(value):
    """The text of an RFC 8941 String ("..." with \\ and \" escapes), or None."""
    m = re.fullmatch(r' *"((?:[ !#-\[\]-~]|\\["\\])*)" *', value)
    return re.sub(r'\\(.)', r'\1', m.group(1)) if m else None


def verify(method, authority, target, headers, body, jwk_text, now=None, max_age=300, max_skew=30,
           nonces=NONCES, cluster=None, hmac_secret=None, allow_uncovered=()):
    """headers: (name, value) pairs as received, trailer fields included (str, or bytes read as
    Latin-1 like WSGI does);
    body: bytes; nonces: where the nonces of accepted requests are kept (window at most max_age +
    max_skew); cluster: this cluster's name in the gateway's configuration (then a request signed
    for another cluster is refused: give it); hmac_secret: the cluster's hmac-sha256 secret, if any."""
    keys = _keys(jwk_text, hmac_secret)
    allowed = {name.lower() for name in allow_uncovered}
    fields = {}
    for name, value in headers:
        name, value = (x.decode("latin-1") if isinstance(x, bytes) else x for x in (name, value))
        fields.setdefault(name.lower(), []).append(value.strip(" \t"))
    combined = {name: ", ".join(values) for name, values in fields.items()}
    if len(fields.get("host", [])) > 1:  # which one is the authority? (an HTTP server refuses it: 400)
        return "repeated_field"
    if "signature-input" not in combined or "signature" not in combined:
        return "missing_signature"
    inputs, signatures = combined["signature-input"], combined["signature"]
    label = r'(?:^|,)[ \t]*sovgw='
    if not re.search(label, inputs):
        return "missing_signature"
    # One sovgw member in each field, one signature tagged sovgw-request: else which one is meant?
    if len(re.findall(label, inputs)) > 1 or len(re.findall(label, signatures)) > 1 or \
            inputs.count('tag="sovgw-request"') > 1:
        return "ambiguous_signature"
    # As the gateway writes it: sovgw=("..." "...");created=...;keyid="...";...
    member = re.search(label + r'(\(((?:"[^"\\]+"(?:;bs)?(?: "[^"\\]+"(?:;bs)?)*)?)\)((?:;[a-z]+=(?:"[^"\\]*"|-?[0-9]+))*))'
                       r'[ \t]*(?:,|$)', inputs)
    if not member:
        return "malformed_signature_input"
    signature_params = member.group(1)
    # A field whose value is outside printable ASCII is covered as its bytes (";bs", RFC 9421 2.1.3).
    as_bytes = {name for name, bs in re.findall(r'"([^"]+)"(;bs)?', member.group(2)) if bs}
    covered = re.findall(r'"([^"]+)"', member.group(2))
    raw = re.findall(r';([a-z]+)=("[^"]*"|-?[0-9]+)', member.group(3))
    # created and expires are Integers, the others Strings: checked before anything reads them.
    if len({k for k, _ in raw}) != len(raw) or any(
            (k in ("created", "expires")) == v.startswith('"') for k, v in raw if k in
            ("created", "expires", "keyid", "alg", "nonce", "tag")):
        return "malformed_signature_input"
    params = dict((k, v.strip('"')) for k, v in raw)
    signature = re.search(label + r'([^,]*)', signatures)
    if not signature:
        return "missing_signature_value"
    signature = re.fullmatch(r':([^:]*):[ \t]*', signature.group(1))
    signature = _sf_bytes(signature.group(1)) if signature else None
    if params.get("tag") != "sovgw-request":
        return "tag_mismatch"
    if params.get("keyid") not in keys:
        return "unknown_key"
    alg, key = keys[params["keyid"]]
    if params.get("alg", alg) != alg:
        return "algorithm_mismatch"
    if signature is None or len(signature) != (64 if alg == "ed25519" else 32):
        return "malformed_signature"
    now = int(time.time()) if now is None else now
    if "created" not in params:
        return "missing_created"
    created = int(params["created"])
    if created > now + max_skew:
        return "created_in_future"
    if now - created > max_age:
        return "too_old"
    if "expires" in params and now > int(params["expires"]) + max_skew:
        return "expired"
    if "nonce" not in params:
        return "missing_nonce"
    required = REQUIRED + (["content-type"] if "content-type" in combined else [])
    for name in required + (["sovereign-cluster"] if cluster is not None else []):
        if name not in covered:
            return "missing_required_component"
    for name in combined:
        # WSGI, CGI and Rack read "_" as "-": Sovereign_Client_Country is a Sovereign-* field to them,
        # Content_Digest is Content-Digest. Whatever reads as a geo-tag, a covered field or one
        # covered whenever present (Content_Type on a request without one) is covered. And every
        # other field too, but for NEVER_COVERED and the operator's allowed ones (a closed world).
        read_as = name.replace("_", "-")
        if (read_as.startswith("sovereign-") or read_as in covered or read_as in ("content-type", "content-digest")
                or (name not in NEVER_COVERED and name not in allowed)) and name not in covered:
            return "uncovered_field"
    # A Connection option names fields the next hop removes (RFC 9110 7.6.1): after this check, a
    # covered field or a geo-tag would be gone before the application reads the request. Only the
    # connection's own options pass.
    for option in combined.get("connection", "").split(","):
        option = option.strip(" \t").lower()
        if option and option not in ("close", "keep-alive", "te"):
            return "uncovered_field"
    for name in covered:
        # One line each, as the gateway writes them: the signature covers the lines joined, an
        # application reading the first would see part of the value.
        if not name.startswith("@") and len(fields.get(name, [])) > 1:
            return "repeated_field"
    path, _, query = target.partition("?")
    host = authority.lower()
    derived = {"@method": method, "@authority": host[:-4] if host.endswith(":443") else host,
               "@path": path or "/", "@query": "?" + query}
    lines = []
    for name in covered:
        value = derived.get(name) if name.startswith("@") else combined.get(name)
        if value is None:
            return "component_unavailable"
        if name in as_bytes:
            value = ", ".join(":" + base64.b64encode(v.encode("latin-1")).decode() + ":" for v in fields[name])
            lines.append(f'"{name}";bs: {value}')
            continue
        lines.append(f'"{name}": {value}')
    lines.append(f'"@signature-params": {signature_params}')
    try:
        base = "\n".join(lines).encode("ascii")
    except UnicodeEncodeError:  # the gateway signs ASCII only (other values as their bytes: ;bs)
        return "component_unavailable"
    if alg == "hmac-sha256":
        if not hmac.compare_digest(hmac.new(key, base, hashlib.sha256).digest(), signature):
            return "bad_signature"
    else:
        try:
            key.verify(signature, base)
        except InvalidSignature:
            return "bad_signature"
    if cluster is not None and _sf_string(combined["sovereign-cluster"]) != cluster:
        return "wrong_cluster"
    if body or "content-digest" in combined:
        if "content-digest" not in covered:
            return "content_digest_missing"
        found = re.findall(r'(sha-256|sha-512)=:([^:]*):', combined["content-digest"])
        digests = dict(found)
        # An algorithm given twice: a Dictionary keeps the last, another reader the first.
        if (not digests or len(digests) != len(found)
                or any(_sf_bytes(value) is None for value in digests.values())):
            return "content_digest_malformed"
        for algorithm, value in digests.items():
            h = hashlib.sha256 if algorithm == "sha-256" else hashlib.sha512
            if _sf_bytes(value) != h(body).digest():
                return "content_digest_mismatch"
    return nonces.check(params["keyid"], params["nonce"], created, now)
