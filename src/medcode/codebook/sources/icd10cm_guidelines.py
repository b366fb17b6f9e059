"""ICD-10-CM Official Guidelines for Coding and Reporting, as text (pdftotext -layout of the CMS PDF).

Split into sections addressable the way coders cite them (I.C.4.a.3, IV.H, II.B). A heading is a
line that starts with the next marker in sequence at some level (Section I / A. / 1. / a. / 1) /
(a) / (i)), which keeps numbered sentences inside the text from being read as headings.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from ..codes import ICD10CM
from ..errors import SourceError
from ..writer import BuildContext, SourceFile

KIND = "icd10cm_guidelines"
SYSTEM = ICD10CM
ORDER = 60
SOURCE = "icd10cm-guidelines"

_TITLE = "ICD-10-CM Official Guidelines for Coding and Reporting"
_FOOTER = re.compile(r"^\s*(ICD-10-CM Official Guidelines for Coding and Reporting|FY \d{4}|Page \d+ of \d+)\s*$")
_PAGE = re.compile(r"^\s*Page (\d+) of \d+\s*$")
_RANGE = re.compile(r"\((\w+ \d{1,2}, \d{4}) - (\w+ \d{1,2}, \d{4})\)")
_SECTION = re.compile(r"^\s*(Section (I|II|III|IV)\.|Appendix (I))(?:\s+(\S.*))?$")

# level -> (pattern for the marker at the start of a line, how to read the marker's value)
_ROMAN = ["i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii", "xiii", "xiv", "xv"]
_LEVELS = [
    (re.compile(r"^\s*([A-Z])\.\s+(\S.*)$"), "upper"),
    (re.compile(r"^\s*(\d{1,2})\.\s+(\S.*)$"), "number"),
    (re.compile(r"^\s*([a-z])\.\s+(\S.*)$"), "lower"),
    (re.compile(r"^\s*(\d{1,2})\)\s+(\S.*)$"), "number"),
    (re.compile(r"^\s*\(([a-z])\)\s+(\S.*)$"), "lower"),
    (re.compile(r"^\s*\(([ivx]+)\)\s+(\S.*)$"), "roman"),
]


def sniff(path: Path, head: bytes) -> bool:
    return _TITLE.encode() in head[:2000] and b"<" not in head[:200]


def _is_section(line: str) -> bool:
    """A Section/Appendix heading of the body (table-of-contents lines have leaders or page numbers)."""
    m = _SECTION.match(line)
    return bool(m) and "..." not in line and not (m.group(4) or "").strip().isdigit()


_OPEN_END = re.compile(r"(,|\band|\bor|\bof|\bthe|\bfor|\bwith|\bin|\bto|\bby|\bon|-|\(|“)$", re.I)


def _unfinished(title: str) -> bool:
    """A heading printed over two lines ends in a comma, a joining word, a hyphen or an open bracket."""
    return bool(_OPEN_END.search(title.strip())) or title.count("“") > title.count("”") or \
        title.count("(") > title.count(")")


_TOC_LINE = re.compile(r"^\s*(?:Section\s+)?(?:[A-Z]|[IVX]+|\d{1,2}|[a-z])\.\s+(\S.*?)\s*\.{4,}\s*\d*\s*$")
_TOC_START = re.compile(r"^\s*(?:Section\s+)?(?:[A-Z]|[IVX]+|\d{1,2}|[a-z])\.\s+(\S.*?)\s*$")
_TOC_REST = re.compile(r"^\s*(\S.*?)\s*\.{4,}\s*\d*\s*$")
_WORDS = re.compile(r"[a-z0-9]+")


def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORDS.findall(text.lower()))


def toc_titles(lines: list[str]) -> list[tuple[str, ...]]:
    """The headings the table of contents prints whole (one line, or a line its leader line completes),
    as words: a heading the body wraps over two lines is completed from them."""
    out: list[tuple[str, ...]] = []
    pending = None
    for line in lines:
        if _FOOTER.match(line) or not line.strip():
            continue
        m = _TOC_LINE.match(line)
        if m:
            out.append(_words(m.group(1)))
            pending = None
            continue
        rest = _TOC_REST.match(line)
        if pending is not None and rest:
            out.append(_words(f"{pending} {rest.group(1)}"))
            pending = None
            continue
        start = _TOC_START.match(line)
        pending = start.group(1) if start else None
    return [t for t in out if len(t) > 1]


_SENTENCE_END = re.compile(r"[.:;!?]\s*[”\"’)]?$")


def _continues_title(title: str, line: str, toc: list[tuple[str, ...]]) -> bool:
    """Whether the first line after a heading is the rest of the heading's title, printed on a second line
    ("Two or more diagnoses that equally meet the definition for principal" / "diagnosis")."""
    text = line.strip()
    if not text:
        return False
    have, joined = _words(title), _words(f"{title} {text}")
    if have and any(len(t) > len(have) and t[:len(have)] == have for t in toc):
        return any(t[:len(joined)] == joined for t in toc if len(t) >= len(joined))
    if text[0].islower() or (text[0] == "(" and not re.match(r"^\([a-z]{1,4}\)\s", text)):
        return True  # body text starts a sentence; a heading's wrapped words may not ("medication", "(F01 - F99)")
    # a long heading wrapped by the layout leaves a short tail without a full stop ("Pain Codes", "Dysfunction")
    return (len(title) >= 45 and len(text) <= 40 and len(text.split()) <= 6 and not _SENTENCE_END.search(text)
            and not title.rstrip().endswith(")"))


def _first(style: str) -> str:
    return {"upper": "A", "number": "1", "lower": "a", "roman": "i"}[style]


def _successor(style: str, value: str) -> str | None:
    if style == "number":
        return str(int(value) + 1)
    if style == "roman":
        i = _ROMAN.index(value) if value in _ROMAN else -1
        return _ROMAN[i + 1] if 0 <= i < len(_ROMAN) - 1 else None
    return chr(ord(value) + 1)


def _effective(text: str, src: SourceFile) -> tuple[date, date]:
    from datetime import datetime

    m = _RANGE.search(text[:3000])
    if not m:
        raise SourceError(src.path, "no effective date range such as '(October 1, 2025 - September 30, 2026)' "
                          "near the top", 1)
    parse = lambda s: datetime.strptime(s, "%B %d, %Y").date()  # noqa: E731
    return parse(m.group(1)), parse(m.group(2))


def parse_sections(text: str, src: SourceFile) -> list[dict]:
    lines = text.replace("\f", "\n").splitlines()
    # the body starts at the second "Section I." heading (the first is in the table of contents)
    starts = [i for i, line in enumerate(lines) if _is_section(line)]
    if not starts:
        raise SourceError(src.path, "no 'Section I.' heading: not the ICD-10-CM guidelines text", 1)
    sections: list[dict] = [{"ref": "Intro", "title": "Introduction", "parent": None, "page": 1, "lines": []}]
    for line in lines[:starts[0]]:
        if "...." in line:
            break
        if not _FOOTER.match(line):
            sections[0]["lines"].append(line.strip())
    path: list[tuple[int, str, str]] = []  # (level, style, value) below the Section
    section_ref = ""
    page = 1 + sum(1 for line in lines[:starts[0]] if _PAGE.match(line))
    toc = toc_titles(lines[:starts[0]])
    current = sections[0]
    title_pending = False
    title_check = False  # the next text line may be the rest of a heading printed over two lines
    page_break = False
    for line in lines[starts[0]:]:
        pm = _PAGE.match(line)
        if pm:
            page = int(pm.group(1)) + 1
            continue
        if _FOOTER.match(line):
            # the blank line the layout leaves above a page footer is no paragraph break: a sentence
            # running on to the next page stays one paragraph
            while current["lines"] and not current["lines"][-1]:
                current["lines"].pop()
            page_break = bool(current["lines"])
            continue
        if page_break:
            if not line.strip():
                continue
            page_break = False
            last = current["lines"][-1] if current["lines"] else ""
            nxt = line.strip()
            if _SENTENCE_END.search(last) and (not nxt[:1].islower() or re.match(r"^[a-z]{1,4}[.)]\s", nxt)):
                current["lines"].append("")  # the paragraph did end at the foot of the page
        if title_pending and line.strip():
            joiner = "" if current["title"].endswith("-") else " "
            current["title"] = f"{current['title']}{joiner}{line.strip()}".strip()
            title_pending = _unfinished(current["title"])
            title_check = not title_pending
            continue
        if title_check and line.strip():
            title_check = False
            if not _is_section(line) and not any(p.match(line) for p, _ in _LEVELS) and \
                    _continues_title(current["title"], line, toc):
                current["title"] = f"{current['title']} {line.strip()}"
                title_check = True  # a third line only when the table of contents still asks for more
                if not any(len(t) > len(_words(current["title"])) and t[:len(_words(current["title"]))] ==
                           _words(current["title"]) for t in toc):
                    title_check = False
                continue
        if _is_section(line):
            sm = _SECTION.match(line)
            section_ref = sm.group(2) or f"Appendix {sm.group(3)}"
            path = []
            current = {"ref": section_ref, "title": (sm.group(4) or "").strip(), "parent": None, "page": page,
                       "lines": []}
            title_pending = not current["title"] or _unfinished(current["title"])
            title_check = not title_pending
            sections.append(current)
            continue
        matched = None
        if section_ref:
            for level, (pattern, style) in enumerate(_LEVELS):
                m = pattern.match(line)
                if not m:
                    continue
                value = m.group(1)
                depth = len(path)
                if level == depth and value == _first(style):
                    matched = (level, style, value, m.group(2))
                elif level < depth and _successor(path[level][1], path[level][2]) == value:
                    matched = (level, style, value, m.group(2))
                if matched:
                    break
        if matched:
            level, style, value, title = matched
            path = path[:level] + [(level, style, value)]
            parent = ".".join([section_ref] + [p[2] for p in path[:-1]])
            current = {"ref": ".".join([section_ref] + [p[2] for p in path]), "title": title.strip(),
                       "parent": parent, "page": page, "lines": []}
            title_pending = _unfinished(current["title"])
            title_check = not title_pending
            sections.append(current)
            continue
        current["lines"].append(line.strip())
    return sections


def _paragraphs(lines: list[str]) -> str:
    """Re-flow layout lines into paragraphs separated by blank lines."""
    out, para = [], []
    for line in lines:
        if line:
            para.append(line)
        elif para:
            out.append(" ".join(para))
            para = []
    if para:
        out.append(" ".join(para))
    return "\n\n".join(out)


def load(ctx: BuildContext, src: SourceFile) -> dict:
    try:
        text = src.path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(src.path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    start, end = _effective(text, src)
    sections = parse_sections(text, src)
    refs = [s["ref"] for s in sections]
    dupes = {r for r in refs if refs.count(r) > 1}
    if dupes:
        raise SourceError(src.path, f"section numbering repeats ({', '.join(sorted(dupes)[:5])}): "
                          "the text is not in the official layout")
    if not any(s["ref"].startswith("I.C.") for s in sections):
        raise SourceError(src.path, "no chapter-specific sections (I.C.*) found")
    release_id = ctx.add_release(system=SYSTEM, name=f"ICD-10-CM Official Guidelines FY{end.year}", kind=KIND,
                                 effective_from=start, effective_to=end, src=src)
    rows = [(SOURCE, s["ref"], s["title"], s["parent"], i, s["page"], _paragraphs(s["lines"]), release_id)
            for i, s in enumerate(sections)]
    ctx.insert("guideline_sections", ("source", "ref", "title", "parent_ref", "seq", "page", "text", "release_id"),
               rows)
    counts = {"sections": len(rows)}
    ctx.set_counts(release_id, counts)
    return counts
