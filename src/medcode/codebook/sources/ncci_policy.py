"""Medicare NCCI Policy Manual, as text (one file, all chapters): sections cited as "Chapter I, E".

Stored refs: "Intro", the chapter ("I" .. "XIII"), a lettered section ("I.E"), and "Acronyms".
A lettered heading in the body counts only when its chapter's table of contents lists that letter
with the same title, so the manual's lettered lists are not read as sections. Chapter cover pages
(copyright notice, table of contents) and page footers are dropped.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from ..errors import SourceError
from ..writer import BuildContext, SourceFile
from .reftext import read_text, store

KIND = "ncci_policy_manual"
SYSTEM = "ncci-policy"
ORDER = 61
SOURCE = "ncci-policy-manual"

_REVISION = re.compile(r"Revision Date \(Medicare\):\s*(\d{1,2})/(\d{1,2})/(\d{4})")
_PAGE = re.compile(r"^\s*((?:Intro|[IVX]+)-\d+)\s*$")
_COVER = re.compile(r"^\s*(CHAPTER ([IVX]+)|INTRODUCTION|LIST OF ACRONYMS)\s*$")
_BODY_CHAPTER = re.compile(r"^\s*Chapter ([IVX]+)\s*$")
_TOC_ENTRY = re.compile(r"^\s*([A-Z])\.\s*(.+?)\s*(?:\.{3,}|…+)")
_HEADING = re.compile(r"^\s*([A-Z])\.\s*(\S.*)$")


def sniff(path: Path, head: bytes) -> bool:
    text = head[:3000].decode("utf-8", "ignore")
    return "NCCI" in text and "Policy Manual" in text and "Table of Contents" in text and "<" not in text[:200]


def _key(title: str) -> str:
    return re.sub(r"[^a-z0-9]", "", title.lower())[:12]


def parse(text: str, src: SourceFile) -> tuple[date, list[dict]]:
    m = _REVISION.search(text)
    if not m:
        raise SourceError(src.path, "no 'Revision Date (Medicare): M/D/YYYY' line: not the NCCI Policy Manual text")
    revised = date(int(m.group(3)), int(m.group(1)), int(m.group(2)))
    lines = text.replace("\f", "\n").splitlines()
    sections: list[dict] = []
    chapter = None  # roman numeral of the chapter being read
    mode = "front"  # front (master table of contents) | cover | body
    toc: dict[str, str] = {}
    unpaged: list[dict] = []  # sections begun on the page whose label has not been read yet
    current = None
    expected = "A"
    for no, line in enumerate(lines, 1):
        stripped = line.strip()
        pm = _PAGE.match(line)
        if pm:  # the label is printed at the foot of its page
            for s in unpaged:
                s["page"] = pm.group(1)
            unpaged.clear()
            continue
        if _REVISION.search(line) and len(stripped) < 45:
            continue
        cm = _COVER.match(line)
        if cm and cm.group(1) == "LIST OF ACRONYMS" and chapter == "Acronyms" and mode == "cover":
            mode = "body"  # the heading repeated after the cover's copyright notice starts the list
            current = {"ref": "Acronyms", "title": "List of Acronyms", "parent": None, "page": None, "lines": [],
                       "title_open": False}
            sections.append(current)
            unpaged.append(current)
            continue
        if cm:
            mode = "cover"
            toc = {}
            if cm.group(2):
                chapter = cm.group(2)
            elif cm.group(1) == "INTRODUCTION":
                chapter = "Intro"
            else:
                chapter = "Acronyms"
            continue
        if mode == "cover":
            tm = _TOC_ENTRY.match(line) or _HEADING.match(line)  # an entry printed over two lines has no leaders
            if tm:
                toc[tm.group(1)] = _key(tm.group(2))
                continue
            bm = _BODY_CHAPTER.match(line)
            starts_intro = chapter == "Intro" and stripped == "Introduction"
            if (bm and bm.group(1) == chapter) or starts_intro:
                mode = "body"
                title = "Introduction" if chapter == "Intro" else ""
                current = {"ref": chapter, "title": title, "parent": None, "page": None, "lines": [],
                           "title_open": chapter != "Intro"}
                sections.append(current)
                unpaged.append(current)
                expected = "A"
            continue
        if mode != "body" or current is None:
            continue
        hm = _HEADING.match(line)
        if hm and chapter not in ("Intro", "Acronyms") and hm.group(1) in toc and hm.group(1) >= expected \
                and _key(hm.group(2)).startswith(toc[hm.group(1)][:8]):
            letter = hm.group(1)
            current = {"ref": f"{chapter}.{letter}", "title": hm.group(2).strip(), "parent": chapter, "page": None,
                       "lines": [], "title_open": False}
            sections.append(current)
            unpaged.append(current)
            expected = chr(ord(letter) + 1)
            continue
        if current.get("title_open"):
            if stripped:
                current["title"] = f"{current['title']} {stripped}".strip()
            continue
        current["lines"].append(line)
    if not sections:
        raise SourceError(src.path, "no chapters found (a 'CHAPTER I' cover and a 'Chapter I' body heading)")
    lettered = [s for s in sections if "." in s["ref"]]
    if not lettered:
        raise SourceError(src.path, "no lettered sections (A., B., ...) matching the chapters' tables of contents")
    for s in sections:
        s.pop("title_open", None)
        if not s["title"]:
            s["title"] = f"Chapter {s['ref']}"
    return revised, sections


def load(ctx: BuildContext, src: SourceFile) -> dict:
    text = read_text(src)
    revised, sections = parse(text, src)
    return store(ctx, src, source=SOURCE, system=SYSTEM, kind=KIND, name=f"NCCI Policy Manual {revised.year}",
                 start=revised, end=None, sections=sections)
