"""Passage retrieval for guideline and policy questions, and the sentences that answer.

A question is read as *concepts*: its content words, each with the words the texts use for it
(medcode.assistant.expand: "htn" -> hypertension, "stroke" -> cerebrovascular). Passages come from the
book's bm25 index (any concept word) and are re-ranked by:
- how much of the question's weight (rare words weigh more) the passage holds, a concept counting when
  the passage says it in the question's words or in its expansion's;
- the section title: the share of the question it says, times how much of the title is about the
  question ("Consultation Services" is about consultations; a long title naming them once is less so),
  and the longest run of the question's own words it repeats ("code also", "incident to");
- the source the question points at (NCCI, Medicare manuals, ICD-10-CM or PCS guidelines).
The quote is chosen from the whole section: the sentences that cover the most question weight,
preferring the section's opening statement and never a bare cross-reference ("See Section ...").
"""

from __future__ import annotations

import math
import re
import sqlite3
from dataclasses import dataclass, field
from functools import lru_cache

from medcode.codebook.references import ICD10CM_GUIDELINES, NCCI_POLICY, Passage, query_terms
from medcode.search.text import stem

from .expand import Expansion, expand
from .text import STOP, clip_sentences, sentences, words

# words of a question that name the code set or ask for a meaning: they say nothing about which passage
GENERIC = frozenset({"icd", "icd10", "icd10cm", "cm", "10", "9", "mean", "means", "meaning", "code", "codes", "coded",
                     "coding", "official", "guideline", "guidelines", "fy2026", "fy2027", "rule", "rules", "difference",
                     "between", "vs", "versus", "explain", "ok", "okay", "does", "do", "need", "needed", "still",
                     "per", "according", "say", "says", "tell", "whats", "hows", "correct", "correctly", "proper",
                     "properly", "way", "right", "policy", "manual", "cms", "medicare", "ncci", "get", "use", "used",
                     "definition", "definitions", "define", "defined", "describe", "description", "mean", "stand"})
# words of section titles that do not narrow what a section is about
GENERIC_TITLE = frozenset({"services", "service", "general", "requirements", "requirement", "rules", "rule", "policy",
                           "policies", "guidelines", "guideline", "codes", "code", "coding", "definition", "definitions",
                           "defined", "use", "uses", "of", "for", "the", "and", "or", "a", "an", "to", "in", "on",
                           "with", "by", "billing", "payment", "claims", "claim", "instructions", "other", "certain",
                           "specific", "chapter", "section", "reporting", "assignment", "selection", "medicare",
                           "physician", "physicians", "note", "notes", "is", "as", "are", "be", "not"})
_CROSS_REF = re.compile(r"^\s*(?:see\b|refer\s+to\b|for\s+(?:more\s+)?(?:information|guidance|instructions?)\b.{0,60}"
                        r"\bsee\b)|^\s*\(?see\s+(?:section|guideline|chapter|§)", re.I)
_DEFINE_Q = re.compile(r"^\s*(?:what\s*(?:is|are|'s)\s+(?:a|an|the)?\b|whats\b|define\b|definition\s+of\b|meaning\s+of\b|"
                       r"what\s+does\s+.+\s+mean\b)|\b(?:meaning|means?|definition|stand\s+for|defined)\s*\??\s*$", re.I)
_DEFINES = re.compile(r"\b(?:is|are)\s+(?:a|an|the|defined|used|for|when|those|codes?)\b|\bmeans\b|\brefers?\s+to\b|"
                      r"\bdefine[sd]?\b|\bindicates?\b|\bdescribes?\b|\bto\s+(?:indicate|identify|report)\b", re.I)
_RULE = re.compile(r"\b(?:should|must|shall|assign|assigned|sequence[ds]?|report(?:ed)?|do\s+not|never|may\s+(?:be|only)|"
                   r"is\s+to\s+be|are\s+to\s+be|only\s+if|required?)\b", re.I)
_WHERE_Q = re.compile(r"\b(?:where|which\s+(?:section|chapter|guideline))\b", re.I)
_LETTER_CODES = re.compile(r"\b([a-z])[\s-]?codes?\b", re.I)  # "Z codes", "V codes", "E codes"


_SLASHED = re.compile(r"(?<![a-z0-9])([a-z])\s*[/&]\s*([a-z])(?![a-z0-9])", re.I)  # E/M, E&M


@lru_cache(maxsize=65536)
def key(word: str) -> str:
    """A word's matching key: its stem, cut to 7 characters ("uncertain" = "uncertainty", "diagnosis" =
    "diagnoses"); "E&M" is "e/m"."""
    m = _SLASHED.fullmatch(word.strip())
    if m:
        return f"{m.group(1)}/{m.group(2)}".lower()
    return stem(word.lower())[:7]


def keys_of(text: str) -> set[str]:
    out = {key(w) for w in words(text)}
    out.update(f"{a}/{b}".lower() for a, b in _SLASHED.findall(text or ""))
    return out


@dataclass
class Concept:
    term: str
    weight: float
    alts: list[str]  # expansion words that also say it
    extra: bool = False  # added by the caller (a code, its title's words), not asked


@dataclass
class Question:
    """What retrieval reads from a question: its concepts and weights."""

    text: str
    concepts: list[Concept]
    expansion: Expansion
    raw: list[str]
    title_words: set[str] = field(default_factory=set)  # keys a section title may repeat
    define: bool = False
    where: bool = False
    pairs: set[tuple[str, str]] = field(default_factory=set)  # adjacent words of the question ("new patient")

    @property
    def asked(self) -> float:
        """The weight of what the question itself says (a question of only common words says little)."""
        return sum(c.weight for c in self.concepts if not c.extra)

    @property
    def total(self) -> float:
        return sum(c.weight for c in self.concepts) or 1.0

    def coverage(self, have: set[str]) -> float:
        """Share of the question's weight a text (given as its keys) holds."""
        got = 0.0
        for c in self.concepts:
            if key(c.term) in have:
                got += c.weight
            elif any(key(a) in have for a in c.alts):
                got += 0.8 * c.weight
        return got / self.total

    def covered(self, have: set[str]) -> set[str]:
        return {c.term for c in self.concepts if key(c.term) in have or any(key(a) in have for a in c.alts)}

    def fts_terms(self) -> list[str]:
        out: list[str] = []
        for c in self.concepts:
            for t in [c.term, *c.alts]:
                for w in ([t] if "/" not in t and " " not in t else words(t)):
                    if w not in out and (len(w) > 1 or w == c.term):
                        out.append(w)
        return out[:40]


_DF: dict = {}


def _df(book, terms: list[str]) -> tuple[int, dict[str, int]]:
    """Passage count and the number of passages holding each word (FTS5; cached per book)."""
    cache = _DF.setdefault((str(getattr(book, "path", "")), getattr(book, "identity", None)), {})
    try:
        if "\0n" not in cache:
            cache["\0n"] = book.db.execute("SELECT count(*) FROM reference_fts").fetchone()[0]
        for t in terms:
            if t not in cache:
                cache[t] = book.db.execute("SELECT count(*) FROM reference_fts WHERE reference_fts MATCH ?",
                                           ('"' + t.replace('"', '""') + '"',)).fetchone()[0]
    except sqlite3.OperationalError:
        return 0, {}
    if len(cache) > 20000:
        cache.clear()
    return cache.get("\0n", 0), {t: cache.get(t, 0) for t in terms}


def read(book, text: str, extra: list[str] | None = None, quoted: list[str] | None = None) -> Question:
    """The question's concepts: content words (with rare ones weighing most), the words they stand for,
    and `extra` words a caller adds (codes, a code's title words) at a lower weight."""
    exp = expand(book, text)
    raw = words(text)
    # numbers count ("modifier indicator 9", "type 2", "stage 3", CPT 99291); years and long numbers do not
    terms = [t for t in query_terms(text) if t not in GENERIC and (not t.isdigit() or len(t) <= 3 or len(t) == 5)]
    for t in re.findall(r"(?<![a-z0-9.])(\d)(?![a-z0-9.])", text.lower()):  # one digit: "indicator 9"
        if t not in terms:
            terms.append(t)
    for letter in _LETTER_CODES.findall(text):  # "Z codes": the letter is the topic ("do i code" is no I code)
        if letter in "aiAI" and not re.search(rf"\b{letter}[\s-]?codes\b", text):
            continue
        if letter.lower() not in terms:
            terms.append(letter.lower())
    quoted = [w for w in quoted or [] if w]
    for w in quoted:
        if w not in terms:
            terms.append(w)
    for a, c in _SLASHED.findall(text):  # "E/M", "E&M" are one word
        t = f"{a}/{c}".lower()
        if t not in terms:
            terms.append(t)
    extra_terms = [t for t in query_terms(" ".join(extra or [])) if t not in terms and t not in GENERIC]
    alts: dict[str, list[str]] = {}
    for w, src in exp.sources.items():
        if src in GENERIC:  # "per NCCI" names a source to prefer, not a topic
            continue
        parts = [src] if src in terms else [x for x in words(src) if x in terms] or [src]
        for part in parts:
            alts.setdefault(part, []).append(w)
            if part not in terms:  # an abbreviation retrieval does not read as a word ("e/m"): its own concept
                terms.append(part)
    n, df = _df(book, [t for t in terms + extra_terms if "/" not in t])
    for t in terms:  # a misspelt word ("presure", "hypertenion"): the word the texts use, as the search engine reads it
        if df.get(t, 1) == 0 and not alts.get(t):
            fixed = _corrected(book, t)
            if fixed and fixed[:2] == t[:2] and abs(len(fixed) - len(t)) <= 1:  # a slip, not another word
                n2, df2 = _df(book, [fixed])
                if df2.get(fixed):
                    alts[t] = [fixed]
    concepts = []
    for t in terms:
        if "/" in t or " " in t:  # weighed by the words it stands for
            n2, df2 = _df(book, alts.get(t, []) or words(t))
            idf = max((math.log((n2 + 1) / (v + 0.5)) for v in df2.values()), default=1.0) if n2 else 1.0
        else:
            idf = math.log((n + 1) / (df.get(t, 0) + 0.5)) if n else 1.0
            if df.get(t, 0) == 0 and not alts.get(t):
                idf *= 0.6  # a word no text has (a typo, a name) is worth less than one the texts use rarely
        if alts.get(t) and "/" not in t and " " not in t:  # an abbreviation weighs what it stands for
            n2, df2 = _df(book, alts[t])
            if n2 and df2:
                idf = min(idf, max(math.log((n2 + 1) / (v + 0.5)) for v in df2.values()))
        if t in quoted:  # a word the question quotes ("with", "and") is the topic however common it is
            idf = max(idf, 4.0)
        concepts.append(Concept(t, max(0.2, idf), alts.get(t, [])))
    # "mod" next to "modifier": the abbreviation adds nothing the question does not already say
    named = {c.term for c in concepts}
    concepts = [c for c in concepts if not (c.alts and any(a in named and a != c.term for a in c.alts))]
    for t in extra_terms:
        idf = math.log((n + 1) / (df.get(t, 0) + 0.5)) if n else 1.0
        concepts.append(Concept(t, 0.5 * max(0.2, idf), [], True))
    title_words = {key(w) for w in raw if w not in STOP or w in ("with", "and", "or", "not", "first")} | \
        {key(w) for w in exp.words}
    content = [w for w in raw if w not in STOP or w in ("with", "without")]
    pairs = {(key(a), key(c)) for a, c in zip(content, content[1:])
             if not (a in GENERIC and c in GENERIC) and a not in ("with", "without") and not a.isdigit()}
    return Question(text, concepts, exp, raw, title_words, bool(_DEFINE_Q.search(text)), bool(_WHERE_Q.search(text)),
                    pairs)


def _corrected(book, word: str) -> str | None:
    """The search engine's spelling correction of a word (its vocabulary of code titles and index terms)."""
    if len(word) < 5 or not word.isalpha():
        return None
    try:
        from medcode.search.engine import engine_for

        engine = engine_for(book)
        fixed = engine.correct(word, engine.backend.vocabulary())
    except Exception:  # noqa: BLE001 - no vocabulary, no correction
        return None
    return fixed if fixed and fixed != word else None


def _longest_run(a: list[str], b: list[str], known: set[str] = frozenset()) -> int:
    """The longest run of words two texts share, counting only runs with a word that is not a stop word
    (and, with `known`, a word the section's ancestors do not already say)."""
    best = 0
    for i in range(len(a)):
        for j in range(len(b)):
            k = 0
            while i + k < len(a) and j + k < len(b) and key(a[i + k]) == key(b[j + k]):
                k += 1
            if k >= 2 and k > best and any(w not in STOP and key(w) not in known for w in a[i:i + k]):
                best = k
    return best


@dataclass
class Hit:
    score: float
    cover: float
    passage: Passage
    title_cover: float = 0.0
    chunks: list[str] = field(default_factory=list)  # the section's passages that matched


_DOMAIN_NCCI = re.compile(r"ncci|modifier|bundl|unbundl|\bptp\b|\bmues?\b|add-on|\bcpt\b|hcpcs|e&m|e/m|evaluation and "
                          r"management|global (?:surgery|surgical|period|package)|medicare|\bcms\b|claim|\bbill|payment|"
                          r"\bpay\b|\bmac\b|\babn\b|physician|practitioner|incident[\s-]to|split|shared|teaching|"
                          r"surgeon|anesthesia|\bnpp\b|telehealth|consultation|critical care|unlisted", re.I)
_DOMAIN_PCS = re.compile(r"\bpcs\b|root operation|approach|body part|procedure code|principal procedure|device|"
                         r"qualifier|excision|resection|biopsy", re.I)
_DOMAIN_CM = re.compile(r"diagnos|icd-10-cm|icd10|\bdx\b|sequenc|principal|secondary|excludes|includes|7th|seventh|"
                        r"sepsis|pregnan|injur|fracture|symptom|\bsign|condition|\bcoded\b|admission|discharge|"
                        r"present on|\bpoa\b|history|encounter|z codes?|neoplasm|cancer|diabetes|hypertension|\bhtn\b|"
                        r"guideline|sequela|late effect|external cause|ulcer|covid|stroke|infarction|heart attack", re.I)


def source_weight(question: str, source: str) -> float:
    t = question
    ncci, pcs, cm = bool(_DOMAIN_NCCI.search(t)), bool(_DOMAIN_PCS.search(t)), bool(_DOMAIN_CM.search(t))
    w = 1.0
    if source == ICD10CM_GUIDELINES:
        w = 1.15 if cm and not ncci else (0.85 if (ncci or pcs) and not cm else 1.0)
    elif source == "icd10pcs-guidelines":
        w = 1.3 if pcs else 0.8
    elif source == NCCI_POLICY or source.startswith("cms-"):
        w = 1.1 if ncci else (0.75 if cm else 0.9)
    # a text the question names
    if source == NCCI_POLICY and re.search(r"\bncci\b|\bcci\b|correct coding", t, re.I):
        w *= 1.35
    elif source.startswith("cms-") and re.search(r"\bcms\b|\bmedicare\b|\bmanual\b|\bmac\b", t, re.I):
        w *= 1.1
    elif source == ICD10CM_GUIDELINES and re.search(r"icd[\s-]?10[\s-]?cm|official guideline|guidelines?\b", t, re.I):
        w *= 1.15
    return w


def retrieve(book, q: Question, sources: list[str] | None = None, limit: int = 40, boost: str | None = None,
             quoted_titles: list[str] | None = None) -> list[Hit]:
    """Sections for the question, best first (one hit per section, from its best passage)."""
    terms = q.fts_terms()
    if not terms:
        return []
    found = _passages(book, terms, sources, limit)
    if quoted_titles:  # the section about a quoted term ("with") may rank low on a common word: fetch it by title
        from medcode.codebook.references import passages_titled

        for phrase in quoted_titles:
            found += [p for p in passages_titled(book.db, phrase, limit=3)
                      if (not sources or p.source in sources) and p.title.strip(" “”\"'.").lower() == phrase.lower()]
    if not found:
        return []
    top = max(-p.score for p in found) or 1.0
    boost_rx = re.compile(boost) if boost else None
    hits: dict[tuple[str, str], Hit] = {}
    for p in found:
        context = getattr(p, "context", "")
        seq = [key(w) for w in words(p.title + " " + p.text)]
        text_keys = set(seq) | keys_of(p.title + " " + p.text)
        cover = q.coverage(text_keys)
        phrases = len(q.pairs & set(zip(seq, seq[1:]))) if q.pairs else 0
        title_keys = keys_of(p.title)
        context_keys = keys_of(context) if context else set()
        # what the title says that its ancestors do not tells siblings apart ("Code only confirmed cases" under
        # "COVID-19 infection" is the one about confirmed cases; every sibling's title says COVID-19)
        tcov = 0.5 * q.coverage(title_keys) + 0.5 * q.coverage(title_keys - context_keys)
        content = [w for w in words(p.title) if w not in GENERIC_TITLE and w not in STOP and len(w) > 1]
        tprec = (sum(1 for w in content if key(w) in q.title_words) / len(content)) if content else 0.0
        run = _longest_run(q.raw, words(p.title), context_keys)
        rel = -p.score / top
        score = source_weight(q.text, p.source) * (10 * rel + 12 * cover) + 16 * tcov * (0.3 + 0.7 * tprec)
        score += 2.5 * min(run, 4) + 2.5 * min(phrases, 3)  # the question's word pairs said as such
        if context:  # a section in the part of the text about what is asked ("Incident To ..." > its subsections)
            score += 5 * q.coverage(context_keys)
        if tprec >= 0.99 and tcov >= 0.25:
            score += 4  # the section is about exactly what is asked ("Consultation Services", "Adverse Effect")
        if quoted_titles and any(p.title.strip(" “”\"'.").lower() == t.lower() for t in quoted_titles):
            score += 25
            cover = max(cover, 0.8)
        if boost_rx and boost_rx.search(p.title + " " + p.text):
            score *= 1.4
        k = (p.source, p.ref)
        if k not in hits or score > hits[k].score:
            chunks = hits[k].chunks if k in hits else []
            hits[k] = Hit(score, cover, p, tcov, chunks)
        hits[k].chunks.append(p.text)
        hits[k].cover = max(hits[k].cover, cover)
    return sorted(hits.values(), key=lambda h: -h.score)


@dataclass(frozen=True)
class ContextPassage(Passage):
    context: str = ""  # the titles of the section's ancestors


def _passages(book, terms: list[str], sources: list[str] | None, limit: int) -> list[Passage]:
    """bm25-ranked passages holding any of the words, with their ancestors' titles (the book's passage
    index; medcode.codebook.references.passages without the context column otherwise)."""
    from medcode.codebook.references import label, sources as text_sources

    match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms if t)
    if not match:
        return []
    where, args = "", [match]
    if sources:
        where = f" AND source IN ({','.join('?' * len(sources))})"
        args.extend(sources)
    try:
        rows = book.db.execute(
            "SELECT source, ref, title, body, bm25(reference_fts, 4.0, 1.0, 1.0) AS score, context FROM reference_fts "
            f"WHERE reference_fts MATCH ?{where} ORDER BY score LIMIT ?", (*args, int(limit))).fetchall()
    except sqlite3.OperationalError:  # a book without the passage index
        return []
    names = _names(book, text_sources)
    return [ContextPassage(r[0], r[1], r[2], r[3], names.get(r[0], r[0]), label(r[0], r[1]), float(r[4]), r[5] or "")
            for r in rows]


_NAMES: dict = {}


def _names(book, text_sources) -> dict[str, str]:
    k = (str(getattr(book, "path", "")), getattr(book, "identity", None))
    if k not in _NAMES:
        if len(_NAMES) > 16:
            _NAMES.clear()
        _NAMES[k] = {s.source: s.name for s in text_sources(book.db)}
    return _NAMES[k]


_CONTINUES = re.compile(r"^(?:Rather|However|Instead|Otherwise|Therefore|Thus|In such cases?|In this case|In these cases|"
                        r"This|These|Then|Unless|Except)\b")


def quote(q: Question, text: str, title: str = "", n: int = 2, chunks: list[str] | None = None,
          must: re.Pattern | None = None, max_chars: int = 600) -> list[str]:
    """The sentences of a section that answer the question, in the section's order."""
    sents = sentences(text)
    if not sents:
        return []
    title_have = q.covered(keys_of(title)) if title else set()
    residual = [c for c in q.concepts if c.term not in title_have]
    res_total = sum(c.weight for c in residual) or 0.0
    in_chunk = [" ".join(c.split()) for c in chunks or []]
    scored = []
    for i, s in enumerate(sents):
        if must is not None and not must.search(s):
            continue
        have = keys_of(s)
        cov = q.coverage(have)
        res = (sum(c.weight if key(c.term) in have else (0.8 * c.weight if any(key(a) in have for a in c.alts) else 0)
                   for c in residual) / res_total) if res_total else 0.0
        score = 0.5 * cov + 0.5 * res
        score += 0.12 if i == 0 else (0.06 if i == 1 else 0.0)
        if any(s[:60] in c for c in in_chunk):
            score += 0.08
        if _CROSS_REF.search(s) and not q.where:
            score -= 0.35
        if len(s) < 40:
            score -= 0.15
        if "CPT descriptor omitted" in s:
            score -= 0.05
        if q.define and _DEFINES.search(s[:250]):
            score += 0.1
        if _RULE.search(s):
            score += 0.04
        if sum(1 for ch in s if ch.isupper()) > 0.5 * sum(1 for ch in s if ch.isalpha()):
            score -= 0.2  # a table heading or a shouted banner
        scored.append((score, i))
    if not scored:
        return []
    scored.sort(key=lambda x: (-x[0], x[1]))
    best = scored[0][0]
    picked = [i for score, i in scored[:n] if score >= max(0.05, 0.45 * best) or i == scored[0][1]]
    # a sentence that finishes the rule a picked one starts ("Rather, code the condition ...", the first item
    # of a list the picked sentence opens with a colon) comes with it
    for i in list(picked):
        if i + 1 < len(sents) and i + 1 not in picked and (_CONTINUES.match(sents[i + 1]) or
                                                            sents[i].rstrip().endswith(":")) and \
                (must is None or must.search(sents[i + 1])):
            picked.append(i + 1)
    return clip_sentences(sents, sorted(picked), max_chars, max_chars * (n + 1))
