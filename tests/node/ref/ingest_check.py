#!/usr/bin/python3
"""ingest_check.py SYNTH SITE [SIZE] - checks the dataset.h5 that
`radfed site ingest` built from a `radfed synth` set, for test_ingest.

Reads only public files with h5py, pydicom and numpy; nothing secret is
computed. For every record i of SITE/store/dataset.h5:
- /meta/sop[i] names the de-identified file <sop>.dcm of the store, whose
  PatientID and StudyInstanceUID equal /meta/patient[i] and /meta/study[i];
- that file's pixels (pydicom) have a SHA-256 listed in SYNTH/truth/
  pixels.tsv, which names the original input; the original's
  AccessionNumber (or StudyInstanceUID) gives its label in
  SYNTH/labels.csv, which must equal /labels[i];
- when the image already has SIZE x SIZE pixels, /images[i] equals the
  grey levels (Modality LUT, MONOCHROME1 inverted) scaled to [0, 1] by their
  minimum and maximum, within 1e-5.
Also: shapes [N,1,SIZE,SIZE] float32 and [N] int32, N equals the number of
de-identified DICOM files in the store, values in [0, 1] without NaN, every
label 0 or 1, /meta holds no value of SYNTH/truth/identifiers.tsv (as a
substring; digits-only values as a whole value or UID component, since
short numbers occur by chance in pseudonymous UIDs), and the SOP UIDs are
distinct.

ingest_check.py --same A.h5 B.h5 - checks that /images and /labels of two
files are byte-identical.

Prints one line per problem; exit status 0 when everything held."""
import csv
import hashlib
import os
import sys
import warnings

warnings.simplefilter("ignore")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import pydicom  # noqa: E402


def ids(arr):
    return ["".join(chr(c) for c in row if c) for row in arr]


def digest(ds):
    arr = ds.pixel_array
    if int(ds.BitsAllocated) == 8:
        dt = "u1"
    elif int(ds.PixelRepresentation) == 1:
        dt = "<i2"
    else:
        dt = "<u2"
    return hashlib.sha256(arr.astype(dt).tobytes()).hexdigest()


def expected_image(ds):
    v = ds.pixel_array.astype(np.float64)
    v = v * float(getattr(ds, "RescaleSlope", 1)) + \
        float(getattr(ds, "RescaleIntercept", 0))
    lo, hi = v.min(), v.max()
    out = (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)
    if ds.PhotometricInterpretation == "MONOCHROME1" and hi > lo:
        out = 1.0 - out
    return out


def same(a, b):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        bad = 0
        for name in ("/images", "/labels"):
            if fa[name][()].tobytes() != fb[name][()].tobytes():
                print("%s differs" % name)
                bad += 1
        return bad


def main():
    if sys.argv[1] == "--same":
        return 1 if same(sys.argv[2], sys.argv[3]) else 0
    synth, site = sys.argv[1], sys.argv[2]
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 64
    bad = 0
    store = os.path.join(site, "store", "deidentified")
    by_sop = {}
    for dirpath, _, files in os.walk(store):
        for f in files:
            if f.endswith(".dcm"):
                by_sop[f[:-4]] = os.path.join(dirpath, f)
    by_digest = {}
    with open(os.path.join(synth, "truth", "pixels.tsv"),
              encoding="utf-8") as f:
        for row in list(csv.reader(f, delimiter="\t"))[1:]:
            by_digest.setdefault(row[3], []).append(row[0])
    by_acc, by_uid = {}, {}
    with open(os.path.join(synth, "labels.csv"), encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by_acc[row["accession_number"]] = int(row["label"])
            by_uid[row["study_instance_uid"]] = int(row["label"])
    secrets = set()
    with open(os.path.join(synth, "truth", "identifiers.tsv"),
              encoding="utf-8") as f:
        for row in list(csv.reader(f, delimiter="\t"))[1:]:
            if len(row[2]) >= 4:
                secrets.add(row[2])

    with h5py.File(os.path.join(site, "store", "dataset.h5"), "r") as h:
        images, labels = h["/images"], h["/labels"]
        n = images.shape[0]
        if images.dtype != np.float32 or labels.dtype != np.int32:
            print("dtypes %s %s" % (images.dtype, labels.dtype))
            bad += 1
        if images.shape != (n, 1, size, size) or labels.shape != (n,):
            print("shapes %r %r" % (images.shape, labels.shape))
            bad += 1
        if n != len(by_sop) or n == 0:
            print("%d records, %d images in the store" % (n, len(by_sop)))
            bad += 1
        if int(h.attrs["count"]) != n or int(h.attrs["image_size"]) != size:
            print("attributes count %s image_size %s"
                  % (h.attrs["count"], h.attrs["image_size"]))
            bad += 1
        im = images[()]
        lab = labels[()]
        if np.isnan(im).any() or im.min() < 0 or im.max() > 1:
            print("values outside [0, 1] or NaN")
            bad += 1
        if not set(lab.tolist()) <= {0, 1}:
            print("labels %r" % sorted(set(lab.tolist())))
            bad += 1
        pat = ids(h["/meta/patient"][()])
        study = ids(h["/meta/study"][()])
        sop = ids(h["/meta/sop"][()])
        if len(set(sop)) != n:
            print("sop uids not distinct")
            bad += 1
        for value in pat + study + sop:
            parts = set(value.split("."))
            for s in secrets:
                # a digits-only identifier (IPP, study id, date) leaks as
                # a whole value or UID component; longer texts and UIDs
                # anywhere
                leak = s in parts if s.isdigit() else s in value
                if leak or s == value:
                    print("meta value %r holds an original identifier"
                          % value)
                    bad += 1
        checked = 0
        for i in range(n):
            path = by_sop.get(sop[i])
            if not path:
                print("record %d: no file %s.dcm in the store" % (i, sop[i]))
                bad += 1
                continue
            ds = pydicom.dcmread(path)
            if ds.PatientID != pat[i] or ds.StudyInstanceUID != study[i]:
                print("record %d: meta does not match %s" % (i, path))
                bad += 1
            inputs = by_digest.get(digest(ds), [])
            if not inputs:
                print("record %d: pixels match no input" % i)
                bad += 1
                continue
            want = set()
            for rel in inputs:
                src = pydicom.dcmread(os.path.join(synth, rel))
                lb = by_acc.get(src.AccessionNumber,
                                by_uid.get(src.StudyInstanceUID))
                want.add(lb)
            if want != {int(lab[i])}:
                print("record %d: label %d, labels.csv says %r"
                      % (i, lab[i], want))
                bad += 1
            if (int(ds.Rows), int(ds.Columns)) == (size, size):
                diff = np.abs(im[i, 0] - expected_image(ds)).max()
                if diff > 1e-5:
                    print("record %d: pixels differ by %g" % (i, diff))
                    bad += 1
                checked += 1
        if checked == 0:
            print("no image of the input size to compare pixel by pixel")
            bad += 1
    print("checked %d records, %d problems" % (n, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
