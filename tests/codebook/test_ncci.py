"""NCCI PTP edits, MUEs and add-on code edits, imported from files in CMS's official layouts.

The layouts are written by tests/ncci_official.py from the CSV/JSON copies in ../shared/data (see its
docstring for what the copies lack and how it is filled in); the test book imports them through
`medcode data import`. Counts and records are checked against the copies, read here independently.
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import json
import random
import sqlite3
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from medcode.codebook import SourceError
from medcode.codebook.schema import DDL
from medcode.codebook.sources import detect, ncci_aoc, ncci_mue, ncci_ptp
from medcode.codebook.writer import BuildContext, SourceFile

from shared_data import book_folder, shared

RELEASE = date(2024, 7, 1)
PTP_CSV = {"practitioner": "ncci_ptp_prac_pairs.csv.gz", "hospital": "ncci_ptp_out_pairs.csv.gz"}
PTP_PREFIX = {"practitioner": "ccipra", "hospital": "ccioph"}
MUE_CSV = {"practitioner": "ncci_mue_prac.csv", "hospital": "ncci_mue_out.csv", "dme": "ncci_mue_dme.csv"}


@pytest.fixture(scope="module")
def ncci(book):
    if not book.edit_sets("ncci_ptp"):
        pytest.skip("the test book was built without ncci-official (MEDCODE_TEST_BOOK_FOLDERS)")
    return book


@pytest.fixture(scope="module")
def official() -> Path:
    folder = book_folder("ncci-official")
    if folder is None:
        pytest.skip("the NCCI copies in ../shared/data are not available")
    return folder


def day(iso: str) -> date:
    return date.fromisoformat(iso)


WATCH = "29881"  # a code whose every row of the copy is kept too


@functools.lru_cache(maxsize=None)
def ptp_copy(setting: str, samples: int = 400, seed: int = 30) -> dict:
    """The CSV copy read here: its row count, a random sample of rows, every row of the copy for each
    sampled pair (in the copy's order) and every row naming WATCH. Three passes, little memory."""
    path = shared("ncci-2024q3", PTP_CSV[setting])

    def lines():
        with gzip.open(path, "rt", newline="") as fh:
            assert next(fh).startswith("column1,column2,deletion_date,modifier_indicator,rationale")
            yield from fh

    total = sum(1 for _ in lines())
    picks = set(random.Random(seed).sample(range(total), samples))
    sample = [next(csv.reader([ln])) for i, ln in enumerate(lines()) if i in picks]
    pairs: dict[tuple, list] = {(r[0], r[1]): [] for r in sample}
    watch = []
    for ln in lines():
        c1, c2, _ = ln.split(",", 2)  # codes are never quoted
        if (c1, c2) in pairs:
            pairs[(c1, c2)].append(next(csv.reader([ln])))
        if WATCH in (c1, c2):
            watch.append(next(csv.reader([ln])))
    return {"rows": total, "sample": sample, "pair_rows": pairs, "watch": watch}


def fresh_ctx() -> BuildContext:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(DDL)
    return BuildContext(conn, progress=False)


# --- the files are recognised, and only these ---------------------------------------------------

def test_official_layouts_are_recognised_and_the_copies_are_not(official):
    kinds = {p.name: (detect(p).KIND if detect(p) else None) for p in sorted(official.iterdir())}
    for name, kind in kinds.items():
        if name.startswith(("ccipra", "ccioph")):
            assert kind == "ncci_ptp", name
        elif name.startswith("MCR_MUE_"):
            assert kind == "ncci_mue", name
        elif name.startswith("AOC_"):
            assert kind == "ncci_aoc", name
    # the third-party copies (and the colleague's modifier / POS lists) are not taken for official files
    for name in ("ncci_mue_prac.csv", "ncci_mue_out.csv", "ncci_mue_dme.csv", "ncci_aoc.csv", "pfs_gpci.csv",
                 "pfs_rvu_ind.csv", "pfs_rvu_amt.csv", "hcpcs_level2_modifiers.csv", "pos.csv", "hcpcs_lvl2.csv"):
        mod = detect(shared("ncci-2024q3", name))
        assert mod is None or mod.KIND not in ("ncci_ptp", "ncci_mue", "ncci_aoc", "pfs_rvu", "pfs_gpci"), name


# --- PTP ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("setting", ["practitioner", "hospital"])
def test_ptp_counts_equal_the_copy(ncci, setting):
    copy = ptp_copy(setting)
    rels = [r for r in ncci.releases() if r.kind == "ncci_ptp" and r.system == f"ncci-{setting}"]
    assert len(rels) == 4 and {r.effective_from for r in rels} == {RELEASE}
    assert all(r.name.startswith(f"NCCI PTP edits, {ncci_ptp.SETTING_LABELS[setting]}, 2024 Q3 (version 30.2")
               for r in rels)
    lines = sum(r.counts["lines"] for r in rels)
    stored = sum(r.counts["edits"] for r in rels)
    repeated = sum(r.counts.get("duplicate_keys", 0) for r in rels)
    assert lines == copy["rows"]  # every pair of the copy, deleted ones included
    assert stored + repeated == lines and repeated <= 5
    ids = [r.id for r in rels]
    held = ncci.db.execute(f"SELECT count(*) FROM ptp_edits WHERE release_id IN ({','.join('?' * len(ids))})",
                           ids).fetchone()[0]
    assert held == stored
    (s,) = [s for s in ncci.edit_sets("ncci_ptp") if s.system == f"ncci-{setting}"]
    assert s.start == RELEASE and s.end is None and sorted(s.release_ids) == sorted(ids)


@pytest.mark.parametrize("setting", ["practitioner", "hospital"])
def test_ptp_official_lines_are_stored_field_by_field(ncci, official, setting):
    """Random lines of the official-layout files, split here, against the stored rows."""
    rng = random.Random(11)
    rels = {r.source.split("-", 1)[1]: r for r in ncci.releases() if r.kind == "ncci_ptp"}
    checked = 0
    for part in sorted(official.glob(f"{PTP_PREFIX[setting]}-*.txt")):
        lines = part.read_bytes().decode("cp1252").split("\r\n")
        assert lines[2].startswith("Column 1\tColumn 2\t")
        rel = rels[part.name]
        for no in rng.sample(range(6, len(lines) - 1), 50):
            c1, c2, prior, eff, dele, mod, why = lines[no].split("\t")
            row = ncci.db.execute(
                "SELECT e.deletion, e.modifier, e.prior_1996, r.text FROM ptp_edits e JOIN ptp_rationales r ON "
                "r.id=e.rationale_id WHERE e.release_id=? AND e.column1=? AND e.column2=? AND e.effective=?",
                (rel.id, c1, c2, int(eff))).fetchone()
            assert row is not None, (part.name, no + 1, lines[no])
            assert row == (None if dele == "*" else int(dele), int(mod), int(prior == "*"), why) or (
                c1, c2) == ("88108", "88162"), lines[no]  # the copy's one repeated key keeps its first line
            checked += 1
    assert checked == 200


@pytest.mark.parametrize("setting", ["practitioner", "hospital"])
def test_random_pairs_come_back_with_their_indicator_and_dates(ncci, setting):
    copy = ptp_copy(setting)
    checked = 0
    for c1, c2, deletion, indicator, rationale in copy["sample"]:
        deleted = deletion != "9999-12-31"
        when = day(deletion) if deleted else date(2026, 3, 1)
        same_key = [r for r in copy["pair_rows"][(c1, c2)] if r[2] == deletion]
        if same_key[0][3:] != [indicator, rationale]:
            continue  # a repeated key in the copy: the book keeps the first of its rows
        edit = ncci.ptp_edit(c1, c2, setting, when)
        assert edit is not None, (c1, c2, when)
        assert (edit.column1, edit.column2, edit.modifier, edit.rationale) == (c1, c2, int(indicator), rationale)
        assert edit.deletion == (day(deletion) if deleted else None)
        assert edit.effective == (day(deletion) if deleted else RELEASE)  # see tests/ncci_official.py
        assert edit.setting == setting and edit.release.startswith("NCCI PTP edits")
        # the other order is another edit, or none
        other = ncci.ptp_edit(c2, c1, setting, when)
        assert other is None or (other.column1, other.column2) == (c2, c1)
        checked += 1
    assert checked >= len(copy["sample"]) - 2


@pytest.mark.parametrize("setting", ["practitioner", "hospital"])
def test_a_deleted_pair_stops_applying_after_its_deletion_date(ncci, setting):
    copy = ptp_copy(setting)
    singles = [r for r in copy["sample"] if r[2] != "9999-12-31" and len(copy["pair_rows"][(r[0], r[1])]) == 1]
    assert len(singles) >= 10
    for c1, c2, deletion, indicator, _ in singles[:25]:
        last = day(deletion)
        assert ncci.ptp_edit(c1, c2, setting, last).modifier == int(indicator)
        assert ncci.ptp_edit(c1, c2, setting, last + timedelta(days=1)) is None
        assert ncci.ptp_edit(c1, c2, setting, "2026-03-01") is None
        assert c2 not in [e.column2 for e in ncci.ptp_pairs(c1, setting, last + timedelta(days=1))["column1"]]
        assert c2 in [e.column2 for e in ncci.ptp_pairs(c1, setting, last)["column1"]]
        gone = ncci.ptp_pairs(c1, setting, "2026-03-01", active=False)["column1"]
        assert any(e.column2 == c2 and e.deletion == last for e in gone)  # deleted edits stay in the book


def test_ptp_pairs_as_column_1_and_column_2(ncci):
    """29881's edits in effect, from the copy read here, against the book (practitioner)."""
    as1, as2 = {}, {}
    for c1, c2, deletion, indicator, _ in ptp_copy("practitioner")["watch"]:
        if deletion == "9999-12-31":
            (as1 if c1 == WATCH else as2)[c2 if c1 == WATCH else c1] = int(indicator)
    pairs = ncci.ptp_pairs("29881", "practitioner", "2026-03-01")
    assert {e.column2: e.modifier for e in pairs["column1"]} == as1
    assert {e.column1: e.modifier for e in pairs["column2"]} == as2
    assert pairs["column2"] and pairs["column1"]
    among = ncci.ptp_edits_among(["29881", "29880", "J1100", "99213"], "practitioner", "2026-03-01")
    assert {(e.column1, e.column2) for e in among} == {
        (c1, c2) for c1 in ("29881", "29880", "J1100", "99213") for c2 in ("29881", "29880", "J1100", "99213")
        if ncci.ptp_edit(c1, c2, "practitioner", "2026-03-01")}
    assert ("29880", "29881") in {(e.column1, e.column2) for e in among}
    assert ncci.ptp_edits_among(["29881"], "practitioner", "2026-03-01") == []


def test_settings_are_separate_and_spelled_many_ways(ncci):
    prac = ncci.ptp_pairs("29881", "practitioner", "2026-03-01")["column1"]
    hosp = ncci.ptp_pairs("29881", "outpatient hospital", "2026-03-01")["column1"]
    assert prac and hosp and all(e.setting == "hospital" for e in hosp)
    assert ncci.ptp_pairs("29881", "OPH", "2026-03-01")["column1"] == hosp
    from medcode.codebook import CodebookError

    with pytest.raises(CodebookError, match="unknown setting"):
        ncci.ptp_edit("29881", "29880", "inpatient", "2026-03-01")
    with pytest.raises(CodebookError, match="not DME"):
        ncci.ptp_pairs("29881", "dme")


# --- MUE ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("setting", ["practitioner", "hospital", "dme"])
def test_mue_2024_counts_and_records_equal_the_copy(ncci, setting):
    rows = list(csv.DictReader(open(shared("ncci-2024q3", MUE_CSV[setting]), newline="")))
    (rel,) = [r for r in ncci.releases() if r.kind == "ncci_mue" and r.system == f"ncci-{setting}"
              and r.effective_from == RELEASE]
    assert rel.counts["codes"] == len(rows)
    assert ncci.db.execute("SELECT count(*) FROM mue_edits WHERE release_id=?", (rel.id,)).fetchone()[0] == len(rows)
    when = "2024-09-15"
    for r in random.Random(3).sample(rows, 150):
        m = ncci.mue(r["hcpcs_code"], setting, when)
        assert (m.code, m.value, m.mai, m.rationale) == (r["hcpcs_code"], int(r["mue_units"]), int(r["mue_mai"]),
                                                          r["mue_rationale"])
        assert m.mai_label == ncci_mue.MAI_LABELS[m.mai] and m.setting == setting and m.release == rel.name
        assert m.effective_from == RELEASE


def test_mue_2026_replaces_2024_for_practitioners_from_april_1(ncci):
    rows = json.loads(shared("ncci-2026-derived", "mue_practitioner.json").read_text())
    (rel,) = [r for r in ncci.releases() if r.kind == "ncci_mue" and r.effective_from == date(2026, 4, 1)]
    assert rel.system == "ncci-practitioner" and rel.counts["codes"] == len(rows)
    for r in random.Random(4).sample(rows, 150):
        mai_text, rationale = r["description"].split("|")
        m = ncci.mue(r["code"], "practitioner", "2026-04-01")
        assert (m.value, f"{m.mai} {m.mai_label}", m.rationale) == (r["mue_value"], mai_text, rationale)
        assert m.release == rel.name and m.effective_to is None
    # the table in effect follows the date of service
    old = ncci.mue("0001U", "practitioner", "2026-03-31")
    assert old.effective_from == RELEASE and old.effective_to == date(2026, 3, 31)
    assert ncci.mue("0001U", "practitioner", "2026-04-01").effective_from == date(2026, 4, 1)
    assert ncci.mue("0001U", "practitioner", "2024-06-30") is None  # no table held before 2024-07-01
    assert ncci.mue("0001U", "hospital", "2026-06-01").effective_from == RELEASE  # no newer hospital table held
    assert ncci.mue("ZZZZZ", "practitioner", "2026-06-01") is None


def test_mue_of_one_and_its_adjudication_indicator(ncci):
    rows = json.loads(shared("ncci-2026-derived", "mue_practitioner.json").read_text())
    ones = [r for r in rows if r["mue_value"] == 1 and r["description"].startswith("2 ")]
    m = ncci.mue(ones[0]["code"], "practitioner", "2026-05-01")
    assert m.value == 1 and m.mai == 2 and m.mai_label == "Date of Service Edit: Policy"
    line_edits = [r for r in rows if r["description"].startswith("1 ")]
    assert ncci.mue(line_edits[0]["code"], "practitioner", "2026-05-01").mai == 1


# --- add-on code edits ----------------------------------------------------------------------------

def test_aoc_2024_counts_and_types_equal_the_copy(ncci):
    rows = list(csv.DictReader(open(shared("ncci-2024q3", "ncci_aoc.csv"), newline="")))
    (rel,) = [r for r in ncci.releases() if r.kind == "ncci_aoc" and r.effective_from == RELEASE]
    assert rel.counts["edits"] == len(rows) and rel.system == "ncci"
    for t in ("1", "2", "3"):
        assert rel.counts[f"type_{t}"] == sum(1 for r in rows if r["aoc_edit_type"] == t)
    when = "2025-01-15"
    for r in random.Random(5).sample(rows, 150):
        edits = ncci.addon_primaries(r["add_on_code"], when)
        primary = None if r["primary_code"] == "CCCCC" else r["primary_code"]
        match = [e for e in edits if e.primary == primary]
        assert len(match) == 1, r
        e = match[0]
        assert e.aoc_type == int(r["aoc_edit_type"]) and e.contractor_defined == (primary is None)
        assert e.effective == RELEASE and e.deletion is None and e.release == rel.name
        if primary:
            assert r["add_on_code"] in [x.addon for x in ncci.addons_for(primary, when)]


def test_aoc_2026_edits_with_their_own_dates(ncci):
    rows = json.loads(shared("ncci-2026-derived", "ncci_aoc_edits.json").read_text())
    (rel,) = [r for r in ncci.releases() if r.kind == "ncci_aoc" and r.effective_from == date(2026, 7, 1)]
    assert rel.counts["edits"] == len(rows)
    when = "2026-08-01"
    for r in random.Random(6).sample(rows, 150):
        primary = None if r["code2"] == "CCCCC" else r["code2"]
        (e,) = [e for e in ncci.addon_primaries(r["code1"], when) if e.primary == primary]
        assert e.aoc_type == int(r["modifier"]) and e.effective == day(r["effective_date"])
        assert e.release == rel.name
    # type 1 needs a listed primary; the contractor defines type 2's
    type2 = [r for r in rows if r["modifier"] == "2"][0]
    (e,) = ncci.addon_primaries(type2["code1"], when)
    assert e.contractor_defined and e.primary is None and e.aoc_type == 2
    # an edit that takes effect later than the date is not in effect
    late = max(rows, key=lambda r: r["effective_date"])
    before = day(late["effective_date"]) - timedelta(days=1)
    if before >= date(2026, 7, 1):
        assert not [e for e in ncci.addon_primaries(late["code1"], before) if e.primary == late["code2"]]
    # before 2026-07-01 the 2024 Q3 edits answer
    assert {e.release for e in ncci.addon_primaries(type2["code1"], "2026-06-30")} <= {
        r.name for r in ncci.releases() if r.kind == "ncci_aoc" and r.effective_from == RELEASE}
    assert ncci.addon_primaries("99213", when) == [] and ncci.addons_for("99213", when)


# --- CPT codes known by number --------------------------------------------------------------------

def test_cpt_codes_are_known_by_number_from_cms_files(ncci):
    listed = ncci.cms_listed("29881", "2026-05-01")
    assert {"pfs", "mue:practitioner", "ptp:practitioner", "ptp:hospital"} <= set(listed)
    assert ncci.cms_listed("ZZ999", "2026-05-01") == []
    assert "pfs" not in ncci.cms_listed("29881", "2025-06-01")  # no PFS file held for 2025
    # nothing in these tables carries CPT text: the only text columns are rationales, notes and
    # Level II descriptions
    assert ncci.db.execute("SELECT count(*) FROM pfs_rvu WHERE description IS NOT NULL AND "
                           "code NOT GLOB '[A-CE-V][0-9][0-9][0-9][0-9]'").fetchone()[0] == 0


# --- bad files ------------------------------------------------------------------------------------

PTP_HEAD = ("CPT only copyright 2023 American Medical Association.\r\nColumn1/Column2 Edits\r\n"
            "Column 1\tColumn 2\t*=in existence\tEffective\tDeletion\tModifier\tPTP Edit Rationale\r\n"
            "\t\tprior to 1996\tDate\tDate\t0=not allowed\t\r\n\t\t\t\t*=no data\t1=allowed\t\r\n"
            "\t\t\t\t\t9=not applicable\t\r\n")
GOOD = "29880\t29881\t\t20240701\t*\t1\tHCPCS/CPT procedure code definition\r\n"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("cp1252"))
    return path


@pytest.mark.parametrize("case, text, where, message", [
    ("shifted", GOOD + "29880\t\t29877\t\t20240701\t*\t1\tMisuse\r\n", 8, "8 tab-separated columns"),
    ("bad_date", GOOD * 2 + "29880\t29877\t\t20241341\t*\t1\tMisuse\r\n", 9, "'20241341' is not a date"),
    ("bad_deletion", GOOD + "29880\t29877\t\t20240701\t2024-12-31\t1\tMisuse\r\n", 8, "deletion date"),
    ("deleted_before", GOOD + "29880\t29877\t\t20240701\t20230101\t1\tMisuse\r\n", 8, "before the effective date"),
    ("indicator", GOOD + "29880\t29877\t\t20240701\t*\t2\tMisuse\r\n", 8, "modifier indicator '2'"),
    ("code", GOOD + "2988\t29877\t\t20240701\t*\t1\tMisuse\r\n", 8, "not a CPT/HCPCS code"),
    ("prior", GOOD + "29880\t29877\tX\t20240701\t*\t1\tMisuse\r\n", 8, "prior to 1996"),
])
def test_bad_ptp_lines_name_the_file_and_line(tmp_path, case, text, where, message):
    path = _write(tmp_path, "ccipra-v302r0-f1.txt", PTP_HEAD + text)
    ctx = fresh_ctx()
    with pytest.raises(SourceError) as err:
        ncci_ptp.load(ctx, SourceFile(kind="ncci_ptp", path=path, sha256="0" * 64))
    assert err.value.where == where and message in str(err.value) and path.name in str(err.value)


def test_bad_ptp_layouts(tmp_path):
    cases = {
        # the MUE layout saved under a PTP name
        "ccipra-v302r0-f1.txt": ("HCPCS/CPT Code,Practitioner Services MUE Values\r\n0001U,1\r\n",
                                 "Column 1 / Column 2"),
        # six title columns: the rationale is missing
        "ccioph-v302r0-f2.txt": (PTP_HEAD.replace("\tPTP Edit Rationale", "") + GOOD, "column titles have 6 columns"),
        "ptp-edits.txt": (PTP_HEAD + GOOD, "practitioners or outpatient hospitals"),  # no setting in the name
        "ccipra-edits.txt": (PTP_HEAD + GOOD, "which quarter"),  # no version in the name
        "ccipra-v302r0-f3.txt": (PTP_HEAD, "no edit line follows"),  # truncated after the header
    }
    for name, (text, message) in cases.items():
        path = _write(tmp_path, name, text)
        with pytest.raises(SourceError, match=message) as err:
            ncci_ptp.load(fresh_ctx(), SourceFile(kind="ncci_ptp", path=path, sha256="0" * 64))
        assert name in str(err.value)


MUE_HEAD = ('"CPT codes, descriptions and other data only are copyright 2023 American Medical Association.\n'
            'All Rights Reserved.",,,\r\n"HCPCS/\nCPT Code",Practitioner Services MUE Values,MUE Adjudication '
            'Indicator,MUE Rationale\r\n0001U,1,2 Date of Service Edit: Policy,Code Descriptor / CPT Instruction\r\n')


@pytest.mark.parametrize("name, text, where, message", [
    ("MCR_MUE_PractitionerServices_Eff_07-01-2024.csv", MUE_HEAD + "0002M,one,3 Date of Service Edit: Clinical,X\r\n",
     6, "not a whole number"),
    ("MCR_MUE_PractitionerServices_Eff_07-01-2024.csv", MUE_HEAD + "0002M,1,3 Line Edit,X\r\n", 6,
     "indicator 3 is '3 Date of Service Edit: Clinical'"),
    ("MCR_MUE_PractitionerServices_Eff_07-01-2024.csv", MUE_HEAD + "0002M,3 Line Edit,1,X\r\n", 6,
     "not a whole number"),  # shifted columns
    ("MCR_MUE_PractitionerServices_Eff_07-01-2024.csv", MUE_HEAD + "0001U,2,1 Line Edit,X\r\n", 6,
     "already listed on line 5"),
    ("MCR_MUE_OutpatientHospitalServices_Eff_07-01-2024.csv", MUE_HEAD, None, "file name says outpatient hospital"),
    ("MCR_MUE_PractitionerServices.csv", MUE_HEAD, None, "which date"),
])
def test_bad_mue_files(tmp_path, name, text, where, message):
    path = _write(tmp_path, name, text)
    with pytest.raises(SourceError, match=message) as err:
        ncci_mue.load(fresh_ctx(), SourceFile(kind="ncci_mue", path=path, sha256="0" * 64))
    assert err.value.where == where and name in str(err.value)


AOC_HEAD = ("CPT only copyright 2023 American Medical Association. All rights reserved.\r\n"
            + "\t".join(["AOC_Edit_Type", "Add-On_Code", "AOC_DelDT", "Primary_Code", "Primary_Code_DelDT",
                         "AOC_Edit_EffDT", "AOC_Edit_DelDT", "Special_Instruction_Notes"]) + "\r\n"
            "1\t0071U\t\t0070U\t\t2018274\t\t\r\n")


@pytest.mark.parametrize("text, where, message", [
    (AOC_HEAD + "1\t0072U\t\t0070U\t\t2018400\t\t\r\n", 4, "day 400 of 2018"),
    (AOC_HEAD + "4\t0072U\t\t0070U\t\t2018274\t\t\r\n", 4, "AOC edit type '4'"),
    (AOC_HEAD + "0072U\t1\t\t0070U\t\t2018274\t\t\r\n", 4, "AOC edit type '0072U'"),  # shifted
    (AOC_HEAD + "1\t0072U\t\t0070U\t\t2018274\t2017001\t\r\n", 4, "before AOC_Edit_EffDT"),
    (AOC_HEAD + "1\t0071U\t\t0070U\t\t2018274\t\t\r\n", 4, "already listed on line 3"),
    (AOC_HEAD.replace("\tAOC_Edit_EffDT", ""), 2, "lacks aoc_edit_effdt"),
])
def test_bad_aoc_files(tmp_path, text, where, message):
    path = _write(tmp_path, "AOC_V2024Q3-MCR.txt", text)
    with pytest.raises(SourceError, match=message) as err:
        ncci_aoc.load(fresh_ctx(), SourceFile(kind="ncci_aoc", path=path, sha256="0" * 64))
    assert err.value.where == where and path.name in str(err.value)


def test_a_bad_file_leaves_the_book_unchanged(tmp_path):
    """Through `medcode data import`: the error names the user's file and line; book and manifest stay."""
    from medcode.codebook.build import read_manifest
    from medcode.codebook.imports import import_paths

    good = _write(tmp_path, "MCR_MUE_PractitionerServices_Eff_07-01-2024.csv", MUE_HEAD)
    home = tmp_path / "home"
    import_paths([good], home / "sources", home / "codebook.sqlite", progress=False)
    before = hashlib.sha256((home / "codebook.sqlite").read_bytes()).hexdigest()
    manifest = read_manifest(home / "sources")
    bad = _write(tmp_path, "ccipra-v302r0-f1.txt", PTP_HEAD + GOOD + "29880\t29877\t\t20240701\t*\t1\r\n")
    with pytest.raises(SourceError) as err:
        import_paths([bad], home / "sources", home / "codebook.sqlite", progress=False)
    assert str(err.value).startswith(f"{bad}:8: 6 tab-separated columns")
    assert hashlib.sha256((home / "codebook.sqlite").read_bytes()).hexdigest() == before
    assert [s.sha256 for s in read_manifest(home / "sources")] == [s.sha256 for s in manifest]
    assert not list((home / "sources").glob("*ccipra*")) and not list(home.glob("codebook.sqlite.tmp-*"))


# --- the full practitioner import, timed ------------------------------------------------------------

@pytest.mark.slow
def test_full_practitioner_ptp_import(official, tmp_path):
    """All 2.5 million practitioner pairs through `medcode data import` (target <= 60 s on 2 cores;
    bench/edits.py reports the figure). The ICD-10-CM tabular is always part of a build."""
    from medcode.codebook import open_book
    from medcode.codebook.imports import import_paths

    parts = sorted(official.glob("ccipra-*.txt"))
    started, cpu = time.perf_counter(), time.process_time()
    result = import_paths(parts, tmp_path / "sources", tmp_path / "codebook.sqlite", progress=False)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    book = open_book(tmp_path / "codebook.sqlite")
    rels = [r for r in book.releases() if r.kind == "ncci_ptp"]
    assert sum(r.counts["lines"] for r in rels) == ptp_copy("practitioner")["rows"]
    print(f"\nfull practitioner PTP import: {wall:.1f} s wall, {cpu:.1f} s CPU (build {result.report.seconds:.1f} s, "
          f"book {result.report.size / 1e6:.0f} MB)")
    assert cpu <= 60, f"{cpu:.1f} s of CPU for the import"
