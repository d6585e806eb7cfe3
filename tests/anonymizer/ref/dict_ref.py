#!/usr/bin/python3
"""dict_ref.py - the reference fixture for tests/anonymizer/test_dict.c.

  /usr/bin/python3 tests/anonymizer/ref/dict_ref.py > \
      tests/anonymizer/data/dict_pydicom.tsv

Dumps pydicom's own data dictionary (DicomDictionary and the repeating
groups of RepeatersDictionary), an independent transcription of PS3.6, as
one line per entry:

  TAG<TAB>VR<TAB>VM<TAB>KEYWORD

TAG is 8 hex digits, lowercase, with 'x' for the digits of a repeating
group (60xx3000); VR is pydicom's ("US or SS", "NONE" for items). Entries
without a keyword (retired placeholders) are left out. Sorted by tag text,
so the output is deterministic for a given pydicom.
"""
import sys

import pydicom
from pydicom.datadict import DicomDictionary, RepeatersDictionary


def main():
    rows = []
    for tag, entry in DicomDictionary.items():
        vr, vm, _name, _retired, keyword = entry
        if keyword:
            rows.append(("%08x" % tag, vr, vm, keyword))
    for tag, entry in RepeatersDictionary.items():
        vr, vm, _name, _retired, keyword = entry
        if keyword:
            rows.append((tag.lower(), vr, vm, keyword))
    rows.sort()
    out = sys.stdout
    out.write("# pydicom %s: DicomDictionary + RepeatersDictionary, "
              "%d entries with a keyword\n" % (pydicom.__version__, len(rows)))
    for row in rows:
        out.write("\t".join(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
