"""Guideline pages: /guidelines/<ref> renders a section of the FY2026 ICD-10-CM Official Guidelines
from the book, with its text, its codes linked, the release name and parent/children navigation."""

from __future__ import annotations

import pytest
from django.urls import reverse

from medcode.codebook import guidelines as gl
from medcode.web.notelinks import iter_refs
from pagedom import check_page, dom, words

pytestmark = pytest.mark.django_db


@pytest.fixture
def has_guidelines(book):
    if gl.section(book, "I.C.4") is None:
        pytest.skip("the guidelines are not in the test book")


def gurl(ref):
    return reverse("guideline", args=[ref])


@pytest.mark.parametrize("ref", ["I.C.4.a.3", "I.C.4", "I.C.19.a", "I.B.10", "I.A.7", "Appendix I"])
def test_a_section_renders_its_text_with_navigation(client, book, has_guidelines, ref):
    s = {x.ref: x for x in gl.all_sections(book)}[ref]
    r = client.get(gurl(ref))
    assert r.status_code == 200
    assert check_page(r.content.decode()) == []
    doc = dom(r)
    assert doc.find("h1").text == (f"Section {s.ref} {words(s.title)}" if s.ref.startswith("I") else
                                   f"{s.ref} {words(s.title)}")
    assert s.release in doc.find("main").text
    text = doc.find("div", class_="guideline-text")
    paras = [p.text for p in text.iter("p")]
    expected = [words(p) for p in s.text.split("\n\n") if p.strip()]
    assert paras == (expected or [paras[0]])
    # codes the text names are links to their pages
    linked = {a.text for a in text.iter("a")}
    for _, _, code_ref in iter_refs(s.text):
        if book.find("icd10cm", code_ref.start):
            assert code_ref.text in linked
    # up to the parent, down to the children
    crumbs = doc.find("nav", **{"aria-label": "Guideline sections"}).links()
    parents, p = [], s.parent
    while p:
        parents.insert(0, gurl(p))
        p = gl.section(book, p).parent
    assert crumbs == [reverse("guidelines")] + parents
    subs = [x for x in gl.all_sections(book) if x.parent == ref]
    if subs:
        h2 = next(h for h in doc.iter("h2") if h.text == "Subsections")
        assert h2.next_element().links() == [gurl(c.ref) for c in subs]


def test_section_references_in_the_text_are_links(client, book, has_guidelines):
    assert "Section I.B.10" in gl.section(book, "I.C.19.a").text
    doc = dom(client.get(gurl("I.C.19.a")))
    assert gurl("I.B.10") in doc.find("div", class_="guideline-text").links()


def test_the_contents_list_every_section(client, book, has_guidelines):
    r = client.get(reverse("guidelines"))
    assert r.status_code == 200 and check_page(r.content.decode()) == []
    links = set(dom(r).find("main").links())
    assert {gurl(s.ref) for s in gl.all_sections(book)} <= links


@pytest.mark.parametrize("typed, canonical", [("i.c.4.a.3", "I.C.4.a.3"), ("I.C.4.a(3)", "I.C.4.a.3")])
def test_other_spellings_redirect(client, has_guidelines, typed, canonical):
    r = client.get("/guidelines/" + typed)
    assert r.status_code == 302 and r["Location"] == gurl(canonical)


@pytest.mark.parametrize("ref", ["I.C.99", "X.Y", "...", "I.C.4.a.3.z.z", "<script>"])
def test_unknown_sections_are_a_404(client, has_guidelines, ref):
    r = client.get("/guidelines/" + ref, follow=True)
    assert r.status_code == 404
    assert "<script>" not in r.content.decode()
    assert dom(r).find("h1").text in ("Guideline section not found", "Not found")


def test_an_oversized_ref_is_a_400(client):
    assert client.get("/guidelines/" + "I." * 200).status_code == 400
