"""axe-core (the npm package, injected into the page) finds no serious or critical violation on
the site's main pages: home; a code page in full and gated; an ICD-10-PCS table; an unknown
code; register and log in (blank and with their errors); the guidelines and one of their
sections; browsing ICD-10-CM and ICD-10-PCS; HCPCS, CPT and modifier pages.

Each test is a fresh guest (see conftest.py): its first code page is shown in full.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest
from django.urls import NoReverseMatch, reverse
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FULL, GATED = "E11.9", "I10"


def url(live_server, name: str, *args) -> str:
    """A page of the site, or skip: the app that serves it is not there yet."""
    try:
        return live_server.url + reverse(name, args=args)
    except NoReverseMatch:
        pytest.skip(f"the site has no {name!r} page")


def follow_first(page, container: str, href_pattern: str) -> None:
    """Open the first link inside `container` whose href matches."""
    hrefs = page.eval_on_selector_all(f"{container} a[href]", "els => els.map(e => e.getAttribute('href'))")
    match = next((h for h in hrefs if re.search(href_pattern, h)), None)
    assert match, f"no link matching {href_pattern!r} in {container} on {page.url}"
    page.goto(urljoin(page.url, match))
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def test_home(page, live_server, axe_check):
    page.goto(live_server.url + "/")
    axe_check(page, "the home page")


def test_code_page_in_full_then_gated(page, live_server, axe_check):
    page.goto(url(live_server, "code", "icd10cm", FULL))
    expect(page.locator(f'main a[href^="{reverse("register")}"]')).to_have_count(0)
    axe_check(page, f"the code page {FULL} in full")
    page.goto(url(live_server, "code", "icd10cm", GATED))
    expect(page.locator(f'main a[href^="{reverse("register")}"]').first).to_be_visible()
    axe_check(page, f"the code page {GATED}, gated")


def test_hcpcs_and_cpt_pages(page, live_server, axe_check):
    page.goto(url(live_server, "code", "hcpcs", "G0008") + "?date=2026-06-01&locality=01112-05")
    expect(page.locator("#payment-h")).to_be_visible()
    axe_check(page, "the HCPCS page G0008 in full, with its edits and a locality's payment")
    page.goto(url(live_server, "code", "cpt", "29881") + "?date=2026-06-01")  # gated: G0008 was the one
    expect(page.locator("#cpt-notice")).to_be_visible()
    axe_check(page, "the CPT page 29881 without licensed data, gated")
    page.goto(url(live_server, "code", "modifier", "LT"))
    axe_check(page, "the modifier page LT")


def test_pcs_table_and_code(page, live_server, axe_check):
    page.goto(url(live_server, "code", "icd10pcs", "0RR"))
    expect(page.locator("main table").first).to_be_visible()
    axe_check(page, "the ICD-10-PCS table 0RR in full")
    page.goto(url(live_server, "code", "icd10pcs", "0RRJ0JZ"))  # gated: the table was this guest's one
    axe_check(page, "the ICD-10-PCS code 0RRJ0JZ, gated")


def test_code_not_found(page, live_server, axe_check):
    page.goto(url(live_server, "code", "icd10cm", "E11.99999"))
    axe_check(page, "the page for an unknown code")


@pytest.mark.parametrize("name", ["register", "login"])
def test_account_forms(page, live_server, axe_check, name):
    page.goto(url(live_server, name))
    axe_check(page, f"the {name} page")
    page.locator("main form button[type=submit]").last.click()  # an empty submission: the form with errors
    page.wait_for_load_state()
    axe_check(page, f"the {name} page with errors")


def test_guidelines_and_a_section(page, live_server, axe_check):
    page.goto(url(live_server, "guidelines"))
    axe_check(page, "the guidelines' outline")
    follow_first(page, "main", r"/guidelines/.")
    axe_check(page, "a guideline section")


def test_browse_pages(page, live_server, axe_check):
    page.goto(url(live_server, "browse"))
    axe_check(page, "the browse index")
    page.goto(url(live_server, "browse_system", "icd10cm"))
    axe_check(page, "the ICD-10-CM chapters")
    follow_first(page, "main ul", r"/browse/icd10cm/.")
    axe_check(page, "an ICD-10-CM chapter")
    page.goto(url(live_server, "browse_system", "icd10pcs"))
    axe_check(page, "the ICD-10-PCS sections")
    follow_first(page, "main ul", r"/browse/icd10pcs/.")
    axe_check(page, "an ICD-10-PCS section")
    follow_first(page, "main ul", r"/browse/icd10pcs/.")
    axe_check(page, "an ICD-10-PCS body system")


def test_the_check_itself_sees_a_violation(page, live_server, axe_violations):
    """A control: the same injection and filter report a page with known serious faults."""
    page.goto(live_server.url + "/")
    page.evaluate("""() => {
        const main = document.querySelector('main');
        main.insertAdjacentHTML('beforeend', '<p style="color:#ccc;background:#fff">faint text</p><input id="nolabel">');
    }""")
    ids = {v["id"] for v in axe_violations(page)}
    assert {"color-contrast", "label"} <= ids, ids
