"""HL7 v2 message texts for the captures (synthetic patients only).

Segments end with \\r (HL7 standard). Monitor and pump ORU^R01 follow the IHE
PCD-01 shape with ISO/IEEE 11073-10101 (MDC) codes in OBX-3.
"""
import itertools
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synth  # noqa: E402

_ctr = itertools.count(1)


def ctrl(prefix):
    return f"{prefix}{next(_ctr):06d}"


def ts(sec=0):
    # fixed lab date; the scenario builder only moves frame timestamps
    h, m, s = 8 + sec // 3600 % 12, sec // 60 % 60, sec % 60
    return f"20261123{h:02d}{m:02d}{s:02d}"


def msh(sapp, sfac, rapp, rfac, mtype, version, sec=0, prefix="M", profile=None):
    f = ["MSH", "^~\\&", sapp, sfac, rapp, rfac, ts(sec), "", mtype, ctrl(prefix), "P", version]
    if profile:
        f += ["", "", "AL", "NE", "", "UNICODE UTF-8", "", "", profile]
    return "|".join(f)


def pid(i):
    fam, given, pid_, dob, sex = synth.PATIENTS[i % len(synth.PATIENTS)]
    return f"PID|1||{pid_}^^^SYNHOSP^MR||{fam}^{given}^^^^^L||{dob}|{sex}|||12 SYNTHETIC LANE^^LABTOWN^^00000"


def pv1(i, cls="I", bed="ICU^BED%02d^1"):
    visits = [v for k, v in synth.OTHER if k == "visit_number"]
    return f"PV1|1|{cls}|{bed % (i + 1)}||||HOLTZWAGEN^MARIQUE^^^^DR|||MED||||||||{visits[i % len(visits)]}"


def adt(event, version, i, sec=0):
    structure = {"A01": "ADT_A01", "A03": "ADT_A03", "A04": "ADT_A01", "A08": "ADT_A01"}[event]
    mtype = f"ADT^{event}" if version == "2.3" else f"ADT^{event}^{structure}"
    segs = [
        msh("HIS_ADT", "SYNHOSP", "IFACE_ENGINE", "SYNHOSP", mtype, version, sec, "ADT"),
        f"EVN|{event}|{ts(sec)}",
        pid(i),
        pv1(i, "E" if event == "A04" else "I"),
    ]
    if event in ("A01", "A08"):
        segs.append("AL1|1|DA|SYNALLERGEN01^PENICILLIN^L")
        segs.append("DG1|1||I10^ESSENTIAL HYPERTENSION^I10")
    return "\r".join(segs) + "\r"


def orm(version, i, sec=0):
    mtype = "ORM^O01" if version == "2.3" else "ORM^O01^ORM_O01"
    accs = [v for k, v in synth.OTHER if k == "accession"]
    segs = [
        msh("HIS_ORDERS", "SYNHOSP", "RIS", "RADIOLOGY", mtype, version, sec, "ORM"),
        pid(i),
        pv1(i),
        f"ORC|NW|ORD{4400 + i}|{accs[i % len(accs)]}||SC||||{ts(sec)}",
        f"OBR|1|ORD{4400 + i}|{accs[i % len(accs)]}|71020^CHEST XRAY 2 VIEWS^CPT4|||{ts(sec)}"
        f"||||||||HOLTZWAGEN^MARIQUE^^^^DR||||||||DX",
    ]
    return "\r".join(segs) + "\r"


VITALS = [
    ("147842^MDC_ECG_HEART_RATE^MDC", "264864^MDC_DIM_BEAT_PER_MIN^MDC", 72, 4),
    ("150456^MDC_PULS_OXIM_SAT_O2^MDC", "262688^MDC_DIM_PERCENT^MDC", 97, 1),
    ("150021^MDC_PRESS_BLD_NONINV_SYS^MDC", "266016^MDC_DIM_MMHG^MDC", 124, 6),
    ("150022^MDC_PRESS_BLD_NONINV_DIA^MDC", "266016^MDC_DIM_MMHG^MDC", 78, 4),
    ("150023^MDC_PRESS_BLD_NONINV_MEAN^MDC", "266016^MDC_DIM_MMHG^MDC", 93, 4),
    ("151562^MDC_RESP_RATE^MDC", "264928^MDC_DIM_RESP_PER_MIN^MDC", 16, 2),
    ("150344^MDC_TEMP^MDC", "268192^MDC_DIM_DEGC^MDC", 36.8, 0.3),
]


def oru_vitals(version, i, sec=0, bed=1, seed=0):
    mtype = "ORU^R01" if version == "2.3" else "ORU^R01^ORU_R01"
    segs = [
        msh(f"MONITOR_BED{bed:02d}", "ICU_WARD", "IFACE_ENGINE", "SYNHOSP", mtype, version, sec, "VIT",
            profile="IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"),
        pid(i),
        pv1(i),
        f"OBR|1|VIT{seed:05d}^MONITOR_BED{bed:02d}^0123456789ABCDEF^EUI-64||182777000^monitoring of patient^SCT|||{ts(sec)}",
        f"OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||0123456789ABCDEF^EUI-64",
    ]
    for k, (code, unit, base, jitter) in enumerate(VITALS):
        v = base + ((seed * 7 + k * 3) % 5 - 2) * jitter / 2
        v = f"{v:.1f}" if isinstance(base, float) else f"{int(v)}"
        segs.append(f"OBX|{k + 2}|NM|{code}|1.1.1.{k + 1}|{v}|{unit}|||||R|||{ts(sec)}")
    return "\r".join(segs) + "\r"


def oru_pump(version, i, sec=0, channel=1, seed=0):
    mtype = "ORU^R01" if version == "2.3" else "ORU^R01^ORU_R01"
    rate = 20 + seed % 5 * 2.5
    segs = [
        msh("PUMP_GW", "ICU_WARD", "IFACE_ENGINE", "SYNHOSP", mtype, version, sec, "PMP",
            profile="IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"),
        pid(i),
        pv1(i),
        f"OBR|1|PMP{seed:05d}^PUMP_GW^FEDCBA9876543210^EUI-64||182777000^monitoring of patient^SCT|||{ts(sec)}",
        "OBX|1||69986^MDC_DEV_PUMP_INFUS_VMD^MDC|1.0.0.0|||||||X|||||||FEDCBA9876543210^EUI-64",
        f"OBX|2||126978^MDC_DEV_PUMP_INFUS_CHAN_DELIVERY^MDC|1.1.{channel}.0|||||||X",
        f"OBX|3|ST|184504^MDC_PUMP_STAT^MDC|1.1.{channel}.1|pump-status-infusing||||||R",
        f"OBX|4|NM|157784^MDC_FLOW_FLUID_PUMP^MDC|1.1.{channel}.2|{rate:.1f}|265266^MDC_DIM_MILLI_L_PER_HR^MDC|||||R|||{ts(sec)}",
        f"OBX|5|NM|157872^MDC_VOL_FLUID_DELIV^MDC|1.1.{channel}.3|{12.5 + seed:.1f}|263762^MDC_DIM_MILLI_L^MDC|||||R|||{ts(sec)}",
        f"OBX|6|NM|157864^MDC_VOL_FLUID_TBI_REMAIN^MDC|1.1.{channel}.4|{237.5 - seed:.1f}|263762^MDC_DIM_MILLI_L^MDC|||||R|||{ts(sec)}",
        f"OBX|7|ST|218242^MDC_DRUG_NAME_TYPE^MDC|1.1.{channel}.5|SYNTHETIC HEPARIN 25000U/250ML||||||R",
    ]
    return "\r".join(segs) + "\r"


def unknown_type(version, i, sec=0):
    # a message type the receiver has no handler for (it answers AR)
    segs = [
        msh("HIS_ADT", "SYNHOSP", "IFACE_ENGINE", "SYNHOSP", "MFN^M02^MFN_M02", version, sec, "MFN"),
        "MFI|PRA^PRACTITIONER MASTER FILE^HL70175||UPD|||NE",
        "MFE|MAD|||HOLTZWAGEN^MARIQUE^^^^DR",
    ]
    return "\r".join(segs) + "\r"


def broken(version, i, sec=0):
    # ORU^R01 whose OBX-2 value type is garbage and PID is missing: the receiver answers AE
    segs = [
        msh("MONITOR_BED09", "ICU_WARD", "IFACE_ENGINE", "SYNHOSP", "ORU^R01^ORU_R01", version, sec, "BRK"),
        "OBR|1|BRK0001||182777000^monitoring of patient^SCT",
        "OBX|1|ZZ|147842^MDC_ECG_HEART_RATE^MDC||not-a-number",
    ]
    return "\r".join(segs) + "\r"
