"""CMS list of not-otherwise-classified (NOC) HCPCS codes, as a workbook (`NOC_codes_JUL2025.xlsx`:
a title row "NOC CODES - HCPCS 2025", then HCPCS, LONG DESCRIPTION, ADD DATE, TERM DATE).

A NOC code is billed with a narrative description of the item or service; the code page says so.
The list goes to `hcpcs_noc`; it adds no codes (the code lists do that).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from ..codes import HCPCS
from ..errors import SourceError
from ..writer import BuildContext, SourceFile
from .hcpcs_anweb import (PROC_CODE, cell_text, date_from_name, header_key, is_xlsx, option_date, original_name,
                          parse_yyyymmdd, peek_xlsx, quarter_label, same_release, xlsx_rows)

KIND = "hcpcs_noc"
SYSTEM = HCPCS
ORDER = 54

HEADER = ("HCPCS", "LONG_DESCRIPTION", "ADD_DATE", "TERM_DATE")


def _is_header(row) -> bool:
    return tuple(header_key(v) for v in row if v is not None)[:4] == HEADER


def sniff(path: Path, head: bytes) -> bool:
    if not is_xlsx(path, head):
        return False
    rows = peek_xlsx(path, head, rows=8)
    titled = any("NOC" in cell_text(v).upper() for row in rows for v in row if v is not None)
    return titled and any(_is_header(row) for row in rows)


def parse(src: SourceFile) -> tuple[list[tuple], list[str]]:
    path = src.path
    rows, title_lines = [], []
    started = False
    seen: dict[str, str] = {}
    for no, row in enumerate(xlsx_rows(path), 1):
        where = f"row {no}"
        cells = [cell_text(v).strip() for v in row]
        if not started:
            if _is_header(row):
                started = True
            elif any(cells):
                title_lines.append(" ".join(c for c in cells if c))
            if no > 20 and not started:
                raise SourceError(path, "no header row HCPCS, LONG DESCRIPTION, ADD DATE, TERM DATE", where)
            continue
        if not any(cells):
            continue
        cells += [""] * (4 - len(cells))
        if any(cells[4:]):
            raise SourceError(path, "a value beyond the four columns: are the columns shifted?", where)
        code, title, added, term = cells[:4]
        code = code.upper()
        if not PROC_CODE.match(code):
            raise SourceError(path, f"{code!r} is not a HCPCS Level II code", where)
        if rows and rows[-1][0] == code and not added and not term:
            # a description longer than the cell is continued on the next row, without dates
            rows[-1] = (code, f"{rows[-1][1]} {title}".strip(), rows[-1][2], rows[-1][3])
            continue
        if code in seen:
            raise SourceError(path, f"{code} is listed twice (first on {seen[code]})", where)
        seen[code] = where
        rows.append((code, title, parse_yyyymmdd(added, path, where, "ADD DATE"),
                     parse_yyyymmdd(term, path, where, "TERM DATE")))
    if not started:
        raise SourceError(path, "no header row HCPCS, LONG DESCRIPTION, ADD DATE, TERM DATE")
    if not rows:
        raise SourceError(path, "no codes below the header")
    return rows, title_lines


def load(ctx: BuildContext, src: SourceFile) -> dict:
    rows, title_lines = parse(src)
    start = option_date(src) or date_from_name(original_name(src))
    if start is None:
        years = [int(y) for line in title_lines for y in re.findall(r"(?<![0-9])(20[0-9]{2})(?![0-9])", line)]
        if not years:
            raise SourceError(src.path, "cannot tell which quarter this NOC list is for: name it the way CMS does "
                                        "(NOC_codes_JUL2025.xlsx)")
        start = date(years[0], 1, 1)
    dup = same_release(ctx.conn, SYSTEM, KIND, start)
    if dup:
        ctx.note(f"{KIND}: {src.name}: skipped, the same list ({dup[0]}) was read from {dup[1]}")
        return {"skipped": 1}
    rel = ctx.add_release(system=SYSTEM, name=f"HCPCS NOC codes {quarter_label(start)}", kind=KIND,
                          effective_from=start, effective_to=None, src=src)
    ctx.insert("hcpcs_noc", ("code", "release_id", "title", "added", "terminated"),
               [(code, rel, title, added, term) for code, title, added, term in rows])
    counts = {"codes": len(rows), "terminated": sum(1 for r in rows if r[3])}
    ctx.set_counts(rel, counts)
    return counts
