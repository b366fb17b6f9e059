"""Browse: ICD-10-CM chapters -> blocks -> categories (the category's code page lists the rest);
ICD-10-PCS sections -> body systems -> tables (the table's code page shows the grid).
Browsing is not metered. Checked against the book."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pagedom import check_page, dom, words

pytestmark = pytest.mark.django_db

CM, PCS = "icd10cm", "icd10pcs"


def browse_url(system, node=None):
    return reverse("browse_node", args=[system, node]) if node else reverse("browse_system", args=[system])


def listed(r):
    doc = dom(r)
    ul = doc.find("ul", **{"aria-labelledby": "items"})
    return [(li.find("a").attrs["href"], li.find("a").text) for li in ul.iter("li")]


def test_icd10cm_chapters_blocks_categories(client, book):
    chapters = book.top_level(CM)
    r = client.get(browse_url(CM))
    assert r.status_code == 200 and check_page(r.content.decode()) == []
    assert listed(r) == [(browse_url(CM, c.code), f"Chapter {c.code} {words(c.title)}") for c in chapters]

    chapter = chapters[3]
    blocks = book.children(CM, chapter.code)
    r = client.get(browse_url(CM, chapter.code))
    assert r.status_code == 200 and check_page(r.content.decode()) == []
    assert words(chapter.title) in dom(r).find("h1").text
    assert [href for href, _ in listed(r)] == [browse_url(CM, b.code) for b in blocks]
    assert reverse("code", args=[CM, chapter.code]) in dom(r).find("main").links()

    block = next(b for b in blocks if b.code == "E08-E13")
    categories = book.children(CM, block.code)
    r = client.get(browse_url(CM, block.code))
    assert r.status_code == 200
    assert [href for href, _ in listed(r)] == [reverse("code", args=[CM, c.code]) for c in categories]
    crumbs = dom(r).find("nav", **{"aria-label": "Hierarchy"}).links()
    assert crumbs == [browse_url(CM), browse_url(CM, chapter.code)]


def test_icd10pcs_sections_body_systems_tables(client, book):
    sections = book.top_level(PCS)
    r = client.get(browse_url(PCS))
    assert r.status_code == 200 and check_page(r.content.decode()) == []
    assert [href for href, _ in listed(r)] == [browse_url(PCS, s.code) for s in sections]
    r = client.get(browse_url(PCS, "0"))
    assert [href for href, _ in listed(r)] == [browse_url(PCS, b.code) for b in book.children(PCS, "0")]
    r = client.get(browse_url(PCS, "0R"))
    tables = book.children(PCS, "0R")
    assert [href for href, _ in listed(r)] == [reverse("code", args=[PCS, t.code]) for t in tables]
    assert reverse("code", args=[PCS, "0RR"]) in [href for href, _ in listed(r)]


@pytest.mark.parametrize("system, node, target", [
    (CM, "E11", ("code", [CM, "E11"])),          # a category: its code page lists its children
    (PCS, "0RR", ("code", [PCS, "0RR"])),        # a table: its code page shows the grid
    ("cm", None, ("browse_system", [CM])),       # other spellings
    (CM, "e08-e13", ("browse_node", [CM, "E08-E13"])),
])
def test_redirects(client, system, node, target):
    r = client.get(browse_url(system, node) if node else f"/browse/{system}/")
    assert r.status_code == 302
    assert r["Location"] == reverse(target[0], args=target[1])


@pytest.mark.parametrize("path, status", [
    ("/browse/icd10cm/Q99.99", 404), ("/browse/icd11/", 404), ("/browse/hcpcs/", 404),
    ("/browse/icd10cm/" + "x" * 500, 400), ("/browse/icd10cm/4?date=nope", 400),
])
def test_bad_browse_addresses(client, path, status):
    assert client.get(path).status_code == status


def test_the_browse_index_and_the_home_page_lead_to_browsing(client):
    r = client.get(reverse("browse"))
    assert r.status_code == 200
    assert {browse_url(CM), browse_url(PCS)} <= set(dom(r).find("main").links())


def test_browsing_costs_no_code_page_view(client):
    for path in [browse_url(CM), browse_url(CM, "4"), browse_url(CM, "E08-E13"), browse_url(PCS, "0R")]:
        assert client.get(path).status_code == 200
    r = client.get(reverse("code", args=[CM, "E11.9"]))
    assert "Instructional notes" in [h.text for h in dom(r).iter("h2")]


def test_a_dated_browse_page_keeps_the_date(client):
    r = client.get(browse_url(CM, "4"), {"date": "2026-05-01"})
    assert all(h.endswith("?date=2026-05-01") for h, _ in listed(r))
