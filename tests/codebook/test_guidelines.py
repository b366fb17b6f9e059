"""FY2026 ICD-10-CM Official Guidelines imported as addressable sections."""

from __future__ import annotations

import pytest

from medcode.codebook import guidelines
from medcode.codebook.build import build
from medcode.codebook.errors import SourceError
from medcode.codebook.writer import SourceFile

from shared_data import shared


@pytest.fixture(autouse=True)
def _needs_guidelines():
    shared("icd10cm-2026-guidelines")


def test_sections_are_addressable_by_citation(book):
    s = guidelines.section(book, "I.C.4.a.3")
    assert s is not None and s.title.startswith("Diabetes mellitus and the use of insulin")
    # a heading printed over two lines is one title, and the text starts after it
    assert s.title.endswith("and injectable non-insulin drugs") and not s.text.startswith("and injectable")
    assert guidelines.section(book, "I.C.1.g.1.g").title.endswith("COVID-19")
    assert "Z79.4" in s.text and s.parent == "I.C.4.a" and s.page == 40
    assert guidelines.section(book, "Section IV.H.").title == "Uncertain diagnosis"
    assert "probable" in guidelines.section(book, "iv.h").text.lower()
    assert guidelines.section(book, "II.H").title == "Uncertain Diagnosis"
    assert guidelines.section(book, "appendix i").title.startswith("Present on Admission")


def test_hierarchy_and_chapter_sections(book):
    chapter4 = guidelines.for_chapter(book, 4)
    assert chapter4 is not None and "Endocrine" in chapter4.title
    subs = [s.ref for s in guidelines.subsections(book, "I.C.4.a")]
    assert subs[:3] == ["I.C.4.a.1", "I.C.4.a.2", "I.C.4.a.3"]
    # every chapter of the tabular has its chapter-specific section
    chapters = book.top_level("icd10cm")
    assert all(guidelines.for_chapter(book, c.code) is not None for c in chapters)
    text = guidelines.full_text(book, "I.C.4.a")
    assert "I.C.4.a.3" in text and "Z79.4" in text


def test_numbering_is_consistent(book):
    sections = guidelines.all_sections(book)
    refs = {s.ref for s in sections}
    assert all(s.parent is None or s.parent in refs for s in sections)
    # the 21 Z-code categories of I.C.21.c are numbered 1) .. 17) without gaps
    zcats = [s.ref for s in guidelines.subsections(book, "I.C.21.c")]
    assert zcats == [f"I.C.21.c.{i}" for i in range(1, len(zcats) + 1)] and len(zcats) >= 17
    assert {"I", "II", "III", "IV", "Appendix I"} <= refs
    release = [r for r in book.releases("icd10cm") if r.kind == "icd10cm_guidelines"][0]
    assert release.effective_from.isoformat() == "2025-10-01" and release.counts["sections"] == len(sections)


def test_headings_printed_over_two_lines_are_whole_titles(book):
    # the table of contents completes a wrapped title; a lower-case tail or a short tail of a long heading does too
    c = guidelines.section(book, "II.C")
    assert c.title == "Two or more diagnoses that equally meet the definition for principal diagnosis"
    assert c.text.startswith("In the unusual instance")
    assert guidelines.section(book, "I.C.9.e.6").title.endswith("Coronary Microvascular Dysfunction")
    assert guidelines.section(book, "I.C.1.a.2.j").title.endswith("antiretroviral medication")
    assert guidelines.section(book, "I.C.5").title.endswith("(F01 – F99)")
    # ... and a heading that ends where the text begins keeps its text
    assert guidelines.section(book, "I.C.2").text.startswith("General Guidelines")
    for s in guidelines.all_sections(book):
        assert not (s.text[:1].islower() and not s.text.startswith(("e.g.", "i.e."))), (s.ref, s.text[:40])


def test_a_sentence_running_over_a_page_break_is_one_paragraph(book):
    text = guidelines.section(book, "I.C.1.d.4").text
    assert "doesn’t develop until after admission, the localized infection should be assigned first" in text
    assert "category Z85, Personal history of malignant neoplasm, should be used" in guidelines.section(book, "I.C.2.d").text
    # a paragraph that ended at the foot of a page still ends there, and list items stay apart
    burns = guidelines.section(book, "I.C.19.d.1").text.split("\n\n")
    assert any(p.startswith("b. ") for p in burns) and any(p.startswith("c. ") for p in burns)


def test_guideline_release_is_not_a_code_release(book):
    assert book.release_for("icd10cm", "2026-05-01").kind != "icd10cm_guidelines"


def test_bad_guideline_text(tmp_path):
    src = shared("icd10cm-2026-guidelines", "icd10cm-guidelines-fy2026.txt")
    text = src.read_text()
    cut = tmp_path / "guidelines-no-sections.txt"
    cut.write_text(text[:3000])  # the heading and introduction only
    with pytest.raises(SourceError) as err:
        build(tmp_path / "b.sqlite", [_tabular(), SourceFile("icd10cm_guidelines", cut)], progress=False)
    assert cut.name in str(err.value)
    latin = tmp_path / "guidelines-latin1.txt"
    latin.write_bytes(text.encode("utf-8")[:2000] + "caf\xe9".encode("latin-1"))
    with pytest.raises(SourceError, match="not UTF-8"):
        build(tmp_path / "b.sqlite", [_tabular(), SourceFile("icd10cm_guidelines", latin)], progress=False)
    assert not (tmp_path / "b.sqlite").exists()


def _tabular():
    from medcode.codebook.sources.icd10cm_tabular import package_default

    return package_default()
