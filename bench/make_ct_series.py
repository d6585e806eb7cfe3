#!/usr/bin/python3
"""Writes a large uncompressed input for bench/anon.sh: a CT series of
single-frame 512x512 16-bit slices (100 by default, about 52 MB), Explicit
VR Little Endian, each with the header a scanner writes (patient, study,
series, equipment, geometry, rescale and window attributes).

usage: make_ct_series.py OUT_DIR [N_SLICES]"""
import os
import sys

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
rows = cols = 512


def slice_dataset(i, n, study, series, frame_of_ref, rng):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_IMAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CT_IMAGE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = "20240312"
    ds.ContentDate = "20240312"
    ds.StudyTime = "101502"
    ds.SeriesTime = ds.AcquisitionTime = "101733"
    ds.ContentTime = "1017%02d" % (i % 60)
    ds.AccessionNumber = "A24031200017"
    ds.Modality = "CT"
    ds.Manufacturer = "BenchMed"
    ds.InstitutionName = "Centre Hospitalier de Bench"
    ds.InstitutionAddress = "12 rue des Essais, 75000 Paris"
    ds.ReferringPhysicianName = "Martin^Claire"
    ds.StationName = "CT01"
    ds.StudyDescription = "TDM THORAX SANS INJECTION"
    ds.SeriesDescription = "Thorax 1.0 B30f"
    ds.OperatorsName = "Durand^Paul"
    ds.ManufacturerModelName = "Bench CT 64"
    ds.PatientName = "Dupont^Jeanne^Marie"
    ds.PatientID = "IPP0012345"
    ds.PatientBirthDate = "19580704"
    ds.PatientSex = "F"
    ds.PatientAge = "065Y"
    ds.BodyPartExamined = "CHEST"
    ds.SliceThickness = "1.0"
    ds.KVP = "120"
    ds.DeviceSerialNumber = "BX-40213"
    ds.SoftwareVersions = "VB20A"
    ds.ProtocolName = "Thorax_Routine"
    ds.ReconstructionDiameter = "350"
    ds.ExposureTime = "500"
    ds.XRayTubeCurrent = "210"
    ds.ConvolutionKernel = "B30f"
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.StudyID = "17"
    ds.SeriesNumber = "2"
    ds.AcquisitionNumber = "1"
    ds.InstanceNumber = str(i + 1)
    z = -100.0 - 1.0 * i
    ds.ImagePositionPatient = ["-175.0", "-175.0", "%.1f" % z]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.FrameOfReferenceUID = frame_of_ref
    ds.PositionReferenceIndicator = ""
    ds.SliceLocation = "%.1f" % z
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = rows, cols
    ds.PixelSpacing = ["0.68359375", "0.68359375"]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.WindowCenter = "-600"
    ds.WindowWidth = "1200"
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    ds.PixelData = rng.integers(0, 4096, (rows, cols),
                                dtype=np.uint16).tobytes()
    return ds


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) == 3 else 100
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(1)
    study, series, frame_of_ref = (generate_uid() for _ in range(3))
    for i in range(n):
        ds = slice_dataset(i, n, study, series, frame_of_ref, rng)
        ds.save_as(os.path.join(out, "CT%04d.dcm" % (i + 1)),
                   write_like_original=False)


if __name__ == "__main__":
    main()
