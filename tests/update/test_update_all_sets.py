"""The rest of the code sets through `medcode data update`: NCCI outpatient hospital PTP edits and add-on
code edits (two quarters), the ICD-10-CM guidelines PDF, PFS RVUs and GPCIs, the ICD-10-CM index tables
and the FY2027 addenda; then lookups on dates in each release. Slow: a guidelines PDF to read and
five more importers in one build."""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from official_packs import serve

from medcode.codebook import open_book
from medcode.codebook.guidelines import section
from medcode.codebook.update import load_registry, plan_update, run_update

pytestmark = pytest.mark.slow

RELEASES = ["ncci-ptp-hospital-2024q3", "ncci-aoc-2024q3", "ncci-aoc-2026q3", "icd10cm-guidelines-fy2026",
            "t-pfs-rvu26b", "t-icd10cm-2025-apr", "t-icd10cm-fy2027-addenda"]
PACKAGED = {"ncci-ptp-hospital-2024q3", "ncci-aoc-2024q3", "ncci-aoc-2026q3", "icd10cm-guidelines-fy2026"}


@pytest.fixture(scope="module")
def updated(tmp_path_factory, packs, release_server, packaged_registry):
    home = tmp_path_factory.mktemp("all-sets")
    (home / "sources.toml").write_text(serve(release_server, packs, packaged_registry, RELEASES))
    report = run_update(load_registry(home / "sources.toml"), today=date(2026, 11, 27), only=RELEASES,
                        progress=False, sources_dir=home / "sources", book_path=home / "codebook.sqlite", home=home)
    return home, report


def test_every_release_is_imported(updated):
    home, report = updated
    assert report.failed == []
    assert sorted(r["id"] for r in report.imported) == sorted(RELEASES)


def test_lookups_on_dates_in_each_release(updated):
    home, _ = updated
    book = open_book(home / "codebook.sqlite")
    # NCCI outpatient hospital PTP, 2024 Q3
    edit = book.ptp_edit("G0101", "57410", "hospital", date(2024, 8, 1))
    assert edit is not None and edit.active_on(date(2024, 8, 1)) and "2024 Q3" in edit.release
    # add-on code edits, 2024 Q3 then 2026 Q3
    old = book.addon_primaries("0054T", date(2024, 8, 1))
    new = book.addon_primaries("0054T", date(2026, 8, 1))
    assert old and all("2024 Q3" in e.release for e in old)
    assert new and all("2026 Q3" in e.release for e in new)
    # ICD-10-CM guidelines FY2026, read from the PDF's text
    sec = section(book, "I.C.4.a.3")
    assert sec is not None and "FY2026" in sec.release and sec.text
    # PFS RVU26B and the 2026 GPCIs
    rvu = book.rvu("G0102", when=date(2026, 5, 1))
    assert rvu is not None and rvu.status == "A"
    assert book.gpci("10112-00", date(2026, 5, 1)) is not None
    # ICD-10-CM April 2025 index tables (FY2025)
    drugs = [e for e in book.index_entries("T40.1X1") if e.source == "drug"]
    assert drugs, "no Table of Drugs entry for heroin poisoning"
    # ICD-10-CM FY2027 addenda on top of the packaged FY2026 tabular
    assert book.get("icd10cm", "C78.31", date(2026, 11, 1)).status == "active"
    assert book.find("icd10cm", "C78.31", date(2026, 6, 1)).status != "active"


def test_registry_entries_match_what_the_importers_record(updated, tmp_path):
    """The packaged entries' (system, kind, date) per member are what the book holds after import."""
    home, _ = updated
    sources = tmp_path / "sources"
    sources.mkdir()
    shutil.copy(home / "sources" / "manifest.json", sources / "manifest.json")  # without the update's record
    plan = plan_update(load_registry(home / "sources.toml"), sources_dir=sources,
                       book_path=home / "codebook.sqlite", only=RELEASES)
    assert [n.release.id for n in plan.missing] == []
    assert PACKAGED <= {r.id for r in plan.held}
