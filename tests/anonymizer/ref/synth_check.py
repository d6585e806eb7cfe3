#!/usr/bin/python3
"""synth_check.py DIR - checks a `radfed synth` output with pydicom, for
test_synth.

For every line of DIR/truth/pixels.tsv: pydicom reads the file (without
force), its transfer syntax is the one listed, and the SHA-256 of
pixel_array written as little-endian words of Bits Allocated (uint8,
uint16, or int16 when Pixel Representation is 1) equals the listed digest
of the generated pixels. pydicom decodes RLE Lossless with its own numpy
decoder, deflate with zlib, big endian by byte-swapping: none of radfed's
code is involved. Also checks Rows x Columns against the pixel array and,
for CT, RescaleIntercept -1024 / RescaleSlope 1.

Prints one line per problem and a summary "checked N files"; exit status
0 when every file matched, 1 otherwise."""
import hashlib
import os
import sys
import warnings

warnings.simplefilter("ignore")

import numpy as np  # noqa: E402
import pydicom  # noqa: E402


def main():
    top = sys.argv[1]
    bad = 0
    n = 0
    with open(os.path.join(top, "truth", "pixels.tsv"), encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    for rel, ts, bits, digest in rows:
        n += 1
        ds = pydicom.dcmread(os.path.join(top, rel))
        if str(ds.file_meta.TransferSyntaxUID) != ts:
            print("%s: transfer syntax %s, want %s"
                  % (rel, ds.file_meta.TransferSyntaxUID, ts))
            bad += 1
        arr = ds.pixel_array
        if arr.shape != (int(ds.Rows), int(ds.Columns)):
            print("%s: shape %r" % (rel, arr.shape))
            bad += 1
        if int(ds.BitsAllocated) != int(bits):
            print("%s: bits allocated %s, want %s"
                  % (rel, ds.BitsAllocated, bits))
            bad += 1
        if int(bits) == 8:
            dt = "u1"
        elif int(ds.PixelRepresentation) == 1:
            dt = "<i2"
        else:
            dt = "<u2"
        got = hashlib.sha256(arr.astype(dt).tobytes()).hexdigest()
        if got != digest:
            print("%s: pixel sha256 %s, want %s" % (rel, got, digest))
            bad += 1
        if ds.Modality == "CT" and (float(ds.RescaleIntercept) != -1024
                                    or float(ds.RescaleSlope) != 1):
            print("%s: rescale %s/%s" % (rel, ds.RescaleIntercept,
                                         ds.RescaleSlope))
            bad += 1
    print("checked %d files, %d problems" % (n, bad))
    return 1 if bad or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
