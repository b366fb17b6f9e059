"""The metered paywall as a new visitor meets it, in a real browser.

A guest reads one code page in full and finds the next one gated; registers, gets the
verification mail over a real SMTP exchange on loopback, follows its link, logs in and reads
five more in full; the sixth is gated again. Clearing cookies does not give a guest a fresh
quota. Quotas come from settings (MEDCODE_QUOTAS), so the counts below are read from there.

"In full" and "gated" are judged from the codebook: a code's instructional notes are gated
content, so the page shows the heading of its first note kind only while the meter allows.
Each test is a visitor of its own address (see conftest.py), so every test starts a fresh guest.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.conf import settings
from django.urls import reverse
from playwright.sync_api import expect

from medcode.web.views import NOTE_LABELS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CM = "icd10cm"
PASSWORD = "plum-Harbour-47-lantern"
# Distinct billable codes from different chapters, each with instructional notes of its own or
# inherited (gated content the tests can look for).
CODES = ["E11.9", "I10", "K21.9", "M54.50", "N39.0", "J45.909", "F02.80", "Z79.4"]
REMAINING = re.compile(r"(\d+) code page views? remaining", re.I)


# --- what a code page shows ---------------------------------------------------------------------

def open_code(page, live_server, book, code: str) -> None:
    page.goto(f"{live_server.url}{reverse('code', args=[CM, code])}")
    # always shown, gated or not: the code and its official description
    h1 = page.get_by_role("heading", level=1)
    expect(h1).to_contain_text(code)
    expect(h1).to_contain_text(book.get(CM, code).title)


def first_note_heading(book, code: str) -> str:
    notes = book.notes(CM, code, date.today())
    assert notes, f"{code} has no notes to tell a full page from a gated one; pick another code"
    kind = notes[0].kind
    return NOTE_LABELS.get(kind, kind.replace("_", " ").capitalize())


def banner_count(page) -> int:
    """N from the banner "N code page views remaining"."""
    banner = page.get_by_text(REMAINING).first
    expect(banner).to_be_visible()
    return int(REMAINING.search(banner.inner_text()).group(1))


def prompt_register_link(page):
    """The register link of the paywall prompt (in the page's content, not the header's)."""
    return page.locator(f'main a[href^="{reverse("register")}"]')


def plain_language_start(book, code: str) -> str:
    from medcode.codebook.plain import describe

    first = describe(book, CM, code, date.today()).strip().split("\n")[0]
    return " ".join(first.split())[:40]


def assert_full(page, book, code: str) -> None:
    main = page.locator("main")
    heading = first_note_heading(book, code)
    expect(main.get_by_role("heading", name=heading, exact=True).first).to_be_visible()
    expect(main).to_contain_text(plain_language_start(book, code))
    expect(prompt_register_link(page)).to_have_count(0)


def assert_gated(page, book, code: str, *, guest: bool) -> None:
    main = page.locator("main")
    heading = first_note_heading(book, code)
    expect(main.get_by_role("heading", name=heading, exact=True)).to_have_count(0)
    # the code, its official and plain-language descriptions stay
    expect(main).to_contain_text(plain_language_start(book, code))
    assert banner_count(page) == 0
    if guest:
        expect(prompt_register_link(page).first).to_be_visible()
    else:  # an account is offered the upgrade instead
        expect(prompt_register_link(page)).to_have_count(0)
        expect(main).to_contain_text(re.compile(r"upgrade", re.I))


# --- the guest ----------------------------------------------------------------------------------

def test_a_guest_reads_one_code_in_full_and_finds_the_next_gated(page, live_server, book):
    assert settings.MEDCODE_QUOTAS["guest"] == 1, "this test reads the guest quota as one code page"
    first, second = CODES[0], CODES[1]

    open_code(page, live_server, book, first)
    assert_full(page, book, first)
    assert banner_count(page) == 0

    open_code(page, live_server, book, second)
    assert_gated(page, book, second, guest=True)

    open_code(page, live_server, book, first)  # re-opening a code already unlocked is free
    assert_full(page, book, first)


def guest_cookies(context) -> list[dict]:
    return [c for c in context.cookies() if c["name"] == "medcode_guest"]


def test_clearing_cookies_does_not_reset_a_guests_meter(page, live_server, book):
    first, second, third = CODES[0], CODES[1], CODES[2]
    open_code(page, live_server, book, first)
    assert_full(page, book, first)
    unlocked_with = guest_cookies(page.context)
    assert unlocked_with, "no guest cookie was set"

    page.context.clear_cookies()
    open_code(page, live_server, book, second)
    assert_gated(page, book, second, guest=True)  # the address still counts
    fresh = guest_cookies(page.context)
    assert fresh and fresh[0]["value"] != unlocked_with[0]["value"], "no fresh guest cookie"

    # and the other way round: the cookie that unlocked a code counts from another address too
    page.context.clear_cookies()
    page.context.add_cookies(unlocked_with)
    page.set_extra_http_headers({"X-Forwarded-For": "198.19.255.254"})
    open_code(page, live_server, book, third)
    assert_gated(page, book, third, guest=True)


# --- the guest becomes a free account ----------------------------------------------------------

def test_a_guest_registers_verifies_by_mail_and_reads_five_more(page, live_server, book, mailbox, mail_link,
                                                               visitor_address):
    free = settings.MEDCODE_QUOTAS["free"]
    assert free == 5 and len(CODES) >= free + 2
    address = f"new.coder.{visitor_address.replace('.', '-')}@example.com"

    open_code(page, live_server, book, CODES[0])
    assert_full(page, book, CODES[0])
    open_code(page, live_server, book, CODES[1])
    assert_gated(page, book, CODES[1], guest=True)

    # the prompt leads to registration
    prompt_register_link(page).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    page.get_by_label("Email address").fill(address)
    page.get_by_label(re.compile(r"^Password:?$")).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")

    # the mail crossed an SMTP connection to the sink; its link leads back to this site
    message = mailbox.wait_for(address)
    assert "Confirm your email" in message["Subject"]
    link = mail_link(message, "/account/verify/")
    assert link.startswith(live_server.url + "/"), link
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_contain_text("verified")

    if page.get_by_role("button", name="Log out").count() == 0:  # log in if the link did not
        page.goto(live_server.url + reverse("login"))
        page.get_by_label("Email address").fill(address)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("button", name="Log out")).to_be_visible()

    # five more distinct codes in full, starting with the one that was gated; the banner counts down
    for n, code in enumerate(CODES[1:1 + free], start=1):
        open_code(page, live_server, book, code)
        assert_full(page, book, code)
        assert banner_count(page) == free - n, f"after {n} code pages as a free account"

    sixth = CODES[1 + free]
    open_code(page, live_server, book, sixth)
    assert_gated(page, book, sixth, guest=False)

    open_code(page, live_server, book, CODES[1])  # an unlocked code stays readable
    assert_full(page, book, CODES[1])
