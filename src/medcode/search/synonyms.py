"""The curated synonym and abbreviation table (synonyms.tsv beside this file), read once per process.

Each entry maps what a chart or a patient writes to the official index's wording: an Alphabetic
Index path ("Infarct, myocardium"), an External Cause Index path ("ext: ..."), a Drug Table
substance ("drug: ..."), a Neoplasm Table cell ("Neoplasm, prostate, malignant"), a PCS Index path,
or, for chart shorthand, plain words ("rt" -> right). The search engine matches entries against
the query's words (longest first) and searches for the targets next to the words as typed.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .text import STOPWORDS, words

TABLE = Path(__file__).with_name("synonyms.tsv")

COLUMNS = ("term", "kind", "system", "expands_to", "code_hint", "note")

# Neoplasm Table columns as a path's last level names them
NEOPLASM_COLUMNS = {
    "malignant": "Malignant Primary",
    "malignant primary": "Malignant Primary",
    "primary": "Malignant Primary",
    "secondary": "Malignant Secondary",
    "malignant secondary": "Malignant Secondary",
    "in situ": "Ca in situ",
    "ca in situ": "Ca in situ",
    "benign": "Benign",
    "uncertain behavior": "Uncertain Behavior",
    "uncertain": "Uncertain Behavior",
    "unspecified behavior": "Unspecified Behavior",
    "unspecified": "Unspecified Behavior",
}


@dataclass(frozen=True)
class Target:
    """One meaning of an entry: where in the books it leads."""

    source: str          # index | eindex | drug | neoplasm | pcs_index | words
    path: str            # the index path as written (for words: the plain words)
    column: str | None   # Neoplasm Table column named by the path's last level
    hint: str | None = None  # words that steer the completed code ("Diagnostic" qualifier)


@dataclass(frozen=True)
class Synonym:
    term: str
    kind: str            # abbrev | lay | procedure-lay | shorthand
    system: str          # icd10cm | icd10pcs | any
    targets: tuple[Target, ...]
    code_hints: tuple[str, ...]

    @property
    def shorthand(self) -> bool:
        return self.system == "any"


def _target(system: str, text: str) -> Target:
    text = text.strip()
    if system == "any":
        return Target("words", text, None)
    if system == "icd10pcs":
        return Target("pcs_index", text, None)
    low = text.lower()
    if low.startswith("ext:"):
        return Target("eindex", text[4:].strip(), None)
    if low.startswith("drug:"):
        return Target("drug", text[5:].strip(), None)
    if low.startswith("neoplasm,"):
        parts = [p.strip() for p in text.split(",")]
        column = NEOPLASM_COLUMNS.get(parts[-1].lower())
        if column and len(parts) > 2:
            return Target("neoplasm", ", ".join(parts[:-1]), column)
    return Target("index", text, None)


def parse(lines) -> list[Synonym]:
    """Entries from the table's lines; comment and blank lines are skipped. ValueError on a bad row."""
    rows = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    out: list[Synonym] = []
    header = None
    for n, row in enumerate(csv.reader(rows, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
        if header is None:
            header = [c.strip() for c in row]
            if tuple(header[:5]) != COLUMNS[:5]:
                raise ValueError(f"synonym table header is {header}, expected {list(COLUMNS)}")
            continue
        row = (row + [""] * len(COLUMNS))[:len(COLUMNS)]
        term, kind, system, expands, hints, _note = (c.strip() for c in row)
        if not term or not expands:
            raise ValueError(f"synonym table row {n}: term and expands_to are required: {row}")
        targets = tuple(_target(system, t) for t in expands.split("|") if t.strip())
        codes = tuple(c.strip() for c in hints.split("|") if c.strip())
        out.append(Synonym(term.lower(), kind, system or "any", targets, codes))
    return out


def key_of(text: str) -> tuple[str, ...]:
    """The words an entry is matched by: function words do not count ("clot in the leg" is
    "clot in leg" is "clot leg")."""
    return tuple(w for w in words(text) if w not in STOPWORDS)


class Synonyms:
    """Entries keyed by their words, for longest-first matching against a query's words."""

    def __init__(self, entries: list[Synonym], fallback: list[Synonym] = ()):
        """`fallback` entries (the index's own "see" redirects) count only for words the curated
        entries do not cover."""
        self.entries = entries
        self.by_words: dict[tuple[str, ...], list[Synonym]] = {}
        for entry in entries:
            key = key_of(entry.term)
            if not key:
                continue  # "nos", "nec": nothing to expand
            self.by_words.setdefault(key, []).append(entry)
        curated = {(k, e.system) for k, found in self.by_words.items() for e in found}
        for entry in dict.fromkeys(fallback):
            key = key_of(entry.term)
            if key and (key, entry.system) not in curated and (key, "any") not in curated:
                self.by_words.setdefault(key, []).append(entry)
        self.longest = max((len(k) for k in self.by_words), default=0)
        self.vocabulary = frozenset(w for k in self.by_words for w in k)

    def with_fallback(self, fallback: list[Synonym]) -> "Synonyms":
        return Synonyms(self.entries, fallback)

    def lookup(self, key: tuple[str, ...], system: str | None) -> list[Synonym]:
        """Entries for exactly these words that apply to a search of `system` (None: every system)."""
        found = self.by_words.get(key, ())
        return [e for e in found if system is None or e.system in ("any", system)]

    def __len__(self) -> int:
        return len(self.entries)


_QUALIFIER = re.compile(r"\s+with qualifier\s+(.+)$", re.I)
_BY = re.compile(r",\s*by\s+\w+.*$", re.I)


def redirect(system: str, source: str, term: str, target: str) -> Synonym:
    """An index main term that only says "see ..." as an entry: "Biopsy" -> Excision (qualifier
    Diagnostic), "Decubitus" -> Ulcer, pressure (by site)."""
    hint = None
    m = _QUALIFIER.search(target)
    if m:
        hint = m.group(1)
        target = target[:m.start()]
    target = _BY.sub("", target).strip()
    return Synonym(term.lower(), "index-see", system, (Target(source, target, None, hint),), ())


@lru_cache(maxsize=4)
def load(path: str | None = None) -> Synonyms:
    """The table (default: the packaged one); an absent table is an empty one."""
    table = Path(path) if path else TABLE
    if not table.exists():
        return Synonyms([])
    with open(table, encoding="utf-8", newline="") as fh:
        return Synonyms(parse(fh.read().splitlines()))
