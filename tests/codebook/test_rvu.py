"""PFS relative values (the official fixed-width PPRRVU file, April 2026) and GPCIs; payment by locality.

Records are checked against the file's lines, sliced here at the positions of RVU26B_layout.txt.
The 2024 PFS files are written by tests/ncci_official.py from the third-party CSVs (ncci-2024q3).
"""

from __future__ import annotations

import csv
import random
import sqlite3
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from medcode.codebook import SourceError
from medcode.codebook.schema import DDL
from medcode.codebook.sources import detect, pfs_gpci, pfs_rvu
from medcode.codebook.sources.pfs_rvu import payment_amount
from medcode.codebook.writer import BuildContext, SourceFile

from shared_data import shared

APRIL = "2026-05-01"


def rvu_file() -> Path:
    return shared("pfs-rvu-2026-apr", "PPRRVU2026_Apr_nonQPP.txt")


def gpci_file() -> Path:
    return shared("pfs-rvu-2026-apr", "GPCI2026.csv")


def records() -> list[str]:
    return [ln for ln in rvu_file().read_bytes().decode("cp1252").splitlines() if ln and not ln.startswith("HDR")]


def cut(line: str, start: int, end: int) -> str:
    """Positions as the CMS layout numbers them: 1-based, inclusive."""
    return line[start - 1:end]


@pytest.fixture(scope="module")
def pfs(book):
    if not book.edit_sets("pfs_rvu"):
        pytest.skip("the test book was built without pfs-rvu-2026-apr")
    return book


def fresh_ctx() -> BuildContext:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(DDL)
    return BuildContext(conn, progress=False)


def test_files_are_recognised():
    assert detect(rvu_file()).KIND == "pfs_rvu"
    assert detect(gpci_file()).KIND == "pfs_gpci"
    assert detect(shared("pfs-rvu-2026-apr", "RVU26B_layout.txt")) is None


def test_release_and_counts_equal_the_file(pfs):
    lines = records()
    (rel,) = [r for r in pfs.releases() if r.kind == "pfs_rvu" and r.effective_from == date(2026, 4, 1)]
    assert rel.name == "PFS relative values RVU26B, April 2026 (non-QPP)" and rel.system == "pfs"
    assert rel.counts["records"] == len(lines)
    assert rel.counts["codes"] == len({cut(ln, 1, 5) for ln in lines})
    assert rel.counts["payable"] == sum(1 for ln in lines if cut(ln, 58, 58) in "ART")
    assert rel.counts["conversion_factor"] == 33.4009
    assert pfs.db.execute("SELECT count(*) FROM pfs_rvu WHERE release_id=?", (rel.id,)).fetchone()[0] == len(lines)
    (s,) = [s for s in pfs.edit_sets("pfs_rvu") if s.start == date(2026, 4, 1)]
    assert s.end == date(2026, 12, 31)  # a PFS file applies within its year


def test_sample_records_field_by_field(pfs):
    lines = records()
    for ln in random.Random(8).sample(lines, 300):
        code, mod = cut(ln, 1, 5), cut(ln, 6, 7).strip()
        r = pfs.rvu(code, mod, APRIL)
        assert r is not None, ln
        assert (r.code, r.modifier, r.status) == (code, mod, cut(ln, 58, 58))
        assert r.not_used_for_medicare == (cut(ln, 59, 59) == "+")
        for name, a, b in (("work", 60, 65), ("pe_nonfacility", 67, 72), ("pe_facility", 76, 81), ("mp", 85, 89),
                           ("total_nonfacility", 91, 96), ("total_facility", 97, 102),
                           ("conversion_factor", 133, 140), ("opps_pe_nonfacility", 152, 157),
                           ("opps_pe_facility", 159, 164), ("opps_mp", 166, 171)):
            assert getattr(r, name) == float(cut(ln, a, b)), (name, ln)
        assert r.pe_nonfacility_na == (cut(ln, 73, 74) == "NA") and r.pe_facility_na == (cut(ln, 82, 83) == "NA")
        assert (r.pctc, r.global_days) == (cut(ln, 103, 103), cut(ln, 104, 106))
        assert (r.preop, r.intraop, r.postop) == tuple(float(cut(ln, a, a + 2)) for a in (107, 110, 113))
        assert (r.multiple_procedure, r.bilateral, r.assistant, r.co_surgeons, r.team_surgery, r.pricing) == tuple(
            cut(ln, p, p) for p in range(116, 122))
        assert r.endoscopic_base == (cut(ln, 128, 132).strip() or None)
        assert (r.supervision, r.calculation_flag, r.imaging_family) == (cut(ln, 142, 143), cut(ln, 144, 144),
                                                                          cut(ln, 146, 147))
        level2 = code[0].isalpha() and code[0] != "D" and code[1:].isdigit()
        assert r.description == ((" ".join(cut(ln, 8, 57).replace("\xa0", " ").split()) or None) if level2 else None)


def test_g0008_a_level_ii_row(pfs):
    r = pfs.rvu("g0008", when=APRIL)
    assert r.description == "Admin influenza virus vac"  # HCPCS Level II text is CMS's, public domain
    assert (r.status, r.work, r.total_facility, r.global_days, r.pctc, r.conversion_factor) == (
        "X", 0.0, 0.0, "XXX", "9", 33.4009)
    assert (r.multiple_procedure, r.bilateral, r.assistant, r.co_surgeons, r.team_surgery) == ("9",) * 5
    assert r.release.startswith("PFS relative values RVU26B") and r.effective_from == date(2026, 4, 1)
    assert pfs.rvu("J1100", when=APRIL).description == "Dexamethasone sodium phos"


def test_a_cpt_row_has_its_numbers_and_no_descriptor(pfs):
    r = pfs.rvu("29881", when=APRIL)
    assert r.description is None
    assert (r.status, r.work, r.pe_nonfacility, r.pe_nonfacility_na, r.pe_facility, r.pe_facility_na, r.mp) == (
        "A", 6.85, 7.19, True, 7.19, False, 1.40)
    assert (r.total_nonfacility, r.total_facility, r.global_days, r.preop, r.intraop, r.postop) == (
        15.44, 15.44, "090", 0.10, 0.69, 0.21)
    assert (r.multiple_procedure, r.bilateral, r.assistant, r.co_surgeons, r.team_surgery, r.endoscopic_base) == (
        "3", "1", "0", "0", "0", "29870")
    # professional and technical components are records of their own
    assert [x.modifier for x in pfs.rvus("71046", APRIL)] == ["", "26", "TC"]
    assert pfs.rvu("71046", "26", APRIL).work == 0.21 and pfs.rvu("71046", "tc", APRIL).work == 0.0
    assert pfs.rvu("71046", "TC", APRIL).pe_facility_na
    # the CPT and dental rows never carry text, whatever the file holds
    assert pfs.db.execute("SELECT count(*) FROM pfs_rvu WHERE description IS NOT NULL AND (code GLOB '[0-9]*' "
                          "OR code GLOB 'D*')").fetchone()[0] == 0


def test_release_in_effect_by_date(pfs):
    assert pfs.rvu("99213", when="2026-03-31") is None  # RVU26A (January) is not held
    assert pfs.rvu("99213", when="2027-01-01") is None  # a 2026 file says nothing about 2027
    old = pfs.rvu("99213", when="2024-08-01")
    if old is None:
        pytest.skip("the 2024 PFS files (ncci-official) are not in the test book")
    assert (old.work, old.pe_nonfacility, old.pe_facility, old.mp, old.conversion_factor) == (
        1.3, 1.33, 0.56, 0.1, 33.2875)
    assert old.release == "PFS relative values RVU24C, July 2024" and old.effective_to == date(2024, 12, 31)
    assert pfs.rvu("99213", when="2025-06-01") is None
    # the releases list keeps the file's own calendar-year end, not "until the next file starts"
    (end,) = pfs.db.execute("SELECT effective_to FROM releases WHERE name=?", (old.release,)).fetchone()
    assert end == "2024-12-31"


# --- GPCI and payment ----------------------------------------------------------------------------

def gpci_rows() -> list[list[str]]:
    rows = list(csv.reader(open(gpci_file(), newline="", encoding="cp1252")))
    return [r for r in rows[3:] if r and r[0].strip().isdigit()]


def test_gpci_counts_and_records_equal_the_file(pfs):
    rows = gpci_rows()
    (rel,) = [r for r in pfs.releases() if r.kind == "pfs_gpci" and r.effective_from == date(2026, 1, 1)]
    assert rel.counts["localities"] == len(rows) and rel.counts["work_floor_through"] == "2026-01-31"
    assert len(pfs.localities(APRIL)) == len(rows)
    for mac, state, loc, name, work, work_floor, pe, mp in rows:
        g = pfs.gpci(f"{mac}-{loc}", APRIL)
        assert (g.mac, g.locality, g.state, g.name + (g.footnote or "")) == (mac, loc, state, name.strip())
        assert (g.work, g.work_floor, g.pe, g.mp) == (float(work), float(work_floor), float(pe), float(mp))
        assert g.floor_through == date(2026, 1, 31)
    alaska = pfs.gpci(("02102", "01"), APRIL)
    assert alaska.footnote == "*" and alaska.work == 1.5 and alaska.name == "ALASKA"


def test_work_gpci_floor_follows_the_files_note(pfs):
    al = pfs.gpci("10112-00", APRIL)
    assert (al.work, al.work_floor) == (0.988, 1.0)
    assert al.work_on(date(2026, 1, 31)) == 1.0 and al.work_on(date(2026, 2, 1)) == 0.988


def hand(work, pe, mp, gw, gp, gm, cf) -> Decimal:
    """The layout's formula, computed here with the published numbers."""
    d = Decimal
    total = d(work) * d(gw) + d(pe) * d(gp) + d(mp) * d(gm)
    return (total * d(cf)).quantize(d("0.01"), rounding=ROUND_HALF_UP)


def test_payment_by_locality_equals_the_hand_computation(pfs):
    # 99213, San Francisco (MAC 01112, locality 05), April 2026: work 1.30, PE 1.46 / 0.33, MP 0.09;
    # GPCIs 1.095 / 1.410 / 0.425; CF 33.4009
    office = pfs.payment("99213", "01112-05", APRIL)
    facility = pfs.payment("99213", "01112-05", APRIL, facility=True)
    assert office.amount == hand("1.30", "1.46", "0.09", "1.095", "1.410", "0.425", "33.4009") == Decimal("117.58")
    assert facility.amount == hand("1.30", "0.33", "0.09", "1.095", "1.410", "0.425", "33.4009") == Decimal("64.37")
    assert (office.work_rvu, office.pe_rvu, office.mp_rvu, office.conversion_factor) == (1.3, 1.46, 0.09, 33.4009)
    assert office.reason is None and office.rvu_release.startswith("PFS relative values RVU26B")
    # Alabama after the work floor ended (January 31, 2026): 0.988
    al = pfs.payment("99213", "1011200", APRIL)
    assert al.work_gpci == 0.988 and al.amount == hand("1.30", "1.46", "0.09", "0.988", "0.875", "0.566", "33.4009")
    # a professional component
    pc = pfs.payment("71046", "01112-05", APRIL, modifier="26")
    assert pc.amount == hand("0.21", "0.08", "0.01", "1.095", "1.410", "0.425", "33.4009")


def test_no_payment_amount_and_why(pfs):
    assert pfs.payment("G0008", "01112-05", APRIL).reason.startswith("status X")
    na = pfs.payment("29881", "01112-05", APRIL)
    assert na.amount is None and na.reason.startswith("NA") and na.pe_rvu == 7.19
    assert pfs.payment("29881", "01112-05", APRIL, facility=True).amount == hand(
        "6.85", "7.19", "1.40", "1.095", "1.410", "0.425", "33.4009")
    assert pfs.payment("99213", "01112-05", "2026-03-01").reason.startswith("no PFS relative values")
    assert pfs.payment("99213", "99999-99", APRIL).reason.startswith("no GPCIs")
    from medcode.codebook import CodebookError

    with pytest.raises(CodebookError, match="MAC and locality"):
        pfs.gpci("SF", APRIL)


def test_payment_2024_from_the_2024_files(pfs):
    g = pfs.gpci("10112-00", "2024-08-01")
    if g is None:
        pytest.skip("the 2024 PFS files (ncci-official) are not in the test book")
    assert (g.work, g.pe, g.mp) == (1.0, 0.869, 0.575)
    assert pfs.payment("99213", "10112-00", "2024-08-01").amount == hand("1.3", "1.33", "0.1", "1.0", "0.869",
                                                                         "0.575", "33.2875")


def test_payment_amount_is_a_pure_function():
    assert payment_amount(1.3, 1.46, 0.09, 1.095, 1.41, 0.425, 33.4009) == Decimal("117.58")
    assert payment_amount(0, 0, 0, 1, 1, 1, 33.4009) == Decimal("0.00")
    assert payment_amount("2.5", "1", "0.5", "1", "1", "1", "10") == Decimal("40.00")
    assert payment_amount(Decimal("0.005"), 0, 0, 1, 1, 1, 1) == Decimal("0.01")  # half up, at the end only


# --- bad files ------------------------------------------------------------------------------------

def _rvu_text(lines: list[str]) -> str:
    head = ["HDR CPT CODES AND DESCRIPTIONS ONLY ARE COPYRIGHT ", "HDR 2025 AMERICAN MEDICAL ASSOCIATION.  ALL RIGHTS"]
    return "\r\n".join(head + lines) + "\r\n"


def _good_lines() -> list[str]:
    by_code = {cut(ln, 1, 7).strip(): ln for ln in records()}
    return [by_code["29881"], by_code["G0008"], by_code["99213"]]


@pytest.mark.parametrize("case, where, message", [
    ("shifted", 4, "columns shifted"),
    ("bad_number", 5, "not a number"),
    ("short", 4, "cut short"),
    ("global", 5, "global surgery 'XX9'"),
    ("duplicate", 6, "already listed on line 3"),
    ("no_header", 1, "HDR"),
])
def test_bad_rvu_files(tmp_path, case, where, message):
    lines = _good_lines()
    if case == "shifted":
        lines[1] = lines[1][:10] + " " + lines[1][10:-1]
    elif case == "bad_number":
        lines[2] = lines[2][:59] + "  x.30" + lines[2][65:]
    elif case == "short":
        lines[1] = lines[1][:120]
    elif case == "global":
        lines[2] = lines[2][:103] + "XX9" + lines[2][106:]
    elif case == "duplicate":
        lines.append(lines[0])
    text = _rvu_text(lines)
    if case == "no_header":
        text = "\r\n".join(lines) + "\r\n"
    path = tmp_path / "PPRRVU2026_Apr_nonQPP.txt"
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(SourceError, match=message) as err:
        pfs_rvu.load(fresh_ctx(), SourceFile(kind="pfs_rvu", path=path, sha256="0" * 64))
    assert err.value.where == where and path.name in str(err.value)


def test_rvu_file_name_gives_the_release(tmp_path):
    for name, start in (("PPRRVU2026_Apr_nonQPP.txt", date(2026, 4, 1)), ("PPRRVU26_JUL.txt", date(2026, 7, 1)),
                        ("RVU26D.txt", date(2026, 10, 1))):
        path = tmp_path / name
        path.write_bytes(_rvu_text(_good_lines()).encode("cp1252"))
        ctx = fresh_ctx()
        pfs_rvu.load(ctx, SourceFile(kind="pfs_rvu", path=path, sha256="0" * 64))
        assert ctx.conn.execute("SELECT effective_from FROM releases").fetchone()[0] == start.isoformat()
    path = tmp_path / "relative-values.txt"
    path.write_bytes(_rvu_text(_good_lines()).encode("cp1252"))
    with pytest.raises(SourceError, match="which PFS release"):
        pfs_rvu.load(fresh_ctx(), SourceFile(kind="pfs_rvu", path=path, sha256="0" * 64))


def test_cpt_text_in_an_rvu_file_is_never_stored(tmp_path):
    """Synthetic: a CPT row and a dental row carrying invented description text (as a licensed copy of the
    file would carry AMA / ADA text). The book keeps the numbers and drops the text."""
    lines = _good_lines()
    invented = "SYNTHETIC DESCRIPTOR TEXT ZQX"
    lines[0] = lines[0][:7] + invented.ljust(50) + lines[0][57:]  # 29881
    dental = "D0120" + lines[1][5:7] + "SYNTHETIC DENTAL TEXT ZQX".ljust(50) + lines[1][57:]
    lines.append(dental)
    path = tmp_path / "PPRRVU2026_Apr_nonQPP.txt"
    path.write_bytes(_rvu_text(lines).encode("cp1252"))
    ctx = fresh_ctx()
    pfs_rvu.load(ctx, SourceFile(kind="pfs_rvu", path=path, sha256="0" * 64))
    rows = dict(ctx.conn.execute("SELECT code, description FROM pfs_rvu"))
    assert rows["29881"] is None and rows["D0120"] is None and rows["G0008"] == "Admin influenza virus vac"
    dump = "\n".join(ctx.conn.iterdump())
    assert "ZQX" not in dump


def _gpci_text(rows: list[str]) -> str:
    head = ["ADDENDUM E. FINAL CY 2026 GEOGRAPHIC PRACTICE COST INDICES (GPCIs) BY STATE AND MEDICARE LOCALITY,,,,,,,",
            ",,,,,,,",
            "Medicare Administrative Contractor (MAC),State,Locality Number,Locality Name,2026 PW GPCI (without 1.0 "
            "Floor),2026 PW GPCI (with 1.0 Floor),2026 PE GPCI,2026 MP GPCI"]
    return "\r\n".join(head + rows) + "\r\n"


@pytest.mark.parametrize("rows, where, message", [
    (["10112,AL,00,ALABAMA,0.988,1.000,0.875,0.566", "02102,AK,01,ALASKA*,1.500,1.500,x,0.551"], 5, "not a number"),
    (["10112,AL,00,ALABAMA,0.988,1.000,0.875,0.566", "02102,01,ALASKA*,1.500,1.500,1.065,0.551,"], 5,
     "columns shifted"),
    (["10112,AL,00,ALABAMA,0.988,1.000,0.875,0.566", "02102,A1,01,ALASKA*,1.500,1.500,1.065,0.551"], 5,
     "not a two-letter state"),
    (["10112,AL,00,ALABAMA,0.988,1.000,0.875,0.566", "10112,AL,00,ALABAMA,0.988,1.000,0.875,0.566"], 5,
     "already listed on line 4"),
    (["10112,AL,00,ALABAMA,0.988,1.000,0.875,0.566", "Note,,,,,,,", "02102,AK,01,ALASKA*,1.500,1.500,1.065,0.551"], 6,
     "after the notes"),
])
def test_bad_gpci_files(tmp_path, rows, where, message):
    path = tmp_path / "GPCI2026.csv"
    path.write_text(_gpci_text(rows))
    with pytest.raises(SourceError, match=message) as err:
        pfs_gpci.load(fresh_ctx(), SourceFile(kind="pfs_gpci", path=path, sha256="0" * 64))
    assert err.value.where == where and path.name in str(err.value)


def test_gpci_without_its_column_titles(tmp_path):
    path = tmp_path / "GPCI2026.csv"
    path.write_text("MAC,State,Locality Number,Locality Name,Work,PE,MP\r\n10112,AL,00,ALABAMA,1,0.8,0.5\r\n")
    with pytest.raises(SourceError, match="lack") as err:
        pfs_gpci.load(fresh_ctx(), SourceFile(kind="pfs_gpci", path=path, sha256="0" * 64))
    assert err.value.where == 1
