"""Search backends: where documents are stored and how candidates are found.

The engine (query understanding, ranking, completing codes) is the same for every backend; a
backend only answers "which documents contain these words" and "which words exist". The default
is SQLite FTS5 inside the codebook file. Another backend (PostgreSQL full text, an external
engine) registers itself here and is chosen by name: the `backend=` argument of
`medcode.search.search`, else the MEDCODE_SEARCH_BACKEND environment variable (Django settings
pass it through), else "sqlite".
"""

from __future__ import annotations

import os
from importlib import import_module

from .base import Alt, DocRow, Expr, SearchBackend, Slot, Term, Vocabulary

DEFAULT = "sqlite"

REGISTRY = {
    "sqlite": "medcode.search.backends.sqlite:SQLiteBackend",
}


def register(name: str, dotted: str) -> None:
    """Make a backend class ("package.module:Class") available under `name`."""
    REGISTRY[name] = dotted


def backend_class(name: str | None = None) -> type[SearchBackend]:
    name = (name or os.environ.get("MEDCODE_SEARCH_BACKEND") or DEFAULT).strip().lower()
    try:
        dotted = REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown search backend {name!r}; known: {', '.join(sorted(REGISTRY))}") from None
    module, _, attr = dotted.partition(":")
    return getattr(import_module(module), attr)


__all__ = ["Alt", "DocRow", "Expr", "SearchBackend", "Slot", "Term", "Vocabulary", "backend_class", "register",
           "REGISTRY", "DEFAULT"]
