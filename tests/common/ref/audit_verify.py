#!/usr/bin/python3
"""audit_verify.py - verifies a radfed audit log from its specification
(docs/formats.md, "Audit log") alone, with hashlib and the 'cryptography'
package's Ed25519: a second implementation the C verifier is checked
against.

usage: audit_verify.py LOG [--key HEX]...

--key: a trusted checkpoint public key (raw 32 bytes, hex); repeatable.
Without --key every checkpoint must carry the same key.

Exit 0 and "lines=N events=N checkpoints=N unsigned_tail=N" on stdout when
the log verifies; exit 1 and "line N: reason" on stderr when it does not.
"""
import hashlib
import json
import re
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import \
    Ed25519PublicKey

FIELDS = ["seq", "ts", "actor", "event", "data", "prev", "hash"]
CKPT_FIELDS = ["count", "head", "key", "sig"]
NAME = re.compile(r"[A-Za-z0-9._:@-]{1,128}\Z")
TS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                r"\.[0-9]{3}Z\Z")
HEX64 = re.compile(r"[0-9a-f]{64}\Z")
HEX128 = re.compile(r"[0-9a-f]{128}\Z")
DOMAIN = b"radfed-audit-v1"


class Obj(list):
    """A JSON object as its (key, value) pairs, in order."""


class Bad(Exception):
    pass


def is_uint(v):
    return type(v) is int and v >= 0


def check_checkpoint(d, seq, last_hash, trusted, state):
    data = d["data"]
    if [k for k, _ in data] != CKPT_FIELDS:
        raise Bad("checkpoint data keys are not count, head, key, sig")
    c = dict(data)
    if not is_uint(c["count"]) or c["count"] != seq:
        raise Bad("checkpoint count is not the number of lines before it")
    if seq == 0 or c["head"] != last_hash:
        raise Bad("checkpoint head is not the hash of the line before it")
    if not (isinstance(c["key"], str) and HEX64.match(c["key"]) and
            isinstance(c["sig"], str) and HEX128.match(c["sig"])):
        raise Bad("malformed checkpoint key or signature")
    if trusted:
        if c["key"] not in trusted:
            raise Bad("checkpoint key is not trusted")
    elif state.get("key", c["key"]) != c["key"]:
        raise Bad("checkpoint key differs from the earlier checkpoints'")
    state["key"] = c["key"]
    msg = DOMAIN + bytes.fromhex(c["head"]) + c["count"].to_bytes(8, "big")
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(c["key"])).verify(
            bytes.fromhex(c["sig"]), msg)
    except (InvalidSignature, ValueError):
        raise Bad("bad checkpoint signature")


def verify(path, trusted):
    with open(path, "rb") as f:
        raw = f.read()
    lines = raw.split(b"\n")
    torn = lines.pop()  # b"" when the file ends with a newline
    prev = "0" * 64
    last_hash = None
    state = {}
    counts = {"lines": 0, "events": 0, "checkpoints": 0, "unsigned_tail": 0}
    for seq, line in enumerate(lines):
        try:
            try:
                d = json.loads(line.decode("utf-8"), object_pairs_hook=Obj)
            except (UnicodeDecodeError, ValueError):
                raise Bad("not a JSON object")
            if not isinstance(d, Obj) or [k for k, _ in d] != FIELDS:
                raise Bad("fields are not seq, ts, actor, event, data, "
                          "prev, hash")
            d = dict(d)
            if not is_uint(d["seq"]) or d["seq"] != seq:
                raise Bad("seq %r where %d was expected" % (d["seq"], seq))
            if not (isinstance(d["ts"], str) and TS.match(d["ts"])):
                raise Bad("malformed ts")
            for k in ("actor", "event"):
                if not (isinstance(d[k], str) and NAME.match(d[k])):
                    raise Bad("malformed " + k)
            if not isinstance(d["data"], Obj):
                raise Bad("data is not an object")
            if not (isinstance(d["prev"], str) and d["prev"] == prev):
                raise Bad("prev is not the hash of the previous line")
            if not (isinstance(d["hash"], str) and HEX64.match(d["hash"])):
                raise Bad("malformed hash")
            tail = b',"hash":"' + d["hash"].encode() + b'"}'
            if not line.endswith(tail):
                raise Bad("hash is not the last field")
            if hashlib.sha256(line[:-len(tail)]).hexdigest() != d["hash"]:
                raise Bad("hash does not match the line")
            if d["event"] == "checkpoint":
                check_checkpoint(d, seq, last_hash, trusted, state)
        except Bad as why:
            return seq + 1, str(why), counts
        prev = hashlib.sha256(line).hexdigest()
        last_hash = d["hash"]
        counts["lines"] += 1
        if d["event"] == "checkpoint":
            counts["checkpoints"] += 1
            counts["unsigned_tail"] = 0
        else:
            counts["events"] += 1
            counts["unsigned_tail"] += 1
    if torn:
        return len(lines) + 1, "incomplete last line (no newline)", counts
    return 0, None, counts


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    path, trusted, i = argv[1], set(), 2
    while i < len(argv):
        if argv[i] != "--key" or i + 1 >= len(argv):
            print("usage: audit_verify.py LOG [--key HEX]...",
                  file=sys.stderr)
            return 2
        trusted.add(argv[i + 1].lower())
        i += 2
    bad, why, c = verify(path, trusted)
    if bad:
        print("line %d: %s" % (bad, why), file=sys.stderr)
        return 1
    print("lines=%d events=%d checkpoints=%d unsigned_tail=%d" %
          (c["lines"], c["events"], c["checkpoints"], c["unsigned_tail"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
