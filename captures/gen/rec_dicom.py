"""Record DICOM captures between real peers in a private lab network.

usage: rec_dicom.py OUTDIR {store,qr,pynetdicom,malformed,all} [--work DIR]

store:      dcmtk storescu -> storescp (several C-STOREs, several presentation
            contexts and transfer syntaxes), echoscu C-ECHO.
qr:         Orthanc (Debian) as PACS: storescu upload, findscu at patient/study/
            series level incl. universal match, movescu to a storescp, getscu.
pynetdicom: pynetdicom SCU/SCP (peers in pyn_peer.py): rejected association,
            abort, failure and warning statuses, C-FIND, C-ECHO.
malformed:  raw sockets replay mutated/truncated real PDU bytes against
            storescp and Orthanc; their reactions are recorded.
"""
import glob
import json
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lab as L  # noqa: E402
import make_images  # noqa: E402

PY = sys.executable


def images(work):
    sets = []
    for i, (pat, study) in enumerate([(0, 1), (1, 2), (2, 3)]):
        d = os.path.join(work, "img", f"p{pat}")
        if not os.path.isdir(d) or not glob.glob(d + "/*.dcm"):
            make_images.make(d, "small", pat, seed=10 + i, study_no=study)
        sets.append(sorted(glob.glob(d + "/*.dcm")))
    return sets


def rec_store(out, work):
    sets = images(work)
    with L.Lab("dst") as lab:
        pacs = lab.add("pacs", 10)
        lab.add("ct", 21)
        lab.add("mr", 22)
        lab.add("ws", 23)
        lab.add("dx", 25)
        od = os.path.join(work, "storescp_in")
        shutil.rmtree(od, ignore_errors=True)
        os.makedirs(od)
        lab.start("pacs", ["/usr/bin/storescp", "-v", "-aet", "PACS", "+xa", "-od", od, "104"],
                  log=os.path.join(work, "storescp.log"))
        L.wait_listen(lab, "pacs", 104)
        lab.record(os.path.join(out, "dicom", "dcmtk-store.pcap"))
        # C-ECHO from the modality and from a workstation
        lab.run("ct", ["/usr/bin/echoscu", "-aet", "CT_SCANNER01", "-aec", "PACS", pacs, "104"], check=True)
        # one association, several SOP classes/transfer syntaxes of study 1 (CT implicit, MR explicit,
        # US RLE multi-frame, CR explicit): storescu proposes RLE + all uncompressed TS
        sel = [f for f in sets[0] if not f.endswith("_jpeg.dcm")]
        lab.run("ct", ["/usr/bin/storescu", "-xr", "-aet", "CT_SCANNER01", "-aec", "PACS", pacs, "104"] + sel, check=True)
        # DX room: JPEG baseline objects of the three studies (JPEG 8-bit + uncompressed proposed)
        sel = [f for s_ in sets for f in s_ if f.endswith("_jpeg.dcm")]
        lab.run("dx", ["/usr/bin/storescu", "-xy", "-aet", "DX_ROOM04", "-aec", "PACS", pacs, "104"] + sel, check=True)
        # second modality: implicit VR only proposal, uncompressed objects of study 2
        unc = [f for f in sets[1] if not f.endswith(("_rle.dcm", "_jpeg.dcm"))]
        lab.run("mr", ["/usr/bin/storescu", "-xi", "-aet", "MR_SCANNER02", "-aec", "PACS", pacs, "104"] + unc, check=True)
        # third: explicit VR big endian preferred (storescp converts), CR + MR of study 3
        sel = [f for f in sets[2] if f.endswith(("_mr.dcm", "_cr.dcm"))]
        lab.run("mr", ["/usr/bin/storescu", "-xb", "-aet", "MR_SCANNER02", "-aec", "PACS", pacs, "104"] + sel, check=True)
        lab.run("ws", ["/usr/bin/echoscu", "-aet", "RAD_WS07", "-aec", "PACS", pacs, "104"], check=True)
        lab.end_record()


ORTHANC_CFG = {
    "Name": "IOMT_LAB_PACS",
    "StorageDirectory": None,
    "IndexDirectory": None,
    "HttpServerEnabled": True,
    "HttpPort": 8042,
    "RemoteAccessAllowed": True,
    "AuthenticationEnabled": False,
    "DicomServerEnabled": True,
    "DicomAet": "ORTHANC",
    "DicomPort": 4242,
    "DicomCheckCalledAet": False,
    "DicomAlwaysAllowEcho": True,
    "DicomAlwaysAllowStore": True,
    "DicomAlwaysAllowFind": True,
    "DicomAlwaysAllowGet": True,
    "DicomAlwaysAllowMove": True,
    "UnknownSopClassAccepted": True,
    "Plugins": [],
    "DicomModalities": {},
    "StableAge": 2,
}


def make_worklist(d):
    """Modality worklist items (synthetic patients) for Orthanc's ModalityWorklists plugin."""
    import synth
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    accs = [v for k, v in synth.OTHER if k == "accession"]
    for i, (fam, given, pid, dob, sex) in enumerate(synth.PATIENTS[:4]):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.31"
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(make_images.ORG)
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.PatientName = f"{fam}^{given}"
        ds.PatientID = pid
        ds.PatientBirthDate = dob
        ds.PatientSex = sex
        ds.AccessionNumber = accs[i % len(accs)]
        ds.StudyInstanceUID = generate_uid(make_images.ORG)
        ds.RequestedProcedureID = f"RP{i + 100}"
        ds.RequestedProcedureDescription = "CT CHEST" if i % 2 == 0 else "XR CHEST 2 VIEWS"
        sps = Dataset()
        sps.Modality = "CT" if i % 2 == 0 else "DX"
        sps.ScheduledStationAETitle = "CT_SCANNER01" if i % 2 == 0 else "DX_ROOM04"
        sps.ScheduledProcedureStepStartDate = "20261123"
        sps.ScheduledProcedureStepStartTime = f"{9 + i:02d}0000"
        sps.ScheduledProcedureStepID = f"SPS{i + 100}"
        sps.ScheduledProcedureStepDescription = ds.RequestedProcedureDescription
        ds.ScheduledProcedureStepSequence = [sps]
        ds.save_as(os.path.join(d, f"item{i}.wl"), enforce_file_format=True)
    return d


def start_orthanc(lab, dev, work, modalities, worklists=None):
    cfg = dict(ORTHANC_CFG)
    if worklists:
        cfg["Plugins"] = ["/usr/share/orthanc/plugins/libModalityWorklists.so"]
        cfg["Worklists"] = {"Enable": True, "Database": worklists}
    store = os.path.join(work, "orthanc-db")
    shutil.rmtree(store, ignore_errors=True)
    os.makedirs(store)
    cfg["StorageDirectory"] = store
    cfg["IndexDirectory"] = store
    cfg["DicomModalities"] = modalities
    path = os.path.join(work, "orthanc.json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    p = lab.start(dev, ["Orthanc", path], log=os.path.join(work, "orthanc.log"))
    L.wait_listen(lab, dev, 4242, timeout=60)
    return p


def rec_qr(out, work):
    sets = images(work)
    with L.Lab("dqr") as lab:
        pacs = lab.add("pacs", 10)
        ct = lab.add("ct", 21)
        ws = lab.add("ws", 23)
        viewer = lab.add("viewer", 24)
        od = os.path.join(work, "movedest")
        shutil.rmtree(od, ignore_errors=True)
        os.makedirs(od)
        mods = {
            "ct": ["CT_SCANNER01", ct, 104],
            "ws": ["RAD_WS07", ws, 11113],
            "viewer": ["VIEWER03", viewer, 11114],
        }
        start_orthanc(lab, "pacs", work, mods, worklists=make_worklist(os.path.join(work, "worklists")))
        lab.start("ws", ["/usr/bin/storescp", "-aet", "RAD_WS07", "+xa", "-od", od, "11113"],
                  log=os.path.join(work, "movedest.log"))
        L.wait_listen(lab, "ws", 11113)
        lab.record(os.path.join(out, "dicom", "dcmtk-find-move-get.pcap"))
        base = ["-aet", "CT_SCANNER01", "-aec", "ORTHANC", pacs, "4242"]
        # modality worklist query (C-FIND, Modality Worklist Information Model) by the CT
        lab.run("ct", ["/usr/bin/findscu", "-W", "-aet", "CT_SCANNER01", "-aec", "ORTHANC",
                       "-k", "ScheduledProcedureStepSequence[0].Modality=CT",
                       "-k", "ScheduledProcedureStepSequence[0].ScheduledStationAETitle=CT_SCANNER01",
                       "-k", "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20261123",
                       "-k", "ScheduledProcedureStepSequence[0].ScheduledProcedureStepID",
                       "-k", "PatientName", "-k", "PatientID", "-k", "PatientBirthDate", "-k", "AccessionNumber",
                       "-k", "StudyInstanceUID", "-k", "RequestedProcedureDescription",
                       pacs, "4242"], check=True)
        # upload 2 studies (2 patients) to Orthanc
        for st in sets[:2]:
            lab.run("ct", ["/usr/bin/storescu", "-xr"] + base + [f for f in st if not f.endswith("_jpeg.dcm")], check=True)
            lab.run("ct", ["/usr/bin/storescu", "-xy"] + base + [f for f in st if f.endswith("_jpeg.dcm")], check=True)
        time.sleep(1)
        wsb = ["-aet", "RAD_WS07", "-aec", "ORTHANC", pacs, "4242"]
        lab.run("ws", ["/usr/bin/echoscu"] + wsb, check=True)
        # patient root, patient level, by wildcard name
        lab.run("ws", ["/usr/bin/findscu", "-P", "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientName=QUZ*",
                       "-k", "PatientID", "-k", "PatientBirthDate"] + wsb, check=True)
        # study root, study level: universal match (every study)
        lab.run("ws", ["/usr/bin/findscu", "-S", "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID",
                       "-k", "PatientName", "-k", "PatientID", "-k", "StudyDate", "-k", "AccessionNumber",
                       "-k", "ModalitiesInStudy"] + wsb, check=True)
        # series level for one study
        import pydicom
        d0 = pydicom.dcmread(sets[0][0], stop_before_pixels=True)
        d1 = pydicom.dcmread(sets[1][0], stop_before_pixels=True)
        lab.run("ws", ["/usr/bin/findscu", "-S", "-k", "QueryRetrieveLevel=SERIES", "-k",
                       f"StudyInstanceUID={d0.StudyInstanceUID}", "-k", "SeriesInstanceUID",
                       "-k", "Modality", "-k", "NumberOfSeriesRelatedInstances"] + wsb, check=True)
        # C-MOVE study 1 to the workstation's storescp (Orthanc opens a new association to it)
        lab.run("ws", ["/usr/bin/movescu", "-S", "-aem", "RAD_WS07", "-k", "QueryRetrieveLevel=STUDY",
                       "-k", f"StudyInstanceUID={d0.StudyInstanceUID}"] + wsb, check=True, timeout=120)
        # C-MOVE to an unknown destination AE -> failure status
        lab.run("ws", ["/usr/bin/movescu", "-S", "-aem", "UNKNOWN_DEST", "-k", "QueryRetrieveLevel=STUDY",
                       "-k", f"StudyInstanceUID={d0.StudyInstanceUID}"] + wsb, timeout=60)
        # C-GET series of study 2 by the viewer (C-STORE sub-operations on the same association)
        gd = os.path.join(work, "getdest")
        shutil.rmtree(gd, ignore_errors=True)
        os.makedirs(gd)
        lab.run("viewer", ["/usr/bin/getscu", "-S", "-od", gd, "-aet", "VIEWER03", "-aec", "ORTHANC",
                           "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={d1.StudyInstanceUID}",
                           pacs, "4242"], timeout=120)
        # worklist-like C-FIND at IMAGE level
        lab.run("viewer", ["/usr/bin/findscu", "-S", "-aet", "VIEWER03", "-aec", "ORTHANC", "-k", "QueryRetrieveLevel=IMAGE",
                           "-k", f"StudyInstanceUID={d1.StudyInstanceUID}",
                           "-k", f"SeriesInstanceUID={d1.SeriesInstanceUID}", "-k", "SOPInstanceUID",
                           pacs, "4242"], check=True)
        lab.end_record()


def rec_pynetdicom(out, work):
    sets = images(work)
    with L.Lab("dpy") as lab:
        scp = lab.add("scp", 10)
        lab.add("scu", 31)
        lab.add("rogue", 32)
        lab.start("scp", [PY, os.path.join(HERE, "pyn_peer.py"), "scp", "11112"],
                  log=os.path.join(work, "pyn_scp.log"))
        L.wait_listen(lab, "scp", 11112)
        lab.record(os.path.join(out, "dicom", "pynetdicom.pcap"))
        r = lab.run("scu", [PY, os.path.join(HERE, "pyn_peer.py"), "scu", scp, "11112"] + sets[2], timeout=120)
        sys.stderr.write(r.stdout[-3000:] + r.stderr[-3000:])
        r = lab.run("rogue", [PY, os.path.join(HERE, "pyn_peer.py"), "rogue", scp, "11112"], timeout=60)
        sys.stderr.write(r.stdout[-3000:] + r.stderr[-3000:])
        lab.end_record()


def rec_bigstore(out, work):
    """A realistic study of tens of MB (make_images --scale big) stored by storescu; written to
    captures/big/dicom-bigstudy.pcap (git-ignored) for bigcapture.py."""
    d = os.path.join(work, "img", "big")
    if not glob.glob(d + "/*.dcm"):
        make_images.make(d, "big", 3, seed=99, study_no=9)
    files = sorted(glob.glob(d + "/*.dcm"))
    with L.Lab("dbig") as lab:
        pacs = lab.add("pacs", 10)
        lab.add("ct", 21)
        od = os.path.join(work, "storescp_big")
        shutil.rmtree(od, ignore_errors=True)
        os.makedirs(od)
        lab.start("pacs", ["/usr/bin/storescp", "-aet", "PACS", "+xa", "-od", od, "104"],
                  log=os.path.join(work, "storescp_big.log"))
        L.wait_listen(lab, "pacs", 104)
        lab.record(os.path.join(out, "big", "dicom-bigstudy.pcap"))
        lab.run("ct", ["/usr/bin/storescu", "-xr", "-aet", "CT_SCANNER01", "-aec", "PACS", pacs, "104"]
                + [f for f in files if not f.endswith("_jpeg.dcm")], check=True, timeout=300)
        lab.run("ct", ["/usr/bin/storescu", "-xy", "-aet", "CT_SCANNER01", "-aec", "PACS", pacs, "104"]
                + [f for f in files if f.endswith("_jpeg.dcm")], check=True, timeout=300)
        lab.end_record()
    shutil.rmtree(od, ignore_errors=True)


def rec_malformed(out, work):
    sets = images(work)
    with L.Lab("dmf") as lab:
        pacs = lab.add("pacs", 10)
        orth = lab.add("orthanc", 11)
        lab.add("fuzz", 66)
        od = os.path.join(work, "storescp_mf")
        shutil.rmtree(od, ignore_errors=True)
        os.makedirs(od)
        lab.start("pacs", ["/usr/bin/storescp", "-v", "-aet", "PACS", "+xa", "-od", od, "104"],
                  log=os.path.join(work, "storescp_mf.log"))
        start_orthanc(lab, "orthanc", work, {})
        L.wait_listen(lab, "pacs", 104)
        lab.record(os.path.join(out, "dicom", "malformed.pcap"))
        r = lab.run("fuzz", [PY, os.path.join(HERE, "malformed_dicom.py"),
                             os.path.join(out, "dicom", "dcmtk-store.pcap"), pacs, "104", "PACS",
                             orth, "4242", "ORTHANC"], timeout=180)
        sys.stderr.write(r.stdout[-4000:] + r.stderr[-3000:])
        lab.end_record()


if __name__ == "__main__":
    L.cli({"store": rec_store, "qr": rec_qr, "pynetdicom": rec_pynetdicom, "malformed": rec_malformed,
           "bigstore": rec_bigstore}, default=["store", "qr", "pynetdicom", "malformed"])
