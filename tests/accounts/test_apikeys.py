"""API keys: the actions (create, revoke, authenticate), the account-page section and its views."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from medcode.accounts import apikeys
from medcode.accounts.models import ApiKey, User, hash_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return User.objects.create_user("coder@example.com", "correct horse battery", email_verified=True)


def test_create_stores_only_a_hash(user):
    key, raw = apikeys.create_key(user, "  billing script  ")
    assert raw.startswith("mc_") and len(raw) >= 40
    assert key.prefix == raw[:12] and key.name == "billing script"
    stored = ApiKey.objects.filter(pk=key.pk).values().get()
    assert stored["key_hash"] == hash_key(raw)
    assert raw not in str(stored)
    assert apikeys.authenticate(raw) == key


def test_authenticate(user):
    key, raw = apikeys.create_key(user)
    assert apikeys.authenticate(raw).user == user
    assert apikeys.authenticate_user(raw) == user
    assert apikeys.authenticate(f"  {raw} ") == key
    for bad in ("", None, "mc_", raw[:-1], raw + "x", raw.upper(), "x" * 10_000, "mc_" + "a" * 5000, "Bearer " + raw,
                "\x00", "mc_\u2603"):
        assert apikeys.authenticate(bad) is None
    user.is_active = False
    user.save()
    assert apikeys.authenticate(raw) is None


def test_last_used_is_written_at_most_once_a_minute(user):
    key, raw = apikeys.create_key(user)
    assert key.last_used is None
    apikeys.authenticate(raw)
    first = ApiKey.objects.get(pk=key.pk).last_used
    assert first is not None
    apikeys.authenticate(raw)
    assert ApiKey.objects.get(pk=key.pk).last_used == first
    ApiKey.objects.filter(pk=key.pk).update(last_used=timezone.now() - timedelta(seconds=61))
    apikeys.authenticate(raw)
    assert ApiKey.objects.get(pk=key.pk).last_used > first


def test_revoke(user):
    key, raw = apikeys.create_key(user)
    other = User.objects.create_user("other@example.com", "correct horse battery", email_verified=True)
    assert not apikeys.revoke_key(other, key.pk)  # not theirs
    assert apikeys.authenticate(raw) is not None
    assert apikeys.revoke_key(user, key.pk)
    assert not apikeys.revoke_key(user, key.pk)  # already revoked
    assert apikeys.authenticate(raw) is None
    assert not ApiKey.objects.get(pk=key.pk).active


def test_revoke_by_prefix(user):
    key, raw = apikeys.create_key(user)
    for bad in ("", "mc_", "nothing-like-it"):
        with pytest.raises(apikeys.ApiKeyError):
            apikeys.revoke_prefix(bad)
    assert apikeys.revoke_prefix(key.prefix + "…").pk == key.pk
    assert apikeys.authenticate(raw) is None
    with pytest.raises(apikeys.ApiKeyError, match="no active key"):
        apikeys.revoke_prefix(key.prefix)
    # a prefix two keys share is refused rather than guessed
    a, _ = apikeys.create_key(user)
    b, _ = apikeys.create_key(user)
    ApiKey.objects.filter(pk__in=[a.pk, b.pk]).update(prefix="mc_SAMEPREF")
    with pytest.raises(apikeys.ApiKeyError, match="several"):
        apikeys.revoke_prefix("mc_SAMEP")


def test_limits_on_creation(user):
    unverified = User.objects.create_user("new@example.com", "correct horse battery")
    with pytest.raises(apikeys.ApiKeyError, match="Verify"):
        apikeys.create_key(unverified)
    for _ in range(apikeys.MAX_ACTIVE_KEYS):
        apikeys.create_key(user)
    with pytest.raises(apikeys.ApiKeyError, match="revoke one"):
        apikeys.create_key(user)
    apikeys.revoke_key(user, apikeys.active_keys(user).first().pk)
    apikeys.create_key(user)


def test_ensure_account(user):
    new, created = apikeys.ensure_account("  Someone@Example.COM ", "paid")
    assert created and new.email == "someone@example.com" and new.plan == "paid" and new.email_verified
    assert not new.has_usable_password()
    same, created = apikeys.ensure_account("someone@example.com")
    assert not created and same.pk == new.pk and same.plan == "paid"
    existing, created = apikeys.ensure_account("coder@example.com", "paid")
    assert not created and existing.plan == "paid" and existing.check_password("correct horse battery")
    for bad in ("", "not-an-email", "a@", "@b.c", "x" * 300 + "@example.com"):
        with pytest.raises(apikeys.ApiKeyError):
            apikeys.ensure_account(bad)
    with pytest.raises(apikeys.ApiKeyError, match="plan"):
        apikeys.ensure_account("a@example.com", "platinum")
    assert not User.objects.filter(email="a@example.com").exists()


# --- pages -------------------------------------------------------------------------------------

@pytest.fixture
def browser(user):
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    return client


def test_keys_page_create_shows_the_key_once(browser, user):
    page = browser.get(reverse("api_keys"))
    assert page.status_code == 200 and b"no API keys yet" in page.content
    assert "no-store" in page["Cache-Control"]
    created = browser.post(reverse("api_key_create"), {"name": "claims bot"})
    assert created.status_code == 200 and "no-store" in created["Cache-Control"]
    key = ApiKey.objects.get(user=user)
    html = created.content.decode()
    raw = html.split('id="new-api-key" type="text" readonly value="')[1].split('"')[0]
    assert raw.startswith(key.prefix) and hash_key(raw) == key.key_hash and key.name == "claims bot"
    assert "shown only this once" in html
    again = browser.get(reverse("api_keys")).content.decode()
    assert key.prefix in again and raw not in again and "claims bot" in again


def test_account_page_includes_the_section(browser, user):
    key, raw = apikeys.create_key(user, "nightly job")
    page = browser.get(reverse("account"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="api-keys"' in html and key.prefix in html and "nightly job" in html and raw not in html
    assert reverse("api_key_create") in html and reverse("api_key_revoke", args=[key.pk]) in html


def test_revoke_view(browser, user):
    key, raw = apikeys.create_key(user)
    response = browser.post(reverse("api_key_revoke", args=[key.pk]), {"next": reverse("account") + "#api-keys"})
    assert response.status_code == 302 and response["Location"] == reverse("account") + "#api-keys"
    assert apikeys.authenticate(raw) is None
    page = browser.get(reverse("api_keys")).content.decode()
    assert "revoked" in page and f'action="{reverse("api_key_revoke", args=[key.pk])}"' not in page
    # someone else's key, an unknown id, an off-site next: refused, nothing revoked, no open redirect
    other = User.objects.create_user("other@example.com", "correct horse battery", email_verified=True)
    theirs, their_raw = apikeys.create_key(other)
    response = browser.post(reverse("api_key_revoke", args=[theirs.pk]), {"next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == reverse("api_keys")
    assert apikeys.authenticate(their_raw) is not None
    assert browser.post(reverse("api_key_revoke", args=[999999])).status_code == 302


def test_key_views_need_login_post_and_csrf(user):
    anonymous = Client()
    for name, args in (("api_keys", []), ("api_key_create", []), ("api_key_revoke", [1])):
        response = anonymous.post(reverse(name, args=args))
        assert response.status_code == 302 and reverse("login") in response["Location"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(reverse("api_key_create")).status_code == 405
    assert client.post(reverse("api_key_create"), {"name": "x"}).status_code == 403
    assert not ApiKey.objects.exists()


def test_unverified_accounts_cannot_create_keys():
    unverified = User.objects.create_user("new@example.com", "correct horse battery")
    client = Client()
    client.force_login(unverified)
    assert b"Verify your email address" in client.get(reverse("api_keys")).content
    response = client.post(reverse("api_key_create"), {"name": "x"})
    assert response.status_code == 400 and b"Verify your email address" in response.content
    assert not ApiKey.objects.exists()
