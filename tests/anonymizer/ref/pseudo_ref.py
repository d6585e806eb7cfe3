#!/usr/bin/python3
"""pseudo_ref.py - the reference fixture for tests/anonymizer/test_pseudo.c.

  /usr/bin/python3 tests/anonymizer/ref/pseudo_ref.py > \\
      tests/anonymizer/data/pseudo_ref.tsv

Computes, with nothing but Python's standard library (hmac, hashlib, base64,
uuid, datetime), what anonymizer/anon_pseudo.c must produce for the fixed
test secret 00 01 02 ... 1f, following the rules of docs/deidentification.md:

  secret  HEX                      the site secret
  key     LABEL    HEX             HKDF-SHA-256 key for an info label
  uid     IN       -     OUT       UID replacement
  id      KIND     IN    OUT       identifier pseudonym (KIND: patient, ...)
  shift   IN       -     DAYS      day shift of a PatientID
  da      IN       DAYS  OUT       DA value moved by DAYS
  dt      IN       DAYS  OUT       DT value moved by DAYS
  tm      IN       -     OK        TM value check
  as      IN       -     OUT       AS value grouped

one row per line, fields separated by tabs. OUT is "!EINVAL" when the value
is malformed or leaves the years 0001-9999. HKDF (RFC 5869) is written out
here with hmac and checked against the RFC's own test vectors first.
"""
import base64
import datetime
import hashlib
import hmac
import re
import sys
import uuid

SECRET = bytes(range(32))
ERR = "!EINVAL"


def hkdf(salt, ikm, info, length):
    """RFC 5869 HKDF with SHA-256; an empty salt is HashLen zero bytes."""
    if not salt:
        salt = b"\0" * 32
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm += t
        i += 1
    return okm[:length]


def hkdf_selftest():
    # RFC 5869 A.1 and A.3
    okm = hkdf(bytes.fromhex("000102030405060708090a0b0c"),
               bytes.fromhex("0b" * 22),
               bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"), 42)
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c"
                         "5db02d56ecc4c5bf34007208d5b887185865"), okm.hex()
    okm = hkdf(b"", bytes.fromhex("0b" * 22), b"", 42)
    assert okm.hex() == ("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879e"
                         "c3454e5f3c738d2d9d201395faa4b61a96c8"), okm.hex()


K_UID = hkdf(b"", SECRET, b"radfed uid v1", 32)
K_ID = hkdf(b"", SECRET, b"radfed id v1", 32)
K_DATE = hkdf(b"", SECRET, b"radfed date v1", 32)


def mac(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


def new_uid(old):
    v = old.rstrip(b"\0 ")
    u = int.from_bytes(mac(K_UID, v)[:16], "big")
    u = (u & ~(0xF << 76)) | (0x8 << 76)        # version 8
    u = (u & ~(0x3 << 62)) | (0x2 << 62)        # variant 10
    got = uuid.UUID(int=u)
    assert got.variant == uuid.RFC_4122 and got.version == 8
    out = "2.25." + str(got.int)
    assert len(out) <= 64
    return out


ID_KINDS = {
    # kind: (HMAC label, prefix, characters)
    "patient": ("PatientID", "P", 16),
    "other_patient": ("OtherPatientIDs", "Q", 16),
    "accession": ("AccessionNumber", "A", 15),
    "study": ("StudyID", "S", 15),
    "other": ("Other", "X", 15),
}
RFC4648 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def lo_trim(v):
    return v.rstrip(b" \0").lstrip(b" ")


def pseudo_id(kind, value):
    label, prefix, chars = ID_KINDS[kind]
    v = lo_trim(value)
    if not v:
        return ""
    h = mac(K_ID, label.encode() + b"\0" + v)
    b32 = base64.b32encode(h[:10]).decode()
    assert len(b32) == 16 and "=" not in b32
    b32 = b32.translate(str.maketrans(RFC4648, CROCKFORD))
    return prefix + b32[:chars]


def day_shift(patient_id):
    h = mac(K_DATE, b"PatientID\0" + lo_trim(patient_id))
    return -(1 + int.from_bytes(h[:8], "big") % 3650)


# ---- DICOM date and time values, parsed independently --------------------

# [0-9], not \d: \d would accept any Unicode digit
N2 = r"([0-9]{2})"
TIME_RE = N2 + r"(?:" + N2 + r"(?:" + N2 + r"(?:\.([0-9]{1,6}))?)?)?"
DA_RE = r"([0-9]{4})" + N2 + N2 + r"|([0-9]{4})\." + N2 + r"\." + N2
DT_RE = (r"([0-9]{4})(?:" + N2 + r"(?:" + N2 + r"(?:" + TIME_RE +
         r")?)?)?([+-][0-9]{4})?")
TM_ACR_RE = N2 + ":" + N2 + r"(?::" + N2 + r"(?:\.([0-9]{1,6}))?)?"


def time_ok(hh, mm, ss):
    return (int(hh) <= 23 and (mm is None or int(mm) <= 59)
            and (ss is None or int(ss) <= 60))


def components(value):
    value = value.rstrip(" \0")
    if value == "":
        return []
    return [c.rstrip(" ") for c in value.split("\\")]


def shift_da(value, days):
    out = []
    for c in components(value):
        if c == "":
            out.append("")
            continue
        m = re.fullmatch(DA_RE, c)
        if not m:
            return ERR
        y, mo, d = [int(x) for x in (m.groups()[:3] if m.group(1)
                                      else m.groups()[3:])]
        try:
            dt = datetime.date(y, mo, d) + datetime.timedelta(days=days)
        except (ValueError, OverflowError):
            return ERR
        out.append("%04d%02d%02d" % (dt.year, dt.month, dt.day))
    return "\\".join(out)


def shift_dt(value, days):
    out = []
    for c in components(value):
        if c == "":
            out.append("")
            continue
        m = re.fullmatch(DT_RE, c)
        if not m:
            return ERR
        y, mo, d, hh, mi, ss, _frac, off = m.groups()
        if hh is not None and not time_ok(hh, mi, ss):
            return ERR
        if off is not None:
            minutes = int(off[1:3]) * 60 + int(off[3:5])
            if int(off[3:5]) > 59 or minutes > (840 if off[0] == "+"
                                               else 720):
                return ERR
        try:
            base = datetime.date(int(y), int(mo or 1), int(d or 1))
            dt = base + datetime.timedelta(days=days)
        except (ValueError, OverflowError):
            return ERR
        date = "%04d%02d%02d" % (dt.year, dt.month, dt.day)
        ndig = 8 if d is not None else 6 if mo is not None else 4
        out.append(date[:ndig] + c[ndig:])
    return "\\".join(out)


def check_tm(value):
    for c in components(value):
        if c == "":
            continue
        m = re.fullmatch(TIME_RE, c)
        if not m:
            m = re.fullmatch(TM_ACR_RE, c)
        if not m or not time_ok(*m.groups()[:3]):
            return ERR
    return "OK"


def group_as(value):
    v = value.rstrip(" \0")
    if v == "":
        return ""
    m = re.fullmatch(r"([0-9]{3})([DWMY])", v)
    if not m:
        return ERR
    years = {"D": 1 / 365.2425, "W": 7 / 365.2425, "M": 1 / 12, "Y": 1}
    if int(m.group(1)) * years[m.group(2)] >= 90:
        return "090Y"
    return v


# ---- the cases -------------------------------------------------------------

UIDS = ["1.2.840.10008.5.1.4.1.1.2", "1.2.840.113619.2.55.3.604688119.969."
        "1227948530.1", "1.2.3.4\0", "1.2.3.4 ", "1.2.3.4", "", "garbage!",
        "0.0", "2.25.329800735698586629295641978511506172918",
        "1.3.6.1.4.1.9590.100.1.2.1234567890123456789012345678901234567",
        "1.2.826.0.1.3680043.8.498.1", "01.002.3", "\u00e9t\u00e9"]

IDS = [("patient", "123456"), ("patient", "  123456 "),
       ("patient", "123456\0"),
       ("patient", "DUPONT^JEAN"), ("patient", ""), ("patient", "   "),
       ("other_patient", "123456"), ("accession", "ACC-2024-0001"),
       ("accession", "123456"), ("study", "1"), ("study", "123456"),
       ("other", "123456"), ("other", "IPP 998877"),
       ("patient", "9" * 64)]

PATIENTS = ["123456", " 123456  ", "", "DUPONT^JEAN", "IPP-000001",
            "0000000000", "A" * 64, "z", "PAT\\1", "123457", "\u00e9",
            "2.16.840.1"]

DA = [("20240229", -1), ("20240301", -1), ("20230301", -1), ("19000301", -1),
      ("20000301", -1), ("20000229", 366), ("19000228", 1), ("20240101", -1),
      ("20231231", 1), ("20240131", 1), ("20240430", 1), ("2024.02.29", -365),
      ("20240115\\20231231\\19991231", -3650), ("20240115\\\\20240116", -10),
      ("", -100), ("20240115 ", -100), ("20240115\\20240116 ", -3650),
      ("00010101", 0), ("00010101", -1), ("00010102", -1), ("99991231", 1),
      ("99991231", -3650), ("20240230", -1), ("2024", -1), ("abcd", -1),
      ("202402", -1), ("2024-02-29", -1), ("20241301", -1),
      ("20240100", -1), ("19000229", -1), ("20240115\\2024", -1),
      ("2024.0229", -1), ("20240101-20240131", -1), (" 20240101", -1),
      ("20240115", -1461), ("18991231", -3650)]

DT = [("20240229120000", -1), ("20240301000000.000000+0100", -1),
      ("20240301235959.123456-0500", -1), ("20240301", -1),
      ("202403", -1), ("2024", -1), ("202401", -1), ("2024+0100", -1),
      ("20240101+1400", -1), ("20240101-1200", -1), ("20240101-1201", -1),
      ("20240101+1401", -1), ("20240101+0160", -1),
      ("20240101120000.1", -3650), ("2024010112", -1),
      ("202401011230", -1), ("20240101123060", -1), ("20240101123061", -1),
      ("20240101240000", -1), ("20240101126000", -1),
      ("20240101120000.", -1), ("20240101120000.1234567", -1),
      ("202401011200.5", -1), ("20240101120", -1), ("20240", -1),
      ("20240229\\20200229120000.5+0000", -366), ("19000301000000", -1),
      ("00010101", -1), ("00010201", -31), ("99991231235959", 1),
      ("20240101120000 ", -1), ("", -1), ("abcd", -1), ("20240230", -1)]

TM = ["120000", "12", "1230", "123059.123456", "235960", "240000", "126000",
      "123061", "12:30:59.5", "12:30", "1", "123", "1230.5", "123000.",
      "123000.1234567", "120000\\130000", "", "12:30.5", "abcdef",
      "120000 ", "12:3", "12:30:"]

AS = ["089Y", "090Y", "091Y", "120Y", "999Y", "000D", "999D", "999W",
      "999M", "012M", "045Y", "", "045Y ", "45Y", "0450Y", "045X", "04 Y",
      "abcY", "045y"]


def tsv_ok(s):
    return "\t" not in s and "\n" not in s and "\r" not in s


def main():
    hkdf_selftest()
    out = sys.stdout
    rows = []

    def row(*fields):
        fields = [str(f) for f in fields]
        assert all(tsv_ok(f) for f in fields), fields
        rows.append("\t".join(fields))

    row("secret", SECRET.hex())
    row("key", "radfed uid v1", K_UID.hex())
    row("key", "radfed id v1", K_ID.hex())
    row("key", "radfed date v1", K_DATE.hex())
    for u in UIDS:
        if "\0" in u:
            continue    # NULs cannot be written into the TSV
        row("uid", u, "-", new_uid(u.encode()))
    for kind, v in IDS:
        if "\0" in v:
            continue
        row("id", kind, v, pseudo_id(kind, v.encode()))
    for p in PATIENTS:
        row("shift", p, "-", day_shift(p.encode()))
    for v, days in DA:
        row("da", v, days, shift_da(v, days))
    for v, days in DT:
        row("dt", v, days, shift_dt(v, days))
    for v in TM:
        row("tm", v, "-", check_tm(v))
    for v in AS:
        row("as", v, "-", group_as(v))
    out.write("# generated by tests/anonymizer/ref/pseudo_ref.py (python %s)"
              "\n" % sys.version.split()[0])
    for r in rows:
        out.write(r + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
