"""Codes and ranges in note text become links (pure function: no book, no Django)."""

from __future__ import annotations

import pytest

from medcode.web.notelinks import Ref, iter_refs, link_codes

EXISTING = {"E08", "E10", "E13", "O24.4", "Z79.4", "E00-E07", "E00", "F10-F19", "F10", "N18.1", "I70.2", "M51.1",
            "F11", "K85", "E87.8", "S12.0", "E11", "T40", "P70-P74"}


def resolve(ref: Ref):
    """Like the site's: a range leads to its block if there is one, else its first code."""
    if ref.is_range:
        block = f"{ref.start}-{ref.end}"
        if block in EXISTING:
            return f"/codes/{block}"
        return f"/codes/{ref.start}" if ref.start in EXISTING else None
    return f"/codes/{ref.start}" if ref.start in EXISTING else None


def refs(text: str) -> list[tuple[str, str, str | None]]:
    return [(r.text, r.start, r.end) for _, _, r in iter_refs(text)]


@pytest.mark.parametrize("text, expected", [
    ("diabetes mellitus due to underlying condition (E08.-)", [("E08.-", "E08", None)]),
    ("gestational diabetes (O24.4-)", [("O24.4-", "O24.4", None)]),
    ("insulin (Z79.4)", [("Z79.4", "Z79.4", None)]),
    ("disorders of thyroid gland (E00-E07)", [("E00-E07", "E00", "E07")]),
    ("(N18.1-N18.6)", [("N18.1-N18.6", "N18.1", "N18.6")]),
    ("(I70.2--I70.7-)", [("I70.2--I70.7-", "I70.2", "I70.7")]),
    ("(F11.-F17.-)", [("F11.-F17.-", "F11", "F17")]),
    ("(K85-K86.-)", [("K85-K86.-", "K85", "K86")]),
    ("(S12.0--S12.6.-)", [("S12.0--S12.6.-", "S12.0", "S12.6")]),
    ("(M50.1.-, M51.1.-)", [("M50.1.-", "M50.1", None), ("M51.1.-", "M51.1", None)]),
    ("dementia (F10-F19, with .17, .27, .97)", [("F10-F19", "F10", "F19")]),
    ("codes with placeholder (T36.0X1A) and (S52.501A)", [("T36.0X1A", "T36.0X1A", None),
                                                         ("S52.501A", "S52.501A", None)]),
    ("category M1A and C7A-C7A", [("M1A", "M1A", None), ("C7A-C7A", "C7A", "C7A")]),
])
def test_the_ways_the_tabular_writes_references(text, expected):
    assert refs(text) == expected


@pytest.mark.parametrize("text", [
    "CD30-positive T-cell proliferations", "influenza A H1N1", "vitamin b12", "e11.9 in lower case",
    "HbA1c", "a range 5-10", "x E11", "(.17)",
])
def test_what_is_not_a_code_reference(text):
    assert [r.start for _, _, r in iter_refs(text)] == ([] if text != "x E11" else ["E11"])


def test_links_are_made_for_what_resolves_and_the_rest_stays_text():
    html = link_codes("use (E08.-), (O24.4-), (Z79.4) not (Q99.9)", resolve)
    assert html == ('use (<a href="/codes/E08">E08.-</a>), (<a href="/codes/O24.4">O24.4-</a>), '
                    '(<a href="/codes/Z79.4">Z79.4</a>) not (Q99.9)')


def test_a_range_leads_to_its_block_else_its_first_code():
    assert link_codes("E00-E07", resolve) == '<a href="/codes/E00-E07">E00-E07</a>'
    assert link_codes("F10-F19 with .17", resolve) == '<a href="/codes/F10-F19">F10-F19</a> with .17'
    assert link_codes("N18.1-N18.6", resolve) == '<a href="/codes/N18.1">N18.1-N18.6</a>'


def test_a_range_that_does_not_resolve_links_each_end_that_does():
    assert link_codes("X00-E10", resolve) == 'X00-<a href="/codes/E10">E10</a>'
    assert link_codes("Q00-Q99", resolve) == "Q00-Q99"


def test_a_resolver_may_give_a_title():
    html = link_codes("E00-E07", lambda r: ("/codes/E00", "E00, the first code of E00-E07"))
    assert html == '<a href="/codes/E00" title="E00, the first code of E00-E07">E00-E07</a>'


def test_everything_is_html_escaped():
    html = link_codes('<script>alert("E08.-")</script> & E08.- "q"', resolve)
    assert "<script>" not in html
    assert html.startswith("&lt;script&gt;alert(&quot;")
    assert html.endswith('&amp; <a href="/codes/E08">E08.-</a> &quot;q&quot;')


def test_hrefs_and_titles_are_escaped_too():
    html = link_codes("E08", lambda r: ('/x?a=1&b="2"', "<t>"))
    assert html == '<a href="/x?a=1&amp;b=&quot;2&quot;" title="&lt;t&gt;">E08</a>'


def test_section_references_link_when_asked():
    html = link_codes("See Section I.B.10. Sequelae, and section I.C.19.a for E11",
                      resolve, sections=lambda ref: f"/guidelines/{ref}" if ref != "I.C.19.a" else None)
    assert html == ('See <a href="/guidelines/I.B.10">Section I.B.10</a>. Sequelae, and section I.C.19.a for '
                    '<a href="/codes/E11">E11</a>')


def test_empty_and_none():
    assert link_codes("", resolve) == ""
    assert link_codes(None, resolve) == ""


def _resolve_titled(ref: Ref):
    """A resolver that gives some links a title, with characters that must be escaped."""
    target = resolve(ref)
    if target is not None and ref.start == "Z79.4":
        return target + "?a=1&b='2'", 'long-term "insulin" <use>'
    return target


@pytest.mark.parametrize("text", [
    "use (E08.-), (O24.4-) & (Z79.4) <not> \"Q99.9\" or 'E11'",
    "ranges (E00-E07), (N18.1-N18.6), (I70.2--I70.7-), (F11.-F17.-), (K85-K86.-), (S12.0--S12.6.-)",
    "a range whose ends exist alone: (E10-E13) and (E87.8-E87.9) and (Q00-Q01)",
    "&E11& <E11> \"E11\" 'E11' E11&amp; M51.1.- x<P70-P74>y",
    "no code at all: 5 < 6 & 'quotes' \"double\"",
    "", "E11", "(T40)",
])
def test_the_one_pass_linker_writes_what_the_general_one_does(text):
    """link_codes without section references takes a one-pass path (escape, then replace references in the
    escaped text); with a sections resolver that never matches it takes the general path. Same output."""
    for resolver in (resolve, _resolve_titled):
        assert link_codes(text, resolver) == link_codes(text, resolver, lambda ref: None)
