"""HCPCS Level II attributes without descriptions, as a CSV (`hcpcs_lvl2.csv`: hcpcs_code, price, multi,
cov, betos, tos, action, cim, mcm, statute, lab, xref, asc_grp, proc, anes, date_term, date_added,
date_asc, date_action).

A third-party decoding of the CMS ANWEB file's attribute fields (see ../shared/data PROVENANCE: the
July 2024 quarter, descriptions dropped). Like the ANWEB file it is cumulative and dated: every code
ever in the file, with its added and termination dates. That is what tells which codes were
discontinued after an earlier full release, so it is merged as a dated code list (it ends and
revives codes; it cannot create a code, having no title: a code it names that the book does not hold
yet is kept in `hcpcs_details` and a later list with titles creates it with these dates).

The release date is the newest added / action date in the file (or the option `effective_from`).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

from ..codes import HCPCS
from ..errors import SourceError
from ..writer import BuildContext, SourceFile
from .hcpcs_anweb import (already_held, ACTION_CODES, COVERAGE_CODES, DETAIL_COLS, PROC_CODE, PROC_KIND,
                          Entry, apply_list, detail_row, option_date, quarter_label, read_text,
                          refresh_headers)

KIND = "hcpcs_attributes"
SYSTEM = HCPCS
ORDER = 51

COLUMNS = ("hcpcs_code", "price", "multi", "cov", "betos", "tos", "action", "cim", "mcm", "statute", "lab", "xref",
           "asc_grp", "proc", "anes", "date_term", "date_added", "date_asc", "date_action")
_ISO = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def sniff(path: Path, head: bytes) -> bool:
    first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].strip().decode("latin-1")
    return tuple(c.strip().strip('"') for c in first.split(",")) == COLUMNS


def _date(value: str, path, no: int, what: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    if not _ISO.match(value):
        raise SourceError(path, f"{what} {value!r} is not a date (YYYY-MM-DD): are the columns shifted?", no)
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise SourceError(path, f"{what} {value!r} is not a valid date", no) from None


def _list(value: str) -> list[str]:
    return [v.strip() for v in re.split(r"[:,]", value) if v.strip()]


def parse(src: SourceFile) -> dict[str, tuple[dict, int]]:
    path = src.path
    reader = csv.reader(io.StringIO(read_text(src), newline=""))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != COLUMNS:
        raise SourceError(path, f"header row is not {','.join(COLUMNS)}", 1)
    out: dict[str, tuple[dict, int]] = {}
    for no, row in enumerate(reader, 2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(COLUMNS):
            raise SourceError(path, f"{len(row)} columns, the header has {len(COLUMNS)}", no)
        r = dict(zip(COLUMNS, (c.strip() for c in row)))
        code = r["hcpcs_code"].upper()
        if not PROC_CODE.match(code):
            raise SourceError(path, f"{r['hcpcs_code']!r} is not a HCPCS Level II code", no)
        if code in out:
            raise SourceError(path, f"{code} is listed twice (first on line {out[code][1]})", no)
        f = {
            "pricing": _list(r["price"]), "multiple_pricing": r["multi"], "coverage": r["cov"], "betos": r["betos"],
            "tos": _list(r["tos"]), "action_code": r["action"], "cim": _list(r["cim"]), "mcm": _list(r["mcm"]),
            "statute": r["statute"], "lab_cert": _list(r["lab"]), "xref": _list(r["xref"]),
            "asc_group": r["asc_grp"], "proc_note": r["proc"], "opps": "", "opps_pi": "", "opps_date": None,
            "termination": _date(r["date_term"], path, no, "date_term"),
            "added": _date(r["date_added"], path, no, "date_added"),
            "asc_date": _date(r["date_asc"], path, no, "date_asc"),
            "action_date": _date(r["date_action"], path, no, "date_action"),
        }
        if f["added"] is None:
            raise SourceError(path, f"{code} has no date_added", no)
        if f["termination"] and f["termination"] < f["added"]:
            raise SourceError(path, f"{code}: date_term {f['termination']} is before date_added {f['added']}", no)
        units = r["anes"]
        if units and not units.isdigit():
            raise SourceError(path, f"anes {units!r} is not a number", no)
        f["anesthesia_units"] = int(units) if units else None
        for p in f["pricing"]:
            if not (len(p) == 2 and p.isdigit()):
                raise SourceError(path, f"price {p!r} is not a two-digit pricing indicator", no)
        if f["coverage"] and f["coverage"] not in COVERAGE_CODES:
            raise SourceError(path, f"cov {f['coverage']!r} is not one of C, D, I, M, S", no)
        if f["action_code"] and f["action_code"] not in ACTION_CODES:
            raise SourceError(path, f"action {f['action_code']!r} is not a HCPCS action code", no)
        out[code] = (f, no)
    if not out:
        raise SourceError(path, "no rows below the header")
    return out


def load(ctx: BuildContext, src: SourceFile) -> dict:
    rows = parse(src)
    newest = max(max(f["added"], f["action_date"] or f["added"]) for f, _ in rows.values())
    start = option_date(src) or date.fromisoformat(newest)
    if already_held(ctx, src, KIND, start):
        return {"skipped": 1}
    rel = ctx.add_release(system=SYSTEM, name=f"HCPCS Level II attributes {quarter_label(start)} (no descriptions)",
                          kind=KIND, effective_from=start, effective_to=None, src=src)
    entries = {code: Entry(code, None, PROC_KIND, code[0], f["added"], f["termination"], True, no)
               for code, (f, no) in rows.items()}
    counts: dict = {"rows": len(rows), "terminated": sum(1 for f, _ in rows.values() if f["termination"])}
    counts["merge"] = apply_list(ctx, system=SYSTEM, kinds=(PROC_KIND,), start=start, entries=entries,
                                 release_id=rel)
    ctx.insert("hcpcs_details", DETAIL_COLS, [detail_row(SYSTEM, code, rel, f, None, None)
                                             for code, (f, _) in rows.items()])
    refresh_headers(ctx, rel)
    ctx.set_counts(rel, counts)
    return counts
