"""HCPCS Level II code + long description list: an ANWEB workbook cut down to its code and long
description columns (`HCPC2025_JUL_ANWEB_v3.xlsx`: HCPCS, LONG_DESCRIPTION; modifiers right-aligned
in the code column like "   LT").

A newer release with current titles, effective on the first day of the quarter its name gives
(HCPC2025_JUL = 2025-07-01). Like the full ANWEB file it is cumulative: it still lists codes that
were discontinued years ago, and without the termination-date column it cannot say which. So:

* a code in effect the day before and absent from the list ends that day;
* a code in effect the day before whose title differs gets the new title from the release date;
* a code the book does not hold yet is added: from its added date and to its termination date when
  an earlier attributes release gave them (`hcpcs_details`), else from the release date (the list
  says no more than that it exists by then);
* a code the book holds as discontinued stays discontinued: being listed does not revive it.

Modifier rows go to system 'modifier' the same way.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ..codes import HCPCS, MODIFIER
from ..errors import SourceError
from ..writer import BuildContext, SourceFile
from .hcpcs_anweb import (already_held, LEVEL2_MODIFIER, MOD_CODE, PROC_CODE, PROC_KIND, Entry, apply_list,
                          cell_text, date_from_name, header_key, is_xlsx, option_date, original_name,
                          peek_xlsx, quarter_label, refresh_headers, xlsx_rows)

KIND = "hcpcs_list"
SYSTEM = HCPCS
ORDER = 53

CODE_HEADS = {"HCPCS", "HCPC", "HCPCS_CODE", "CODE"}
TITLE_HEADS = {"LONG_DESCRIPTION", "LONG_DESCRIPTOR", "DESCRIPTION"}


def _header(row) -> tuple[int, int] | None:
    keys = [header_key(v) for v in row]
    named = [k for k in keys if k]
    if len(named) != 2:
        return None
    try:
        code_at = next(i for i, k in enumerate(keys) if k in CODE_HEADS)
        title_at = next(i for i, k in enumerate(keys) if k in TITLE_HEADS)
    except StopIteration:
        return None
    return code_at, title_at


def sniff(path: Path, head: bytes) -> bool:
    if not is_xlsx(path, head):
        return False
    return any(_header(row) for row in peek_xlsx(path, head, rows=5))


def parse(src: SourceFile) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    """({code: (title, row)}, {modifier: (title, row)})."""
    path = src.path
    codes: dict[str, tuple[str, str]] = {}
    mods: dict[str, tuple[str, str]] = {}
    cols = None
    for no, row in enumerate(xlsx_rows(path), 1):
        where = f"row {no}"
        if cols is None:
            cols = _header(row)
            if cols is None and no >= 5:
                raise SourceError(path, "no header row with a HCPCS code column and a LONG DESCRIPTION column",
                                  where)
            continue
        cells = [cell_text(v) for v in row]
        if not any(c.strip() for c in cells):
            continue
        extra = [c for i, c in enumerate(cells) if i not in cols and c.strip()]
        if extra:
            raise SourceError(path, f"a value outside the two columns ({extra[0][:40]!r}): the columns are shifted "
                                    "or this is not the code + long description list", where)
        raw = cells[cols[0]] if cols[0] < len(cells) else ""
        title = " ".join((cells[cols[1]] if cols[1] < len(cells) else "").split())
        code = raw.strip().upper()
        if PROC_CODE.match(code):
            target = codes
        elif MOD_CODE.match(code):
            target = mods
        else:
            raise SourceError(path, f"{raw!r} is not a HCPCS Level II code or modifier", where)
        if not title:
            raise SourceError(path, f"{code} has no description", where)
        if code in target:
            raise SourceError(path, f"{code} is listed twice (first on {target[code][1]})", where)
        target[code] = (title, where)
    if cols is None:
        raise SourceError(path, "no header row with a HCPCS code column and a LONG DESCRIPTION column")
    if not codes and not mods:
        raise SourceError(path, "no codes below the header")
    return codes, mods


def effective(src: SourceFile) -> date:
    found = option_date(src) or date_from_name(original_name(src))
    if not found:
        raise SourceError(src.path, "cannot tell which quarter this list is for: name it the way CMS does "
                                    "(HCPC2025_JUL_ANWEB.xlsx is the July 2025 list)")
    return found


def hints(ctx: BuildContext, system: str, start: date) -> dict[str, tuple[str | None, str | None]]:
    """Added and termination dates of codes from the newest earlier release that carries them."""
    out: dict[str, tuple[str | None, str | None]] = {}
    for code, added, term in ctx.conn.execute(
            "SELECT d.code, d.added, d.termination FROM hcpcs_details d JOIN releases r ON r.id=d.release_id "
            "WHERE d.system=? AND r.effective_from<=? ORDER BY r.effective_from, r.id", (system, start.isoformat())):
        out[code] = (added, term)
    return out


def load(ctx: BuildContext, src: SourceFile) -> dict:
    codes, mods = parse(src)
    start = effective(src)
    if already_held(ctx, src, KIND, start):
        return {"skipped": 1}
    label = quarter_label(start)
    counts: dict = {"codes": len(codes), "modifiers": len(mods)}
    rel = ctx.add_release(system=SYSTEM, name=f"HCPCS Level II {label} (code and long description list)",
                          kind=KIND, effective_from=start, effective_to=None, src=src)
    entries = {code: Entry(code, title, PROC_KIND, code[0], line=where) for code, (title, where) in codes.items()}
    counts["merge"] = apply_list(ctx, system=SYSTEM, kinds=(PROC_KIND,), start=start, entries=entries,
                                 release_id=rel, hints=hints(ctx, SYSTEM, start))
    counts["headers"] = refresh_headers(ctx, rel)
    if mods:
        mrel = ctx.add_release(system=MODIFIER, name=f"HCPCS Level II modifiers {label} (code and description list)",
                               kind=KIND, effective_from=start, effective_to=None, src=src)
        mentries = {code: Entry(code, title, LEVEL2_MODIFIER, line=where) for code, (title, where) in mods.items()}
        counts["modifier_merge"] = apply_list(ctx, system=MODIFIER, kinds=(LEVEL2_MODIFIER,), start=start,
                                              entries=mentries, release_id=mrel, hints=hints(ctx, MODIFIER, start))
        ctx.set_counts(mrel, {"modifiers": len(mods), "merge": counts["modifier_merge"]})
    ctx.set_counts(rel, counts)
    return counts
