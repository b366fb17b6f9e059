"""Policy texts in the codebook: the NCCI Policy Manual, CMS manual chapters and the ICD-10-PCS guidelines
as addressable sections, their passage index, and the Book's reader (issue 6)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from medcode.codebook import references
from medcode.codebook.errors import SourceError
from medcode.codebook.sources import cms_manual, icd10pcs_guidelines, ncci_policy
from medcode.codebook.sources.reftext import read_text, reflow, strip_cpt_descriptors
from medcode.codebook.writer import SourceFile

SHARED_DATA = Path(os.environ.get("MEDCODE_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))


def shared(*parts: str) -> Path:
    """A file of ../shared/data (the official release files); the test is skipped without it."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"official data not available: {path}")
    return path

NCCI_FILE = ("ncci-2026-policy-manual", "ncci_policy_manual_2026_medicare.txt")
PCS_FILE = ("icd10pcs-2024-guidelines", "icd10pcs-guidelines-2024-april-update.txt")
CMS_FILES = {  # file -> (source, chapter title start)
    "clm104c12_physicians_em.txt": ("cms-claims-processing-ch12", "Physicians/Nonphysician Practitioners"),
    "clm104c01_general_billing.txt": ("cms-claims-processing-ch1", "General Billing Requirements"),
    "clm104c23_fee_schedule_coding.txt": ("cms-claims-processing-ch23", "Fee Schedule Administration"),
    "clm104c30_financial_liability.txt": ("cms-claims-processing-ch30", "Financial Liability Protections"),
    "bp102c15_medicare_benefit_policy_manual_ch15.txt": ("cms-benefit-policy-ch15", "Covered Medical"),
}


def _src(path, kind="x"):
    return SourceFile(kind=kind, path=path, sha256="0" * 64)


def _toc_numbers(text: str) -> list[str]:
    """The section numbers a CMS chapter's table of contents lists (up to the first repeat)."""
    seen: list[str] = []
    for line in text.splitlines()[5:]:
        m = cms_manual._TOC_ENTRY.match(line)
        if m:
            if m.group(1) in seen:
                break
            seen.append(m.group(1))
    return seen


# --- parsing the real files -----------------------------------------------------------------------

def test_ncci_manual_sections_from_the_real_file():
    path = shared(*NCCI_FILE)
    revised, sections = ncci_policy.parse(read_text(_src(path)), _src(path))
    refs = [s["ref"] for s in sections]
    assert revised.isoformat() == "2026-01-01"
    # the introduction, 13 chapters, their lettered sections (every letter of every chapter's table of
    # contents: 23 in chapter I, A-W), and the acronym list
    assert refs[0] == "Intro" and refs[-1] == "Acronyms"
    assert [r for r in refs if "." not in r and r not in ("Intro", "Acronyms")] == [
        "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII"]
    assert [r.split(".")[1] for r in refs if r.startswith("I.")] == list("ABCDEFGHIJKLMNOPQRSTUVW")
    assert len(sections) == 153
    by_ref = {s["ref"]: s for s in sections}
    assert by_ref["I.E"]["title"] == "Modifiers and Modifier Indicators" and by_ref["I.E"]["page"] == "I-14"
    assert by_ref["IV.E"]["title"] == "Arthroscopy" and by_ref["IV.E"]["parent"] == "IV"
    # a heading printed over two lines in a table of contents is still found in the body
    assert by_ref["I.O"]["title"].startswith("Misuse of Column Two Code")
    # page footers are not text
    assert not any("Revision Date (Medicare)" in line for s in sections for line in s["lines"])


def test_cms_manual_chapters_from_the_real_files():
    for name, (source, title) in CMS_FILES.items():
        path = shared("cms-manuals", name)
        text = read_text(_src(path))
        doc = cms_manual.parse(text, _src(path))
        refs = [s["ref"] for s in doc["sections"]]
        assert doc["source"] == source and doc["title"].startswith(title), name
        assert len(refs) == len(set(refs)), name
        toc = _toc_numbers(text)
        assert len(set(toc) & set(refs)) >= 0.97 * len(toc), name  # (a few TOC lines are not sections)
    path = shared("cms-manuals", "clm104c12_physicians_em.txt")
    doc = cms_manual.parse(read_text(_src(path)), _src(path))
    by_ref = {s["ref"]: s for s in doc["sections"]}
    assert doc["name"] == "Medicare Claims Processing Manual ch. 12"
    assert by_ref["30.6.6"]["title"].startswith("Payment for Evaluation and Management Services Provided During")
    assert by_ref["30.6.6"]["parent"] == "30.6" and by_ref["30.6"]["parent"] == "30"
    assert "modifier" in reflow(by_ref["30.6.6"]["lines"]).lower()
    # a heading spelled "40.8. -" and a "(Rev .1234" line are still headings
    assert by_ref["40.8"]["title"].startswith("Claims for Co-Surgeons")
    assert by_ref["30.6.1"]["title"].startswith("Selection of Level of Evaluation")


def test_pcs_guidelines_from_the_real_file():
    path = shared(*PCS_FILE)
    year, start, end, sections = icd10pcs_guidelines.parse(read_text(_src(path)), _src(path))
    by_ref = {s["ref"]: s for s in sections}
    assert (year, start.isoformat(), end.isoformat()) == (2024, "2024-04-01", "2024-09-30")
    assert [r for r in by_ref if len(r) == 1] == list("ABCDEF")
    assert by_ref["B3.8"]["title"] == "Excision vs. Resection" and by_ref["B3.8"]["parent"] == "B3"
    assert by_ref["B3.6b"]["title"] == by_ref["B3.6a"]["title"] == "Bypass procedures"
    assert by_ref["A9"]["parent"] == "A" and by_ref["D1.a"]["parent"] == "D"
    assert "seven characters" in reflow(by_ref["A1"]["lines"])


def test_cpt_descriptors_are_not_kept():
    text = ("e.g., CPT code 93000 (electrocardiogram)), or CPT code 58263 (Vaginal hysterectomy, for uterus 250 g or "
            "less; with removal of tube(s) and/or ovary(s), with repair of enterocele)). CPT code 36591 describes "
            "“collection of blood specimen from a completely implantable venous access device.” The codebook "
            "defines modifier 22 as “Increased Procedural Services.” Codes 45385 ($374.56) and (CPT codes "
            "00000 - 01999) stay.")
    out = strip_cpt_descriptors(text)
    for words in ("electrocardiogram", "Vaginal hysterectomy", "collection of blood", "Increased Procedural"):
        assert words not in out
    assert "93000 (CPT descriptor omitted)" in out and "58263 (CPT descriptor omitted)). CPT code 36591" in out
    assert "45385 ($374.56)" in out and "(CPT codes 00000 - 01999)" in out


# --- the built book -------------------------------------------------------------------------------

def test_book_holds_every_text_with_its_release(book):
    held = {s.source: s for s in book.reference_sources()}
    assert {"icd10cm-guidelines", "ncci-policy-manual", "icd10pcs-guidelines"} <= set(held)
    assert {src for src, _ in CMS_FILES.values()} <= set(held)
    assert held["ncci-policy-manual"].name == "NCCI Policy Manual 2026" and held["ncci-policy-manual"].sections == 153
    assert held["cms-claims-processing-ch12"].name == "Medicare Claims Processing Manual ch. 12"
    # no CPT descriptor reaches the book (the manual quotes them after code numbers)
    ncci = book.reference_sections("ncci-policy-manual")
    assert not any("Vaginal hysterectomy, for uterus" in s.text for s in ncci)
    assert sum(s.text.count("(CPT descriptor omitted)") for s in ncci) > 300


def test_sections_by_any_spelling_of_their_ref(book):
    e = book.reference_section("ncci-policy-manual", "I.E")
    assert e.title == "Modifiers and Modifier Indicators" and e.label == "Chapter I, E"
    assert e.release == "NCCI Policy Manual 2026" and e.page == "I-14"
    for spelling in ("Chapter I, E", "chapter i e", "ch. I, E", "I.e"):
        assert book.reference_section("ncci-policy-manual", spelling) == e
    s = book.reference_section("cms-claims-processing-ch12", "§ 30.6.6")
    assert s is not None and s.ref == "30.6.6" and s.label == "§ 30.6.6"
    assert book.reference_section("cms-claims-processing-ch12", "section 30.6.6") == s
    g = book.reference_section("icd10cm-guidelines", "Section I.C.4.a.3.")
    assert g is not None and g.ref == "I.C.4.a.3" and g.release == "ICD-10-CM Official Guidelines FY2026"
    assert book.reference_section("icd10pcs-guidelines", "B3.1a").parent == "B3"
    kids = book.reference_children("ncci-policy-manual", "Chapter IV")
    assert [k.ref for k in kids][:5] == ["IV.A", "IV.B", "IV.C", "IV.D", "IV.E"]
    # what is not held is None / empty, never an error
    assert book.reference_section("ncci-policy-manual", "XIV.Z") is None
    assert book.reference_section("no-such-text", "1") is None
    assert book.reference_sections("no-such-text") == []


def test_passage_retrieval_ranks_the_governing_section_first(book):
    cases = {
        "How should the term urosepsis be coded?": ("icd10cm-guidelines", "I.C.1.d.1.a.ii"),
        "Are abnormal findings coded when the provider has not indicated their clinical significance?":
            ("icd10cm-guidelines", "III.B"),
        "biopsy followed by more definitive treatment at the same procedure site": ("icd10pcs-guidelines", "B3.4b"),
    }
    for question, (source, ref) in cases.items():
        top = book.reference_passages(question, limit=3)
        assert (top[0].source, top[0].ref) == (source, ref), question
        assert top[0].text in book.reference_section(source, ref).text
    only = book.reference_passages("modifier 59 separate anatomic site", sources=["ncci-policy-manual"], limit=5)
    assert only and {p.source for p in only} == {"ncci-policy-manual"}
    # query text is words only: FTS5 syntax in it is not an error
    assert isinstance(book.reference_passages('NEAR("a" b) OR * AND " :', limit=3), list)
    assert book.reference_passages("", limit=3) == [] and book.reference_passages("the of and", limit=3) == []


def test_refs_and_labels():
    assert references.normalize_ref("ncci-policy-manual", "Chapter XIII, E") == "XIII.E"
    assert references.normalize_ref("ncci-policy-manual", "introduction") == "Intro"
    assert references.label("ncci-policy-manual", "XIII") == "Chapter XIII"
    assert references.normalize_ref("cms-benefit-policy-ch15", "§§ 280.5.1") == "280.5.1"
    assert references.normalize_ref("icd10cm-guidelines", "i.c.4.a(3)") == "I.C.4.a.3"


# --- bad files --------------------------------------------------------------------------------------

def test_bad_policy_texts_are_refused_with_a_clear_message(tmp_path):
    ncci_text = shared(*NCCI_FILE).read_text()
    head_only = tmp_path / "ncci-head-only.txt"
    head_only.write_text(ncci_text[:5000].replace("Revision Date (Medicare): 1/1/2026", ""))
    assert ncci_policy.sniff(head_only, head_only.read_bytes()[:4096])
    with pytest.raises(SourceError, match="Revision Date") as err:
        ncci_policy.parse(read_text(_src(head_only)), _src(head_only))
    assert head_only.name in str(err.value)
    no_chapters = tmp_path / "ncci-no-chapters.txt"
    no_chapters.write_text(ncci_text[:5000] + "\nRevision Date (Medicare): 1/1/2026\n")
    with pytest.raises(SourceError, match="no chapters"):
        ncci_policy.parse(read_text(_src(no_chapters)), _src(no_chapters))

    cms_text = shared("cms-manuals", "clm104c12_physicians_em.txt").read_text()
    toc_only = tmp_path / "cms-toc-only.txt"
    toc_only.write_text(cms_text[:3000])
    assert cms_manual.sniff(toc_only, toc_only.read_bytes()[:4096])
    with pytest.raises(SourceError, match="numbered sections|section headings") as err:
        cms_manual.parse(read_text(_src(toc_only)), _src(toc_only))
    assert toc_only.name in str(err.value)
    no_rev = tmp_path / "cms-no-rev.txt"
    no_rev.write_text(re.sub(r"\(Rev\.[^)]*\)", "", cms_text[:4000]))
    with pytest.raises(SourceError, match="Rev"):
        cms_manual.parse(read_text(_src(no_rev)), _src(no_rev))

    binary = tmp_path / "manual.txt"
    binary.write_bytes(b"Medicare NCCI Policy Manual Table of Contents\x00\x01\x02" * 10)
    with pytest.raises(SourceError, match="binary"):
        read_text(_src(binary))

    pcs = tmp_path / "pcs-no-toc.txt"
    pcs.write_text(shared(*PCS_FILE).read_text()[:1200])
    with pytest.raises(SourceError, match="table of contents"):
        icd10pcs_guidelines.parse(read_text(_src(pcs)), _src(pcs))


def test_a_bad_policy_text_leaves_the_book_unchanged(tmp_path):
    """Through `medcode data import`: the error names the user's file; book and manifest stay as they were."""
    from medcode.codebook import open_book
    from medcode.codebook.build import read_manifest
    from medcode.codebook.imports import import_paths

    home = tmp_path / "home"
    import_paths([shared(*PCS_FILE)], home / "sources", home / "codebook.sqlite", progress=False)
    before = hashlib.sha256((home / "codebook.sqlite").read_bytes()).hexdigest()
    manifest = read_manifest(home / "sources")
    assert [s.source for s in open_book(home / "codebook.sqlite").reference_sources()] == ["icd10pcs-guidelines"]
    bad = tmp_path / "ncci_policy_manual_broken.txt"
    bad.write_text(shared(*NCCI_FILE).read_text()[:6000] + "\nRevision Date (Medicare): 1/1/2026\n")  # contents only
    with pytest.raises(SourceError) as err:
        import_paths([bad], home / "sources", home / "codebook.sqlite", progress=False)
    assert str(err.value).startswith(str(bad)) and "no chapters" in str(err.value)
    assert hashlib.sha256((home / "codebook.sqlite").read_bytes()).hexdigest() == before
    assert [s.sha256 for s in read_manifest(home / "sources")] == [s.sha256 for s in manifest]
    assert not list(home.glob("codebook.sqlite.tmp-*"))
