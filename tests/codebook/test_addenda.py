"""The FY2027 addenda applied on top of the April 2026 tabular: lookups either side of 2026-10-01."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from medcode.codebook import SourceError, open_book
from medcode.codebook.build import build
from medcode.codebook.record import code_record
from medcode.codebook.schema import DDL
from medcode.codebook.sources import icd10cm_addenda
from medcode.codebook.writer import BuildContext, SourceFile

from shared_data import shared

BEFORE, AFTER = "2026-09-30", "2026-10-01"
_LINE = re.compile(r"^(Add|Delete|Revise from|Revise to):\s+(\S+)\s+(.*?)\s*$")


def addenda_file() -> Path:
    return shared("icd10cm-2027-addenda", "icd10cm_codes_addenda_2027.txt")


def addenda_lines() -> dict[str, list[tuple[str, str]]]:
    """The file's lines by verb, read here independently of the importer."""
    ops: dict[str, list] = {"Add": [], "Delete": [], "Revise from": [], "Revise to": []}
    for line in addenda_file().read_text().splitlines():
        m = _LINE.match(line)
        if m:
            ops[m.group(1)].append((m.group(2), m.group(3)))
    return ops


@pytest.fixture(scope="module")
def fy2027(book):
    if not any(r.kind == "icd10cm_addenda" for r in book.releases("icd10cm")):
        pytest.skip("the test book was built without icd10cm-2027-addenda")
    return book


def dotted(code: str) -> str:
    return code[:3] + "." + code[3:] if len(code) > 3 else code


# --- the release and the counts --------------------------------------------------------------

def test_release_in_effect_by_date(fy2027):
    before = fy2027.release_for("icd10cm", BEFORE)
    after = fy2027.release_for("icd10cm", AFTER)
    assert before.kind == "icd10cm_tabular" and before.effective_to == date(2026, 9, 30)
    assert after.kind == "icd10cm_addenda" and "FY2027" in after.name
    assert after.effective_from == date(2026, 10, 1) and after.source.endswith("icd10cm_codes_addenda_2027.txt")
    assert fy2027.release_for("icd10cm", "2027-03-01") == after


def test_billable_count_follows_the_file(fy2027):
    ops = addenda_lines()
    assert (len(ops["Add"]), len(ops["Delete"]), len(ops["Revise to"])) == (190, 30, 4)
    before = fy2027.count("icd10cm", BEFORE, billable=True)
    after = fy2027.count("icd10cm", AFTER, billable=True)
    assert after == before + len(ops["Add"]) - len(ops["Delete"])
    # and the totals the file's own summary states
    summary = dict((m.group(2), int(m.group(1))) for m in re.finditer(
        r"^\s*(\d+) codes in (\S+)$", addenda_file().read_text(), re.M))
    assert (before, after) == (summary["icd10cm_order_2026.txt"], summary["icd10cm_order_2027.txt"])


def test_every_add_and_delete_takes_effect_on_the_date(fy2027):
    ops = addenda_lines()
    for code, title in ops["Add"]:
        assert not fy2027.exists("icd10cm", code, BEFORE), code
        new = fy2027.get("icd10cm", code, AFTER)
        assert new.status == "active" and new.billable and new.title == title, code
        assert new.valid_from == date(2026, 10, 1)
    for code, _ in ops["Delete"]:
        assert fy2027.is_billable("icd10cm", code, BEFORE), code
        assert not fy2027.is_billable("icd10cm", code, AFTER), code


# --- single codes, either side of the date ---------------------------------------------------

def test_subdivided_code_becomes_a_header(fy2027):
    """I42.0 is deleted and I42.00/I42.01/I42.09 added: I42.0 carries on as their header."""
    old = fy2027.get("icd10cm", "I42.0", BEFORE)
    assert old.status == "active" and old.billable
    new = fy2027.get("icd10cm", "I42.0", AFTER)
    assert new.status == "active" and not new.billable and new.valid_from == date(2026, 10, 1)
    assert [c.code for c in fy2027.children("icd10cm", "I42.0", AFTER)] == ["I42.00", "I42.01", "I42.09"]
    assert fy2027.children("icd10cm", "I42.0", BEFORE) == []
    assert [(v.billable, v.valid_to) for v in fy2027.history("icd10cm", "I42.0")] == [
        (True, date(2026, 9, 30)), (False, None)]


def test_new_code_exists_only_from_the_date(fy2027):
    assert fy2027.find("icd10cm", "I42.00", BEFORE).status == "future"
    assert not fy2027.exists("icd10cm", "i4200", BEFORE)
    new = fy2027.get("icd10cm", "i4200", AFTER)
    assert new.code == "I42.00" and new.billable and new.parent == "I42.0" and new.kind == "subcategory"
    assert [a.code for a in fy2027.ancestors("icd10cm", "I42.00", AFTER)][:2] == ["I42.0", "I42"]


def test_revised_title_by_date_and_in_history(fy2027):
    ops = addenda_lines()
    old_title = dict(ops["Revise from"])["Z2914"]
    new_title = dict(ops["Revise to"])["Z2914"]
    assert fy2027.get("icd10cm", "Z29.14", BEFORE).title == old_title
    assert fy2027.get("icd10cm", "Z29.14", AFTER).title == new_title
    history = fy2027.history("icd10cm", "Z29.14")
    assert [(v.title, v.valid_from, v.valid_to) for v in history] == [
        (old_title, date(2025, 10, 1), date(2026, 9, 30)), (new_title, date(2026, 10, 1), None)]
    assert "FY2027" in history[1].release and all(v.billable for v in history)


def test_deleted_code_keeps_its_page(fy2027):
    """S23.420A/D/S are deleted with nothing added below S23.420."""
    assert fy2027.get("icd10cm", "S23.420A", BEFORE).status == "active"
    gone = fy2027.get("icd10cm", "S23.420A", AFTER)
    assert gone.status == "deleted" and gone.valid_to == date(2026, 9, 30)
    assert not fy2027.exists("icd10cm", "S23.420A", AFTER) and not fy2027.is_billable("icd10cm", "S23.420A", AFTER)
    assert fy2027.get("icd10cm", "S23.420A", "2030-01-01").status == "deleted"
    record = code_record(fy2027, "icd10cm", "S23.420A", date(2026, 10, 1))
    assert record["status"] == "deleted" and record["billable"] is False
    assert record["effective"]["to"] == date(2026, 9, 30)
    assert [h["code"] for h in record["hierarchy"]][:2] == ["S23.420", "S23.42"]
    assert [(h["valid_from"], h["valid_to"]) for h in record["history"]] == [(date(2025, 10, 1), date(2026, 9, 30))]


def test_header_left_without_codes_ends(fy2027):
    # S23.420 held only S23.420A/D/S; its parent S23.42 still holds S23.421 and the others
    assert fy2027.find("icd10cm", "S23.420", AFTER).status == "deleted"
    before = [c.code for c in fy2027.children("icd10cm", "S23.42", BEFORE)]
    after = [c.code for c in fy2027.children("icd10cm", "S23.42", AFTER)]
    assert before[:2] == ["S23.420", "S23.421"] and after == before[1:]
    # T52.8X1..T52.8X4 lost every 7th-character code, then T52.8X its last child; T52.8 holds the new codes
    for header in ("T52.8X", "T52.8X1", "T52.8X4"):
        assert fy2027.find("icd10cm", header, AFTER).status == "deleted", header
    under = [c.code for c in fy2027.children("icd10cm", "T52.8", AFTER)]
    assert "T52.8X" not in under and under[:3] == ["T52.811A", "T52.811D", "T52.811S"]


def test_z68_1_is_subdivided_not_dropped(fy2027):
    """Z68.1 is on a Delete line, but Z68.18 and Z68.19 are added below it: a header from FY2027."""
    assert fy2027.is_billable("icd10cm", "Z68.1", BEFORE)
    after = fy2027.get("icd10cm", "Z68.1", AFTER)
    assert after.status == "active" and not after.billable
    assert [c.code for c in fy2027.children("icd10cm", "Z68.1", AFTER)] == ["Z68.18", "Z68.19"]
    assert [c.code for c in fy2027.billable_descendants("icd10cm", "Z68.1", AFTER)] == ["Z68.18", "Z68.19"]


def test_children_by_date(fy2027):
    assert fy2027.children("icd10cm", "D69.1", BEFORE) == []
    after = fy2027.children("icd10cm", "D69.1", AFTER)
    assert [(c.code, c.billable) for c in after] == [("D69.11", True), ("D69.19", True)]
    # a new code takes its place among existing siblings
    assert [c.code for c in fy2027.children("icd10cm", "I47.2", AFTER)] == ["I47.20", "I47.21", "I47.22", "I47.29"]


def test_new_codes_without_a_listed_header(fy2027):
    """The codes addenda list billable codes only; headers new in FY2027 are not invented."""
    j4b = fy2027.get("icd10cm", "J4B", AFTER)
    assert j4b.kind == "category" and j4b.billable and j4b.parent == "J40-J4A"
    assert fy2027.find("icd10cm", "K6A", AFTER) is None
    assert fy2027.get("icd10cm", "K6A.01", AFTER).parent == "K65-K68"
    assert fy2027.get("icd10cm", "E89.830", AFTER).parent == "E89.8"
    ext = fy2027.get("icd10cm", "T52.811A", AFTER)
    assert ext.kind == "extension" and ext.parent == "T52.8"
    assert {s.char for s in fy2027.seventh_characters("icd10cm", "T52.811A", AFTER)} == {"A", "D", "S"}


# --- bad input --------------------------------------------------------------------------------

def _fresh_ctx() -> BuildContext:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(DDL)
    return BuildContext(conn, progress=False)


def _write(tmp_path: Path, text: str, name: str = "icd10cm_codes_addenda_2027.txt") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, line, words", [
    ("Add:         A0010   Synthetic title\nChange:      A001    Synthetic title\n", 2, "unrecognised line"),
    ("Delete:      A001    Synthetic title\nAdd:         12345   Synthetic title\n", 2, "not an ICD-10-CM code"),
    ("Revise from: A000    Old synthetic title\nAdd:         A0010   Synthetic\n", 1, "Revise to"),
    ("Add:         A0010   Synthetic\nRevise from: A000    Old synthetic title\n", 2, "Revise to"),
    ("Revise to:   A000    New synthetic title\n", 1, "Revise from"),
    ("Revise from: A000    Old\nRevise to:   A009    New\n", 2, "Revise from"),
    ("Add:         A0010\n", 1, "no title"),
    ("Add:         A0010   One\nDelete:      A0010   Two\n", 2, "already listed on line 1"),
    ("", 1, "empty"),
    ("\n\n", 2, "empty"),
    ("Add:         A0010   One\n\nCodes\n      2 additions\n", 4, "truncated"),
    ("Add:         A0010   One\n\nCodes\n   a few more\n", 4, "summary"),
])
def test_bad_lines_name_file_and_line(tmp_path, text, line, words):
    # synthetic addenda lines
    path = _write(tmp_path, text)
    with pytest.raises(SourceError) as err:
        icd10cm_addenda.load(_fresh_ctx(), SourceFile(kind="icd10cm_addenda", path=path))
    assert err.value.where == line
    assert f"{path}:{line}:" in str(err.value) and words in str(err.value)


def test_year_comes_from_the_name_or_an_option(tmp_path):
    path = _write(tmp_path, "Add:         A0010   Synthetic\n", "icd10cm_codes_addenda.txt")
    with pytest.raises(SourceError) as err:
        icd10cm_addenda.effective(SourceFile(kind="icd10cm_addenda", path=path))
    assert "rename" in str(err.value) and "icd10cm_codes_addenda_2027.txt" in str(err.value)
    fy, start, name = icd10cm_addenda.effective(
        SourceFile(kind="icd10cm_addenda", path=path, options={"fiscal_year": 2028}))
    assert (fy, start) == (2028, date(2027, 10, 1)) and "FY2028" in name
    # `medcode data import` prefixes the checksum; the hex digits are not read as a year
    imported = SourceFile(kind="icd10cm_addenda", path=tmp_path / "2024abcdef01-icd10cm_codes_addenda_2027.txt",
                          sha256="2024abcdef01" + "0" * 52)
    assert icd10cm_addenda.effective(imported)[:2] == (2027, date(2026, 10, 1))


def test_sniff():
    path = addenda_file()
    assert icd10cm_addenda.sniff(path, path.read_bytes()[:4096])
    assert not icd10cm_addenda.sniff(path, b"<ICD10CM.tabular>")
    assert not icd10cm_addenda.sniff(path, b"Additional notes: see below\n")
    # synthetic line in the order-file addenda layout (order number first): not this importer's
    assert not icd10cm_addenda.sniff(path, b"Add:         07445 C7831   1 Secondary malignant neoplasm of larynx\n")


# --- a whole build from a small synthetic tabular ---------------------------------------------

# synthetic: a cut-down tabular in the official XML layout (titles shortened), FY2026
_TABULAR = """<?xml version="1.0" encoding="utf-8"?>
<ICD10CM.tabular><version>2026</version>
<chapter><name>1</name><desc>Certain infectious and parasitic diseases (A00-B99)</desc>
 <section id="A00-A09"><desc>Intestinal infectious diseases (A00-A09)</desc>
  <diag><name>A00</name><desc>Cholera</desc>
   <diag><name>A00.0</name><desc>Cholera due to Vibrio cholerae 01, biovar cholerae</desc></diag>
   <diag><name>A00.1</name><desc>Cholera due to Vibrio cholerae 01, biovar eltor</desc></diag>
   <diag><name>A00.9</name><desc>Cholera, unspecified</desc></diag>
  </diag>
  <diag><name>A02</name><desc>Other salmonella infections</desc>
   <diag><name>A02.0</name><desc>Salmonella enteritis</desc></diag>
  </diag>
 </section>
</chapter>
<chapter><name>19</name><desc>Injury, poisoning (S00-T88)</desc>
 <section id="S20-S29"><desc>Injuries to the thorax (S20-S29)</desc>
  <diag><name>S23</name><desc>Dislocation and sprain of joints and ligaments of thorax</desc>
   <sevenChrDef><extension char="A">initial encounter</extension><extension char="S">sequela</extension></sevenChrDef>
   <diag><name>S23.4</name><desc>Sprain of ribs and sternum</desc>
    <diag><name>S23.42</name><desc>Sprain of sternum</desc>
     <diag><name>S23.420</name><desc>Sprain of sternoclavicular joint</desc></diag>
    </diag>
    <diag><name>S23.43</name><desc>Sprain of other part</desc></diag>
   </diag>
  </diag>
 </section>
</chapter>
</ICD10CM.tabular>
"""

# synthetic addenda against the synthetic tabular
_ADDENDA = """Delete:      A001    Cholera due to Vibrio cholerae 01, biovar eltor
Add:         A0011   Synthetic eltor one
Add:         A0019   Synthetic eltor nine
Delete:      A009    Cholera, unspecified
Add:         A01     Synthetic new category
Revise from: A000    Cholera due to Vibrio cholerae 01, biovar cholerae
Revise to:   A000    Synthetic revised cholerae
Delete:      S23420A Sprain of sternoclavicular joint, initial encounter
Delete:      S23420S Sprain of sternoclavicular joint, sequela
"""


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_synthetic_build_and_a_failed_rebuild_leaves_it(tmp_path):
    tabular = _write(tmp_path, _TABULAR, "icd10cm-tabular-2026.xml")
    good = _write(tmp_path, _ADDENDA)
    dest = tmp_path / "book" / "codebook.sqlite"
    report = build(dest, [SourceFile(kind="icd10cm_tabular", path=tabular),
                          SourceFile(kind="icd10cm_addenda", path=good)], progress=False)
    assert [r["name"] for r in report.releases] == ["ICD-10-CM FY2026", "ICD-10-CM FY2027 (addenda)"]
    book = open_book(dest)
    # A00.0 A00.1 A00.9 A02.0, S23.420A/S, S23.43A/S; then 3 adds and 4 deletes
    assert book.count("icd10cm", BEFORE, billable=True) == 8
    assert book.count("icd10cm", AFTER, billable=True) == 8 + 3 - 4
    assert [c.code for c in book.children("icd10cm", "A00", AFTER)] == ["A00.0", "A00.1"]
    assert [c.code for c in book.children("icd10cm", "A00.1", AFTER)] == ["A00.11", "A00.19"]
    assert book.get("icd10cm", "A00.9", AFTER).status == "deleted"
    assert book.get("icd10cm", "A00.0", AFTER).title == "Synthetic revised cholerae"
    assert book.get("icd10cm", "A01", AFTER).parent == "A00-A09"
    assert [c.code for c in book.children("icd10cm", "A00-A09", AFTER)] == ["A00", "A01", "A02"]
    # S23.420 had only 7th-character codes: it ends; S23.42 then holds nothing billable and ends too
    assert book.get("icd10cm", "S23.420", AFTER).status == "deleted"
    assert book.get("icd10cm", "S23.42", AFTER).status == "deleted"
    assert [c.code for c in book.children("icd10cm", "S23.4", AFTER)] == ["S23.43"]

    before = _digest(dest)
    for text in (_ADDENDA + "Frobnicate:  A000    Synthetic\n",      # unknown verb
                 _ADDENDA.replace("A0019", "A0011"),                  # listed twice
                 "Delete:      A02     Other salmonella infections\n",  # a header, not a code
                 "Delete:      B999    Synthetic code not in the release\n"):
        bad = _write(tmp_path, text)
        with pytest.raises(SourceError) as err:
            build(dest, [SourceFile(kind="icd10cm_tabular", path=tabular),
                         SourceFile(kind="icd10cm_addenda", path=bad)], progress=False)
        assert bad.name in str(err.value) and isinstance(err.value.where, int)
        assert _digest(dest) == before
        assert not list(dest.parent.glob("*.tmp-*"))
    assert open_book(dest).get("icd10cm", "A00.1", AFTER).billable is False


def test_header_whose_codes_are_all_deleted_can_be_added_as_a_code(tmp_path):
    tabular = _write(tmp_path, _TABULAR, "icd10cm-tabular-2026.xml")
    # synthetic: A02.0 goes and A02 itself becomes the code
    addenda = _write(tmp_path, "Delete:      A020    Salmonella enteritis\n"
                               "Add:         A02     Synthetic salmonella infection\n")
    dest = tmp_path / "codebook.sqlite"
    build(dest, [SourceFile(kind="icd10cm_tabular", path=tabular),
                 SourceFile(kind="icd10cm_addenda", path=addenda)], progress=False)
    book = open_book(dest)
    a02 = book.get("icd10cm", "A02", AFTER)
    assert a02.billable and a02.parent == "A00-A09" and a02.title == "Synthetic salmonella infection"
    assert book.get("icd10cm", "A02.0", AFTER).status == "deleted"
    assert [v.billable for v in book.history("icd10cm", "A02")] == [False, True]
