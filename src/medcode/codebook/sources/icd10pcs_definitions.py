"""ICD-10-PCS Definitions, CMS XML layout (`ICD10PCS.definitions`): per section and axis, each value's
definition, explanation and inclusion terms (the body part, device and substance keys among them).

The file names values by their label, not their character, and a key entry may cover several
labels (a body part key term lists "1st Toe, Left" and "1st Toe, Right"): one row per label.
The device aggregation table at the end of the file is not kept (no table holds it yet).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..codes import ICD10PCS
from ..dates import fiscal_year_start
from ..errors import SourceError
from ..writer import BuildContext, SourceFile
from .xmlfile import fiscal_year, parse_xml

KIND = "icd10pcs_definitions"
SYSTEM = ICD10PCS
ORDER = 41

ROOT = "ICD10PCS.definitions"
_CHARS = set("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ")


def sniff(path: Path, head: bytes) -> bool:
    return b"<" + ROOT.encode() in head


def _text(el) -> str:
    return " ".join((el.text or "").split()) if el is not None else ""


def load(ctx: BuildContext, src: SourceFile) -> dict:
    root = parse_xml(src, ROOT)
    fy = fiscal_year(root, src)
    sections = root.findall("section")
    if not sections:
        raise SourceError(src.path, "no <section> elements: not a complete definitions file", f"/{ROOT}")
    # a reference release: Book.release_for never picks it for code lookups
    release_id = ctx.add_release(system=SYSTEM, name=f"ICD-10-PCS FY{fy} Definitions", kind=KIND,
                                 effective_from=fiscal_year_start(fy), effective_to=None, src=src)
    rows: list[tuple] = []
    terms = 0
    for section in sections:
        code = (section.get("code") or "").strip().upper()
        where = f"/{ROOT}/section[@code='{code}']"
        if len(code) != 1 or code not in _CHARS:
            raise SourceError(src.path, f"section code {code!r} is not a PCS character", where)
        for axis in section.findall("axis"):
            pos = axis.get("pos", "")
            awhere = f"{where}/axis[@pos='{pos}']"
            if not pos.isdigit() or not 2 <= int(pos) <= 7:
                raise SourceError(src.path, f"axis pos {pos!r} is not 2-7", awhere)
            axis_title = _text(axis.find("title"))
            if not axis_title:
                raise SourceError(src.path, "axis without a <title>", awhere)
            for n, term in enumerate(axis.findall("terms"), 1):
                labels = [_text(t) for t in term.findall("title") if _text(t)]
                if not labels:
                    raise SourceError(src.path, "terms entry without a <title>", f"{awhere}/terms[{n}]")
                terms += 1
                definition = _text(term.find("definition")) or None
                explanation = _text(term.find("explanation")) or None
                includes = [_text(i) for i in term.findall("includes") if _text(i)]
                for label in labels:
                    rows.append((code, int(pos), axis_title, label, label, definition, explanation,
                                 json.dumps(includes), release_id))
    ctx.insert("pcs_definitions", ("section", "axis_pos", "axis_title", "value", "label", "definition",
                                   "explanation", "includes", "release_id"), rows)
    counts = {"sections": len(sections), "terms": terms, "rows": len(rows),
              "definitions": sum(1 for r in rows if r[5])}
    ctx.set_counts(release_id, counts)
    return counts
