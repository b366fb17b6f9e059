"""Accounts end to end: register, verify, log in/out, throttling, reset, change email and password,
delete, CSRF, bad links and oversized input.

Mail goes through Django's real SMTP backend to an aiosmtpd sink on loopback, so every link a
test follows was read out of a message that crossed an SMTP connection.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.core import mail
from django.core.signals import request_finished
from django.db import close_old_connections
from django.test import Client, RequestFactory
from django.urls import resolve, reverse

from mailsink import running_sink, send_mail_to
from medcode.accounts import throttle, tokens
from medcode.accounts.models import ApiKey, MeterView, User

pytestmark = pytest.mark.django_db

PASSWORD = "plum-Harbour-47-lantern"
NEW_PASSWORD = "quiet-Meadow-93-compass"


# --- the SMTP sink --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def smtp_sink():
    with running_sink() as sink:
        yield sink


class FastArgon2(Argon2PasswordHasher):
    """argon2 with tiny costs: the throttle tests check dozens of passwords on a shared machine."""

    time_cost, memory_cost, parallelism = 1, 256, 1


def test_site_hashes_with_argon2():
    from medcode.site import settings as site_settings

    assert site_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


@pytest.fixture(autouse=True)
def fast_argon2(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.FastArgon2"]


@pytest.fixture(autouse=True)
def smtp(smtp_sink, settings):
    """Django's SMTP backend pointed at the sink, emptied for every test."""
    yield send_mail_to(smtp_sink, settings)


@pytest.fixture(autouse=True)
def own_cache(settings):
    """A cache of this test's own for the throttle counters (never clear() a cache: on Redis that is
    FLUSHDB, and Redis here is shared)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"accounts-test-{uuid.uuid4().hex}"}}


@pytest.fixture
def redis_cache(settings):
    """The same counters in Redis, under a key prefix of this test's own, removed afterwards."""
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/0"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    prefix = f"medcode-accounts-test-{uuid.uuid4().hex}"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url,
                                   "KEY_PREFIX": prefix}}
    yield lambda pattern: list(client.scan_iter(f"{prefix}:*{pattern}"))
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def link_in(message, contains: str = "/account/") -> str:
    """The path of the first link in a message's body that contains `contains`."""
    body = message.get_content()
    for url in re.findall(r"https?://\S+", body):
        if contains in url:
            return urlsplit(url).path
    raise AssertionError(f"no link with {contains!r} in:\n{body}")


def without_csrf(html: str) -> str:
    """A page with its CSRF tokens (random per render) blanked, to compare two pages."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', 'name="csrfmiddlewaretoken" value=""', html)


def make_user(address="coder@example.com", password=PASSWORD, verified=True, **extra) -> User:
    return User.objects.create_user(address, password, email_verified=verified, **extra)


def login(client, address, password=PASSWORD, addr="10.0.0.1"):
    return client.post(reverse("login"), {"username": address, "password": password}, REMOTE_ADDR=addr)


# --- register and verify ----------------------------------------------------------------------

def test_register_then_verify_through_real_smtp(client, smtp):
    r = client.post(reverse("register"), {"email": " New.Coder@Example.com ", "password1": PASSWORD,
                                          "password2": PASSWORD})
    assert r.status_code == 302 and r["Location"] == reverse("register_done")
    assert "Check your email" in client.get(r["Location"]).content.decode()

    user = User.objects.get()
    assert user.email == "new.coder@example.com" and not user.email_verified
    assert user.password.startswith("argon2$")
    assert mail.outbox == []  # it went over SMTP, not to Django's test outbox
    msg = smtp.one("new.coder@example.com")
    assert "Confirm your email" in msg["Subject"]
    path = link_in(msg, "/account/verify/")

    r = client.get(path)
    assert r.status_code == 200 and "verified" in r.content.decode()
    user.refresh_from_db()
    assert user.email_verified
    assert client.get(path).status_code == 200  # following it twice is harmless

    # once logged in, the account page shows it
    assert login(client, "new.coder@example.com").status_code == 302
    page = client.get(reverse("account")).content.decode()
    assert "new.coder@example.com" in page and "verified" in page and "Free" in page


def test_register_existing_email_same_response_and_owner_notified(client, smtp):
    owner = make_user("taken@example.com")
    fresh = client.post(reverse("register"), {"email": "fresh@example.com", "password1": PASSWORD,
                                              "password2": PASSWORD})
    again = Client().post(reverse("register"), {"email": "TAKEN@example.com", "password1": NEW_PASSWORD,
                                                "password2": NEW_PASSWORD})
    assert (fresh.status_code, fresh["Location"], fresh.content) == (again.status_code, again["Location"],
                                                                     again.content)
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)  # the second registration changed nothing
    notice = smtp.one("taken@example.com")
    assert "tried to register" in notice["Subject"]
    assert "/account/verify/" not in notice.get_content()  # already verified: login and reset links only
    assert "/account/password/reset/" in notice.get_content()


def test_register_existing_unverified_owner_gets_a_verification_link(client, smtp):
    make_user("pending@example.com", verified=False)
    client.post(reverse("register"), {"email": "pending@example.com", "password1": PASSWORD, "password2": PASSWORD})
    path = link_in(smtp.one("pending@example.com"), "/account/verify/")
    assert client.get(path).status_code == 200
    assert User.objects.get(email="pending@example.com").email_verified


def test_register_form_errors(client):
    url = reverse("register")
    r = client.post(url, {"email": "a@example.com", "password1": PASSWORD, "password2": PASSWORD + "x"})
    assert r.status_code == 400 and "The two passwords differ." in r.content.decode()
    r = client.post(url, {"email": "a@example.com", "password1": "password", "password2": "password"})
    assert r.status_code == 400 and "too common" in r.content.decode()
    r = client.post(url, {"email": "not-an-address", "password1": PASSWORD, "password2": PASSWORD})
    assert r.status_code == 400 and "valid email address" in r.content.decode()
    r = client.post(url, {})
    assert r.status_code == 400 and "This field is required." in r.content.decode()
    assert not User.objects.exists()


def test_resend_verification_logged_out_says_the_same_for_any_address(client, smtp):
    make_user("unverified@example.com", verified=False)
    make_user("verified@example.com")
    answers = [client.post(reverse("resend_verification"), {"email": a})
               for a in ("unverified@example.com", "verified@example.com", "nobody@example.com")]
    assert len({(r.status_code, r["Location"], r.content) for r in answers}) == 1
    assert [m["Subject"] for _, m in smtp.messages] == ["Confirm your email address for medcode"]
    assert smtp.to("unverified@example.com")


def test_resend_verification_from_account_page(client, smtp):
    make_user("me@example.com", verified=False)
    login(client, "me@example.com")
    assert "Send a new verification link" in client.get(reverse("account")).content.decode()
    r = client.post(reverse("resend_verification"))
    assert r.status_code == 302
    assert "We sent a new verification link" in client.get(reverse("account")).content.decode()
    client.get(link_in(smtp.one("me@example.com"), "/account/verify/"))
    assert User.objects.get().email_verified


def test_tampered_expired_and_stale_verification_links_refused(client, monkeypatch):
    user = make_user("link@example.com", verified=False)
    token = tokens.verify_token(user)

    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    r = client.get(reverse("verify_email", args=[tampered]))
    assert r.status_code == 400 and "This link is not valid" in r.content.decode()
    r = client.get(reverse("verify_email", args=["x" * 5000]))
    assert r.status_code == 400 and "not valid" in r.content.decode()
    assert client.get("/account/verify/%00%ff/").status_code in (400, 404)

    real_time = time.time
    with monkeypatch.context() as m:  # a link issued four days ago
        m.setattr(time, "time", lambda: real_time() - 4 * 86400)
        old = tokens.verify_token(user)
    r = client.get(reverse("verify_email", args=[old]))
    assert r.status_code == 400 and "This link has expired" in r.content.decode()

    user.email = "moved@example.com"
    user.save()
    r = client.get(reverse("verify_email", args=[token]))
    assert r.status_code == 400 and "no longer uses" in r.content.decode()
    user.refresh_from_db()
    assert not user.email_verified


# --- log in and out ---------------------------------------------------------------------------

def test_login_logout(client):
    make_user("coder@example.com")
    assert client.get(reverse("login")).status_code == 200

    r = login(client, "coder@example.com", "wrong-password-1")
    assert r.status_code == 400 and "do not match an account" in r.content.decode()
    assert client.get(reverse("account")).status_code == 302  # still anonymous

    r = login(client, "  CODER@example.com ", PASSWORD)
    assert r.status_code == 302 and r["Location"] == reverse("account")
    page = client.get(reverse("account"))
    assert page.status_code == 200 and "coder@example.com" in page.content.decode()
    assert 'action="/account/logout/"' in page.content.decode()  # the header's log-out button

    assert client.get(reverse("logout")).status_code == 405
    assert client.get(reverse("account")).status_code == 200  # a GET did not log out
    r = client.post(reverse("logout"))
    assert r.status_code == 302 and r["Location"] == reverse("home")
    r = client.get(reverse("account"))
    assert r.status_code == 302 and r["Location"].startswith(reverse("login") + "?next=")


def test_login_next_only_to_this_site(client):
    make_user("coder@example.com")
    r = client.post(reverse("login") + "?next=/codes/icd10cm/E11.9",
                    {"username": "coder@example.com", "password": PASSWORD, "next": "/codes/icd10cm/E11.9"})
    assert r["Location"] == "/codes/icd10cm/E11.9"
    client.post(reverse("logout"))
    r = client.post(reverse("login"), {"username": "coder@example.com", "password": PASSWORD,
                                       "next": "https://evil.example/"})
    assert r["Location"] == reverse("account")


def test_inactive_account_cannot_log_in(client):
    make_user("gone@example.com", is_active=False)
    r = login(client, "gone@example.com")
    assert r.status_code == 400 and "do not match an account" in r.content.decode()


def test_header_shows_login_or_account(client):
    page = client.get(reverse("register")).content.decode()
    assert 'href="/account/login/"' in page and 'href="/account/register/"' in page
    make_user("coder@example.com")
    login(client, "coder@example.com")
    page = client.get(reverse("change_password")).content.decode()
    assert 'href="/account/"' in page and 'action="/account/logout/"' in page


# --- throttling -------------------------------------------------------------------------------

def test_throttle_per_account(client, settings):
    make_user("coder@example.com")
    for i in range(settings.MEDCODE_LOGIN_MAX_FAILURES):  # from ever-changing addresses
        assert login(client, "coder@example.com", "wrong-password-1", addr=f"10.1.0.{i}").status_code == 400
    r = login(client, "Coder@Example.com", PASSWORD, addr="10.2.0.1")  # even the right password
    assert r.status_code == 429
    assert "Too many failed log-in attempts. Try again in 15 minutes." in r.content.decode()
    assert r["Retry-After"] == "900"
    assert client.get(reverse("account")).status_code == 302

    # another account from the same addresses is not affected
    make_user("other@example.com")
    assert login(client, "other@example.com", addr="10.1.0.1").status_code == 302


def test_throttle_in_redis(client, settings, redis_cache):
    """With REDIS_URL the counters live in Redis, shared by every web process."""
    make_user("coder@example.com")
    for i in range(settings.MEDCODE_LOGIN_MAX_FAILURES):
        assert login(client, "coder@example.com", "wrong-password-1", addr=f"10.1.0.{i}").status_code == 400
    assert redis_cache("throttle:login-account:*")
    r = login(client, "coder@example.com", PASSWORD, addr="10.2.0.1")
    assert r.status_code == 429 and r["Retry-After"] == "900"
    assert login(client, "coder@example.com", "wrong-password-1", addr="10.2.0.2").status_code == 429


def test_success_clears_the_account_counter(client, settings):
    make_user("coder@example.com")
    for _ in range(2):
        for _ in range(settings.MEDCODE_LOGIN_MAX_FAILURES - 1):
            assert login(client, "coder@example.com", "wrong-password-1").status_code == 400
        assert login(client, "coder@example.com").status_code == 302
        client.post(reverse("logout"))


def test_throttle_per_address(client, settings):
    make_user("coder@example.com")
    for i in range(settings.MEDCODE_LOGIN_MAX_FAILURES_PER_ADDRESS):
        assert login(client, f"guess{i}@example.com", "wrong-password-1", addr="192.0.2.7").status_code == 400
    r = login(client, "coder@example.com", PASSWORD, addr="192.0.2.7")
    assert r.status_code == 429 and "Try again in 15 minutes" in r.content.decode()
    assert login(client, "coder@example.com", PASSWORD, addr="192.0.2.8").status_code == 302


def test_throttle_response_identical_for_existing_and_unknown_accounts(settings):
    make_user("coder@example.com")
    answers = []
    for n, address in enumerate(("coder@example.com", "nobody@example.com")):
        client = Client()
        for i in range(settings.MEDCODE_LOGIN_MAX_FAILURES):
            r = login(client, address, "wrong-password-1", addr=f"10.{n}.0.{i}")
            assert r.status_code == 400
        answers.append(login(client, address, "wrong-password-1", addr=f"10.{n}.1.1"))
    (a, b) = answers
    assert a.status_code == b.status_code == 429
    assert a.content == b.content and a["Retry-After"] == b["Retry-After"]
    assert sorted(a.headers) == sorted(b.headers)


def test_throttle_honours_x_forwarded_for_only_behind_trusted_proxies(client, settings):
    make_user("coder@example.com")
    limit = settings.MEDCODE_LOGIN_MAX_FAILURES_PER_ADDRESS

    def attempt(xff, address="x@example.com", password="wrong-password-1"):
        return client.post(reverse("login"), {"username": address, "password": password},
                           REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR=xff)

    settings.MEDCODE_TRUSTED_PROXY_COUNT = 1
    for i in range(limit):  # spoofed left-hand entries change, the proxy-written client does not
        assert attempt(f"203.0.113.{i}, 198.51.100.1", f"g{i}@example.com").status_code == 400
    assert attempt("198.51.100.1", "coder@example.com", PASSWORD).status_code == 429
    assert attempt("198.51.100.2", "coder@example.com", PASSWORD).status_code == 302


def test_client_ip():
    rf = RequestFactory()

    def ip(settings_count, xff=None, remote="10.0.0.5"):
        from django.test import override_settings
        meta = {"REMOTE_ADDR": remote}
        if xff is not None:
            meta["HTTP_X_FORWARDED_FOR"] = xff
        with override_settings(MEDCODE_TRUSTED_PROXY_COUNT=settings_count):
            return throttle.client_ip(rf.get("/", **meta))

    assert ip(0, "1.2.3.4") == "10.0.0.5"  # not trusted by default
    assert ip(1, "1.2.3.4") == "1.2.3.4"
    assert ip(1, "6.6.6.6, 1.2.3.4") == "1.2.3.4"
    assert ip(2, "6.6.6.6, 1.2.3.4, 172.16.0.1") == "1.2.3.4"
    assert ip(2, "1.2.3.4") == "10.0.0.5"  # shorter than the proxy chain: ignored
    assert ip(1, "garbage") == "10.0.0.5"
    assert ip(1, "1.2.3.4:5678") == "1.2.3.4"
    assert ip(1, "[2001:db8::1]:443") == "2001:db8::1"
    assert ip(0, remote="2001:DB8::1") == "2001:db8::1"
    assert throttle.address_key("2001:db8::1") == throttle.address_key("2001:db8::ffff") == "2001:db8::/64"
    assert throttle.address_key("::ffff:1.2.3.4") == "1.2.3.4"


# --- password reset ---------------------------------------------------------------------------

def test_password_reset_end_to_end_through_smtp(client, smtp):
    user = make_user("coder@example.com", verified=False)
    for i in range(5):  # someone was guessing: the owner's reset lifts the lock
        login(Client(), "coder@example.com", "wrong-password-1", addr=f"10.3.0.{i}")
    r = client.post(reverse("password_reset"), {"email": "Coder@Example.com"})
    assert r.status_code == 302 and r["Location"] == reverse("password_reset_done")
    msg = smtp.one("coder@example.com")
    assert "Reset your medcode password" == msg["Subject"]
    path = link_in(msg, "/account/password/reset/")

    r = client.get(path)
    assert r.status_code == 302  # Django moves the token out of the URL into the session
    form_url = r["Location"]
    r = client.get(form_url)
    assert r.status_code == 200 and "Choose a new password" in r.content.decode()
    r = client.post(form_url, {"new_password1": "short", "new_password2": "short"})
    assert r.status_code == 400 and "too short" in r.content.decode()
    r = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert r.status_code == 302 and r["Location"] == reverse("password_reset_complete")

    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD) and user.email_verified  # the link proved the address
    assert login(Client(), "coder@example.com", PASSWORD).status_code == 400
    assert login(Client(), "coder@example.com", NEW_PASSWORD).status_code == 302

    r = Client().get(path)  # used once: dead
    r = Client().get(r["Location"]) if r.status_code == 302 else r
    assert r.status_code == 400 and "not valid" in r.content.decode()


def test_account_without_a_password_sets_one_by_reset(client, smtp):
    """`medcode apikey create EMAIL` makes accounts with no usable password; reset gives them one."""
    user = User.objects.create_user("cli@example.com", None, email_verified=True)
    assert not user.has_usable_password()
    client.post(reverse("password_reset"), {"email": "cli@example.com"})
    form_url = client.get(link_in(smtp.one("cli@example.com"), "/account/password/reset/"))["Location"]
    client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert login(Client(), "cli@example.com", NEW_PASSWORD).status_code == 302


def test_password_reset_does_not_enumerate(smtp):
    make_user("coder@example.com")
    known = Client().post(reverse("password_reset"), {"email": "coder@example.com"})
    unknown = Client().post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert (known.status_code, known["Location"], known.content) == (unknown.status_code, unknown["Location"],
                                                                      unknown.content)
    assert sorted(known.headers) == sorted(unknown.headers)
    assert smtp.to("coder@example.com") and not smtp.to("nobody@example.com")
    bad = Client().post(reverse("password_reset"), {"email": "nope"})
    assert bad.status_code == 400 and "valid email address" in bad.content.decode()


@pytest.mark.parametrize("url_name, data", [
    ("password_reset", {"email": "coder@example.com"}),
    ("register", {"email": "coder@example.com", "password1": PASSWORD, "password2": PASSWORD}),
])
def test_mail_is_sent_after_the_response(smtp, url_name, data):
    """The SMTP exchange happens in response.close(), after the page went out, so a form that mails
    only for a known address takes no longer than one that does not."""
    make_user("coder@example.com")
    request = RequestFactory().post(reverse(url_name), data)
    request._dont_enforce_csrf_checks = True
    from django.contrib.auth.models import AnonymousUser
    request.user = AnonymousUser()
    response = resolve(reverse(url_name)).func(request)
    assert response.status_code == 302
    assert smtp.to("coder@example.com") == []
    # close() as a WSGI server calls it; like Django's test client, keep the test's DB connection open
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)
    assert len(smtp.to("coder@example.com")) == 1


def test_mail_per_recipient_is_capped(client, smtp, settings):
    make_user("coder@example.com")
    for _ in range(settings.MEDCODE_MAILS_PER_RECIPIENT_PER_HOUR + 3):
        r = client.post(reverse("password_reset"), {"email": "coder@example.com"})
        assert r.status_code == 302
    assert len(smtp.to("coder@example.com")) == settings.MEDCODE_MAILS_PER_RECIPIENT_PER_HOUR


# --- change email -----------------------------------------------------------------------------

def test_change_email_old_address_stays_until_new_is_verified(client, smtp):
    user = make_user("old@example.com")
    login(client, "old@example.com")
    url = reverse("change_email")
    assert client.get(url).status_code == 200

    r = client.post(url, {"new_email": "new@example.com", "password": "wrong-password-1"})
    assert r.status_code == 400 and "not your current password" in r.content.decode()
    r = client.post(url, {"new_email": "OLD@example.com", "password": PASSWORD})
    assert r.status_code == 400 and "already this account" in r.content.decode()
    assert smtp.messages == []

    r = client.post(url, {"new_email": "New@Example.com", "password": PASSWORD})
    assert r.status_code == 302
    assert "keeps the address old@example.com" in client.get(reverse("account")).content.decode()
    user.refresh_from_db()
    assert user.email == "old@example.com"  # not yet
    assert smtp.to("old@example.com") == []
    path = link_in(smtp.one("new@example.com"), "/account/email/confirm/")

    r = client.get(path)
    assert r.status_code == 302
    user.refresh_from_db()
    assert user.email == "new@example.com" and user.email_verified
    assert "now uses new@example.com" in smtp.one("old@example.com").get_content()
    assert client.get(reverse("account")).status_code == 200  # still logged in
    assert login(Client(), "old@example.com").status_code == 400
    assert login(Client(), "new@example.com").status_code == 302


def test_change_email_to_a_taken_address_reveals_nothing(client, smtp):
    make_user("me@example.com")
    make_user("someone@example.com")
    login(client, "me@example.com")
    r_taken = client.post(reverse("change_email"), {"new_email": "someone@example.com", "password": PASSWORD})
    page_taken = client.get(reverse("account")).content.decode()
    r_free = client.post(reverse("change_email"), {"new_email": "free@example.com", "password": PASSWORD})
    page_free = client.get(reverse("account")).content.decode()
    assert (r_taken.status_code, r_taken["Location"]) == (r_free.status_code, r_free["Location"])
    assert without_csrf(page_taken).replace("someone@", "X@") == without_csrf(page_free).replace("free@", "X@")
    notice = smtp.one("someone@example.com")
    assert "/account/email/confirm/" not in notice.get_content()
    assert User.objects.get(pk=User.objects.get(email="me@example.com").pk).email == "me@example.com"


def test_change_email_link_dies_when_password_or_email_changes(client, smtp):
    user = make_user("me@example.com")
    login(client, "me@example.com")
    client.post(reverse("change_email"), {"new_email": "a@example.com", "password": PASSWORD})
    stale = link_in(smtp.one("a@example.com"), "/account/email/confirm/")
    client.post(reverse("change_password"), {"old_password": PASSWORD, "new_password1": NEW_PASSWORD,
                                             "new_password2": NEW_PASSWORD})
    r = Client().get(stale)
    assert r.status_code == 400 and "out of date" in r.content.decode()
    user.refresh_from_db()
    assert user.email == "me@example.com"

    # an address taken between the request and the click
    client.post(reverse("change_email"), {"new_email": "b@example.com", "password": NEW_PASSWORD})
    path = link_in(smtp.one("b@example.com"), "/account/email/confirm/")
    make_user("b@example.com")
    r = Client().get(path)
    assert r.status_code == 400 and "belongs to another account" in r.content.decode()
    user.refresh_from_db()
    assert user.email == "me@example.com"


# --- change password --------------------------------------------------------------------------

def test_change_password_keeps_this_session_ends_others(smtp):
    user = make_user("coder@example.com")
    here, elsewhere = Client(), Client()
    login(here, "coder@example.com")
    login(elsewhere, "coder@example.com")
    url = reverse("change_password")

    r = here.post(url, {"old_password": "wrong-password-1", "new_password1": NEW_PASSWORD,
                        "new_password2": NEW_PASSWORD})
    assert r.status_code == 400 and "old password was entered incorrectly" in r.content.decode()
    r = here.post(url, {"old_password": PASSWORD, "new_password1": "12345678901", "new_password2": "12345678901"})
    assert r.status_code == 400 and "entirely numeric" in r.content.decode()

    r = here.post(url, {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert r.status_code == 302
    assert here.get(reverse("account")).status_code == 200
    assert elsewhere.get(reverse("account")).status_code == 302  # logged out
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert "password" in smtp.one("coder@example.com")["Subject"]


# --- delete account ---------------------------------------------------------------------------

def test_delete_account_removes_personal_data(client, smtp):
    user = make_user("leaving@example.com")
    other = make_user("staying@example.com")
    key, _raw = ApiKey.issue(user, "laptop")
    other_key, _ = ApiKey.issue(other, "desk")
    for subject in (f"user:{user.pk}", f"key:{key.pk}", f"user:{other.pk}", f"key:{other_key.pk}"):
        MeterView.objects.create(subject=subject, system="icd10cm", code="E11.9")
    login(client, "leaving@example.com")

    assert client.get(reverse("delete_account")).status_code == 405
    r = client.post(reverse("delete_account"), {"password": "wrong-password-1"})
    assert r.status_code == 400 and "account was not deleted" in r.content.decode()
    assert User.objects.filter(pk=user.pk).exists()

    r = client.post(reverse("delete_account"), {"password": PASSWORD})
    assert r.status_code == 302 and r["Location"] == reverse("account_deleted")
    assert client.get(r["Location"]).status_code == 200
    assert not User.objects.filter(pk=user.pk).exists()
    assert not ApiKey.objects.filter(user_id=user.pk).exists()
    assert set(MeterView.objects.values_list("subject", flat=True)) == {f"user:{other.pk}", f"key:{other_key.pk}"}
    assert ApiKey.objects.filter(pk=other_key.pk).exists()
    assert client.get(reverse("account")).status_code == 302  # logged out
    assert login(Client(), "leaving@example.com").status_code == 400
    assert "deleted" in smtp.one("leaving@example.com")["Subject"]


def test_delete_requires_login(client):
    r = client.post(reverse("delete_account"), {"password": PASSWORD})
    assert r.status_code == 302 and r["Location"].startswith(reverse("login"))


# --- CSRF and bad input -----------------------------------------------------------------------

@pytest.mark.parametrize("url_name, data", [
    ("login", {"username": "coder@example.com", "password": PASSWORD}),
    ("register", {"email": "csrf@example.com", "password1": PASSWORD, "password2": PASSWORD}),
    ("password_reset", {"email": "coder@example.com"}),
    ("resend_verification", {"email": "coder@example.com"}),
    ("logout", {}),
    ("change_email", {"new_email": "csrf@example.com", "password": PASSWORD}),
    ("change_password", {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}),
    ("delete_account", {"password": PASSWORD}),
])
def test_post_without_csrf_token_is_refused(url_name, data, smtp):
    user = make_user("coder@example.com")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    if url_name in ("login", "register", "password_reset", "resend_verification"):
        strict = Client(enforce_csrf_checks=True)
    r = strict.post(reverse(url_name), data)
    assert r.status_code == 403 and b"CSRF" in r.content
    user.refresh_from_db()
    assert user.check_password(PASSWORD) and user.email == "coder@example.com"
    assert User.objects.count() == 1 and smtp.messages == []


def test_csrf_token_round_trip(smtp):
    """The forms carry the token: a strict client that submits it gets through."""
    strict = Client(enforce_csrf_checks=True)
    page = strict.get(reverse("register")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    r = strict.post(reverse("register"), {"csrfmiddlewaretoken": token, "email": "ok@example.com",
                                          "password1": PASSWORD, "password2": PASSWORD})
    assert r.status_code == 302 and User.objects.filter(email="ok@example.com").exists()


HUGE = "a" * 9988 + "@example.com"  # 10,000 characters


@pytest.mark.parametrize("url_name, data, logged_in", [
    ("register", {"email": HUGE, "password1": PASSWORD, "password2": PASSWORD}, False),
    ("register", {"email": "ok@example.com", "password1": "x" * 5000, "password2": "x" * 5000}, False),
    ("register", {"email": "nul\x00@example.com", "password1": PASSWORD, "password2": PASSWORD}, False),
    ("login", {"username": HUGE, "password": PASSWORD}, False),
    ("login", {"username": "coder@example.com", "password": "x" * 5000}, False),
    ("login", {"username": "co\x00der@example.com", "password": PASSWORD}, False),
    ("password_reset", {"email": HUGE}, False),
    ("resend_verification", {"email": HUGE}, False),
    ("change_email", {"new_email": HUGE, "password": PASSWORD}, True),
    ("change_password", {"old_password": "x" * 5000, "new_password1": "y" * 5000, "new_password2": "y" * 5000},
     True),
    ("delete_account", {"password": "x" * 5000}, True),
])
def test_oversized_and_malformed_input_gets_a_form_error(client, url_name, data, logged_in, smtp):
    user = make_user("coder@example.com")
    if logged_in:
        client.force_login(user)
    r = client.post(reverse(url_name), data)
    assert r.status_code == 400
    assert 'class="errorlist' in r.content.decode()
    assert User.objects.count() == 1 and smtp.messages == []
    user.refresh_from_db()
    assert user.email == "coder@example.com" and user.check_password(PASSWORD)


def test_bad_links_never_500(client):
    for path in ("/account/email/confirm/garbage/", "/account/email/confirm/" + "y" * 3000 + "/",
                 "/account/password/reset/zz/yy/", "/account/password/reset/" + "A" * 2000 + "/x-y/"):
        r = client.get(path)
        r = client.get(r["Location"]) if r.status_code == 302 else r
        assert r.status_code == 400, path


# --- staff ------------------------------------------------------------------------------------

def test_medcode_manage_createsuperuser_with_email(tmp_path):
    """The console script, in its own process and its own MEDCODE_HOME (SQLite), as an operator runs it."""
    import os
    import subprocess
    import sys

    medcode = Path(sys.executable).with_name("medcode")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(MEDCODE_HOME=str(tmp_path), DJANGO_SUPERUSER_PASSWORD=PASSWORD)

    def run(*args):
        done = subprocess.run([str(medcode), "manage", *args], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("migrate", "--noinput", "-v", "0")
    assert "Superuser created" in run("createsuperuser", "--noinput", "--email", "Admin@Example.COM")
    shown = run("shell", "-v", "0", "-c", "from medcode.accounts.models import User; u = User.objects.get(); "
                "print(u.email, u.is_superuser, u.is_staff, u.email_verified, u.password.split('$')[0], "
                "u.check_password(%r))" % PASSWORD)
    assert shown.strip().splitlines()[-1].split() == ["admin@example.com", "True", "True", "True", "argon2", "True"]


def test_superuser_uses_the_admin(client, monkeypatch):
    from django.core.management import call_command

    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command("createsuperuser", "--noinput", "--email", "Admin@Example.COM", verbosity=0)
    admin = User.objects.get()
    assert admin.email == "admin@example.com" and admin.is_superuser and admin.email_verified
    assert login(client, "admin@example.com").status_code == 302
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 200
    assert client.get("/admin/accounts/user/add/").status_code == 200
    assert client.get(f"/admin/accounts/user/{admin.pk}/change/").status_code == 200
