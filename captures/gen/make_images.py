"""Make synthetic DICOM objects with pydicom (synthetic patients only).

usage: make_images.py OUTDIR [--scale small|big] [--patient N] [--seed S]

small: a handful of small images (for committed captures):
  CT  128x128x3  int16   Implicit VR Little Endian
  MR  128x128x3  uint16  Explicit VR Little Endian
  US  8 frames 64x64 8-bit multi-frame, RLE Lossless
  CR  256x256    uint16  Explicit VR Little Endian
  DX  256x256    8-bit   JPEG Baseline (Pillow encodes, pydicom encapsulates)
big: a realistic study of tens of MB (CT 512x512 x N slices etc.) for the
  throughput capture (not committed).
"""
import argparse
import datetime
import io
import os
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    RLELossless,
    generate_uid,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synth  # noqa: E402

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
US_MF = "1.2.840.10008.5.1.4.1.1.3.1"
CR = "1.2.840.10008.5.1.4.1.1.1"
DX = "1.2.840.10008.5.1.4.1.1.1.1"
ORG = "1.2.826.0.1.3680043.8.498."  # pydicom's example prefix


def phantom(rows, cols, rng, lo=0, hi=1000, dtype=np.uint16):
    y, x = np.mgrid[0:rows, 0:cols]
    img = np.zeros((rows, cols), dtype=np.float64)
    for _ in range(6):
        cy, cx = rng.uniform(0.2, 0.8) * rows, rng.uniform(0.2, 0.8) * cols
        r = rng.uniform(0.05, 0.3) * min(rows, cols)
        img += ((y - cy) ** 2 + (x - cx) ** 2 < r * r) * rng.uniform(0.2, 1.0)
    img = img / max(img.max(), 1e-9)
    img = lo + img * (hi - lo) + rng.normal(0, (hi - lo) * 0.01, img.shape)
    return np.clip(img, np.iinfo(dtype).min, np.iinfo(dtype).max).astype(dtype)


def base(sop_class, modality, patient, study, series_uid, series_no, inst_no, ts, rng):
    fam, given, pid, dob, sex = patient
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid(ORG)
    meta.TransferSyntaxUID = ts
    meta.ImplementationClassUID = ORG + "1"
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = f"{fam}^{given}"
    ds.PatientID = pid
    ds.PatientBirthDate = dob
    ds.PatientSex = sex
    ds.StudyInstanceUID = study["uid"]
    ds.StudyID = study["id"]
    ds.AccessionNumber = study["acc"]
    ds.StudyDate = study["date"]
    ds.StudyTime = "101500"
    ds.StudyDescription = study["desc"]
    ds.ReferringPhysicianName = "HOLTZWAGEN^MARIQUE"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_no
    ds.InstanceNumber = inst_no
    ds.Modality = modality
    ds.Manufacturer = "SYNTHETIC"
    ds.InstitutionName = "Synthetic Ward Hospital"
    ds.SeriesDate = study["date"]
    ds.ContentDate = study["date"]
    ds.ContentTime = "101600"
    return ds


def set_pixels(ds, arr, signed=False, photometric="MONOCHROME2"):
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    if arr.ndim == 3:
        ds.NumberOfFrames = arr.shape[0]
        ds.Rows, ds.Columns = arr.shape[1], arr.shape[2]
    else:
        ds.Rows, ds.Columns = arr.shape
    bits = arr.dtype.itemsize * 8
    ds.BitsAllocated = bits
    ds.BitsStored = bits if bits == 8 else 12
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.PixelData = arr.tobytes()


def save(ds, path):
    ts = ds.file_meta.TransferSyntaxUID
    implicit = ts == ImplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True, implicit_vr=implicit, little_endian=True)


def make(outdir, scale="small", patient_idx=0, seed=1, study_no=1):
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(seed)
    pat = synth.PATIENTS[patient_idx % len(synth.PATIENTS)]
    accs = [v for k, v in synth.OTHER if k == "accession"]
    date = (datetime.date(2026, 11, 2) + datetime.timedelta(days=study_no)).strftime("%Y%m%d")
    study = {
        "uid": generate_uid(ORG),
        "id": f"S{study_no:04d}",
        "acc": accs[study_no % len(accs)],
        "date": date,
        "desc": "SYNTHETIC PHANTOM STUDY",
    }
    big = scale == "big"
    files = []
    n = 0

    def out(ds, tag):
        nonlocal n
        n += 1
        p = os.path.join(outdir, f"{study_no:03d}_{n:03d}_{tag}.dcm")
        save(ds, p)
        files.append(p)

    # CT, implicit VR LE
    s_uid = generate_uid(ORG)
    size, count = (512, 40) if big else (128, 3)
    for i in range(count):
        ds = base(CT, "CT", pat, study, s_uid, 1, i + 1, ImplicitVRLittleEndian, rng)
        ds.RescaleIntercept = -1024
        ds.RescaleSlope = 1
        ds.SliceThickness = 2.5
        ds.ImagePositionPatient = [0, 0, i * 2.5]
        set_pixels(ds, phantom(size, size, rng, -1000, 2000, np.int16), signed=True)
        out(ds, "ct")
    # MR, explicit VR LE
    s_uid = generate_uid(ORG)
    size, count = (256, 24) if big else (128, 3)
    for i in range(count):
        ds = base(MR, "MR", pat, study, s_uid, 2, i + 1, ExplicitVRLittleEndian, rng)
        ds.MagneticFieldStrength = 1.5
        set_pixels(ds, phantom(size, size, rng, 0, 3000, np.uint16))
        out(ds, "mr")
    # US multi-frame, RLE lossless
    s_uid = generate_uid(ORG)
    frames, size = (60, 256) if big else (8, 64)
    ds = base(US_MF, "US", pat, study, s_uid, 3, 1, ExplicitVRLittleEndian, rng)
    arr = np.stack([phantom(size, size, rng, 0, 250, np.uint8) for _ in range(frames)])
    set_pixels(ds, arr)
    ds.FrameTime = 33.3
    ds.compress(RLELossless)
    out(ds, "us_rle")
    # CR, explicit VR LE
    s_uid = generate_uid(ORG)
    size = 2048 if big else 256
    ds = base(CR, "CR", pat, study, s_uid, 4, 1, ExplicitVRLittleEndian, rng)
    set_pixels(ds, phantom(size, size, rng, 0, 4000, np.uint16))
    out(ds, "cr")
    # DX, JPEG baseline
    from PIL import Image

    s_uid = generate_uid(ORG)
    size = 1024 if big else 256
    ds = base(DX, "DX", pat, study, s_uid, 5, 1, JPEGBaseline8Bit, rng)
    ds.PresentationIntentType = "FOR PRESENTATION"
    arr = phantom(size, size, rng, 0, 255, np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr, mode="L").save(buf, format="JPEG", quality=90)
    set_pixels(ds, arr)
    ds.PixelData = encapsulate([buf.getvalue()])
    ds["PixelData"].VR = "OB"
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionRatio = round(arr.nbytes / len(buf.getvalue()), 2)
    ds.LossyImageCompressionMethod = "ISO_10918_1"
    out(ds, "dx_jpeg")
    return files


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--scale", default="small")
    ap.add_argument("--patient", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--study", type=int, default=1)
    a = ap.parse_args()
    for f in make(a.outdir, a.scale, a.patient, a.seed, a.study):
        print(f)
