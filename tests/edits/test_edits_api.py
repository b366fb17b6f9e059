"""POST /api/v1/edits/check: the v1 contract (checked against medcode.edits over the book, not literals),
its errors in the API's error shape (never a 500), its rate limit, and that it is not metered."""

from __future__ import annotations

import json
import uuid

import pytest
from django.core.cache import cache

from medcode.accounts import apikeys
from medcode.accounts.models import MeterView
from medcode.edits import run_check

URL = "/api/v1/edits/check"
WHEN = "2026-03-01"


@pytest.fixture(autouse=True)
def _fresh(settings, db):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"edits-api-{uuid.uuid4().hex}"}}
    settings.REDIS_URL = ""
    settings.MEDCODE_QUOTAS = {"guest": 1, "free": 5, "paid": None}
    settings.MEDCODE_API_RATES = {"guest": 30, "free": 120, "paid": 1200}
    yield
    cache.clear()


def post(client, body, raw: bool = False, **headers):
    return client.post(URL, body if raw else json.dumps(body), content_type="application/json", **headers)


def error_of(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


def test_the_contract(client, book):
    lines = [{"code": "29881"}, {"code": "29880", "modifiers": ["59"], "units": 1}, {"code": "J1100", "units": 12}]
    r = post(client, {"setting": "practitioner", "date": WHEN, "lines": lines})
    assert r.status_code == 200, r.content
    doc = json.loads(r.content)
    assert doc == json.loads(json.dumps(run_check(book, lines, "practitioner", WHEN).as_dict()))
    assert doc["findings"]
    for f in doc["findings"]:
        assert {"kind", "lines", "message", "fix"} <= set(f)
        assert f["kind"] in {"ptp", "mue", "addon", "invalid", "deleted"}
        assert all(isinstance(i, int) and 0 <= i < len(lines) for i in f["lines"])
        assert isinstance(f["message"], str) and isinstance(f["fix"], str)
    (ptp,) = [f for f in doc["findings"] if f["kind"] == "ptp"]
    edit = book.ptp_edit(ptp["detail"]["column1"], ptp["detail"]["column2"], "practitioner", WHEN)
    assert ptp["detail"]["indicator"] == edit.modifier and ptp["detail"]["rationale"] == edit.rationale
    assert ptp["lines"] == [0, 1]
    assert [li["code"] for li in doc["lines"]] == ["29881", "29880", "J1100"]
    assert r["Cache-Control"] == "no-store" and "X-RateLimit-Limit" in r


def test_defaults_and_a_clean_claim(client, book):
    r = post(client, {"lines": [{"code": "g0008"}]})
    assert r.status_code == 200, r.content
    doc = json.loads(r.content)
    assert doc["setting"] == "practitioner" and doc["lines"][0]["code"] == "G0008"
    assert doc["lines"][0]["title"] == book.get("hcpcs", "G0008").title
    r = post(client, {"setting": "hospital", "date": WHEN, "lines": [{"code": "J1100", "units": 2}]})
    assert json.loads(r.content)["findings"] == [] and json.loads(r.content)["setting"] == "hospital"


@pytest.mark.parametrize("body, status, code, where", [
    ({"setting": "practitioner", "date": WHEN}, 422, "validation_error", "lines"),
    ({"lines": "29881"}, 422, "validation_error", "lines"),
    ({"lines": {"code": "29881"}}, 422, "validation_error", "lines"),
    ({"lines": []}, 422, "validation_error", "no lines"),
    ({"lines": [{"code": "29881"}], "date": "2026-13-01"}, 400, "bad_date", "not a date"),
    ({"lines": [{"code": "29881"}], "date": "yesterday"}, 400, "bad_date", "not a date"),
    ({"lines": [{"code": "29881"}], "setting": "inpatient"}, 422, "validation_error", "unknown setting"),
    ({"lines": [{"code": "29881"}], "setting": "dme"}, 422, "validation_error", "DME"),
    ({"lines": [{"code": "29881"}], "setting": "x" * 100}, 400, "too_long", "setting"),
    ({"lines": [{"code": "29881"}] * 1000}, 422, "validation_error", "1,000 lines"),
    ({"lines": [{"code": str(10000 + i)} for i in range(51)]}, 422, "validation_error", "at most 50"),
    ({"lines": [{"code": "29881", "units": 0}]}, 422, "validation_error", "at least 1"),
    ({"lines": [{"code": "29881", "units": -3}]}, 422, "validation_error", "at least 1"),
    ({"lines": [{"code": "29881", "units": 10 ** 6}]}, 422, "validation_error", "more than any claim line"),
    ({"lines": [{"code": "29881", "units": "2"}]}, 422, "validation_error", "units"),
    ({"lines": [{"code": "29881", "units": 1.5}]}, 422, "validation_error", "units"),
    ({"lines": [{"code": "29881", "units": True}]}, 422, "validation_error", "units"),
    ({"lines": [{"code": "29881", "modifiers": "59"}]}, 422, "validation_error", "modifiers"),
    ({"lines": [{"code": "29881", "modifiers": ["5"]}]}, 422, "validation_error", "two letters or digits"),
    ({"lines": [{"modifiers": ["59"]}]}, 422, "validation_error", "code"),
    ({"lines": [{"code": ""}]}, 422, "validation_error", "missing"),
    ({"lines": [{"code": "29880-59"}]}, 422, "validation_error", "carries more than a code"),
    ({"lines": [{"code": "29881"}, {"code": "29881"}]}, 422, "validation_error", "same service"),
    ({"lines": [29881]}, 422, "validation_error", "lines"),
    # a misspelt field was dropped and the claim checked without it (1 unit, today's date)
    ({"lines": [{"code": "29881", "unit": 5}]}, 422, "validation_error", "lines.0.unit"),
    ({"lines": [{"code": "29881"}], "dos": WHEN}, 422, "validation_error", "payload.dos"),
])
def test_bad_requests(client, body, status, code, where):
    err = error_of(post(client, body), status, code)
    assert where in err["message"] or any(where in json.dumps(d) for d in err.get("details", []))


def test_claim_problems_are_listed_with_their_place(client):
    err = error_of(post(client, {"lines": [{"code": "29881", "units": 0}, {"code": "!!"}]}), 422, "validation_error")
    assert [(d["loc"], d["type"]) for d in err["details"]] == [
        (["body", "payload", "lines", "0", "units"], "claim"), (["body", "payload", "lines", "1", "code"], "claim")]


def test_bodies_that_are_not_a_claim(client):
    error_of(post(client, "{not json", raw=True), 400, "bad_request")
    error_of(post(client, "[]", raw=True), 422, "validation_error")
    error_of(post(client, "x" * 3_000_000, raw=True), 413, "too_large")
    error_of(client.get(URL), 405, "method_not_allowed")


def test_a_large_bad_body_gets_a_small_answer(client):
    """Every bad item was a problem of its own: 300,000 modifiers (1.5 MB) got a 45 MB answer after seconds of
    work. Too many modifiers or lines is now one problem, and the API lists at most 50 details."""
    r = post(client, {"lines": [{"code": "29881", "modifiers": ["5"] * 100_000}]})
    err = error_of(r, 422, "validation_error")
    assert "100,000 modifiers" in err["message"] and len(r.content) < 2_000
    r = post(client, {"lines": [{"code": 1}] * 100_000})
    err = error_of(r, 422, "validation_error")
    assert "100,000 lines" in err["message"] and len(err["details"]) == 1
    r = post(client, {"lines": [{"code": "29881", "modifiers": [5] * 1_000}]})  # 1,000 type errors
    err = error_of(r, 422, "validation_error")
    assert len(err["details"]) == 50 and err["details_omitted"] == 950 and len(r.content) < 20_000


def test_not_metered_but_rate_limited(client, settings):
    settings.MEDCODE_API_RATES = {"guest": 3, "free": 120, "paid": 1200}
    before = MeterView.objects.count()
    for _ in range(3):
        assert post(client, {"date": WHEN, "lines": [{"code": "29881"}, {"code": "29880"}]}).status_code == 200
    assert MeterView.objects.count() == before  # a check unlocks no code page
    r = post(client, {"date": WHEN, "lines": [{"code": "29881"}]})
    err = error_of(r, 429, "rate_limited")
    assert int(r["Retry-After"]) > 0 and err["retry_after"] > 0


def test_keys_are_checked(client):
    error_of(post(client, {"lines": [{"code": "29881"}]}, HTTP_AUTHORIZATION="Bearer nope"), 401, "invalid_key")
    user, _ = apikeys.ensure_account("edits-paid@example.com", "paid")
    raw = apikeys.create_key(user)[1]
    r = post(client, {"lines": [{"code": "29881"}]}, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert r.status_code == 200 and r["X-RateLimit-Limit"] == "1200"


def test_the_openapi_document_describes_the_operation(client):
    doc = json.loads(client.get("/api/v1/openapi.json").content)
    op = doc["paths"]["/api/v1/edits/check"]["post"]
    assert op["operationId"] == "check_edits" and "Not metered" in op["description"]
    assert {"200", "400", "422", "429"} <= set(op["responses"])
