"""Web page tests: each test has a cache of its own and the database meter (whose rows the test
database rolls back), so no test sees another's cached parts or unlocked codes."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture(autouse=True)
def web_isolation(settings):
    settings.MEDCODE_METER_BACKEND = "db"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"web-test-{uuid.uuid4().hex}"}}


@pytest.fixture
def make_user(db):
    from medcode.accounts.models import User

    def make(plan: str = "free", verified: bool = True, email: str | None = None) -> User:
        # no password: the tests log in with force_login, and argon2 would cost a quarter second
        return User.objects.create_user(email or f"{plan}-{uuid.uuid4().hex[:8]}@example.com", None,
                                        plan=plan, email_verified=verified)

    return make


@pytest.fixture
def paid_client(client, make_user):
    """A logged-in paid account: every code page in full."""
    client.force_login(make_user("paid"))
    return client
