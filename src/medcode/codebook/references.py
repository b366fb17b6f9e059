"""Reading the guideline and policy texts in the book: sections by source and ref, and passage retrieval.

Sources: "icd10cm-guidelines" (guideline_sections), and the texts of reference_sections:
"ncci-policy-manual" (refs "I", "I.E"), "cms-<manual>-ch<n>" (refs "30.6.6"), "icd10pcs-guidelines"
(refs "B3.1a"). A book built before these tables existed simply holds no such source.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import date

ICD10CM_GUIDELINES = "icd10cm-guidelines"
NCCI_POLICY = "ncci-policy-manual"
_TABLES = ("guideline_sections", "reference_sections")


@dataclass(frozen=True, slots=True)
class ReferenceSource:
    source: str  # slug used in URLs: /references/<source>/<ref>
    name: str  # release name, the citation's source: "NCCI Policy Manual 2026"
    effective_from: date
    sections: int


@dataclass(frozen=True, slots=True)
class ReferenceSection:
    source: str
    ref: str  # stored ref, URL-safe: "I.E", "30.6.6", "I.C.4.a.3"
    title: str
    parent: str | None
    page: str | None
    text: str  # paragraphs separated by blank lines
    release: str  # the citation's source name
    label: str  # how coders cite it: "Chapter I, E", "§ 30.6.6", "I.C.4.a.3"


@dataclass(frozen=True, slots=True)
class Passage:
    source: str
    ref: str
    title: str
    text: str
    release: str
    label: str
    score: float  # bm25, lower is better (SQLite's sign)


def _table(source: str) -> str:
    return "guideline_sections" if source == ICD10CM_GUIDELINES else "reference_sections"


def label(source: str, ref: str) -> str:
    """The way a section is cited: NCCI "Chapter I, E", CMS manuals "§ 30.6.6", guidelines as stored."""
    if source == NCCI_POLICY:
        if ref == "Intro":
            return "Introduction"
        if ref == "Acronyms":
            return "List of Acronyms"
        chapter, _, letter = ref.partition(".")
        return f"Chapter {chapter}, {letter}" if letter else f"Chapter {chapter}"
    if source.startswith("cms-"):
        return f"§ {ref}"
    return ref


def normalize_ref(source: str, ref: str) -> str:
    """Any common spelling of a section reference -> the stored ref.

    "Chapter I, E" / "ch. I E" / "I.E" -> "I.E"; "§ 30.6.6" / "section 30.6.6" -> "30.6.6";
    ICD-10-CM guideline refs as medcode.codebook.guidelines.normalize_ref.
    """
    text = (ref or "").strip()
    if source == ICD10CM_GUIDELINES:
        from .guidelines import normalize_ref as gl_normalize

        return gl_normalize(text)
    if source == NCCI_POLICY:
        low = text.lower()
        if low.startswith("intro"):
            return "Intro"
        if low.startswith(("acronym", "list of acronyms")):
            return "Acronyms"
        m = re.match(r"^(?:chapter|chap\.?|ch\.?)?\s*([ivxIVX]+)\s*(?:[,.\s]\s*(?:section\s+)?([A-Za-z]))?\s*\.?$", text,
                     flags=re.I)
        if m:
            return m.group(1).upper() + (f".{m.group(2).upper()}" if m.group(2) else "")
        return text
    if source.startswith("cms-"):
        return re.sub(r"^(?:§+|section|sec\.)\s*", "", text, flags=re.I).strip(" .")
    return text.strip(" .")


def sources(conn: sqlite3.Connection) -> list[ReferenceSource]:
    out = []
    for table in _TABLES:
        try:
            rows = conn.execute(
                f"SELECT s.source, r.name, r.effective_from, count(*) FROM {table} s JOIN releases r "
                f"ON r.id = s.release_id GROUP BY s.source, r.id ORDER BY s.source").fetchall()
        except sqlite3.OperationalError:
            continue
        out.extend(ReferenceSource(r[0], r[1], date.fromisoformat(r[2]), r[3]) for r in rows)
    return out


_COLS = "s.source, s.ref, s.title, s.parent_ref, s.page, s.text, r.name"


def _section(row) -> ReferenceSection:
    page = None if row[4] is None else str(row[4])
    return ReferenceSection(row[0], row[1], row[2], row[3], page, row[5], row[6], label(row[0], row[1]))


def _select(conn: sqlite3.Connection, source: str, where: str, args: tuple) -> list[ReferenceSection]:
    table = _table(source)
    try:
        rows = conn.execute(f"SELECT {_COLS} FROM {table} s JOIN releases r ON r.id = s.release_id "
                            f"WHERE s.source=? {where} ORDER BY s.seq", (source, *args)).fetchall()
    except sqlite3.OperationalError:  # a book from before reference_sections
        return []
    return [_section(r) for r in rows]


def sections(conn, source: str) -> list[ReferenceSection]:
    return _select(conn, source, "", ())


def section(conn, source: str, ref: str) -> ReferenceSection | None:
    found = _select(conn, source, "AND s.ref=?", (normalize_ref(source, ref),))
    return found[0] if found else None


def children(conn, source: str, ref: str) -> list[ReferenceSection]:
    return _select(conn, source, "AND s.parent_ref=?", (normalize_ref(source, ref),))


# --- passage retrieval --------------------------------------------------------------------------

STOPWORDS = frozenset("""a about above after again against all am an and any are as at be because been before being
below between both but by can cannot could did do does doing down during each few for from further had has have
having he her here hers him his how i if in into is it its itself just me more most my no nor not of off on once
only or other our out over own same she should so some such than that the their them then there these they this
those through to too under until up very was we were what when where which while who whom why will with would you
your yours should shall may might must i'm i've can't don't ok please tell explain say""".split())

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def query_terms(text: str) -> list[str]:
    seen: list[str] = []
    for w in _WORD.findall((text or "").lower()):
        w = w.replace("'", "")
        if len(w) < 2 or w in STOPWORDS or w in seen:
            continue
        seen.append(w)
    return seen[:40]


def passages(conn: sqlite3.Connection, query: str | list[str], source_filter: list[str] | None = None,
             limit: int = 10, weights: tuple[float, float, float] = (4.0, 1.0, 1.0)) -> list[Passage]:
    """The passages best matching the query's words (any of them, bm25-ranked), best first."""
    terms = query_terms(query) if isinstance(query, str) else [t for t in query if t]
    if not terms:
        return []
    match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
    where = ""
    args: list = [match]
    if source_filter:
        where = f" AND source IN ({','.join('?' * len(source_filter))})"
        args.extend(source_filter)
    sql = (f"SELECT source, ref, title, body, bm25(reference_fts, {weights[0]}, {weights[1]}, {weights[2]}) AS score "
           f"FROM reference_fts WHERE reference_fts MATCH ?{where} ORDER BY score LIMIT ?")
    try:
        rows = conn.execute(sql, (*args, int(limit))).fetchall()
    except sqlite3.OperationalError:  # no index in this book
        return []
    names = {s.source: s.name for s in sources(conn)}
    return [Passage(r[0], r[1], r[2], r[3], names.get(r[0], r[0]), label(r[0], r[1]), float(r[4])) for r in rows]


def passages_titled(conn: sqlite3.Connection, phrase: str, limit: int = 5) -> list[Passage]:
    """Passages of sections whose title contains the phrase's words (the section *about* a term, such as
    guideline I.A.15 "With"), best (shortest title) first."""
    terms = [t for t in _WORD.findall((phrase or "").lower()) if t]
    if not terms:
        return []
    match = "title : (" + " ".join('"' + t.replace('"', '""') + '"' for t in terms) + ")"
    try:
        rows = conn.execute("SELECT source, ref, title, body, bm25(reference_fts, 10.0, 0.0, 0.0) AS score FROM "
                            "reference_fts WHERE reference_fts MATCH ? ORDER BY length(title), score LIMIT ?",
                            (match, int(limit))).fetchall()
    except sqlite3.OperationalError:
        return []
    names = {s.source: s.name for s in sources(conn)}
    return [Passage(r[0], r[1], r[2], r[3], names.get(r[0], r[0]), label(r[0], r[1]), float(r[4])) for r in rows]
