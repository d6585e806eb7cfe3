#!/usr/bin/python3
"""Reference check of the radfed de-identification engine, run by
test_deid_corpus.

usage: deid_check.py MANIFEST

MANIFEST has one line per input file: "<original>\t<written>" where
<written> is the file radfed wrote after de-identifying <original>,
"quarantined" (with the reason in a third column) or "unreadable".

For every written file, independently of radfed's code:
  - pydicom must read it (without force) and dcmdump must read it without
    error;
  - PatientIdentityRemoved (0012,0062) must be YES,
    DeidentificationMethodCodeSequence (0012,0064) must hold 113100 and
    LongitudinalTemporalInformationModified (0028,0303) must be MODIFIED
    (the defaults shift dates);
  - no private element (odd group), overlay (60xx) or curve (50xx) element
    may be left (the defaults keep no private attribute);
  - when pydicom can read the original (force=True), none of these may
    appear anywhere in the output bytes (outside the pixel data value,
    whose bytes are arbitrary): a PN value of the original (each value and
    each name component of 4 characters or more), its PatientID and
    AccessionNumber values (3 characters or more), and any UID of the
    original (including MediaStorageSOPInstanceUID) of 6 characters or
    more (shorter strings occur anywhere by chance) that is not well known
    (pydicom's UID dictionary, the 1.2.840.10008 root, coding schemes);
  - the pixel data must be unchanged: the same bytes for native data (after
    swapping a big-endian original), the same fragments for encapsulated
    data;
  - dciodvfy (dicom3tools) must find no error in the output that it does
    not find in the original, when it runs on the original: it exits
    normally (status 0 or 1) and reads the original's data set to the end
    (no "Tags out of order" or "Dicom dataset read failed": then its list
    of errors covers only part of the original and says nothing about the
    rest). The "Error -" lines are compared as sets, after replacing the
    values they quote ("[1] = <...>") and the UIDs they name by
    placeholders: de-identification changes those by design, and an error
    about the same attribute for the same reason is the same error. Every
    new error is printed; the DCIODVFY_EXEMPT list below names the few
    that are inherent to the profile, each with its reason (see
    docs/deidentification.md, "Keeping the output valid").
Prints one line per problem and a summary; exit status 0 when every check
passes, 1 otherwise.
"""
import re
import subprocess
import sys
import warnings

warnings.simplefilter("ignore")

import pydicom  # noqa: E402
from pydicom._uid_dict import UID_dictionary  # noqa: E402

CODING_SCHEMES = {
    "2.16.840.1.113883.6.1", "2.16.840.1.113883.6.3",
    "2.16.840.1.113883.6.8", "2.16.840.1.113883.6.96",
    "2.16.840.1.113883.6.103", "2.16.840.1.113883.6.119",
    "2.16.840.1.113883.6.256", "2.16.840.1.113883.6.5",
    "2.16.840.1.113883.6.4",
}


# (original path under pydicom/data/, normalised dciodvfy error) pairs that
# the output may add, each with the reason it is inherent rather than a
# defect. Empty: every error radfed added on the corpus was a defect of the
# engine, now fixed (see docs/deidentification.md, "Keeping the output
# valid").
DCIODVFY_EXEMPT = {
}

DCIODVFY_FATAL = ("Tags out of order", "Dicom dataset read failed")
QUOTED_VALUE = re.compile(r"(\[\d+\] = )<[^>]*>")
UID = re.compile(r"(?<![\d.])\d+(?:\.\d+){2,}(?![\d.])|(?<=UID )\S+$")


def dciodvfy_errors(path):
    """The set of normalised "Error -" lines of dciodvfy on path, or None
    when it does not run on it (crash, or data set not read to the end)."""
    try:
        r = subprocess.run(["dciodvfy", path], capture_output=True,
                           timeout=120)
    except subprocess.TimeoutExpired:
        return None
    if r.returncode not in (0, 1):
        return None
    lines = (r.stdout + r.stderr).decode(errors="replace").splitlines()
    if any(f in line for line in lines for f in DCIODVFY_FATAL):
        return None
    errs = set()
    for line in lines:
        k = line.find("Error - ")
        if k < 0:
            continue
        msg = QUOTED_VALUE.sub(r"\1<value>", line[k:].strip())
        errs.add(UID.sub("<uid>", msg))
    return errs


def well_known(uid):
    return (uid in UID_dictionary or uid.startswith("1.2.840.10008.")
            or uid in CODING_SCHEMES)


def raw_strings(elem):
    """The values of a string element as the bytes stored in the file."""
    v = elem.value
    if v is None:
        return []
    if not isinstance(v, (list, tuple, pydicom.multival.MultiValue)):
        v = [v]
    out = []
    for x in v:
        s = str(x).strip(" \0")
        if s:
            out.append(s)
    return out


def secrets(ds):
    """(kind, text) pairs that must not survive, from the original."""
    found = []
    for elem in ds.iterall():
        try:
            if elem.VR == "PN":
                for s in raw_strings(elem):
                    found.append(("PN", s))
                    for comp in s.replace("=", "^").split("^"):
                        comp = comp.strip()
                        if len(comp) >= 4:
                            found.append(("PN component", comp))
            elif elem.tag in (0x00100020, 0x00080050):
                for s in raw_strings(elem):
                    if len(s) >= 3:
                        found.append((elem.keyword, s))
            elif elem.VR == "UI":
                for s in raw_strings(elem):
                    if len(s) >= 6 and not well_known(s):
                        found.append(("UID " + elem.keyword, s))
        except Exception:
            continue
    return found


def pixel_fragments(ds):
    """The items of encapsulated pixel data (offset table first)."""
    data, pos, items = bytes(ds.PixelData), 0, []
    while pos + 8 <= len(data):
        group = int.from_bytes(data[pos:pos + 2], "little")
        elem = int.from_bytes(data[pos + 2:pos + 4], "little")
        length = int.from_bytes(data[pos + 4:pos + 8], "little")
        if group != 0xFFFE or elem != 0xE000:
            break
        frag = data[pos + 8:pos + 8 + length]
        items.append(frag + b"\0" * (len(frag) % 2))
        pos += 8 + length
    return items


def pixels_equal(orig, out):
    if "PixelData" not in orig or "PixelData" not in out:
        return ("PixelData" in orig) == ("PixelData" in out)
    a, b = orig.PixelData, out.PixelData
    if orig.file_meta.get("TransferSyntaxUID", None) is not None and \
            orig.file_meta.TransferSyntaxUID.is_compressed:
        return pixel_fragments(orig) == pixel_fragments(out)
    if not orig.is_little_endian and orig["PixelData"].VR == "OW":
        a = b"".join(a[i:i + 2][::-1] for i in range(0, len(a), 2))
    if len(a) % 2:
        a += b"\0"
    return a == b


def main():
    problems = 0
    counts = {"written": 0, "quarantined": 0, "unreadable": 0,
              "checked": 0, "dciodvfy": 0, "err_in": 0, "err_out": 0}
    for line in open(sys.argv[1]):
        parts = line.rstrip("\n").split("\t")
        orig_path, what = parts[0], parts[1]
        if what in ("quarantined", "unreadable"):
            counts[what] += 1
            continue
        counts["written"] += 1

        def bad(msg):
            nonlocal problems
            problems += 1
            print("%s: %s" % (orig_path, msg))

        try:
            out = pydicom.dcmread(what)
        except Exception as exc:
            bad("pydicom cannot read the output: %s" % exc)
            continue
        r = subprocess.run(["dcmdump", "-q", what], capture_output=True)
        if r.returncode != 0 or b"E:" in r.stderr:
            bad("dcmdump: %s" % r.stderr.decode(errors="replace")[:200])
        if out.get("PatientIdentityRemoved", "") != "YES":
            bad("no PatientIdentityRemoved YES")
        codes = [it.CodeValue for it in
                 out.get("DeidentificationMethodCodeSequence", [])]
        if "113100" not in codes:
            bad("no 113100 in DeidentificationMethodCodeSequence")
        if out.get("LongitudinalTemporalInformationModified", "") != \
                "MODIFIED":
            bad("LongitudinalTemporalInformationModified is not MODIFIED")
        for elem in out.iterall():
            if elem.tag.group % 2 == 1:
                bad("private element %s survives" % elem.tag)
                break
            if elem.tag.group & 0xFF00 in (0x5000, 0x6000):
                bad("overlay or curve element %s survives" % elem.tag)
                break
        errs_in = dciodvfy_errors(orig_path)
        if errs_in is not None:
            errs_out = dciodvfy_errors(what)
            counts["dciodvfy"] += 1
            counts["err_in"] += len(errs_in)
            if errs_out is None:
                bad("dciodvfy does not run on the output")
            else:
                counts["err_out"] += len(errs_out)
                for msg in sorted(errs_out - errs_in):
                    base = orig_path.split("/data/", 1)[-1]
                    if (base, msg) not in DCIODVFY_EXEMPT:
                        bad("dciodvfy: new %s" % msg)
        try:
            orig = pydicom.dcmread(orig_path, force=True)
            for _ in orig.iterall():  # parses lazily: force it now
                pass
        except Exception:
            continue
        counts["checked"] += 1
        blob = open(what, "rb").read()
        if "PixelData" in out and len(out.PixelData) > 16:
            blob = blob.replace(bytes(out.PixelData), b"")
        found = secrets(orig)
        meta = getattr(orig, "file_meta", None)
        if meta is not None and "MediaStorageSOPInstanceUID" in meta:
            u = str(meta.MediaStorageSOPInstanceUID).strip(" \0")
            if u and not well_known(u):
                found.append(("UID MediaStorageSOPInstanceUID", u))
        for kind, text in found:
            enc = text.encode(orig.get("SpecificCharacterSet") and
                              "utf-8" or "latin-1", errors="ignore")
            for b in {enc, text.encode("latin-1", errors="ignore")}:
                if b and b in blob:
                    bad("%s %r survives" % (kind, text))
                    break
        try:
            if not pixels_equal(orig, out):
                bad("pixel data changed")
        except Exception as exc:
            bad("cannot compare pixel data: %s" % exc)
    print("deid corpus: %(written)d written (%(checked)d checked against "
          "the original), %(quarantined)d quarantined, %(unreadable)d "
          "unreadable" % counts)
    print("dciodvfy: %(dciodvfy)d originals checked: %(err_in)d distinct "
          "errors in them, %(err_out)d in the outputs" % counts)
    print("problems: %d" % problems)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
