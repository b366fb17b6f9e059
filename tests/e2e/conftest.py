"""Headless Debian Chromium driven by Playwright's sync API against pytest-django's live server.

Never a downloaded browser: `playwright install` is not part of this project.

Every browser test is a visitor of its own (the autouse `visitor_address` fixture):

* the live server trusts one reverse proxy (MEDCODE_TRUSTED_PROXY_COUNT = 1) and every page the
  test's browser opens carries ``X-Forwarded-For: <an address of this test's own>``, so the
  hashed-address half of the guest meter starts empty in each test, while staying the same
  across a cookie wipe within the test, as a real visitor's address would;
* the meter is pinned to the database backend, whose rows the transactional test database
  drops after each test (so a REDIS_URL in the environment leaves nothing behind in a shared
  Redis that a later run, reusing user ids, would count against);
* the cache (throttle counters, cached pages) is a local-memory cache of the test's own.

Mail goes through Django's real SMTP backend to an aiosmtpd sink on a free loopback port
(`mailbox`), and its links point at the live server (SITE_URL).
"""

from __future__ import annotations

import email
import itertools
import os
import re
import uuid
from pathlib import Path

import pytest
from mailsink import Sink, running_sink

# Playwright's sync API runs an event loop in the test thread; Django's async-safety check would
# then refuse the test database's setup and flush, which are not async at all.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("MEDCODE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"

_addresses = itertools.count(1)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(autouse=True)
def visitor_address(settings) -> str:
    """This test's client address (see the module docstring), and the isolation that goes with it."""
    settings.MEDCODE_TRUSTED_PROXY_COUNT = 1
    settings.MEDCODE_METER_BACKEND = "db"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"e2e-{uuid.uuid4().hex}"}}
    n = next(_addresses)  # in 198.18.0.0/15, a block reserved for network tests
    return f"198.18.{n // 256 % 256}.{n % 256}"


@pytest.fixture
def page(browser, visitor_address):
    context = browser.new_context(extra_http_headers={"X-Forwarded-For": visitor_address})
    pg = context.new_page()
    pg.set_default_timeout(5_000)  # a page of this site that takes longer is a failure, not a wait
    yield pg
    context.close()


# --- mail -----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def smtp_sink():
    with running_sink() as sink:
        yield sink


@pytest.fixture
def mailbox(smtp_sink, settings, live_server) -> Sink:
    """Django's SMTP backend pointed at the sink; links in mail lead to the live server."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_sink.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.SITE_URL = live_server.url
    smtp_sink.clear()
    return smtp_sink


@pytest.fixture
def mail_link():
    """mail_link(message, contains): the first URL in a message's body that contains `contains`."""
    return link_in


def link_in(message: email.message.EmailMessage, contains: str) -> str:
    """The first URL in a message's body that contains `contains`."""
    body = message.get_content()
    for url in re.findall(r"https?://\S+", body):
        if contains in url:
            return url
    raise AssertionError(f"no link with {contains!r} in:\n{body}")


# --- axe-core -------------------------------------------------------------------------------

@pytest.fixture
def axe_check():
    """check(page, what): fail with axe-core's serious and critical violations on the page as it is now."""

    def check(page, what: str) -> None:
        violations = axe_serious(page)
        assert not violations, f"axe-core on {what} ({page.url}):\n{describe_violations(violations)}"

    return check


@pytest.fixture
def axe_violations():
    """axe_violations(page): axe-core's serious and critical violations on the page as it is now."""
    return axe_serious


def axe_serious(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not AXE_JS.exists():
        pytest.skip(f"axe-core is not installed at {AXE_JS}: run `npm ci` at the repository root")
    page.add_script_tag(path=str(AXE_JS))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in results["violations"] if v.get("impact") in ("serious", "critical")]


def describe_violations(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:10]:
            lines.append(f"    {node['target']}: {node.get('failureSummary', '').splitlines()[-1:]}")
    return "\n".join(lines)
