"""CMS Internet-Only Manual chapters as text (Claims Processing Manual, Benefit Policy Manual ...).

One file is one chapter; its sections are cited by number ("Medicare Claims Processing Manual ch. 12,
§ 30.6.6"). The chapter's table of contents lists every section number; a body line that starts with a
listed number and is followed within a few lines by its "(Rev. ...)" line is that section's heading,
which keeps numbers inside the text from being read as headings. The transmittal table at the end
is dropped.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from ..errors import SourceError
from ..writer import BuildContext, SourceFile
from .reftext import read_text, store

KIND = "cms_manual"
SYSTEM = "cms-manual"  # each chapter is stored as its own system: cms-<manual>-ch<n> (see _source)
ORDER = 62

MANUALS = {  # title printed at the top -> (slug, short name used in citations)
    "Medicare Claims Processing Manual": ("claims-processing", "Medicare Claims Processing Manual"),
    "Medicare Benefit Policy Manual": ("benefit-policy", "Medicare Benefit Policy Manual"),
    "Medicare General Information, Eligibility, and Entitlement Manual": ("general-information",
                                                                           "Medicare General Information Manual"),
    "Medicare National Coverage Determinations Manual": ("ncd", "Medicare NCD Manual"),
    "Medicare Program Integrity Manual": ("program-integrity", "Medicare Program Integrity Manual"),
}
_CHAPTER = re.compile(r"^\s*Chapter\s+(\d+)\s*[-–—]\s*(.*?)\s*$")
_ISSUED = re.compile(r"\(Rev\.\s*[\d.]+\s*[,;]\s*Issued:\s*(\d{1,2})-(\d{1,2})-(\d{2,4})")
_TOC_ENTRY = re.compile(r"^\s*(\d{1,3}(?:\.\d{1,2})*)\.?\s*(?:[-–—]\s*)?([A-Z(].*?)\s*$")
_REV = re.compile(r"\(Rev\s*\.")
_END = re.compile(r"^\s*Transmittals Issued for this Chapter\s*$")
_OLD_XREF = re.compile(r"^\s*[A-Z]{1,3}\d?-\d[\d.]*(?:\s*,\s*[A-Z]{1,3}\d?-\d[\d.]*)*(?:\s+partial)?\s*$")


def sniff(path: Path, head: bytes) -> bool:
    text = head[:1500].decode("utf-8", "ignore")
    return any(title in text for title in MANUALS) and bool(re.search(r"(?m)^\s*Chapter\s+\d+\s*[-–—]", text)) \
        and "Table of Contents" in text


def _key(title: str) -> str:
    return re.sub(r"[^a-z0-9]", "", title.lower())


def _year(y: str) -> int:
    return int(y) + (2000 if len(y) == 2 else 0)


def parse(text: str, src: SourceFile) -> dict:
    lines = text.replace("\f", "\n").splitlines()
    head = "\n".join(lines[:40])
    manual = next((t for t in MANUALS if t in head), None)
    if manual is None:
        raise SourceError(src.path, f"no manual title ({', '.join(MANUALS)}) in the first lines")
    chapter = title = None
    start_at = 0
    for i, line in enumerate(lines[:40]):
        m = _CHAPTER.match(line)
        if m:
            chapter, title = int(m.group(1)), m.group(2)
            nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if nxt and not nxt.startswith(("Table of Contents", "(Rev")):
                title = f"{title} {nxt}"
            start_at = i + 1
            break
    if chapter is None:
        raise SourceError(src.path, "no 'Chapter N - Title' line near the top", 1)
    issued = _ISSUED.search(head)
    if not issued:
        raise SourceError(src.path, "no '(Rev. N; Issued: MM-DD-YY)' line in the table of contents header")
    revised = date(_year(issued.group(3)), int(issued.group(1)), int(issued.group(2)))
    # table of contents: numbered entries up to the first number listed twice (the body begins there)
    toc: list[str] = []
    toc_titles: dict[str, str] = {}
    seen: set[str] = set()
    body_start = None
    for i in range(start_at, len(lines)):
        m = _TOC_ENTRY.match(lines[i])
        if not m:
            continue
        num = m.group(1)
        if num in seen:
            body_start = i
            break
        seen.add(num)
        toc.append(num)
        toc_titles[num] = _key(m.group(2))
    if body_start is None or not toc:
        raise SourceError(src.path, "no table of contents followed by numbered sections: not a CMS manual chapter")
    listed = set(toc)
    order = {num: k for k, num in enumerate(toc)}
    last = -1  # headings follow the table of contents' order; cross-reference lists do not
    done: set[str] = set()
    sections: list[dict] = []
    current = None
    i = body_start
    while i < len(lines):
        line = lines[i]
        if _END.match(line):
            break
        m = _TOC_ENTRY.match(line)
        if m and m.group(1) in listed and m.group(1) not in done:
            # a heading: its title runs on until the "(Rev." line, within a few lines (or on the same line);
            # a few old sections carry only the manual's old cross-reference ("A3-3488.5, B3-3060.15") instead
            j = i + 1
            title_parts = [m.group(2)]
            if _REV.search(m.group(2)):
                title_parts = [_REV.split(m.group(2))[0]]
                j = i
            next_heading = has_xref = False
            while j < len(lines) and j <= i + 4 and not _REV.search(lines[j]):
                nm = _TOC_ENTRY.match(lines[j])
                if nm and order.get(nm.group(1)) == order[m.group(1)] + 1:  # a section with no text ("Reserved")
                    next_heading = True
                    break
                if _OLD_XREF.match(lines[j]):
                    has_xref = True
                    break
                if lines[j].strip():
                    title_parts.append(lines[j].strip())
                j += 1
            same_title = _key(" ".join(title_parts)).startswith(toc_titles[m.group(1)][:8])
            has_rev = j < len(lines) and bool(_REV.search(lines[j]))
            in_order = order[m.group(1)] > last
            # out of the contents' order only with the whole evidence of a heading: its own title and a Rev line
            if (in_order and ((same_title and (has_rev or next_heading or has_xref))
                              or (has_rev and order[m.group(1)] <= last + 3))) or \
                    (not in_order and same_title and has_rev):
                num = m.group(1)
                parent = num.rsplit(".", 1)[0] if "." in num else None
                while parent and parent not in listed:
                    parent = parent.rsplit(".", 1)[0] if "." in parent else None
                current = {"ref": num, "title": " ".join(" ".join(title_parts).split()), "parent": parent,
                           "page": None, "lines": []}
                sections.append(current)
                done.add(num)
                last = max(last, order[num])
                i = j if next_heading else j + 1
                if has_rev and not next_heading:  # a Rev line wrapped over more lines: its rest is no text
                    depth = lines[j].count("(") - lines[j].count(")")
                    while depth > 0 and i < len(lines) and i <= j + 4 and not _TOC_ENTRY.match(lines[i]):
                        depth += lines[i].count("(") - lines[i].count(")")
                        i += 1
                # the manual's old section cross-reference (e.g. "B3-2020") follows the Rev line
                if i < len(lines) and re.match(r"^\s*[A-Z]{1,3}\d?-[\d.-]+\s*$", lines[i]):
                    i += 1
                continue
        if current is not None:
            current["lines"].append(line)
        i += 1
    if not sections:
        raise SourceError(src.path, "no section headings (a number from the table of contents, then a "
                          "'(Rev. ...)' line) in the body")
    slug, short = MANUALS[manual]
    return {"source": f"cms-{slug}-ch{chapter}", "name": f"{short} ch. {chapter}", "title": title,
            "revised": revised, "sections": sections}


def load(ctx: BuildContext, src: SourceFile) -> dict:
    text = read_text(src)
    doc = parse(text, src)
    return store(ctx, src, source=doc["source"], system=doc["source"], kind=KIND, name=doc["name"],
                 start=doc["revised"], end=None, sections=doc["sections"])
