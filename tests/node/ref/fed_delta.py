#!/usr/bin/python3
"""Reference for tests/node/test_fed.c: the update payload of a round.

Usage: fed_delta.py GLOBAL.h5 LOCAL.h5 DELTA

Reads both model files with h5py, takes every dataset under /params in
byte order of its path (the canonical order of docs/formats.md), and
checks that DELTA holds exactly local - global as float32 little-endian.
Exit status 0 when it does, 1 otherwise (with the first difference).
"""
import sys

import h5py
import numpy as np


def flat(path):
    names = []
    with h5py.File(path, "r") as f:
        f["params"].visititems(
            lambda n, o: names.append(n) if isinstance(o, h5py.Dataset)
            else None)
        names.sort(key=lambda n: n.encode())
        return np.concatenate(
            [np.asarray(f["params"][n], dtype=np.float32).ravel()
             for n in names])


def main():
    g = flat(sys.argv[1])
    loc = flat(sys.argv[2])
    want = (loc - g).astype("<f4")
    got = np.fromfile(sys.argv[3], dtype="<f4")
    if got.shape != want.shape:
        print(f"size {got.size}, want {want.size}")
        return 1
    bad = np.flatnonzero(got.view("<u4") != want.view("<u4"))
    if bad.size:
        i = bad[0]
        print(f"element {i}: {got[i]!r}, want {want[i]!r}")
        return 1
    if not np.any(want != 0):
        print("the delta is all zeros: the models are equal")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
