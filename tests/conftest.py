"""Shared fixtures: one codebook built from the real official files in ../shared/data.

The book is built through `medcode data import`, the way a user gets it, and cached under
.cache/ keyed by the importer code and the source files, so the SQLite and PostgreSQL runs
of `make test` build it once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("MEDCODE_HOME", tempfile.mkdtemp(prefix="medcode-test-home-"))

from shared_data import BOOK_FOLDERS, GENERATED_FOLDERS, SHARED_DATA, book_folder, shared  # noqa: F401


# Modules that only read a built book: editing them must not rebuild the (large) test codebook.
READ_SIDE = {"codebook/book.py", "codebook/record.py", "codebook/plain.py", "codebook/guidelines.py",
             "codebook/__init__.py", "search/engine.py", "search/__init__.py", "search/backends/sqlite.py",
             "search/backends/base.py", "search/backends/__init__.py", "codebook/references.py",
             "codebook/update.py"}  # update.py downloads and hands files to imports.py; it builds nothing itself


def _cache_key(folders: list[Path]) -> str:
    h = hashlib.sha256()
    src = ROOT / "src" / "medcode"
    for package in ("codebook", "search"):  # the importers and the search index built into the book
        for f in sorted((src / package).rglob("*")):
            if f.suffix in (".py", ".tsv") and f.relative_to(src).as_posix() not in READ_SIDE:
                h.update(f.read_bytes())
    for folder in folders:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                st = f.stat()
                rel = f.relative_to(SHARED_DATA) if f.is_relative_to(SHARED_DATA) else f.relative_to(ROOT)
                h.update(f"{rel}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _prune_stale(folder: Path, max_age_days: float = 2) -> None:
    """Test books of older code (hundreds of MB each) go once they are unused for a while."""
    cutoff = time.time() - max_age_days * 86400
    for old in folder.iterdir():
        if old.is_dir() and old.stat().st_mtime < cutoff:
            shutil.rmtree(old, ignore_errors=True)


@pytest.fixture(scope="session")
def codebook_file() -> Path:
    """Path of the full test codebook (packaged defaults + the official files in BOOK_FOLDERS).

    MEDCODE_TEST_CODEBOOK pins an already built file (work that does not touch the importers).
    """
    from medcode.codebook.imports import import_paths

    if os.environ.get("MEDCODE_TEST_CODEBOOK"):
        return Path(os.environ["MEDCODE_TEST_CODEBOOK"]).resolve()

    folders = [p for p in map(book_folder, BOOK_FOLDERS) if p is not None and p.exists()]
    cache = ROOT / ".cache" / "test-codebook" / _cache_key(folders)
    dest = cache / "codebook.sqlite"
    if not dest.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        _prune_stale(cache.parent)
        work = Path(tempfile.mkdtemp(prefix=cache.name + "-", dir=cache.parent))
        import_paths(folders, work / "sources", work / "codebook.sqlite", progress=False, always_build=True)
        shutil.rmtree(work / "sources", ignore_errors=True)  # the imported copies (300 MB of NCCI text) are not needed
        try:
            os.replace(work, cache)  # atomic; a parallel run that won the race keeps its copy
        except OSError:
            shutil.rmtree(work, ignore_errors=True)  # the loser's copy (hundreds of MB with the NCCI tables)
    os.utime(cache)  # in use: _prune_stale keeps it
    return dest


@pytest.fixture(scope="session")
def book(codebook_file):
    from medcode.codebook import open_book

    return open_book(codebook_file)


@pytest.fixture(scope="session", autouse=True)
def _site_codebook(codebook_file):
    """The Django site reads the test codebook."""
    from django.conf import settings

    settings.MEDCODE_CODEBOOK = str(codebook_file)
