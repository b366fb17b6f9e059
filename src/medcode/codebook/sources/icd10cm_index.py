"""ICD-10-CM Alphabetic Index, CDC XML layout (`ICD10CM.index`): the Index of Diseases and
Injuries, the External Cause Index, the Table of Drugs and Chemicals and the Neoplasm Table.

All four official files share one root element; which table a file holds is read from its
column headings (Drug, Neoplasm) or its title (External Cause Index). Every mainTerm/term is one
`index_terms` row; a table cell or a bracketed manifestation code is a further row hanging on its
term (see schema.py). The flattened CSV copy of the main Index is read by icd10cm_index_csv.

Index releases are reference tables, not code lists, so the book never takes one for the release
of codes in effect on a date. Each table is its own release family, so that a later year of one
table ends the earlier year of that table only: the release kind is "icd10cm_index" for the main
Index (from XML or CSV alike) and "icd10cm_index_<table>" for the others (RELEASE_KINDS).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from ..codes import ICD10CM, normalize, undotted
from ..dates import fiscal_year_end, fiscal_year_start
from ..errors import SourceError
from ..writer import BuildContext, SourceFile, user_file_name
from .xmlfile import parse_xml

KIND = "icd10cm_index"
SYSTEM = ICD10CM
ORDER = 30

# index_terms.source -> the table's official name, used in release names ("... FY2025")
TABLES = {
    "index": "ICD-10-CM Index",
    "eindex": "ICD-10-CM External Cause Index",
    "drug": "ICD-10-CM Table of Drugs and Chemicals",
    "neoplasm": "ICD-10-CM Neoplasm Table",
}

# index_terms.source -> releases.kind
RELEASE_KINDS = {table: KIND if table == "index" else f"{KIND}_{table}" for table in TABLES}

MANIFESTATION = "manifestation"  # column_name of a bracketed [code] printed beside a term's code

_CODE_SHAPE = re.compile(r"^[A-Z][0-9A-Z]{2}[0-9A-Z]{0,4}$")
_NO_CODE = {"", "-", "--", "\u2014", "\u2013"}  # empty table cells
_YEAR = re.compile(r"(?<![0-9])(20[0-9]{2})(?![0-9])")

COLUMNS = ("id", "source", "system", "release_id", "parent_id", "level", "term", "path", "code", "see",
           "see_also", "nonessential", "column_name")


# --- codes -----------------------------------------------------------------------------------

def normalize_index_code(raw: str | None) -> str | None:
    """The stored spelling of an Index code, or None for an empty cell; ValueError if not a code.

    One spelling for incomplete codes, whatever the file wrote: the known characters dotted as
    usual, then '-' where the dot would go for a category (C64-, C64.- -> C64.-) or right after the
    last character otherwise (H93.29- -> H93.29-, M86.8X- stays). codes.normalize cannot be used
    on them: it reads any '-' as a block range and drops the dot.
    """
    if not raw:
        return None
    text = " ".join(raw.split()).strip("[]() ")
    if text in _NO_CODE:
        return None
    incomplete = text.endswith("-")
    base = normalize(text.rstrip("-").rstrip(". "), ICD10CM)
    if not _CODE_SHAPE.match(undotted(base)):
        raise ValueError(f"{raw!r} is not an ICD-10-CM code")
    if not incomplete:
        return base
    return base + (".-" if len(undotted(base)) == 3 else "-")


def lookup_keys(code: str) -> list[str]:
    """The index codes that lead to `code`: itself; for a 7-character code, the code without its
    7th character, as the Drug Table gives it (T39.1X1 for T39.1X1A); then each header above it
    with a dash, nearest first (E11.42 <- E11.4-, E11.-). Used by Book.index_entries."""
    key = normalize_index_code(code)
    if key is None:
        return []
    if key.endswith("-"):
        return [key]
    plain = undotted(key)
    keys = [key]
    if len(plain) == 7:
        keys.append(normalize(plain[:6], ICD10CM))
    for cut in range(len(plain) - 1, 3, -1):
        keys.append(normalize(plain[:cut], ICD10CM) + "-")
    keys.append(plain[:3] + ".-")
    return keys


# --- helpers shared with the CSV reader ------------------------------------------------------

_SPACE_BEFORE_PUNCT = re.compile(r" ([,;:.)\]])")


def clean(text: str | None) -> str:
    """One line of index text: whitespace collapsed, no space before punctuation."""
    if not text:
        return ""
    text = " ".join(text.split())
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text) if " " in text else text


def join_path(parent_path: str, term: str, nonessential: str = "") -> str:
    """A term's path. A few subterms are nothing but a nonessential modifier ("Disorder, pain,
    persistent" > "(somatoform)" F45.41): their term is empty and the modifier stands in the path."""
    part = term or nonessential
    return f"{parent_path}, {part}" if parent_path else part


def year_from_name(src: SourceFile) -> int | None:
    name = user_file_name(src.path)
    m = _YEAR.search(name)
    return int(m.group(1)) if m else None


def already_loaded(ctx: BuildContext, table: str, fy: int) -> str | None:
    """The file this table of this year was already read from in this build, if any: the same
    table must not be imported twice (e.g. the official XML and a flattened CSV)."""
    row = ctx.conn.execute("SELECT source FROM releases WHERE kind=? AND effective_from=?",
                           (RELEASE_KINDS[table], fiscal_year_start(fy).isoformat())).fetchone()
    return row[0] if row else None


class TermRows:
    """Collects index_terms rows with their ids, so parents are known before the one insert."""

    def __init__(self, ctx: BuildContext, source: str, release_id: int):
        self.ctx = ctx
        self.source = source
        self.release_id = release_id
        self.next_id = (ctx.conn.execute("SELECT max(id) FROM index_terms").fetchone()[0] or 0) + 1
        self.rows: list[tuple] = []
        self.counts = {"terms": 0, "codes": 0, "cells": 0, "manifestations": 0, "see": 0, "see_also": 0}

    def add(self, parent_id, level, term, path, code=None, see=None, see_also=None, nonessential=None,
            column_name=None) -> int:
        row_id = self.next_id
        self.next_id += 1
        self.rows.append((row_id, self.source, SYSTEM, self.release_id, parent_id, level, term, path,
                          code, see or None, see_also or None, nonessential or None, column_name))
        if column_name is None:
            self.counts["terms"] += 1
            self.counts["codes"] += code is not None
            self.counts["see"] += bool(see)
            self.counts["see_also"] += bool(see_also)
        elif column_name == MANIFESTATION:
            self.counts["manifestations"] += 1
        else:
            self.counts["cells"] += 1
        return row_id

    def write(self) -> dict:
        self.ctx.insert("index_terms", COLUMNS, self.rows)
        counts = {k: v for k, v in self.counts.items() if v or k == "terms"}
        self.ctx.set_counts(self.release_id, counts)
        return counts


def add_release(ctx: BuildContext, src: SourceFile, table: str, fy: int) -> int:
    return ctx.add_release(system=SYSTEM, name=f"{TABLES[table]} FY{fy}", kind=RELEASE_KINDS[table],
                           effective_from=fiscal_year_start(fy), effective_to=fiscal_year_end(fy), src=src)


# --- the XML layout --------------------------------------------------------------------------

def sniff(path: Path, head: bytes) -> bool:
    # an addenda file lists changes, not the index: left unrecognised rather than half-read
    return b"<ICD10CM.index" in head and not re.search(rb'isAddenda\s*=\s*["\']true', head)


def _parse(src: SourceFile) -> ET.Element:
    root = parse_xml(src, "ICD10CM.index")
    if (root.get("isAddenda") or "").lower() == "true":
        raise SourceError(src.path, "an Index addenda file lists changes only; import the full Index", "/")
    return root


def _text(el: ET.Element | None) -> str:
    return clean("".join(el.itertext())) if el is not None else ""


def _headings(root: ET.Element, src: SourceFile) -> dict[int, str]:
    heads: dict[int, str] = {}
    for head in root.findall("indexHeading/head"):
        col = (head.get("col") or "").strip()
        if not col.isdigit():
            raise SourceError(src.path, "column heading without a numeric col", "/ICD10CM.index/indexHeading")
        heads[int(col)] = _text(head)
    return heads


def _table_of(root: ET.Element, heads: dict[int, str], src: SourceFile) -> str:
    if heads:
        first = heads.get(1, "").lower()
        if first.startswith("substance") or "poisoning" in " ".join(heads.values()).lower():
            return "drug"
        if first.startswith("neoplasm") or "malignant" in " ".join(heads.values()).lower():
            return "neoplasm"
        raise SourceError(src.path, f"column headings {list(heads.values())} are neither the Drug nor the "
                          "Neoplasm table's", "/ICD10CM.index/indexHeading")
    title = _text(root.find("title")).lower()
    if "external cause" in title:
        return "eindex"
    if title:
        return "index"
    name = src.name.lower()
    return "eindex" if ("eindex" in name or "external" in name) else "index"


def _title(el: ET.Element, src: SourceFile, where: str) -> tuple[str, str]:
    """(words, nonessential modifiers) of a term's <title>; the modifiers are cut out of the words."""
    title = el.find("title")
    if title is None:
        raise SourceError(src.path, f"<{el.tag}> without a <title>", where)
    words = [title.text or ""]
    nemods = []
    for child in title:
        if child.tag == "nemod":
            nemods.append(_text(child))
            words.append(" ")
        else:
            words.append("".join(child.itertext()))
        words.append(child.tail or "")
    term = clean("".join(words))
    nonessential = " ".join(n for n in nemods if n)
    if not term and not nonessential:
        raise SourceError(src.path, f"<{el.tag}> with an empty <title>", where)
    return term, nonessential


def load(ctx: BuildContext, src: SourceFile) -> dict:
    root = _parse(src)
    version = _text(root.find("version"))
    fy = int(version) if version.isdigit() else year_from_name(src)
    if fy is None:
        raise SourceError(src.path, "no <version> and no year in the file name: cannot tell the release",
                          "/ICD10CM.index/version")
    heads = _headings(root, src)
    table = _table_of(root, heads, src)
    earlier = already_loaded(ctx, table, fy)
    if earlier:
        ctx.note(f"{src.name}: {TABLES[table]} FY{fy} was already read from {earlier}; skipped")
        return {"skipped": f"duplicate of {earlier}"}
    rows = TermRows(ctx, table, add_release(ctx, src, table, fy))

    def code_of(raw: str, where: str) -> str | None:
        try:
            return normalize_index_code(raw)
        except ValueError as exc:
            raise SourceError(src.path, str(exc), where) from None

    def walk(el: ET.Element, parent_id: int | None, level: int, parent_path: str, where: str) -> None:
        term, nonessential = _title(el, src, where)
        here = f"{where}/{el.tag}[{term or nonessential}]"
        if el.tag == "term":
            stated = (el.get("level") or "").strip()
            if stated != str(level):
                raise SourceError(src.path, f"level={stated!r} where the nesting says {level}", here)
        path = join_path(parent_path, term, nonessential)
        see = _text(el.find("see"))
        code = code_of(_text(el.find("code")), here + "/code")
        # "see subcategory T75.0" / "see category T71": a pointer into the Tabular, so the entry
        # leads to that header, stored as an incomplete code
        for tag, word in (("subcat", "subcategory"), ("seecat", "category")):
            target = _text(el.find(tag))
            if target:
                see = f"{see}; {word} {target}" if see else f"{word} {target}"
                if code is None:
                    code = code_of(target.rstrip(".-") + "-", f"{here}/{tag}")
        manif_code = None
        manif = _text(el.find("manif"))
        if manif:
            try:
                manif_code = normalize_index_code(manif)
            except ValueError:  # the Neoplasm Table uses <manif> once for words, not a code
                words = manif if manif.startswith("(") else f"({manif})"
                nonessential = f"{nonessential} {words}".strip()
        row_id = rows.add(parent_id, level, term, path, code, see, _text(el.find("seeAlso")), nonessential)
        if manif_code:
            rows.add(row_id, level, term, path, manif_code, column_name=MANIFESTATION)
        for cell in el.findall("cell"):
            col = (cell.get("col") or "").strip()
            cwhere = f"{here}/cell[{col}]"
            if not col.isdigit() or int(col) not in heads or int(col) == 1:
                raise SourceError(src.path, f"cell in column {col!r}, which has no heading", cwhere)
            cell_code = code_of(_text(cell), cwhere)
            if cell_code:
                rows.add(row_id, level, term, path, cell_code, column_name=heads[int(col)])
        for child in el.findall("term"):
            walk(child, row_id, level + 1, path, here)

    letters = root.findall("letter")
    if not letters:
        raise SourceError(src.path, "no <letter> elements: not a complete index file", "/ICD10CM.index")
    for letter in ctx.progress(letters, total=len(letters), desc=TABLES[table]):
        where = f"/ICD10CM.index/letter[{_text(letter.find('title'))}]"
        for main in letter.findall("mainTerm"):
            walk(main, None, 0, "", where)
    return rows.write()


# --- following see / see also ----------------------------------------------------------------

@dataclass(frozen=True)
class Followed:
    """Where a see / see-also reference leads: the deepest term it names, and any words left
    over that name no subterm ("by site", "by type": the coder chooses there)."""

    row_id: int
    path: str
    code: str | None
    rest: str


_NOISE = {"nec", "nos"}  # "Iron NEC" is what a reference to "Iron" means


def _stem(word: str) -> str:
    """Singular and plural read alike: a reference to "Complications" finds "Complication(s)"."""
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def _forms(text: str, raw: bool = False) -> list[tuple[str, ...]]:
    """A term's or reference's comma-separated parts, each as words for matching (lower case,
    singular, no modifiers, no NEC/NOS), or as printed when `raw`."""
    text = re.sub(r"\([^)]*\)", " ", text)
    out = []
    for part in text.split(","):
        found = [w for w in re.findall(r"[\w'/&+-]+", part) if w.lower() not in _NOISE]
        words = tuple(found) if raw else tuple(_stem(w.lower()) for w in found)
        if words:
            out.append(words)
    return out


class Navigator:
    """Follows "Infarct, myocardium" through the stored index the way a coder reads it: a term
    matches the reference's next words in full ("myocardium, myocardial") or by one of its
    comma-separated forms ("Infarct" for "Infarct, infarction"), ignoring commas, modifiers and
    NEC/NOS; where several paths fit, the one naming the most words wins, whole terms first.
    Works on a read-only connection (Book.db); each term's children are read once and cached."""

    def __init__(self, db, source: str = "index"):
        self.db = db
        self.source = source
        self._children: dict[int | None, dict[str, list[tuple]]] = {}
        self._neoplasm: Navigator | None = None

    def _by_first_word(self, parent_id: int | None) -> dict[str, list[tuple]]:
        found = self._children.get(parent_id)
        if found is None:
            sql = "SELECT id, term, nonessential, path, code FROM index_terms WHERE column_name IS NULL AND "
            if parent_id is None:
                rows = self.db.execute(sql + "source=? AND parent_id IS NULL ORDER BY id", (self.source,))
            else:
                rows = self.db.execute(sql + "parent_id=? ORDER BY id", (parent_id,))
            found = {}
            for row_id, term, nonessential, path, code in rows:
                forms = _forms(term or nonessential or "")
                if not forms:
                    continue
                whole = tuple(w for f in forms for w in f)
                # a main term's forms are alternatives ("Burn, burned, burning"); below it, only
                # the first is ("myocardium, myocardial" but not "Meckel diverticulum, malignant")
                alternatives = forms if parent_id is None else forms[:1]
                cand = (row_id, path, code, whole, alternatives if len(forms) > 1 else [])
                for first in {whole[0]} | {f[0] for f in alternatives}:
                    found.setdefault(first, []).append(cand)
            self._children[parent_id] = found
        return found

    def _best(self, parent_id, words, at, memo):
        """(words consumed, score, chain of candidates) of the best way down from `parent_id`."""
        key = (parent_id, at)
        if key in memo:
            return memo[key]
        best = (at, 0, ())
        if at < len(words):
            for cand in self._by_first_word(parent_id).get(words[at], ()):
                whole, forms = cand[3], cand[4]
                if words[at:at + len(whole)] == whole:
                    size, score = len(whole), 2
                else:
                    sizes = [len(f) for f in forms if words[at:at + len(f)] == f]
                    if not sizes:
                        continue
                    size, score = max(sizes), 1
                end, sub, chain = self._best(cand[0], words, at + size, memo)
                option = (end, score + sub, (cand,) + chain)
                if option[:2] > best[:2]:
                    best = option
        memo[key] = best
        return best

    def follow(self, reference: str) -> Followed | None:
        """The term a reference names, or None when not even its main term is in this table.
        "see Neoplasm, ..." from the Index leads into the Neoplasm Table when that goes further."""
        words = tuple(w for f in _forms(reference) for w in f)
        end, _score, chain = self._best(None, words, 0, {})
        if self.source == "index" and words[:1] == ("neoplasm",) and end < len(words):
            table = self._neoplasm or Navigator(self.db, "neoplasm")
            self._neoplasm = table
            t_end, _s, t_chain = table._best(None, words, 0, {})
            if t_end > end:
                end, chain = t_end, t_chain
        if not chain:
            return None
        # the words left over, as the reference prints them
        rest, seen = [], 0
        for form in _forms(reference, raw=True):
            if seen >= end:
                rest.append(" ".join(form))
            elif seen + len(form) > end:
                rest.append(" ".join(form[end - seen:]))
            seen += len(form)
        last = chain[-1]
        return Followed(last[0], last[1], last[2], ", ".join(rest))
