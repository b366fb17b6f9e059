"""Query -> ranked codes, over any backend.

1. A query shaped like a code (K57., k219, M17.1, 0RRJ0JZ, 0RR) lists that code, then the codes
   below it.
2. Otherwise its words become *slots*: each word (or a prefix being typed, or a misspelling
   corrected against the vocabulary, or a synonym-table entry with the index paths it stands for)
   must be matched by a document. Laterality and encounter words (right, initial...) and weak
   words do not have to match: they steer toward the specific code.
3. Candidates are the shortest documents matching every slot; when too few, every slot but one.
4. Each document is scored by how much of the query it covers (words weighted by rarity), how
   much of it the query covers (a short exact index entry beats a long title), its source
   (index path and inclusion term over title) and, for synonym entries, whether it is the very
   index entry the table names.
5. A document's code is completed to a billable code on the date of service: an incomplete
   index code (C50.4-, T39.1X1, 0RRJ0) or a header is walked down, at each level taking the child
   whose own words the query says (right, left, initial encounter...), else the unspecified one;
   the header and the next children follow it in the list.
"""

from __future__ import annotations

import heapq
from collections import Counter
import math
import re
import threading
from dataclasses import dataclass, field
from datetime import date as Date
from typing import NamedTuple

from medcode.codebook.codes import ICD10CM, ICD10PCS, SYSTEMS, normalize, system_name
from medcode.codebook.dates import BadDate, parse_date
from medcode.codebook.errors import BookMissing, UnknownSystem

from . import synonyms as synonym_table
from .backends import Alt, DocRow, Expr, Slot, Term, backend_class
from .index import tag
from .text import ENCOUNTER, LATERALITY, STOPWORDS, WEAK, fold, stem, terms, words

MAX_QUERY_CHARS = 500
MAX_TOKENS = 16
MAX_LIMIT = 100
DEFAULT_LIMIT = 10

SOURCE_BONUS = {"index": 7.0, "pcs_index": 7.0, "inclusion": 6.0, "drug": 5.0, "neoplasm": 5.0, "title": 3.0,
                "includes": 2.0, "eindex": 0.0, "hint": 5.0}
PARENT_PENALTY = 14.0
HEADER_PENALTY = 10.0
SIBLING_PENALTY = 16.0

_LAT_STEMS = {stem(w): v for w, v in LATERALITY.items()}
_LAT_WORDS = {"right", "left", "bilateral"}
_UNSPEC = stem("unspecified")
_WITHOUT = stem("without")
_OTHER = {stem("other"), stem("specified")}
_DIAG = {stem("diagnostic"), stem("biopsy")}

# Procedure words and the PCS values they imply (approach, qualifier): used to complete a PCS code
# from a table or a partial code, never to find documents.
_NATURAL_OPENING = ("colono", "sigmoido", "procto", "gastro", "esophago", "duodeno", "entero", "broncho", "cysto",
                    "uretero", "hystero", "laryngo", "naso", "rhino", "colpo", "anoscop", "egd", "ercp")
_THROUGH_SKIN = ("laparo", "thoraco", "arthro", "mediastino", "pelvisco", "lap")


def pcs_hints(word: str) -> list[str]:
    if word.endswith("centesis"):
        return ["percutaneous"]
    if word in ("biopsy", "biopsies", "bx", "diagnostic"):
        return ["diagnostic"]
    if word in ("lap", "laparoscopic", "laparoscopy", "laparoscopically", "robotic") or (
            ("scop" in word) and word.startswith(_THROUGH_SKIN)):
        return ["percutaneous", "endoscopic"]
    if "scop" in word and word.startswith(_NATURAL_OPENING) or word in ("egd", "ercp", "endoscopy", "endoscopic"):
        return ["natural", "artificial", "endoscopic"]
    return []


_CM_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?\.?$")
_PCS_SHAPE = re.compile(r"^[0-9BCDFGHX][0-9A-HJ-NP-Z]{2,6}$")
_OTHER_SHAPE = re.compile(r"^(?=.*[0-9])[A-Z0-9]{2,7}$")  # HCPCS J1100, CPT 99213, modifiers


def _negated(dterms, said) -> bool:
    """Whether a word the query says comes after "without" in these terms."""
    after = False
    for t in dterms:
        if t == _WITHOUT:
            after = True
        elif after and t in said:
            return True
    return False


class SearchError(ValueError):
    """A request the engine cannot answer as asked (bad limit, system, chapter or date)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class CodeRow(NamedTuple):
    code: str
    title: str
    billable: bool
    kind: str
    parent: str | None
    valid_from: str
    valid_to: str | None
    seq: int


@dataclass
class Query:
    text: str
    system: str | None
    slots: list[Slot] = field(default_factory=list)
    optional: set[str] = field(default_factory=set)       # stems that count when present
    stems: set[str] = field(default_factory=set)          # every stem the query says (for completing codes)
    laterality: set[str] = field(default_factory=set)
    corrections: list[tuple[str, str]] = field(default_factory=list)
    hints: list[tuple[str, str, str]] = field(default_factory=list)  # (system, code, label)


@dataclass
class Hit:
    system: str
    code: str
    title: str
    billable: bool
    score: float
    match: str

    def as_dict(self) -> dict:
        return {"system": self.system, "code": self.code, "title": self.title, "billable": self.billable,
                "score": round(self.score / 100.0, 4), "match": self.match}


def clean_query(q) -> str:
    """The query as the engine reads it: text only, no control characters, bounded length."""
    if q is None:
        return ""
    q = str(q)[:MAX_QUERY_CHARS * 2]
    q = "".join(ch if ch.isprintable() else " " for ch in q)
    q = q.encode("utf-8", "replace").decode("utf-8")  # lone surrogates
    return " ".join(q.split())[:MAX_QUERY_CHARS]


def check_limit(limit) -> int:
    try:
        n = int(limit)
    except (TypeError, ValueError):
        raise SearchError("bad_limit", f"limit must be a whole number from 1 to {MAX_LIMIT}") from None
    if not 1 <= n <= MAX_LIMIT:
        raise SearchError("bad_limit", f"limit is {n}; it must be from 1 to {MAX_LIMIT}")
    return n


class Engine:
    """Search over one open Book. Thread-safe; caches what it reads of the book."""

    CACHE_MAX = 100_000
    CANDIDATES = 40          # documents read per system for the whole query (the shortest first)
    RELAX_BELOW = 15         # fewer than this: also read documents missing one slot
    RELAXED_CANDIDATES = 40

    def __init__(self, book, backend: str | None = None, synonyms=None):
        self.book = book
        self.backend = backend_class(backend)(book)
        self._synonyms = synonyms
        self._versions: dict[tuple[str, str], tuple[CodeRow, ...]] = {}
        self._children: dict[tuple[str, str], tuple[CodeRow, ...]] = {}
        self._prefix: dict[str, tuple[CodeRow, ...]] = {}
        self._kid_terms: dict[tuple, tuple] = {}
        self._pcs_pools: dict[tuple, tuple] = {}
        self._followed: dict[tuple[str, str], tuple | None] = {}
        self._navigators: dict[str, object] = {}
        self._lock = threading.Lock()

    @property
    def synonyms(self):
        """The curated table, with the index's own "see" redirects for words it does not cover."""
        if self._synonyms is None:
            table = synonym_table.load()
            try:
                rows = self.backend.redirects()
            except Exception:
                rows = []
            self._synonyms = table.with_fallback([synonym_table.redirect(*r) for r in rows])
        return self._synonyms

    # --- the book, cached --------------------------------------------------------------------
    def _remember(self, cache: dict, key, value):
        if len(cache) > self.CACHE_MAX:
            for old in list(cache)[:len(cache) // 2]:  # the oldest half
                cache.pop(old, None)
        cache[key] = value
        return value

    def versions(self, system: str, code: str) -> tuple[CodeRow, ...]:
        key = (system, code)
        found = self._versions.get(key)
        if found is None:
            rows = self.book.db.execute(
                "SELECT code,title,billable,kind,parent,valid_from,valid_to,seq FROM codes WHERE system=? AND code=? "
                "ORDER BY valid_from", key).fetchall()
            found = self._remember(self._versions, key, tuple(CodeRow(r[0], r[1], bool(r[2]), *r[3:]) for r in rows))
        return found

    @staticmethod
    def _active(rows, d: str):
        for r in rows:
            if r.valid_from <= d and (r.valid_to is None or d <= r.valid_to):
                return r
        return None

    def info(self, system: str, code: str, d: str) -> CodeRow | None:
        return self._active(self.versions(system, code), d)

    def children(self, system: str, code: str, d: str) -> list[CodeRow]:
        key = (system, code)
        rows = self._children.get(key)
        if rows is None:
            got = self.book.db.execute(
                "SELECT code,title,billable,kind,parent,valid_from,valid_to,seq FROM codes WHERE system=? AND parent=? "
                "ORDER BY seq", key).fetchall()
            rows = self._remember(self._children, key, tuple(CodeRow(r[0], r[1], bool(r[2]), *r[3:]) for r in got))
        return [r for r in rows if r.valid_from <= d and (r.valid_to is None or d <= r.valid_to)]

    def pcs_codes(self, prefix: str, d: str) -> list[CodeRow]:
        rows = self._prefix.get(prefix)
        if rows is None:
            got = self.book.db.execute(
                "SELECT code,title,billable,kind,parent,valid_from,valid_to,seq FROM codes WHERE system='icd10pcs' "
                "AND code>=? AND code<? AND kind='code' ORDER BY code LIMIT 3000", (prefix, prefix + "~")).fetchall()
            rows = self._remember(self._prefix, prefix, tuple(CodeRow(r[0], r[1], bool(r[2]), *r[3:]) for r in got))
        return [r for r in rows if r.valid_from <= d and (r.valid_to is None or d <= r.valid_to)]

    def code_range(self, system: str, key: str, d: str, limit: int) -> list[CodeRow]:
        """Codes that start with `key` (not `key` itself), in tabular order."""
        rows = self.book.db.execute(
            "SELECT code,title,billable,kind,parent,valid_from,valid_to,seq FROM codes WHERE system=? AND code>? "
            "AND code<? AND valid_from<=? AND (valid_to IS NULL OR valid_to>=?) AND kind NOT IN ('chapter','block') "
            "ORDER BY seq LIMIT ?", (system, key, key + "~", d, d, limit)).fetchall()
        return [CodeRow(r[0], r[1], bool(r[2]), *r[3:]) for r in rows]

    def follow(self, source: str, path: str):
        """(index_terms id, whole) of the entry an index path names, or None."""
        key = (source, path)
        if key in self._followed:
            return self._followed[key]
        from medcode.codebook.sources.icd10cm_index import Navigator

        with self._lock:
            nav = self._navigators.get(source)
            if nav is None:
                nav = self._navigators[source] = Navigator(self.book.db, source)
            try:
                found = nav.follow(path)
            except Exception:  # a malformed path in the table must not break a search
                found = None
        result = (found.row_id, not found.rest) if found is not None else None
        return self._remember(self._followed, key, result)

    # --- entry point -------------------------------------------------------------------------
    def search(self, q, system: str | None = None, limit=DEFAULT_LIMIT, billable: bool | None = None,
               chapter: str | None = None, date=None) -> dict:
        limit = check_limit(limit)
        systems = self._systems(system)
        try:
            d = parse_date(date).isoformat()
        except BadDate as exc:
            raise SearchError("bad_date", str(exc)) from None
        chapter = self._chapter(chapter, systems)
        if not self.backend.available():
            raise BookMissing(f"{getattr(self.book, 'path', 'the codebook')} has no search index: run "
                              "`medcode data build`")
        text = clean_query(q)
        response = {"query": text, "corrected_query": None, "results": []}
        if not text or not systems:
            return response
        hits = self._code_hits(text, systems, d, limit, chapter)
        if hits is None:
            query = self.parse(text, systems[0] if len(systems) == 1 else None)
            if query.corrections:
                response["corrected_query"] = self._corrected(text, query.corrections)
            hits = self._text_hits(query, systems, d, chapter, limit)
        if billable is not None:
            hits = [h for h in hits if h.billable == billable]
        response["results"] = [h.as_dict() for h in hits[:limit]]
        return response

    def _systems(self, system) -> list[str]:
        held = self.book.systems()
        if system in (None, "", "all"):
            return [s for s in held if s in (ICD10CM, ICD10PCS)] + [s for s in held if s not in (ICD10CM, ICD10PCS)]
        try:
            name = system_name(str(system))
        except UnknownSystem:
            raise SearchError("bad_system", f"unknown code system {system!r}; use one of: all, "
                                            f"{', '.join(SYSTEMS)}") from None
        return [name] if name in held else []

    @staticmethod
    def _chapter(chapter, systems) -> str | None:
        if chapter in (None, ""):
            return None
        text = str(chapter).strip().upper()
        if ICD10CM in systems and text.isdigit() and 1 <= int(text) <= 22:
            return str(int(text))
        if ICD10PCS in systems and len(text) == 1 and text in "0123456789BCDFGHX":
            return text
        raise SearchError("bad_chapter", f"chapter {chapter!r} is not an ICD-10-CM chapter number (1-22) or an "
                                         "ICD-10-PCS section character")

    # --- codes typed as codes ----------------------------------------------------------------
    def _code_hits(self, text: str, systems, d: str, limit: int, chapter) -> list[Hit] | None:
        raw = text.strip().upper()
        if " " in raw or len(raw) > 9:
            return None
        hits: list[Hit] = []
        for system in systems:
            if system == ICD10CM and _CM_SHAPE.match(raw):
                key = normalize(raw.rstrip("."), ICD10CM)
            elif system == ICD10PCS and _PCS_SHAPE.match(raw) and any(c.isdigit() for c in raw):
                key = raw
            elif system not in (ICD10CM, ICD10PCS) and _OTHER_SHAPE.match(raw):
                key = normalize(raw, system)
            else:
                continue
            exact = self.info(system, key, d)
            if exact is not None and exact.kind not in ("chapter", "block"):
                hits.append(Hit(system, exact.code, exact.title, exact.billable, 100.0, "code"))
            for n, row in enumerate(self.code_range(system, key, d, limit + 1)):
                hits.append(Hit(system, row.code, row.title, row.billable, 90.0 - n * 0.01, f"code prefix: {key}"))
        if chapter is not None:
            hits = [h for h in hits if self._chapter_of(h.system, h.code, d) == chapter]
        return hits or None

    def _chapter_of(self, system: str, code: str, d: str) -> str | None:
        if system == ICD10PCS:
            return code[:1]
        cur = self.info(system, code, d)
        for _ in range(10):
            if cur is None:
                return None
            if cur.kind == "chapter":
                return cur.code
            cur = self.info(system, cur.parent, d) if cur.parent else None
        return None

    # --- understanding the words -------------------------------------------------------------
    def parse(self, text: str, system: str | None) -> Query:
        vocab = self.backend.vocabulary()
        query = Query(text, system)
        raw = words(text)
        typing = not text.endswith(" ") and bool(raw) and raw[-1] not in STOPWORDS
        tokens = [w for w in raw if w not in STOPWORDS][:MAX_TOKENS]
        pieces: list[tuple] = []   # (kind, words, entries|expansion, start, end)
        i = 0
        syn = self.synonyms
        while i < len(tokens):
            found = None
            for size in range(min(syn.longest, len(tokens) - i), 0, -1):
                key = tuple(tokens[i:i + size])
                entries = syn.lookup(key, system)
                if entries:
                    found = (key, entries)
                    break
            if found is None:
                pieces.append(("word", (tokens[i],), None, i, i + 1))
                i += 1
                continue
            key, entries = found
            full = [e for e in entries if not e.shorthand]
            if full:
                pieces.append(("syn", key, full, i, i + len(key)))
            else:
                expansion = words(entries[0].targets[0].path)
                steer = [w for w in expansion if w in LATERALITY or w in ENCOUNTER]
                if steer or all(w in STOPWORDS for w in expansion):
                    pieces.extend(("word", (w,), None, i, i + len(key)) for w in expansion)
                else:
                    pieces.append(("short", key, expansion, i, i + len(key)))
            i += len(key)

        for w in raw:
            query.stems.update(stem(h) for h in pcs_hints(w))
        spans: list[tuple[int, int]] = []   # the tokens each slot stands for
        last = len(pieces) - 1
        for n, (kind, key, payload, start, end) in enumerate(pieces):
            before = len(query.slots)
            if kind == "syn":
                self._synonym_slot(query, key, payload, vocab)
            elif kind == "short":
                expanded = tuple(Term(stem(w)) for w in payload if w not in STOPWORDS)
                original = tuple(Term(stem(w)) for w in key if w not in STOPWORDS)
                alts = list(dict.fromkeys(Alt(t) for t in (original, expanded) if t))
                weight = max((vocab.idf(t.text) for t in expanded), default=4.0)
                query.slots.append(Slot(alts, self._clip(weight), " ".join(key), "word"))
                query.stems.update(stem(w) for w in (*key, *payload))
            else:
                self._word_slot(query, key[0], vocab, typing and n == last)
            spans.extend([(start, end)] * (len(query.slots) - before))

        # an entry that overlaps the ones chosen ("blood clot" | "clot in leg") adds its meaning
        # to the slots it overlaps
        chosen = {(p[3], p[4]) for p in pieces if p[0] == "syn"}
        for i in range(len(tokens)):
            for size in range(2, min(syn.longest, len(tokens) - i) + 1):
                if (i, i + size) in chosen:
                    continue
                entries = [e for e in syn.lookup(tuple(tokens[i:i + size]), system) if not e.shorthand]
                if not entries:
                    continue
                hit = [k for k, (a, b) in enumerate(spans) if a < i + size and i < b]
                if not hit:
                    continue
                extra = self._synonym_slot(Query(text, system), tuple(tokens[i:i + size]), entries, vocab, build=True)
                for k in hit:
                    slot = query.slots[k]
                    slot.alts = list(dict.fromkeys(slot.alts + [a for a in extra.alts if a.terms]))
                    if slot.kind != "synonym":
                        slot.weight = max(slot.weight, 4.0)
                query.slots[hit[0]].pins.extend(extra.pins)
                query.stems.update(t.text for a in extra.alts for t in a.terms)
        return query

    @staticmethod
    def _clip(weight: float) -> float:
        return min(10.0, max(1.0, weight))

    def _word_slot(self, query: Query, word: str, vocab, typing: bool) -> None:
        if word in STOPWORDS:
            return
        s = stem(word)
        if word in LATERALITY:
            query.laterality.add(LATERALITY[word])
            query.optional.add(s)
            query.stems.add(s)
            return
        if word in ENCOUNTER or word in WEAK:
            query.optional.add(s)
            query.stems.add(s)
            return
        if word.isdigit() or len(word) == 1:
            query.slots.append(Slot([Alt((Term(s),))], self._clip(vocab.idf(s)), word, "number"))
            query.stems.add(s)
            return
        if word in vocab or word in self.synonyms.vocabulary:
            alts = [Alt((Term(s),))]
            if typing and len(word) >= 3:  # perhaps not finished: "colon" may become colonoscopy
                alts.append(Alt((self._prefix_term(word, vocab),), value=0.6))
            query.slots.append(Slot(alts, self._clip(vocab.idf(s)), word, "word"))
            query.stems.add(s)
            return
        completions = vocab.completions(word) if len(word) >= 2 else []
        if completions:
            if len(word) <= self.SHORT_PREFIX:
                completions = vocab.top_completions(word, self.SHORT_COMPLETIONS)
            term = self._prefix_term(word, vocab, completions)
            df = sum(vocab.df.get(w, 0) for w in completions)
            weight = self._clip(math.log((vocab.documents + 1) / (df + 1)))
            query.slots.append(Slot([Alt((term,))], weight, word, "prefix"))
            query.stems.update(vocab.stem_of[w] for w in completions[:20])
            return
        fixed = self.correct(word, vocab)
        if fixed is None:
            return  # an unknown word: nothing can match it
        query.corrections.append((word, fixed))
        entries = self.synonyms.lookup((fixed,), query.system)
        full = [e for e in entries if not e.shorthand]
        if full:
            self._synonym_slot(query, (fixed,), full, vocab)
            return
        fs = stem(fixed)
        query.slots.append(Slot([Alt((Term(fs),))], self._clip(vocab.idf(fs)), word, "typo"))
        query.stems.add(fs)

    SHORT_PREFIX = 3        # a prefix this short stands for its commonest completions only
    SHORT_COMPLETIONS = 12

    def _prefix_term(self, word: str, vocab, completions=None) -> Term:
        completions = completions if completions is not None else vocab.completions(word)
        if len(word) <= self.SHORT_PREFIX:
            common = vocab.top_completions(word, self.SHORT_COMPLETIONS)
            return Term(word, prefix=True, also=frozenset(vocab.stem_of[w] for w in common), wildcard=False)
        also = frozenset(vocab.stem_of[w] for w in completions if not vocab.stem_of[w].startswith(word))
        return Term(word, prefix=True, also=also)

    def _synonym_slot(self, query: Query, key: tuple, entries, vocab, build: bool = False) -> Slot:
        alts: list[Alt] = []
        original = tuple(Term(stem(w)) for w in key if w not in STOPWORDS)
        if original and all(w in vocab for w in key if w not in STOPWORDS):
            alts.append(Alt(original))
        pins = []
        for entry in entries:
            for target in entry.targets:
                target_words = [w for w in words(target.path) if w not in STOPWORDS]
                if target_words:
                    alts.append(Alt(tuple(Term(stem(w)) for w in target_words)))
                    query.stems.update(stem(w) for w in target_words)
                    for w in target_words:  # laterality said by the expansion steers too
                        if w in LATERALITY:
                            query.laterality.add(LATERALITY[w])
                if target.hint:
                    query.stems.update(stem(w) for w in words(target.hint))
                pins.append(target)
            for code in entry.code_hints:
                query.hints.append((entry.system, code, f"synonym: {entry.term}"))
        query.stems.update(stem(w) for w in key)
        if len(key) > 1:
            # word by word: "breast cancer" is also breast + what "cancer" stands for (Neoplasm, malignant)
            parts, changed = [], False
            for w in key:
                single = [e for e in self.synonyms.lookup((w,), query.system) if not e.shorthand]
                target = single[0].targets[0] if single and single[0].targets else None
                if target is not None and target.source in ("index", "neoplasm", "pcs_index"):
                    parts.extend(x for x in words(target.path) if x not in STOPWORDS)
                    changed = True
                elif w not in STOPWORDS:
                    parts.append(w)
            if changed and parts:
                alts.append(Alt(tuple(Term(t) for t in dict.fromkeys(stem(x) for x in parts))))
        # drop alternatives that repeat another
        unique = list(dict.fromkeys(alts))
        slot = Slot(unique or [Alt(original)], 7.0, " ".join(key), "synonym", pins)
        if not build:
            query.slots.append(slot)
        return slot

    def correct(self, word: str, vocab) -> str | None:
        """The vocabulary word closest to a misspelling, or None when nothing is close enough."""
        if len(word) < 4 or not word.isalpha() or word in vocab.known:
            return None
        from rapidfuzz import process
        from rapidfuzz.distance import OSA, Indel

        limit = 1 if len(word) <= 5 else 2 if len(word) <= 9 else 3
        lo, hi = len(word) - limit, len(word) + limit
        best = None
        for pool in (vocab.by_initial.get(word[0], []), vocab.sorted):
            choices = [w for w in pool if lo <= len(w) <= hi]
            found = process.extract(word, choices, scorer=OSA.distance, score_cutoff=limit, limit=25)
            if len(word) <= 5:  # a short word: a dropped, added or swapped letter, not another word
                found = [f for f in found if len(f[0]) != len(word) or sorted(f[0]) == sorted(word)]
            if found:
                # fewest edits; then the closest by insertions and deletions (a dropped letter is the
                # commonest slip: "sciatia" is sciatica before sciatic); then the commoner word
                best = min(found, key=lambda f: (f[1], -Indel.normalized_similarity(word, f[0]),
                                                 -vocab.df.get(f[0], 0)))[0]
                break
            if len(word) < 6:
                break  # a short word with a different first letter is a different word
        return best

    @staticmethod
    def _corrected(text: str, corrections) -> str:
        out = text
        for wrong, right in corrections:
            out = re.sub(rf"(?i)(?<![a-z0-9]){re.escape(wrong)}(?![a-z0-9])", right, out, count=1)
            if right not in fold(out):  # the typed form differed (accents, apostrophes): say it plainly
                out = out + f" ({right})"
        return out

    # --- finding and ranking -----------------------------------------------------------------
    def _text_hits(self, query: Query, systems, d: str, chapter, limit: int = DEFAULT_LIMIT) -> list[Hit]:
        if not query.slots and not query.optional and not query.hints:
            return []
        slots = query.slots or [Slot([Alt((Term(s),))], 1.0, s, "word") for s in sorted(query.optional)]
        docs: dict[int, DocRow] = {}

        def run(subsets, limit):
            for system in systems:
                tags = (tag("c", system + chapter),) if chapter is not None else ()
                exprs = [Expr(tuple(subset), tags, system) for subset in subsets]
                for row in self.backend.candidates_any(exprs, limit):
                    docs[row.id] = row

        run([slots], self.CANDIDATES)
        if len(docs) < self.RELAX_BELOW and len(slots) >= 2:
            # too few documents say everything: also those that say all but one thing
            order = sorted(range(len(slots)), key=lambda k: slots[k].weight)[:6]
            run([[s for j, s in enumerate(slots) if j != k] for k in order], self.RELAXED_CANDIDATES)
            if len(docs) < self.RELAX_BELOW and len(slots) >= 3:
                run([[slots[k]] for k in sorted(range(len(slots)), key=lambda k: -slots[k].weight)[:2]],
                    self.RELAXED_CANDIDATES)
        pinned: dict[int, float] = {}
        pinned_children: dict[int, float] = {}
        pin_columns: dict[int, str] = {}
        for slot in slots:
            for target in slot.pins:
                if target.source in ("words", "pcs_use"):
                    continue
                found = self.follow(target.source, target.path)
                if found is None:
                    continue
                ref, whole = found
                strength = 1.0 if whole else 0.5
                pinned[ref] = max(pinned.get(ref, 0.0), strength)
                pinned_children[ref] = max(pinned_children.get(ref, 0.0), strength)
                if target.column:
                    pin_columns[ref] = target.column
        if pinned:
            for row in self.backend.docs_by_ref(pinned):
                docs.setdefault(row.id, row)
            for row in self.backend.docs_by_ref(pinned_children, children=True):
                docs.setdefault(row.id, row)

        allowed = set(systems)
        parts = []
        said = [False] * len(slots)
        for row in docs.values():
            if row.system not in allowed:
                continue
            if chapter is not None and row.chapter != chapter:
                continue
            got, base, per_coverage, values, precision = self._score(row, slots, query, pinned, pinned_children,
                                                                     pin_columns)
            parts.append((row, got, base, per_coverage, values, precision))
            for k, v in enumerate(values):
                if v:
                    said[k] = True
        # a word no document has (an unknown name, a stray letter) dilutes nothing
        total = sum(s.weight for s, ok in zip(slots, said) if ok) or sum(s.weight for s in slots) or 1.0
        best: dict[tuple[str, str], tuple[float, DocRow]] = {}
        for row, got, base, per_coverage, values, precision in parts:
            coverage = got / total
            score = base + (100.0 + per_coverage) * coverage
            if coverage > 0.999 and precision > 0.999:
                score += 10.0  # says exactly what the query says
            key = (row.system, row.code)
            if key not in best or score > best[key][0]:
                best[key] = (score, row, values)
        ranked = sorted(best.values(), key=lambda p: (-p[0], p[1].id))[:max(12, limit + 4)]

        out: dict[tuple[str, str], Hit] = {}

        def offer(system, row: CodeRow, score, match):
            key = (system, row.code)
            if key not in out or score > out[key].score:
                out[key] = Hit(system, row.code, row.title, row.billable, score, match)

        for score, doc, values in ranked:
            label = "title" if doc.source == "title" else doc.label
            for row, penalty in self.complete(doc.system, doc.code, d, query):
                bonus = self._completion_bonus(row, slots, values, total) if row.code != doc.code else 0.0
                offer(doc.system, row, score - penalty + bonus, label)
        for system, code, label in query.hints:
            for sys_id in ([system] if system in allowed else [s for s in systems if system == "any"]):
                row = self.info(sys_id, normalize(code, sys_id), d)
                if row is not None:
                    top = max((h.score for h in out.values()), default=100.0)
                    offer(sys_id, row, top - 1.0, label)
        hits = list(out.values())
        if chapter is not None:
            hits = [h for h in hits if self._chapter_of(h.system, h.code, d) == chapter]
        hits.sort(key=lambda h: (-h.score, not h.billable, h.code))
        return hits

    @staticmethod
    def _slot_value(slot: Slot, dterms, dset, eset, hits: set | None = None, side: float = 0.9,
                    aset=None) -> float:
        """How well a document's terms satisfy a slot: 1 in its essential words, `side` when a
        word is only in a nonessential modifier or a table's column heading, else 0."""
        best = 0.0
        best_hits = ()
        for alt in slot.alts:
            plain = alt.plain
            if plain <= dset:
                value = alt.value
            elif eset and plain <= (aset if aset is not None else dset | eset):
                value = side * alt.value
            else:
                continue
            found = list(plain & dset)
            for term in alt.prefixes:
                hit = next((t for t in dterms if term.matches(t)), None)
                if hit is not None:
                    found.append(hit)
                elif eset and any(term.matches(t) for t in eset):
                    value = min(value, side)
                else:
                    value = 0.0
                    break
            if value > best:
                best, best_hits = value, found
                if best == 1.0:
                    break
        if hits is not None and best_hits:
            hits.update(best_hits)
        return best

    def _score(self, row: DocRow, slots, query: Query, pinned, pinned_children, pin_columns):
        """(weight of the slots matched, score apart from coverage, points per unit of coverage
        on top of 100, each slot's value) of one document."""
        dterms = row.terms.split()
        dset = set(dterms)
        eset = set(row.extra.split()) if row.extra else ()
        aset = dset | eset if eset else dset
        matched: set[str] = set()
        side = 1.0 if row.source in ("drug", "neoplasm") else 0.9  # a table's column heading is essential
        slot_value = self._slot_value
        values = [slot_value(slot, dterms, dset, eset, matched, side, aset) for slot in slots]
        got = 0.0
        for v, slot in zip(values, slots):
            if v:
                got += v * slot.weight
        matched.update(query.optional & dset)
        precision = len(matched & dset) / len(dset) if dset else 0.0
        score = 30.0 * precision + SOURCE_BONUS.get(row.source, 0.0)
        per_coverage = 0.0
        if row.source in ("index", "pcs_index", "eindex", "drug", "neoplasm") and dterms and dterms[0] in matched:
            score += 4.0
        if row.rank and row.source in ("drug", "neoplasm") and not (query.stems & set(eset)):
            score -= 1.5 * row.rank
        if row.ref in pinned:
            per_coverage += 25.0 * pinned[row.ref]
            column = pin_columns.get(row.ref)
            if column and column.lower() not in row.label.lower():
                score -= 20.0
        elif row.parent_ref in pinned_children:
            per_coverage += 10.0 * pinned_children[row.parent_ref]
        if query.laterality:
            sides = {_LAT_STEMS[t] for t in dset if t in _LAT_STEMS} & _LAT_WORDS
            if sides and not sides & query.laterality:
                score -= 15.0
        if _WITHOUT in dset and _WITHOUT not in query.stems and _negated(dterms, matched):
            score -= 25.0  # "Without IOL implant" for "with IOL implant"
        if row.system == ICD10PCS and row.code[:1] == "0" and row.code[2:3] == "J" and not all(values):
            # PCS guideline B3.11a: an inspection done to perform another procedure is not coded;
            # a scope named beside another procedure is its approach
            score -= 15.0
        return got, score, per_coverage, values, precision

    def _completion_bonus(self, row: CodeRow, slots, values, total: float) -> float:
        """Words of the query a completed code's own title says that its document did not: the index
        gave 0DB, the table adds sigmoid colon."""
        missing = [(k, s) for k, s in enumerate(slots) if values[k] < 1.0]
        if not missing:
            return 0.0
        tterms = terms(row.title)
        tset = set(tterms)
        gained = sum(s.weight * max(0.0, self._slot_value(s, tterms, tset, ()) - values[k]) for k, s in missing)
        return 60.0 * gained / total

    # --- completing a code -------------------------------------------------------------------
    def complete(self, system: str, code: str, d: str, query: Query) -> list[tuple[CodeRow, float]]:
        """The billable code a document's code leads to on the date, with the header and the
        next-best children after it: [(row, penalty)], best first. [] when nothing is valid."""
        if system == ICD10PCS:
            return self._complete_pcs(code, d, query)
        base = code.rstrip("-").rstrip(".")
        start = self.info(system, base, d)
        if start is None:
            return []
        if start.billable:
            out = [(start, 0.0)]
            if start.parent and not start.kind == "extension":
                parent = self.info(system, start.parent, d)
                if parent is not None and parent.kind in ("category", "subcategory"):
                    out.append((parent, PARENT_PENALTY))
            return out
        cur = start
        siblings: list[CodeRow] = []
        for _depth in range(6):
            if cur.billable:
                break
            kids = self._kids(system, cur.code, d)
            if not kids:
                return [(start, HEADER_PENALTY)]
            ranked = self._rank_children(kids, query)
            siblings = ranked[1:3]
            cur = ranked[0]
        if not cur.billable:
            return [(start, HEADER_PENALTY)]
        out = [(cur, 0.0), (start, HEADER_PENALTY)]
        out += [(s, SIBLING_PENALTY + n) for n, s in enumerate(siblings)]
        return out

    def _kids(self, system: str, code: str, d: str) -> tuple:
        """A header's children on the date, each with the words its title adds to the header's."""
        key = (system, code, d)
        found = self._kid_terms.get(key)
        if found is None:
            parent = self.info(system, code, d)
            parent_terms = set(terms(parent.title)) if parent else set()
            found = tuple((kid, tuple(t for t in terms(kid.title) if t not in parent_terms))
                          for kid in self.children(system, code, d))
            self._remember(self._kid_terms, key, found)
        return found

    @staticmethod
    def _rank_children(kids, query: Query) -> list[CodeRow]:
        scored = []
        for n, (kid, own) in enumerate(kids):
            score = -5.0 if (_WITHOUT in own and _WITHOUT not in query.stems and _negated(own, query.stems)) else 0.0
            for t in own:
                if t in query.stems:
                    score += 3.0 if t in _LAT_STEMS else 2.0
                elif t in _LAT_STEMS and _LAT_STEMS[t] in _LAT_WORDS:
                    score -= 5.0 if query.laterality else 1.0
                elif kid.kind == "extension":
                    continue
                elif t == _UNSPEC:
                    score += 0.5
                elif t == _WITHOUT:
                    score += 0.3
                elif t in _OTHER:
                    score -= 0.5
                else:
                    score -= 0.1
            scored.append((-score, n, kid))
        scored.sort()
        return [k for _s, _n, k in scored]

    def _pcs_pool(self, prefix: str, d: str):
        """The codes under a PCS prefix on the date, with their title terms indexed for completing."""
        key = (prefix, d)
        pool = self._pcs_pools.get(key)
        if pool is None:
            rows = self.pcs_codes(prefix, d)
            tsets = [frozenset(terms(r.title)) for r in rows]
            inverted: dict[str, list[int]] = {}
            for i, tset in enumerate(tsets):
                for t in tset:
                    inverted.setdefault(t, []).append(i)
            # among equals, the device and qualifier values most of the table uses (Synthetic
            # Substitute, No Qualifier) before the rare ones (Intraocular Telescope)
            share6 = Counter(r.code[5:6] for r in rows)
            share7 = Counter(r.code[6:7] for r in rows)
            n = max(1, len(rows))
            base = []
            for row, tset in zip(rows, tsets):
                sides = {_LAT_STEMS[x] for x in tset if x in _LAT_STEMS} & _LAT_WORDS
                prior = -0.05 * len(tset) + 0.2 * share6[row.code[5:6]] / n + 0.2 * share7[row.code[6:7]] / n
                base.append((prior, frozenset(sides), bool(tset & _DIAG)))
            pool = self._remember(self._pcs_pools, key, (rows, inverted, base))
        return pool

    def _complete_pcs(self, code: str, d: str, query: Query) -> list[tuple[CodeRow, float]]:
        if len(code) == 7:
            row = self.info(ICD10PCS, code, d)
            return [(row, 0.0)] if row is not None else []
        rows, inverted, base = self._pcs_pool(code, d)
        if not rows:
            return []
        scores = [b[0] for b in base]
        for s in query.stems:
            for i in inverted.get(s, ()):
                scores[i] += 2.0
        diagnostic = bool(query.stems & _DIAG)
        for i, (_b, sides, diag) in enumerate(base):
            if query.laterality and sides and not sides & query.laterality:
                scores[i] -= 5.0
            if diag and not diagnostic:
                scores[i] -= 1.0
        top = heapq.nsmallest(3, range(len(rows)), key=lambda i: (-scores[i], rows[i].code))
        out = [(rows[top[0]], 0.0)]
        out += [(rows[i], SIBLING_PENALTY + n) for n, i in enumerate(top[1:])]
        if len(code) == 3:
            table = self.info(ICD10PCS, code, d)
            if table is not None:
                out.append((table, HEADER_PENALTY + 4))
        return out


# --- one engine per open book -------------------------------------------------------------------
_engines: dict[tuple, Engine] = {}
_engines_lock = threading.Lock()


def engine_for(book, backend: str | None = None) -> Engine:
    key = (id(book), getattr(book, "identity", None), backend)
    found = _engines.get(key)
    if found is None or found.book is not book:
        with _engines_lock:
            found = _engines.get(key)
            if found is None or found.book is not book:
                if len(_engines) > 8:
                    _engines.clear()
                found = _engines[key] = Engine(book, backend)
    return found


def search(book, q, *, system: str | None = None, limit=DEFAULT_LIMIT, billable: bool | None = None,
           chapter: str | None = None, date: Date | str | None = None, backend: str | None = None) -> dict:
    """Search the book: {"query", "corrected_query", "results": [{system, code, title, billable, score,
    match}]}. Raises SearchError for a bad limit, system, chapter or date; any query text is accepted."""
    return engine_for(book, backend).search(q, system=system, limit=limit, billable=billable, chapter=chapter,
                                            date=date)
