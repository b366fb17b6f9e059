"""NCCI medically unlikely edits (MUEs): practitioner, outpatient hospital and DME supplier tables.

CMS publishes each table as CSV (`MCR_MUE_PractitionerServices_Eff_07-01-2024.csv`,
`..._OutpatientHospitalServices_...`, `..._DMESupplierServices_...`): a quoted AMA copyright notice
(one cell spanning several lines), then the column titles, then one code per row::

    "CPT codes, descriptions and other data only are copyright ... American Medical Association. ...",,,
    "HCPCS/
    CPT Code","Practitioner Services MUE Values","MUE Adjudication Indicator","MUE Rationale"
    0001U,1,2 Date of Service Edit: Policy,Code Descriptor / CPT Instruction

The values column's title names the setting; the effective date is in the file name. A table holds
no dates of its own: it is in effect from its date until the next table of its setting.

MUE adjudication indicators (MAI): 1 line edit (units per claim line), 2 date of service edit:
policy (absolute), 3 date of service edit: clinical.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

from ..errors import SourceError
from ..writer import BuildContext, SourceFile
from .ncci_ptp import CODE, SETTING_LABELS, option_date, original_name, release_system
from .textfile import read_cms_text

KIND = "ncci_mue"
SYSTEM = "ncci"  # releases are recorded per setting: 'ncci-practitioner', 'ncci-hospital', 'ncci-dme'
ORDER = 91

MAI_LABELS = {1: "Line Edit", 2: "Date of Service Edit: Policy", 3: "Date of Service Edit: Clinical"}
_VALUES_TITLE = re.compile(r"^(practitioner|outpatient hospital|dme supplier)\s+services\s+mue\s+values$")
_TITLE_SETTING = {"practitioner": "practitioner", "outpatient hospital": "hospital", "dme supplier": "dme"}
_NAME_SETTING = (
    (re.compile(r"practitioner", re.I), "practitioner"),
    (re.compile(r"outpatient\s*_?hospital|hospital", re.I), "hospital"),
    (re.compile(r"dme", re.I), "dme"),
)
_EFF = re.compile(r"eff(?:ective)?[_ -]?(\d{2})[-_](\d{2})[-_](\d{4})", re.I)
_MAI = re.compile(r"^([123])(?:\s+(.*))?$")
_SNIFF = re.compile(rb"mue\s+values.{0,80}adjudication\s+indicator", re.I | re.S)
_HEADER_ROWS = 20
_COLS = ("release_id", "code", "mue", "mai", "rationale")


def _norm(cell: str) -> str:
    return " ".join((cell or "").replace("\ufeff", "").split()).lower()


def sniff(path: Path, head: bytes) -> bool:
    """A CSV whose column titles include '... Services MUE Values' and 'MUE Adjudication Indicator'."""
    if _SNIFF.search(head):
        return True
    if b"," not in head or b"copyright" not in head.lower():
        return False
    try:  # a long copyright notice can push the titles past the first 4 KB
        with open(path, "rb") as fh:
            return bool(_SNIFF.search(fh.read(65536)))
    except OSError:
        return False


def effective_of(src: SourceFile) -> date:
    start = option_date(src)
    if start:
        return start
    m = _EFF.search(original_name(src))
    if m:
        try:
            return date(int(m.group(3)), int(m.group(1)), int(m.group(2)))
        except ValueError:
            pass
    raise SourceError(src.path, "cannot tell which date this MUE table takes effect: CMS puts it in the file name "
                                "(MCR_MUE_PractitionerServices_Eff_07-01-2024.csv); rename the file that way and "
                                "import it again")


def parse(src: SourceFile):
    """(setting, rows [(code, mue, mai, rationale, line)]) after checking every row."""
    path = src.path
    reader = csv.reader(io.StringIO(read_cms_text(path), newline=""))
    header = None
    setting = None
    for i, row in enumerate(reader):
        cells = [_norm(c) for c in row]
        if len(cells) >= 4 and cells[0] in ("hcpcs/ cpt code", "hcpcs/cpt code", "hcpcs / cpt code"):
            m = _VALUES_TITLE.match(cells[1])
            if not m or cells[2] != "mue adjudication indicator" or cells[3] != "mue rationale":
                raise SourceError(path, "column titles " + ", ".join(repr(c) for c in row[:4]) + " are not the MUE "
                                        "layout (HCPCS/CPT Code, <setting> Services MUE Values, MUE Adjudication "
                                        "Indicator, MUE Rationale)", reader.line_num)
            setting = _TITLE_SETTING[m.group(1)]
            header = reader.line_num
            break
        if i >= _HEADER_ROWS:
            break
    if header is None:
        raise SourceError(path, "no 'HCPCS/CPT Code, ... MUE Values, MUE Adjudication Indicator, MUE Rationale' "
                                "title row at the top: not an MUE table in CMS's CSV layout", 1)
    name = original_name(src)
    for pattern, named in _NAME_SETTING:
        if pattern.search(name):
            if named != setting:
                raise SourceError(path, f"the file name says {SETTING_LABELS[named]} but the column titles say "
                                        f"{SETTING_LABELS[setting]}")
            break
    rows = []
    seen: dict[str, int] = {}
    for row in reader:
        no = reader.line_num
        if not any(c.strip() for c in row):
            continue
        if len(row) < 4 or any(c.strip() for c in row[4:]):
            raise SourceError(path, f"{len(row)} columns, an MUE row has 4 (code, MUE value, adjudication "
                                    f"indicator, rationale): {','.join(row)[:60]!r}", no)
        code, value, mai_text, rationale = (c.strip() for c in row[:4])
        if not CODE.match(code):
            raise SourceError(path, f"{code!r} is not a CPT/HCPCS code (5 letters or digits)", no)
        if not value.isdigit():
            raise SourceError(path, f"MUE value {value!r} for {code} is not a whole number of units", no)
        m = _MAI.match(" ".join(mai_text.split()))
        if not m:
            raise SourceError(path, f"adjudication indicator {mai_text!r} for {code}: expected 1 Line Edit, "
                                    "2 Date of Service Edit: Policy or 3 Date of Service Edit: Clinical", no)
        mai = int(m.group(1))
        if m.group(2) and m.group(2).lower() != MAI_LABELS[mai].lower():
            raise SourceError(path, f"adjudication indicator {mai_text!r} for {code}: indicator {mai} is "
                                    f"'{mai} {MAI_LABELS[mai]}'", no)
        if code in seen:
            raise SourceError(path, f"{code} is already listed on line {seen[code]}", no)
        seen[code] = no
        rows.append((code, int(value), mai, rationale, no))
    if not rows:
        raise SourceError(path, "no MUE rows after the column titles: the file is empty or truncated", header)
    return setting, rows


def load(ctx: BuildContext, src: SourceFile) -> dict:
    setting, rows = parse(src)
    start = effective_of(src)
    label = f"NCCI MUEs, {SETTING_LABELS[setting]}, effective {start.isoformat()}"
    release_id = ctx.add_release(system=release_system(setting), name=label, kind=KIND, effective_from=start,
                                 effective_to=None, src=src)
    ctx.insert("mue_edits", _COLS, [(release_id, c, v, m, r) for c, v, m, r, _ in rows])
    counts = {"setting": setting, "codes": len(rows)}
    for mai in (1, 2, 3):
        counts[f"mai_{mai}"] = sum(1 for r in rows if r[2] == mai)
    ctx.set_counts(release_id, counts)
    return counts
