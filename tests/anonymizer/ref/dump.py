#!/usr/bin/python3
"""Reference reading for test_dicom_write: prints every data element of a
DICOM file as pydicom decodes it, one per line, "(gggg,eeee) VR value",
sequence items indented by two spaces per level; then the file meta group's
Transfer Syntax UID. Reads without force: a file pydicom refuses fails."""
import sys
import warnings

warnings.simplefilter("ignore")

import pydicom  # noqa: E402


def dump(ds, depth):
    for elem in ds:
        pad = "  " * depth
        if elem.VR == "SQ":
            print("%s(%04X,%04X) SQ %d items" % (pad, elem.tag.group,
                                                 elem.tag.element,
                                                 len(elem.value)))
            for item in elem.value:
                print("%s  item" % pad)
                dump(item, depth + 2)
        else:
            print("%s(%04X,%04X) %s %r" % (pad, elem.tag.group,
                                          elem.tag.element, elem.VR,
                                          elem.value))


ds = pydicom.dcmread(sys.argv[1])
dump(ds, 0)
print("ts", ds.file_meta.TransferSyntaxUID)
