"""A clinical note as tokens with character offsets, sections, clauses and expanded shorthand.

Every token keeps the exact span it came from, so evidence always slices the input. Chart
shorthand ("DM2", "CKD 3a", "s/p", "w/", "HTN") is expanded into the index's own words
(synonyms.tsv, the search module's curated table, plus lexicon.py); an expanded word carries the
span of the shorthand it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from medcode.search import synonyms as synonym_table
from medcode.search.text import STOPWORDS, fold, stem

from . import lexicon

# words that carry no concept of their own (kept in the token stream, skipped by matching)
FUNCTION = frozenset(STOPWORDS - {"no", "not", "without", "due"}) | {"a"}

_TOKEN = re.compile(r"\d+(?:[.,]\d+)+|[A-Za-z\u00C0-\u024F0-9]+(?:'[A-Za-z]+)?|\S", re.UNICODE)
_SHORTHAND = re.compile(
    r"(?<![A-Za-z0-9])(" + "|".join(sorted((re.escape(k).replace(r"\ ", r"\s*") for k in lexicon.SLASH_SHORTHAND),
                                         key=len, reverse=True))
    + r")(?![A-Za-z0-9])", re.IGNORECASE)
_HEADER = re.compile(r"(?:(?<=^)|(?<=[\n.;]))\s*([A-Za-z][A-Za-z /&-]{1,40}?)\s*:(?!\d)")


@dataclass(slots=True)
class Token:
    i: int                # position in the token list
    start: int            # span in the input
    end: int
    text: str             # the input's characters (for an expansion: the word it stands for)
    low: str              # folded lower case
    stem: str             # canonical stem ('' for punctuation)
    kind: str             # word | num | punct
    clause: int = 0       # clause number
    sentence: int = 0     # sentence number
    section: str = "other"
    virtual: bool = False  # a word an abbreviation stands for
    upper: bool = False   # written in capitals in the input

    @property
    def content(self) -> bool:
        return self.kind != "punct" and self.low not in FUNCTION


@dataclass
class Note:
    text: str
    tokens: list[Token]
    sections: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, kind) in characters
    clauses: list[tuple[int, int]] = field(default_factory=list)        # token ranges [a, b)

    def clause_tokens(self, c: int) -> list[Token]:
        a, b = self.clauses[c]
        return self.tokens[a:b]


# --- canonical stems -------------------------------------------------------------------------

@lru_cache(maxsize=50_000)
def canon(word: str) -> str:
    """The stem a word is compared by: search's stemmer, then the few spellings the index treats as
    one (renal/kidney, cardiac/heart, both/bilateral...)."""
    w = fold(word)
    w = lexicon.SPELLING.get(w, w)
    if w in lexicon.NO_STEM or (w.endswith("ism") and len(w) > 6):
        return w  # "alcoholism" is not "alcohol"
    s = stem(w) if w.isalpha() else w
    return _canon_stems().get(s, s)


@lru_cache(maxsize=1)
def _canon_stems() -> dict[str, str]:
    return {stem(a): stem(b) for a, b in lexicon.CANON_PAIRS if stem(a) != stem(b)}


def words_of(text: str) -> list[str]:
    """Content stems of a phrase, in order (function words dropped)."""
    out = []
    for m in _TOKEN.finditer(text or ""):
        w = fold(m.group(0))
        if not (w[0].isalnum()):
            continue
        for part in _split_alnum(w):
            if part in FUNCTION:
                continue
            out.append(canon(part))
    return out


_ALNUM = re.compile(r"[a-z]+|\d+(?:\.\d+)?")


def _split_alnum(w: str) -> list[str]:
    """'type2' -> type, 2; '3a' stays (a stage); 'covid-19' is split by the tokenizer already."""
    if re.fullmatch(r"\d[a-z]", w):
        return [w]
    return _ALNUM.findall(w) or [w]


# --- the synonym table -----------------------------------------------------------------------

@lru_cache(maxsize=1)
def _synonyms() -> dict[tuple[str, ...], tuple[list[str], str]]:
    """shorthand words -> (expansion words, kind). The search table's ICD-10-CM and 'any' entries,
    first meaning only, less the entries that are also everyday English words (lexicon)."""
    table = synonym_table.load()
    out: dict[tuple[str, ...], tuple[list[str], str]] = {}
    for entry in table.entries:
        if entry.system not in ("icd10cm", "any"):
            continue
        if entry.term in lexicon.SYNONYM_SKIP:
            continue
        target = entry.targets[0]
        if target.source in ("eindex", "pcs_index"):
            continue
        key = tuple(_raw_words(entry.term))
        if not key:
            continue
        expansion = target.path.replace(",", " ")
        if target.source == "drug":
            expansion = target.path
        out[key] = ([w for w in _raw_words(expansion)], entry.kind)
    for term, expansion in lexicon.EXTRA_SYNONYMS.items():
        out[tuple(_raw_words(term))] = (list(_raw_words(expansion)), "lexicon")
    for term, expansion in lexicon.SLASH_SHORTHAND.items():
        out[(" ".join(term.split()),)] = (list(_raw_words(expansion)), "shorthand")
    return out


def _raw_words(text: str) -> list[str]:
    text = fold(text)  # possessives off: "alzheimer's" -> alzheimer
    return [w for _s, _e, w in _plain(text, 0, len(text)) if w[0].isalnum()]


@lru_cache(maxsize=1)
def _synonym_firsts() -> frozenset:
    return frozenset(k[0] for k in _synonyms())


@lru_cache(maxsize=1)
def _synonym_lengths() -> tuple[int, ...]:
    return tuple(sorted({len(k) for k in _synonyms()}, reverse=True))


# --- tokenizing --------------------------------------------------------------------------------

def _raw_tokens(text: str) -> list[tuple[int, int, str]]:
    """(start, end, text) of words, numbers, slash shorthand ("s/p", "w/") and punctuation."""
    out: list[tuple[int, int, str]] = []
    pos = 0
    for m in _SHORTHAND.finditer(text):
        out.extend(_plain(text, pos, m.start()))
        out.append((m.start(), m.end(), m.group(0)))
        pos = m.end()
    out.extend(_plain(text, pos, len(text)))
    return out


def _plain(text: str, a: int, b: int) -> list[tuple[int, int, str]]:
    out = []
    for m in _TOKEN.finditer(text, a, b):
        word = m.group(0)
        # type2, DM2, G1P0: split letters and digits except stage-like "3a"
        if word[0].isalnum() and not word.isalpha() and not word.replace(",", "").replace(".", "").isdigit():
            if re.fullmatch(r"\d[A-Za-z]", word):
                out.append((m.start(), m.end(), word))
                continue
            for part in re.finditer(r"[A-Za-z]+|\d+", word):
                out.append((m.start() + part.start(), m.start() + part.end(), part.group(0)))
            continue
        out.append((m.start(), m.end(), word))
    return out


def _kind(word: str) -> str:
    if word[0].isdigit():
        return "num"
    if word[0].isalpha():
        return "word"
    if "/" in word and len(word) > 1:
        return "word"
    return "punct"


def tokenize(text: str) -> Note:
    raw = _raw_tokens(text)
    tokens: list[Token] = []
    syn = _synonyms()
    lengths = _synonym_lengths()
    firsts = _synonym_firsts()
    lows = [" ".join(fold(w).split()) if not w[:1].isalnum() or " " in w or "/" in w or "." in w else fold(w)
            for _s, _e, w in raw]
    lows = [re.sub(r"\.\s*", ". ", x) if "." in x and not x.replace(".", "").replace(",", "").isdigit() else x
            for x in lows]
    n = len(raw)
    k = 0
    while k < n:
        s, e, w = raw[k]
        if _kind(w) == "punct":
            tokens.append(Token(len(tokens), s, e, w, w, "", "punct"))
            k += 1
            continue
        hit = None
        # the words from k on, a hyphen written without spaces skipped ("well-child check")
        seq: list[int] = []
        j = k if lows[k] in firsts else n
        while j < n and len(seq) < lengths[0]:
            w2 = raw[j][2]
            if w2 == "-" and seq and j + 1 < n and raw[j - 1][1] == raw[j][0] and raw[j][1] == raw[j + 1][0]:
                j += 1
                continue
            if _kind(w2) == "punct" and "/" not in w2:
                break
            seq.append(j)
            j += 1
        for size in lengths:
            if size > len(seq):
                continue
            key = tuple(lows[x] for x in seq[:size])
            found = syn.get(key)
            if found is None:
                continue
            surface = text[raw[k][0]:raw[seq[size - 1]][1]]
            if key in lexicon.NEEDS_CAPITALS and not surface.isupper():
                continue
            if size == 1 and len(w) <= 2 and not w.isupper() and found[1] == "abbrev":
                continue
            hit = (seq[size - 1] - k + 1, found[0])
            break
        if hit:
            size, expansion = hit
            s2, e2 = raw[k][0], raw[k + size - 1][1]
            upper = text[s2:e2].isupper()
            nearby = {lows[j] for j in range(k + size, min(n, k + size + 2))} | \
                {lows[j] for j in range(max(0, k - 2), k)}
            # "Alzheimer's disease": the expansion's "disease" is already written next to it
            expansion = [w for w in expansion if w not in nearby] or expansion
            for word in expansion:
                tokens.append(Token(len(tokens), s2, e2, word, word, canon(word), _kind(word), virtual=True,
                                    upper=upper))
            k += size
            continue
        low = lows[k]
        kind = _kind(w)
        st = canon(low) if kind == "word" else low.replace(",", "")
        tokens.append(Token(len(tokens), s, e, w, low, st, kind, upper=w.isupper() and len(w) > 1))
        k += 1
    note = Note(text, tokens)
    _sections(note)
    _clauses(note)
    return note


# --- sections, sentences and clauses -------------------------------------------------------------

def _section_kind(label: str) -> str | None:
    low = " ".join(label.lower().split())
    for kind, names in lexicon.SECTIONS.items():
        if low in names:
            return kind
    for kind in ("assessment", "exam", "findings", "complaint"):
        if any(low.endswith(" " + name) for name in lexicon.SECTIONS[kind] if len(name) > 3):
            return kind
    return None


def _sections(note: Note) -> None:
    """Header words before a colon ("Assessment:", "Final diagnosis:", "PMH:") open a section."""
    marks: list[tuple[int, str]] = [(0, "other")]
    for m in _HEADER.finditer(note.text):
        kind = _section_kind(m.group(1))
        if kind:  # an unknown label ("Hyperlipidemia: continue atorvastatin") stays in its section
            marks.append((m.end(), kind))
    spans = []
    for j, (pos, kind) in enumerate(marks):
        end = marks[j + 1][0] if j + 1 < len(marks) else len(note.text)
        spans.append((pos, end, kind))
    note.sections = spans
    j = 0
    for t in note.tokens:
        while j + 1 < len(spans) and t.start >= spans[j + 1][0]:
            j += 1
        t.section = spans[j][2]


_ABBREV_DOT = frozenset({"dr", "mr", "mrs", "ms", "vs", "st", "no", "approx", "e", "g", "i", "pt", "hx", "dx"})


def _clauses(note: Note) -> None:
    """Sentences end at '.', '!', '?', a line break; clauses also at ';' and a header's ':'."""
    toks = note.tokens
    clause = sentence = 0
    start = 0
    ranges = []
    for t in toks:
        t.clause, t.sentence = clause, sentence
        end_sentence = end_clause = False
        if t.kind == "punct":
            if t.text in ".!?":
                prev = toks[t.i - 1] if t.i else None
                nxt = toks[t.i + 1] if t.i + 1 < len(toks) else None
                decimal = prev is not None and nxt is not None and prev.kind == "num" and nxt.kind == "num" \
                    and nxt.start == t.end
                abbrev = prev is not None and prev.low in _ABBREV_DOT and prev.end == t.start
                if not decimal and not abbrev:
                    end_sentence = True
            elif t.text in ";\u2022":
                end_clause = True
            elif t.text == ":":
                end_clause = True
        if t.i + 1 < len(toks) and "\n" in note.text[t.end:toks[t.i + 1].start]:
            end_sentence = True
        if end_sentence or end_clause:
            ranges.append((start, t.i + 1))
            start = t.i + 1
            clause += 1
            if end_sentence:
                sentence += 1
    if start < len(toks):
        ranges.append((start, len(toks)))
    note.clauses = ranges or [(0, 0)]
