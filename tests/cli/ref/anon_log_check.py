#!/usr/bin/python3
"""anon_log_check.py DIR - the log of `radfed anon` in DIR/out1 has one
JSON line per input of DIR/synth/{dicom,reports}, each with exactly the
fields input (a 32-hex-digit keyed hash, never a path), kind, outcome,
reason and output; only burned-in images are quarantined here."""
import json
import os
import sys

d = sys.argv[1]
n = sum(len(f) for _, _, f in os.walk(os.path.join(d, "synth", "dicom")))
n += len(os.listdir(os.path.join(d, "synth", "reports")))
lines = open(os.path.join(d, "out1", "anon-log.jsonl")).read().splitlines()
assert len(lines) == n, (len(lines), n)
inputs = set()
for line in lines:
    j = json.loads(line)
    assert set(j) == {"input", "kind", "outcome", "reason", "output"}, j
    assert len(j["input"]) == 32 and int(j["input"], 16) >= 0, j
    assert j["outcome"] in ("written", "quarantined"), j
    assert (j["outcome"] == "written") == bool(j["output"]), j
    if j["outcome"] == "quarantined":
        assert "burned-in" in j["reason"], j
    inputs.add(j["input"])
assert len(inputs) == n, "two inputs share a hash"
print("anon_log_check: %d lines, one per input" % n)
