"""Write CMS official-layout NCCI and PFS files from the CSV/JSON copies in ../shared/data.

The NCCI 2024 Q3 tables in `ncci-2024q3/` are CSVs decoded from a third-party R package, and the
2026 MUE / add-on tables in `ncci-2026-derived/` are third-party JSON conversions. medcode's
importers read the layouts CMS publishes, so the tests (and anyone developing against these copies)
first write the files the way CMS ships them:

    ccipra-v302r0-f1.txt ... -f4.txt       PTP practitioner, 2024 Q3 (tab-delimited, header block)
    ccioph-v302r0-f1.txt ... -f4.txt       PTP outpatient hospital, 2024 Q3
    MCR_MUE_{PractitionerServices,OutpatientHospitalServices,DMESupplierServices}_Eff_07-01-2024.csv
    MCR_MUE_PractitionerServices_Eff_04-01-2026.csv
    AOC_V2024Q3-MCR.txt, AOC_V2026Q3-MCR.txt   add-on code edits (tab-delimited text of the Excel sheet)
    PPRRVU24_JUL.txt, GPCI2024.csv         PFS RVU24C and its GPCIs, from the 2024 third-party CSVs

What the copies lack is filled in as follows, and nothing else is invented:

* PTP effective dates are not in the copy. An edit still in effect gets the release's start date,
  20240701; a deleted edit gets its deletion date as its effective date (all the copy tells us is
  that it applied up to that day), so lookups on or before the release date are not reliable for
  history. The "in existence prior to 1996" flag is unknown and left empty.
* The 2024 Q3 add-on edits have no dates: effective the release start (2024-07-01 = 2024183).
* The copyright notices are shortened; the MUE MAI text is CMS's fixed label for the digit.
* PFS 2024: no descriptions (the copy has none); the pricing indicator column is left blank (the
  2024 layout had none); the calculation flag is 0 (CMS: "0" for all HCPCS since July 1, 2014).

Run `python tests/ncci_official.py OUTDIR [--data PATH] [--only ptp_prac,...]` to write them.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import os
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path

RELEASE_2024Q3 = "20240701"
CRLF = "\r\n"
PTP_HEADER = [
    "CPT only copyright 2023 American Medical Association.  All rights reserved.\t\t\t\t\t\t",
    "Column1/Column2 Edits\t\t\t\t\t\t",
    "Column 1\tColumn 2\t*=in existence\tEffective\tDeletion\tModifier\tPTP Edit Rationale",
    "\t\tprior to 1996\tDate\tDate\t0=not allowed\t",
    "\t\t\t\t*=no data\t1=allowed\t",
    "\t\t\t\t\t9=not applicable\t",
]
MUE_NOTICE = ("CPT codes, descriptions and other data only are copyright 2023 American Medical Association. All Rights "
              "Reserved. Applicable FARS/HHSARS apply.\n(Notice shortened: file written by medcode's tests from a CSV "
              "copy of the CMS table.)")
MUE_SETTINGS = {
    "practitioner": ("PractitionerServices", "Practitioner Services MUE Values"),
    "hospital": ("OutpatientHospitalServices", "Outpatient Hospital Services MUE Values"),
    "dme": ("DMESupplierServices", "DME Supplier Services MUE Values"),
}
MAI_TEXT = {"1": "1 Line Edit", "2": "2 Date of Service Edit: Policy", "3": "3 Date of Service Edit: Clinical"}
AOC_FIELDS = ["AOC_Edit_Type", "Add-On_Code", "AOC_DelDT", "Primary_Code", "Primary_Code_DelDT", "AOC_Edit_EffDT",
              "AOC_Edit_DelDT", "Special_Instruction_Notes"]
AOC_NOTICE = "CPT only copyright 2023 American Medical Association. All rights reserved."

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(os.environ.get("MEDCODE_SHARED_DATA", ROOT.parent / "shared" / "data"))

# name -> (writer, source files relative to the data folder)
SOURCES = {
    "ptp_prac": ("ncci-2024q3/ncci_ptp_prac_pairs.csv.gz",),
    "ptp_out": ("ncci-2024q3/ncci_ptp_out_pairs.csv.gz",),
    "mue_2024": ("ncci-2024q3/ncci_mue_prac.csv", "ncci-2024q3/ncci_mue_out.csv", "ncci-2024q3/ncci_mue_dme.csv"),
    "mue_2026": ("ncci-2026-derived/mue_practitioner.json",),
    "aoc_2024": ("ncci-2024q3/ncci_aoc.csv",),
    "aoc_2026": ("ncci-2026-derived/ncci_aoc_edits.json",),
    "pfs_2024": ("ncci-2024q3/pfs_rvu_ind.csv", "ncci-2024q3/pfs_rvu_amt.csv", "ncci-2024q3/pfs_gpci.csv"),
}


def yyyymmdd(iso: str) -> str:
    return iso.replace("-", "")


def yyyyddd(iso: str) -> str:
    d = date.fromisoformat(iso)
    return f"{d.year}{d.timetuple().tm_yday:03d}"


# --- PTP --------------------------------------------------------------------------------------

def ptp_line(column1: str, column2: str, deletion_iso: str, modifier: str, rationale: str) -> str:
    """One official PTP line from a CSV row (see the module docstring for the effective date)."""
    if deletion_iso == "9999-12-31":
        effective, deletion = RELEASE_2024Q3, "*"  # in effect: effective date unknown, the release start
    else:
        deletion = yyyymmdd(deletion_iso)
        effective = min(deletion, RELEASE_2024Q3)  # deleted: we only know it applied up to its deletion date
    return f"{column1}\t{column2}\t\t{effective}\t{deletion}\t{modifier}\t{rationale}"


def write_ptp(src: Path, out: Path, prefix: str, version: str = "v302r0", parts: int = 4) -> list[Path]:
    """The copy's rows in its own order, in `parts` files split where column 1 changes, as CMS splits them."""
    with gzip.open(src, "rt", newline="") as fh:
        total = sum(1 for _ in fh) - 1
    paths = [out / f"{prefix}-{version}-f{i}.txt" for i in range(1, parts + 1)]
    cut = [total * i // parts for i in range(1, parts)]
    part, handle, written, prev = 0, None, 0, None
    with gzip.open(src, "rt", newline="") as fh:
        reader = csv.reader(fh)
        head = next(reader)
        assert head == ["column1", "column2", "deletion_date", "modifier_indicator", "rationale"], head
        buf: list[str] = []
        handle = open(paths[0], "w", encoding="cp1252", newline="")
        handle.write(CRLF.join(PTP_HEADER) + CRLF)
        for row in reader:
            if part < parts - 1 and written >= cut[part] and row[0] != prev:
                handle.write(CRLF.join(buf) + CRLF)
                buf = []
                handle.close()
                part += 1
                handle = open(paths[part], "w", encoding="cp1252", newline="")
                handle.write(CRLF.join(PTP_HEADER) + CRLF)
            buf.append(ptp_line(*row))
            if len(buf) >= 100_000:
                handle.write(CRLF.join(buf) + CRLF)
                buf = []
            written += 1
            prev = row[0]
        if buf:
            handle.write(CRLF.join(buf) + CRLF)
        handle.close()
    return paths[:part + 1]


# --- MUE --------------------------------------------------------------------------------------

def _write_mue(out: Path, setting: str, effective: str, rows) -> Path:
    name, values_title = MUE_SETTINGS[setting]
    path = out / f"MCR_MUE_{name}_Eff_{effective}.csv"
    with open(path, "w", encoding="cp1252", newline="") as fh:
        w = csv.writer(fh, lineterminator=CRLF)
        w.writerow([MUE_NOTICE, "", "", ""])
        w.writerow(["HCPCS/\nCPT Code", values_title, "MUE Adjudication Indicator", "MUE Rationale"])
        w.writerows(rows)
    return path


def write_mue_2024(src: Path, out: Path) -> Path:
    """ncci_mue_{prac,out,dme}.csv (hcpcs_code, mue_units, mue_mai digit, mue_rationale, mue_service)."""
    rows = list(csv.DictReader(open(src, newline="")))
    service = {"Practitioner": "practitioner", "Outpatient Hospital": "hospital", "DME Supplier": "dme"}
    (setting,) = {service[r["mue_service"]] for r in rows}
    return _write_mue(out, setting, "07-01-2024",
                      ([r["hcpcs_code"], r["mue_units"], MAI_TEXT[r["mue_mai"]], r["mue_rationale"]] for r in rows))


def write_mue_json(src: Path, out: Path) -> Path:
    """mue_practitioner.json: {code, mue_value, description "MAI text|rationale", source_file}; the official
    effective date is the one in source_file (its effective_date field is that project's artefact)."""
    rows = json.loads(src.read_text())
    (source,) = {r["source_file"] for r in rows}
    assert source.startswith("MCR_MUE_PractitionerServices_Eff_"), source
    effective = source.rsplit("_", 1)[1].removesuffix(".csv")

    def line(r):
        mai, rationale = r["description"].split("|", 1)
        return [r["code"], str(r["mue_value"]), mai, rationale]

    return _write_mue(out, "practitioner", effective, (line(r) for r in rows))


# --- add-on code edits ------------------------------------------------------------------------

_TYPE_TEXTS = ("Type 1 add-on code --", "Type 2 add-on code --", "Type 3 add-on code --")


def _write_aoc(path: Path, rows) -> Path:
    with open(path, "w", encoding="cp1252", newline="") as fh:
        fh.write(AOC_NOTICE + CRLF)
        fh.write("\t".join(AOC_FIELDS) + CRLF)
        for r in rows:
            fh.write("\t".join(r) + CRLF)
    return path


def write_aoc_2024(src: Path, out: Path) -> Path:
    """ncci_aoc.csv (primary_code, add_on_code, aoc_edit_type): no dates, so effective the release start."""
    rows = csv.DictReader(open(src, newline=""))
    start = yyyyddd("2024-07-01")
    return _write_aoc(out / "AOC_V2024Q3-MCR.txt",
                      ([r["aoc_edit_type"], r["add_on_code"], "", r["primary_code"], "", start, "", ""] for r in rows))


def write_aoc_json(src: Path, out: Path) -> Path:
    """ncci_aoc_edits.json: code1 add-on, code2 primary, modifier = AOC type, ISO dates. Its description is
    the file's Special_Instruction_Notes, except the "Type N add-on code -- ..." texts that project wrote
    itself; a leading '"' left over from its CSV reading is dropped."""
    rows = json.loads(src.read_text())
    (source,) = {r["metadata"]["source_file"] for r in rows}
    quarter = source.split("_")[1].split("-")[0]  # AOC_V2026Q3-F-MCR.txt -> V2026Q3

    def line(r):
        note = r["description"]
        if note.startswith(_TYPE_TEXTS):
            note = ""
        note = note.lstrip('"')
        return [r["modifier"], r["code1"], "", r["code2"], "", yyyyddd(r["effective_date"]),
                yyyyddd(r["end_date"]) if r["end_date"] else "", note]

    return _write_aoc(out / f"AOC_{quarter}-MCR.txt", (line(r) for r in rows))


# --- PFS 2024 ---------------------------------------------------------------------------------

def _put(record: list[str], start: int, text: str) -> None:
    record[start - 1:start - 1 + len(text)] = list(text)


def rvu_record(ind: dict, amt: dict) -> str:
    """One PPRRVU record (171 characters, the RVU26B positions) from the two 2024 CSV rows."""
    r = [" "] * 171
    num = lambda v, w: f"{float(v or 0):{w}.2f}"  # noqa: E731
    pct = lambda v: f"{float(v or 0):.2f}".lstrip("0") if float(v or 0) < 1 else f"{float(v):.1f}"  # noqa: E731
    _put(r, 1, ind["hcpcs_code"])
    _put(r, 6, ind["mod"].ljust(2))
    _put(r, 58, ind["status"])
    _put(r, 59, ind["not_used_mcr"] or " ")
    _put(r, 60, num(amt["rvu_work"], 6))
    _put(r, 67, num(amt["rvu_non_pe"], 6))
    _put(r, 73, ind["non_na"].ljust(2))
    _put(r, 76, num(amt["rvu_fac_pe"], 6))
    _put(r, 82, ind["fac_na"].ljust(2))
    _put(r, 85, num(amt["rvu_mp"], 5))
    _put(r, 91, num(amt["rvu_non_sum"], 6))
    _put(r, 97, num(amt["rvu_fac_sum"], 6))
    _put(r, 103, str(int(float(ind["pctc"]))))
    _put(r, 104, ind["glob"])
    _put(r, 107, pct(ind["pre_op"]))
    _put(r, 110, pct(ind["intra_op"]))
    _put(r, 113, pct(ind["post_op"]))
    for pos, key in ((116, "mult_proc"), (117, "bilat_surg"), (118, "asst_surg"), (119, "co_surg"), (120, "team_surg")):
        _put(r, pos, str(int(float(ind[key]))))
    _put(r, 128, ind["endo_base"].ljust(5))
    _put(r, 133, f"{float(amt['cf']):8.4f}")
    _put(r, 142, ind["phys_diag_pro"])
    _put(r, 144, "0")
    _put(r, 146, ind["diag_img_fam"])
    _put(r, 152, num(amt["rvu_opps_non_pe"], 6))
    _put(r, 159, num(amt["rvu_opps_fac_pe"], 6))
    _put(r, 166, num(amt["rvu_opps_mp"], 6))
    return "".join(r)


def write_pfs_2024(ind_csv: Path, amt_csv: Path, gpci_csv: Path, out: Path) -> list[Path]:
    ind = list(csv.DictReader(open(ind_csv, newline="")))
    amt = list(csv.DictReader(open(amt_csv, newline="")))
    rvu = out / "PPRRVU24_JUL.txt"
    with open(rvu, "w", encoding="cp1252", newline="") as fh:
        fh.write("HDR CPT CODES AND DESCRIPTIONS ONLY ARE COPYRIGHT " + CRLF)
        fh.write("HDR 2023 AMERICAN MEDICAL ASSOCIATION.  ALL RIGHTS" + CRLF)
        fh.write("HDR RESERVED.  APPLICABLE FARS/DFARS APPLY.       " + CRLF)
        for a, b in zip(ind, amt):
            assert (a["hcpcs_code"], a["mod"]) == (b["hcpcs_code"], b["mod"])
            fh.write(rvu_record(a, b) + CRLF)
    gpci = out / "GPCI2024.csv"
    with open(gpci, "w", encoding="cp1252", newline="") as fh:
        w = csv.writer(fh, lineterminator=CRLF)
        w.writerow(["ADDENDUM E. CY 2024 GEOGRAPHIC PRACTICE COST INDICES (GPCIs) BY STATE AND MEDICARE LOCALITY",
                    "", "", "", "", "", ""])
        w.writerow([""] * 7)
        w.writerow(["Medicare Administrative Contractor (MAC)", "State", "Locality Number", "Locality Name",
                    "2024 PW GPCI (with 1.0 Floor)", "2024 PE GPCI", "2024 MP GPCI"])
        for g in csv.DictReader(open(gpci_csv, newline="")):
            w.writerow([g["mac"], g["state"], g["locality"], g["locality_name"], f"{float(g['gpci_work']):.3f}",
                        f"{float(g['gpci_pe']):.3f}", f"{float(g['gpci_mp']):.3f}"])
    return [rvu, gpci]


# --- all of it, once ---------------------------------------------------------------------------

def write(name: str, data: Path, out: Path) -> list[Path]:
    s = [data / p for p in SOURCES[name]]
    if name == "ptp_prac":
        return write_ptp(s[0], out, "ccipra")
    if name == "ptp_out":
        return write_ptp(s[0], out, "ccioph")
    if name == "mue_2024":
        return [write_mue_2024(p, out) for p in s]
    if name == "mue_2026":
        return [write_mue_json(s[0], out)]
    if name == "aoc_2024":
        return [write_aoc_2024(s[0], out)]
    if name == "aoc_2026":
        return [write_aoc_json(s[0], out)]
    if name == "pfs_2024":
        return write_pfs_2024(*s, out)
    raise KeyError(name)


def cached_folder(names: tuple[str, ...], data: Path = DEFAULT_DATA, cache: Path = ROOT / ".cache" / "ncci-official"
                  ) -> Path | None:
    """A folder holding the official-layout files for `names`, written once and kept under .cache/
    (keyed by this script and the source files). None when a source file is missing."""
    h = hashlib.sha256(Path(__file__).read_bytes())
    for name in names:
        for rel in SOURCES[name]:
            p = data / rel
            if not p.exists():
                return None
            st = p.stat()
            h.update(f"{name}:{rel}:{st.st_size}:{st.st_mtime_ns}".encode())
    dest = cache / f"{'+'.join(names)}-{h.hexdigest()[:12]}"
    if dest.exists():
        return dest
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=dest.name + ".tmp-", dir=cache))
    try:
        for name in names:
            write(name, data, work)
        os.replace(work, dest)  # atomic; a parallel run that won the race keeps its copy
    except OSError:
        shutil.rmtree(work, ignore_errors=True)
        if not dest.exists():
            raise
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return dest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--only", default=",".join(SOURCES), help="comma-separated: " + ", ".join(SOURCES))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only.split(","):
        for path in write(name.strip(), args.data, args.out):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
