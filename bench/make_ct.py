#!/usr/bin/python3
"""Writes a large uncompressed input for bench_anon_read: a 100-frame
512x512 16-bit CT multi-frame (about 52 MB), Explicit VR Little Endian.

usage: make_ct.py OUT.dcm"""
import sys

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

frames, rows, cols = 100, 512, 512
meta = FileMetaDataset()
meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2.1"
meta.MediaStorageSOPInstanceUID = generate_uid()
meta.TransferSyntaxUID = ExplicitVRLittleEndian
ds = Dataset()
ds.file_meta = meta
ds.is_little_endian = True
ds.is_implicit_VR = False
ds.SOPClassUID = meta.MediaStorageSOPClassUID
ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
ds.Modality = "CT"
ds.PatientName = "Bench^Patient"
ds.PatientID = "BENCH1"
ds.NumberOfFrames = frames
ds.Rows, ds.Columns = rows, cols
ds.SamplesPerPixel = 1
ds.PhotometricInterpretation = "MONOCHROME2"
ds.BitsAllocated = ds.BitsStored = 16
ds.HighBit = 15
ds.PixelRepresentation = 1
rng = np.random.default_rng(1)
ds.PixelData = rng.integers(-1024, 3000, (frames, rows, cols),
                            dtype=np.int16).tobytes()
ds.save_as(sys.argv[1], write_like_original=False)
