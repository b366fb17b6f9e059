"""HCPCS Level II: the January 2020 ANWEB file (fixed width and workbook), the July 2024 attributes,
the July 2025 code + long description list and the NOC list, checked against the files themselves.

The fixed-width records are parsed here independently of the importer, from the CMS record layout
(positions below), and every field of a sample of real records is compared with the book.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import random
import re
import tempfile
from datetime import date, timedelta
from pathlib import Path

import pytest

from medcode.codebook import SourceError, open_book
from medcode.codebook.build import build
from medcode.codebook.record import code_record
from medcode.codebook.sources import detect, hcpcs_anweb, hcpcs_attributes, hcpcs_list, hcpcs_noc, modifiers, pos
from medcode.codebook.writer import SourceFile, sha256_of

from shared_data import shared

# CMS HCPCS record layout: field -> (first column, last column[, width of one occurrence])
LAYOUT = {
    "code": (1, 5), "seq": (6, 10), "rec_id": (11, 11), "long": (12, 91), "short": (92, 119),
    "pricing": (120, 127, 2), "mpi": (128, 128), "cim": (129, 146, 6), "mcm": (147, 170, 8),
    "statute": (171, 180), "lab": (181, 204, 3), "xref": (205, 229, 5), "cov": (230, 230),
    "asc_grp": (231, 232), "asc_dt": (233, 240), "opps": (241, 243), "opps_pi": (244, 244),
    "opps_dt": (245, 252), "proc": (253, 256), "betos": (257, 259), "tos": (261, 265, 1),
    "anes": (266, 268), "add": (269, 276), "act": (277, 284), "term": (285, 292), "action": (293, 293),
}

ANWEB_2020 = ("hcpcs-2020-anweb", "HCPC2020_ANWEB_w_disclaimer.txt")
LIST_2025 = ("hcpcs-2025-jul-descriptions", "HCPC2025_JUL_ANWEB_v3.xlsx")
NOC_2025 = ("hcpcs-2025-jul-descriptions", "NOC_codes_JUL2025.xlsx")
ATTRIBUTES_2024 = ("ncci-2024q3", "hcpcs_lvl2.csv")
MODIFIERS_2024 = ("ncci-2024q3", "hcpcs_level2_modifiers.csv")
POS_2024 = ("ncci-2024q3", "pos.csv")
JUL_2025 = date(2025, 7, 1)

# Synthetic: a minimal ICD-10-CM tabular, only so that build() has the CM release it requires.
SYNTHETIC_CM = """<?xml version="1.0" encoding="utf-8"?>
<ICD10CM.tabular><version>2026</version>
<chapter><name>1</name><desc>Synthetic chapter</desc>
<section id="A00-A09"><desc>Synthetic block</desc><diag><name>A00</name><desc>Synthetic code</desc></diag></section>
</chapter></ICD10CM.tabular>
"""


# --- the files, read here without the importer ---------------------------------------------------

def field(line: str, name: str):
    first, last, *width = LAYOUT[name]
    value = line.ljust(320)[first - 1:last]
    if width:
        return [value[i:i + width[0]].strip() for i in range(0, len(value), width[0]) if value[i:i + width[0]].strip()]
    return value.strip()


def iso8(value: str):
    return date(int(value[:4]), int(value[4:6]), int(value[6:])) if value else None


@functools.lru_cache(maxsize=None)
def anweb_records() -> dict[tuple[str, str], dict]:
    """{(system, code): {"line": first record, "parts": [long description pieces], "no": line number}}."""
    text = shared(*ANWEB_2020).read_bytes().decode("cp1252")
    out: dict = {}
    last = None
    for no, line in enumerate(text.split("\r\n"), 1):
        if len(line) < 91 or not re.match(r"^([A-Z][0-9]{4}|   [0-9A-Z]{2})[0-9]{5}[3478]", line):
            continue
        code, rec_id = line[:5].strip(), line[10]
        system = "hcpcs" if rec_id in "34" else "modifier"
        if rec_id in "37":
            last = out[(system, code)] = {"line": line, "parts": [line[11:91]], "no": no}
        else:
            assert last is not None and last["line"][:5].strip() == code
            last["parts"].append(line[11:91])
    return out


def long_of(rec: dict) -> str:
    """The long description: the pieces joined, runs of spaces as one (as titles are stored)."""
    return " ".join(" ".join(p.split()) for p in rec["parts"] if p.strip())


def ws(text: str | None) -> str:
    return " ".join((text or "").split())


@functools.lru_cache(maxsize=None)
def list_2025() -> dict[tuple[str, str], str]:
    import openpyxl

    wb = openpyxl.load_workbook(shared(*LIST_2025), read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    wb.close()
    assert [str(c).strip() for c in rows[0]] == ["HCPCS", "LONG_DESCRIPTION"]
    return {("hcpcs" if len(c.strip()) == 5 else "modifier", c.strip()): t.strip() for c, t in rows[1:]}


@functools.lru_cache(maxsize=None)
def attributes_2024() -> dict[str, dict]:
    with open(shared(*ATTRIBUTES_2024), newline="", encoding="utf-8") as fh:
        return {r["hcpcs_code"]: r for r in csv.DictReader(fh)}


@functools.lru_cache(maxsize=None)
def modifiers_2024() -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    with open(shared(*MODIFIERS_2024), newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            out.setdefault(r["mod_code"], []).append(r)
    return out


def synthetic_cm(folder: Path) -> SourceFile:
    path = folder / "synthetic-icd10cm-tabular.xml"
    path.write_text(SYNTHETIC_CM)
    return SourceFile(kind="icd10cm_tabular", path=path, origin="imported")


def src_of(path: Path, **options) -> SourceFile:
    mod = detect(path)
    assert mod is not None, path
    return SourceFile(kind=mod.KIND, path=path, sha256=sha256_of(path), options=options)


@functools.lru_cache(maxsize=None)
def full_hcpcs_book_path() -> Path:
    """A book with every HCPCS-family file (ANWEB 2020, attributes 2024, modifier list 2024, July 2025
    list, NOC list, POS), built once per test run beside a synthetic CM tabular."""
    folder = Path(tempfile.mkdtemp(prefix="medcode-hcpcs-book-"))
    srcs = [synthetic_cm(folder)] + [src_of(shared(*f)) for f in
                                     (ANWEB_2020, ATTRIBUTES_2024, MODIFIERS_2024, LIST_2025, NOC_2025, POS_2024)]
    build(folder / "codebook.sqlite", srcs, progress=False)
    return folder / "codebook.sqlite"


@pytest.fixture(scope="module")
def hb():
    return open_book(full_hcpcs_book_path())


def detail_row(book, system: str, code: str, kind: str) -> dict:
    cur = book.db.execute("SELECT d.* FROM hcpcs_details d JOIN releases r ON r.id=d.release_id "
                          "WHERE d.system=? AND d.code=? AND r.kind=?", (system, code, kind))
    names = [c[0] for c in cur.description]
    rows = cur.fetchall()
    assert len(rows) == 1, (system, code, kind, rows)
    return dict(zip(names, rows[0]))


# --- the ANWEB file ----------------------------------------------------------------------------

def test_release_and_counts_follow_the_file(hb):
    recs = anweb_records()
    procs = {c for s, c in recs if s == "hcpcs"}
    mods = {c for s, c in recs if s == "modifier"}
    continuations = sum(len(r["parts"]) - 1 for r in recs.values())
    (rel,) = [r for r in hb.releases("hcpcs") if r.kind == "hcpcs_anweb"]
    assert rel.effective_from == date(2020, 1, 1) and rel.source == ANWEB_2020[1]
    assert rel.sha256 == hashlib.sha256(shared(*ANWEB_2020).read_bytes()).hexdigest()
    assert rel.counts["codes"] == len(procs) and rel.counts["modifiers"] == len(mods)
    assert rel.counts["records"] == len(recs) and rel.counts["continuation_records"] == continuations
    held = {r[0] for r in hb.db.execute("SELECT code FROM hcpcs_details WHERE system='hcpcs' AND release_id=?",
                                        (rel.id,))}
    assert held == procs
    (mrel,) = [r for r in hb.releases("modifier") if r.kind == "hcpcs_anweb"]
    assert {r[0] for r in hb.db.execute("SELECT code FROM hcpcs_details WHERE system='modifier' AND release_id=?",
                                        (mrel.id,))} == mods
    # every code of the file has its version from its added date; the versions of the release are the file's
    from_file = {r[0] for r in hb.db.execute("SELECT code FROM codes WHERE system='hcpcs' AND kind='code' "
                                             "AND release_id=?", (rel.id,))}
    assert from_file == procs
    # on the release date, the codes in effect are the file's codes not terminated before it, plus codes a
    # later release dates from before 2020 (listed since, with their added dates from the attributes)
    active_in_file = {c for c in procs if not field(recs[("hcpcs", c)]["line"], "term")
                      or iso8(field(recs[("hcpcs", c)]["line"], "term")) >= rel.effective_from}
    active = {c.code for c in hb.codes("hcpcs", "2020-01-01", billable=True)}
    assert active_in_file <= active
    assert all(c not in procs and attributes_2024()[c]["date_added"] <= "2020-01-01" for c in active - active_in_file)


def _sample(system: str, n: int, seed: int) -> list[str]:
    recs = anweb_records()
    codes = sorted(c for s, c in recs if s == system)
    picked = set(random.Random(seed).sample(codes, n))
    if system == "hcpcs":  # and every kind of field that is often blank
        for name in ("cim", "mcm", "statute", "lab", "xref", "asc_grp", "proc", "term"):
            picked.update(c for c in codes if field(recs[(system, c)]["line"], name))
        picked.update(c for c in codes if len(recs[(system, c)]["parts"]) >= 4)
        picked.update(c for c in codes if len(field(recs[(system, c)]["line"], "pricing")) > 1)
    else:
        picked.update(c for c in codes if field(recs[(system, c)]["line"], "term") or len(recs[(system, c)]["parts"]) > 1)
    return sorted(picked)


@pytest.mark.parametrize("system", ["hcpcs", "modifier"])
def test_every_field_of_sampled_records_matches_the_line(hb, system):
    recs = anweb_records()
    codes = _sample(system, 80 if system == "hcpcs" else 20, seed=2020)
    assert len(codes) > 80 if system == "hcpcs" else len(codes) > 20
    for code in codes:
        rec = recs[(system, code)]
        line = rec["line"]
        row = detail_row(hb, system, code, "hcpcs_anweb")
        expect = {
            "long_description": long_of(rec), "short_description": field(line, "short") or None,
            "pricing": field(line, "pricing"), "multiple_pricing": field(line, "mpi") or None,
            "cim": field(line, "cim"), "mcm": field(line, "mcm"), "statute": field(line, "statute") or None,
            "lab_cert": field(line, "lab"), "xref": field(line, "xref"), "coverage": field(line, "cov") or None,
            "asc_group": field(line, "asc_grp") or None, "asc_date": field(line, "asc_dt") or None,
            "opps": field(line, "opps") or None, "opps_pi": field(line, "opps_pi") or None,
            "opps_date": field(line, "opps_dt") or None, "proc_note": field(line, "proc") or None,
            "betos": field(line, "betos") or None, "tos": field(line, "tos"),
            "anesthesia_units": int(field(line, "anes")) if field(line, "anes") else None,
            "added": field(line, "add"), "action_date": field(line, "act") or None,
            "termination": field(line, "term") or None, "action_code": field(line, "action") or None,
        }
        got = {k: (json.loads(v) if k in ("pricing", "cim", "mcm", "lab_cert", "xref", "tos") else v)
               for k, v in row.items() if k in expect}
        for k in ("asc_date", "opps_date", "added", "action_date", "termination"):
            got[k] = got[k].replace("-", "") if got[k] else None
        assert got == expect, (code, rec["no"])
        # the API shape of the same record, for a date the 2020 release answers
        api = hb.hcpcs_details(system, code, "2020-06-01")
        assert api["release"].startswith("HCPCS Level II") and "January 2020" in api["release"]
        assert api["short_description"] == expect["short_description"]
        assert api["pricing_indicators"] == expect["pricing"] and api["type_of_service"] == expect["tos"]
        assert api["coverage_code"] == expect["coverage"] and api["betos"] == expect["betos"]
        assert api["added"] == iso8(expect["added"]) and api["terminated"] == iso8(expect["termination"] or "")
        # the code's version runs from its added date, titled with the long description
        added = iso8(field(line, "add"))
        version = hb.get(system, code, added)
        assert version.status == "active" and version.valid_from == added and version.title == long_of(rec)
        assert hb.find(system, code, added - timedelta(days=1)).status == "future"
        term = iso8(field(line, "term"))
        if term:
            assert version.valid_to == term
            assert hb.find(system, code, term).status == "active"
            gone = hb.find(system, code, term + timedelta(days=1))
            assert gone.status == "deleted" and not hb.exists(system, code, term + timedelta(days=1))


def test_every_terminated_code_ends_on_its_termination_date(hb):
    terminated = [(s, c, iso8(field(r["line"], "term"))) for (s, c), r in anweb_records().items()
                  if field(r["line"], "term")]
    assert len(terminated) > 600
    for system, code, term in terminated:
        assert hb.exists(system, code, term), code
        assert not hb.exists(system, code, term + timedelta(days=1)), code
        assert not hb.is_billable(system, code, "2025-08-01"), code  # listed in 2025, still discontinued


def test_multi_record_long_descriptions_are_joined():
    recs = anweb_records()
    longest = max(recs.values(), key=lambda r: len(r["parts"]))
    assert len(longest["parts"]) >= 10
    parsed = hcpcs_anweb.parse_text(SourceFile(kind="hcpcs_anweb", path=shared(*ANWEB_2020)))
    code = longest["line"][:5].strip()
    assert hcpcs_anweb.long_description(parsed.procedures[code]) == long_of(longest)
    assert len(parsed.procedures) + len(parsed.modifiers) == len(recs)


# --- the July 2024 attributes and the July 2025 list ---------------------------------------------

def test_releases_follow_each_other_by_date(hb):
    assert hb.release_for("hcpcs", "2020-06-01").kind == "hcpcs_anweb"
    assert hb.release_for("hcpcs", "2024-06-30").kind == "hcpcs_anweb"
    assert hb.release_for("hcpcs", "2024-07-01").kind == "hcpcs_attributes"
    assert hb.release_for("hcpcs", "2025-06-30").kind == "hcpcs_attributes"
    jul = hb.release_for("hcpcs", "2025-07-01")
    assert jul.kind == "hcpcs_list" and jul.effective_from == JUL_2025 and jul.effective_to is None
    assert hb.release_for("modifier", "2025-08-01").kind == "hcpcs_list"
    assert hb.release_for("modifier", "2024-08-01").kind == "hcpcs_modifiers"


def test_attributes_end_the_codes_discontinued_since_2020(hb):
    attrs = attributes_2024()
    recs = anweb_records()
    ended = [(c, date.fromisoformat(a["date_term"])) for c, a in attrs.items()
             if a["date_term"] and ("hcpcs", c) in recs and not field(recs[("hcpcs", c)]["line"], "term")]
    assert len(ended) > 300
    for code, term in ended:
        assert hb.exists("hcpcs", code, term) and not hb.exists("hcpcs", code, term + timedelta(days=1)), code
    rel = next(r for r in hb.releases("hcpcs") if r.kind == "hcpcs_attributes")
    assert rel.counts["rows"] == len(attrs) and rel.effective_from == date(2024, 7, 1)
    # the attributes of a code, as the release in effect gives them
    j1100 = hb.hcpcs_details("hcpcs", "J1100", "2024-08-01")
    assert j1100["release"] == rel.name and j1100["long_description"] is None
    assert j1100["pricing_indicators"] == attrs["J1100"]["price"].split(":")
    assert j1100["type_of_service"] == attrs["J1100"]["tos"].split(":")


def test_2025_list_titles_and_validity(hb):
    listed = list_2025()
    assert len(listed) == 8770
    attrs = attributes_2024()
    recs = anweb_records()
    before = JUL_2025 - timedelta(days=1)
    for system in ("hcpcs", "modifier"):
        codes = {c for s, c in listed if s == system}
        active_after = {c.code for c in hb.codes(system, JUL_2025) if c.kind != "section"}
        assert active_after <= codes, system  # nothing absent from the list is valid from its date
        rel = hb.release_for(system, JUL_2025)
        assert rel.counts["codes" if system == "hcpcs" else "modifiers"] == len(codes)
        for code in codes:
            now = hb.find(system, code, JUL_2025)
            assert now is not None, code  # every listed code is in the book
            old = hb.find(system, code, before)
            if now.status == "active":
                assert ws(now.title) == ws(listed[(system, code)]), code
                if old is not None and old.status == "active" and ws(old.title) != ws(now.title):
                    assert now.valid_from == JUL_2025 and old.valid_to == before
            known = (system, code) in recs or (system == "hcpcs" and code in attrs)
            if system == "modifier" and not known and code in modifiers_2024():
                assert now.valid_from == date(2024, 7, 1), code  # new in the 2024 modifier list
            elif not known:  # new since July 2024: all the list says is that it exists by its date
                assert now.valid_from == JUL_2025 and now.status == "active", code
            elif system == "hcpcs" and (system, code) not in recs:  # dated by the 2024 attributes
                first = hb.history(system, code)[0]
                assert first.valid_from.isoformat() == attrs[code]["date_added"], code
                assert (first.valid_to.isoformat() if first.valid_to else "") == attrs[code]["date_term"], code


def test_retitled_codes_keep_their_old_title_before_the_list(hb):
    listed = list_2025()
    retitled = []
    for (system, code), title in listed.items():
        old = hb.find(system, code, JUL_2025 - timedelta(days=1))
        if old is not None and old.status == "active" and ws(old.title) != ws(title):
            retitled.append((system, code, old.title, title))
    assert len(retitled) > 200
    for system, code, old_title, title in retitled:
        assert hb.get(system, code, "2025-06-15").title == old_title
        assert hb.get(system, code, "2025-07-15").title == ws(title)
        assert [v.title for v in hb.history(system, code)][-2:] == [old_title, ws(title)]


@pytest.mark.parametrize("code", ["G0008", "J1100"])
def test_g0008_and_j1100_by_date(hb, code):
    rec2020 = anweb_records()[("hcpcs", code)]
    title2025 = list_2025()[("hcpcs", code)]
    r20 = code_record(hb, "hcpcs", f" {code.lower()} ", date(2020, 6, 1))
    assert r20["code"] == code and r20["status"] == "active" and r20["billable"]
    assert r20["title"] == long_of(rec2020) and r20["release_in_effect"] == "HCPCS Level II January 2020 (ANWEB)"
    assert r20["hcpcs"]["short_description"] == field(rec2020["line"], "short")
    assert r20["hcpcs"]["pricing_indicators"] == field(rec2020["line"], "pricing")
    assert r20["hcpcs"]["betos"] == field(rec2020["line"], "betos")
    assert r20["hcpcs"]["action"] == hcpcs_anweb.ACTION_CODES[field(rec2020["line"], "action")]
    assert r20["hcpcs"]["noc"] is False
    assert r20["hierarchy"] == [{"code": code[0], "title": f"HCPCS Level II {code[0]} codes", "kind": "section"}]
    r25 = code_record(hb, "hcpcs", code, date(2025, 8, 1))
    assert r25["title"] == ws(title2025) and r25["status"] == "active"
    assert r25["release_in_effect"] == "HCPCS Level II July 2025 (code and long description list)"
    assert r25["effective"]["from"] == iso8(field(rec2020["line"], "add"))
    # keys every record has are still there
    for key in ("system", "code", "title", "billable", "status", "effective", "hierarchy", "children", "notes",
                "crosswalks", "history", "edits", "plain_language"):
        assert key in r25


def test_noc_list(hb):
    import openpyxl

    wb = openpyxl.load_workbook(shared(*NOC_2025), read_only=True)
    rows = [r for r in wb.worksheets[0].iter_rows(values_only=True)][4:]
    wb.close()
    codes = {r[0] for r in rows if r[0]}
    rel = next(r for r in hb.releases("hcpcs") if r.kind == "hcpcs_noc")
    assert rel.counts["codes"] == len(codes) and rel.effective_from == JUL_2025
    # a description continued on a second row is joined
    j7192 = hb.db.execute("SELECT title, added FROM hcpcs_noc WHERE code='J7192'").fetchone()
    assert j7192[0].endswith("not otherwise specified") and j7192[1] == "1994-01-01"
    assert hb.hcpcs_noc("A0999", "2025-08-01") is True and hb.hcpcs_noc("J1100", "2025-08-01") is False
    assert hb.hcpcs_noc("G6021", "2015-06-01") is True and hb.hcpcs_noc("G6021", "2016-01-01") is False


def test_browse_and_nearest(hb):
    letters = [c.code for c in hb.top_level("hcpcs", "2025-08-01")]
    assert letters == sorted(letters) and {"A", "G", "J", "U"} <= set(letters)
    assert all(not c.billable for c in hb.top_level("hcpcs", "2025-08-01"))
    kids = hb.children("hcpcs", "J", "2025-08-01")
    assert "J1100" in [c.code for c in kids] and [c.code for c in kids] == sorted(c.code for c in kids)
    assert hb.ancestors("hcpcs", "J1100", "2025-08-01")[0].code == "J"
    near = hb.nearest("hcpcs", "J110", "2025-08-01")
    assert near and near[0].code == "J1100"
    assert hb.get("hcpcs", "j 1100", "2025-08-01").code == "J1100"
    assert hb.find("hcpcs", "J9999X", "2025-08-01") is None


def test_the_shared_book_imports_the_hcpcs_folders(book):
    """The test book gets HCPCS through `medcode data import` of the folders (zip and workbook included)."""
    kinds = {r.kind for r in book.releases("hcpcs")}
    if "hcpcs_anweb" not in kinds:
        pytest.skip("the test book was built without hcpcs-2020-anweb")
    anweb = [r for r in book.releases("hcpcs") if r.kind == "hcpcs_anweb"]
    assert len(anweb) == 1  # the zip's copy of the text file is the same file: read once
    assert "hcpcs_list" in kinds and "hcpcs_noc" in kinds
    assert book.get("hcpcs", "G0008", "2020-06-01").title == long_of(anweb_records()[("hcpcs", "G0008")])
    assert book.get("hcpcs", "J1100", "2025-08-01").title == ws(list_2025()[("hcpcs", "J1100")])
    assert book.get("modifier", "LT", "2025-08-01").kind == "hcpcs_modifier"
    if "hcpcs_attributes" in kinds:  # ncci-2024q3 in the book: its attribute, modifier and POS lists
        u0003 = book.get("hcpcs", "U0003", "2025-08-01")  # listed in 2025, discontinued in 2023
        assert u0003.status == "deleted" and u0003.valid_to.isoformat() == attributes_2024()["U0003"]["date_term"]
        assert book.get("pos", "11", "2025-08-01").title == "Office"
        assert any(r.kind == "hcpcs_modifiers" for r in book.releases("modifier"))


# --- the workbook variant of the ANWEB file -------------------------------------------------------

XLS_HEADER = ["HCPC", "SEQNUM", "RECID", "LONG DESCRIPTION", "SHORT DESCRIPTION", "PRICE1", "PRICE2", "PRICE3",
              "PRICE4", "MULT_PI", "CIM1", "CIM2", "CIM3", "MCM1", "MCM2", "MCM3", "STATUTE", "LABCERT1",
              "LABCERT2", "LABCERT3", "LABCERT4", "LABCERT5", "LABCERT6", "LABCERT7", "LABCERT8", "XREF1", "XREF2",
              "XREF3", "XREF4", "XREF5", "COV", "ASC_GRP", "ASC_DT", "OPPS", "OPPS_PI", "OPPS_DT", "PROCNOTE",
              "BETOS", "TOS1", "TOS2", "TOS3", "TOS4", "TOS5", "ANEST_BU", "ADD DT", "ACT EFF DT", "TERM DT",
              "ACTION CD"]


def _xlsx_row(line: str) -> list:
    def n(values, k):
        return (values + [""] * k)[:k]

    return ([line[:5], line[5:10], int(line[10]), line[11:91].strip()]
            + ([field(line, "short")] + n(field(line, "pricing"), 4) + [field(line, "mpi")] + n(field(line, "cim"), 3)
               + n(field(line, "mcm"), 3) + [field(line, "statute")] + n(field(line, "lab"), 8) + n(field(line, "xref"), 5)
               + [field(line, "cov"), field(line, "asc_grp"), field(line, "asc_dt"), field(line, "opps"),
                  field(line, "opps_pi"), field(line, "opps_dt"), field(line, "proc"), field(line, "betos")]
               + n(field(line, "tos"), 5)
               + [int(field(line, "anes")) if field(line, "anes") else None,
                  int(field(line, "add")), int(field(line, "act")) if field(line, "act") else None,
                  int(field(line, "term")) if field(line, "term") else None, field(line, "action")]
               if line[10] in "37" else [None] * 44))


def test_the_workbook_variant_gives_the_same_records(tmp_path):
    import openpyxl

    text = shared(*ANWEB_2020).read_bytes().decode("cp1252").split("\r\n")
    lines = [l for l in text if len(l) >= 91 and re.match(r"^([A-Z][0-9]{4}|   [0-9A-Z]{2})[0-9]{5}[3478]", l)]
    mods = sorted({l[:5] for l in lines if l[10] == "7"})[:60]
    procs = sorted({l[:5] for l in lines if l[10] == "3" and l[0] in "JL"})[:250]
    picked = [l for l in lines if l[:5] in set(mods) | set(procs)]
    wb = openpyxl.Workbook(write_only=True)
    ws_ = wb.create_sheet("HCPC2020_ANWEB")
    ws_.append(["Note regarding coverage and payment indicators for codes in the 2020 HCPCS Update"])
    ws_.append([])
    ws_.append(XLS_HEADER)
    for line in picked:
        ws_.append(_xlsx_row(line))
    path = tmp_path / "HCPC2020_ANWEB_w_disclaimer.xlsx"
    wb.save(path)
    assert detect(path) is hcpcs_anweb
    from_xlsx = hcpcs_anweb.parse_xlsx(SourceFile(kind="hcpcs_anweb", path=path))
    from_text = hcpcs_anweb.parse_text(SourceFile(kind="hcpcs_anweb", path=shared(*ANWEB_2020)))
    assert set(from_xlsx.modifiers) and set(from_xlsx.procedures)
    for kind in ("procedures", "modifiers"):
        for code, rec in getattr(from_xlsx, kind).items():
            other = getattr(from_text, kind)[code]
            assert hcpcs_anweb.long_description(rec) == hcpcs_anweb.long_description(other), code
            for name in ("pricing", "cim", "mcm", "lab_cert", "xref", "tos", "added", "action_date", "termination",
                         "anesthesia_units", "asc_date"):
                assert rec.fields[name] == other.fields[name], (code, name)
            for name in ("short", "coverage", "betos", "statute", "action_code", "multiple_pricing", "proc_note"):
                assert rec.fields[name].strip() == other.fields[name].strip(), (code, name)
    dest = tmp_path / "book.sqlite"
    build(dest, [synthetic_cm(tmp_path), src_of(path)], progress=False)
    b = open_book(dest)
    code = next(iter(from_xlsx.procedures))
    assert b.get("hcpcs", code, "2020-01-01").title == hcpcs_anweb.long_description(from_text.procedures[code])
    assert b.release_for("hcpcs", "2020-06-01").effective_from == date(2020, 1, 1)


# --- recognising the files -----------------------------------------------------------------------

def test_each_file_is_recognised_by_its_own_importer_only(tmp_path):
    import zipfile

    assert detect(shared(*ANWEB_2020)) is hcpcs_anweb
    assert detect(shared(*LIST_2025)) is hcpcs_list
    assert detect(shared(*NOC_2025)) is hcpcs_noc
    mine = {hcpcs_anweb, hcpcs_attributes, hcpcs_list, hcpcs_noc, modifiers, pos}
    expected = {"hcpcs_lvl2.csv": hcpcs_attributes, "hcpcs_level2_modifiers.csv": modifiers, "pos.csv": pos}
    for path in sorted(shared("ncci-2024q3").iterdir()):
        found = detect(path)
        if path.name in expected:
            assert found is expected[path.name], path.name
        else:
            assert found not in mine, path.name  # the NCCI / PFS files belong to their own importers
    for other in ("HCPC2020_README.txt", "proc_notes_2020.txt"):
        assert detect(shared("hcpcs-2020-anweb", other)) is None
    with zipfile.ZipFile(shared("hcpcs-2020-anweb", "2020-Alpha-Numeric-HCPCS-File.zip")) as zf:
        for name in zf.namelist():
            target = tmp_path / Path(name).name
            target.write_bytes(zf.read(name))
            found = detect(target)
            assert found is (hcpcs_anweb if name.endswith("ANWEB_w_disclaimer.txt") else None), name


# --- bad files: a clear error, and the book as it was ----------------------------------------------

def _tiny_anweb() -> list[str]:
    """The file's disclaimer and first modifier records, then its first procedure records."""
    text = shared(*ANWEB_2020).read_bytes().decode("cp1252").split("\r\n")
    first_code = next(i for i, l in enumerate(text) if l.startswith("A0021"))
    return text[:40] + text[first_code:first_code + 40]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def good_book(tmp_path) -> Path:
    good = tmp_path / "HCPC2020_ANWEB_good.txt"
    good.write_bytes("\r\n".join(_tiny_anweb()).encode("cp1252"))
    dest = tmp_path / "book.sqlite"
    build(dest, [synthetic_cm(tmp_path), src_of(good)], progress=False)
    return dest


def _break(kind: str, lines: list[str]) -> tuple[list[str], int, list[str]]:
    """A broken copy of the lines, the line number that is wrong, and what the message must say."""
    lines = list(lines)
    at = next(i for i, l in enumerate(lines) if re.match(r"^[A-Z][0-9]{4}[0-9]{5}3", l) and len(l) == 320) + 3
    while not (len(lines[at]) == 320 and lines[at][10] == "3"):
        at += 1
    line = lines[at]
    if kind == "shifted_right":
        lines[at] = line[:100] + " " + line[100:]
        say = ["321 characters", "shifted"]
    elif kind == "shifted_left":
        lines[at] = line[:150] + line[151:]
        say = ["shifted"]
    elif kind == "bad_date":
        lines[at] = line[:268] + "20191341" + line[276:]
        say = ["code added date", "20191341", "not a valid date"]
    elif kind == "blank_added":
        lines[at] = line[:268] + " " * 8 + line[276:]
        say = ["code added date", "blank"]
    elif kind == "term_before_added":
        lines[at] = line[:284] + "19700101" + line[292:]
        say = ["termination date", "before"]
    elif kind == "wrong_layout":
        lines[at] = "Add:    A0001    Synthetic line of another layout"
        say = ["not an ANWEB record"]
    elif kind == "orphan_continuation":
        lines[at] = "Z9999" + "00200" + "4" + "synthetic continuation".ljust(80)
        say = ["continuation record", "does not follow"]
    else:
        raise AssertionError(kind)
    return lines, at + 1, say


@pytest.mark.parametrize("kind", ["shifted_right", "shifted_left", "bad_date", "blank_added", "term_before_added",
                                  "wrong_layout", "orphan_continuation"])
def test_bad_anweb_files_are_refused_and_the_book_is_unchanged(good_book, tmp_path, kind):
    lines, line_no, say = _break(kind, _tiny_anweb())
    bad = tmp_path / f"HCPC2020_ANWEB_{kind}.txt"
    bad.write_bytes("\r\n".join(lines).encode("cp1252"))
    before = _digest(good_book)
    with pytest.raises(SourceError) as err:
        build(good_book, [synthetic_cm(tmp_path), SourceFile(kind="hcpcs_anweb", path=bad)], progress=False)
    message = str(err.value)
    assert bad.name in message and f":{line_no}:" in message, message
    for words in say:
        assert words in message, message
    assert _digest(good_book) == before
    assert open_book(good_book).find("hcpcs", "A0021", "2020-06-01") is not None
    assert open_book(good_book).find("modifier", "A1", "2020-06-01") is not None


def test_import_names_the_users_file_and_keeps_the_book(good_book, tmp_path):
    from medcode.codebook.imports import import_paths

    lines, line_no, _ = _break("bad_date", _tiny_anweb())
    bad = tmp_path / "HCPC2020_ANWEB_bad.txt"
    bad.write_bytes("\r\n".join(lines).encode("cp1252"))
    before = _digest(good_book)
    with pytest.raises(SourceError) as err:
        import_paths([bad], tmp_path / "sources", good_book, progress=False)
    assert str(bad) in str(err.value) and f":{line_no}:" in str(err.value)
    assert _digest(good_book) == before


def test_bad_2025_list_rows_are_refused(tmp_path):
    import openpyxl

    for case, rows, say in [
        ("bad_code", [["HCPCS", "LONG_DESCRIPTION"], ["J11000", "Synthetic title"]], "not a HCPCS Level II code"),
        ("shifted", [["HCPCS", "LONG_DESCRIPTION"], ["J1100", "Synthetic title", "spill"]], "outside the two columns"),
        ("twice", [["HCPCS", "LONG_DESCRIPTION"], ["J1100", "Synthetic a"], ["J1100", "Synthetic b"]], "twice"),
        ("no_title", [["HCPCS", "LONG_DESCRIPTION"], ["J1100", None]], "no description"),
    ]:
        wb = openpyxl.Workbook()
        for row in rows:
            wb.active.append(row)
        path = tmp_path / f"HCPC2025_JUL_{case}.xlsx"
        wb.save(path)
        assert detect(path) is hcpcs_list
        with pytest.raises(SourceError) as err:
            hcpcs_list.parse(SourceFile(kind="hcpcs_list", path=path))
        assert path.name in str(err.value) and say in str(err.value) and "row" in str(err.value), case
