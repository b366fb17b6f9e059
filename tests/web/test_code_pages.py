"""Code pages for a sample of real codes across chapters, read in full (a paid account) and checked
against the codebook's own record of each code (code_record, the book), never against literals
copied from a page."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from medcode.codebook import guidelines as gl
from medcode.codebook.record import code_record
from medcode.web.notelinks import iter_refs
from medcode.web.pages import INDEX_SOURCES, NOTE_LABELS
from pagedom import check_page, dom, section, words

pytestmark = pytest.mark.django_db

CM, PCS = "icd10cm", "icd10pcs"
TODAY = date.today()
FY2026 = date(2026, 5, 1)   # a date of service in FY2026
FY2027 = date(2026, 11, 1)  # and one in FY2027, after the addenda

# (system, code, date of service or None for today)
SAMPLE = [
    (CM, "E11.9", None), (CM, "E11.22", None), (CM, "I13.0", None), (CM, "S52.501A", None),
    (CM, "T36.0X1A", None), (CM, "O24.419", None), (CM, "F02.80", None), (CM, "Z79.4", None),
    (CM, "E11", None), (CM, "4", None), (CM, "E08-E13", None),
    (PCS, "0RRJ0JZ", None), (PCS, "0RR", None),
]


def url(system: str, code: str, when: date | None = None) -> str:
    return reverse("code", args=[system, code]) + (f"?date={when.isoformat()}" if when else "")


def open_page(client, system, code, when=None):
    r = client.get(url(system, code, when))
    assert r.status_code == 200, (code, r.status_code)
    return r, dom(r)


def deleted_fy2027_code(book) -> str:
    """A code whose last version ends with FY2026: deleted by the FY2027 addenda."""
    row = book.db.execute("SELECT code FROM codes WHERE system='icd10cm' AND billable=1 AND valid_to=? "
                          "AND code NOT IN (SELECT code FROM codes WHERE system='icd10cm' AND valid_from>?) "
                          "ORDER BY code LIMIT 1", ("2026-09-30", "2026-09-30")).fetchone()
    assert row, "the test book holds no code deleted by FY2027"
    return row[0]


def revised_fy2027_code(book) -> str:
    """A code whose FY2027 version has another title than its FY2026 one."""
    row = book.db.execute("SELECT a.code FROM codes a JOIN codes b ON a.system=b.system AND a.code=b.code "
                          "WHERE a.system='icd10cm' AND a.valid_to='2026-09-30' AND b.valid_from='2026-10-01' "
                          "AND a.title<>b.title AND a.billable=1 AND b.billable=1 ORDER BY a.code LIMIT 1").fetchone()
    assert row, "the test book holds no title revised by FY2027"
    return row[0]


# --- what every code page shows ---------------------------------------------------------------------

@pytest.mark.parametrize("system, code, when", SAMPLE)
def test_always_visible_parts_follow_the_record(paid_client, book, system, code, when):
    rec = code_record(book, system, code, when or TODAY)
    r, doc = open_page(paid_client, system, code, when)
    assert check_page(r.content.decode()) == []

    h1 = doc.find("h1")
    assert code in h1.text and words(rec["title"]) in h1.text
    assert words(rec["title"]) in doc.find("title").text

    status = doc.find("p", class_="status")
    badges = [s.text for s in status.iter("span") if "badge" in s.attrs.get("class", "")]
    assert len(badges) == 1
    assert (badges[0] == "billable") == rec["billable"]

    # breadcrumb: every ancestor, top down
    crumbs = doc.find("nav", **{"aria-label": "Hierarchy"}).links()[1:]
    assert crumbs == [url(system, h["code"]) for h in reversed(rec["hierarchy"])]

    # the plain-language description, paragraph by paragraph
    plain = doc.find("div", class_="plain-language")
    paras = [p.text for p in plain.iter("p")]
    assert paras == [words(p) for p in rec["plain_language"].split("\n\n") if p.strip()]

    # the codes below, or for a PCS table its grid, and the codes to choose instead of a header
    if rec["children"] and not (system == PCS and rec["kind"] == "table"):
        assert section(doc, f"Codes below {code}").links() == [url(system, c["code"]) for c in rec["children"]]
    if rec.get("billable_below") and system == CM:
        listed = section(doc, f"Billable codes below {code}")
        assert listed.links() == [url(system, c["code"]) for c in rec["billable_below"]]
        assert all(words(c["title"]) in listed.text for c in rec["billable_below"])

    # siblings: the other children of the parent
    sibs = book.siblings(system, code, when or TODAY)
    heading = next(h for h in doc.iter("h2") if h.text.startswith("Other "))
    assert heading.next_element().links() == [url(system, s.code) for s in sibs[:40]]


@pytest.mark.parametrize("system, code, when", SAMPLE)
def test_gated_parts_follow_the_record(paid_client, book, system, code, when):
    rec = code_record(book, system, code, when or TODAY)
    _, doc = open_page(paid_client, system, code, when)

    # every instructional note, under its heading, with the level it comes from
    for kind, notes in rec["notes"].items():
        if not notes:
            continue
        items = list(section(doc, NOTE_LABELS[kind], "h3").iter("li"))
        assert len(items) == len(notes)
        for li, note in zip(items, notes):
            assert li.text.startswith(words(note["text"]))
            if note["inherited"]:
                assert li.text.endswith(f"{note['origin']})") and url(system, note["origin"]) in li.links()
            # every code or range in the note that has a page is a link
            for _, _, ref in iter_refs(note["text"]):
                exists = (book.find(CM, f"{ref.start}-{ref.end}") if ref.is_range else None) or \
                    book.find(CM, ref.start)
                if exists and ref.start != rec["code"]:
                    assert ref.text in [a.text for a in li.iter("a")], (note["text"], ref.text)

    # index entries, grouped by the index they come from
    entries = rec["index_entries"] if system == CM else rec["pcs"]["index_entries"]
    if entries:
        text = section(doc, "Index entries").parent.text
        for e in entries:
            assert words(e["path"]) in text
        if system == CM:
            for source in {e["source"] for e in entries}:
                assert INDEX_SOURCES[source] in [h.text for h in doc.iter("h3")]

    # GEMs both ways
    if system == CM:
        gems = next(h for h in doc.iter("h2") if h.text == "ICD-9-CM crosswalk (GEMs)").parent
        tables = {t.find("caption").text: t for t in gems.iter("table")}
        forward = next((t for c, t in tables.items() if "forward" in c), None)
        backward = next((t for c, t in tables.items() if "backward" in c), None)
        x = rec["crosswalks"]
        assert (forward is not None) == bool(x["icd9cm"]) and (backward is not None) == bool(x["from_icd9cm"])
        if forward:
            assert [tr.find("td").text for tr in forward.find("tbody").iter("tr")] == \
                [c["code"] or "no map" for c in x["icd9cm"]]
        if backward:
            assert [tr.find("td").text for tr in backward.find("tbody").iter("tr")] == [c["code"] for c in x["from_icd9cm"]]

    # history: one row per version
    history = next(h for h in doc.iter("h2") if h.text == "History").parent.find("tbody")
    rows = list(history.iter("tr"))
    assert [words(list(tr.iter("td"))[2].text).startswith(words(v["title"])) for tr, v in zip(rows, rec["history"])] \
        == [True] * len(rec["history"])
    assert len(rows) == len(rec["history"])


@pytest.mark.parametrize("code", ["E11.9", "I13.0", "O24.419", "F02.80", "Z79.4", "S52.501A", "T36.0X1A"])
def test_the_chapter_guidelines_are_cited_by_section_number(paid_client, book, code):
    rec = code_record(book, CM, code, TODAY)
    chapter = next(h for h in rec["hierarchy"] if h["kind"] == "chapter")["code"]
    top = gl.for_chapter(book, chapter)
    if top is None:
        pytest.skip("the guidelines are not in the test book")
    _, doc = open_page(paid_client, CM, code)
    block = next(h for h in doc.iter("h2") if h.text == "Official guidelines").parent
    assert reverse("guideline", args=[top.ref]) in block.links()
    assert f"Section {top.ref} {words(top.title)}" in block.text
    for sub in gl.subsections(book, top.ref):
        assert reverse("guideline", args=[sub.ref]) in block.links()
    assert top.release in block.text


def test_sections_that_name_the_code_are_listed(paid_client, book):
    if gl.section(book, "I.C.4.a.3") is None:
        pytest.skip("the guidelines are not in the test book")
    assert "Z79.4" in gl.section(book, "I.C.4.a.3").text
    _, doc = open_page(paid_client, CM, "Z79.4")
    h3 = next(h for h in doc.iter("h3") if h.text.startswith("Sections that name"))
    assert reverse("guideline", args=["I.C.4.a.3"]) in h3.next_element().links()


# --- 7th characters ------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["S52.501A", "T36.0X1A"])
def test_the_seventh_character_table_links_each_concrete_code(paid_client, book, code):
    sevenths = book.seventh_characters(CM, code)
    base = book.get(CM, code).parent
    _, doc = open_page(paid_client, CM, code)
    table = section(doc, "7th characters")
    rows = list(table.find("tbody").iter("tr"))
    assert [tr.find("th").text for tr in rows] == [s.char for s in sevenths]
    for tr, s in zip(rows, sevenths):
        concrete = base + s.char
        cell = list(tr.iter("td"))[-1]
        if concrete == code:
            assert cell.find("span", **{"aria-current": "page"}).text == code
        elif book.find(CM, concrete):
            assert cell.links() == [url(CM, concrete)]
        else:
            assert cell.links() == []


# --- FY2027: deletions and title revisions -----------------------------------------------------------

def test_a_deleted_code_still_has_its_page_marked_deleted_with_the_date(paid_client, book):
    code = deleted_fy2027_code(book)
    found = book.find(CM, code, FY2027)
    assert found.status == "deleted"
    r, doc = open_page(paid_client, CM, code, FY2027)
    assert check_page(r.content.decode()) == []
    badge = doc.find("span", class_="badge del")
    assert "deleted" in badge.text and badge.find("time").attrs["datetime"] == found.valid_to.isoformat()
    assert words(found.title) in doc.find("h1").text
    history = next(h for h in doc.iter("h2") if h.text == "History").parent
    assert "Deleted:" in history.text and found.valid_to.isoformat() in [t.attrs["datetime"] for t in history.iter("time")]
    # before the deletion the same code is active and billable
    _, before = open_page(paid_client, CM, code, FY2026)
    assert before.find("span", class_="badge").text == "billable"


def test_s23_420a_is_deleted_after_fy2026(paid_client, book):
    found = book.find(CM, "S23.420A", FY2027)
    if found is None or found.status != "deleted":
        pytest.skip("S23.420A is not deleted by the addenda in this book")
    _, doc = open_page(paid_client, CM, "S23.420A", FY2027)
    assert "deleted" in doc.find("span", class_="badge del").text


def test_a_revised_title_shows_by_date_of_service(paid_client, book):
    code = revised_fy2027_code(book)
    old, new = book.get(CM, code, FY2026).title, book.get(CM, code, FY2027).title
    assert old != new
    _, before = open_page(paid_client, CM, code, FY2026)
    _, after = open_page(paid_client, CM, code, FY2027)
    assert words(old) in before.find("h1").text and words(new) not in before.find("h1").text
    assert words(new) in after.find("h1").text
    rows = list(next(h for h in after.iter("h2") if h.text == "History").parent.find("tbody").iter("tr"))
    assert [words(list(tr.iter("td"))[2].text) for tr in rows][-1].startswith(words(new))
    assert "title revised" in rows[-1].text and f"was: {words(old)}" in rows[-1].text


def test_z29_14_title_before_and_after_fy2027(paid_client, book):
    versions = book.history(CM, "Z29.14")
    if len(versions) < 2:
        pytest.skip("Z29.14 is not revised in this book")
    for v in versions:
        _, doc = open_page(paid_client, CM, "Z29.14", v.valid_from)
        assert words(v.title) in doc.find("h1").text


def test_a_code_that_became_a_header(paid_client, book):
    row = book.db.execute("SELECT a.code FROM codes a JOIN codes b ON a.system=b.system AND a.code=b.code "
                          "WHERE a.system='icd10cm' AND a.billable=1 AND b.billable=0 AND b.valid_from='2026-10-01' "
                          "ORDER BY a.code LIMIT 1").fetchone()
    if not row:
        pytest.skip("no code became a header in this book")
    _, doc = open_page(paid_client, CM, row[0], FY2027)
    assert "not billable" in doc.find("span", class_="badge no").text
    history = next(h for h in doc.iter("h2") if h.text == "History").parent
    assert "became a header" in history.text
    assert section(doc, f"Billable codes below {row[0]}").links()


# --- ICD-10-PCS ------------------------------------------------------------------------------------------

def test_pcs_code_shows_its_seven_axes_with_definitions(paid_client, book):
    axes = book.pcs_axes("0RRJ0JZ")
    _, doc = open_page(paid_client, PCS, "0RRJ0JZ")
    table = section(doc, "The seven characters of 0RRJ0JZ")
    rows = list(table.find("tbody").iter("tr"))
    assert len(rows) == 7
    for tr, a in zip(rows, axes):
        cells = [c.text for c in tr.children if not isinstance(c, str)]
        assert cells[:4] == [str(a["pos"]), a["title"], a["value"], words(a["label"])]
        if a["definition"]:
            assert words(a["definition"]) in cells[4]
        for term in a["includes"]:
            assert words(term) in cells[4]
    # and the table row it comes from, its values marked
    marked = [s.text for s in doc.iter("strong") if s.text.endswith("(this code)")]
    assert len(marked) == 4


def test_pcs_table_page_shows_the_grid_and_reaches_every_code(paid_client, book):
    table = book.pcs_table("0RR")
    children = book.children(PCS, "0RR")
    _, doc = open_page(paid_client, PCS, "0RR")
    grids = [t for t in doc.iter("table") if "pcs-row" in t.attrs.get("class", "")]
    assert len(grids) == len(table["rows"])
    for grid, row in zip(grids, table["rows"]):
        heads = [th.text for th in grid.find("thead").iter("th")]
        assert heads == [f"{a['title']} (character {a['pos']})" for a in row]
        cells = list(grid.find("tbody").iter("td"))
        for cell, axis in zip(cells, row):
            assert [li.text for li in cell.iter("li")] == [f"{v} {words(label)}" for v, label in axis["values"]]
    reached = {urlsplit(h).path for h in doc.find("main").links()}
    assert {url(PCS, c.code) for c in children} <= reached


# --- every link to a code page leads to one ---------------------------------------------------------------

def test_every_code_link_on_the_sample_pages_resolves(paid_client, book):
    targets: set[str] = set()
    for system, code, when in SAMPLE + [(CM, deleted_fy2027_code(book), FY2027)]:
        _, doc = open_page(paid_client, system, code, when)
        for href in doc.links():
            if href and href.startswith(("/codes/", "/guidelines/", "/browse/")):
                targets.add(href)
    assert len(targets) > 200
    for href in sorted(targets):
        r = paid_client.get(href)
        if r.status_code in (301, 302):
            r = paid_client.get(r["Location"])
        assert r.status_code == 200, href
