"""The default backend: the FTS5 index that `medcode data build` writes into the codebook file."""

from __future__ import annotations

import threading
from typing import Iterable

from ..index import id_range
from .base import DocRow, Expr, SearchBackend, Vocabulary

_DOC_COLS = "id, system, code, source, label, ref, parent_ref, terms, extra, chapter, rank"


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def compile_match(expr: Expr) -> str:
    """FTS5 MATCH text for an Expr. Every term is a quoted string, so no user input is ever read
    as FTS5 syntax (AND, OR, NEAR, *, quotes, colons, parentheses are just characters)."""
    parts = []
    for slot in expr.slots:
        alts = []
        for alt in slot.alts:
            terms = []
            for term in alt.terms:
                if term.prefix:
                    options = ([_quote(term.text) + "*"] if term.wildcard else []) + [_quote(s) for s in
                                                                                      sorted(term.also)]
                    if not options:
                        return ""
                    terms.append(options[0] if len(options) == 1 else "(" + " OR ".join(options) + ")")
                else:
                    terms.append(_quote(term.text))
            if terms:
                alts.append(terms[0] if len(terms) == 1 else "(" + " AND ".join(terms) + ")")
        if not alts:
            return ""
        parts.append(alts[0] if len(alts) == 1 else "(" + " OR ".join(alts) + ")")
    parts += [_quote(t) for t in expr.tags]
    return " AND ".join(parts)


class SQLiteBackend(SearchBackend):
    name = "sqlite"

    def __init__(self, book):
        super().__init__(book)
        self._vocab: Vocabulary | None = None
        self._available: bool | None = None
        self._lock = threading.Lock()

    @property
    def db(self):
        return self.book.db

    def available(self) -> bool:
        if self._available is None:
            try:
                found = self.db.execute("SELECT count(*) FROM sqlite_master WHERE name IN "
                                        "('search_fts','search_docs','search_vocab')").fetchone()[0]
            except Exception:
                found = 0
            self._available = found == 3
        return self._available

    def vocabulary(self) -> Vocabulary:
        if self._vocab is None:
            with self._lock:
                if self._vocab is None:
                    docs = self.db.execute("SELECT count(*) FROM search_docs").fetchone()[0] or 0
                    known = [r[0] for r in self.db.execute("SELECT word FROM search_known")]
                    self._vocab = Vocabulary(self.db.execute("SELECT word, stem, df FROM search_vocab"), docs, known)
        return self._vocab

    def candidates(self, expr: Expr, limit: int) -> list[DocRow]:
        return self._run(compile_match(expr), expr.system, limit)

    def candidates_any(self, exprs: list[Expr], limit: int) -> list[DocRow]:
        matches = [m for m in map(compile_match, exprs) if m]
        if not matches:
            return []
        return self._run(" OR ".join(f"({m})" for m in matches), exprs[0].system, limit)

    def _run(self, match: str, system: str | None, limit: int) -> list[DocRow]:
        if not match:
            return []
        lo, hi = id_range(system) if system else (0, 1 << 62)
        rows = self.db.execute(
            f"SELECT {_DOC_COLS} FROM search_docs WHERE id IN (SELECT rowid FROM search_fts WHERE search_fts "
            "MATCH ? AND rowid BETWEEN ? AND ? LIMIT ?) ORDER BY id", (match, lo, hi, limit)).fetchall()
        return [DocRow(*r) for r in rows]

    def redirects(self) -> list[tuple[str, str, str, str]]:
        return self.db.execute("SELECT system, source, term, target FROM search_redirects").fetchall()

    def docs_by_ref(self, refs: Iterable[int], children: bool = False) -> list[DocRow]:
        refs = [r for r in set(refs) if r is not None]
        if not refs:
            return []
        column = "parent_ref" if children else "ref"
        rows = self.db.execute(
            f"SELECT {_DOC_COLS} FROM search_docs WHERE {column} IN ({','.join('?' * len(refs))}) ORDER BY id LIMIT 400",
            refs).fetchall()
        return [DocRow(*r) for r in rows]
