"""ICD-10-CM Index of Diseases and Injuries, flattened CSV layout
(RowID,Letter,Level,Term,See,SeeAlso,NonEssModif,Code; Level 0 is a main term).

Only the main Index is read from CSV. The flattened Drug, Neoplasm and External Cause CSVs are
deliberately not recognised (a folder import skips them): they are lossy copies of official XML
files medcode reads directly (the Drug CSV drops the see references, the Neoplasm CSV files them
under SeeAlso, the External Cause CSV drops subcat/seecat and words after a nonessential modifier
such as "NEC"). The main-Index CSV has the same losses, so when the official Index XML of the same
year is in the build too, the XML is read and this file is skipped (ORDER runs it after the XML).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..errors import SourceError
from ..writer import BuildContext, SourceFile
from .icd10cm_index import (SYSTEM, TABLES, TermRows, add_release, already_loaded, clean, join_path,
                            normalize_index_code, year_from_name)

KIND = "icd10cm_index_csv"
ORDER = 31

HEADER = ("RowID", "Letter", "Level", "Term", "See", "SeeAlso", "NonEssModif", "Code")
_EXTERNAL = ("extern", "eindex", "ecause")


def _header_of(head: bytes) -> list[str]:
    first = head.decode("utf-8-sig", "replace").splitlines()[:1]
    return next(csv.reader(first), []) if first else []


def sniff(path: Path, head: bytes) -> bool:
    header = [c.strip() for c in _header_of(head)]
    # a column the Index does not have (PoisoningAccidental, MalignantPrimary...) is another table;
    # a missing one is still this layout, so that load() can say which column is missing
    if header[:4] != list(HEADER[:4]) or not set(header) <= set(HEADER):
        return False
    if any(word in path.name.lower() for word in _EXTERNAL):
        return False
    # The External Cause CSV has the same columns; its codes are all V00-Y99 (chapter 20).
    text = head.decode("utf-8-sig", "replace").splitlines()[1:-1]
    codes = [row[-1].strip() for row in csv.reader(text) if len(row) == len(HEADER) and row[-1].strip()]
    return not (len(codes) >= 3 and all(c[:1].upper() in "VWXY" for c in codes))


def load(ctx: BuildContext, src: SourceFile) -> dict:
    fy = year_from_name(src)
    if fy is None:
        raise SourceError(src.path, "no year in the file name (e.g. ICD10CM_2025_Index.csv): cannot tell "
                          "the release")
    earlier = already_loaded(ctx, "index", fy)
    if earlier:
        ctx.note(f"{src.name}: {TABLES['index']} FY{fy} was already read from {earlier}; skipped")
        return {"skipped": f"duplicate of {earlier}"}
    try:
        text = src.path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        line = src.path.read_bytes()[:exc.start].count(b"\n") + 1
        raise SourceError(src.path, f"not UTF-8 text ({exc.reason})", line) from None
    if not text.strip():
        raise SourceError(src.path, "file is empty", 1)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [c.strip() for c in next(reader)]
    missing = [c for c in HEADER if c not in header]
    if missing:
        raise SourceError(src.path, f"missing column(s) {', '.join(missing)}; expected {','.join(HEADER)}", 1)
    pos = {c: header.index(c) for c in HEADER}

    rows = TermRows(ctx, "index", add_release(ctx, src, "index", fy))
    stack: list[tuple[int, str]] = []  # (row id, path) of the open term at each level
    notes = 0
    for rec in ctx.progress(reader, desc=TABLES["index"]):
        line = reader.line_num
        if not any(f.strip() for f in rec):
            continue
        if len(rec) != len(header):
            raise SourceError(src.path, f"row has {len(rec)} fields, the header {len(header)}", line)
        level_text = rec[pos["Level"]].strip()
        if not level_text.isdigit():
            raise SourceError(src.path, f"Level {level_text!r} is not a number", line)
        level = int(level_text)
        if level > len(stack):
            raise SourceError(src.path, f"Level {level} follows level {len(stack) - 1}: a term without its "
                              "parent", line)
        term = clean(rec[pos["Term"]])
        nonessential = clean(rec[pos["NonEssModif"]])
        if term.lower().startswith("note:") and not rec[pos["Code"]].strip() and not rec[pos["See"]].strip():
            # an instructional note printed among the subterms; the flattening gave it a level that
            # would close the open term ("Failure, heart" before "stage A"), so it is not a term
            notes += 1
            continue
        if not term and not nonessential:
            raise SourceError(src.path, "empty Term", line)
        try:
            code = normalize_index_code(rec[pos["Code"]])
        except ValueError as exc:
            raise SourceError(src.path, str(exc), line) from None
        del stack[level:]
        parent_id, parent_path = stack[-1] if stack else (None, "")
        path = join_path(parent_path, term, nonessential)
        row_id = rows.add(parent_id, level, term, path, code, clean(rec[pos["See"]]),
                          clean(rec[pos["SeeAlso"]]), nonessential)
        stack.append((row_id, path))
    if not rows.rows:
        raise SourceError(src.path, "no index rows after the header", 2)
    if notes:
        ctx.note(f"{src.name}: {notes} instructional 'Note:' rows are not terms; skipped")
    return rows.write()


__all__ = ["KIND", "SYSTEM", "ORDER", "sniff", "load"]
