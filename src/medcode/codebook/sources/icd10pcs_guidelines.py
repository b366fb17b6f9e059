"""ICD-10-PCS Official Guidelines for Coding and Reporting, as text: guidelines cited as A9, B3.1a, D1.a.

A guideline number printed alone on its line (optionally with a heading: "B2. Body System") starts
a section; the short topic line printed just above a number ("General guidelines") is its title.
The lettered parts (A. Conventions ... F. Selection of Principal Procedure) come from the table of
contents and are the parents.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

from ..codes import ICD10PCS
from ..errors import SourceError
from ..writer import BuildContext, SourceFile
from .reftext import read_text, store

KIND = "icd10pcs_guidelines"
SYSTEM = "icd10pcs-guidelines"
ORDER = 63
SOURCE = "icd10pcs-guidelines"

_TITLE = re.compile(r"ICD-10-PCS Official Guidelines for Coding\s+and Reporting\s+(\d{4})")
_RANGE = re.compile(r"\((\w+ \d{1,2}, \d{4})\s*-\s*(\w+ \d{1,2}, \d{4})\)")
_TOC = re.compile(r"^\s*([A-F])\.\s*(.+?)\s*[.…]{2,}.*$")
_NUMBER = re.compile(r"^\s*([A-F]\d{1,2}(?:\.\d{1,2})?(?:\.?[a-z])?)\.?(?:\s+(\S.*))?\s*$")
_PART = re.compile(r"^\s*([A-F])\.\s+(\S.*?)\s*$")


def sniff(path: Path, head: bytes) -> bool:
    return bool(_TITLE.search(head[:600].decode("utf-8", "ignore")))


def _date(text: str) -> date:
    return datetime.strptime(text, "%B %d, %Y").date()


def _parent(ref: str) -> str:
    """B3.1a -> B3; D1.a -> D1? no: D (the part); A9 -> A."""
    m = re.match(r"^([A-F])(\d{1,2})\.(\d{1,2})", ref)
    if m:
        return f"{m.group(1)}{m.group(2)}"
    return ref[0]


def parse(text: str, src: SourceFile) -> tuple[int, date, date, list[dict]]:
    head = text[:1500]
    tm = _TITLE.search(head)
    rm = _RANGE.search(head)
    if not tm or not rm:
        raise SourceError(src.path, "no title with a year and no '(Month D, YYYY - Month D, YYYY)' range near the top")
    lines = text.replace("\f", "\n").splitlines()
    parts: dict[str, str] = {}
    body_at = 0
    for i, line in enumerate(lines):
        m = _TOC.match(line)
        if m:
            parts[m.group(1)] = " ".join(m.group(2).split())
            body_at = i + 1
    if not parts:
        raise SourceError(src.path, "no table of contents (A. Conventions ....)")
    sections: list[dict] = [{"ref": p, "title": t, "parent": None, "lines": []} for p, t in sorted(parts.items())]
    by_ref = {s["ref"]: s for s in sections}
    current = None
    pending = None  # (topic line, the section whose text it was appended to)
    prev_blank = True
    for line in lines[body_at:]:
        stripped = " ".join(line.split())
        nm = _NUMBER.match(line)
        if nm and stripped[0] in parts:
            ref = nm.group(1)
            title = nm.group(2) or ""
            if pending and not title:
                title = pending[0]
                if pending[1]["lines"] and pending[1]["lines"][-1].strip() == pending[0]:
                    pending[1]["lines"].pop()  # the topic belongs to this guideline, not the previous one's text
            pending = None
            if ref in by_ref:
                current = by_ref[ref]
            else:
                stem = re.sub(r"\.?[a-z]$", "", ref)
                if not title and sections and re.sub(r"\.?[a-z]$", "", sections[-1]["ref"]) == stem != ref:
                    title = sections[-1]["title"]  # B3.6b continues B3.6a's topic
                parent = _parent(ref)
                current = {"ref": ref, "title": title or ref, "parent": parent if parent in by_ref else ref[0],
                           "lines": []}
                sections.append(current)
                by_ref[ref] = current
            prev_blank = False
            continue
        pm = _PART.match(line)
        if pm and pm.group(1) in parts and _key(pm.group(2))[:6] == _key(parts[pm.group(1)])[:6]:
            current = by_ref[pm.group(1)]
            pending = None
            prev_blank = False
            continue
        if current is None:
            continue
        if stripped:
            # a short line after a blank line, without a full stop: the topic of the guideline numbered next
            topic = prev_blank and len(stripped) < 60 and not stripped.endswith((".", ":", ",")) \
                and not stripped.startswith(("Example", "•")) and stripped[0].isupper()
            pending = (stripped, current) if topic else None
        current["lines"].append(line)
        prev_blank = not stripped
    # a topic line copied into the previous section's text is dropped from it
    for s in sections:
        s.setdefault("page", None)
    return int(tm.group(1)), _date(rm.group(1)), _date(rm.group(2)), sections


def _key(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def load(ctx: BuildContext, src: SourceFile) -> dict:
    text = read_text(src)
    year, start, end, sections = parse(text, src)
    if not any(re.match(r"^[A-F]\d", s["ref"]) for s in sections):
        raise SourceError(src.path, "no numbered guidelines (A1, B3.1a ...) found")
    return store(ctx, src, source=SOURCE, system=SYSTEM, kind=KIND,
                 name=f"ICD-10-PCS Official Guidelines {year} ({start:%B} {start.day}, {start.year} update)",
                 start=start, end=end, sections=sections, strip_cpt=False)
