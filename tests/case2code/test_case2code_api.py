"""POST /api/v1/case2code: the v1 contract, every kind of bad input, and the daily quota."""

from __future__ import annotations

import json
import uuid

import pytest
from apikit import assert_error, key_for, post_json
from c2c_helpers import DATE, check_invariants

from medcode.case2code import MAX_CHARS

URL = "/api/v1/case2code"
NOTE = ("ED: 54-year-old with type 2 diabetes and a foot ulcer of the left heel, limited to breakdown of skin. "
        "Denies fever or chest pain.")


@pytest.fixture(autouse=True)
def isolation(settings, db):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"api-c2c-{uuid.uuid4().hex}"}}
    settings.MEDCODE_FEATURE_QUOTA_BACKEND = "db"
    settings.MEDCODE_METER_BACKEND = "db"
    settings.MEDCODE_FEATURE_QUOTAS = {**settings.MEDCODE_FEATURE_QUOTAS,
                                       "case2code": {"guest": 50, "free": 20, "paid": None}}
    settings.MEDCODE_API_RATES = {"guest": 1000, "free": 1000, "paid": 1000}


def post(client, body, key: str | None = None, addr: str = "203.0.113.40", raw: bool = False, **extra):
    return post_json(client, URL, body, key, addr, raw, **extra)


def test_the_contract(client, book):
    r = post(client, {"text": NOTE, "setting": "ed", "date": DATE})
    assert r.status_code == 200, r.content
    assert r["Cache-Control"] == "no-store"
    doc = r.json()
    assert set(doc) == {"codes", "warnings"}
    assert doc["codes"] and all(set(c) == {"system", "code", "title", "first_listed", "confidence", "evidence",
                                           "rationale"} for c in doc["codes"])
    assert [c["first_listed"] for c in doc["codes"]].count(True) == 1 and doc["codes"][0]["first_listed"]
    for c in doc["codes"]:
        assert book.is_billable(c["system"], c["code"], DATE)
        for e in c["evidence"]:
            assert set(e) == {"start", "end", "text"} and NOTE[e["start"]:e["end"]] == e["text"]
    codes = [c["code"] for c in doc["codes"]]
    assert codes[0] == "E11.621" and any(c.startswith("L97.4") for c in codes)
    assert not any(c.startswith(("R50", "R07")) for c in codes)  # denied


def test_same_as_the_engine(client, book):
    from medcode.case2code import code_note

    doc = post(client, {"text": NOTE, "setting": "ed", "date": DATE}).json()
    assert doc == code_note(book, NOTE, "ed", DATE).as_dict()
    check_invariants(book, NOTE, code_note(book, NOTE, "ed", DATE))


def test_defaults(client):
    r = post(client, {"text": "Type 2 diabetes with CKD stage 3a."})
    assert r.status_code == 200 and [c["code"] for c in r.json()["codes"]][:2] == ["E11.22", "N18.31"]


def test_nothing_codable(client):
    r = post(client, {"text": "Patient seen today. Vitals stable. Return in 3 months."})
    assert r.status_code == 200
    doc = r.json()
    assert doc["codes"] == [] and any("no codable condition" in w for w in doc["warnings"])


@pytest.mark.parametrize("body", [{"text": ""}, {"text": "  \n "}])
def test_empty_text_is_422(client, body):
    assert_error(post(client, body), 422, "empty_text")


def test_too_long_is_413_with_the_limit(client):
    err = assert_error(post(client, {"text": "x " * 100_000}), 413, "too_long")
    assert f"{MAX_CHARS:,}" in err["message"]


def test_huge_body_is_413(client):
    err = assert_error(post(client, "{" + " " * (4 * MAX_CHARS + 20_000) + "}", raw=True), 413, "too_large")
    assert f"{MAX_CHARS:,}" in err["message"]


def test_nul_bytes_are_400(client):
    assert_error(post(client, {"text": "Type 2 diabetes\u0000"}), 400, "binary")
    assert_error(post(client, b'{"text": "diabetes\x00"}', raw=True), 400, "binary")


def test_invalid_utf8_is_400(client):
    err = assert_error(post(client, b'{"text": "type 2 diab\xe9tes"}', raw=True), 400, "bad_encoding")
    assert "UTF-8" in err["message"]


def test_control_characters_are_400(client):
    assert_error(post(client, {"text": "\x01\x02\x03\x04\x05" * 50}), 400, "binary")


@pytest.mark.parametrize("raw,code", [
    (b"not json", "invalid_json"), (b"[1, 2]", "validation_error"), (b'{"note": "x"}', "validation_error"),
    (b'{"text": 5}', "validation_error"), (b'{"text": "diabetes", "setting": 3}', "validation_error"),
    (b'{"text": "diabetes", "extra": 1}', "validation_error"), (b"", "invalid_json"),
])
def test_bad_bodies_are_422(client, raw, code):
    assert_error(post(client, raw, raw=True), 422, code)


def test_bad_setting_is_400(client):
    err = assert_error(post(client, {"text": "Type 2 diabetes.", "setting": "clinic"}), 400, "bad_setting")
    assert "outpatient" in err["message"]


@pytest.mark.parametrize("date", ["2026-02-30", "soon", "x" * 80])
def test_bad_date_is_400(client, date):
    r = post(client, {"text": "Type 2 diabetes.", "date": date})
    assert r.status_code == 400 and r.json()["error"]["code"] in ("bad_date", "too_long")


def test_a_date_with_no_release_is_400(client):
    assert_error(post(client, {"text": "Type 2 diabetes.", "date": "1999-01-01"}), 400, "bad_request")


def test_wrong_method(client):
    r = client.get(URL, REMOTE_ADDR="203.0.113.41")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_quota(client, settings):
    settings.MEDCODE_FEATURE_QUOTAS = {**settings.MEDCODE_FEATURE_QUOTAS,
                                       "case2code": {"guest": 2, "free": 3, "paid": None}}
    for left in (1, 0):
        r = post(client, {"text": "Type 2 diabetes."}, addr="192.0.2.91")
        assert r.status_code == 200 and r["X-Quota-Remaining"] == str(left)
    err = assert_error(post(client, {"text": "Type 2 diabetes."}, addr="192.0.2.91"), 429, "quota_exceeded")
    assert "case-to-code runs" in err["message"] and "register" in err["message"]
    # bad input does not spend a run and is still reported as what it is
    assert_error(post(client, {"text": ""}, addr="192.0.2.91"), 422, "empty_text")
    assert post(client, {"text": "Type 2 diabetes."}, addr="192.0.2.92").status_code == 200
    free, paid = key_for("free"), key_for("paid")
    assert post(client, {"text": "Type 2 diabetes."}, key=free)["X-Quota-Remaining"] == "2"
    r = post(client, {"text": "Type 2 diabetes."}, key=paid)
    assert r.status_code == 200 and "X-Quota-Remaining" not in r


def test_bad_key_is_401(client):
    assert_error(post(client, {"text": "Type 2 diabetes."}, key="nope"), 401, "invalid_key")


def test_openapi_lists_it(client):
    doc = client.get("/api/v1/openapi.json").json()
    op = doc["paths"]["/api/v1/case2code"]["post"]
    assert op["operationId"] == "case2code" and "413" in op["responses"]
