#!/usr/bin/python3
"""Reference decodings for test_dicom_read: for each DICOM file given, one
line "<file>\t<Patient's Name as pydicom decodes it, UTF-8>\t<hex of the raw
value bytes, trailing padding removed>"."""
import sys
import warnings

warnings.simplefilter("ignore")

import pydicom  # noqa: E402
from pydicom.charset import convert_encodings  # noqa: E402
from pydicom.charset import decode_bytes  # noqa: E402

for path in sys.argv[1:]:
    ds = pydicom.dcmread(path)
    raw = ds.get_item(0x00100010).value
    raw = raw.rstrip(b" \0")
    # the whole value, decoded with pydicom's own codec machinery
    encodings = convert_encodings(ds.get("SpecificCharacterSet", ""))
    name = decode_bytes(raw, encodings, {0x5e, 0x3d})  # PN delimiters
    sys.stdout.buffer.write(("%s\t%s\t%s\n" % (path, name, raw.hex()))
                            .encode("utf-8"))
