"""Seekers: /jobs search and every filter, sorting, pagination, the job page's JSON-LD, and the feeds."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jobkit import scan
from medcode.careers import actions
from medcode.careers.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def board(employer_user, post_job, make_user):
    """Six open jobs of two employers, one closed and one draft."""
    other = make_user("talent@northwind.example")
    actions.save_employer(other, company_name="Northwind Clinics (synthetic)")
    jobs = {
        "remote_cpc": post_job(employer_user, title="Remote Pro-Fee Coder", credentials=["CPC"],
                               coding_settings=["profee"], specialties=["cardiology"], salary_min=Decimal("28"),
                               salary_max=Decimal("32"), salary_period="hour"),          # 66,560 a year
        "inpatient_ccs": post_job(employer_user, title="Inpatient DRG Coder", workplace="onsite", city="Austin",
                                  state="TX", credentials=["CCS"], coding_settings=["inpatient"], specialties=[],
                                  salary_min=Decimal("70000"), salary_max=Decimal("80000"),
                                  description="Assign ICD-10-PCS and DRG for inpatient stays. Synthetic."),
        "ccsp": post_job(other, title="Physician Coder", workplace="hybrid", city="Denver", state="CO",
                         credentials=["CCS-P"], coding_settings=["profee"], specialties=["orthopedics"],
                         salary_min=Decimal("4000"), salary_max=Decimal("4500"), salary_period="month"),  # 54,000
        "risk": post_job(other, title="HCC Risk Adjustment Auditor", credentials=["CRC", "CPMA"],
                         coding_settings=["risk", "auditing"], specialties=[], employment_type="contract",
                         salary_min=None, salary_max=None),
        "cad": post_job(other, title="Remote Coder Canada", credentials=["CPC"], coding_settings=["outpatient"],
                        country="CA", salary_currency="CAD", salary_min=Decimal("90000"), salary_max=Decimal("95000")),
        "educator": post_job(employer_user, title="Coding Educator", credentials=["RHIA"], coding_settings=["education"],
                             specialties=[], employment_type="part_time", salary_min=Decimal("60000"), salary_max=None),
    }
    closed = post_job(employer_user, title="Closed Remote CPC Job", credentials=["CPC"])
    actions.close(closed, employer_user)
    actions.create_job(employer_user, {**_base(), "title": "Draft Remote CPC Job"})
    return jobs


def _base():
    from jobkit import JOB_DATA

    return dict(JOB_DATA)


def titles(params: dict | str) -> list[str]:
    r = Client().get(reverse("jobs:list"), params)
    assert r.status_code == 200, r.content.decode()[:500]
    return [j.title for j in r.context["page"].items]


def test_lists_open_jobs_newest_first(board):
    got = titles({})
    assert got == ["Coding Educator", "Remote Coder Canada", "HCC Risk Adjustment Auditor", "Physician Coder",
                   "Inpatient DRG Coder", "Remote Pro-Fee Coder"]


@pytest.mark.parametrize("params, expected", [
    ({"workplace": "remote"}, {"Remote Pro-Fee Coder", "HCC Risk Adjustment Auditor", "Remote Coder Canada",
                               "Coding Educator"}),
    ({"workplace": ["hybrid", "onsite"]}, {"Inpatient DRG Coder", "Physician Coder"}),
    ({"credential": "CPC"}, {"Remote Pro-Fee Coder", "Remote Coder Canada"}),
    ({"credential": "CCS"}, {"Inpatient DRG Coder"}),  # not CCS-P
    ({"credential": "CCS-P"}, {"Physician Coder"}),
    ({"credential": ["CRC", "RHIA"]}, {"HCC Risk Adjustment Auditor", "Coding Educator"}),
    ({"credential": "CPC", "workplace": "remote"}, {"Remote Pro-Fee Coder", "Remote Coder Canada"}),
    ({"setting": "profee"}, {"Remote Pro-Fee Coder", "Physician Coder"}),
    ({"setting": "auditing"}, {"HCC Risk Adjustment Auditor"}),
    ({"specialty": "orthopedics"}, {"Physician Coder"}),
    ({"employment_type": "contract"}, {"HCC Risk Adjustment Auditor"}),
    ({"location": "Austin"}, {"Inpatient DRG Coder"}),
    ({"location": "denver, co"}, {"Physician Coder"}),
    ({"location": "CA"}, {"Remote Coder Canada"}),
    ({"location": "Austin, CO"}, set()),
    # pay per year: hourly x 2080 (32 -> 66,560), monthly x 12 (4,500 -> 54,000); USD jobs only
    ({"min_salary": "60000"}, {"Remote Pro-Fee Coder", "Inpatient DRG Coder", "Coding Educator"}),
    ({"min_salary": "66560"}, {"Remote Pro-Fee Coder", "Inpatient DRG Coder"}),
    ({"min_salary": "54000"}, {"Remote Pro-Fee Coder", "Inpatient DRG Coder", "Physician Coder", "Coding Educator"}),
    ({"min_salary": "54001"}, {"Remote Pro-Fee Coder", "Inpatient DRG Coder", "Coding Educator"}),
    ({"min_salary": "85000", "currency": "CAD"}, {"Remote Coder Canada"}),
    ({"q": "drg"}, {"Inpatient DRG Coder"}),
    ({"q": "Northwind"}, {"Physician Coder", "HCC Risk Adjustment Auditor", "Remote Coder Canada"}),
    ({"q": "remote coder"}, {"Remote Pro-Fee Coder", "Remote Coder Canada"}),
    ({"q": "cardiology"}, {"Remote Pro-Fee Coder", "Physician Coder", "Coding Educator",
                           "HCC Risk Adjustment Auditor", "Remote Coder Canada"}),  # JOB_DATA's description
    ({"q": "zebra"}, set()),
])
def test_filters(board, params, expected):
    assert set(titles(params)) == expected


def test_posted_within_days(board):
    Job.objects.filter(pk=board["risk"].pk).update(posted_at=timezone.now() - timedelta(days=10))
    Job.objects.filter(pk=board["educator"].pk).update(posted_at=timezone.now() - timedelta(days=2))
    got = set(titles({"posted_within": "7"}))
    assert "HCC Risk Adjustment Auditor" not in got and "Coding Educator" in got
    assert "HCC Risk Adjustment Auditor" in titles({"posted_within": "14"})


def test_sort_by_salary_puts_unpaid_listings_last(board):
    got = titles({"sort": "salary", "currency": "USD"})
    # annual max: CAD 95,000 (no conversion: amounts compare as written), 80,000, 66,560, 60,000, 54,000, none
    assert got == ["Remote Coder Canada", "Inpatient DRG Coder", "Remote Pro-Fee Coder", "Coding Educator",
                   "Physician Coder", "HCC Risk Adjustment Auditor"]


def test_pagination(board, settings, monkeypatch):
    from medcode.careers import search

    monkeypatch.setattr(search, "PER_PAGE", 4)
    r = Client().get(reverse("jobs:list"), {"credential": ["CPC", "CCS", "CCS-P", "CRC", "RHIA"]})
    page = r.context["page"]
    assert (page.count, page.pages, len(page.items), page.has_next) == (6, 2, 4, True)
    html = r.content.decode()
    assert 'rel="next"' in html and "page=2" in html and "credential=CPC" in html
    r2 = Client().get(reverse("jobs:list"), {"credential": ["CPC", "CCS", "CCS-P", "CRC", "RHIA"], "page": "2"})
    assert len(r2.context["page"].items) == 2 and not r2.context["page"].has_next
    seen = {j.pk for j in page.items} | {j.pk for j in r2.context["page"].items}
    assert len(seen) == 6
    r3 = Client().get(reverse("jobs:list"), {"page": "99"})
    assert r3.status_code == 200 and r3.context["page"].items == []


@pytest.mark.parametrize("params", [{"credential": "CPX"}, {"min_salary": "-1"}, {"page": "abc"},
                                    {"sort": "drop table"}, {"posted_within": "9999"},
                                    # '²'.isdigit() is True but int('²') raises: these were 500s
                                    {"page": "\u00b2"}, {"min_salary": "5\u00b2"}, {"posted_within": "\u00b3"},
                                    {"page": "\u0661"}])  # an Arabic-Indic 1 is not a page number either
def test_bad_search_parameters_are_a_400_page_that_names_them(board, params):
    r = Client().get(reverse("jobs:list"), params)
    assert r.status_code == 400
    name = next(iter(params))
    assert name in r.context["errors"]
    assert f"{name}:" in r.content.decode()


def test_the_search_form_keeps_what_was_chosen(board):
    html = Client().get(reverse("jobs:list"), {"credential": "CPC", "workplace": "remote", "q": "coder"}).content.decode()
    tags = scan(html).tags
    checked = {(a.get("name"), a.get("value")) for t, a in tags if t == "input" and "checked" in a}
    assert ("credential", "CPC") in checked and ("workplace", "remote") in checked
    assert any(t == "input" and a.get("name") == "q" and a.get("value") == "coder" for t, a in tags)


# --- the job page ---------------------------------------------------------------------------------

def test_job_page_embeds_job_posting_json_ld(board):
    job = board["remote_cpc"]
    html = Client().get(reverse("jobs:detail", args=[job.pk])).content.decode()
    blocks = [text for attrs, text in scan(html).scripts if attrs.get("type") == "application/ld+json"]
    assert len(blocks) == 1
    data = json.loads(blocks[0])
    assert data["@type"] == "JobPosting" and data["title"] == "Remote Pro-Fee Coder"
    assert data["jobLocationType"] == "TELECOMMUTE"
    assert data["hiringOrganization"]["name"] == "Acme Health (synthetic)"
    assert data["baseSalary"]["value"] == {"@type": "QuantitativeValue", "minValue": 28, "maxValue": 32,
                                           "unitText": "HOUR"}
    assert data["datePosted"] == job.posted_at.date().isoformat()
    assert data["validThrough"] == job.expires_at.isoformat()
    assert data["employmentType"] == "FULL_TIME" and data["url"].endswith(f"/jobs/{job.pk}/")
    assert "<strong>outpatient</strong>" in data["description"]

    onsite = json.loads([t for a, t in scan(Client().get(reverse("jobs:detail", args=[board["inpatient_ccs"].pk]))
                                            .content.decode()).scripts if a.get("type") == "application/ld+json"][0])
    assert onsite["jobLocation"]["address"]["addressLocality"] == "Austin" and "jobLocationType" not in onsite


def test_no_json_ld_for_a_job_that_is_not_open(employer_user, post_job):
    job = post_job(employer_user)
    actions.close(job, employer_user)
    from jobkit import client_for
    html = client_for(employer_user).get(reverse("jobs:detail", args=[job.pk])).content.decode()
    assert "application/ld+json" not in html and "closed" in html


def test_unknown_job_is_404():
    assert Client().get("/jobs/999999/").status_code == 404
    assert Client().get("/jobs/abc/").status_code == 404


# --- feeds ----------------------------------------------------------------------------------------

def test_rss_feed_of_a_search(board):
    r = Client().get(reverse("jobs:feed_rss"), {"credential": "CPC", "workplace": "remote"})
    assert r.status_code == 200 and r["Content-Type"].startswith("application/rss+xml")
    root = ET.fromstring(r.content)
    items = root.findall("./channel/item")
    assert [i.findtext("title") for i in items] == ["Remote Coder Canada — Northwind Clinics (synthetic)",
                                                    "Remote Pro-Fee Coder — Acme Health (synthetic)"]
    assert items[1].findtext("link").endswith(f"/jobs/{board['remote_cpc'].pk}/")
    assert "CPC" in root.findtext("./channel/title")
    assert "28–32 USD per hour" in items[1].findtext("description")


def test_atom_feed(board):
    r = Client().get(reverse("jobs:feed_atom"), {"setting": "inpatient"})
    assert r.status_code == 200 and r["Content-Type"].startswith("application/atom+xml")
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = ET.fromstring(r.content).findall("a:entry", ns)
    assert [e.findtext("a:title", namespaces=ns) for e in entries] == ["Inpatient DRG Coder — Acme Health (synthetic)"]


def test_feed_refuses_bad_parameters():
    r = Client().get(reverse("jobs:feed_rss"), {"credential": "<CPX>"})
    assert r.status_code == 400 and r["Content-Type"].startswith("text/plain")


def test_list_page_links_its_feeds(board):
    html = Client().get(reverse("jobs:list"), {"credential": "CPC"}).content.decode()
    alternates = [a for t, a in scan(html).tags if t == "link" and a.get("rel") == "alternate"]
    assert {a["type"] for a in alternates} == {"application/rss+xml", "application/atom+xml"}
    assert all("credential=CPC" in a["href"] for a in alternates)


def test_nav_links_to_jobs():
    html = Client().get(reverse("jobs:list")).content.decode()
    nav = [a for t, a in scan(html).tags if t == "a" and a.get("href") == "/jobs/"]
    assert nav
