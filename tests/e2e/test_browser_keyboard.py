"""Keyboard only: from the home page to a code page and on to the paywall's register link,
with the focus visible at every stop."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MAX_TABS = 80  # a page whose next control is further than this is unusable by keyboard anyway

FOCUS_STYLE = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const s = getComputedStyle(e);
  const r = e.getBoundingClientRect();
  return {tag: e.tagName, text: (e.innerText || e.value || '').slice(0, 60),
          focusVisible: e.matches(':focus-visible'),
          outlineStyle: s.outlineStyle, outlineWidth: parseFloat(s.outlineWidth) || 0,
          boxShadow: s.boxShadow, onScreen: r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > 0};
}"""


def assert_focus_visible(page) -> None:
    """The focused element shows a focus indicator (an outline or a box shadow) and is on screen."""
    f = page.evaluate(FOCUS_STYLE)
    assert f is not None, "nothing has the focus"
    assert f["onScreen"], f"the focused element is off screen: {f}"
    indicated = (f["outlineStyle"] != "none" and f["outlineWidth"] > 0) or f["boxShadow"] not in ("", "none")
    assert indicated, f"the focused element shows no focus indicator: {f}"


def tab_until(page, predicate_js: str, what: str):
    """Press Tab until `predicate_js(document.activeElement)` holds; check focus is visible at each stop."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        assert_focus_visible(page)
        if page.evaluate(f"() => {{ const e = document.activeElement; return !!({predicate_js}); }}"):
            return
    raise AssertionError(f"{MAX_TABS} presses of Tab did not reach {what}")


def open_code_by_keyboard(page, live_server, typed: str, code: str) -> None:
    page.goto(live_server.url + "/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    tab_until(page, "e.id === 'code'", "the code box")
    expect(page.get_by_label("Open an ICD-10-CM code")).to_be_focused()
    page.keyboard.type(typed)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(re.escape(reverse("code", args=["icd10cm", code])) + "$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(code)


def test_keyboard_only_from_the_home_page_to_the_paywalls_register_link(page, live_server):
    open_code_by_keyboard(page, live_server, "e11.9", "E11.9")   # the guest's one code in full
    open_code_by_keyboard(page, live_server, "i10", "I10")       # gated now

    register = reverse("register")
    tab_until(page, f"e.closest('main') && (e.getAttribute('href') || '').startsWith('{register}')",
              "the register link in the paywall prompt")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(re.escape(register)))
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
