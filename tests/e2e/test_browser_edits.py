"""The claim edit checker in a real browser: "Add a line" adds the row in place (no round trip), the
claim is checked, the findings name their lines, and axe-core finds no serious violation on the form
or the results."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_add_lines_check_and_read_the_findings(page, live_server, axe_check):
    page.goto(live_server.url + reverse("edits_check"))
    axe_check(page, "the claim edit checker's form")
    rows = page.locator("#edits-rows tr")
    start = rows.count()
    for n in range(start):
        page.get_by_label(f"Line {n + 1} code", exact=True).fill("")
    page.get_by_label("Date of service").fill("2026-03-01")
    page.get_by_label("Line 1 code", exact=True).fill("29881")
    page.get_by_label("Line 2 code", exact=True).fill("29880")
    page.get_by_label("Line 2 modifiers", exact=True).fill("59")
    url = page.url
    page.get_by_role("button", name="Add a line").click()
    expect(rows).to_have_count(start + 1)
    assert page.url == url  # added in place by edits.js
    new = page.get_by_label(f"Line {start + 1} code", exact=True)
    expect(new).to_be_focused()
    new.fill("J1100")
    page.get_by_label(f"Line {start + 1} units", exact=True).fill("12")
    page.get_by_role("button", name="Check the claim").click()
    expect(page.get_by_role("heading", name="Results: practitioner claim, date of service 2026-03-01")).to_be_visible()
    finding = page.locator("ol.findings li").first
    expect(finding).to_contain_text("column 1")
    expect(finding).to_contain_text("line 1 (29881)")
    expect(page.locator("table.claim-read tr#line-1")).to_have_class("line sev-error")
    expect(page.locator("table.claim-read tr#line-3")).to_have_class("line")  # J1100 x12: nothing found
    axe_check(page, "the claim edit checker's results")
    # the bad line is named, the form kept for correcting
    page.get_by_label("Line 1 units", exact=True).fill("0")
    page.get_by_role("button", name="Check the claim").click()
    expect(page.locator("#edits-error")).to_contain_text("line 1: units must be at least 1")
    axe_check(page, "the claim edit checker with an error")
