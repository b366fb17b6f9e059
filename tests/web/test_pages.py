"""The home page and the code page, checked against the codebook they render.

Marked django_db: a code page meters the visitor (the app database holds the meter).
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import escape

from medcode.web.views import NOTE_LABELS
from pagedom import dom, section, words

pytestmark = pytest.mark.django_db

CM = "icd10cm"


def code_url(code: str, system: str = CM) -> str:
    return reverse("code", args=[system, code])


# --- home ------------------------------------------------------------------------------------

def test_home_lists_the_chapters_of_the_book(client, book):
    chapters = book.top_level(CM)
    assert len(chapters) == 22
    r = client.get("/")
    assert r.status_code == 200
    listed = dom(r).find("ul", **{"aria-labelledby": "chapters"})
    items = list(listed.iter("li"))
    # chapters open their browse page (blocks), which costs no code page view
    assert [li.find("a").attrs["href"] for li in items] == [reverse("browse_node", args=[CM, c.code])
                                                            for c in chapters]
    for li, ch in zip(items, chapters):
        assert words(ch.title) in li.text


def test_home_and_header_link_browse_and_guidelines(client):
    doc = dom(client.get("/"))
    for nav in (doc.find("ul", **{"aria-labelledby": "browse"}), doc.find("nav", **{"aria-label": "Site"})):
        assert {reverse("browse_system", args=[CM]), reverse("browse_system", args=["icd10pcs"]),
                reverse("guidelines")} <= set(nav.links())


def test_home_names_the_releases_it_serves(client, book):
    listed = dom(client.get("/")).find("ul", **{"aria-labelledby": "releases"})
    assert [words(r.name) in listed.text for r in book.releases()] == [True] * len(book.releases())


def test_code_box_works_without_javascript(client):
    r = client.get("/", {"code": " e11.9 "})
    assert r.status_code == 302
    assert r["Location"] == code_url("E11.9")


@pytest.mark.parametrize("typed", ["...", "E11/9", "X" * 5000])
def test_code_box_refuses_what_cannot_be_an_address(client, typed):
    r = client.get("/", {"code": typed})
    assert r.status_code == 400
    assert dom(r).find(id="code-error").text


# --- the code page ---------------------------------------------------------------------------

def test_code_page_shows_code_title_and_billable_badge(client, book):
    code = book.get(CM, "E11.9")
    assert code.billable
    doc = dom(client.get(code_url("E11.9")))
    h1 = doc.find("h1")
    assert h1.find("span", class_="code").text == "E11.9"
    assert words(code.title) in h1.text
    assert words(code.title) in doc.find("title").text
    assert doc.find("span", class_="badge").text == "billable"
    assert not list(doc.iter("span", class_="badge no"))


def test_breadcrumb_links_every_ancestor_top_down(client, book):
    ancestors = list(reversed(book.ancestors(CM, "E11.9")))
    assert [a.kind for a in ancestors][0] == "chapter" and ancestors[-1].code == "E11"
    nav = dom(client.get(code_url("E11.9"))).find("nav", **{"aria-label": "Hierarchy"})
    # the system's browse root, then chapter > block > category
    assert nav.links() == [reverse("browse_system", args=[CM])] + [code_url(a.code) for a in ancestors]
    assert nav.find("span", **{"aria-current": "page"}).text == "E11.9"
    for a, link in zip(ancestors, list(nav.iter("a"))[1:]):
        assert link.attrs["title"] == a.title
    assert [link.text for link in nav.iter("a")][1:] == [
        f"Chapter {a.code}" if a.kind == "chapter" else a.code for a in ancestors]


def test_notes_show_under_their_heading_with_their_origin(client, book):
    notes = book.notes(CM, "E11.9")
    assert any(n.inherited for n in notes) and any(not n.inherited for n in notes)
    doc = dom(client.get(code_url("E11.9")))
    for note in notes:
        items = list(section(doc, NOTE_LABELS[note.kind], "h3").iter("li"))
        item = next((li for li in items if li.text.startswith(words(note.text))), None)
        assert item is not None, f"{note.kind} note missing: {note.text!r}"
        origin = next((s for s in item.iter("span", class_="muted") if s.text.startswith("(from")), None)
        if note.inherited:
            level = book.get(CM, note.origin)
            word = {"extension": "code"}.get(level.kind, level.kind)
            assert origin is not None and origin.text == f"(from {word} {note.origin})"
            assert origin.links() == [code_url(note.origin)]
        else:
            assert origin is None


def test_note_headings_are_words_not_storage_keys(client):
    doc = dom(client.get(code_url("E11.9")))
    headings = [h.text for tag in ("h2", "h3") for h in doc.iter(tag)]
    assert "Use additional code" in headings
    assert not [h for h in headings if "_" in h or h.lower().startswith("useadd")]


@pytest.mark.parametrize("path", [
    "/codes/icd10cm/e119", "/codes/icd10cm/E119", "/codes/icd10cm/e11.9", "/codes/icd10cm/%20E11.9%20",
    "/codes/ICD10CM/E11.9", "/codes/icd-10-cm/e119",
])
def test_other_spellings_redirect_to_the_canonical_url_keeping_the_date(client, path):
    r = client.get(path, {"date": "2026-05-01"})
    assert r.status_code in (301, 302)
    assert r["Location"] == code_url("E11.9") + "?date=2026-05-01"
    assert client.get(r["Location"]).status_code == 200


def test_the_date_of_service_is_the_one_asked_for(client):
    r = client.get(code_url("E11.9"), {"date": "2026-05-01"})
    assert r.status_code == 200
    assert f"date of service {date_format(date(2026, 5, 1))}" in dom(r).find("main").text
    assert dom(r).find("input", id="dos").attrs["value"] == "2026-05-01"


def test_header_code_lists_its_children_and_is_not_billable(client, book):
    header = book.get(CM, "E11")
    assert not header.billable
    doc = dom(client.get(code_url("E11")))
    children = book.children(CM, "E11")
    assert [c.code for c in children].count("E11.9") == 1
    listed = section(doc, "Codes below E11")
    assert listed.links() == [code_url(c.code) for c in children]
    badge = doc.find("span", class_="badge no")
    assert "not billable" in badge.text
    assert not [b for b in doc.iter("span", class_="badge") if b.text == "billable"]


def test_seventh_character_code_shows_the_table(client, book):
    code = book.get(CM, "S52.501A")
    sevenths = book.seventh_characters(CM, "S52.501A")
    assert code.billable and sevenths
    table = section(dom(client.get(code_url("S52.501A"))), "7th characters")
    rows = [(tr.find("th").text, tr.find("td").text) for tr in table.find("tbody").iter("tr")]
    assert rows == [(s.char, words(s.meaning)) for s in sevenths]


# --- errors ----------------------------------------------------------------------------------

def test_unknown_code_is_a_404_offering_the_nearest_codes(client, book):
    assert book.find(CM, "K21.99") is None
    near = book.nearest(CM, "K21.99")
    assert near
    r = client.get(code_url("K21.99"))
    assert r.status_code == 404
    doc = dom(r)
    assert "K21.99" in doc.find("main").text
    assert section(doc, "Did you mean").links() == [code_url(c.code) for c in near]


def test_unknown_system_is_a_404_that_says_which_systems_exist(client):
    r = client.get("/codes/icd11/E11.9")
    assert r.status_code == 404
    doc = dom(r)
    assert doc.find("h1").text == "Unknown code system"
    assert "icd11" in doc.find("main").text and CM in doc.find("main").text


@pytest.mark.parametrize("when", ["2026-13-45", "2026-02-30", "yesterday", "0000-01-01"])
def test_bad_date_is_a_400(client, when):
    r = client.get(code_url("E11.9"), {"date": when})
    assert r.status_code == 400
    assert "YYYY-MM-DD" in dom(r).find("main").text


@pytest.mark.parametrize("path, query", [
    ("/codes/icd10cm/" + "E" * 5000, {}),
    ("/codes/icd10cm/E11.9", {"date": "2" * 5000}),
    ("/codes/" + "x" * 5000 + "/E11.9", {}),
])
def test_oversized_parameters_are_a_400(client, path, query):
    assert client.get(path, query).status_code == 400


@pytest.mark.parametrize("path", ["/codes/icd10cm/%20", "/codes/icd10cm/.", "/codes/icd10cm/%00", "/codes/icd10cm/-"])
def test_addresses_that_hold_no_code_are_a_404_not_a_500(client, path):
    assert client.get(path).status_code == 404


def test_unknown_address_is_the_sites_404_page(client):
    r = client.get("/no/such/page")
    assert r.status_code == 404
    assert dom(r).find("h1").text == "Not found"


@pytest.mark.parametrize("path, query", [
    ("/codes/icd10cm/<SCRIPT>ALERT(1)<", {}),                  # echoed in the 404 message
    ("/codes/<script>alert(1)</E11.9", {}),                     # echoed as the unknown system
    ("/codes/icd10cm/E11.9", {"date": "<script>alert(1)</script>"}),  # echoed in the bad-date message
])
def test_what_the_address_says_is_escaped(client, path, query):
    r = client.get(path, query, follow=True)
    assert r.status_code in (400, 404)
    body = r.content.decode().lower()
    # the site's own scripts load from files (<script src=...>); what the address said is text
    assert [m for m in re.findall(r"<script[^>]*>", body) if "src=" not in m] == []
    assert "<script>alert" not in body
    assert escape("<") + "script" in body


def test_healthz_reports_the_book_in_json(client, book):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/json"
    assert r.json() == {"ok": True, "built_at": book.meta["built_at"], "systems": book.systems()}


# --- no codebook -----------------------------------------------------------------------------

@pytest.fixture
def no_codebook(settings, tmp_path):
    settings.MEDCODE_CODEBOOK = str(tmp_path / "missing" / "codebook.sqlite")


@pytest.mark.parametrize("path", ["/", "/codes/icd10cm/E11.9", "/codes/icd10cm/K21.99", "/?code=zz"])
def test_missing_codebook_is_a_503_saying_how_to_build_it(client, no_codebook, path):
    r = client.get(path, follow=True)
    assert r.status_code == 503
    doc = dom(r)
    assert doc.find("h1").text == "Reference data not available"
    assert "medcode data build" in doc.find("main").text


def test_missing_codebook_makes_healthz_say_so_in_json(client, no_codebook):
    r = client.get("/healthz")
    assert r.status_code == 503
    assert r.json()["ok"] is False and "medcode data build" in r.json()["error"]


def test_missing_codebook_page_keeps_the_servers_paths_to_the_log(client, settings, no_codebook, caplog):
    r = client.get("/codes/icd10cm/E11.9")
    assert r.status_code == 503
    assert settings.MEDCODE_CODEBOOK not in r.content.decode()
    assert settings.MEDCODE_CODEBOOK in caplog.text
