#!/usr/bin/python3
"""Exit 0 when two radfed model files hold bit-identical parameters (same
paths, shapes and bytes), 1 when they differ, 2 on a bad file.

usage: params_equal.py A.h5 B.h5"""
import sys

import h5py
import numpy as np


def params(path):
    out = {}
    with h5py.File(path, "r") as f:
        f["params"].visititems(
            lambda name, obj: out.__setitem__(name, obj[()])
            if isinstance(obj, h5py.Dataset) else None)
    return out


def main():
    try:
        a, b = params(sys.argv[1]), params(sys.argv[2])
    except (OSError, KeyError) as exc:
        print(exc)
        sys.exit(2)
    if not a:
        sys.exit(2)
    same = a.keys() == b.keys() and all(
        a[k].shape == b[k].shape and a[k].tobytes() == b[k].tobytes()
        for k in a)
    print("identical" if same else "different")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
