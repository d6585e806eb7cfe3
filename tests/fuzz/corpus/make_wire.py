#!/usr/bin/python3
"""Writes the seed corpus of fuzz_wire into corpus/wire/.

Standard library only: protobuf is encoded by hand from proto/radfed.proto
(field numbers and wire types), SHA-256 by hashlib. The first byte of each
seed picks what fuzz_wire decodes (the order of its `msgs` table, then the
stream, built-chunk and spec modes). Run from anywhere:

    /usr/bin/python3 tests/fuzz/corpus/make_wire.py
"""
import hashlib
import json
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wire")

# the order of msgs[] in fuzz_wire.c, then its modes
(TASK, RECEIPT, ENROLL_RESP, CHUNK, EMPTY, TASK_REQ, DECISION, MODEL_REQ,
 UPDATE_PART, START_ROUND, STATUS_REQ, EXPORT_REQ, ENROLL_REQ, STATUS_REPLY,
 ROUND_INFO, BUILD_INFO, STREAM, BUILT, SPEC) = range(19)


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def uint(field, v):
    return varint(field << 3) + varint(v)


def ln(field, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(field << 3 | 2) + varint(len(data)) + data


SPEC_YAML = """name: "Pneumothorax triage, chest X-ray, pilot"
model: cnn-small
input: 1x64x64
labels:
  - normal
  - pneumothorax
local:
  epochs: 2
  batch: 32
  lr: 1e-3
  optimizer: adam
  weight-decay: 1e-4
  prox-mu: 0.01
rounds: 20
min-sites: 3
max-wait: 30m
strategy:
  name: fedprox
  params:
    eta: 1.0
val-fraction: 0.2
seed: 42
"""

SPEC_JSON = json.dumps({
    "input": {"channels": 1, "height": 64, "width": 64},
    "labels": ["normal", "pneumothorax"],
    "local": {"batch": 32, "epochs": 2, "lr": 0.001, "momentum": 0,
              "optimizer": "sgd", "prox-mu": 0, "weight-decay": 0},
    "max-wait": "1h", "min-sites": 2, "model": "cnn-small",
    "name": "pilot", "rounds": 3, "seed": 7,
    "strategy": {"name": "fedavg", "params": {}}, "val-fraction": 0.1,
}, separators=(",", ":"), sort_keys=True)

SHA = hashlib.sha256(SPEC_JSON.encode()).hexdigest()
MODEL_SHA = hashlib.sha256(b"model").hexdigest()


def chunk(offset, data, last=False, whole=b""):
    m = b""
    if offset:
        m += uint(1, offset)
    if data:
        m += ln(2, data)
    if last:
        m += uint(3, 1) + uint(4, len(whole))
        m += ln(5, hashlib.sha256(whole).digest())
    return m


def records(msgs):
    return b"".join(len(m).to_bytes(2, "big") + m for m in msgs)


def seeds():
    task = (uint(1, 1) + ln(2, "12") + ln(3, SPEC_JSON) + ln(4, SHA) +
            ln(5, bytes(64)) + ln(6, "dr-dubois.aphp"))
    yield "task-offer", TASK, task
    yield "task-train", TASK, (task[2:] + uint(1, 2) + uint(7, 3) +
                               ln(8, MODEL_SHA) + uint(9, 123456))
    yield "receipt", RECEIPT, ln(1, MODEL_SHA) + uint(2, 4096) + uint(3, 1)
    yield "enroll-response", ENROLL_RESP, (
        ln(1, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        + ln(2, "-----BEGIN CERTIFICATE-----\nMIIC\n") + ln(3, "site-a") +
        ln(4, "site") + ln(5, bytes(range(32))))
    yield "chunk", CHUNK, chunk(0, b"abc", True, b"abc")
    yield "empty", EMPTY, b""
    yield "task-request", TASK_REQ, uint(1, 25000)
    yield "decision", DECISION, (ln(1, "12") + uint(2, 0) + ln(3, SHA) +
                                 ln(4, "model 'x' is not allowed") +
                                 ln(4, "rounds 80 > max-rounds 50"))
    yield "model-request", MODEL_REQ, ln(1, "12") + uint(2, 1)
    header = (ln(1, "12") + uint(2, 1) + uint(3, 100) + ln(4, "delta") +
              uint(5, 8) + ln(6, hashlib.sha256(bytes(8)).digest()) +
              ln(7, '{"accuracy":0.5}') + ln(8, MODEL_SHA))
    yield "update-header", UPDATE_PART, ln(1, header)
    yield "update-chunk", UPDATE_PART, ln(2, chunk(0, bytes(8), True,
                                                   bytes(8)))
    yield "start-round", START_ROUND, ln(1, SPEC_YAML)
    yield "status-request", STATUS_REQ, ln(1, "12")
    yield "export-request", EXPORT_REQ, ln(1, "12") + uint(2, 3) + uint(3, 1)
    yield "enroll-request", ENROLL_REQ, (
        ln(1, "ab" * 32) +
        ln(2, "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n"
              "-----END CERTIFICATE REQUEST-----\n"))
    upd = (ln(1, "site-a") + uint(2, 100) + uint(3, 4096) + ln(4, SHA) +
           ln(5, '{"auc":0.9}'))
    it = uint(1, 1) + ln(2, upd) + ln(3, MODEL_SHA) + uint(4, 1700000000)
    site = ln(1, "site-a") + ln(2, "accepted") + ln(3, SHA)
    info = (ln(1, "12") + ln(2, "pilot") + ln(3, "running") + uint(4, 2) +
            uint(5, 3) + ln(6, SHA) + ln(7, "dr-dubois.aphp") +
            uint(8, 1700000000) + uint(9, 1700000100) + uint(10, 2) +
            uint(11, 1700003600) + ln(12, site) + ln(12, site) +
            ln(13, it) + ln(14, MODEL_SHA) + ln(15, ""))
    yield "status-reply", STATUS_REPLY, ln(1, info) + ln(1, info)
    yield "round-info", ROUND_INFO, info
    comp = ln(1, "openssl") + ln(2, "3.0.11")
    yield "build-info", BUILD_INFO, ln(1, "0.1.0") + ln(2, comp) + ln(2, comp)

    payload = bytes(range(200)) * 2
    parts = [chunk(0, payload[:150]), chunk(150, payload[150:300]),
             chunk(300, payload[300:], True, payload)]
    yield "stream", STREAM, bytes([64]) + records(parts)
    yield "stream-empty", STREAM, bytes([1]) + records(
        [chunk(0, b"", True, b"")])
    yield "stream-parts", STREAM, bytes([0x80 | 64]) + records(
        [ln(2, p) for p in parts])
    yield "stream-toobig", STREAM, bytes([4]) + records(parts)

    # built chunks: flags, length, data (fuzz_wire.c, MODE_BUILT)
    yield "built", BUILT, bytes([64, 0, 5]) + b"hello" + bytes([1, 3]) + b"abc"
    yield "built-badsha", BUILT, bytes([64, 0x29, 4]) + b"data"
    yield "built-offset", BUILT, bytes([64, 0, 2]) + b"ab" + bytes([3, 1, 0])

    yield "spec-yaml", SPEC, SPEC_YAML.encode()
    yield "spec-json", SPEC, SPEC_JSON.encode()
    yield "spec-flow", SPEC, (
        b"{name: x, model: cnn-small, input: {channels: 3, height: 32, "
        b"width: 32}, labels: [a, b, c], strategy: fedavg}")


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, mode, body in seeds():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(bytes([mode]) + body)


if __name__ == "__main__":
    main()
