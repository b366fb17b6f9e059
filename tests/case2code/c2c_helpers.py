"""Helpers shared by the case to code tests (imported by name: several conftest modules exist)."""

from __future__ import annotations

DATE = "2026-04-01"


def check_invariants(book, text, result) -> None:
    codes = [s.code for s in result.codes]
    assert len(codes) == len(set(codes)), f"a code suggested twice: {codes}"
    assert sum(s.first_listed for s in result.codes) <= 1
    if result.codes:
        assert result.codes[0].first_listed or not any(s.first_listed for s in result.codes)
    for s in result.codes:
        assert s.system == "icd10cm"
        assert book.is_billable("icd10cm", s.code, DATE), f"{s.code} is not billable on {DATE}"
        assert s.title == book.get("icd10cm", s.code, DATE).title
        assert 0 < s.confidence <= 1
        assert s.rationale
        assert s.evidence, f"{s.code} has no evidence"
        for e in s.evidence:
            assert 0 <= e.start < e.end <= len(text)
            assert text[e.start:e.end] == e.text, (s.code, e)


def codes_of(result) -> list[str]:
    return [s.code for s in result.codes]


def first_of(result) -> str | None:
    return next((s.code for s in result.codes if s.first_listed), None)
