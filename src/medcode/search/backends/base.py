"""What a search backend provides, and the small query structure the engine hands it."""

from __future__ import annotations

import bisect
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Iterable, NamedTuple


@dataclass(frozen=True)
class Term:
    """One stem a document must contain. A prefix term (a word being typed) matches any stem that
    starts with `text` (when `wildcard`) or one of `also`: the stems of words that start with it
    ("infecti" -> infect), or, for a short prefix, the stems of its commonest completions only."""

    text: str
    prefix: bool = False
    also: frozenset[str] = frozenset()
    wildcard: bool = True

    def matches(self, stem: str) -> bool:
        if not self.prefix:
            return stem == self.text
        return (self.wildcard and stem.startswith(self.text)) or stem in self.also


@dataclass(frozen=True)
class Alt:
    """One way to satisfy a slot: all of its terms."""

    terms: tuple[Term, ...]
    value: float = field(default=1.0, compare=False)  # how much matching it is worth (a guessed completion: less)
    plain: frozenset = field(default=frozenset(), compare=False, hash=False, repr=False)
    prefixes: tuple = field(default=(), compare=False, hash=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "plain", frozenset(t.text for t in self.terms if not t.prefix))
        object.__setattr__(self, "prefixes", tuple(t for t in self.terms if t.prefix))


@dataclass
class Slot:
    """One thing the query asks for (a word, a completed prefix, a corrected word, a synonym):
    any one of its alternatives satisfies it."""

    alts: list[Alt]
    weight: float = 1.0
    text: str = ""                    # what the user typed for it
    kind: str = "word"                # word | prefix | typo | synonym | number
    pins: list = field(default_factory=list)   # synonym targets: (ref, column, strength)


class Expr(NamedTuple):
    """All the slots (AND), each any of its alternatives (OR), tag filters (AND), and the one
    system the documents must belong to (None: any)."""

    slots: tuple[Slot, ...]
    tags: tuple[str, ...] = ()
    system: str | None = None


class DocRow(NamedTuple):
    id: int
    system: str
    code: str
    source: str
    label: str
    ref: int | None
    parent_ref: int | None
    terms: str
    extra: str
    chapter: str | None
    rank: int


class Vocabulary:
    """Every word of the documents with its stem and document frequency, in memory: what typo
    correction, prefix completion and term weights read."""

    def __init__(self, rows: Iterable[tuple[str, str, int]], documents: int, known: Iterable[str] = ()):
        self.documents = max(1, documents)
        self.known = frozenset(known)  # real words with no document: never corrected
        self.stem_of: dict[str, str] = {}
        self.df: dict[str, int] = {}
        self.stem_df: dict[str, int] = {}
        for word, stem, df in rows:
            self.stem_of[word] = stem
            self.df[word] = df
            self.stem_df[stem] = self.stem_df.get(stem, 0) + df
        self.sorted = sorted(self.stem_of)
        self._top: dict[tuple[str, int], list[str]] = {}
        self.by_initial: dict[str, list[str]] = {}
        for word in self.sorted:
            self.by_initial.setdefault(word[0], []).append(word)

    def __contains__(self, word: str) -> bool:
        return word in self.stem_of

    def completions(self, prefix: str, limit: int = 400) -> list[str]:
        """Words starting with `prefix`, in alphabetical order (at most `limit`)."""
        i = bisect.bisect_left(self.sorted, prefix)
        out = []
        while i < len(self.sorted) and self.sorted[i].startswith(prefix) and len(out) < limit:
            out.append(self.sorted[i])
            i += 1
        return out

    def top_completions(self, prefix: str, k: int = 12) -> list[str]:
        """The `k` commonest words starting with `prefix` (remembered per prefix)."""
        key = (prefix, k)
        found = self._top.get(key)
        if found is None:
            words = self.completions(prefix, limit=1_000_000)
            found = sorted(words, key=lambda w: -self.df.get(w, 0))[:k]
            if len(self._top) > 20_000:
                self._top.clear()
            self._top[key] = found
        return found

    def idf(self, stem: str) -> float:
        return math.log((self.documents + 1) / (self.stem_df.get(stem, 0) + 1))


class SearchBackend(ABC):
    """Storage and retrieval of search documents for one codebook."""

    name = "abstract"

    def __init__(self, book):
        self.book = book

    @abstractmethod
    def available(self) -> bool:
        """Whether this backend's index exists for the book."""

    @abstractmethod
    def vocabulary(self) -> Vocabulary:
        """The words of the documents (loaded once)."""

    @abstractmethod
    def candidates(self, expr: Expr, limit: int) -> list[DocRow]:
        """Documents holding every slot of `expr` and every tag, the shortest first, at most `limit`."""

    def candidates_any(self, exprs: list[Expr], limit: int) -> list[DocRow]:
        """Documents matching any of `exprs` (all of one system), the shortest first, at most `limit`."""
        found: dict[int, DocRow] = {}
        for expr in exprs:
            for row in self.candidates(expr, limit):
                found[row.id] = row
        return sorted(found.values(), key=lambda r: r.id)[:limit]

    def redirects(self) -> list[tuple[str, str, str, str]]:
        """(system, source, term, target) of index terms that only say "see target"."""
        return []

    @abstractmethod
    def docs_by_ref(self, refs: Iterable[int], children: bool = False) -> list[DocRow]:
        """Index documents of these index_terms rows (`children`: of the rows below them)."""
