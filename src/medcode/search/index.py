"""Builds the search index inside the codebook file, at the end of `medcode data build`.

Every way a coder reaches a code is one *document*: a code's title, an inclusion term or
includes note, an Alphabetic Index or External Cause Index path (a path that only says "see X" is
followed to X's code), a Drug or Neoplasm Table cell (its path plus the column heading), a PCS
Index entry. A document points at a code, which may be incomplete (E11.-, C50.4-, T39.1X1, 0RRJ0):
the engine completes it at query time from the words of the query (laterality, encounter).

Documents are stored in `search_docs` in order of increasing length, so that the first rows an
FTS5 match returns are the closest ones; `search_fts` (contentless FTS5) indexes their stems and a
few tag tokens (system, chapter) for filtering; `search_vocab` lists every word with its stem and
document frequency, for prefix completion and typo correction.

Other code systems plug in by adding a producer to PRODUCERS: a function (conn) -> iterable of Doc.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable

from .text import analyze, stem, words

def _source_digest() -> str:
    """Changes whenever the code that decides what goes into the index changes."""
    import hashlib
    from pathlib import Path

    h = hashlib.sha256()
    for name in ("index.py", "text.py"):
        h.update((Path(__file__).with_name(name)).read_bytes())
    return h.hexdigest()[:12]


INDEX_VERSION = "1-" + _source_digest()

DDL = """
DROP TABLE IF EXISTS search_docs;
DROP TABLE IF EXISTS search_fts;
DROP TABLE IF EXISTS search_vocab;
DROP TABLE IF EXISTS search_known;
CREATE TABLE search_docs(
  id INTEGER PRIMARY KEY,           -- the shortest documents first (see module docstring)
  system TEXT NOT NULL,
  code TEXT NOT NULL,               -- the code the document leads to; may be incomplete (E11.-, 0RRJ0)
  source TEXT NOT NULL,             -- title, inclusion, includes, index, eindex, drug, neoplasm, pcs_index
  label TEXT NOT NULL,              -- how it matched, as shown: "index: Infarct, infarction, myocardium"
  ref INTEGER,                      -- index_terms.id of an index document (of the term, for a table cell)
  parent_ref INTEGER,               -- index_terms.id of that term's parent term
  terms TEXT NOT NULL,              -- stems of the essential words, in order, each once
  extra TEXT NOT NULL,              -- stems of nonessential modifiers and table column headings
  chapter TEXT,                     -- ICD-10-CM chapter number; PCS section character
  rank INTEGER NOT NULL             -- a preference among equals: default table column first
);
CREATE VIRTUAL TABLE search_fts USING fts5(body, content='', detail='none', columnsize=0, prefix='2 3',
                                            tokenize='unicode61');
DROP TABLE IF EXISTS search_redirects;
CREATE TABLE search_redirects(      -- index main terms that only send the reader on: "Biopsy - see Excision
  system TEXT NOT NULL,             -- with qualifier Diagnostic", "Decubitus - see Ulcer, pressure, by site"
  source TEXT NOT NULL,
  term TEXT NOT NULL,
  target TEXT NOT NULL
);
CREATE TABLE search_vocab(
  word TEXT PRIMARY KEY,
  stem TEXT NOT NULL,
  df INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE search_known(word TEXT PRIMARY KEY) WITHOUT ROWID;  -- words of notes and guidelines: real
                                                                 -- words, never "corrected"
"""

INDEXES = """
CREATE INDEX search_docs_ref ON search_docs(ref);
CREATE INDEX search_docs_parent_ref ON search_docs(parent_ref);
CREATE INDEX search_vocab_stem ON search_vocab(stem);
"""

# how a source ranks among documents of the same length
SOURCE_ORDER = {"code": 0, "index": 1, "pcs_index": 1, "inclusion": 2, "drug": 3, "neoplasm": 3, "title": 4,
                "includes": 5, "eindex": 6}

# Drug and Neoplasm Table columns: the one a coder defaults to first
COLUMN_RANK = {
    "Poisoning Accidental (unintentional)": 0, "Adverse effect": 1, "Underdosing": 2,
    "Poisoning Intentional self-harm": 3, "Poisoning Assault": 4, "Poisoning Undetermined": 5,
    "Malignant Primary": 0, "Malignant Secondary": 1, "Ca in situ": 2, "Benign": 3, "Uncertain Behavior": 4,
    "Unspecified Behavior": 5,
}

SOURCE_LABELS = {"index": "index", "eindex": "external cause index", "drug": "drug table",
                 "neoplasm": "neoplasm table", "pcs_index": "index"}


# Each system's documents have ids in a block of their own, so a system filter is an id range
# (cheap for FTS5) rather than one more term to intersect.
SYSTEM_ORDER = ("icd10cm", "icd10pcs", "hcpcs", "cpt", "modifier", "pos")
ID_BLOCK = 10_000_000


def id_range(system: str) -> tuple[int, int]:
    """The first and last document id a system's documents can have."""
    n = SYSTEM_ORDER.index(system) if system in SYSTEM_ORDER else len(SYSTEM_ORDER)
    return n * ID_BLOCK + 1, (n + 1) * ID_BLOCK


def tag(kind: str, value: str) -> str:
    """A filter token in the FTS body: never a word of any text (words are split at digits)."""
    return f"zz{kind}{value}".lower().replace(".", "").replace("-", "")


@dataclass
class Redirect:
    system: str
    source: str
    term: str
    target: str


@dataclass
class Doc:
    system: str
    code: str
    source: str
    label: str
    text: str
    extra: str = ""
    ref: int | None = None
    parent_ref: int | None = None
    chapter: str | None = None
    rank: int = 0


# --- producers --------------------------------------------------------------------------------

def _cm_chapters(conn) -> dict[str, str]:
    parent = {}
    kind = {}
    for code, par, k in conn.execute("SELECT code, parent, kind FROM codes WHERE system='icd10cm'"):
        parent[code] = par
        kind[code] = k
    memo: dict[str, str] = {}

    def chapter(code):
        seen = []
        cur = code
        while cur is not None and cur not in memo and kind.get(cur) != "chapter" and len(seen) < 12:
            seen.append(cur)
            cur = parent.get(cur)
        found = memo.get(cur) if cur in memo else (cur if kind.get(cur) == "chapter" else None)
        for c in seen:
            memo[c] = found
        return found

    return {c: chapter(c) for c in parent}


def _cm_chapter_of(chapters: dict[str, str], code: str) -> str | None:
    base = code.rstrip("-").rstrip(".")
    while base:
        if base in chapters:
            return chapters[base]
        base = base[:-1].rstrip(".")
    return None


def icd10cm_documents(conn) -> Iterable[Doc]:
    chapters = _cm_chapters(conn)
    seen = set()
    for code, title in conn.execute(
            "SELECT code, title FROM codes WHERE system='icd10cm' AND kind IN ('category','subcategory') "
            "ORDER BY seq"):
        if (code, title) in seen:
            continue
        seen.add((code, title))
        yield Doc("icd10cm", code, "title", "title", title, chapter=chapters.get(code))
    for code, kind, text in conn.execute(
            "SELECT n.code, n.kind, n.text FROM notes n JOIN (SELECT DISTINCT code FROM codes WHERE "
            "system='icd10cm' AND kind IN ('category','subcategory')) c ON c.code=n.code "
            "WHERE n.system='icd10cm' AND n.kind IN ('inclusion_terms','includes')"):
        source = "inclusion" if kind == "inclusion_terms" else "includes"
        yield Doc("icd10cm", code, source, f"{'inclusion' if source == 'inclusion' else 'includes'}: {text}", text,
                  chapter=chapters.get(code))
    yield from _cm_index_documents(conn, chapters)


def _cm_index_documents(conn, chapters) -> Iterable[Doc]:
    try:
        from medcode.codebook.sources.icd10cm_index import MANIFESTATION, Navigator
    except ImportError:  # pragma: no cover - the index importer is part of the codebook
        return
    navigators: dict[str, Navigator] = {}
    rows = conn.execute(
        "SELECT t.id, t.source, t.path, t.code, t.see, t.nonessential, t.column_name, t.parent_id, p.parent_id, "
        "t.level, "
        "p.nonessential FROM index_terms t LEFT JOIN index_terms p ON p.id=t.parent_id AND t.column_name IS NOT NULL "
        "WHERE t.system='icd10cm' AND (t.code IS NOT NULL OR t.see IS NOT NULL)").fetchall()
    for (row_id, source, path, code, see, nonessential, column, parent_id, cell_grandparent, level,
         term_nonessential) in rows:
        if column == MANIFESTATION:
            continue
        label_source = SOURCE_LABELS.get(source, source)
        if column:
            # a table cell: it hangs on its term's row, which is what a reference names
            yield Doc("icd10cm", code, source, f"{label_source}: {path} [{column}]", path,
                      extra=" ".join(filter(None, [term_nonessential, column])), ref=parent_id,
                      parent_ref=cell_grandparent, chapter=_cm_chapter_of(chapters, code),
                      rank=COLUMN_RANK.get(column, 9))
            continue
        label = f"{label_source}: {path}"
        if code is None:
            # "see X": the entry leads wherever X leads
            nav = navigators.get(source)
            if nav is None:
                nav = navigators[source] = Navigator(conn, source if source in ("index", "eindex") else "index")
            target = None
            for ref in see.split(";"):
                ref = ref.strip()
                if not ref or ref.lower().startswith(("subcategory", "category", "condition")):
                    continue
                followed = nav.follow(ref)
                if followed is not None and followed.code and not followed.rest:
                    target = followed
                    break
            if target is None:
                if level == 0:  # a main term that only sends on: its words mean the target's
                    for ref in see.split(";"):
                        ref = ref.strip()
                        if ref and not ref.lower().startswith(("subcategory", "category", "condition")):
                            for form in path.split(","):
                                if form.strip():
                                    yield Redirect("icd10cm", source, form.strip(), ref)
                continue
            code = target.code
            label = f"{label} \u2192 see {see}"
        yield Doc("icd10cm", code, source, label, path, extra=nonessential or "", ref=row_id, parent_ref=parent_id,
                  chapter=_cm_chapter_of(chapters, code))


def icd10pcs_documents(conn) -> Iterable[Doc]:
    seen = set()
    for code, title, kind in conn.execute(
            "SELECT code, title, kind FROM codes WHERE system='icd10pcs' AND kind IN ('code','table') ORDER BY seq"):
        if (code, title) in seen:
            continue
        seen.add((code, title))
        yield Doc("icd10pcs", code, "title", "title", title, chapter=code[0])
    for path, see in conn.execute(
            "SELECT DISTINCT path, see FROM index_terms WHERE system='icd10pcs' AND code IS NULL AND see IS NOT NULL"):
        if "," not in path:
            yield Redirect("icd10pcs", "pcs_index", path, see)
    # body part and device keys: "Anterior cruciate ligament (ACL) - use Knee Bursa and Ligament, Right"
    for path, use in conn.execute(
            "SELECT DISTINCT path, see_also FROM index_terms WHERE system='icd10pcs' AND code IS NULL "
            "AND see IS NULL AND see_also IS NOT NULL"):
        if "," in path:
            continue
        target = _SIDE.sub("", use).strip()
        names = [re.sub(r"\s*\([^)]*\)", "", path).strip()]          # the name without its parentheses
        names += [a for a in re.findall(r"\(([A-Z0-9][A-Z0-9&/-]+)\)", path)]  # and an acronym in them: (ACL)
        for name in names:
            if name and target and name.lower() != target.lower():
                yield Redirect("icd10pcs", "pcs_use", name, target)
    for row_id, parent_id, path, code, see in conn.execute(
            "SELECT id, parent_id, path, code, see FROM index_terms WHERE system='icd10pcs' AND code IS NOT NULL"):
        label = f"index: {path}" + (f" \u2192 see {see}" if see else "")
        yield Doc("icd10pcs", code, "pcs_index", label, path, ref=row_id, parent_ref=parent_id, chapter=code[0])


def title_documents(system: str) -> Callable[[sqlite3.Connection], Iterable[Doc]]:
    """Any other code system (HCPCS, CPT...): each code's title (for HCPCS, its long description)."""

    def produce(conn) -> Iterable[Doc]:
        seen = set()
        for code, title in conn.execute(
                "SELECT code, title FROM codes WHERE system=? AND kind NOT IN ('chapter','block','section') "
                "ORDER BY seq", (system,)):
            if (code, title) not in seen:
                seen.add((code, title))
                yield Doc(system, code, "title", "title", title)

    return produce


PRODUCERS: dict[str, Callable[[sqlite3.Connection], Iterable[Doc]]] = {
    "icd10cm": icd10cm_documents,
    "icd10pcs": icd10pcs_documents,
}


_SIDE = re.compile(r",\s*(Right|Left|Bilateral)\b.*$", re.I)


def _known_words(conn) -> set[str]:
    """Words of the book's other texts (notes, guidelines, PCS definitions)."""
    found: set[str] = set()
    for sql in ("SELECT text FROM notes", "SELECT text FROM guideline_sections",
                "SELECT coalesce(definition,'') || ' ' || coalesce(explanation,'') || ' ' || includes "
                "FROM pcs_definitions"):
        try:
            for (text,) in conn.execute(sql):
                found.update(words(text))
        except sqlite3.OperationalError:  # a table this book does not have
            continue
    return {w for w in found if w.isalpha() and len(w) > 2}


# --- the build --------------------------------------------------------------------------------

def build_search_index(conn: sqlite3.Connection) -> dict:
    """(Re)create the search tables in the codebook being built; returns counts. Needs the
    codebook's tables and indexes (index_terms_parent) to be in place."""
    conn.executescript(DDL)
    held = {r[0] for r in conn.execute("SELECT DISTINCT system FROM codes")}
    prepared = []
    redirects = []
    vocab: Counter = Counter()
    for system in sorted(held, key=lambda s: id_range(s)[0]):
        producer = PRODUCERS.get(system) or title_documents(system)
        for doc in producer(conn):
            if isinstance(doc, Redirect):
                redirects.append((doc.system, doc.source, doc.term, doc.target))
                continue
            main, seen_words = analyze(doc.text)
            if not main:
                continue
            if doc.extra:
                extra_terms, extra_words = analyze(doc.extra)
                extra = [t for t in extra_terms if t not in main]
                seen_words = seen_words | extra_words
            else:
                extra = []
            vocab.update(seen_words)
            key = (len(main), SOURCE_ORDER.get(doc.source, 9), doc.rank, len(doc.label), doc.code)
            prepared.append((key, doc, main, extra))
    prepared.sort(key=lambda p: (id_range(p[1].system)[0], p[0]))
    conn.execute("BEGIN")
    try:
        rows = []
        fts = []
        n = 0
        for _key, doc, main, extra in prepared:
            lo, hi = id_range(doc.system)
            n = max(n + 1, lo)
            if n > hi:
                raise ValueError(f"more than {ID_BLOCK} search documents for {doc.system}")
            rows.append((n, doc.system, doc.code, doc.source, doc.label, doc.ref, doc.parent_ref, " ".join(main),
                         " ".join(extra), doc.chapter, doc.rank))
            tags = [tag("c", doc.system + doc.chapter)] if doc.chapter else []
            fts.append((n, " ".join((*main, *extra, *tags))))
        conn.executemany("INSERT INTO search_docs(id,system,code,source,label,ref,parent_ref,terms,extra,chapter,rank) "
                         "VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        conn.executemany("INSERT INTO search_fts(rowid, body) VALUES (?,?)", fts)
        conn.executemany("INSERT INTO search_vocab(word, stem, df) VALUES (?,?,?)",
                         ((w, stem(w), df) for w, df in vocab.items()))
        conn.executemany("INSERT INTO search_redirects(system, source, term, target) VALUES (?,?,?,?)",
                         list(dict.fromkeys(redirects)))
        conn.executemany("INSERT OR IGNORE INTO search_known(word) VALUES (?)",
                         ((w,) for w in _known_words(conn) if w not in vocab))
        conn.execute("INSERT INTO search_fts(search_fts) VALUES ('optimize')")
        for statement in filter(str.strip, INDEXES.split(";")):
            conn.execute(statement)
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('search_index', ?)", (INDEX_VERSION,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    counts = Counter(p[1].source for p in prepared)
    return {"documents": len(prepared), "words": len(vocab), "redirects": len(redirects), **counts}
