"""pynetdicom peers for captures/dicom/pynetdicom.pcap.

  pyn_peer.py scp PORT                 SCP "PYN_SCP": requires its own called AE title and a
                                       known calling AE; C-STORE answers success, warning
                                       (0xB000, 0xB007) and failure (0xA700, 0xC000) in turn;
                                       C-FIND answers pending matches, or 0xA900 on a bad query.
  pyn_peer.py scu HOST PORT FILES...   SCU "PYN_SCU": echo, stores, finds, release; then an
                                       association with a wrong called AE (rejected), one that it
                                       aborts, and one proposing only an unsupported SOP class.
  pyn_peer.py rogue HOST PORT          unknown calling AE "ROGUE_AE" (rejected), then an A-ABORT
                                       right after association.
"""
import itertools
import sys
import time

from pydicom import dcmread
from pydicom.dataset import Dataset
from pynetdicom import AE, AllStoragePresentationContexts, evt, debug_logger  # noqa: F401
from pynetdicom.sop_class import (
    CTImageStorage,
    MRImageStorage,
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
    Verification,
)

store_status = itertools.cycle([0x0000, 0xB000, 0x0000, 0xA700, 0xB007, 0xC000])


def on_store(event):
    # read the dataset (exercises the decode) and answer the next status in the cycle
    _ = event.dataset
    return next(store_status)


def on_find(event):
    ident = event.identifier
    level = getattr(ident, "QueryRetrieveLevel", "")
    if level not in ("PATIENT", "STUDY", "SERIES", "IMAGE"):
        yield 0xA900, None  # identifier does not match SOP class
        return
    for i in range(3):
        if event.is_cancelled:
            yield 0xFE00, None
            return
        ds = Dataset()
        ds.QueryRetrieveLevel = level
        ds.StudyInstanceUID = f"1.2.826.0.1.3680043.8.498.77{i}"
        ds.StudyDate = "20261103"
        ds.ModalitiesInStudy = "CT"
        yield 0xFF00, ds


def scp(port):
    ae = AE(ae_title="PYN_SCP")
    ae.require_called_aet = True
    ae.require_calling_aet = ["PYN_SCU", "CT_SCANNER01", "RAD_WS07"]
    ae.add_supported_context(Verification)
    for cx in AllStoragePresentationContexts:
        ae.add_supported_context(cx.abstract_syntax, ALL_TS)
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    ae.add_supported_context(PatientRootQueryRetrieveInformationModelFind)
    ae.start_server(("0.0.0.0", int(port)), block=True,
                    evt_handlers=[(evt.EVT_C_STORE, on_store), (evt.EVT_C_FIND, on_find)])


ALL_TS = [
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.4.50",
]


def scu(host, port, files):
    port = int(port)
    dss = [dcmread(f) for f in files]
    ae = AE(ae_title="PYN_SCU")
    ae.add_requested_context(Verification)
    seen = set()
    for ds in dss:
        key = (ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
        if key not in seen:
            seen.add(key)
            ae.add_requested_context(ds.SOPClassUID, [ds.file_meta.TransferSyntaxUID])
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    a = ae.associate(host, port, ae_title="PYN_SCP")
    print("assoc1", a.is_established)
    if a.is_established:
        print("echo", a.send_c_echo())
        for ds in dss + dss[:3]:
            st = a.send_c_store(ds)
            print("store", hex(st.Status) if st else None)
        q = Dataset()
        q.QueryRetrieveLevel = "STUDY"
        q.StudyInstanceUID = ""
        q.StudyDate = ""
        q.PatientName = "*"
        for st, ident in a.send_c_find(q, StudyRootQueryRetrieveInformationModelFind):
            print("find", hex(st.Status) if st else None)
        q.QueryRetrieveLevel = "BOGUS"
        for st, ident in a.send_c_find(q, StudyRootQueryRetrieveInformationModelFind):
            print("find-bad", hex(st.Status) if st else None)
        a.release()
    time.sleep(0.3)
    # wrong called AE title -> A-ASSOCIATE-RJ (called AE not recognised)
    a = ae.associate(host, port, ae_title="WRONG_PACS")
    print("assoc-wrong-called", a.is_established, a.is_rejected)
    time.sleep(0.3)
    # association then A-ABORT in the middle of work
    a = ae.associate(host, port, ae_title="PYN_SCP")
    if a.is_established:
        a.send_c_echo()
        a.send_c_store(dss[0])
        a.abort()
    print("aborted")
    time.sleep(0.3)
    # only an unsupported abstract syntax (no accepted contexts; pynetdicom then aborts)
    ae2 = AE(ae_title="PYN_SCU")
    ae2.add_requested_context("1.2.840.10008.5.1.1.16")  # Printer SOP Class (retired)
    a = ae2.associate(host, port, ae_title="PYN_SCP")
    print("assoc-unsupported", a.is_established)
    if a.is_established:
        a.release()


def rogue(host, port):
    port = int(port)
    ae = AE(ae_title="ROGUE_AE")
    ae.add_requested_context(Verification)
    ae.add_requested_context(CTImageStorage)
    ae.add_requested_context(MRImageStorage)
    a = ae.associate(host, port, ae_title="PYN_SCP")
    print("rogue assoc", a.is_established, a.is_rejected)
    time.sleep(0.3)
    ae = AE(ae_title="RAD_WS07")
    ae.add_requested_context(Verification)
    a = ae.associate(host, port, ae_title="PYN_SCP")
    if a.is_established:
        a.abort()
    print("abort right after association")


if __name__ == "__main__":
    m = sys.argv[1]
    if m == "scp":
        scp(sys.argv[2])
    elif m == "scu":
        scu(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        rogue(sys.argv[2], sys.argv[3])
