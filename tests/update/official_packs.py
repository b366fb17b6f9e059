"""Archives packed the way CMS/CDC ship them, from the real files in ../shared/data, and the operator
settings file (sources.toml) that points `medcode data update` at a local server holding them.

Two kinds of release are served:

* packaged registry entries whose archives can be packed faithfully from the copies here (same archive
  and member names, official layouts): their addresses are overridden with [addresses];
* test releases ([[release]] in the settings file) for copies that are not a whole official archive
  (the July 2025 HCPCS list cut down to two columns, the 2026 PCS tables without their index, ...).

NCCI PTP tables are cut to the edits whose column 1 code is G0100-G0129 (3,780 practitioner and 2,364
outpatient hospital lines of the 2024 Q3 copy), written in CMS's layout by tests/ncci_official.py, so that
an update and its build take seconds, not minutes.
"""

from __future__ import annotations

import csv
import gzip
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import ncci_official

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("MEDCODE_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()

PTP_SUBSET = ("G010", "G011", "G012")  # column 1 prefixes kept


def zip_members(dest: Path, members: dict[str, Path | bytes]) -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            if isinstance(content, Path):
                zf.write(content, name)
            else:
                zf.writestr(name, content)
    return dest


def _ptp_subset(src: Path, work: Path) -> Path:
    out = work / src.name
    with gzip.open(src, "rt", newline="") as fh, gzip.open(out, "wt", newline="") as dst:
        reader, writer = csv.reader(fh), csv.writer(dst, lineterminator="\n")
        writer.writerow(next(reader))
        writer.writerows(r for r in reader if r[0].startswith(PTP_SUBSET))
    return out


class Packs:
    """Builds each archive once, on first use, under `root`."""

    def __init__(self, root: Path, data: Path = SHARED_DATA):
        self.root, self.data = root, data
        self.work = root / "work"
        self.work.mkdir(parents=True, exist_ok=True)
        self._made: dict[str, dict[str, Path]] = {}

    def _file(self, rel: str) -> Path:
        import pytest

        path = self.data / rel
        if not path.exists():
            pytest.skip(f"official data not available: {path}")
        return path

    def get(self, key: str) -> dict[str, Path]:
        """{archive file name: packed file} for one release."""
        if key not in self._made:
            folder = self.root / key
            folder.mkdir(parents=True, exist_ok=True)
            self._made[key] = getattr(self, "_" + key.replace("-", "_"))(folder)
        return self._made[key]

    # --- faithful copies of official archives (packaged registry entries) -------------------------
    def _hcpcs_2020_jan(self, out: Path) -> dict[str, Path]:
        return {"2020-alpha-numeric-hcpcs-file.zip": self._file("hcpcs-2020-anweb/2020-Alpha-Numeric-HCPCS-File.zip")}

    def _ptp(self, out: Path, which: str, prefix: str, word: str) -> dict[str, Path]:
        subset = _ptp_subset(self._file(f"ncci-2024q3/ncci_ptp_{which}_pairs.csv.gz"), out)
        parts = ncci_official.write_ptp(subset, out, prefix)
        assert len(parts) == 4, parts
        return {f"medicare-ncci-2024q3-{word}-ptp-edits-{p.stem}.zip": zip_members(
            out / f"medicare-ncci-2024q3-{word}-ptp-edits-{p.stem}.zip", {p.name: p}) for p in parts}

    def _ncci_ptp_practitioner_2024q3(self, out: Path) -> dict[str, Path]:
        return self._ptp(out, "prac", "ccipra", "practitioner")

    def _ncci_ptp_hospital_2024q3(self, out: Path) -> dict[str, Path]:
        return self._ptp(out, "out", "ccioph", "hospital")

    def _ncci_mue_2024q3(self, out: Path) -> dict[str, Path]:
        found = {}
        for name, slug in (("prac", "practitioner-services"), ("out", "outpatient-hospital-services"),
                           ("dme", "dme-supplier-services")):
            table = ncci_official.write_mue_2024(self._file(f"ncci-2024q3/ncci_mue_{name}.csv"), out)
            zname = f"medicare-ncci-2024-q3-{slug}-mue-table.zip"
            found[zname] = zip_members(out / zname, {table.name: table})
        return found

    def _ncci_aoc_2024q3(self, out: Path) -> dict[str, Path]:
        table = ncci_official.write_aoc_2024(self._file("ncci-2024q3/ncci_aoc.csv"), out)
        return {"medicare-ncci-2024q3-add-code-edits.zip":
                zip_members(out / "medicare-ncci-2024q3-add-code-edits.zip", {table.name: table})}

    def _ncci_aoc_2026q3(self, out: Path) -> dict[str, Path]:
        table = ncci_official.write_aoc_json(self._file("ncci-2026-derived/ncci_aoc_edits.json"), out)
        return {"medicare-ncci-2026q3-add-code-edits.zip":
                zip_members(out / "medicare-ncci-2026q3-add-code-edits.zip", {table.name: table})}

    def _icd10cm_guidelines_fy2026(self, out: Path) -> dict[str, Path]:
        return {"fy-2026-icd-10-cm-coding-guidelines.pdf":
                self._file("icd10cm-2026-guidelines/icd_10_cm_october_2025_guidelines_0.pdf")}

    # --- test releases (not a whole official archive) ---------------------------------------------
    def _t_hcpcs_2025_jul_list(self, out: Path) -> dict[str, Path]:
        d = self._file("hcpcs-2025-jul-descriptions")
        return {"july-2025-alpha-numeric-hcpcs-file.zip": zip_members(out / "july-2025-alpha-numeric-hcpcs-file.zip", {
            "HCPC2025_JUL_ANWEB_v3.xlsx": d / "HCPC2025_JUL_ANWEB_v3.xlsx",
            "NOC_codes_JUL2025.xlsx": d / "NOC_codes_JUL2025.xlsx"})}

    def _t_icd10pcs_2026(self, out: Path) -> dict[str, Path]:
        d = self._file("icd10pcs-2026-tables")
        name = "2026-icd-10-pcs-code-tables-and-index.zip"
        return {name: zip_members(out / name, {
            "icd10pcs_tables_2026.xml": d / "icd10pcs_tables_2026.xml",
            "icd10pcs_definitions_2026.xml": d / "icd10pcs_definitions_2026.xml"})}

    def _t_ncci_mue_2026q2(self, out: Path) -> dict[str, Path]:
        table = ncci_official.write_mue_json(self._file("ncci-2026-derived/mue_practitioner.json"), out)
        name = "medicare-ncci-2026-q2-practitioner-services-mue-table.zip"
        return {name: zip_members(out / name, {table.name: table})}

    def _t_pfs_rvu26b(self, out: Path) -> dict[str, Path]:
        d = self._file("pfs-rvu-2026-apr")
        return {"rvu26b.zip": zip_members(out / "rvu26b.zip", {p.name: p for p in sorted(d.iterdir())})}

    def _t_icd10cm_2025_apr(self, out: Path) -> dict[str, Path]:
        d = self._file("icd10cm-2025-index-tables")
        name = "icd10cm-table-index-April-2025.zip"
        return {name: zip_members(out / name, {p.name: p for p in sorted(d.iterdir())
                                               if p.suffix in (".xml", ".xsd")})}

    def _t_icd10cm_fy2027_addenda(self, out: Path) -> dict[str, Path]:
        name = "2027-code-descriptions-tabular-order.zip"
        return {name: zip_members(out / name, {
            "icd10cm_codes_addenda_2027.txt": self._file("icd10cm-2027-addenda/icd10cm_codes_addenda_2027.txt")})}


# Test releases, in the registry's own format (see src/medcode/codebook/registry.toml); {base} is the server.
TEST_RELEASES = {
    "t-hcpcs-2025-jul-list": f'''
[[release]]
id = "t-hcpcs-2025-jul-list"
series = "t-hcpcs-list"
system = "hcpcs"
title = "HCPCS Level II July 2025 (code and long description list, test copy)"
effective_from = 2025-07-01
[[release.file]]
url = "{{base}}/files/zip/july-2025-alpha-numeric-hcpcs-file.zip"
members = [
  {{ pattern = "HCPC2025_JUL_ANWEB*.xlsx", importer = "hcpcs_list", layout = "workbook: HCPCS, LONG_DESCRIPTION" }},
  {{ pattern = "NOC*2025*.xlsx", importer = "hcpcs_noc", optional = true, layout = "workbook of NOC codes" }},
]
''',
    "t-icd10pcs-2026": '''
[[release]]
id = "t-icd10pcs-2026"
series = "t-icd10pcs"
system = "icd10pcs"
title = "ICD-10-PCS FY2026 tables and definitions (test copy, no index)"
effective_from = 2025-10-01
[[release.file]]
url = "{base}/files/zip/2026-icd-10-pcs-code-tables-and-index.zip"
members = [
  { pattern = "icd10pcs_tables_2026.xml", importer = "icd10pcs_tables", layout = "ICD10PCS.tabular XML" },
  { pattern = "icd10pcs_definitions_2026.xml", importer = "icd10pcs_definitions", layout = "ICD10PCS.definitions XML" },
]
''',
    "t-ncci-mue-2026q2": '''
[[release]]
id = "t-ncci-mue-2026q2"
series = "t-ncci-mue"
system = "ncci"
title = "NCCI practitioner MUEs, 2026 Q2 (test copy)"
effective_from = 2026-04-01
[[release.file]]
url = "{base}/files/zip/medicare-ncci-2026-q2-practitioner-services-mue-table.zip"
members = [
  { pattern = "MCR_MUE_PractitionerServices_Eff_04-01-2026*.csv", importer = "ncci_mue", system = "ncci-practitioner", layout = "MUE CSV" },
]
''',
    "t-pfs-rvu26b": '''
[[release]]
id = "t-pfs-rvu26b"
series = "t-pfs-rvu"
system = "pfs"
title = "PFS RVU26B, non-QPP file and GPCIs (test copy)"
effective_from = 2026-04-01
[[release.file]]
url = "{base}/files/zip/rvu26b.zip"
members = [
  { pattern = "PPRRVU2026_Apr_nonQPP*.txt", importer = "pfs_rvu", system = "pfs", layout = "fixed-width PPRRVU" },
  { pattern = "GPCI2026*.csv", importer = "pfs_gpci", effective_from = 2026-01-01, layout = "GPCI CSV" },
]
''',
    "t-icd10cm-2025-apr": '''
[[release]]
id = "t-icd10cm-2025-apr"
series = "t-icd10cm-tables"
system = "icd10cm"
title = "ICD-10-CM April 2025 index tables (test copy: no tabular, no main index XML)"
effective_from = 2025-04-01
[[release.file]]
url = "{base}/pub/Health_Statistics/NCHS/Publications/ICD10CM/2025-Update/icd10cm-table-index-April-2025.zip"
members = [
  { pattern = "icd*10*cm[-_]eindex*2025*.xml", importer = "icd10cm_index", kind = "icd10cm_index_eindex", effective_from = 2024-10-01, layout = "ICD10CM.index XML" },
  { pattern = "icd*10*cm[-_]drug*2025*.xml", importer = "icd10cm_index", kind = "icd10cm_index_drug", effective_from = 2024-10-01, layout = "ICD10CM.index XML" },
  { pattern = "icd*10*cm[-_]neoplasm*2025*.xml", importer = "icd10cm_index", kind = "icd10cm_index_neoplasm", effective_from = 2024-10-01, layout = "ICD10CM.index XML" },
]
''',
    "t-icd10cm-fy2027-addenda": '''
[[release]]
id = "t-icd10cm-fy2027-addenda"
series = "t-icd10cm-addenda"
system = "icd10cm"
title = "ICD-10-CM FY2027 code-title addenda (test copy)"
effective_from = 2026-10-01
[[release.file]]
url = "{base}/files/zip/2027-code-descriptions-tabular-order.zip"
members = [
  { pattern = "icd10cm_codes_addenda_2027.txt", importer = "icd10cm_addenda", layout = "Add/Delete/Revise lines" },
]
''',
}


def serve(server, packs: Packs, registry, keys: list[str]) -> str:
    """Put each release's archives on the server, at the path of its official address; return the
    settings-file text that points medcode there (addresses for packaged entries, test releases)."""
    addresses, extra = [], []
    for key in keys:
        files = packs.get(key)
        if key in TEST_RELEASES:
            text = TEST_RELEASES[key].replace("{base}", f"http://127.0.0.1:{server.port}")
            extra.append(text)
            for line in text.splitlines():
                if line.startswith("url = "):
                    path = urlsplit(line.split('"')[1]).path
                    server.add(path, files[Path(path).name])
            continue
        rel = registry.get(key)
        for rf in rel.files:
            path = urlsplit(rf.url).path
            server.add(path, files[rf.name])
            addresses.append(f'"{rf.url}" = "{server.url(path)}"')
    return "\n".join(["[update]", "years = 30", "", "[addresses]", *addresses, "", *extra])


def write_settings(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def copy_home(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def medcode(home: Path, *args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """The real CLI in a fresh process, on its own MEDCODE_HOME and a SQLite app database there."""
    full = {**os.environ, "MEDCODE_HOME": str(home), "DATABASE_URL": "", **(env or {})}
    for key in ("MEDCODE_CODEBOOK", "MEDCODE_SOURCES_FILE", "MEDCODE_OFFLINE"):
        if key not in (env or {}):
            full.pop(key, None)
    return subprocess.run([sys.executable, "-m", "medcode.cli", *args], env=full, capture_output=True, text=True,
                          timeout=timeout)
