"""/case2code as a page: the form, the suggestions, the evidence marked in the escaped note, the final list,
bad input as a page that says why (never a 500), and the quota."""

from __future__ import annotations

import html
import re
import sys
import uuid
from pathlib import Path

import pytest
from c2c_helpers import DATE

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))
from pagedom import check_page, dom  # noqa: E402

from medcode.case2code import MAX_CHARS, code_note  # noqa: E402

URL = "/case2code"
NOTE = ("ED: 54-year-old with type 2 diabetes and a foot ulcer of the left heel. Denies fever or chest pain. "
        "<b>bold</b> & \"quoted\"")


@pytest.fixture(autouse=True)
def isolation(settings, db):
    settings.MEDCODE_METER_BACKEND = "db"
    settings.MEDCODE_FEATURE_QUOTA_BACKEND = "db"
    settings.MEDCODE_FEATURE_QUOTAS = {**settings.MEDCODE_FEATURE_QUOTAS,
                                       "case2code": {"guest": 50, "free": 20, "paid": None}}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"c2c-page-{uuid.uuid4().hex}"}}


def post(client, text=NOTE, setting="ed", date=DATE, addr="203.0.113.60"):
    return client.post(URL, {"text": text, "setting": setting, "date": date}, REMOTE_ADDR=addr)


def test_the_empty_form(client):
    r = client.get(URL, REMOTE_ADDR="203.0.113.61")
    assert r.status_code == 200
    assert not check_page(r.content.decode())
    doc = dom(r)
    form = doc.find("form", method="post")
    assert form.find("textarea", name="text") and form.find("select", name="setting")
    assert form.find("input", name="date", type="date")
    nav = doc.find("nav", **{"aria-label": "Site"})
    assert URL in nav.links()


def test_suggestions_with_their_evidence_marked(client, book):
    r = post(client)
    assert r.status_code == 200, r.content[:500]
    page = r.content.decode()
    assert not check_page(page)
    result = code_note(book, NOTE, "ed", DATE)
    doc = dom(r)
    items = list(doc.find("ol", id="c2c-suggestions").iter("li"))
    assert [li.attrs["data-code"] for li in items] == [s.code for s in result.codes]
    assert "first-listed" in items[0].text
    for li, s in zip(items, result.codes):
        box = li.find("input", type="checkbox")
        assert box.attrs["value"] == s.code and "checked" in box.attrs
        assert s.title in li.text and s.rationale[:40] in html.unescape(li.text)
    # every evidence span is marked in the note, and the note is the input, escaped
    note = doc.find("div", id="c2c-note-text")
    marked = [m for m in note.iter("mark")]
    assert marked
    for s in result.codes:
        for e in s.evidence:
            assert any(s.code in m.attrs.get("data-codes", "").split() and e.text.split()[0] in m.text
                       for m in marked), (s.code, e)
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;" in page and "<b>bold</b>" not in page
    text_only = re.sub(r"<sup[^>]*>.*?</sup>|<span class=\"sr-only\">.*?</span>|<[^>]+>", "",
                       page.split('id="c2c-note-text">')[1].split("</div>")[0])
    assert html.unescape(text_only) == NOTE
    final = re.search(r'<textarea id="final-list"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    assert [line.split()[0] for line in html.unescape(final).strip().splitlines()] == [s.code for s in result.codes]
    assert doc.find("button", id="copy-list")


def test_nothing_codable(client):
    r = post(client, text="Patient seen today. Vitals stable.")
    assert r.status_code == 200
    assert "No codes suggested" in r.content.decode() and "no codable condition" in r.content.decode()


@pytest.mark.parametrize("text,status,says", [
    ("", 422, "empty"), ("   ", 422, "empty"), ("x " * (MAX_CHARS // 2 + 10), 413, f"{MAX_CHARS:,}"),
    ("diabetes\x00\x01", 400, "binary"),
])
def test_bad_input_is_a_page_that_says_why(client, text, status, says):
    r = post(client, text=text)
    assert r.status_code == status
    page = r.content.decode()
    assert says in page and 'role="alert"' in page
    assert not check_page(page)


def test_bad_setting_and_date(client):
    r = post(client, setting="clinic")
    assert r.status_code == 400 and "setting must be one of" in r.content.decode().lower()
    r = post(client, date="2026-02-30")
    assert r.status_code == 400


def test_csrf_is_enforced():
    from django.test import Client

    r = Client(enforce_csrf_checks=True).post(URL, {"text": "diabetes"}, REMOTE_ADDR="203.0.113.62")
    assert r.status_code == 403


def test_quota(client, settings):
    settings.MEDCODE_FEATURE_QUOTAS = {**settings.MEDCODE_FEATURE_QUOTAS,
                                       "case2code": {"guest": 1, "free": 20, "paid": None}}
    assert post(client, addr="198.51.100.7").status_code == 200
    r = post(client, addr="198.51.100.7")
    assert r.status_code == 429 and int(r["Retry-After"]) > 0
    assert "case-to-code runs" in r.content.decode() and not check_page(r.content.decode())
    assert post(client, text="", addr="198.51.100.7").status_code == 422  # bad input is still said as such
