#!/usr/bin/python3
"""Prints what h5py sees in an HDF5 file, in a canonical text form that
tests/common/test_tensor.c compares with what it wrote:

  D <path> <dtype> <shape> <layout> sha256:<hex of the little-endian bytes>
  A <object> <name> <kind> <value>

Objects are visited depth first, the members of each group in byte-wise
order of their names; attributes in byte-wise order of their names.
layout is "contiguous" or "chunk=<dims>,gzip=<level|->,shuffle=<0|1>";
shape and chunk dims are joined with "x". kind is str (variable-length
string), fstr<N> (fixed-length, N bytes), i64 or f64 (value as repr()).
"""
import hashlib
import sys

import h5py
import numpy as np

DTYPES = {"f4": "float32", "i4": "int32"}


def bkey(s):
    return s.encode()


def attrs(obj, path):
    for name in sorted(obj.attrs.keys(), key=bkey):
        a = obj.attrs.get_id(name)
        t = a.get_type()
        if isinstance(t, h5py.h5t.TypeStringID):
            raw = obj.attrs[name]
            if isinstance(raw, bytes):
                raw = raw.decode("utf-8")
            kind = "str" if t.is_variable_str() else "fstr%d" % t.get_size()
            print("A %s %s %s %s" % (path, name, kind, raw))
        elif np.ndim(obj.attrs[name]) > 0:
            print("A %s %s array %s" % (path, name,
                                        np.asarray(obj.attrs[name]).tolist()))
        elif isinstance(t, h5py.h5t.TypeIntegerID):
            print("A %s %s i64 %d" % (path, name, int(obj.attrs[name])))
        else:
            print("A %s %s f64 %r" % (path, name, float(obj.attrs[name])))


def walk(group, prefix):
    attrs(group, prefix or "/")
    for k in sorted(group.keys(), key=bkey):
        link = group.get(k, getlink=True)
        if not isinstance(link, h5py.HardLink):
            continue
        obj = group[k]
        path = prefix + "/" + k
        if isinstance(obj, h5py.Group):
            walk(obj, path)
            continue
        dt = DTYPES.get(obj.dtype.str[1:], obj.dtype.str[1:])
        if obj.chunks:
            gz = obj.compression_opts if obj.compression == "gzip" else "-"
            layout = "chunk=%s,gzip=%s,shuffle=%d" % (
                "x".join(map(str, obj.chunks)), gz, int(obj.shuffle))
        else:
            layout = "contiguous"
        data = np.ascontiguousarray(obj[()]).astype(
            obj.dtype.newbyteorder("<"))
        print("D %s %s %s %s sha256:%s" % (
            path, dt, "x".join(map(str, obj.shape)), layout,
            hashlib.sha256(data.tobytes()).hexdigest()))
        attrs(obj, path)


with h5py.File(sys.argv[1], "r") as f:
    walk(f, "")
