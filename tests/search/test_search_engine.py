"""medcode.search over the real test codebook: codes typed as codes, words, abbreviations, lay terms,
misspellings, laterality, the Drug and Neoplasm Tables, PCS, filters and dates of service."""

from __future__ import annotations

import pytest

from medcode.search import SearchError, search

WHEN = "2026-05-01"  # FY2026 (April 1 update) is in effect


def codes(book, q, **kw):
    kw.setdefault("date", WHEN)
    return [r["code"] for r in search(book, q, **kw)["results"]]


def first(book, q, **kw):
    kw.setdefault("date", WHEN)
    results = search(book, q, **kw)["results"]
    assert results, f"no results for {q!r}"
    return results[0]


# --- codes typed as codes ----------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["E11.9", "e119", " E11.9 ", "e11.9", "E119"])
def test_a_code_in_any_spelling_comes_first(book, typed):
    top = first(book, typed)
    assert (top["code"], top["match"]) == ("E11.9", "code")
    assert top["title"] == book.get("icd10cm", "E11.9", WHEN).title
    assert top["billable"] is True


def test_a_header_with_a_trailing_dot_lists_itself_then_the_codes_below(book):
    found = codes(book, "K57.", limit=20)
    assert found[0] == "K57"
    assert all(c.startswith("K57.") for c in found[1:])
    below = [c.code for c in book.children("icd10cm", "K57", WHEN)]
    assert below[0] in found  # tabular order: the first child comes right after its parent


def test_a_subcategory_lists_its_children(book):
    found = codes(book, "M17.1")
    assert found[0] == "M17.1"
    assert set(found[1:]) == {c.code for c in book.children("icd10cm", "M17.1", WHEN)}


def test_seventh_character_code_with_placeholder(book):
    assert codes(book, "T40.2X1A")[0] == "T40.2X1A"
    assert codes(book, "t402x1a")[0] == "T40.2X1A"


def test_pcs_code_and_partial_pcs_code(book):
    assert codes(book, "0RRJ0JZ")[0] == "0RRJ0JZ"
    found = codes(book, "0RR", limit=30)
    assert found[0] == "0RR"
    assert len(found) == 30 and all(c.startswith("0RR") for c in found)
    assert codes(book, "0rrj")[0].startswith("0RRJ")


def test_a_code_shaped_word_that_is_no_code_is_searched_as_words(book):
    # "B12" is not an ICD-10-CM code: it is read as words (vitamin B12)
    found = search(book, "b12 deficiency", date=WHEN)["results"]
    assert found and all(r["match"] != "code" for r in found)


# --- words ---------------------------------------------------------------------------------

def test_abbreviation(book):
    assert first(book, "NSTEMI")["code"] == "I21.4"
    assert first(book, "chf")["code"] == "I50.9"


def test_lay_term_goes_through_the_index(book):
    top = first(book, "heart attack")
    assert top["code"] == "I21.9"
    assert top["match"].startswith("index: Infarct")


def test_misspelling_is_corrected_and_reported(book):
    for typed, word, code in [("gastritus", "gastritis", "K29.70"), ("celulitis", "cellulitis", "L03.90"),
                              ("sciatia", "sciatica", "M54.30"), ("emphazema", "emphysema", "J43.9")]:
        doc = search(book, typed, date=WHEN)
        assert doc["corrected_query"] == word, typed
        assert doc["results"][0]["code"] == code, typed


def test_a_correct_query_is_not_corrected(book):
    assert search(book, "acute appendicitis", date=WHEN)["corrected_query"] is None


def test_laterality_steers_to_the_side(book):
    assert first(book, "carpal tunnel syndrome right")["code"] == "G56.01"
    assert first(book, "carpal tunnel syndrome left")["code"] == "G56.02"
    assert first(book, "carpal tunnel syndrome")["code"] == "G56.00"  # side not stated
    assert first(book, "carpal tunnel syndrome bilateral")["code"] == "G56.03"


def test_encounter_words_pick_the_seventh_character(book):
    assert first(book, "fx right wrist")["code"].endswith("A")  # initial encounter by default
    assert first(book, "fx right wrist subsequent")["code"].endswith("D")
    assert first(book, "fx right wrist sequela")["code"].endswith("S")


def test_prefix_words_while_typing(book):
    assert first(book, "diab typ 2 w neph")["code"] == "E11.21"


def test_index_see_reference_is_followed(book):
    top = first(book, "attack heart")
    assert top["code"] == "I21.9"
    assert "see" in top["match"]


def test_inclusion_term_match(book):
    top = first(book, "hay fever")
    assert top["code"] == "J30.1"


def test_pcs_procedure_in_words(book):
    assert "0RRJ0JZ" in codes(book, "total shoulder replacement right", system="icd10pcs")[:3]


def test_drug_table_cell(book):
    top = first(book, "poisoning by acetaminophen accidental")
    assert top["code"] == "T39.1X1A"
    assert top["match"] == "drug table: Acetaminophen [Poisoning Accidental (unintentional)]"
    assert first(book, "acetaminophen adverse effect")["code"] == "T39.1X5A"


def test_neoplasm_table_cell(book):
    top = first(book, "malignant neoplasm of left breast upper outer quadrant")
    assert top["code"].startswith("C50.41") and top["code"].endswith("2")  # the left breast
    top = first(book, "secondary malignant neoplasm of liver")
    assert top["code"] == "C78.7"
    assert top["match"].startswith("neoplasm table: Neoplasm, neoplastic, liver [Malignant Secondary]")


def test_specific_billable_code_before_its_header(book):
    found = search(book, "water on the knee", date=WHEN)["results"]
    assert found[0]["billable"] is True
    assert found[0]["code"] == "M25.469"
    assert "M25.46" in [r["code"] for r in found]


# --- filters and dates ---------------------------------------------------------------------

def test_system_filter(book):
    for system in book.systems():
        found = search(book, "shoulder", system=system, date=WHEN)["results"]
        assert {r["system"] for r in found} <= {system}
        assert found or system not in ("icd10cm", "icd10pcs", "hcpcs")
    missing = next(s for s in ("cpt", "hcpcs", "modifier") if s not in book.systems())
    assert search(book, "shoulder", system=missing, date=WHEN)["results"] == []  # not held
    everywhere = {r["system"] for r in search(book, "shoulder", date=WHEN, limit=100)["results"]}
    assert {"icd10cm", "icd10pcs"} <= everywhere


def test_billable_filter(book):
    assert all(r["billable"] for r in search(book, "K57", billable=True, date=WHEN)["results"])
    assert not any(r["billable"] for r in search(book, "heart attack", billable=False, date=WHEN)["results"])


def test_chapter_filter(book):
    # fracture: chapter 19 (injury) and chapter 13 (pathological fractures)
    found = search(book, "fracture of femur", chapter="13", date=WHEN, limit=20)["results"]
    assert found and all(r["code"].startswith("M") for r in found)
    found = search(book, "K57", chapter="11", date=WHEN)["results"]
    assert found and all(r["code"].startswith("K57") for r in found)
    assert search(book, "K57", chapter="2", date=WHEN)["results"] == []


def _fy2027_code(book):
    row = book.db.execute(
        "SELECT code, title FROM codes c WHERE system='icd10cm' AND valid_from='2026-10-01' AND billable=1 "
        "AND NOT EXISTS (SELECT 1 FROM codes o WHERE o.system=c.system AND o.code=c.code AND o.valid_from<"
        "'2026-10-01') ORDER BY code LIMIT 1").fetchone()
    if row is None:
        pytest.skip("the test codebook holds no FY2027 addenda")
    return row


def test_a_code_added_in_fy2027_is_not_returned_before_october_2026(book):
    code, title = _fy2027_code(book)
    assert code not in codes(book, code, date="2026-05-01")
    assert code not in codes(book, title, date="2026-05-01", limit=50)
    assert codes(book, code, date="2026-10-15")[0] == code
    assert code in codes(book, title, date="2026-10-15", limit=50)


def test_results_carry_the_title_in_effect_on_the_date(book):
    for r in search(book, "diabetes with kidney disease", date=WHEN)["results"]:
        assert r["title"] == book.get(r["system"], r["code"], WHEN).title


# --- errors --------------------------------------------------------------------------------

@pytest.mark.parametrize("limit", [0, -1, 101, 100000, "x", None])
def test_bad_limit(book, limit):
    with pytest.raises(SearchError) as exc:
        search(book, "asthma", limit=limit)
    assert exc.value.code == "bad_limit"


def test_limit_bounds(book):
    assert len(search(book, "fracture", limit=1)["results"]) == 1
    assert len(search(book, "fracture", limit=100)["results"]) == 100


@pytest.mark.parametrize("kwargs, code", [({"system": "icd11"}, "bad_system"), ({"chapter": "99"}, "bad_chapter"),
                                          ({"chapter": "X", "system": "icd10cm"}, "bad_chapter"),
                                          ({"date": "2026-13-45"}, "bad_date"), ({"date": "yesterday"}, "bad_date")])
def test_bad_filters(book, kwargs, code):
    with pytest.raises(SearchError) as exc:
        search(book, "asthma", **kwargs)
    assert exc.value.code == code
