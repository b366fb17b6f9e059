"""What a new user does first, in a real browser: open a code from the home page, walk up the tree."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_open_a_code_then_follow_the_breadcrumb_to_its_category(page, live_server, book):
    page.goto(live_server.url + "/")
    page.get_by_label("Open an ICD-10-CM code").fill("e11.9")
    page.get_by_role("button", name="Open").click()

    page.wait_for_url(live_server.url + "/codes/icd10cm/E11.9")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("E11.9")
    expect(heading).to_contain_text(book.get("icd10cm", "E11.9").title)

    page.get_by_role("navigation", name="Hierarchy").get_by_role("link", name="E11", exact=True).click()
    page.wait_for_url(live_server.url + "/codes/icd10cm/E11")
    expect(page.get_by_role("heading", level=1)).to_contain_text(book.get("icd10cm", "E11").title)
    expect(page.get_by_role("link", name="E11.9", exact=True)).to_be_visible()


def test_keyboard_only_reaches_the_skip_link_then_the_code_box(page, live_server, book):
    page.goto(live_server.url + "/")
    skip = page.get_by_role("link", name="Skip to content")
    assert skip.bounding_box()["x"] < 0, "the skip link shows before anyone tabs to it"
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0, "the focused skip link is off screen"

    page.keyboard.press("Enter")  # skips the header: the next Tab lands in the content
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    code_box = page.get_by_label("Open an ICD-10-CM code")
    expect(code_box).to_be_focused()

    page.keyboard.type("s52501a")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/codes/icd10cm/S52\.501A$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(book.get("icd10cm", "S52.501A").title)
