#!/usr/bin/python3
"""Writes the h5py-made fixtures read by tests/common/test_tensor.c.

Run from this directory with Debian's python3-h5py (h5py 3.7, HDF5 1.10):
    /usr/bin/python3 make_fixtures.py
Outputs:
  h5py_ref.h5         datasets and attributes of every kind radfed reads
  h5py_latest.h5      a new-format file (dense link storage, creation order
                      tracked) whose listing must still come out sorted
  h5py_latest.order   the expected listing of h5py_latest.h5, one
                      "<path> <dtype> <shape>" per line, computed here
  h5py_hostile.h5     objects that point outside the file (an external
                      link, external raw storage, a virtual dataset), a
                      hard-link cycle, a dataset with a 512 MiB chunk and
                      one of rank 9
"""
import random

import h5py
import numpy as np


def bits_f32(words):
    return np.array(words, dtype="<u4").view("<f4")


def ref():
    with h5py.File("h5py_ref.h5", "w") as f:
        w = (np.arange(48, dtype=np.float32) * 0.25 - 6).reshape(4, 3, 2, 2)
        f.create_dataset("params/conv1/weight", data=w, chunks=(2, 3, 2, 2),
                         compression="gzip", compression_opts=4,
                         shuffle=True)
        # NaN, payload NaN, +inf, -inf, -0, smallest denormal, FLT_MAX
        f["params/conv1/bias"] = bits_f32(
            [0x7FC00000, 0x7FA00001, 0x7F800000, 0xFF800000, 0x80000000,
             0x00000001, 0x7F7FFFFF])
        f["be/f32"] = (np.arange(6, dtype=np.float32) * 1.5).reshape(
            2, 3).astype(">f4")
        f["be/i32"] = np.array([-2147483648, 2147483647, -1], dtype=">i4")
        f.create_dataset("labels", data=np.array([3, 1, 4, 1, 5], "<i4"),
                         maxshape=(None,), chunks=(2,))
        f.create_dataset("images", data=np.arange(12, dtype="<f4").reshape(
            3, 1, 2, 2), maxshape=(None, 1, 2, 2), chunks=(1, 1, 2, 2),
            compression="gzip")
        f["f64"] = np.array([1.0, 2.0], dtype="<f8")
        f["scalar"] = np.float32(1.0)
        f["soft"] = h5py.SoftLink("/labels")

        f.attrs["model"] = "résnet-18 ✓"  # variable-length UTF-8
        f.attrs["arch_version"] = np.int64(3)
        f.attrs["round"] = np.uint8(7)
        f.attrs["big"] = np.uint64(2**63)
        f.attrs["lr"] = np.float64(0.001)
        f.attrs["half"] = np.float32(0.5)
        f.attrs["fixed"] = np.bytes_(b"fixed-ascii")  # fixed, NULLPAD
        f.attrs.create("fixed_utf8", "é-fixed".encode(),
                       dtype=h5py.string_dtype("utf-8", 12))
        f.attrs["vector"] = np.array([1, 2, 3], dtype="<i4")
        f["params"].attrs["count"] = np.int16(-5)
        f["labels"].attrs["note"] = "labels"


def latest():
    names = ["b", "a", "a.b", "Z", "a0", "_x", "é", "10", "9", "m"] + [
        "n%02d" % i for i in range(20)]
    random.Random(7).shuffle(names)
    with h5py.File("h5py_latest.h5", "w", libver="latest",
                   track_order=True) as f:
        g = f.create_group("a", track_order=True)
        for i, n in enumerate(names):
            dt = "<f4" if i % 2 else "<i4"
            g.create_dataset(n, data=np.zeros((i % 3 + 1, 2), dtype=dt))
        f.create_dataset("a.b", data=np.zeros(1, "<f4"))
        f.create_dataset("b/c", data=np.zeros((1, 1, 1), "<i4"))

    out = []

    def walk(group, prefix):
        for k in sorted(group.keys(), key=lambda s: s.encode()):
            obj = group[k]
            path = prefix + "/" + k
            if isinstance(obj, h5py.Group):
                walk(obj, path)
            else:
                dt = {"<f4": "float32", "<i4": "int32"}[obj.dtype.str]
                out.append("%s %s %s" % (path, dt,
                                         "x".join(map(str, obj.shape))))

    with h5py.File("h5py_latest.h5", "r") as f:
        walk(f, "")
    with open("h5py_latest.order", "w", encoding="utf-8") as o:
        o.write("\n".join(out) + "\n")


def hostile():
    with h5py.File("h5py_hostile.h5", "w", libver="latest") as f:
        f["ext"] = h5py.ExternalLink("/etc/hostname", "/x")
        # raw data in a file outside: declared, never written here
        f.create_dataset("extdata", shape=(4,), dtype="<f4",
                         external=[("/etc/hostname", 0, 16)])
        layout = h5py.VirtualLayout(shape=(4,), dtype="<f4")
        layout[:] = h5py.VirtualSource("other.h5", "/x", shape=(4,))
        f.create_virtual_dataset("vds", layout, fillvalue=0)
        g = f.create_group("loop")
        g["d"] = np.array([1], dtype="<i4")
        g["self"] = g  # hard-link cycle: /loop/self is /loop
        # 4 elements in one declared 512 MiB chunk (never allocated here)
        f.create_dataset("bigchunk", shape=(4,), maxshape=(None,),
                         chunks=(2**27,), dtype="<f4")
        f["r9"] = np.zeros((1,) * 9, dtype="<f4")  # rank above 8


if __name__ == "__main__":
    ref()
    latest()
    hostile()
