"""The home page and the code page, checked against the codebook they render.

Not marked django_db: for now these pages read only the codebook, and pytest-django fails a
test that touches the app database unasked. Mark them when metering starts counting views.
"""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import escape

from medcode.web.views import NOTE_LABELS

CM = "icd10cm"


# --- a small DOM over the stdlib parser, so assertions name elements instead of grepping ------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict, parent: Node | None):
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    @property
    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text for c in self.children]
        return " ".join("".join(parts).split())

    def iter(self, tag: str | None = None, **attrs):
        for c in self.children:
            if isinstance(c, Node):
                if (tag is None or c.tag == tag) and all(c.attrs.get(k.rstrip("_")) == v for k, v in attrs.items()):
                    yield c
                yield from c.iter(tag, **attrs)

    def find(self, tag: str | None = None, **attrs) -> Node:
        found = next(self.iter(tag, **attrs), None)
        assert found is not None, f"no <{tag} {attrs}> in the page"
        return found

    def next_element(self) -> Node:
        sibs = [c for c in self.parent.children if isinstance(c, Node)]
        return sibs[sibs.index(self) + 1]

    def links(self) -> list[str]:
        return [a.attrs.get("href") for a in self.iter("a")]


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node("#document", {}, None)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def dom(response) -> Node:
    p = _Parser()
    p.feed(response.content.decode())
    return p.root


def section(doc: Node, heading: str) -> Node:
    """The element right after the <h2> with this text."""
    h2 = next((h for h in doc.iter("h2") if h.text == heading), None)
    assert h2 is not None, f"no section {heading!r}; headings: {[h.text for h in doc.iter('h2')]}"
    return h2.next_element()


def words(s: str) -> str:
    return " ".join(s.split())


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
    assert [li.find("a").attrs["href"] for li in items] == [code_url(c.code) for c in chapters]
    for li, ch in zip(items, chapters):
        assert words(ch.title) in li.text


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
    assert nav.links() == [code_url(a.code) for a in ancestors]
    assert nav.find("span", **{"aria-current": "page"}).text == "E11.9"
    for a, link in zip(ancestors, nav.iter("a")):
        assert link.attrs["title"] == a.title


def test_notes_show_under_their_heading_with_their_origin(client, book):
    notes = book.notes(CM, "E11.9")
    assert any(n.inherited for n in notes) and any(not n.inherited for n in notes)
    doc = dom(client.get(code_url("E11.9")))
    for note in notes:
        items = list(section(doc, NOTE_LABELS[note.kind]).iter("li"))
        item = next((li for li in items if li.text.startswith(words(note.text))), None)
        assert item is not None, f"{note.kind} note missing: {note.text!r}"
        if note.inherited:
            assert "(from" in item.text
            assert code_url(note.origin) in item.links()
        else:
            assert "(from" not in item.text and item.links() == []


def test_note_headings_are_words_not_storage_keys(client):
    headings = [h.text for h in dom(client.get(code_url("E11.9"))).iter("h2")]
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
    rows = [(tr.find("th").text, tr.find("td").text) for tr in table.iter("tr")]
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
    body = r.content.decode()
    assert "<script" not in body.lower()
    assert escape("<") + "script" in body.lower()


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
