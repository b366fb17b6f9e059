"""The official data the tests read: where ../shared/data is, which folders the test book imports.

A module of its own (not conftest.py): test folders have conftest.py files of their own, so
`from conftest import ...` would find whichever was imported first.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

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
