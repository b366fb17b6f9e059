"""The paywall on the code page: the code, official and plain-language descriptions always; the
gated sections (notes, guidelines, index entries, crosswalks, history) only while the meter
allows; the banner with the views left; the register / upgrade prompt when it does not.
Quotas are read from settings (MEDCODE_QUOTAS), never assumed."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.conf import settings
from django.urls import reverse

from medcode.accounts import metering
from medcode.codebook.record import code_record
from pagedom import check_page, dom, words

pytestmark = pytest.mark.django_db

CM = "icd10cm"
CODES = ["E11.9", "I10", "K21.9", "M54.50", "N39.0", "J45.909", "F02.80", "Z79.4", "I13.0"]
GATED_HEADINGS = {"Instructional notes", "Official guidelines", "Index entries", "ICD-9-CM crosswalk (GEMs)",
                  "History"}
BANNER = re.compile(r"(\d+) code page views? remaining")


def url(code: str, system: str = CM) -> str:
    return reverse("code", args=[system, code])


def view(client, code: str, **extra):
    r = client.get(url(code), **extra)
    assert r.status_code == 200, (code, r.status_code)
    return r


def is_full(r) -> bool:
    doc = dom(r)
    shown = {h.text for h in doc.iter("h2")} & GATED_HEADINGS
    locked = [s for s in doc.iter("section") if s.attrs.get("class") == "locked"]
    assert bool(shown) != bool(locked), "a page is either full or locked, never both or neither"
    return bool(shown)


def banner(r) -> int | None:
    found = BANNER.findall(dom(r).find("main").text)
    assert len(found) <= 1
    return int(found[0]) if found else None


def assert_always_visible(r, book, code):
    rec = code_record(book, CM, code, date.today(), full=False)
    doc = dom(r)
    assert words(rec["title"]) in doc.find("h1").text
    first = rec["plain_language"].split("\n\n")[0]
    assert words(first) in doc.find("div", class_="plain-language").text


def test_a_guest_reads_the_guest_quota_in_full_then_meets_the_register_prompt(client, book):
    quota = settings.MEDCODE_QUOTAS["guest"]
    for n, code in enumerate(CODES[:quota], start=1):
        r = view(client, code)
        assert is_full(r) and banner(r) == quota - n
        assert_always_visible(r, book, code)
    r = view(client, CODES[quota])
    assert not is_full(r)
    assert banner(r) == 0
    assert_always_visible(r, book, CODES[quota])
    prompt = dom(r).find("section", class_="locked")
    assert reverse("register") in prompt.links()
    assert any(h.startswith(reverse("login")) for h in prompt.links())
    assert check_page(r.content.decode()) == []
    # gated content is absent from the markup, not just hidden
    main = dom(r).find("main")
    assert not [c for c in main.iter("caption") if "Versions of" in c.text or "GEM" in c.text]
    assert not [s for s in main.iter("span", class_="muted") if s.text.startswith("(from ")]
    assert not [a for a in main.links() if a.startswith(reverse("guidelines"))]
    # a code already unlocked stays readable, for free
    again = view(client, CODES[0])
    assert is_full(again) and banner(again) == 0
    assert "reading it again is free" in dom(again).find("p", class_="meter").text


def test_a_full_page_has_no_register_prompt_in_its_content(client):
    r = view(client, CODES[0])
    assert is_full(r)
    assert not [h for h in dom(r).find("main").links() if h.startswith(reverse("register"))]


def test_a_free_account_reads_its_quota_then_meets_the_upgrade_prompt(client, make_user):
    client.force_login(make_user("free"))
    quota = settings.MEDCODE_QUOTAS["free"]
    for n, code in enumerate(CODES[:quota], start=1):
        r = view(client, code)
        assert is_full(r) and banner(r) == quota - n
    r = view(client, CODES[quota])
    assert not is_full(r) and banner(r) == 0
    prompt = dom(r).find("section", class_="locked")
    assert reverse("register") not in prompt.links()
    assert reverse("account") in prompt.links()
    assert "Paid plans are unlimited" in prompt.text


def test_a_paid_account_reads_everything_with_no_banner(paid_client):
    for code in CODES:
        r = view(paid_client, code)
        assert is_full(r) and banner(r) is None
        assert not list(dom(r).iter("p", class_="meter"))


def test_an_unverified_account_is_metered_as_a_guest(client, make_user):
    client.force_login(make_user("free", verified=False))
    quota = settings.MEDCODE_QUOTAS["guest"]
    for code in CODES[:quota]:
        assert is_full(view(client, code))
    r = view(client, CODES[quota])
    assert not is_full(r)
    assert "not verified" in dom(r).find("section", class_="locked").text


@pytest.mark.parametrize("path, query", [
    ("/codes/icd10cm/K21.99", {}),             # unknown code: 404
    ("/codes/icd10cm/e119", {}),               # another spelling: a redirect
    ("/codes/icd11/E11.9", {}),                # unknown system
    ("/codes/icd10cm/E11.9", {"date": "2026-02-30"}),  # bad date
    ("/browse/icd10cm/4", {}),                 # browsing
    ("/guidelines/I.C.4", {}),                 # the guidelines
])
def test_only_an_existing_code_page_is_charged(client, path, query):
    client.get(path, query)
    r = view(client, CODES[0])  # the guest's one view is still there
    assert is_full(r)


def test_the_guest_cookie_is_set_and_a_tampered_one_is_replaced(client):
    r = view(client, CODES[0])
    cookie = r.cookies.get(metering.GUEST_COOKIE)
    assert cookie is not None and cookie.value and cookie["httponly"]
    for bad in ["garbage", cookie.value[:-3] + "abc", "x" * 4000, "\u00e9\u00e9"]:
        client.cookies[metering.GUEST_COOKIE] = bad
        r = client.get(url(CODES[1]))
        assert r.status_code == 200
        assert r.cookies[metering.GUEST_COOKIE].value != bad
        assert banner(r) == 0  # the address still counts: a fresh cookie is no fresh quota


def test_the_banner_and_prompt_never_show_for_codes_that_do_not_exist(client):
    r = client.get(url("K21.99"))
    assert r.status_code == 404
    assert banner(r) is None and not list(dom(r).iter("section", class_="locked"))
