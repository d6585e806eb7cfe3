#!/usr/bin/env python3
"""Checks a JSON Lines log written by tests/common/test_log.c.

usage: check_jsonl.py LOG OUT [RAW]

Every line of LOG must be valid UTF-8 holding exactly one JSON object
(Python's json module, strict: no raw control characters in strings), and the
file must end with a newline. Each object is written to OUT re-serialised
with sorted keys and ASCII escapes, one per line, so that the C test can
compare exact text. With RAW, the "msg" of the first record must equal the
bytes of RAW decoded as UTF-8 with errors="replace" (one U+FFFD per maximal
invalid subpart, as Unicode recommends). Exit status 0 when all holds.
"""
import json
import sys


def main():
    log, out = sys.argv[1], sys.argv[2]
    with open(log, "rb") as f:
        data = f.read()
    if not data.endswith(b"\n"):
        print("log does not end with a newline", file=sys.stderr)
        return 1
    res = []
    lines = data[:-1].split(b"\n")
    for ln in lines:
        obj = json.loads(ln.decode("utf-8"))
        if not isinstance(obj, dict):
            print("not an object: %r" % ln, file=sys.stderr)
            return 1
        res.append(json.dumps(obj, sort_keys=True, ensure_ascii=True))
    with open(out, "w") as f:
        f.write("\n".join(res) + "\n")
    if len(sys.argv) > 3:
        with open(sys.argv[3], "rb") as f:
            want = f.read().decode("utf-8", "replace")
        got = json.loads(lines[0].decode("utf-8"))["msg"]
        if got != want:
            print("msg %r, want %r" % (got, want), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
