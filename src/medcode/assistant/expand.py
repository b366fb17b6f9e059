"""Query expansion for passage retrieval: the words the guideline and policy texts use for what a coder wrote.

Two tables feed it:
- the search engine's curated synonym and abbreviation table (medcode/search/synonyms.tsv): "htn" ->
  Hypertension, "heart attack" -> Infarct, myocardium, "late effect" -> sequela. An index path is
  followed to its code, and the titles of that code's category and block are added, so that "stroke"
  (Infarct, cerebral -> I63.9) also reaches the "Cerebrovascular diseases" sections;
- CODING_TERMS below: the billing and coding vocabulary of the manuals (ABN, E/M, NPP, POA, MUE ...),
  which a clinical synonym table does not hold.

Expansion words weigh less than the question's own words wherever the retrieval scores coverage.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from .text import words

# coding and billing vocabulary of the CMS manuals and the NCCI Policy Manual: what is written -> the words
# the texts print (lower case; several meanings separated by " | ")
CODING_TERMS = {
    "mod": "modifier",
    "mods": "modifier",
    "abn": "advance beneficiary notice",
    "abns": "advance beneficiary notice",
    "e/m": "evaluation and management",
    "e&m": "evaluation and management",
    "em": "evaluation and management",
    "npp": "nonphysician practitioner",
    "npps": "nonphysician practitioner",
    "np": "nurse practitioner",
    "pa": "physician assistant",
    "crna": "nurse anesthetist",
    "poa": "present on admission",
    "mue": "medically unlikely edit",
    "mues": "medically unlikely edit",
    "mai": "mue adjudication indicator",
    "ptp": "procedure-to-procedure",
    "aoc": "add-on code",
    "aocs": "add-on code",
    "ncci": "national correct coding initiative",
    "cci": "correct coding initiative",
    "dx": "diagnosis",
    "pdx": "principal diagnosis",
    "sdx": "secondary diagnosis",
    "hx": "history",
    "sx": "symptoms",
    "pos": "place of service",
    "dos": "date of service",
    "uos": "units of service",
    "snf": "skilled nursing facility",
    "dme": "durable medical equipment",
    "dmepos": "durable medical equipment prosthetics orthotics supplies",
    "asc": "ambulatory surgical center",
    "opps": "outpatient prospective payment system",
    "pfs": "physician fee schedule",
    "mpfs": "physician fee schedule",
    "rvu": "relative value unit",
    "rvus": "relative value unit",
    "gpci": "geographic practice cost index",
    "mac": "medicare administrative contractor",
    "lcd": "local coverage determination",
    "ncd": "national coverage determination",
    "ed": "emergency department",
    "er": "emergency department",
    "icu": "critical care",
    "awv": "annual wellness visit",
    "ippe": "initial preventive physical examination",
    "tcm": "transitional care management",
    "ccm": "chronic care management",
    "gme": "graduate medical education",
    "obs": "observation",
    "op": "outpatient",
    "ip": "inpatient",
    "tele": "telehealth",
    "telemedicine": "telehealth",
    "cc": "complication comorbidity",
    "mcc": "major complication comorbidity",
    "bmi": "body mass index",
    "sdoh": "social determinants of health",
    "late effect": "sequela",
    "late effects": "sequela | sequelae",
    "split/shared": "split or shared",
    "split shared": "split or shared",
    "global package": "global surgical package",
    "global period": "global surgery postoperative period",
    "bilateral procedure": "bilateral surgery",
    "rule out": "uncertain diagnosis",
    "r/o": "uncertain diagnosis",
    "probable": "uncertain diagnosis",
    "suspected": "uncertain diagnosis",
    "first listed": "first-listed",
    "primary diagnosis": "principal diagnosis first-listed",
    "cancer": "malignant neoplasm malignancy",
    "tumor": "neoplasm",
    "mets": "secondary malignant neoplasm metastasis",
}
# generic words of code and block titles that say nothing about a topic
_GENERIC = frozenset("""disease diseases disorder disorders condition conditions other unspecified specified certain
and of the with without in or nos nec due to type site""".split())


@dataclass
class Expansion:
    """What the question's words stand for: extra retrieval words, and which question words they explain."""

    words: list[str] = field(default_factory=list)  # lower-case words to add to the retrieval query
    sources: dict[str, str] = field(default_factory=dict)  # added word -> the question term it came from

    def add(self, text: str, term: str, skip: set[str]) -> None:
        for w in words(text):
            if len(w) < 2 or w in _GENERIC or w in skip or w in self.words:
                continue
            self.words.append(w)
            self.sources[w] = term


_lock = threading.Lock()
_code_words: dict[tuple, list[str]] = {}


def _index_words(book, source: str, path: str) -> list[str]:
    """The titles of the code an index path leads to, and of its category and block (cached per book)."""
    key = (str(getattr(book, "path", "")), getattr(book, "identity", None), source, path)
    with _lock:
        if key in _code_words:
            return _code_words[key]
    out: list[str] = []
    try:
        from medcode.search.engine import engine_for

        found = engine_for(book).follow(source, path)
        if found is not None:
            row = book.db.execute("SELECT code, system FROM index_terms WHERE id=?", (found[0],)).fetchone()
            code = (row[0] or "").rstrip("-").rstrip(".") if row else ""
            if code:
                c = book.find(row[1], code)
                chain = book.ancestors(row[1], c.code) if c is not None else []
                titles = ([c.title] if c is not None else []) + [a.title for a in chain if a.kind in
                                                                  ("category", "block")]
                out = [w for t in titles for w in words(re.sub(r"\([^)]*\)", " ", t or ""))]
    except Exception:  # noqa: BLE001 - an index that cannot be read only means fewer words
        out = []
    with _lock:
        if len(_code_words) > 5000:
            _code_words.clear()
        _code_words[key] = out
    return out


def _synonym_table():
    try:
        from medcode.search import synonyms

        return synonyms.load()
    except Exception:  # noqa: BLE001
        return None


def expand(book, question: str) -> Expansion:
    """The retrieval words a question's abbreviations and lay terms stand for (longest match first)."""
    from medcode.search.synonyms import key_of

    exp = Expansion()
    raw = words(question.replace("/", " / ").replace("&", " & "))
    low = " ".join(raw)
    skip = set(raw)
    # the coding vocabulary (multi-word entries first); "e/m" and "e&m" are matched on the text as written
    written = question.lower()
    for term in sorted(CODING_TERMS, key=len, reverse=True):
        rx = r"(?<![a-z0-9])" + re.escape(term) + r"(?![a-z0-9])"
        if re.search(rx, written) or (" " in term and re.search(rx, low)):
            for meaning in CODING_TERMS[term].split("|"):
                exp.add(meaning, term, skip)
    table = _synonym_table()
    if table is None:
        return exp
    tokens = list(key_of(" ".join(raw)))
    i = 0
    while i < len(tokens):
        hit = None
        for size in range(min(table.longest, len(tokens) - i), 0, -1):
            entries = table.lookup(tuple(tokens[i:i + size]), None)
            if entries:
                hit = (size, entries)
                break
        if hit is None:
            i += 1
            continue
        size, entries = hit
        term = " ".join(tokens[i:i + size])
        if term not in CODING_TERMS and not (size == 1 and len(term) <= 2 and term not in ("mi", "dm", "hf")):
            for entry in entries[:2]:
                for target in entry.targets[:2]:
                    exp.add(target.path, term, skip)
                    if target.source in ("index", "eindex"):
                        for w in _index_words(book, target.source, target.path):
                            exp.add(w, term, skip)
        i += size
    return exp
