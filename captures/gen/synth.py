"""Synthetic (made-up) patients used by every capture of the corpus.

Every name, ID and birth date here is invented and distinctive (not a
substring of common words), so tests can grep any sensor output for them and
prove no PHI leaks. `write_tsv()` writes captures/phi/synthetic_patients.tsv.
"""
import os

# (family, given, patient_id, birth_date YYYYMMDD, sex)
PATIENTS = [
    ("QUZTRAVEN", "ELVYRQA", "SYNPID7F3K2Q", "19470312", "F"),
    ("VOXHALLERZ", "BENQDIKT", "SYNPID9M4T8W", "19620827", "M"),
    ("KRYWINSKAQ", "ODALYXE", "SYNPID2H6P5R", "19851105", "F"),
    ("ZEMBLOVICQ", "TAVIANOX", "SYNPID5J8N1X", "20010219", "M"),
    ("PLOMQUARTZ", "ISOLDEVQ", "SYNPID3B7V6Y", "19390630", "F"),
    ("DRAXMOLLEN", "FENWICKZ", "SYNPID8C1L4D", "19550914", "M"),
]

# Other identifying strings used in messages (accession numbers, visit numbers,
# physician names are not patient PHI, but are listed too so tests can check).
OTHER = [
    ("accession", "SYNACC40917"),
    ("accession", "SYNACC40918"),
    ("accession", "SYNACC40919"),
    ("visit_number", "SYNVIS77102"),
    ("visit_number", "SYNVIS77103"),
    ("physician_name", "HOLTZWAGEN^MARIQUE"),
]


def dicom_name(p):
    return f"{p[0]}^{p[1]}"


def write_tsv(root):
    path = os.path.join(root, "phi", "synthetic_patients.tsv")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rows = [("kind", "value")]
    for fam, given, pid, dob, _sex in PATIENTS:
        rows += [
            ("name", f"{fam}^{given}"),
            ("family_name", fam),
            ("given_name", given),
            ("patient_id", pid),
            ("birth_date", dob),
            ("birth_date_iso", f"{dob[:4]}-{dob[4:6]}-{dob[6:]}"),
        ]
    rows += OTHER
    with open(path, "w") as f:
        for k, v in rows:
            f.write(f"{k}\t{v}\n")
    return path


if __name__ == "__main__":
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    print(write_tsv(here))
