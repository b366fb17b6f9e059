"""The claim edit checker over the real NCCI tables in the test book (2024 Q3 PTP practitioner and outpatient
hospital, MUEs 2024 Q3 / 2026, add-on edits 2024 / 2026). Expected answers come from the book's tables,
read here with SQL of their own, never from literals."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from medcode.edits import ANATOMIC, NCCI_PTP_ASSOCIATED, ClaimLine, check_claim, run_check

WHEN = date(2026, 3, 1)  # the 2024 Q3 PTP tables and the 2024 Q3 MUE tables are in effect


@pytest.fixture(scope="module")
def ncci(book):
    if not book.edit_sets("ncci_ptp"):
        pytest.skip("the test book was built without the NCCI tables (MEDCODE_TEST_BOOK_FOLDERS)")
    return book


def ptp_ids(book, setting: str) -> tuple[int, ...]:
    (s,) = [s for s in book.edit_sets("ncci_ptp") if s.system == f"ncci-{setting}"]
    return s.release_ids


def in_ids(ids) -> str:
    return ",".join(str(i) for i in ids)


def random_pairs(book, setting: str, seed: int, n: int, where: str) -> list[tuple]:
    """n random rows (column1, column2, effective, deletion, modifier, rationale) of the imported table
    matching `where`: a random column 1 code, then a random one of its rows."""
    ids = in_ids(ptp_ids(book, setting))
    firsts = [r[0] for r in book.db.execute(f"SELECT DISTINCT column1 FROM ptp_edits WHERE release_id IN ({ids})")]
    rng = random.Random(seed)
    out, seen = [], set()
    for _ in range(n * 200):
        c1 = rng.choice(firsts)
        rows = book.db.execute(
            f"SELECT e.column1, e.column2, e.effective, e.deletion, e.modifier, r.text FROM ptp_edits e JOIN "
            f"ptp_rationales r ON r.id=e.rationale_id WHERE e.release_id IN ({ids}) AND e.column1=? AND {where}",
            (c1,)).fetchall()
        if rows:
            row = rng.choice(rows)
            if (row[0], row[1]) not in seen:
                seen.add((row[0], row[1]))
                out.append(row)
        if len(out) == n:
            return out
    raise AssertionError(f"only {len(out)} pairs where {where}")


def ymd(n: int | None) -> date | None:
    return date(n // 10000, n // 100 % 100, n % 100) if n else None


def ptp_findings(findings, c1: str, c2: str):
    return [f for f in findings if f.kind == "ptp" and (f.detail["column1"], f.detail["column2"]) == (c1, c2)]


# --- PTP pairs -------------------------------------------------------------------------------------

@pytest.mark.parametrize("setting", ["practitioner", "hospital"])
@pytest.mark.parametrize("indicator", [0, 1])
def test_random_pairs_fire_with_their_indicator(ncci, setting, indicator):
    for c1, c2, effective, deletion, mod, rationale in random_pairs(
            ncci, setting, seed=50 + indicator, n=15, where=f"e.deletion IS NULL AND e.modifier={indicator}"):
        assert mod == indicator
        findings = check_claim(ncci, [c1, c2], setting, WHEN)
        (f,) = ptp_findings(findings, c1, c2)
        assert f.lines == [0, 1] and f.severity == "error" and f.codes == [c1, c2]
        d = f.detail
        assert (d["indicator"], d["rationale"], d["setting"], d["bypassed"]) == (indicator, rationale, setting, False)
        assert d["effective"] == ymd(effective) and d["deletion"] is None
        assert (d["column1_line"], d["column2_line"]) == (0, 1)
        assert f"{c1} is column 1 and {c2} is column 2" in f.message and rationale in f.message
        assert f"Modifier indicator {indicator}" in f.message
        # the claim's order does not matter: the lines follow the request
        (g,) = ptp_findings(check_claim(ncci, [c2, c1], setting, WHEN), c1, c2)
        assert g.lines == [0, 1] and (g.detail["column1_line"], g.detail["column2_line"]) == (1, 0)
        assert f"line 1 ({c2})" in g.fix


@pytest.mark.parametrize("setting", ["practitioner", "hospital"])
def test_indicator_9_pairs_do_not_fire(ncci, setting):
    for c1, c2, effective, deletion, _, _ in random_pairs(ncci, setting, seed=9, n=5, where="e.modifier=9"):
        day = ymd(deletion) or WHEN
        edit = ncci.ptp_edit(c1, c2, setting, day)
        if edit is None or edit.modifier != 9:
            continue  # another row of the same pair answers on that day
        assert not ptp_findings(check_claim(ncci, [c1, c2], setting, day), c1, c2)


def test_modifier_59_on_column_2_bypasses_indicator_1_and_not_0(ncci):
    ones = random_pairs(ncci, "practitioner", seed=591, n=10, where="e.deletion IS NULL AND e.modifier=1")
    zeros = random_pairs(ncci, "practitioner", seed=590, n=10, where="e.deletion IS NULL AND e.modifier=0")
    for c1, c2, *_ in ones:
        (f,) = ptp_findings(check_claim(ncci, [c1, f"{c2}-59"], "practitioner", WHEN), c1, c2)
        assert f.severity == "advisory" and f.detail["bypassed"] and f.detail["bypassed_by"] == ["59"]
        assert "bypasses the edit" in f.message and "medical record" in f.fix
        for mod in ("XE", "XS", "XP", "XU", "25", "91"):  # any NCCI PTP-associated modifier on column 2
            (g,) = ptp_findings(check_claim(ncci, [c1, f"{c2}-{mod}"], "practitioner", WHEN), c1, c2)
            assert g.severity == "advisory" and g.detail["bypassed_by"] == [mod]
        # 59 on the column 1 line does not bypass: the fix says to move it to the column 2 line
        (h,) = ptp_findings(check_claim(ncci, [f"{c1}-59", c2], "practitioner", WHEN), c1, c2)
        assert h.severity == "error" and not h.detail["bypassed"]
        assert "column 1" in h.message and f"line 2 ({c2})" in h.fix and f"{c2}-59" in h.fix
        # modifiers that are not NCCI PTP-associated (22, 76, 77) never bypass
        (k,) = ptp_findings(check_claim(ncci, [c1, f"{c2}-76"], "practitioner", WHEN), c1, c2)
        assert k.severity == "error"
    for c1, c2, *_ in zeros:
        (f,) = ptp_findings(check_claim(ncci, [c1, f"{c2}-59"], "practitioner", WHEN), c1, c2)
        assert f.severity == "error" and not f.detail["bypassed"] and f.detail["indicator"] == 0
        assert "no modifier bypasses" in f.message and "59" in f.message


def test_anatomic_modifiers_bypass_only_when_the_sites_differ(ncci):
    (c1, c2, *_), = random_pairs(ncci, "practitioner", seed=77, n=1, where="e.deletion IS NULL AND e.modifier=1")

    def severity(a: str, b: str) -> str:
        (f,) = ptp_findings(check_claim(ncci, [a, b], "practitioner", WHEN), c1, c2)
        return f.severity

    assert severity(f"{c1}-RT", f"{c2}-LT") == "advisory"      # contralateral: either line names its side
    assert severity(f"{c1}-F1", f"{c2}-F2") == "advisory"      # different fingers
    assert severity(f"{c1}-LT", f"{c2}-LT") == "error"         # the same side
    assert severity(f"{c1}-LT", c2) == "error"                 # only column 1 names a site
    assert severity(c1, f"{c2}-LT") == "advisory"              # column 2 names its site
    assert severity(f"{c1}-LT", f"{c2}-LT-59") == "advisory"   # 59 on column 2 says separate
    assert {"LT", "RT", "E1", "FA", "T9", "LC", "RI"} <= ANATOMIC < NCCI_PTP_ASSOCIATED
    assert not {"22", "76", "77", "50"} & NCCI_PTP_ASSOCIATED


@pytest.mark.parametrize("setting", ["practitioner", "hospital"])
def test_a_deleted_pair_stops_firing_after_its_deletion_date(ncci, setting):
    checked = 0
    for c1, c2, effective, deletion, mod, _ in random_pairs(ncci, setting, seed=31, n=12,
                                                            where="e.deletion IS NOT NULL AND e.modifier IN (0, 1)"):
        last = ymd(deletion)
        edit = ncci.ptp_edit(c1, c2, setting, last)
        if edit is None or edit.deletion != last or ncci.ptp_edit(c1, c2, setting, last + timedelta(days=1)):
            continue  # another row of the same pair carries on
        (f,) = ptp_findings(check_claim(ncci, [c1, c2], setting, last), c1, c2)
        assert f.detail["deletion"] == last and f.detail["indicator"] == mod
        assert not ptp_findings(check_claim(ncci, [c1, c2], setting, last + timedelta(days=1)), c1, c2)
        later = ncci.ptp_edit(c1, c2, setting, WHEN)  # a pair can come back in a later edit
        assert bool(ptp_findings(check_claim(ncci, [c1, c2], setting, WHEN), c1, c2)) == bool(
            later and later.modifier in (0, 1))
        checked += 1
    assert checked >= 5


def test_the_hospital_setting_uses_the_hospital_table(ncci):
    """Pairs in effect in one table and not the other fire only in their own setting."""
    prac, hosp = in_ids(ptp_ids(ncci, "practitioner")), in_ids(ptp_ids(ncci, "hospital"))
    only = {}
    for name, mine, other in (("hospital", hosp, prac), ("practitioner", prac, hosp)):
        only[name] = ncci.db.execute(
            f"SELECT e.column1, e.column2 FROM ptp_edits e WHERE e.release_id IN ({mine}) AND e.deletion IS NULL AND "
            f"e.modifier IN (0, 1) AND e.column1 >= '2' AND NOT EXISTS (SELECT 1 FROM ptp_edits o WHERE "
            f"o.release_id IN ({other}) AND o.column1=e.column1 AND o.column2=e.column2) LIMIT 5").fetchall()
        assert only[name], name
    for c1, c2 in only["hospital"]:
        (f,) = ptp_findings(check_claim(ncci, [c1, c2], "hospital", WHEN), c1, c2)
        assert f.detail["setting"] == "hospital" and "outpatient hospital" in f.detail["release"]
        assert "outpatient hospital edits" in f.message
        assert not ptp_findings(check_claim(ncci, [c1, c2], "practitioner", WHEN), c1, c2)
    for c1, c2 in only["practitioner"]:
        assert ptp_findings(check_claim(ncci, [c1, c2], "practitioner", WHEN), c1, c2)
        assert not ptp_findings(check_claim(ncci, [c1, c2], "outpatient hospital", WHEN), c1, c2)


def test_every_pair_among_many_lines_is_found(ncci):
    """A 20-line claim: the PTP findings are exactly the book's edits among its codes (indicator 0 / 1)."""
    rng = random.Random(20)
    (c1, *_), = random_pairs(ncci, "practitioner", seed=20, n=1, where="e.deletion IS NULL")
    ids = in_ids(ptp_ids(ncci, "practitioner"))
    partners = [r[0] for r in ncci.db.execute(f"SELECT column2 FROM ptp_edits WHERE release_id IN ({ids}) AND "
                                              "column1=? AND deletion IS NULL", (c1,))]
    codes = [c1, *rng.sample(partners, min(10, len(partners)))]
    codes += [c for c in rng.sample(sorted({r[0] for r in ncci.db.execute(
        f"SELECT column1 FROM ptp_edits WHERE release_id IN ({ids}) AND column1 > '9' LIMIT 3000")}), 30)
        if c not in codes][:20 - len(codes)]
    findings = check_claim(ncci, codes, "practitioner", WHEN)
    expect = {(a, b) for a in codes for b in codes if a != b
              and (e := ncci.ptp_edit(a, b, "practitioner", WHEN)) and e.modifier in (0, 1)}
    got = {(f.detail["column1"], f.detail["column2"]) for f in findings if f.kind == "ptp"}
    assert got == expect and len(expect) >= 10
    for f in findings:
        if f.kind == "ptp":
            assert [codes[i] for i in f.lines] == sorted([f.detail["column1"], f.detail["column2"]],
                                                         key=codes.index)


# --- MUEs ------------------------------------------------------------------------------------------

def mue_codes(book, mai: int, value: str, n: int = 3, seed: int = 1) -> list:
    (s,) = [s for s in book.edit_sets("ncci_mue") if s.system == "ncci-practitioner" and s.start <= WHEN
            and (s.end is None or WHEN <= s.end)]
    rows = book.db.execute(f"SELECT code, mue FROM mue_edits WHERE release_id IN ({in_ids(s.release_ids)}) AND "
                           f"mai=? AND {value} AND code >= '0' ORDER BY code", (mai,)).fetchall()
    return random.Random(seed).sample(rows, n)


def mue_findings(findings, code):
    return [f for f in findings if f.kind == "mue" and f.codes == [code]]


def test_an_mue_of_1_with_2_units_fires(ncci):
    for code, value in mue_codes(ncci, 2, "mue = 1") + mue_codes(ncci, 3, "mue = 1"):
        m = ncci.mue(code, "practitioner", WHEN)
        assert (m.value, m.code) == (1, code)
        assert not mue_findings(check_claim(ncci, [code], "practitioner", WHEN), code)
        (f,) = mue_findings(check_claim(ncci, [f"{code}x2"], "practitioner", WHEN), code)
        assert f.lines == [0] and f.severity == "error"
        assert (f.detail["mue"], f.detail["units"], f.detail["mai"], f.detail["rationale"]) == (1, 2, m.mai,
                                                                                             m.rationale)
        assert f"MAI {m.mai}" in f.message and "per day" in f.message


def test_mai_1_is_per_line_and_mai_2_and_3_add_the_lines_up(ncci):
    for code, value in mue_codes(ncci, 1, "mue BETWEEN 1 AND 20", seed=2):
        # each line at the MUE: a line edit passes
        claim = [ClaimLine(code, ("LT",), value), ClaimLine(code, ("RT",), value)]
        assert not mue_findings(check_claim(ncci, claim, "practitioner", WHEN), code)
        (f,) = mue_findings(check_claim(ncci, [ClaimLine(code, ("LT",), value),
                                               ClaimLine(code, ("RT",), value + 1)], "practitioner", WHEN), code)
        assert f.lines == [1] and f.detail["units"] == value + 1 and "per line" in f.message
    for mai in (2, 3):
        for code, value in mue_codes(ncci, mai, "mue BETWEEN 1 AND 20", seed=mai):
            over = [ClaimLine(code, ("LT",), value), ClaimLine(code, ("RT",), 1)]
            (f,) = mue_findings(check_claim(ncci, over, "practitioner", WHEN), code)
            assert f.lines == [0, 1] and f.detail["units"] == value + 1 and f.detail["mai"] == mai
            split = [ClaimLine(code, ("LT",), value - 1), ClaimLine(code, ("RT",), 1)] if value > 1 else \
                [ClaimLine(code, ("LT",), 1)]
            assert not mue_findings(check_claim(ncci, split, "practitioner", WHEN), code)
            assert ("appeal cannot change" in f.message) == (mai == 2)


def test_the_mue_table_follows_the_date_and_the_setting(ncci):
    """From 2026-04-01 the 2026 practitioner table answers; the hospital table is its own."""
    code = "29881"
    for when in (date(2026, 3, 31), date(2026, 4, 1)):
        m = ncci.mue(code, "practitioner", when)
        (f,) = mue_findings(check_claim(ncci, [f"{code}x{m.value + 1}"], "practitioner", when), code)
        assert f.detail["release"] == m.release and f.detail["mue"] == m.value
    h = ncci.mue(code, "hospital", WHEN)
    (f,) = mue_findings(check_claim(ncci, [f"{code}x{h.value + 1}"], "hospital", WHEN), code)
    assert f.detail["setting"] == "hospital" and f.detail["release"] == h.release


# --- add-on codes ---------------------------------------------------------------------------------

def addons(book, aoc_type: int, n: int, seed: int) -> list[str]:
    (s,) = [s for s in book.edit_sets("ncci_aoc") if s.start <= WHEN and (s.end is None or WHEN <= s.end)]
    rows = sorted({r[0] for r in book.db.execute(
        f"SELECT addon FROM aoc_edits WHERE release_id IN ({in_ids(s.release_ids)}) AND aoc_type=? AND "
        "deletion IS NULL", (aoc_type,))})
    return random.Random(seed).sample(rows, min(n, len(rows)))


def test_an_add_on_code_alone_fires_and_with_its_primary_does_not(ncci):
    for addon in addons(ncci, 1, 8, seed=1):
        edits = ncci.addon_primaries(addon, WHEN)
        primaries = sorted({e.primary for e in edits if e.primary})
        (f,) = [f for f in check_claim(ncci, [addon], "practitioner", WHEN) if f.kind == "addon"]
        assert f.severity == "error" and f.lines == [0] and f.detail["aoc_type"] == 1
        assert f.detail["primaries"] == primaries and "type 1" in f.message and primaries[0] in f.message
        with_primary = check_claim(ncci, [random.Random(addon).choice(primaries), addon], "practitioner", WHEN)
        assert not [f for f in with_primary if f.kind == "addon"]


def test_type_2_is_advisory_and_type_3_a_warning(ncci):
    for aoc_type, severity in ((2, "advisory"), (3, "warning")):
        for addon in addons(ncci, aoc_type, 3, seed=aoc_type):
            (f,) = [f for f in check_claim(ncci, [addon], "practitioner", WHEN) if f.kind == "addon"]
            assert f.severity == severity and f.detail["aoc_type"] == aoc_type and f"type {aoc_type}" in f.message
            if aoc_type == 2:
                assert f.detail["contractor_defined"] and "MAC" in f.fix


# --- validity -------------------------------------------------------------------------------------

def test_invalid_codes_say_what_they_are_and_suggest_the_nearest(ncci):
    hcpcs = next(c for c in ("J1101", "J1102", "J1103", "J1104") if ncci.find("hcpcs", c, WHEN) is None
                 and not ncci.cms_listed(c, WHEN))
    cpt = next(c for c in map(str, range(29801, 29999)) if not ncci.cms_listed(c, WHEN)
               and not ncci.ptp_pairs(c, "practitioner", WHEN, active=False)["column1"])
    result = run_check(ncci, [hcpcs, cpt, "E11.9", "29881"], "practitioner", WHEN)
    invalid = {f.codes[0]: f for f in result.findings if f.kind == "invalid"}
    assert set(invalid) == {hcpcs, cpt, "E11.9"}
    near = [c.code for c in ncci.nearest("hcpcs", hcpcs, WHEN, limit=5)]
    assert invalid[hcpcs].detail["suggestions"] == near and near[0] in invalid[hcpcs].fix
    assert invalid[cpt].detail["suggestions"] and all(ncci.cms_listed(c, WHEN)
                                                      for c in invalid[cpt].detail["suggestions"])
    assert "ICD-10-CM diagnosis code" in invalid["E11.9"].message
    assert [li.status for li in result.lines] == ["invalid", "invalid", "invalid", "active"]
    assert result.lines[3].system == "cpt" and result.lines[3].title is None  # CPT known by number, no text


def test_deleted_and_not_yet_effective_codes(ncci):
    code, valid_from, valid_to = ncci.db.execute(
        "SELECT code, valid_from, valid_to FROM codes c WHERE system='hcpcs' AND valid_to IS NOT NULL AND "
        "valid_to < '2024-01-01' AND NOT EXISTS (SELECT 1 FROM codes d WHERE d.system='hcpcs' AND d.code=c.code "
        "AND d.valid_from > c.valid_from) ORDER BY code LIMIT 1").fetchone()
    after = date.fromisoformat(valid_to) + timedelta(days=1)
    if ncci.cms_listed(code, after):
        pytest.skip(f"{code} is still listed by a CMS table")
    (f,) = [f for f in check_claim(ncci, [code], "practitioner", after) if f.kind == "deleted"]
    assert f.detail["valid_to"] == date.fromisoformat(valid_to) and f.detail["status"] == "deleted"
    assert valid_to in f.message
    assert not [f for f in check_claim(ncci, [code], "practitioner", valid_to) if f.kind in ("deleted", "invalid")]
    new, start = ncci.db.execute("SELECT code, valid_from FROM codes WHERE system='hcpcs' AND valid_from >= "
                                 "'2025-07-01' ORDER BY code LIMIT 1").fetchone()
    before = date.fromisoformat(start) - timedelta(days=1)
    (g,) = [f for f in check_claim(ncci, [new], "practitioner", before) if f.codes == [new]]
    assert g.kind == "deleted" and g.detail["status"] == "future" and start in g.message


def test_modifiers_that_do_not_exist_or_are_not_in_effect(ncci):
    gone, last = ncci.db.execute(
        "SELECT code, valid_to FROM codes c WHERE system='modifier' AND valid_to IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM codes d WHERE d.system='modifier' AND d.code=c.code AND d.valid_from > c.valid_from) "
        "ORDER BY valid_to LIMIT 1").fetchone()
    assert ncci.find("modifier", "ZZ", WHEN) is None
    result = run_check(ncci, ["29881-ZZ", "J1100-98", f"G0008-{gone}", "29880-59-LT-XS"], "practitioner", WHEN)
    by_mod = {f.detail.get("modifier"): f for f in result.findings if f.kind in ("invalid", "deleted")}
    assert set(by_mod) == {"ZZ", "98", gone}
    assert by_mod["ZZ"].kind == "invalid" and by_mod["ZZ"].lines == [0]
    assert by_mod["98"].kind == "invalid" and "CPT modifier number" in by_mod["98"].message
    assert by_mod[gone].kind == "deleted" and by_mod[gone].detail["valid_to"] == date.fromisoformat(last)
    # CPT modifiers are known by number, and one added later is not valid before its date
    assert not [f for f in check_claim(ncci, ["99213-93"], "practitioner", WHEN) if f.kind != "ptp"]
    (f,) = check_claim(ncci, ["99213-93"], "practitioner", date(2021, 6, 1))
    assert f.kind == "deleted" and f.detail["status"] == "future"


def test_findings_are_ordered_errors_first_and_carry_the_contract(ncci):
    result = run_check(ncci, ["29881-59", "29880", "J1100x999", "ZZZZZ"], "practitioner", WHEN)
    ranks = [("error", "warning", "advisory").index(f.severity) for f in result.findings]
    assert ranks == sorted(ranks) and result.findings[-1].severity == "advisory"
    doc = result.as_dict()
    assert {"findings", "setting", "date", "lines", "summary", "notices", "sources"} <= set(doc)
    for f in doc["findings"]:
        assert {"kind", "lines", "message", "fix"} <= set(f)
        assert f["kind"] in ("ptp", "mue", "addon", "invalid", "deleted")
        assert all(isinstance(i, int) and 0 <= i < 4 for i in f["lines"])
    assert doc["summary"] == result.counts() and sum(doc["summary"].values()) == len(doc["findings"])
    assert doc["sources"]["ptp"] and all("practitioner" in r for r in doc["sources"]["ptp"])


def test_a_date_before_the_tables_says_what_was_not_checked(ncci):
    result = run_check(ncci, ["29881", "29880"], "practitioner", date(2019, 1, 1))
    assert not [f for f in result.findings if f.kind in ("invalid", "mue")]
    text = " ".join(result.notices)
    assert "No MUE table" in text and "could not be confirmed" in text
    assert [li.status for li in result.lines] == ["unverified", "unverified"]


# --- the new user's question -------------------------------------------------------------------------

def test_29881_and_29880_59_get_a_clear_answer(ncci):
    """'Can I bill 29881 with 29880-59?' The answer follows the 2024 Q3 table's edit for the pair."""
    edit = ncci.ptp_edit("29880", "29881", "practitioner", WHEN) or ncci.ptp_edit("29881", "29880", "practitioner",
                                                                                   WHEN)
    assert edit is not None
    result = run_check(ncci, "29881, 29880-59", "practitioner", WHEN)
    (f,) = [f for f in result.findings if f.kind == "ptp"]
    assert (f.detail["column1"], f.detail["column2"], f.detail["indicator"]) == (edit.column1, edit.column2,
                                                                                 edit.modifier)
    col2_line = ["29881", "29880"].index(edit.column2)
    modifier_on_column_2 = edit.column2 == "29880"
    if edit.modifier == 0:
        assert f.severity == "error" and "no modifier bypasses" in f.message
    elif modifier_on_column_2:
        assert f.severity == "advisory" and f.detail["bypassed_by"] == ["59"]
    else:  # 59 sits on the column 1 code: it does not bypass, and the fix says where it belongs
        assert f.severity == "error" and f"line {col2_line + 1} ({edit.column2})" in f.fix
    assert edit.rationale in f.message
    assert f"{edit.column1} is column 1 and {edit.column2} is column 2" in f.message


def test_a_cpt_code_no_cms_file_lists_any_more_is_reported_deleted(ncci):
    """Without licensed CPT data, a CPT number whose NCCI edits all ended and that no table in effect lists
    is reported deleted, with the day its last edit ended."""
    ids = in_ids(ptp_ids(ncci, "practitioner"))
    for (code,) in ncci.db.execute(f"SELECT DISTINCT column2 FROM ptp_edits WHERE release_id IN ({ids}) AND "
                                   "column1='29881' AND deletion IS NOT NULL ORDER BY column2"):
        rows = ncci.db.execute(f"SELECT deletion FROM ptp_edits WHERE release_id IN ({ids}) AND (column1=? OR "
                               "column2=?)", (code, code)).fetchall()
        if code[0].isdigit() and not ncci.cms_listed(code, WHEN) and all(r[0] and r[0] < 20260301 for r in rows):
            break
    else:
        pytest.skip("no such code among 29881's pairs")
    (f,) = check_claim(ncci, [code], "practitioner", WHEN)
    assert f.kind == "deleted" and f.detail["valid_to"] == ymd(max(r[0] for r in rows))
    assert f.detail["valid_to"].isoformat() in f.message
