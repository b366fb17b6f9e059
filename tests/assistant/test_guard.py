"""The code guard: every code-shaped token of a text checked against the book for the date of service."""

from __future__ import annotations

from datetime import date

import pytest

from medcode.assistant import guard_text
from medcode.assistant.codetokens import FLAG, scan

WHEN = date(2026, 5, 1)


def _deleted_code(book) -> tuple[str, str]:
    """A billable ICD-10-CM code of the book whose last version ended (a later release deleted it)."""
    row = book.db.execute(
        "SELECT code, max(valid_to) FROM codes c WHERE system='icd10cm' AND billable=1 AND valid_to IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM codes d WHERE d.system='icd10cm' AND d.code=c.code AND d.valid_to IS NULL) "
        "GROUP BY code ORDER BY code LIMIT 1").fetchone()
    assert row, "the test book holds a release that deletes codes (the FY2027 addenda)"
    return row[0], row[1]


def test_invented_codes_are_flagged_and_real_ones_kept(book):
    text = "Use K21.99 for reflux, or I50.99 for heart failure; K21.9 and I50.9 are the real codes."
    g = guard_text(book, text, WHEN)
    assert g.flagged == ["K21.99", "I50.99"]
    assert f"K21.99 {FLAG}" in g.text and f"I50.99 {FLAG}" in g.text
    assert "K21.9 and I50.9 are" in g.text  # valid codes untouched
    by_code = {c.code: c for c in g.codes}
    assert by_code["K21.9"].valid and by_code["K21.9"].title == book.find("icd10cm", "K21.9", WHEN).title
    assert by_code["I50.9"].valid and by_code["I50.9"].status == "active"
    assert not by_code["K21.99"].valid and by_code["K21.99"].status == "unknown" and by_code["K21.99"].title is None
    # guarding twice does not flag twice
    assert guard_text(book, g.text, WHEN).text == g.text


def test_section_refs_numbers_and_words_are_not_codes(book):
    text = ("See guideline I.C.4.a.3, section IV.H, Appendix I, PCS guideline B3.1a, NCCI Chapter I, E and "
            "§ 30.6.6. In FY2026 (2026-05-01), 150 ms, page 12, 10000 patients, A1C, B12, T2DM, COVID-19, "
            "H1N1, CMS-1500, Rev. 13316, version 30.2.")
    g = guard_text(book, text, WHEN)
    assert g.text == text and g.flagged == []
    assert scan(book, text, WHEN) == []


def test_every_system_is_recognised(book):
    text = ("K21.9, k219 in a question, 0RRJ0JZ, J1100, CPT 29881 with modifier 25, 29880-59, modifiers XU and LT, "
            "POS 11, and ICD-9-CM 530.81")
    found = {(f.system, f.code) for f in scan(book, text, WHEN, question=True)}
    assert {("icd10cm", "K21.9"), ("icd10pcs", "0RRJ0JZ"), ("hcpcs", "J1100"), ("cpt", "29881"), ("cpt", "29880"),
            ("modifier", "25"), ("modifier", "59"), ("modifier", "XU"), ("modifier", "LT"), ("pos", "11"),
            ("icd9cm", "530.81")} <= found
    # in an answer only upper-case spellings are codes: "k219" is then just a word
    assert ("icd10cm", "K21.9") in {(f.system, f.code) for f in scan(book, "k219 and K21.9", WHEN)}
    assert [f.text for f in scan(book, "k219 only", WHEN)] == []


@pytest.mark.parametrize("bad, system", [
    ("0RRJ0J9", "icd10pcs"),  # a PCS-shaped code no table row allows
    ("CPT 99999", "cpt"),
    ("modifier ZZ", "modifier"),
    ("J0001", "hcpcs"),
])
def test_invalid_codes_of_other_systems_are_flagged(book, bad, system):
    assert book.find(system, bad.split()[-1], WHEN) is None
    g = guard_text(book, f"Report {bad} today.", WHEN)
    assert g.flagged and FLAG in g.text, bad
    assert any(c.system == system and not c.valid for c in g.codes), bad


def test_codes_not_valid_on_the_date_are_flagged_as_such(book):
    code, last_day = _deleted_code(book)
    after = date.fromisoformat(last_day).replace(day=1).replace(year=int(last_day[:4]) + 1)
    g = guard_text(book, f"Assign {code}.", after)
    assert g.flagged == [code] and f"{code} [not valid on the date]" in g.text
    assert g.codes[0].status == "deleted" and not g.codes[0].valid
    # on a date it was valid, it passes
    assert guard_text(book, f"Assign {code}.", date.fromisoformat(last_day)).flagged == []


def test_empty_and_odd_input(book):
    assert guard_text(book, "", WHEN).text == "" and guard_text(book, None, WHEN).codes == []
    weird = "<script>K21.99</script> \x00 " + "x" * 5000
    g = guard_text(book, weird, WHEN)
    assert g.flagged == ["K21.99"] and g.text.startswith("<script>K21.99 " + FLAG)
