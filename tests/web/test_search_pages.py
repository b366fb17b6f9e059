"""The search pages (/search and /search/suggest), checked against what the engine answers for the
same query on the same codebook, not against literals."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.urls import reverse

from medcode.search import MAX_QUERY_CHARS, search
from medcode.web.search_views import PAGE_LIMIT, SUGGEST_LIMIT, highlight
from pagedom import check_page, dom, parse, words

pytestmark = pytest.mark.django_db


def get(client, **params):
    return client.get(reverse("search") + "?" + urlencode(params))


def listed(response) -> list:
    doc = dom(response)
    ol = next(doc.iter("ol", **{"class": "search-results"}), None)
    return list(ol.iter("li")) if ol is not None else []


def assert_lists(response, doc: dict, date: str = "") -> None:
    """The page lists the engine's results in its order: code link, title, badge, how it matched."""
    items = listed(response)
    assert [li.find("a").text for li in items] == [r["code"] for r in doc["results"]]
    for li, r in zip(items, doc["results"]):
        href = reverse("code", args=[r["system"], r["code"]]) + (f"?date={date}" if date else "")
        assert li.find("a").attrs["href"] == href
        assert li.find("span", **{"class": "result-title"}).text == words(r["title"])
        badge = li.find("span", **{"class": "badge" if r["billable"] else "badge no"})
        assert badge.text == ("billable" if r["billable"] else "header")
        assert f"matched by {words(r['match'])}" in li.text


@pytest.mark.parametrize("q", ["copd flare", "heart attack", "fractured right ankle", "K57.", "0RR"])
def test_results_page_lists_what_the_engine_finds(client, book, q):
    doc = search(book, q, limit=PAGE_LIMIT)
    assert doc["results"], f"the engine finds nothing for {q!r}: the test needs a query that finds codes"
    r = get(client, q=q)
    assert r.status_code == 200
    assert_lists(r, doc)
    assert check_page(r.content.decode()) == []
    assert dom(r).find("input", id="search-q").attrs["value"] == doc["query"]


def test_matched_words_are_highlighted(client, book):
    doc = search(book, "fractured right ankle", limit=PAGE_LIMIT)
    top = doc["results"][0]
    r = get(client, q="fractured right ankle")
    html = r.content.decode()
    title = listed(r)[0].find("span", **{"class": "result-title"})
    marked = [m.text.lower() for m in title.iter("mark")]
    assert marked, f"nothing highlighted in {top['title']!r}"
    assert all(m in top["title"].lower() for m in marked)
    assert {"fracture", "right"} <= set(marked)
    assert "<mark>" in html


def test_highlight_escapes_the_title_and_marks_whole_words():
    out = highlight('Fracture <b>of</b> "ankle" & <script>x</script>', "fracture <script>")
    assert "<b>" not in out and "<script>" not in out
    assert "&lt;b&gt;" in out and "&amp;" in out and "&quot;ankle&quot;" in out
    assert out.startswith("<mark>Fracture</mark>")
    assert highlight("Diabetes mellitus", "diab") == "<mark>Diabetes</mark> mellitus"


def test_a_query_with_markup_is_escaped(client, book):
    q = '<script>alert("x")</script> fracture <img src=x onerror=alert(1)>'
    r = get(client, q=q)
    assert r.status_code == 200
    html = r.content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html
    assert check_page(html) == []
    assert_lists(r, search(book, q, limit=PAGE_LIMIT))


def test_did_you_mean_links_to_the_corrected_query(client, book):
    doc = search(book, "gastritus", limit=PAGE_LIMIT)
    assert doc["corrected_query"]
    r = get(client, q="gastritus")
    p = dom(r).find("p", **{"class": "did-you-mean"})
    link = p.find("a")
    assert link.text == doc["corrected_query"]
    assert link.attrs["href"] == reverse("search") + "?" + urlencode({"q": doc["corrected_query"]})
    assert_lists(r, doc)
    # a query the engine does not correct offers nothing
    assert search(book, "gastritis")["corrected_query"] is None
    assert next(dom(get(client, q="gastritis")).iter("p", **{"class": "did-you-mean"}), None) is None


def test_did_you_mean_keeps_the_filters(client, book):
    r = get(client, q="gastritus", system="icd10cm", billable="true")
    href = dom(r).find("p", **{"class": "did-you-mean"}).find("a").attrs["href"]
    corrected = search(book, "gastritus")["corrected_query"]
    assert href == reverse("search") + "?" + urlencode({"q": corrected, "system": "icd10cm", "billable": "true"})


def test_system_filter(client, book):
    q = "total shoulder replacement right"
    doc = search(book, q, system="icd10pcs", limit=PAGE_LIMIT)
    assert doc["results"] and {x["system"] for x in doc["results"]} == {"icd10pcs"}
    r = get(client, q=q, system="icd10pcs")
    assert_lists(r, doc)
    assert "selected" in dom(r).find("option", value="icd10pcs").attrs


def test_billable_filter(client, book):
    doc = search(book, "K57.", billable=True, limit=PAGE_LIMIT)
    assert doc["results"] and all(x["billable"] for x in doc["results"])
    r = get(client, q="K57.", billable="true")
    assert_lists(r, doc)
    assert "checked" in dom(r).find("input", id="search-billable").attrs
    assert not [li for li in listed(r) if next(li.iter("span", **{"class": "badge no"}), None)]


def test_date_filter_and_links_carry_the_date(client, book):
    doc = search(book, "heart attack", date="2026-04-01", limit=PAGE_LIMIT)
    r = get(client, q="heart attack", date="2026-04-01")
    assert r.status_code == 200
    assert_lists(r, doc, date="2026-04-01")


def test_limit(client, book):
    r = get(client, q="fracture", limit="3")
    assert_lists(r, search(book, "fracture", limit=3))
    assert len(listed(r)) == 3


def test_no_results_says_so(client, book):
    q = "zzqxv qqzzx"
    assert search(book, q, limit=PAGE_LIMIT)["results"] == []
    r = get(client, q=q)
    assert r.status_code == 200
    assert "No codes match" in dom(r).find("p", **{"class": "no-results"}).text


def test_empty_query_shows_the_form(client):
    for params in ({}, {"q": ""}, {"q": "   "}, {"q": "\x00\x00"}):
        r = get(client, **params)
        assert r.status_code == 200
        assert not listed(r)
        assert check_page(r.content.decode()) == []


@pytest.mark.parametrize("params", [
    {"q": "x" * 10_000},
    {"q": "a" * (MAX_QUERY_CHARS + 1)},
    {"q": "fracture", "limit": "0"},
    {"q": "fracture", "limit": "100000"},
    {"q": "fracture", "limit": "ten"},
    {"q": "fracture", "system": "nosuch"},
    {"q": "fracture", "date": "not-a-date"},
    {"q": "fracture", "chapter": "99"},
    {"q": "fracture", "billable": "maybe"},
    {"q": "fracture", "system": "x" * 5000},
])
def test_bad_input_is_a_400_that_says_why(client, params):
    r = get(client, **params)
    assert r.status_code == 400
    err = dom(r).find("p", id="search-error")
    assert err.attrs.get("role") == "alert" and len(err.text) > 10
    assert check_page(r.content.decode()) == []


@pytest.mark.parametrize("q", ["fracture\x00ankle", "\x00", "a AND b OR NEAR(c d)", '"unclosed', "diab*", "(", ":",
                               "col:umn", "'; DROP TABLE codes; --", "💔 heart attack 🫀", "Ünïcödé ärm",
"x" * MAX_QUERY_CHARS, "NOT", "^K57"])
def test_odd_queries_answer_never_a_500(client, q):
    r = get(client, q=q)
    assert r.status_code == 200, r.content[:500]
    assert check_page(r.content.decode()) == []
    assert "\x00" not in r.content.decode()


@pytest.mark.parametrize("raw", ["q=%ED%A0%80", "q=%FF%FE%00", "q=%E2%82", "q=a&q=b", "q[]=x", "q=%25%00%25"])
def test_broken_encodings_answer_never_a_500(client, raw):
    r = client.get(reverse("search") + "?" + raw)
    assert r.status_code == 200, r.content[:500]
    assert check_page(r.content.decode()) == []


# --- the header box and its suggestions -------------------------------------------------------------

@pytest.mark.parametrize("url", ["/", "/search", "/search?q=copd", "/browse/icd10cm/", "/codes/icd10cm/E11.9",
                                 "/guidelines/", "/no/such/page"])
def test_every_page_has_the_search_box(client, url):
    r = client.get(url)
    header = dom(r).find("header")
    form = header.find("form", role="search")
    assert form.attrs["action"] == reverse("search") and form.attrs["method"] == "get"
    box = form.find("input", name="q")
    assert any(lb.attrs.get("for") == box.attrs["id"] for lb in form.iter("label"))
    assert box.attrs["data-suggest"] == reverse("search_suggest")
    assert any(s.attrs.get("src", "").endswith("web/autocomplete.js") for s in dom(r).iter("script"))


def test_the_script_and_style_are_served(client):
    for name in ("autocomplete.js", "search.css"):
        r = client.get(f"/static/web/{name}")
        assert r.status_code == 200
        body = b"".join(r.streaming_content) if r.streaming else r.content
        assert len(body) > 200


@pytest.mark.parametrize("q", ["copd flare", "fractured right ankle", "gastritus", "K57."])
def test_suggest_lists_the_top_results_as_options(client, book, q):
    doc = search(book, q, limit=SUGGEST_LIMIT)
    r = client.get(reverse("search_suggest") + "?" + urlencode({"q": q}))
    assert r.status_code == 200
    options = list(parse(f"<ul>{r.content.decode()}</ul>").root.iter("li"))
    assert [o.find("span", **{"class": "code"}).text for o in options] == [x["code"] for x in doc["results"]]
    for o, x in zip(options, doc["results"]):
        assert o.attrs["role"] == "option"
        assert o.attrs["data-href"] == reverse("code", args=[x["system"], x["code"]])
        assert o.find("span", **{"class": "ac-title"}).text == words(x["title"])
        assert o.find("span", **{"class": "ac-match"}).text == words(x["match"])
    assert len({o.attrs["id"] for o in options}) == len(options)


@pytest.mark.parametrize("q,status", [("", 200), ("c", 200), ("x" * 10_000, 400), ("\x00\x00", 200),
                                      ("<script>", 200), ("NEAR(", 200), ("💔", 200)])
def test_suggest_odd_input(client, q, status):
    r = client.get(reverse("search_suggest") + "?" + urlencode({"q": q}))
    assert r.status_code == status
    assert "<script>" not in r.content.decode()
