"""The header search box as a new user meets it: type, pick a suggestion with the keyboard, or
submit the form and read the results page."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from medcode.search import search
from medcode.web.search_views import PAGE_LIMIT, SUGGEST_LIMIT

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_pick_a_suggestion_with_the_keyboard(page, live_server, book):
    top = search(book, "copd flare", limit=SUGGEST_LIMIT)["results"][0]
    page.goto(live_server.url + "/")
    box = page.get_by_role("combobox", name="Search codes")
    box.click()
    page.keyboard.type("copd flare")
    listbox = page.get_by_role("listbox", name="Suggestions")
    expect(listbox).to_be_visible()
    options = listbox.get_by_role("option")
    expect(options.first).to_contain_text(top["code"])
    expect(box).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", options.first.get_attribute("id"))
    expect(box).to_be_focused()  # the focus stays in the box while choosing
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(re.escape(reverse("code", args=[top["system"], top["code"]])) + "$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(top["code"])


def test_arrow_keys_move_and_escape_closes(page, live_server):
    page.goto(live_server.url + "/browse/")
    box = page.get_by_role("combobox", name="Search codes")
    box.click()
    page.keyboard.type("fracture")
    options = page.get_by_role("listbox", name="Suggestions").get_by_role("option")
    expect(options.nth(1)).to_be_visible()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    expect(options.first).to_have_attribute("aria-selected", "false")
    page.keyboard.press("ArrowUp")
    expect(options.first).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Escape")
    expect(page.get_by_role("listbox", name="Suggestions")).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).to_have_value("fracture")


def test_submit_the_form_and_read_the_results(page, live_server, book, axe_check):
    q = "fractured right ankle"
    doc = search(book, q, limit=PAGE_LIMIT)
    page.goto(live_server.url + "/")
    page.get_by_role("combobox", name="Search codes").fill(q)
    page.keyboard.press("Enter")  # no suggestion chosen: the form submits
    page.wait_for_url(re.compile(re.escape(reverse("search")) + r"\?q=fractured\+right\+ankle$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(q)
    results = page.locator("ol.search-results > li")
    expect(results).to_have_count(len(doc["results"]))
    first = results.first
    expect(first.get_by_role("link")).to_have_text(doc["results"][0]["code"])
    expect(first.locator("mark").first).to_be_visible()
    axe_check(page, "the search results page")
    # the filters form narrows the results
    page.get_by_label("Billable codes only").check()
    page.get_by_role("button", name="Search").last.click()
    page.wait_for_url(re.compile(r"billable=true"))
    billable = search(book, q, limit=PAGE_LIMIT, billable=True)["results"]
    expect(results).to_have_count(len(billable))
    expect(page.locator("ol.search-results .badge.no")).to_have_count(0)
    axe_check(page, "the filtered search results page")


def test_did_you_mean_and_no_script_fallback(browser, live_server, visitor_address, book):
    corrected = search(book, "gastritus")["corrected_query"]
    context = browser.new_context(java_script_enabled=False, extra_http_headers={"X-Forwarded-For": visitor_address})
    try:
        pg = context.new_page()
        pg.set_default_timeout(5_000)
        pg.goto(live_server.url + "/guidelines/")
        pg.get_by_label("Search codes").fill("gastritus")
        pg.keyboard.press("Enter")
        pg.wait_for_url(re.compile(r"/search\?q=gastritus$"))
        pg.get_by_role("link", name=corrected).click()
        pg.wait_for_url(re.compile(re.escape(f"/search?q={corrected}") + "$"))
        expect(pg.get_by_role("heading", level=1)).to_contain_text(corrected)
    finally:
        context.close()
