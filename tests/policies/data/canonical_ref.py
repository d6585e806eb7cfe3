#!/usr/bin/python3
"""Expected canonical form and SHA-256 of docs/examples/round.yaml.

The round spec's canonical form (docs/federation.md, "Round spec") is
JSON with sorted keys, ", " and ": " separators, every default filled in,
max-wait in milliseconds and numbers in their shortest round-trip form
(Python's repr; integral values without ".0"). This builds it from the
example by hand transcription of the file, so the C code is
checked against an independent writer. Run:

    /usr/bin/python3 tests/policies/data/canonical_ref.py
"""
import hashlib
import json


def num(x):
    x = float(x)
    return int(x) if x.is_integer() else x


spec = {
    "name": "Pneumothorax triage, chest X-ray, pilot",
    "model": "cnn-small",
    "input": {"channels": 1, "height": 64, "width": 64},
    "labels": ["normal", "pneumothorax"],
    "local": {"epochs": 2, "batch": 32, "lr": num(1e-3),
              "optimizer": "adam", "momentum": num(0),
              "weight-decay": num(1e-4), "prox-mu": num(0.01)},
    "rounds": 20,
    "min-sites": 3,
    "max-wait": "%dms" % (30 * 60 * 1000),
    "strategy": {"name": "fedprox", "params": {"eta": num(1.0)}},
    "val-fraction": num(0.2),
    "seed": 42,
}
text = json.dumps(spec, sort_keys=True, ensure_ascii=False)
print(text)
print(hashlib.sha256(text.encode()).hexdigest())
