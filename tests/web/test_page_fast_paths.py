"""What makes a code page cheap, checked for behaviour (never for time): a guest's cached page costs no
database query and loads no session, the per-process copy of the page cache serves what the shared
cache holds and is off when caching is off, the page shell rendered once gives the same page as
rendering it in full, and the book's per-build memo answers repeated questions once, within a build
only."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.cache import cache as django_cache
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe

from medcode.codebook.book import NOTE_ORDER
from medcode.codebook.record import code_record
from medcode.web import cache as page_cache
from medcode.web import pages, views
from pagedom import dom

pytestmark = pytest.mark.django_db

CM = "icd10cm"


@pytest.fixture
def record_calls(monkeypatch):
    calls = []
    real = pages.code_record

    def spy(*args, **kwargs):
        calls.append(args[1:3])
        return real(*args, **kwargs)

    monkeypatch.setattr(pages, "code_record", spy)
    return calls


def url(code, system=CM):
    return reverse("code", args=[system, code])


def test_an_unlimited_guests_cached_page_costs_no_query(client, settings, django_assert_num_queries):
    settings.MEDCODE_QUOTAS = {**settings.MEDCODE_QUOTAS, "guest": None}
    assert client.get(url("E11.9")).status_code == 200  # builds and caches the parts
    with django_assert_num_queries(0):
        r = client.get(url("E11.9"))
    assert r.status_code == 200
    assert settings.SESSION_COOKIE_NAME not in r.cookies
    assert "Cookie" in r["Vary"] and r["Cache-Control"] == "private"  # per visitor, as before
    nav = dom(r).find("nav", **{"aria-label": "Account"})
    assert reverse("login") in nav.links() and reverse("register") in nav.links()


def test_a_signed_in_readers_nav_is_their_own(client, make_user):
    user = make_user("paid")
    client.force_login(user)
    r = client.get(url("E11.9"))
    nav = dom(r).find("nav", **{"aria-label": "Account"})
    assert reverse("account") in nav.links() and reverse("login") not in nav.links()
    assert nav.find("input", name="csrfmiddlewaretoken").attrs["value"]
    assert "Cookie" in r["Vary"]
    client.logout()
    nav = dom(client.get(url("E11.9"))).find("nav", **{"aria-label": "Account"})
    assert reverse("login") in nav.links()


def test_the_process_copy_serves_what_the_shared_cache_held(paid_client, record_calls):
    assert paid_client.get(url("E11.9")).status_code == 200
    assert len(record_calls) == 1
    django_cache.clear()  # the shared cache loses it; this process still has the parts
    r = paid_client.get(url("E11.9"))
    assert r.status_code == 200 and "Instructional notes" in r.content.decode()
    assert len(record_calls) == 1


def test_no_copy_at_all_when_caching_is_off(paid_client, settings, record_calls):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    for _ in range(2):
        assert paid_client.get(url("E11.9")).status_code == 200
    assert len(record_calls) == 2
    assert page_cache.local_get("anything") is None


def test_the_copy_is_bounded(settings):
    for n in range(page_cache.L1_ENTRIES + 10):
        page_cache.set(f"medcode:test:{n}", b"x")
    held = [n for n in range(page_cache.L1_ENTRIES + 10) if page_cache.local_get(f"medcode:test:{n}") is not None]
    assert len(held) == page_cache.L1_ENTRIES and held[-1] == page_cache.L1_ENTRIES + 9  # oldest out first


@pytest.mark.parametrize("system, code", [(CM, "E11.9"), (CM, "4"), ("icd10pcs", "0RRJ0JZ"), ("hcpcs", "G0008")])
def test_the_shell_gives_the_page_a_full_render_gives(book, system, code):
    p = pages.build_code_parts(book, system, code, date.today(), None)
    nav, banner, middle = (mark_safe(h) for h in views._HOLES)
    whole = render_to_string("web/code.html", {
        "page_title": f"{p.public['rec']['code']} {p.title}", "account_nav": nav, "banner": banner, "middle": middle,
        **{n: mark_safe(render_to_string(f"web/_code_{n}.html", p.public)) for n in ("head", "body", "tail")}})
    frame = views._code_frame(p)
    assert b"".join(part + (views._HOLES[i].encode() if i < 3 else b"") for i, part in enumerate(frame)) == \
        whole.encode()


def test_a_title_is_escaped_in_the_shell(book):
    p = pages.build_code_parts(book, CM, "E11.9", date.today(), None)
    p.title = 'a <b> & "c"'
    frame = b"".join(views._code_frame(p)).decode()
    assert "<title>E11.9 a &lt;b&gt; &amp; &quot;c&quot; · medcode</title>" in frame


def test_the_book_memo_lives_for_one_build(book):
    when = date.today()
    assert book.find(CM, "E11.9", when) is not book.find(CM, "E11.9", when)  # no memo outside a build
    with book.memo():
        first = book.find(CM, "E11.9", when)
        assert book.find(CM, "E11.9", when) is first
        notes = book.notes(CM, "E11.9", when)
        notes.clear()  # a caller changing its list changes nobody else's
        assert book.notes(CM, "E11.9", when)
        with book.memo():  # nested: the same memo
            assert book.find(CM, "E11.9", when) is first
        assert book.find(CM, "E11.9", when) is first
    assert book.find(CM, "E11.9", when) is not first


def test_records_are_the_same_with_and_without_the_memo(book):
    from medcode.codebook import record

    when = date.today()
    for code in ("E11.9", "S52.501A", "I13.0", "E11"):
        assert code_record(book, CM, code, when) == record._code_record(book, CM, code, when, True)


def test_notes_of_every_level_in_one_query_are_the_notes_level_by_level(book):
    when = date.today()
    for code in ("E11.9", "S52.501A", "O24.419"):
        levels = [book.get(CM, code, when)] + book.ancestors(CM, code, when)
        expect = []
        for level in levels:
            for kind, text in book.db.execute("SELECT kind, text FROM notes WHERE system=? AND code=? "
                                              "ORDER BY kind, seq", (CM, level.code)):
                expect.append((kind, text, level.code, level.code != code))
        rank = {k: i for i, k in enumerate(NOTE_ORDER)}
        expect.sort(key=lambda n: rank.get(n[0], 99))
        assert [(n.kind, n.text, n.origin, n.inherited) for n in book.notes(CM, code, when)] == expect
