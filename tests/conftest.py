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

SHARED_DATA = Path(os.environ.get("MEDCODE_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()

# Folders of official files the test book imports (each importer recognises its own files).
BOOK_FOLDERS = [
    "icd10cm-2027-addenda",
    "icd10cm-2025-index-tables",
    "icd10pcs-2026-tables",
    "icd10pcs-2025-index",
    "icd10cm-2026-guidelines",
    "hcpcs-2020-anweb", "hcpcs-2025-jul-descriptions", "ncci-2024q3",  # ncci-2024q3: only its HCPCS attribute, modifier and POS CSVs are read
    "pfs-rvu-2026-apr",
    "ncci-official",  # generated: see GENERATED_FOLDERS
    "ncci-2026-policy-manual", "cms-manuals", "icd10pcs-2024-guidelines",  # policy texts (the assistant)
]
# Folders the tests write, in CMS's official layouts, from copies in ../shared/data that are not in them
# (NCCI 2024 Q3 CSVs, the 2026 MUE / add-on JSON, the 2024 PFS CSVs): tests/ncci_official.py, cached
# under .cache/ncci-official. Full PTP tables (2.5 M practitioner + 1.8 M outpatient hospital edits)
# for the edit checker; drop "ncci-official" from MEDCODE_TEST_BOOK_FOLDERS to build without them.
GENERATED_FOLDERS = {
    "ncci-official": ("ptp_prac", "ptp_out", "mue_2024", "mue_2026", "aoc_2024", "aoc_2026", "pfs_2024"),
}
if os.environ.get("MEDCODE_TEST_BOOK_FOLDERS") is not None:  # narrow it while developing one importer
    BOOK_FOLDERS = [f for f in os.environ["MEDCODE_TEST_BOOK_FOLDERS"].split(",") if f]


def shared(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"official data not available: {path}")
    return path


def book_folder(name: str) -> Path | None:
    """A BOOK_FOLDERS entry's folder: under ../shared/data, or written once by the tests (GENERATED_FOLDERS)."""
    if name in GENERATED_FOLDERS:
        from ncci_official import cached_folder

        return cached_folder(GENERATED_FOLDERS[name], SHARED_DATA)
    return SHARED_DATA / name


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
