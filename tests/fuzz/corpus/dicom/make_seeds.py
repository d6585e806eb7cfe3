#!/usr/bin/python3
"""Writes the seed inputs of fuzz_dicom_read into this directory: small
datasets made with pydicom in every transfer syntax the reader handles,
with nested sequences, private elements and encapsulated pixel data.
Run: /usr/bin/python3 tests/fuzz/corpus/dicom/make_seeds.py"""
import os

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import (DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian,
                         ExplicitVRLittleEndian, ImplicitVRLittleEndian,
                         JPEGBaseline8Bit, RLELossless)

HERE = os.path.dirname(os.path.abspath(__file__))


def base():
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "1.2.3.4"
    ds.PatientName = "Buc^J\u00e9r\u00f4me"
    ds.PatientID = "ID1"
    item = Dataset()
    item.ReferencedSOPInstanceUID = "1.2.3"
    inner = Dataset()
    inner.CodeValue = "T-1"
    item.ConceptNameCodeSequence = Sequence([inner])
    ds.ReferencedImageSequence = Sequence([item, Dataset()])
    ds.add_new(0x00090010, "LO", "ACME")
    ds.add_new(0x00091001, "OB", b"\x01\x02\x03\x04")
    ds.Rows = 2
    ds.Columns = 2
    ds.BitsAllocated = 16
    ds.SamplesPerPixel = 1
    return ds


def save(name, ds, ts, pixels=None, encap=False):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ts
    ds.file_meta = meta
    ds.is_little_endian = ts != ExplicitVRBigEndian
    ds.is_implicit_VR = ts == ImplicitVRLittleEndian
    if pixels is not None:
        ds.PixelData = encapsulate([pixels, pixels]) if encap else pixels
        if encap:
            ds["PixelData"].is_undefined_length = True
            ds["PixelData"].VR = "OB"
    ds.save_as(os.path.join(HERE, name), write_like_original=False)


save("implicit.dcm", base(), ImplicitVRLittleEndian, b"\x01\x00" * 4)
save("explicit.dcm", base(), ExplicitVRLittleEndian, b"\x01\x00" * 4)
save("big_endian.dcm", base(), ExplicitVRBigEndian, b"\x01\x00" * 4)
save("deflated.dcm", base(), DeflatedExplicitVRLittleEndian)
save("jpeg.dcm", base(), JPEGBaseline8Bit, b"\xff\xd8\xff\xd9", True)
save("rle.dcm", base(), RLELossless, b"\x00" * 64, True)
