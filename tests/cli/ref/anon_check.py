#!/usr/bin/python3
"""anon_check.py SYNTH_DIR OUT_DIR - checks `radfed anon` output against the
truth `radfed synth` wrote, independently of radfed (pydicom, hashlib, re).

Fails (exit 1, one line per problem) unless:
  - no planted identifier of truth/identifiers.tsv survives anywhere in the
    output bytes (DICOM files outside their pixel data, reports, the log),
    in UTF-8 or Latin-1, as written or in the forms the synthetic files use
    ("Given FAMILY", DD/MM/YYYY dates, spaced NIR and phone numbers);
  - every DICOM output reads with pydicom and its pixels hash to the digest
    of one non-quarantined input (pixel data unchanged), each input once;
  - the burned-in images (series 2) were not written;
  - every patient maps to one PatientID pseudonym and distinct patients to
    distinct pseudonyms, and all files of a study share one StudyInstanceUID;
  - every report was written, next to its study's images.
Prints a summary line.
"""
import csv
import hashlib
import os
import re
import sys

import pydicom


def fail(problems, msg):
    problems.append(msg)


def forms(kind, value):
    """The byte strings that must not appear in the output."""
    out = {value}
    if kind in ("patient_name", "referring_physician", "performing_physician",
                "reading_physician", "operator", "requesting_physician"):
        parts = value.split("^")
        if len(parts) >= 2:
            out.add("%s %s" % (parts[1], parts[0]))
            out.add("%s %s" % (parts[0], parts[1]))
    if kind in ("birth_date", "study_date") and len(value) == 8:
        out.add("%s/%s/%s" % (value[6:], value[4:6], value[:4]))
    if kind in ("nir", "phone"):
        out.add(value.replace(" ", ""))
    enc = set()
    for s in out:
        if len(s) < 4:
            continue  # too short to mean anything on its own
        enc.add(s.encode("utf-8"))
        try:
            enc.add(s.encode("latin-1"))
        except UnicodeEncodeError:
            pass
    return enc


def word_re(b):
    # whole tokens: not inside a longer word or number
    return re.compile(rb"(?<![0-9A-Za-z\xc0-\xff])" + re.escape(b) +
                      rb"(?![0-9A-Za-z\xc0-\xff])")


def text_bytes(path):
    """The bytes of a file, without the value of a DICOM's pixel data."""
    data = open(path, "rb").read()
    if not path.endswith(".dcm"):
        return data
    ds = pydicom.dcmread(path)
    if "PixelData" not in ds:
        return data
    # explicit VR LE output: cut from the last (7FE0,0010) header on, and
    # make sure nothing but the pixel data follows it
    i = data.rfind(b"\xe0\x7f\x10\x00")
    last = max(ds.keys())
    if i < 0 or last != 0x7FE00010:
        raise ValueError("%s: elements after Pixel Data" % path)
    return data[:i]


def main():
    synth, out = sys.argv[1], sys.argv[2]
    problems = []
    truth = list(csv.DictReader(open(os.path.join(synth, "truth",
                                                  "identifiers.tsv"),
                                     encoding="utf-8"), delimiter="\t"))
    pats = {}
    for row in csv.DictReader(open(os.path.join(synth, "truth", "pixels.tsv"),
                                   encoding="utf-8"), delimiter="\t"):
        parts = row["file"].split("/")  # dicom/<patient>/<study>/<series>/n
        pats[row["sha256"]] = (parts[1], parts[2], parts[3], row["file"])

    needles = []
    for row in truth:
        for b in forms(row["kind"], row["value"]):
            needles.append((row["kind"], row["value"], word_re(b)))

    outputs = []
    for dp, dn, fn in os.walk(out):
        dn.sort()
        for f in sorted(fn):
            outputs.append(os.path.join(dp, f))
    if not outputs:
        fail(problems, "no output at all")

    seen_inputs = {}
    patient_of = {}   # synth patient -> pseudonym
    study_uid = {}    # (patient, study) -> new StudyInstanceUID
    n_dicom = n_reports = 0
    for path in outputs:
        rel = os.path.relpath(path, out)
        try:
            blob = text_bytes(path)
        except Exception as ex:  # unreadable output is a failure
            fail(problems, "%s: %s" % (rel, ex))
            continue
        for kind, value, rx in needles:
            if rx.search(blob):
                fail(problems, "%s: planted %s %r survives" % (rel, kind,
                                                             value))
        if path.endswith(".txt"):
            n_reports += 1
            continue
        if not path.endswith(".dcm"):
            continue
        n_dicom += 1
        ds = pydicom.dcmread(path)
        if ds.get("PatientIdentityRemoved") != "YES":
            fail(problems, "%s: PatientIdentityRemoved is not YES" % rel)
        digest = hashlib.sha256(ds.pixel_array.tobytes()).hexdigest()
        if digest not in pats:
            fail(problems, "%s: pixel data differs from every input" % rel)
            continue
        patient, study, series, src = pats[digest]
        if digest in seen_inputs:
            fail(problems, "%s: same pixels as %s" % (rel, seen_inputs[digest]))
        seen_inputs[digest] = rel
        if series == "2":
            fail(problems, "%s: burned-in image %s was written" % (rel, src))
        pid = str(ds.get("PatientID", ""))
        if patient_of.setdefault(patient, pid) != pid:
            fail(problems, "patient %s has two pseudonyms" % patient)
        uid = str(ds.get("StudyInstanceUID", ""))
        if study_uid.setdefault((patient, study), uid) != uid:
            fail(problems, "study %s/%s has two UIDs" % (patient, study))
        if os.path.basename(os.path.dirname(path)) != uid:
            fail(problems, "%s: not in its study's folder" % rel)

    want = {d for d, v in pats.items() if v[2] != "2"}
    for d in sorted(want - set(seen_inputs)):
        fail(problems, "input %s was not written" % pats[d][3])
    if len(set(patient_of.values())) != len(patient_of):
        fail(problems, "distinct patients share a pseudonym")
    n_studies = len({(r["patient"], r["value"]) for r in truth
                     if r["kind"] == "accession_number"})
    if n_reports != n_studies:
        fail(problems, "%d reports written for %d studies" % (n_reports,
                                                             n_studies))
    for p in problems:
        print(p)
    print("anon_check: %d DICOM and %d reports checked against %d planted "
          "identifiers (%d byte patterns), %d patients: %d problem(s)"
          % (n_dicom, n_reports, len(truth), len(needles), len(patient_of),
             len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
