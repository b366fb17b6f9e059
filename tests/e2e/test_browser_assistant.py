"""The chat page as a new user meets it: pick an example question, watch the answer stream in
(worded by the scripted model on loopback), follow a citation to the code page; and the same
page without JavaScript."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from scripted_llm import llm_server  # noqa: F401  (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def assistant_settings(settings, llm_server):
    settings.MEDCODE_FEATURE_QUOTA_BACKEND = "db"
    settings.MEDCODE_FEATURE_QUOTAS = {"assistant": {"guest": 3, "free": 20, "paid": None}}
    settings.MEDCODE_LLM_BASE_URL, settings.MEDCODE_LLM_MODEL = llm_server.base_url, "script:trickle"
    settings.MEDCODE_LLM_DEADLINE = 20


def test_ask_an_example_watch_it_stream_and_follow_a_citation(page, live_server, axe_check, settings):
    page.goto(live_server.url + "/")
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Assistant").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ask a coding question")
    page.get_by_role("link", name="What is K21.9?").click()
    # the words arrive while the model writes them
    streaming = page.locator("article.pending .answer.streaming")
    expect(streaming).to_contain_text("From the sources", timeout=10_000)
    expect(page.locator("#ask-status")).to_have_text("Answering…")
    # then the rendered answer, its sources and codes take its place
    answer = page.locator("article.exchange:not(.pending)").first
    expect(answer.get_by_role("heading", level=2)).to_contain_text("What is K21.9?", timeout=15_000)
    expect(answer.locator(".answer")).to_contain_text("From the sources")
    expect(answer.locator(".meta")).to_contain_text("worded by a language model (script:trickle)")
    expect(page.locator("#ask-status")).to_have_text("Answer ready.")
    expect(page).to_have_url(re.compile(r"/assistant/c/[0-9a-f-]{36}$"))
    expect(page.locator("#conversation-list")).to_contain_text("What is K21.9?")
    expect(page.locator("#ask-remaining")).to_have_text("2 of 3 questions left today.")
    axe_check(page, "the chat page with an answer")
    # a follow-up, typed, in the same conversation (answered from the sources alone, quicker)
    settings.MEDCODE_LLM_BASE_URL = ""
    page.get_by_label("Ask a follow-up").fill("and its excludes?")  # the label follows the conversation
    page.get_by_role("button", name="Ask").click()
    expect(page.locator("article.exchange:not(.pending)")).to_have_count(2, timeout=15_000)
    second = page.locator("article.exchange").nth(1)
    expect(second.locator(".answer")).to_contain_text("Excludes")
    expect(second.locator(".answer").get_by_role("link").first).to_be_visible()  # its sources, linked in the text
    # follow a citation to the code page
    answer.locator("ol.citations").get_by_role("link", name=re.compile(r"K21\.9$")).first.click()
    page.wait_for_url(re.compile(r"/codes/icd10cm/K21\.9"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("K21.9")


def test_the_page_works_without_javascript(browser, live_server, visitor_address, settings):
    settings.MEDCODE_LLM_BASE_URL = ""
    context = browser.new_context(java_script_enabled=False, extra_http_headers={"X-Forwarded-For": visitor_address})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(live_server.url + "/assistant")
        page.get_by_role("link", name="Is I50.2 billable?").click()  # fills the box (a GET link)
        expect(page.get_by_label("Your question")).to_have_value("Is I50.2 billable?")
        page.get_by_role("button", name="Ask").click()
        page.wait_for_url(re.compile(r"/assistant/c/[0-9a-f-]{36}#a\d+$"))
        answer = page.locator("article.exchange").last
        expect(answer.get_by_role("heading", level=2)).to_contain_text("Is I50.2 billable?")
        expect(answer.locator(".answer")).to_contain_text("I50.2")
    finally:
        context.close()
