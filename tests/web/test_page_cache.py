"""Rendered code pages are cached so repeat views are cheap, and one visitor's gated content never
reaches another: the cache holds visitor-independent parts (public, gated) keyed by book, system,
code and date; the banner, the prompt, the account links and the CSRF token are per request."""

from __future__ import annotations

import re
import shutil
import uuid
from datetime import date

import pytest
from django.conf import settings
from django.core.cache import cache as django_cache
from django.urls import reverse

from medcode.codebook import open_book
from medcode.web import cache as page_cache
from medcode.web import pages
from pagedom import dom

pytestmark = pytest.mark.django_db

CM = "icd10cm"
GATED = {"Instructional notes", "Official guidelines", "Index entries", "History"}


@pytest.fixture
def record_calls(monkeypatch):
    """How many times a code page asked the core for a record."""
    calls = []
    real = pages.code_record

    def spy(*args, **kwargs):
        calls.append(args[1:3])
        return real(*args, **kwargs)

    monkeypatch.setattr(pages, "code_record", spy)
    return calls


def url(code, when=None):
    return reverse("code", args=[CM, code]) + (f"?date={when}" if when else "")


def full(r) -> bool:
    return bool({h.text for h in dom(r).iter("h2")} & GATED)


def spend_guest_quota(client):
    for code in ["K21.9", "M54.50", "N39.0", "J45.909", "F02.80"][:settings.MEDCODE_QUOTAS["guest"]]:
        assert client.get(url(code)).status_code == 200


def test_repeat_views_are_served_from_the_cache(paid_client, record_calls):
    assert full(paid_client.get(url("E11.9")))
    assert len(record_calls) == 1
    for _ in range(3):
        r = paid_client.get(url("E11.9"))
        assert r.status_code == 200 and full(r)
    assert len(record_calls) == 1, "repeat views rebuilt the record"
    # another code, and the same code on a chosen date, are parts of their own
    paid_client.get(url("E11.22"))
    paid_client.get(url("E11.9", "2026-05-01"))
    assert len(record_calls) == 3


def test_the_cached_parts_are_keyed_by_book_system_code_and_date(paid_client, book):
    paid_client.get(url("E11.9"))
    paid_client.get(url("E11.9", "2026-05-01"))
    today = date.today()
    for part in ("frame", "gated"):
        assert django_cache.get(page_cache.key(book, part, CM, "E11.9", page_cache.date_key(today, False)))
        assert django_cache.get(page_cache.key(book, part, CM, "E11.9",
                                               page_cache.date_key(date(2026, 5, 1), True)))
    frame = b"".join(django_cache.get(page_cache.key(book, "frame", CM, "E11.9",
                                                     page_cache.date_key(today, False)))).decode()
    assert "Instructional notes" not in frame
    assert "csrfmiddlewaretoken" not in frame and "Log in" not in frame


def test_a_rebuilt_codebook_has_new_keys(book, tmp_path):
    copy = tmp_path / "codebook.sqlite"
    shutil.copyfile(book.path, copy)
    rebuilt = open_book(copy)
    assert page_cache.book_tag(rebuilt) != page_cache.book_tag(book)
    assert page_cache.key(rebuilt, "public", CM, "E11.9", "t2026-01-01") != \
        page_cache.key(book, "public", CM, "E11.9", "t2026-01-01")


def test_a_paid_readers_cached_page_never_reaches_a_guest_whose_quota_is_spent(client, make_user, record_calls):
    from django.test import Client

    paid = Client()
    paid.force_login(make_user("paid"))
    assert full(paid.get(url("E11.9")))  # both parts cached now
    spend_guest_quota(client)
    calls = len(record_calls)
    r = client.get(url("E11.9"))
    assert r.status_code == 200 and not full(r)
    assert len(record_calls) == calls, "the guest's page did not come from the cache"
    body = r.content.decode()
    assert "Log in" in body and "Log out" not in body  # the header is the guest's, not the paid reader's
    assert re.search(r"0 code page views remaining", body)


def test_a_guests_cached_page_never_hides_content_from_a_paid_reader(client, make_user):
    from django.test import Client

    spend_guest_quota(client)
    r = client.get(url("I13.0"))  # only the public part is cached
    assert not full(r)
    paid = Client()
    paid.force_login(make_user("paid"))
    r = paid.get(url("I13.0"))
    assert full(r) and not list(dom(r).iter("section", class_="locked"))
    assert not list(dom(r).iter("p", class_="meter"))  # no guest banner either


def test_the_banner_is_per_visitor_on_a_cached_page(client, make_user):
    from django.test import Client

    free = Client()
    free.force_login(make_user("free"))
    a = free.get(url("E11.9"))
    b = client.get(url("E11.9"))
    n_free = settings.MEDCODE_QUOTAS["free"] - 1
    n_guest = settings.MEDCODE_QUOTAS["guest"] - 1
    assert f"{n_free} code page view" in a.content.decode()
    assert f"{n_guest} code page view" in b.content.decode()


def test_shared_http_caches_are_told_the_page_is_per_visitor(client):
    r = client.get(url("E11.9"))
    assert r["Cache-Control"] == "private"
    assert "Cookie" in r.get("Vary", "")


def test_the_csrf_token_is_never_cached(make_user):
    from django.test import Client

    tokens = []
    for _ in range(2):
        c = Client()
        c.force_login(make_user("paid"))
        html = c.get(url("E11.9")).content.decode()
        tokens += re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert len(tokens) == 2 and tokens[0] != tokens[1]


def test_a_cache_that_is_down_costs_a_render_not_the_page(paid_client, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0",
                                   "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}}}
    pytest.importorskip("redis")
    r = paid_client.get(url("E11.9"))
    assert r.status_code == 200 and full(r)


def test_isolation_holds_on_redis(client, make_user, settings):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    prefix = f"medcode-web-test-{uuid.uuid4().hex}"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:6379/0", "KEY_PREFIX": prefix}}
    try:
        from django.test import Client

        paid = Client()
        paid.force_login(make_user("paid"))
        assert full(paid.get(url("E11.9")))
        spend_guest_quota(client)
        assert not full(client.get(url("E11.9")))
        assert full(paid.get(url("E11.9")))
    finally:
        r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
        keys = list(r.scan_iter(f"{prefix}:*"))
        if keys:
            r.delete(*keys)


def test_links_in_a_dated_page_keep_the_date(paid_client):
    doc = dom(paid_client.get(url("E11.9", "2026-05-01")))
    back = [a.attrs["href"] for a in doc.iter("a") if a.text == "Back to today"]
    assert back == [url("E11.9")]
    code_links = [a.attrs["href"] for a in doc.find("main").iter("a")
                  if a.attrs["href"].startswith("/codes/") and a.text != "Back to today"]
    assert len(code_links) > 20 and all(h.endswith("?date=2026-05-01") for h in code_links)
    doc = dom(paid_client.get(url("E11.9")))
    assert not [h for h in doc.find("main").links() if "date=" in h]
