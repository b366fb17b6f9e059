"""Case to code as a new user meets it: paste an ED note with a negated symptom and a diabetic complication,
check every suggestion against its highlight, reject one, copy the final list; axe-core finds no serious
violation on the form or the results."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from medcode.case2code import code_note

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NOTE = ("ED: 62-year-old with type 2 diabetes presents with a foot ulcer of the left heel, limited to breakdown "
        "of skin. Denies chest pain. Assessment: diabetic foot ulcer of the left heel; type 2 diabetes on insulin.")


def test_paste_a_note_check_the_highlights_and_copy_the_list(page, live_server, book, axe_check, settings):
    settings.MEDCODE_FEATURE_QUOTA_BACKEND = "db"
    settings.MEDCODE_FEATURE_QUOTAS = {**settings.MEDCODE_FEATURE_QUOTAS,
                                       "case2code": {"guest": 5, "free": 20, "paid": None}}
    expected = code_note(book, NOTE, "ed", "2026-04-01")
    codes = [s.code for s in expected.codes]
    assert codes[0].startswith("E11.62") and not any(c.startswith("R07") for c in codes)

    page.goto(live_server.url + "/")
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Case to code").click()
    page.wait_for_url(live_server.url + reverse("case2code"))
    axe_check(page, "the case to code form")
    page.get_by_label("Clinical note").fill(NOTE)
    page.get_by_label("Setting").select_option("ed")
    page.get_by_label("Date of service").fill("2026-04-01")
    page.get_by_role("button", name="Suggest codes").click()

    items = page.locator("#c2c-suggestions > li")
    expect(items).to_have_count(len(codes))
    expect(items.first).to_contain_text("first-listed")
    note = page.locator("#c2c-note-text")
    expect(note).to_contain_text("Denies chest pain.")
    for n, s in enumerate(expected.codes):
        expect(items.nth(n)).to_have_attribute("data-code", s.code)
        expect(items.nth(n)).to_contain_text(s.title)
        marks = note.locator(f'mark[data-codes~="{s.code}"]')
        assert marks.count() >= 1, s.code
        marked = " ".join(marks.all_inner_texts())
        for e in s.evidence:  # every quoted span is highlighted in the note, at its place
            assert e.text.split()[0] in marked, (s.code, e.text)
            assert NOTE[e.start:e.end] == e.text
    # the denied symptom is not highlighted as evidence for anything
    denied = note.locator("mark", has_text="chest pain")
    expect(denied).to_have_count(0)
    axe_check(page, "the case to code results")

    final = page.get_by_label("Accepted codes, in sequence (edit freely, then copy)")
    assert [line.split()[0] for line in final.input_value().splitlines()] == codes
    # reject the last suggestion: it leaves the list, its evidence greys out
    last = expected.codes[-1]
    page.get_by_role("checkbox", name=f"{last.code} {last.title}").uncheck()
    assert [line.split()[0] for line in final.input_value().splitlines()] == codes[:-1]
    only_last = [m for m in note.locator(f'mark[data-codes="{last.code}"]').all()]
    for m in only_last:
        expect(m).to_have_class(re.compile(r"\brejected\b"))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.get_by_role("button", name="Copy list").click()
    expect(page.locator("#copy-status")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()").splitlines()[0].startswith(codes[0])


def test_reading_works_without_javascript(browser, live_server, visitor_address, settings):
    settings.MEDCODE_FEATURE_QUOTA_BACKEND = "db"
    context = browser.new_context(java_script_enabled=False, extra_http_headers={"X-Forwarded-For": visitor_address})
    page = context.new_page()
    try:
        page.goto(live_server.url + reverse("case2code"))
        page.get_by_label("Clinical note").fill(NOTE)
        page.get_by_role("button", name="Suggest codes").click()
        expect(page.locator("#c2c-suggestions > li").first).to_contain_text("E11.62")
        expect(page.locator("#c2c-note-text mark").first).to_be_visible()
        expect(page.get_by_role("button", name="Copy list")).to_be_hidden()  # needs the script; the box is there
        assert "E11.62" in page.get_by_label("Accepted codes, in sequence (edit freely, then copy)").input_value()
    finally:
        context.close()
