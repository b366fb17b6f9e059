"""HCPCS Level II modifiers (ANWEB modifier records, the 2024 modifier list, the July 2025 list) and the
CMS place of service codes, checked against the files."""

from __future__ import annotations

import csv
import hashlib
from datetime import date, timedelta
from pathlib import Path

import pytest

from medcode.codebook import SourceError, open_book
from medcode.codebook.build import build
from medcode.codebook.record import code_record
from medcode.codebook.sources import detect, modifiers, pos

from shared_data import shared
from test_hcpcs import (MODIFIERS_2024, POS_2024, anweb_records, field, full_hcpcs_book_path, iso8, list_2025,
                        long_of, modifiers_2024, synthetic_cm, ws)


@pytest.fixture(scope="module")
def hb():
    return open_book(full_hcpcs_book_path())


def pos_rows() -> list[dict]:
    with open(shared(*POS_2024), newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# --- modifiers -----------------------------------------------------------------------------------

def test_modifier_list_counts_follow_the_file(hb):
    rows = sum(len(v) for v in modifiers_2024().values())
    with open(shared(*MODIFIERS_2024), newline="", encoding="utf-8") as fh:
        assert rows == sum(1 for _ in csv.DictReader(fh))
    rel = next(r for r in hb.releases("modifier") if r.kind == "hcpcs_modifiers")
    assert rel.effective_from == date(2024, 7, 1) and rel.source == MODIFIERS_2024[1]
    assert rel.counts["rows"] == rows and rel.counts["modifiers"] == len(modifiers_2024())
    held = {r[0] for r in hb.db.execute("SELECT code FROM modifier_guidance WHERE release_id=?", (rel.id,))}
    assert held == set(modifiers_2024())
    # every listed modifier is a Level II modifier of the book from the list's date
    for code, rs in modifiers_2024().items():
        found = hb.find("modifier", code, "2024-07-01")
        assert found is not None and found.kind == "hcpcs_modifier", code
        if found.status == "active" and found.valid_from == date(2024, 7, 1):  # new, or retitled in words
            assert found.title == ws(rs[0]["mod_description"]), code


@pytest.mark.parametrize("code", ["LT", "RT", "XE", "XS", "GA", "GY", "E1"])
def test_level2_modifiers_by_date(hb, code):
    rec = anweb_records()[("modifier", code)]
    added = iso8(field(rec["line"], "add"))
    on_2020 = code_record(hb, "modifier", code.lower(), date(2020, 6, 1))
    assert on_2020["title"] == long_of(rec) and on_2020["status"] == "active"
    assert on_2020["effective"]["from"] == added
    assert on_2020["modifier"]["level"] == "HCPCS Level II"
    assert on_2020["hcpcs"]["short_description"] == field(rec["line"], "short")
    assert on_2020["hcpcs"]["added"] == added
    on_2025 = code_record(hb, "modifier", code, date(2025, 8, 1))
    assert on_2025["title"] == ws(list_2025()[("modifier", code)]) and on_2025["status"] == "active"
    guidance = on_2025["modifier"]["guidance"]
    csv_rows = modifiers_2024()[code]
    assert guidance["categories"] == [r["mod_category"] for r in csv_rows if r["mod_category"]]
    assert guidance["correct_use"] == (csv_rows[0]["mod_correct_use"] or None)
    assert hb.release_for("modifier", "2025-08-01").kind == "hcpcs_list"


def test_59_is_a_cpt_modifier_not_level2(hb):
    assert hb.find("modifier", "59", "2025-08-01") is None  # CPT modifiers come only with licensed data
    assert "59" not in modifiers_2024() and ("modifier", "59") not in list_2025()


def test_a_modifier_with_two_categories_is_one_modifier(hb):
    assert len(modifiers_2024()["KX"]) == 2
    kx = hb.modifier_guidance("KX", "2025-01-01")
    assert kx["categories"] == [r["mod_category"] for r in modifiers_2024()["KX"]]
    assert hb.count("modifier", "2025-01-01") == len({c.code for c in hb.codes("modifier", "2025-01-01")})


def test_third_party_wording_does_not_make_a_new_version(hb):
    # the list writes TC shorter and drops the quotes of GJ: the official title stays
    assert hb.get("modifier", "TC", "2024-08-01").title == long_of(anweb_records()[("modifier", "TC")])
    assert hb.get("modifier", "GJ", "2024-08-01").valid_from == iso8(field(anweb_records()[("modifier", "GJ")]["line"], "add"))
    # a change of words is a new version: CS was given a new meaning
    cs = hb.history("modifier", "CS")
    assert [v.valid_from for v in cs][-1] == date(2024, 7, 1)
    assert cs[-1].title == ws(modifiers_2024()["CS"][0]["mod_description"])


def test_every_2025_modifier_title(hb):
    listed = {c: t for (s, c), t in list_2025().items() if s == "modifier"}
    assert len(listed) == 383
    active = {c.code: c for c in hb.codes("modifier", "2025-07-01")}
    assert set(active) <= set(listed)
    for code, title in listed.items():
        if code in active:
            assert active[code].title == ws(title), code


# --- place of service ----------------------------------------------------------------------------

def test_pos_counts_and_every_row(hb):
    rows = pos_rows()
    assigned = [r for r in rows if r["pos_name"].strip().lower() != "unassigned"]
    rel = next(iter(hb.releases("pos")))
    assert rel.counts == {**rel.counts, "rows": len(rows), "codes": len(assigned), "unassigned": len(rows) - len(assigned)}
    assert rel.effective_from == date(2024, 7, 1)
    assert hb.count("pos", "2024-07-01") == len(assigned)
    for r in rows:
        found = hb.find("pos", r["pos_code"], "2024-07-01")
        if r in assigned:
            assert found.title == ws(r["pos_name"]) and found.status == "active", r
            details = hb.pos_details(r["pos_code"], "2024-07-01")
            assert details["setting"] == r["pos_type"] and details["description"] == ws(r["pos_description"])
        else:
            assert found is None, r  # an unassigned number is not a code


@pytest.mark.parametrize("code,title,setting", [("11", "Office", "Non-Facility"),
                                                ("22", "On Campus-Outpatient Hospital", "Facility"),
                                                ("23", "Emergency Room-Hospital", "Facility")])
def test_pos_records(hb, code, title, setting):
    rec = code_record(hb, "pos", f" {code} ", date(2025, 8, 1))
    assert rec["title"] == title and rec["status"] == "active" and rec["pos"]["setting"] == setting
    assert rec["release_in_effect"] == "Place of service codes July 2024"
    assert hb.nearest("pos", code + "9", "2025-08-01")[0].code == code


# --- recognising the files and bad files ------------------------------------------------------------

def test_sniffed_by_header_row_only(tmp_path):
    assert detect(shared(*MODIFIERS_2024)) is modifiers and detect(shared(*POS_2024)) is pos
    other = tmp_path / "pos.csv"
    other.write_text("code,name\n11,Office\n")
    assert detect(other) is None


def _build_with(tmp_path: Path, path: Path, kind: str, **options):
    from medcode.codebook.writer import SourceFile

    dest = tmp_path / "book.sqlite"
    return dest, lambda: build(dest, [synthetic_cm(tmp_path), SourceFile(kind=kind, path=path, options=options)],
                               progress=False)


MOD_HEADER = "mod_code,mod_type,mod_category,mod_description,mod_information,mod_instructions,mod_correct_use," \
             "mod_incorrect_use,mod_resources\n"
POS_HEADER = "pos_code,pos_type,pos_name,pos_description\n"


@pytest.mark.parametrize("case,text,line,say", [
    ("columns", MOD_HEADER + "LT,HCPCS,,Synthetic left,,,,,\nRT,HCPCS,Synthetic right,,,,\n", 3, "7 columns"),
    ("code", MOD_HEADER + "LT,HCPCS,,Synthetic left,,,,,\nLTX,HCPCS,,Synthetic,,,,,\n", 3, "not a two-character"),
    ("twice", MOD_HEADER + "LT,HCPCS,,Synthetic left,,,,,\nLT,HCPCS,,Synthetic other,,,,,\n", 3, "another description"),
    ("type", MOD_HEADER + "LT,HCPCS,,Synthetic left,,,,,\nZZ,ICD,,Synthetic,,,,,\n", 3, "neither HCPCS nor CPT"),
])
def test_bad_modifier_lists(tmp_path, case, text, line, say):
    path = tmp_path / f"hcpcs_level2_modifiers_2024-07-01_{case}.csv"
    path.write_text(text)
    assert detect(path) is modifiers
    dest, run = _build_with(tmp_path, path, "hcpcs_modifiers")
    with pytest.raises(SourceError) as err:
        run()
    assert path.name in str(err.value) and f":{line}:" in str(err.value) and say in str(err.value)
    assert not dest.exists()


def test_a_list_without_a_date_is_refused_unless_known(tmp_path):
    path = tmp_path / "hcpcs_level2_modifiers.csv"
    path.write_text(MOD_HEADER + "LT,HCPCS,,Synthetic left side,,,,,\n")
    dest, run = _build_with(tmp_path, path, "hcpcs_modifiers")
    with pytest.raises(SourceError) as err:
        run()
    assert "no date" in str(err.value) and "2024-07-01" in str(err.value)
    dest, run = _build_with(tmp_path, path, "hcpcs_modifiers", effective_from="2024-07-01")
    run()
    assert open_book(dest).get("modifier", "LT", "2024-08-01").title == "Synthetic left side"


@pytest.mark.parametrize("case,text,line,say", [
    ("code", POS_HEADER + "11,Non-Facility,Office,Synthetic\n1,Facility,Synthetic,Synthetic\n", 3, "two-digit"),
    ("columns", POS_HEADER + "11,Non-Facility,Office\n", 2, "3 columns"),
    ("twice", POS_HEADER + "11,Non-Facility,Office,Synthetic\n11,Facility,Synthetic,Synthetic\n", 3, "twice"),
])
def test_bad_pos_lists_leave_the_book_unchanged(tmp_path, case, text, line, say):
    good = tmp_path / "pos_2024-07-01.csv"
    good.write_text(POS_HEADER + "11,Non-Facility,Office,Synthetic description\n")
    dest, run = _build_with(tmp_path, good, "pos")
    run()
    before = hashlib.sha256(dest.read_bytes()).hexdigest()
    bad = tmp_path / f"pos_2024-07-01_{case}.csv"
    bad.write_text(text)
    from medcode.codebook.writer import SourceFile

    with pytest.raises(SourceError) as err:
        build(dest, [synthetic_cm(tmp_path), SourceFile(kind="pos", path=bad)], progress=False)
    assert bad.name in str(err.value) and f":{line}:" in str(err.value) and say in str(err.value)
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == before


def test_a_newer_pos_list_ends_what_it_drops(tmp_path):
    from medcode.codebook.writer import SourceFile

    first = tmp_path / "pos_2024-07-01.csv"
    first.write_text(POS_HEADER + "11,Non-Facility,Office,Synthetic\n12,Non-Facility,Home,Synthetic\n")
    second = tmp_path / "pos_2025-01-01.csv"
    second.write_text(POS_HEADER + "11,Non-Facility,Office,Synthetic\n13,Facility,Synthetic new,Synthetic\n")
    dest = tmp_path / "book.sqlite"
    build(dest, [synthetic_cm(tmp_path), SourceFile(kind="pos", path=second), SourceFile(kind="pos", path=first)],
          progress=False)
    b = open_book(dest)
    assert b.exists("pos", "12", "2024-12-31") and not b.exists("pos", "12", "2025-01-01")
    assert b.find("pos", "12", "2025-01-01").status == "deleted"
    assert b.get("pos", "13", "2025-01-01").valid_from == date(2025, 1, 1)
    assert b.get("pos", "11", "2025-06-01").valid_from == date(2024, 7, 1)
    assert b.release_for("pos", "2024-12-31").effective_to == date(2025, 1, 1) - timedelta(days=1)
