"""CMS Place of Service code set as a CSV with a header row (`pos.csv`: pos_code, pos_type, pos_name,
pos_description).

CMS publishes the POS codes as a web page; this is a third-party table of it (see ../shared/data
PROVENANCE), recognised by its header row. pos_name is the title; pos_type (Facility / Non-Facility)
says which PFS payment applies and goes with the description to `pos_details`. Rows named
"Unassigned" are numbers CMS has not given out: they are counted, not made into codes.

Merged as a code list of system 'pos': codes absent from a newer list end the day before it. The
file carries no date: the option `effective_from`, a date in its name (`pos_2025-01-01.csv`), or, for
the copy this project was checked against, the quarter of the package it came from. Without dated
history a POS code is valid from that date on.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from ..codes import POS
from ..errors import SourceError
from ..writer import BuildContext, SourceFile
from .listcsv import effective as listcsv_effective, header_is, rows as csv_rows
from .hcpcs_anweb import Entry, apply_list, later_release, quarter_label, same_release

KIND = "pos"
SYSTEM = POS
ORDER = 55

COLUMNS = ("pos_code", "pos_type", "pos_name", "pos_description")
POS_KIND = "code"
KNOWN_COPIES = {
    "9120dab1f63b6b0eb1da9218cda12f663e5325a59b6529f9cd45976193a8e479":
        (date(2024, 7, 1), "NCCI 2024 Q3 package (andrewallenbruce/northstar)"),
}


def sniff(path: Path, head: bytes) -> bool:
    return header_is(head, COLUMNS)


def effective(src: SourceFile) -> tuple[date, str | None]:
    return listcsv_effective(src, KNOWN_COPIES, "pos_2025-01-01.csv")


def parse(src: SourceFile) -> tuple[dict[str, dict], int, int]:
    """({code: row}, rows read, unassigned rows)."""
    path = src.path
    out: dict[str, dict] = {}
    seen: dict[str, int] = {}
    rows = unassigned = 0
    for no, row in csv_rows(src, COLUMNS):
        rows += 1
        code, setting, name, description = (" ".join(c.split()) for c in row)
        if not re.match(r"^[0-9]{2}$", code):
            raise SourceError(path, f"{code!r} is not a two-digit place of service code", no)
        if code in seen:
            raise SourceError(path, f"{code} is listed twice (first on line {seen[code]})", no)
        seen[code] = no
        if name.lower() == "unassigned":
            unassigned += 1
            continue
        if not name:
            raise SourceError(path, f"place of service {code} has no name", no)
        out[code] = {"title": name, "setting": setting or None, "description": description or None, "line": no}
    if not out:
        raise SourceError(path, "no place of service codes below the header")
    return out, rows, unassigned


def load(ctx: BuildContext, src: SourceFile) -> dict:
    codes, rows, unassigned = parse(src)
    start, origin = effective(src)
    conn = ctx.conn
    dup = same_release(conn, SYSTEM, KIND, start)
    if dup:
        ctx.note(f"{KIND}: {src.name}: skipped, the same list ({dup[0]}) was read from {dup[1]}")
        return {"skipped": 1}
    later = later_release(conn, SYSTEM, (KIND,), start)
    if later:
        ctx.note(f"{KIND}: {src.name}: skipped, {later[0]} ({later[1]}) is a later place of service list")
        return {"skipped": 1}
    if origin:
        ctx.note(f"{KIND}: {src.name}: no date in the file; the known copy from the {origin} is dated {start}")
    rel = ctx.add_release(system=SYSTEM, name=f"Place of service codes {quarter_label(start)}", kind=KIND,
                          effective_from=start, effective_to=None, src=src)
    entries = {code: Entry(code, c["title"], POS_KIND, line=c["line"]) for code, c in codes.items()}
    counts: dict = {"rows": rows, "codes": len(codes), "unassigned": unassigned}
    counts["merge"] = apply_list(ctx, system=SYSTEM, kinds=(POS_KIND,), start=start, entries=entries,
                                 release_id=rel, third_party=True)
    ctx.insert("pos_details", ("code", "release_id", "setting", "description"),
               [(code, rel, c["setting"], c["description"]) for code, c in codes.items()])
    ctx.set_counts(rel, counts)
    return counts
