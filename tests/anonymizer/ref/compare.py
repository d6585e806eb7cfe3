#!/usr/bin/python3
"""Reference check of the radfed DICOM writer, run by test_dicom_corpus.

usage: compare.py MANIFEST

MANIFEST has one line per input file: "<original>\t<written>[\tlenient]"
where <written> is the file radfed wrote after reading <original>, or "-"
when radfed rejected <original>; "lenient" marks a file radfed read only in
its lenient mode (truncated input), whose output must then hold a subset of
the original's elements (the element cut short is dropped), each equal.

For every written file:
  - pydicom must read it (without force) and dcmdump must read it without
    error;
  - when pydicom can read the original (force=True), the output must hold
    exactly the data elements of the original outside group 0002,
    recursively through sequences, each with a value equal to the original's
    as pydicom decodes it. Group length elements (gggg,0000) are retired and not
    written, so they are not compared. Odd-length binary values compare equal
    to the same bytes plus the NUL pad the writer must add; big-endian OW/OF/
    OL/OD/OV values compare after swapping to little-endian.
The list of originals pydicom cannot read is derived here, at run time, and
printed. Exit status 0 when every check passes, 1 otherwise.
"""
import subprocess
import sys
import warnings

warnings.simplefilter("ignore")

import pydicom  # noqa: E402
from pydicom.sequence import Sequence  # noqa: E402

SWAP = {"OW": 2, "US": 2, "SS": 2, "OF": 4, "OL": 4, "FL": 4, "UL": 4,
        "SL": 4, "OD": 8, "OV": 8, "FD": 8, "SV": 8, "UV": 8}


def swapped(b, unit):
    return b"".join(b[i:i + unit][::-1] for i in range(0, len(b), unit))


def value(elem):
    try:
        return ("ok", elem.value)
    except Exception as exc:  # pydicom could not decode it
        return ("error", type(exc).__name__)


def same_value(a, b, vr_a, big_endian):
    if a == b:
        return True
    if isinstance(a, (bytes, bytearray)) and isinstance(b, (bytes,
                                                            bytearray)):
        if big_endian and vr_a in SWAP:
            a = swapped(bytes(a), SWAP[vr_a])
        if len(a) % 2 == 1 and bytes(b) == bytes(a) + b"\0":
            return True
        return bytes(a) == bytes(b)
    return str(a) == str(b)


DIR_OFFSETS = (0x00041200, 0x00041202, 0x00041400, 0x00041420)


def record_index(ds):
    """DICOMDIR: offset of each directory record -> its index."""
    if 0x00041220 not in ds:
        return {}
    return {getattr(item, "seq_item_tell", -1): i
            for i, item in enumerate(ds[0x00041220].value)}


def compare(orig, out, path, big_endian, problems, recs=None, subset=False):
    if recs is None:
        # offsets change on rewrite: compare the records they point to
        recs = (record_index(orig), record_index(out))
    for elem in out:
        tag = elem.tag
        if tag.group != 2 and tag.element != 0 and tag not in orig:
            problems.append("%s(%04X,%04X) not in the original" %
                            (path, tag.group, tag.element))
    for elem in orig:
        tag = elem.tag
        if tag.group == 2 or tag.element == 0:
            continue
        where = "%s(%04X,%04X)" % (path, tag.group, tag.element)
        if tag not in out:
            if not subset:
                problems.append(where + " missing")
            continue
        oelem = out[tag]
        va, vb = value(elem), value(oelem)
        if va[0] == "error" or vb[0] == "error":
            if va != vb:
                problems.append("%s decodes as %r vs %r" % (where, va, vb))
            continue
        a, b = va[1], vb[1]
        if tag in DIR_OFFSETS and recs[0] and a:
            a = ("record", recs[0].get(a, a))
            b = ("record", recs[1].get(b, b)) if b else b
            if subset and not b and a[1] >= len(recs[1]):
                continue  # the record it named was cut off: now "none"
        if isinstance(a, Sequence) or isinstance(b, Sequence):
            # pydicom gives an empty SQ of defined length as []
            if not (isinstance(a, (list, Sequence)) and
                    isinstance(b, (list, Sequence))):
                problems.append(where + " sequence vs non-sequence")
                continue
            if len(a) != len(b) and not (subset and len(b) <= len(a)):
                problems.append("%s has %d items vs %d" %
                                (where, len(a), len(b)))
                continue
            for i, (ia, ib) in enumerate(zip(a, b)):
                compare(ia, ib, "%s[%d]" % (where, i), big_endian,
                        problems, recs, subset)
            continue
        if not same_value(a, b, elem.VR, big_endian):
            problems.append("%s: %r != %r" % (where, a if len(repr(a)) < 80
                                              else repr(a)[:80],
                                              b if len(repr(b)) < 80
                                              else repr(b)[:80]))


def dcmdump_ok(path):
    r = subprocess.run(["dcmdump", "-q", "+E", path], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    err = r.stderr.decode("latin-1")
    return r.returncode == 0 and "E: " not in err, err.strip()


def main():
    failures = 0
    compared = 0
    unreadable = []
    written = 0
    rejected = []
    with open(sys.argv[1]) as f:
        pairs = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    lenient = 0
    for fields in pairs:
        orig_path, out_path = fields[0], fields[1]
        subset = len(fields) > 2 and fields[2] == "lenient"
        lenient += subset
        try:
            orig = pydicom.dcmread(orig_path, force=True)
            orig_ok = True
        except Exception:
            orig_ok = False
            unreadable.append(orig_path)
        if out_path == "-":
            if orig_ok and len(orig) > 0:
                try:
                    pydicom.dcmread(orig_path)
                    rejected.append(orig_path)
                except Exception:
                    pass
            continue
        written += 1
        problems = []
        try:
            out = pydicom.dcmread(out_path)
        except Exception as exc:
            problems.append("pydicom cannot read the output: %r" % exc)
            out = None
        ok, err = dcmdump_ok(out_path)
        if not ok:
            problems.append("dcmdump: " + err[:300])
        if out is not None and orig_ok:
            be = not orig.is_little_endian
            try:
                compare(orig, out, "", be, problems, None, subset)
                compared += 1
            except Exception as exc:
                problems.append("comparison raised %r" % exc)
        if problems:
            failures += 1
            print("FAIL %s -> %s" % (orig_path, out_path))
            for p in problems[:10]:
                print("    " + p)
    print("compare.py: %d written (%d from lenient reads), %d compared "
          "element by element, %d failed" % (written, lenient, compared,
                                             failures))
    print("compare.py: pydicom cannot read %d originals:" % len(unreadable))
    for u in unreadable:
        print("    " + u)
    print("compare.py: radfed rejected %d files pydicom reads without force:"
          % len(rejected))
    for r in rejected:
        print("    " + r)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
