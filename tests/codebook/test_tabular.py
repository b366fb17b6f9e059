"""ICD-10-CM tabular import, checked against the official package data it was built from."""

from __future__ import annotations

from importlib.resources import files

import pytest

from medcode.codebook import UnknownCode, normalize

APRIL_2026 = "2026-05-01"


def official_code_list() -> list[str]:
    data = files("simple_icd_10_cm") / "data"
    name = next(p.name for p in data.iterdir() if p.name.startswith("code-list"))
    return [line.strip() for line in (data / name).read_text().splitlines() if line.strip()]


def test_every_official_code_is_in_the_book(book):
    held = {c.code.replace(".", "") for c in book.codes("icd10cm", APRIL_2026)}
    # a one-category block is held in range form (B10-B10) beside its category (B10)
    missing = [c for c in official_code_list() if c not in held and not c.isdigit()]
    assert missing == []


def test_billable_count_equals_the_releases_valid_codes(book):
    """A valid (billable) code is one in the official list that no longer code extends."""
    codes = sorted({c for c in official_code_list() if "-" not in c and not c.isdigit()})
    billable = [c for i, c in enumerate(codes) if not (i + 1 < len(codes) and codes[i + 1].startswith(c))]
    assert book.count("icd10cm", APRIL_2026, billable=True) == len(billable)
    held = {c.code.replace(".", "") for c in book.codes("icd10cm", APRIL_2026, billable=True)}
    assert held == set(billable)


@pytest.mark.parametrize("spelling", ["e119", "E11.9", " e11.9 ", "E119", "e11.9"])
def test_normalisation(book, spelling):
    assert book.get("icd10cm", spelling, APRIL_2026).code == "E11.9"


def test_seventh_character_codes_have_their_own_records(book):
    code = book.get("icd10cm", "s52501a", APRIL_2026)
    assert code.billable and code.kind == "extension" and code.parent == "S52.501"
    placeholder = book.get("icd10cm", "T36.0X1A", APRIL_2026)
    assert placeholder.billable and placeholder.parent == "T36.0X1"
    short = book.get("icd10cm", "S32.9XXA", APRIL_2026)
    assert short.parent == "S32.9" and short.title.endswith("initial encounter for closed fracture")


def test_seventh_character_exceptions_from_the_notes(book):
    # S06: 7th characters D and S do not apply with 6th character 7 or 8 (category note)
    assert book.find("icd10cm", "S06.897A", APRIL_2026) is not None
    assert book.find("icd10cm", "S06.897D", APRIL_2026) is None
    assert book.find("icd10cm", "S06.896D", APRIL_2026) is not None


def test_notes_keep_their_origin(book):
    notes = book.notes("icd10cm", "E11.9", APRIL_2026)
    own = [n for n in notes if not n.inherited]
    inherited = [n for n in notes if n.inherited]
    assert any(n.kind == "excludes1" and "E11.A" in n.text for n in own)
    assert any(n.kind == "use_additional" and "Z79.4" in n.text and n.origin == "E11" for n in inherited)
    assert any(n.origin == "4" and n.origin_kind == "chapter" for n in inherited)


def test_seventh_character_table_is_inherited(book):
    table = book.seventh_characters("icd10cm", "S52.501A", APRIL_2026)
    assert {s.char for s in table} >= {"A", "D", "S"} and all(s.origin == "S52" for s in table)


def test_hierarchy_chapter_block_category(book):
    chain = [a.code for a in book.ancestors("icd10cm", "S52.501A", APRIL_2026)]
    assert chain == ["S52.501", "S52.50", "S52.5", "S52", "S50-S59", "19"]
    assert book.get("icd10cm", "QA0-QA0", APRIL_2026).kind == "block"
    assert book.get("icd10cm", "QA0", APRIL_2026).parent == "QA0-QA0"


def test_unknown_code_and_nearest(book):
    with pytest.raises(UnknownCode):
        book.get("icd10cm", "K21.99", APRIL_2026)
    near = [c.code for c in book.nearest("icd10cm", "K21.99", APRIL_2026)]
    assert near and all(c.startswith("K21") for c in near)
    assert normalize("k2199") == "K21.99"
