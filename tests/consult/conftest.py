"""Email-consult fixtures: the real gateway on a loopback port, an aiosmtpd sink as the outbound relay,
and the real django-tasks database worker run in-process (batch mode) to drain the queue."""

from __future__ import annotations

import pytest
from consultkit import CONSULT, SITE, Gateway, free_port, sink_on


@pytest.fixture
def consult_settings(settings):
    settings.MEDCODE_CONSULT_ADDRESS = [CONSULT]
    settings.SITE_URL = SITE
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_TIMEOUT = 5
    settings.MEDCODE_CONSULT_REQUIRE_AUTH_RESULTS = False
    settings.MEDCODE_CONSULT_REQUIRE_SECRET_ADDRESS = False
    settings.MEDCODE_CONSULT_REVIEW_ALL = False
    settings.MEDCODE_CONSULT_REVIEW_PLANS = []
    settings.MEDCODE_CONSULT_REVIEW_UNCONFIDENT = True
    settings.MEDCODE_CONSULT_QUOTAS = {"free": 5, "paid": 200}
    settings.MEDCODE_MAILS_PER_RECIPIENT_PER_HOUR = 100
    return settings


@pytest.fixture
def relay(consult_settings):
    """The outbound relay: an aiosmtpd sink the site's SMTP backend delivers to."""
    with sink_on(free_port()) as sink:
        consult_settings.EMAIL_PORT = sink.port
        yield sink


@pytest.fixture
def gateway(consult_settings):
    """`medcode smtpd`'s controller, started in this process on a free port."""
    from medcode.consult.gateway import controller

    ctl = controller("127.0.0.1", free_port())
    ctl.start()
    try:
        yield Gateway(ctl.port)
    finally:
        ctl.stop()
        ctl.handler.executor.shutdown(wait=True)


@pytest.fixture
def coder(db):
    from medcode.accounts.models import User

    return User.objects.create_user("coder@client.test", "a long password 1", email_verified=True)


@pytest.fixture
def staff(db):
    from medcode.accounts.models import User

    return User.objects.create_user("reviewer@medcode.test", "a long password 2", email_verified=True, is_staff=True)

