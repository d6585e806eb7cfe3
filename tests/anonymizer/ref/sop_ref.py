#!/usr/bin/python3
"""sop_ref.py - the SOP class reference fixture for test_dict.c.

  /usr/bin/python3 tests/anonymizer/ref/sop_ref.py > \
      tests/anonymizer/data/sop_pydicom.tsv

Dumps every "SOP Class" of pydicom's UID dictionary (an independent
transcription of PS3.6 Annex A) as UID<TAB>NAME, sorted by UID.
"""
import sys

import pydicom
from pydicom.uid import UID_dictionary


def main():
    rows = sorted((uid, entry[0]) for uid, entry in UID_dictionary.items()
                  if entry[1] == "SOP Class")
    sys.stdout.write("# pydicom %s: UID_dictionary, %d SOP classes\n"
                     % (pydicom.__version__, len(rows)))
    for uid, name in rows:
        sys.stdout.write("%s\t%s\n" % (uid, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
