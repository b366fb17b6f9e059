"""GET /api/v1/jobs and /api/v1/jobs/{id}: the same filters as /jobs, pagination, the v1 error shape,
and the OpenAPI document."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from medcode.accounts.models import ApiKey
from medcode.careers import actions

pytestmark = pytest.mark.django_db


@pytest.fixture
def jobs(employer_user, post_job):
    return {
        "remote": post_job(employer_user, title="Remote CPC", salary_min=Decimal("25"), salary_max=Decimal("31"),
                           salary_period="hour"),
        "onsite": post_job(employer_user, title="Onsite CCS", workplace="onsite", city="Austin", state="TX",
                           credentials=["CCS"], coding_settings=["inpatient"], salary_min=None, salary_max=None,
                           apply_mode="external", apply_url="https://acme.example/apply"),
        "crc": post_job(employer_user, title="Remote CRC", credentials=["CRC"], coding_settings=["risk"],
                        salary_min=Decimal("70000"), salary_max=Decimal("80000")),
    }


def get(path: str, params=None, **headers):
    r = Client().get(path, params or {}, **headers)
    return r, r.json()


def test_list_jobs(jobs):
    r, doc = get("/api/v1/jobs")
    assert r.status_code == 200 and r["Content-Type"] == "application/json; charset=utf-8"
    assert (doc["count"], doc["page"], doc["pages"], doc["per_page"]) == (3, 1, 1, 20)
    assert [j["title"] for j in doc["results"]] == ["Remote CRC", "Onsite CCS", "Remote CPC"]
    remote = doc["results"][2]
    assert remote["id"] == jobs["remote"].pk
    assert remote["url"] == f"http://testserver/jobs/{jobs['remote'].pk}/"
    assert remote["company"] == {"name": "Acme Health (synthetic)", "website": "https://acme.example", "logo_url": None}
    assert remote["location"] == {"workplace": "remote", "city": None, "state": None, "country": "US"}
    assert remote["salary"] == {"min": 25.0, "max": 31.0, "currency": "USD", "period": "hour",
                                "annual_min": 52000, "annual_max": 64480}
    assert remote["credentials"] == ["CPC"] and remote["settings"] == ["outpatient", "profee"]
    assert remote["apply"] == {"mode": "onsite", "url": remote["url"]}
    assert "<strong>outpatient</strong>" in remote["description_html"]
    onsite = doc["results"][1]
    assert onsite["salary"] is None and onsite["apply"] == {"mode": "external", "url": "https://acme.example/apply"}
    assert int(r["X-RateLimit-Limit"]) > 0


@pytest.mark.parametrize("params, expected", [
    ({"credential": "CPC", "workplace": "remote"}, ["Remote CPC"]),
    ({"credential": "CPC,CRC"}, ["Remote CRC", "Remote CPC"]),
    ({"credential": ["CPC", "CCS"]}, ["Onsite CCS", "Remote CPC"]),
    ({"setting": "risk"}, ["Remote CRC"]),
    ({"min_salary": "64000"}, ["Remote CRC", "Remote CPC"]),
    ({"min_salary": "64481"}, ["Remote CRC"]),
    ({"location": "Austin"}, ["Onsite CCS"]),
    ({"q": "CRC"}, ["Remote CRC"]),
    ({"sort": "salary"}, ["Remote CRC", "Remote CPC", "Onsite CCS"]),
])
def test_filters_match_the_web_page(jobs, params, expected):
    r, doc = get("/api/v1/jobs", params)
    assert r.status_code == 200
    assert [j["title"] for j in doc["results"]] == expected
    web = Client().get("/jobs/", params).context["page"]
    assert [j.title for j in web.items] == expected


def test_pagination(jobs):
    _, first = get("/api/v1/jobs", {"per_page": "2"})
    _, second = get("/api/v1/jobs", {"per_page": "2", "page": "2"})
    assert (first["count"], first["pages"], len(first["results"]), len(second["results"])) == (3, 2, 2, 1)
    assert {j["id"] for j in first["results"] + second["results"]} == {j.pk for j in jobs.values()}
    _, beyond = get("/api/v1/jobs", {"page": "5"})
    assert beyond["results"] == [] and beyond["count"] == 3


@pytest.mark.parametrize("params, name", [
    ({"credential": "CPX"}, "credential"),
    ({"workplace": "moon"}, "workplace"),
    ({"min_salary": "-1"}, "min_salary"),
    ({"min_salary": "abc"}, "min_salary"),
    ({"page": "0"}, "page"),
    ({"page": "x"}, "page"),
    ({"sort": "best"}, "sort"),
    ({"posted_within": "1000"}, "posted_within"),
    ({"currency": "ZZZ"}, "currency"),
    ({"q": "x" * 300}, "q"),
    ({"per_page": "0"}, "per_page"),
    ({"per_page": "1000"}, "per_page"),
    ({"per_page": "ten"}, "per_page"),
    ({"page": "\u00b2"}, "page"),  # '²'.isdigit() is True but int('²') raises: these were 500s
    ({"per_page": "\u00b2"}, "per_page"),
    ({"min_salary": "\u00b9\u00b2"}, "min_salary"),
])
def test_bad_parameters_get_the_error_shape(jobs, params, name):
    r, doc = get("/api/v1/jobs", params)
    assert r.status_code == 400
    assert set(doc) == {"error"} and doc["error"]["code"] == "bad_request"
    assert name in doc["error"]["message"]
    assert r["Cache-Control"] == "no-store"


def test_one_job(jobs):
    job = jobs["crc"]
    r, doc = get(f"/api/v1/jobs/{job.pk}")
    assert r.status_code == 200 and doc["title"] == "Remote CRC" and doc["id"] == job.pk
    assert doc["posted_at"].startswith(job.posted_at.date().isoformat())


def test_closed_unknown_and_malformed_jobs(jobs, employer_user):
    actions.close(jobs["crc"], employer_user)
    for path, status, code in [(f"/api/v1/jobs/{jobs['crc'].pk}", 404, "not_found"),
                               ("/api/v1/jobs/999999", 404, "not_found"),
                               ("/api/v1/jobs/abc", 400, "bad_request"),
                               ("/api/v1/jobs/" + "9" * 30, 400, "bad_request"),
                               ("/api/v1/jobs/%C2%B2", 400, "bad_request")]:  # '²': was a 500
        r, doc = get(path)
        assert r.status_code == status and doc["error"]["code"] == code, path
    r, doc = get("/api/v1/jobs")
    assert doc["count"] == 2


def test_writing_is_not_allowed(jobs):
    r = Client().post("/api/v1/jobs", {"title": "x"})
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_an_api_key_is_accepted_and_a_bad_one_refused(jobs, seeker):
    _, raw = ApiKey.issue(seeker)
    r, doc = get("/api/v1/jobs", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert r.status_code == 200 and doc["count"] == 3
    r, doc = get("/api/v1/jobs", HTTP_AUTHORIZATION="Bearer mc_nope")
    assert r.status_code == 401 and doc["error"]["code"] == "invalid_key"


def test_rate_limited_like_every_call(jobs, settings):
    settings.MEDCODE_API_RATES = {**settings.MEDCODE_API_RATES, "guest": 2}
    codes = [Client().get("/api/v1/jobs").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_openapi_documents_the_jobs_operations():
    spec = Client().get("/api/v1/openapi.json").json()
    listing = spec["paths"]["/api/v1/jobs"]["get"]
    assert listing["operationId"] == "list_jobs" and listing["tags"] == ["jobs"]
    names = {p["name"] for p in listing["parameters"]}
    assert {"q", "workplace", "credential", "setting", "specialty", "employment_type", "min_salary", "currency",
            "location", "posted_within", "sort", "page", "per_page"} <= names
    assert {"200", "400", "429"} <= set(listing["responses"])
    one = spec["paths"]["/api/v1/jobs/{job_id}"]["get"]
    assert one["operationId"] == "get_job" and "404" in one["responses"]
    schema = spec["components"]["schemas"]["JobOut"]
    assert {"title", "company", "location", "salary", "credentials", "apply", "posted_at", "expires_at"} <= \
        set(schema["properties"])
