"""Job board fixtures: users, employers and jobs made through medcode.careers.actions (the code under
test), private files in a folder of each test's own, and mail through Django's real SMTP backend to
an aiosmtpd sink on loopback (tests/mailsink.py)."""

from __future__ import annotations

import uuid

import pytest

from jobkit import JOB_DATA, PASSWORD, client_for
from mailsink import running_sink, send_mail_to


@pytest.fixture(autouse=True)
def fast_argon2(settings):
    settings.PASSWORD_HASHERS = ["jobkit.FastArgon2"]  # (a module name; "conftest" is not unique)


@pytest.fixture(autouse=True)
def private_root(settings, tmp_path):
    settings.MEDCODE_PRIVATE_ROOT = tmp_path / "private"
    return settings.MEDCODE_PRIVATE_ROOT


@pytest.fixture(autouse=True)
def own_cache(settings):
    """A cache of this test's own (the API rate counters live there); never clear() a shared one."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"careers-test-{uuid.uuid4().hex}"}}


@pytest.fixture(scope="session")
def smtp_sink():
    with running_sink() as sink:
        yield sink


@pytest.fixture(autouse=True)
def mailbox(smtp_sink, settings):
    return send_mail_to(smtp_sink, settings)


# --- people and jobs --------------------------------------------------------------------------------

@pytest.fixture
def make_user(db):
    from medcode.accounts.models import User

    def make(email: str, verified: bool = True, staff: bool = False) -> User:
        return User.objects.create_user(email, PASSWORD, email_verified=verified, is_staff=staff)

    return make


@pytest.fixture
def login():
    return client_for


@pytest.fixture
def employer_user(make_user):
    from medcode.careers import actions

    user = make_user("hiring@acme.example")
    actions.save_employer(user, company_name="Acme Health (synthetic)", website="https://acme.example")
    return user


@pytest.fixture
def staff(make_user):
    return make_user("staff@medcode.example", staff=True)


@pytest.fixture
def post_job(staff):
    """post_job(user, **fields) -> an open job, through the real actions (the first one approved by staff)."""
    from medcode.careers import actions

    def post(user, **fields):
        job = actions.create_job(user, {**JOB_DATA, **fields})
        job = actions.publish(job, user)
        if job.status == "pending":
            job = actions.approve(job, staff)
        job.refresh_from_db()
        assert job.is_open()
        return job

    return post


@pytest.fixture
def seeker(make_user):
    return make_user("jane.coder@example.com")
