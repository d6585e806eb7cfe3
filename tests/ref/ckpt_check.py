"""Independent reading of a radfed model file, for tests/trainers/test_ckpt.c.

usage: /usr/bin/python3 ckpt_check.py MODEL.h5

Reads the file with h5py and prints, one per line:

  attr <name> <type> <value>      every root attribute, sorted by name;
                                  type int64, or str for a variable-length
                                  UTF-8 string
  param <path> <dtype> <shape>    every dataset under /params, in byte
                                  order of its path (e.g. "fc/bias"),
                                  shape as AxBxC
  sha256 <hex> <ok|MISMATCH>      SHA-256 of the canonical byte stream
                                  (each parameter's values, in that order,
                                  as little-endian float32), recomputed
                                  here, and whether it equals the sha256
                                  attribute

as docs/formats.md ("Model files and deltas") describes the format.
"""
import hashlib
import sys

import h5py
import numpy as np


def attr_line(f, name):
    aid = f.attrs.get_id(name)
    value = f.attrs[name]
    info = h5py.check_string_dtype(aid.dtype)
    if info is not None:
        vlen = "vlen" if info.length is None else "fixed"
        if isinstance(value, bytes):
            value = value.decode(info.encoding)
        return "attr %s str-%s-%s %s" % (name, vlen, info.encoding, value)
    return "attr %s %s %s" % (name, aid.dtype.newbyteorder("=").name
                              if aid.dtype.byteorder in "<>" else
                              aid.dtype.name, value)


def main():
    with h5py.File(sys.argv[1], "r") as f:
        for name in sorted(f.attrs.keys()):
            print(attr_line(f, name))
        found = []
        if "params" in f:
            f["params"].visititems(
                lambda n, o: found.append(n)
                if isinstance(o, h5py.Dataset) else None)
        digest = hashlib.sha256()
        for path in sorted(found, key=lambda s: s.encode()):
            ds = f["params"][path]
            print("param %s %s %s" % (path, ds.dtype.newbyteorder("=").name
                                      if ds.dtype.byteorder in "<>" else
                                      ds.dtype.name,
                                      "x".join(str(d) for d in ds.shape)))
            digest.update(np.asarray(ds[()], dtype="<f4").tobytes())
        want = f.attrs.get("sha256", "")
        if isinstance(want, bytes):
            want = want.decode()
        hexd = digest.hexdigest()
        print("sha256 %s %s" % (hexd, "ok" if hexd == want else "MISMATCH"))


if __name__ == "__main__":
    main()
