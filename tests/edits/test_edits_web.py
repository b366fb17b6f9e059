"""/edits/check, the claim edit checker's form: renders, refuses a POST without its CSRF token, shows the
findings with their lines and links, and answers bad input with a 400 that says why."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from medcode.edits import run_check
from pagedom import check_page, dom

pytestmark = pytest.mark.django_db
WHEN = "2026-03-01"


@pytest.fixture(autouse=True)
def _own_cache(settings):
    settings.MEDCODE_METER_BACKEND = "db"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"edits-web-{uuid.uuid4().hex}"}}


@pytest.fixture
def csrf_client():
    """A browser-like client: CSRF enforced, token taken from the form as a browser would."""
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("edits_check"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)

    def submit(data: dict):
        return client.post(reverse("edits_check"), {"csrfmiddlewaretoken": token, **data})

    client.submit = submit
    return client


def rows(*lines, setting="practitioner", date=WHEN, extra=0) -> dict:
    data = {"setting": setting, "date": date, "rows": str(len(lines) + extra)}
    for n, (code, mods, units) in enumerate(lines):
        data.update({f"code_{n}": code, f"mods_{n}": mods, f"units_{n}": units})
    return data


def by_class(node, tag: str, cls: str) -> list:
    return [n for n in node.iter(tag) if cls in n.attrs.get("class", "").split()]


def one(node, tag: str, cls: str):
    (found,) = by_class(node, tag, cls)
    return found


def form_of(page):
    return one(page, "form", "edits-form")


def field(form, name: str):
    return form.find("input", name=name)


def error_box(response):
    return dom(response).find(id="edits-error")


def test_the_form_renders_with_a_nav_link(client):
    r = client.get(reverse("edits_check"))
    assert r.status_code == 200
    assert check_page(r.content.decode()) == []
    page = dom(r)
    assert page.find("h1").text == "Claim edit checker"
    form = form_of(page)
    assert form.attrs["method"] == "post" and field(form, "csrfmiddlewaretoken") is not None
    names = {n.attrs.get("name") for n in form.iter() if n.tag in ("input", "select", "textarea")}
    assert {"setting", "date", "rows", "paste", "code_0", "mods_0", "units_0"} <= names
    assert [b.text for b in form.iter("button")] == ["Check the claim", "Add a line"]
    assert reverse("edits_check") in page.find("nav", **{"aria-label": "Site"}).links()


def test_a_post_without_the_csrf_token_is_refused():
    client = Client(enforce_csrf_checks=True)
    r = client.post(reverse("edits_check"), rows(("29881", "", ""), ("29880", "59", "")))
    assert r.status_code == 403


def test_results_show_each_finding_with_its_lines_and_links(csrf_client, book):
    r = csrf_client.submit(rows(("29881", "", ""), ("29880", "59", ""), ("J1100", "", "12"), ("29881", "", ""),
                                extra=1))
    assert r.status_code == 400  # line 4 repeats line 1
    assert "lines 1 and 4 are the same service" in error_box(r).text
    r = csrf_client.submit(rows(("29881", "", ""), ("29880", "59", ""), ("j1100", "", "12"), extra=1))
    assert r.status_code == 200
    assert check_page(r.content.decode()) == []
    page = dom(r)
    expected = run_check(book, ["29881", "29880-59", "J1100x12"], "practitioner", WHEN)
    items = list(one(page, "ol", "findings").iter("li"))
    assert len(items) == len(expected.findings) >= 1
    for li, f in zip(items, expected.findings):
        assert " ".join(f.message.split()) in li.text and " ".join(f.fix.split()) in li.text
        assert f"sev-{f.severity}" in li.attrs["class"].split()
    summary = one(page, "p", "edits-summary").text
    assert summary.startswith(f"{expected.counts()['error']} error")
    # the claim as read: the lines of the PTP finding are highlighted and point to it
    table = one(page, "table", "claim-read")
    marked = {tr.find("th").text: tr.attrs["class"].split() for tr in table.iter("tr") if tr.attrs.get("id")}
    ptp = next(f for f in expected.findings if f.kind == "ptp")
    for i in ptp.lines:
        assert "sev-error" in marked[str(i + 1)]
    assert marked["3"] == ["line"]  # J1100 x12 is within its MUE
    # code pages: J1100 links to its page for the date; G0008 and J1100 pages exist
    assert f"{reverse('code', args=['hcpcs', 'J1100'])}?date={WHEN}" in table.links()
    for code in ("G0008", "J1100"):
        assert csrf_client.get(reverse("code", args=["hcpcs", code])).status_code == 200
    # the form comes back filled with the claim as read, ready to change
    form = form_of(page)
    assert field(form, "code_2").attrs["value"] == "J1100" and field(form, "units_2").attrs["value"] == "12"


def test_pasted_lines_and_a_code_box_with_modifiers(csrf_client, book):
    expected = run_check(book, "29881, 29880-59", "practitioner", WHEN)
    r = csrf_client.submit({"setting": "practitioner", "date": WHEN, "rows": "2", "paste": "29881, 29880-59"})
    assert r.status_code == 200
    assert len(list(one(dom(r), "ol", "findings").iter("li"))) == len(expected.findings)
    r = csrf_client.submit(rows(("29881", "", ""), ("29880-59", "", "")))  # typed CLI-style in the code box
    assert r.status_code == 200 and len(list(one(dom(r), "ol", "findings").iter("li"))) == len(expected.findings)


def test_a_clean_claim_says_so(csrf_client):
    r = csrf_client.submit(rows(("G0008", "", ""), setting="hospital"))
    assert r.status_code == 200
    assert "No problems found" in one(dom(r), "p", "edits-summary").text


def test_add_a_line_without_javascript(csrf_client):
    r = csrf_client.submit({**rows(("29881", "", ""), ("", "", "")), "add": "1"})
    assert r.status_code == 200
    form = form_of(dom(r))
    assert field(form, "rows").attrs["value"] == "3" and field(form, "code_0").attrs["value"] == "29881"
    assert field(form, "code_2").attrs["value"] == ""
    assert not by_class(dom(r), "ol", "findings")  # nothing checked yet


@pytest.mark.parametrize("data, message", [
    (rows(("29881", "", "0")), "units must be at least 1"),
    (rows(("29881", "", "lots")), "whole number"),
    (rows(("29881", "", "\u00b2")), "whole number"),  # '²'.isdigit() is True, int('²') raised: a 500
    (rows(("29881", "", "\u0661\u0662")), "whole number"),  # Arabic-Indic 12: not read as units
    (rows(("29881", "5", "")), "two letters or digits"),
    (rows(("", "59", "")), "the code is missing"),
    (rows(("29881", "", ""), date="2026-02-30"), "not a date"),
    (rows(("29881", "", ""), setting="inpatient"), "unknown setting"),
    (rows(), "no lines"),
    ({"paste": "29881, 29880x"}, "units must follow the x"),
    ({"paste": ", ".join(str(10000 + i) for i in range(60))}, "at most 50"),
    ({"paste": "2" * 9000}, "at most 8,000"),
    ({"rows": "nonsense", "code_0": "29881", "units_0": "-1"}, "units"),
])
def test_bad_input_is_a_400_that_says_why(csrf_client, data, message):
    r = csrf_client.submit(data)
    assert r.status_code == 400
    assert message in error_box(r).text
    assert form_of(dom(r)) is not None  # the form stays, to correct
    assert check_page(r.content.decode()) == []


def test_the_bad_line_is_marked_in_the_form(csrf_client):
    r = csrf_client.submit(rows(("29881", "", ""), ("", "", ""), ("29880", "", "0")))
    assert r.status_code == 400
    form = form_of(dom(r))
    # lines are renumbered so the message's "line 2" is the form's line 2
    assert "line 2: units must be at least 1" in error_box(r).text
    assert field(form, "code_1").attrs["value"] == "29880" and field(form, "code_1").attrs["aria-invalid"] == "true"
    assert "aria-invalid" not in field(form, "code_0").attrs
