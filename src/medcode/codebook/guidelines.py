"""Guideline sections in the book: by reference (I.C.4.a.3), by parent, and by chapter."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .book import Book

ICD10CM_GUIDELINES = "icd10cm-guidelines"


@dataclass(frozen=True, slots=True)
class Section:
    source: str
    ref: str
    title: str
    parent: str | None
    page: int | None
    text: str
    release: str


_COLS = "s.source, s.ref, s.title, s.parent_ref, s.page, s.text, r.name"
_FROM = "FROM guideline_sections s JOIN releases r ON r.id = s.release_id"


def normalize_ref(ref: str) -> str:
    """'Section I.C.4.a.3.' / 'i.c.4.a.3' / 'I.C.4.a(3)' -> 'I.C.4.a.3'."""
    appendix = re.match(r"^\s*appendix\s+([ivx]+)\s*\.?\s*$", ref, flags=re.I)
    if appendix:
        return f"Appendix {appendix.group(1).upper()}"
    text = re.sub(r"^\s*section\s+", "", ref.strip(), flags=re.I).strip(" .")
    text = re.sub(r"[()\s]+", ".", text).strip(".")
    parts = [p for p in text.split(".") if p]
    if not parts:
        return ""
    head = parts[0].upper()
    out = [head]
    for i, part in enumerate(parts[1:], start=1):
        out.append(part.upper() if i == 1 else part.lower())
    return ".".join(out)


def section(book: Book, ref: str, source: str = ICD10CM_GUIDELINES) -> Section | None:
    row = book.db.execute(f"SELECT {_COLS} {_FROM} WHERE s.source=? AND s.ref=?",
                          (source, normalize_ref(ref))).fetchone()
    return Section(*row) if row else None


def subsections(book: Book, ref: str, source: str = ICD10CM_GUIDELINES) -> list[Section]:
    rows = book.db.execute(f"SELECT {_COLS} {_FROM} WHERE s.source=? AND s.parent_ref=? ORDER BY s.seq",
                           (source, normalize_ref(ref))).fetchall()
    return [Section(*r) for r in rows]


def all_sections(book: Book, source: str = ICD10CM_GUIDELINES) -> list[Section]:
    rows = book.db.execute(f"SELECT {_COLS} {_FROM} WHERE s.source=? ORDER BY s.seq", (source,)).fetchall()
    return [Section(*r) for r in rows]


def full_text(book: Book, ref: str, source: str = ICD10CM_GUIDELINES) -> str:
    """A section's own text followed by its subsections', as one cited passage."""
    top = section(book, ref, source)
    if top is None:
        return ""
    parts = [top.text]
    for sub in subsections(book, top.ref, source):
        parts.append(f"{sub.ref} {sub.title}\n\n{full_text(book, sub.ref, source)}")
    return "\n\n".join(p for p in parts if p)


def for_chapter(book: Book, chapter: str | int) -> Section | None:
    """The chapter-specific guideline section (I.C.n) for an ICD-10-CM chapter number."""
    return section(book, f"I.C.{int(chapter)}")
