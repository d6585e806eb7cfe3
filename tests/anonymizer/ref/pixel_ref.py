#!/usr/bin/python3
"""pixel_ref.py IN.dcm OUT.raw | pixel_ref.py --list PAIRS.tsv

The stored values of native (uncompressed) DICOM images as pydicom decodes
them, for test_pixel_corpus. PAIRS.tsv has one "IN<tab>OUT" per line; an OUT
is not written when pydicom cannot decode its IN (the reason on stderr).

OUT.raw holds every frame, row by row, samples pixel-interleaved, as
little-endian int32. pydicom gives the allocated words; the stored value is
then taken as PS3.5 section 8 defines it: Bits Stored bits ending at High
Bit, sign-extended when Pixel Representation is 1. Exit status 3 when
pydicom cannot give the pixels of the one IN (the reason on stderr)."""
import sys

import numpy as np
import pydicom


def dump(src, dst):
    ds = pydicom.dcmread(src, force=True)
    try:
        arr = ds.pixel_array
    except Exception as exc:  # pydicom's handlers raise many types
        print("pydicom: %s: %s" % (src, exc), file=sys.stderr)
        return 3
    ba = int(ds.BitsAllocated)
    bs = int(ds.BitsStored)
    hb = int(ds.HighBit)
    signed = int(ds.PixelRepresentation) == 1
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    spp = int(ds.SamplesPerPixel)
    arr = arr.reshape(frames, int(ds.Rows), int(ds.Columns), spp)
    raw = arr.astype(np.int64) & ((1 << ba) - 1)
    mask = (1 << bs) - 1
    v = (raw >> (hb + 1 - bs)) & mask
    if signed:
        v = np.where(v >> (bs - 1) & 1, v - (1 << bs), v)
    v.astype("<i4").tofile(dst)
    return 0


def main():
    if sys.argv[1] == "--list":
        with open(sys.argv[2], encoding="utf-8") as f:
            for line in f:
                src, dst = line.rstrip("\n").split("\t")
                dump(src, dst)
        return 0
    return dump(sys.argv[1], sys.argv[2])


if __name__ == "__main__":
    sys.exit(main())
