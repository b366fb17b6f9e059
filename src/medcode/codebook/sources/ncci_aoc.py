"""NCCI add-on code (AOC) edits: which primary codes an add-on code needs, by AOC edit type.

CMS publishes the edits quarterly as `AOC_V2026Q3-MCR` (Medicare) in Excel and as text. This
importer reads the tabular layout those files share: an AMA copyright line, then a title row with
the eight columns (in any order), then one add-on / primary pair per row::

    AOC_Edit_Type Add-On_Code AOC_DelDT Primary_Code Primary_Code_DelDT AOC_Edit_EffDT AOC_Edit_DelDT
        Special_Instruction_Notes
    1             0071U                 0070U                           2018274

tab-delimited (or comma-separated) text, saved from the Excel workbook or as CMS ships the .txt.
Dates are YYYYDDD (year and day of the year: 2018274 is October 1, 2018); an empty deletion date
means not deleted. Primary code CCCCC means the contractor defines the primary codes (type 2).
The edit type: 1 only with one of the listed primaries, 2 contractor-defined primaries, 3 the listed
primaries and others the contractor may add. A deletion date is the last day the edit applies.

CMS also ships a fixed-width variant of the text file (`AOC_V2026Q3-F-MCR.txt`); its record layout
was not available to this project, so that variant is refused with a message naming the layout read
here. An Excel workbook is a zip archive, which `medcode data import` unpacks; save the sheet as
tab-delimited text to import it.

The quarter comes from the file name (AOC_V2026Q3: July 1, 2026).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from pathlib import Path

from ..errors import SourceError
from ..writer import BuildContext, SourceFile
from .ncci_ptp import CODE, option_date, original_name, quarter_start
from .textfile import read_cms_text

KIND = "ncci_aoc"
SYSTEM = "ncci"
ORDER = 92

CONTRACTOR_DEFINED = "CCCCC"
FIELDS = ("aoc_edit_type", "add_on_code", "aoc_deldt", "primary_code", "primary_code_deldt", "aoc_edit_effdt",
          "aoc_edit_deldt", "special_instruction_notes")
_SNIFF = re.compile(rb"add[-_ ]?on[-_ ]code.{0,200}primary[-_ ]code|primary[-_ ]code.{0,200}add[-_ ]?on[-_ ]code",
                    re.I | re.S)
_QUARTER = re.compile(r"aoc[_-]?v?(\d{4})q([1-4])", re.I)
_HEADER_ROWS = 10
_COLS = ("release_id", "addon", "primary_code", "effective", "deletion", "aoc_type", "addon_deletion",
         "primary_deletion", "note")


def _key(cell: str) -> str:
    """A title cell as a field name: 'Add-On_Code', 'Add On Code' -> 'add_on_code'."""
    return re.sub(r"[^a-z0-9]+", "_", (cell or "").replace("\ufeff", "").strip().lower()).strip("_")


def sniff(path: Path, head: bytes) -> bool:
    """The title row of the CMS layout: AOC_Edit_Type, Add-On_Code, ..., AOC_Edit_EffDT (third-party CSVs
    without the official date columns are not this layout)."""
    low = head.lower().replace(b" ", b"_")
    return b"aoc_edit_type" in low and b"aoc_edit_effdt" in low and bool(_SNIFF.search(head))


def julian(text: str) -> int:
    """YYYYDDD -> YYYYMMDD (int); ValueError when it is not a day of that year."""
    if len(text) != 7 or not text.isdigit():
        raise ValueError(f"{text!r} is not a date (YYYYDDD)")
    year, day = int(text[:4]), int(text[4:])
    if year < 1900 or not 1 <= day <= (366 if date(year, 12, 31).timetuple().tm_yday == 366 else 365):
        raise ValueError(f"{text!r} is not a date (YYYYDDD: day {day} of {year})")
    d = date(year, 1, 1) + timedelta(days=day - 1)
    return d.year * 10000 + d.month * 100 + d.day


def effective_of(src: SourceFile) -> tuple[date, str]:
    start = option_date(src)
    m = _QUARTER.search(original_name(src))
    if m:
        label = f"{m.group(1)} Q{m.group(2)}"
        return start or quarter_start(int(m.group(1)), int(m.group(2))), label
    if start:
        return start, start.isoformat()
    raise SourceError(src.path, "cannot tell which quarter these add-on code edits are for: CMS names the file "
                                "with it (AOC_V2026Q3-MCR.txt is July 1, 2026); rename the file that way and import "
                                "it again")


def parse(src: SourceFile) -> list[tuple]:
    path = src.path
    text = read_cms_text(path)
    first = next((ln for ln in text.splitlines() if "aoc_edit_type" in ln.lower().replace(" ", "_")), "")
    delimiter = "\t" if first.count("\t") >= first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns = None
    for i, row in enumerate(reader):
        keys = [_key(c) for c in row]
        if "aoc_edit_type" in keys:
            missing = [f for f in FIELDS if f not in keys]
            if missing:
                raise SourceError(path, f"the title row lacks {', '.join(missing)}: the AOC layout has "
                                        f"{', '.join(FIELDS)}", reader.line_num)
            columns = {f: keys.index(f) for f in FIELDS}
            header = reader.line_num
            break
        if i >= _HEADER_ROWS:
            break
    if columns is None:
        raise SourceError(path, "no title row with AOC_Edit_Type, Add-On_Code, Primary_Code ... at the top: not an "
                                "add-on code edit file in the tabular layout (the fixed-width variant is not read; "
                                "save the Excel sheet as tab-delimited text)", 1)
    width = max(columns.values()) + 1
    rows = []
    seen: dict[tuple, int] = {}
    for row in reader:
        no = reader.line_num
        if not any(c.strip() for c in row):
            continue
        if len(row) < width:
            raise SourceError(path, f"{len(row)} columns, the title row has {width}: {delimiter.join(row)[:60]!r}",
                              no)
        get = {f: row[i].strip() for f, i in columns.items()}
        aoc_type = get["aoc_edit_type"]
        if aoc_type not in ("1", "2", "3"):
            raise SourceError(path, f"AOC edit type {aoc_type!r}: must be 1, 2 or 3", no)
        addon, primary = get["add_on_code"].upper(), get["primary_code"].upper()
        for label, code in (("add-on code", addon), ("primary code", primary)):
            if not CODE.match(code):
                raise SourceError(path, f"{label} {code!r} is not a CPT/HCPCS code (5 letters or digits)", no)
        dates = {}
        for f in ("aoc_deldt", "primary_code_deldt", "aoc_edit_effdt", "aoc_edit_deldt"):
            value = get[f]
            if not value:
                dates[f] = None
                continue
            try:
                dates[f] = julian(value)
            except ValueError as exc:
                raise SourceError(path, f"{f}: {exc}", no) from None
        if dates["aoc_edit_effdt"] is None:
            raise SourceError(path, f"{addon} / {primary}: no AOC_Edit_EffDT (the date the edit takes effect)", no)
        if dates["aoc_edit_deldt"] is not None and dates["aoc_edit_deldt"] < dates["aoc_edit_effdt"]:
            raise SourceError(path, f"{addon} / {primary}: AOC_Edit_DelDT {get['aoc_edit_deldt']} is before "
                                    f"AOC_Edit_EffDT {get['aoc_edit_effdt']}", no)
        key = (addon, primary, dates["aoc_edit_effdt"])
        if key in seen:
            raise SourceError(path, f"{addon} / {primary} effective {get['aoc_edit_effdt']} is already listed on "
                                    f"line {seen[key]}", no)
        seen[key] = no
        note = get["special_instruction_notes"] or None
        rows.append((addon, primary, dates["aoc_edit_effdt"], dates["aoc_edit_deldt"], int(aoc_type),
                     dates["aoc_deldt"], dates["primary_code_deldt"], note))
    if not rows:
        raise SourceError(path, "no edit rows after the title row: the file is empty or truncated", header)
    return rows


def load(ctx: BuildContext, src: SourceFile) -> dict:
    rows = parse(src)
    start, label = effective_of(src)
    release_id = ctx.add_release(system=SYSTEM, name=f"NCCI add-on code edits, {label}", kind=KIND,
                                 effective_from=start, effective_to=None, src=src)
    ctx.insert("aoc_edits", _COLS, [(release_id, *r) for r in rows])
    counts = {"edits": len(rows), "addons": len({r[0] for r in rows}),
              "contractor_defined": sum(1 for r in rows if r[1] == CONTRACTOR_DEFINED),
              "deleted": sum(1 for r in rows if r[3] is not None)}
    for t in (1, 2, 3):
        counts[f"type_{t}"] = sum(1 for r in rows if r[4] == t)
    ctx.set_counts(release_id, counts)
    return counts
