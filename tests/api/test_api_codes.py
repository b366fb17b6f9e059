"""GET /api/v1/codes/{system}/{code}: the v1 contract, checked against the codebook (not literals),
its errors, its metering (quota and rate limit) and its OpenAPI document."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from medcode.accounts import apikeys, metering
from medcode.accounts.models import MeterView
from medcode.codebook.record import code_record

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(autouse=True)
def _fresh(settings, db):
    """Every test starts with empty rate-limit counters (a cache of its own, never a flush of a
    shared Redis) and the documented quotas and rates."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"api-test-{uuid.uuid4().hex}"}}
    settings.REDIS_URL = ""
    settings.MEDCODE_QUOTAS = {"guest": 1, "free": 5, "paid": None}
    settings.MEDCODE_METER_WINDOW_DAYS = 30
    settings.MEDCODE_API_RATES = {"guest": 30, "free": 120, "paid": 1200}
    yield
    cache.clear()  # the test's own in-process cache


@pytest.fixture
def make_key():
    """make_key(email, plan) -> a raw key for that account (created verified if need be)."""
    def make(email: str, plan: str) -> str:
        user, _ = apikeys.ensure_account(email, plan)
        return apikeys.create_key(user)[1]

    return make


@pytest.fixture
def paid_key(make_key):
    return make_key("paid@example.com", "paid")


@pytest.fixture
def free_key(make_key):
    return make_key("free@example.com", "free")


@pytest.fixture(params=["db", "redis"])
def meter_backend(request, settings):
    """Run a test once with the database meter and once with the Redis meter (REDIS_URL set)."""
    if request.param == "redis":
        try:
            import redis

            client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
            client.ping()
        except Exception as exc:  # noqa: BLE001
            pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
        prefix = f"medcode-test:{uuid.uuid4().hex}:meter:"
        settings.REDIS_URL = REDIS_URL
        settings.MEDCODE_METER_REDIS_PREFIX = prefix
        yield "redis"
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
    else:
        yield "db"


CONTRACT = {"system", "code", "title", "billable", "status", "effective", "hierarchy", "children", "notes",
            "seventh_characters", "plain_language", "crosswalks", "edits"}
ADDED = {"attributes"}  # optional fields added to v1 after the contract's own (issue 5): additive only
NOTE_KINDS = {"includes", "inclusion_terms", "excludes1", "excludes2", "code_first", "use_additional", "code_also"}
ERROR_CODES = {"bad_request", "bad_date", "too_long", "malformed_code", "unauthorized", "invalid_key",
               "unknown_system", "unknown_code", "not_found", "method_not_allowed", "validation_error",
               "rate_limited", "quota_exceeded", "internal_error", "codebook_unavailable"}


def url(system: str, code: str, when: str | None = None) -> str:
    return f"/api/v1/codes/{system}/{code}" + (f"?date={when}" if when is not None else "")


def bearer(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == {"error"}
    err = body["error"]
    assert err["code"] == code and err["code"] in ERROR_CODES
    assert isinstance(err["message"], str) and err["message"]
    return err


def iso(d):
    return d.isoformat() if d else None


def assert_matches_book(doc: dict, book, system: str, code: str, when: date) -> dict:
    """The API document is the codebook's record, in the contract's shape."""
    rec = code_record(book, system, code, when)
    assert set(doc) == CONTRACT | ADDED
    assert (doc["system"], doc["code"], doc["title"], doc["billable"], doc["status"]) == \
        (rec["system"], rec["code"], rec["title"], rec["billable"], rec["status"])
    assert doc["effective"] == {"from": iso(rec["effective"]["from"]), "to": iso(rec["effective"]["to"])}
    assert doc["hierarchy"] == [{"code": h["code"], "title": h["title"]} for h in rec["hierarchy"]]
    assert doc["children"] == [{"code": c["code"], "title": c["title"], "billable": c["billable"]}
                               for c in rec["children"]]
    assert set(doc["notes"]) == NOTE_KINDS
    for kind in NOTE_KINDS:
        assert [n["text"] for n in doc["notes"][kind]] == [n["text"] for n in rec["notes"][kind]]
        assert [(n["origin"], n["inherited"]) for n in doc["notes"][kind]] == \
            [(n["origin"], n["inherited"]) for n in rec["notes"][kind]]
    assert doc["seventh_characters"] == rec["seventh_characters"]
    assert doc["plain_language"] == rec["plain_language"] and doc["plain_language"]
    assert set(doc["crosswalks"]) >= {"icd9cm", "from_icd9cm"}
    assert [x["code"] for x in doc["crosswalks"]["icd9cm"]] == [x["code"] for x in rec["crosswalks"]["icd9cm"]]
    assert isinstance(doc["edits"], dict)
    return rec


# --- the contract ---------------------------------------------------------------------------------

def test_billable_code(client, book, paid_key):
    r = client.get(url("icd10cm", "E11.9"), **bearer(paid_key))
    assert r.status_code == 200 and r["Content-Type"].startswith("application/json")
    doc = r.json()
    rec = assert_matches_book(doc, book, "icd10cm", "E11.9", date.today())
    assert doc["billable"] is True and doc["status"] == "active" and doc["children"] == []
    assert doc["hierarchy"][0]["code"] == "E11"  # nearest ancestor first
    # E11.9 inherits E11's "use additional code" note (Z79.4 insulin ...)
    assert doc["notes"]["use_additional"] and any(n["inherited"] for n in doc["notes"]["use_additional"])
    assert rec["notes"]["use_additional"]
    assert "X-Quota-Remaining" not in r  # paid: unlimited
    assert r["X-RateLimit-Limit"] == "1200"


def test_seventh_characters(client, book, paid_key):
    doc = client.get(url("icd10cm", "S52.501A"), **bearer(paid_key)).json()
    assert_matches_book(doc, book, "icd10cm", "S52.501A", date.today())
    chars = doc["seventh_characters"]
    assert chars and "A" in chars and "initial encounter" in chars["A"].lower()
    assert doc["seventh_characters"] == {s.char: s.meaning for s in book.seventh_characters("icd10cm", "S52.501A")}


def test_header_code(client, book, paid_key):
    doc = client.get(url("icd10cm", "E11"), **bearer(paid_key)).json()
    assert_matches_book(doc, book, "icd10cm", "E11", date.today())
    assert doc["billable"] is False
    assert [c["code"] for c in doc["children"]] == [c.code for c in book.children("icd10cm", "E11")]
    assert "E11.9" in [c["code"] for c in doc["children"]]


def test_pcs_code(client, book, paid_key):
    if "icd10pcs" not in book.systems():
        pytest.skip("the test codebook holds no ICD-10-PCS release")
    doc = client.get(url("icd10pcs", "0RRJ0JZ"), **bearer(paid_key)).json()
    assert_matches_book(doc, book, "icd10pcs", "0RRJ0JZ", date.today())
    assert doc["billable"] is True and [h["code"] for h in doc["hierarchy"]][:1] == ["0RR"]


def test_normalised_code_and_system_alias(client, book, paid_key):
    doc = client.get(url("ICD-10-CM", " e119 "), **bearer(paid_key)).json()
    assert doc["system"] == "icd10cm" and doc["code"] == "E11.9"


def test_date_of_service(client, book, paid_key):
    """A code deleted by a later release: active before, deleted (with its dates) after."""
    row = book.db.execute(
        "SELECT code, valid_to FROM codes c WHERE system='icd10cm' AND billable=1 AND valid_to IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM codes d WHERE d.system=c.system AND d.code=c.code "
        "AND d.valid_from > c.valid_from) ORDER BY code LIMIT 1").fetchone()
    if row is None:
        pytest.skip("the test codebook holds no deleted code")
    code, valid_to = row[0], date.fromisoformat(row[1])
    before = client.get(url("icd10cm", code, valid_to.isoformat()), **bearer(paid_key)).json()
    assert_matches_book(before, book, "icd10cm", code, valid_to)
    assert before["status"] == "active" and before["effective"]["to"] == valid_to.isoformat()
    after_day = valid_to + timedelta(days=1)
    after = client.get(url("icd10cm", code, after_day.isoformat()), **bearer(paid_key)).json()
    assert_matches_book(after, book, "icd10cm", code, after_day)
    assert after["status"] == "deleted" and after["billable"] is False


# --- bad input -------------------------------------------------------------------------------------

def test_unknown_system(client):
    err = assert_error(client.get(url("icd11", "E11.9")), 404, "unknown_system")
    assert "icd10cm" in err["message"]


def test_system_not_held(client, book):
    missing = next((s for s in ("hcpcs", "cpt") if not book.holds(s)), None)  # CPT: by number from CMS files
    if missing is None:
        pytest.skip("the test codebook holds every system")
    assert_error(client.get(url(missing, "A0001")), 404, "unknown_system")


def test_unknown_code_suggests_valid_codes(client, book):
    err = assert_error(client.get(url("icd10cm", "E11.99")), 404, "unknown_code")
    near = err["did_you_mean"]
    assert near and near == [{"code": c.code, "title": c.title, "billable": c.billable}
                             for c in book.nearest("icd10cm", "E11.99")]
    assert all(book.exists("icd10cm", c["code"]) for c in near)
    assert not MeterView.objects.exists()  # a 404 costs nothing


def test_bad_date(client):
    for bad in ("2026-13-01", "yesterday", "2026-02-30", "20260101x"):
        err = assert_error(client.get(url("icd10cm", "E11.9", bad)), 400, "bad_date")
        assert "YYYY-MM-DD" in err["message"]


def test_oversized_and_malformed(client):
    assert_error(client.get(url("icd10cm", "E" * 65)), 400, "too_long")
    assert_error(client.get(url("icd10cm", "E11.9", "2" * 65)), 400, "too_long")
    assert_error(client.get(url("i" * 65, "E11.9")), 400, "too_long")
    assert_error(client.get(url("icd10cm", "%21%40%23")), 400, "malformed_code")
    assert_error(client.get(url("icd10cm", "E11.9%00")), 400, "malformed_code")


def test_bad_keys(client, free_key, make_key):
    for header in ("Bearer mc_not-a-key", "Bearer ", "Bearer", "Basic dXNlcjpwYXNz", "Token abc",
                   "Bearer " + "x" * 5000, f"bearer {free_key}x"):
        r = client.get(url("icd10cm", "E11.9"), HTTP_AUTHORIZATION=header)
        assert_error(r, 401, "invalid_key" if header.lower().startswith("bearer ") and header.strip() != "Bearer"
                     else "unauthorized")
        assert r["WWW-Authenticate"].startswith("Bearer")
    assert client.get(url("icd10cm", "E11.9"), HTTP_AUTHORIZATION=f"bearer {free_key}").status_code == 200
    key = apikeys.authenticate(free_key)
    apikeys.revoke_key(key.user, key.pk)
    err = assert_error(client.get(url("icd10cm", "E11.9"), **bearer(free_key)), 401, "invalid_key")
    assert "revoked" in err["message"]


def test_wrong_method_and_unknown_paths(client):
    r = client.post(url("icd10cm", "E11.9"))
    assert_error(r, 405, "method_not_allowed")
    assert "GET" in r["Allow"]
    assert_error(client.get("/api/v1/nothing/here"), 404, "not_found")
    assert_error(client.get("/api/v1/codes/icd10cm"), 404, "not_found")
    assert_error(client.get("/api/v2/codes/icd10cm/E11.9"), 404, "not_found")
    index = client.get("/api/v1/").json()
    assert index["docs"] == "/api/v1/docs" and index["openapi"] == "/api/v1/openapi.json"


def test_unexpected_errors_keep_the_shape(client, monkeypatch, caplog):
    from medcode.api import v1
    from medcode.codebook.errors import BookMissing

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(v1, "code_record", boom)
    err = assert_error(client.get(url("icd10cm", "E11.9")), 500, "internal_error")
    assert "kaboom" not in err["message"]
    assert "kaboom" in caplog.text  # logged for us, not shown to the caller

    def missing(*a, **k):
        raise BookMissing("no codebook at /nowhere")

    monkeypatch.setattr(v1, "book", missing)
    r = client.get(url("icd10cm", "E11.9"))
    assert_error(r, 503, "codebook_unavailable")
    assert r["Retry-After"]


def test_validation_errors_keep_the_shape(rf):
    from ninja.errors import ValidationError

    from medcode.api.v1 import api

    response = api.on_exception(rf.get("/api/v1/x"), ValidationError(
        [{"loc": ("query", "limit"), "msg": "Input should be a valid integer", "type": "int_parsing"}]))
    err = assert_error(response, 422, "validation_error")
    assert "limit" in err["message"] and err["details"][0]["loc"] == ["query", "limit"]


# --- metering ----------------------------------------------------------------------------------------

def test_guest_quota_then_429_with_retry_after(client, meter_backend):
    first = client.get(url("icd10cm", "E11.9"))
    assert first.status_code == 200 and first["X-Quota-Remaining"] == "0"
    assert first["X-RateLimit-Limit"] == "30"
    # the same code again is free; a new one is over the guest quota
    assert client.get(url("icd10cm", "e119")).status_code == 200
    r = client.get(url("icd10cm", "I10"))
    err = assert_error(r, 429, "quota_exceeded")
    wait = int(r["Retry-After"])
    assert 30 * 86400 - 120 <= wait <= 30 * 86400 and err["retry_after"] == wait
    assert "quota" in err["message"] and "register" in err["message"]
    assert r["X-Quota-Remaining"] == "0"
    # errors before the meter (unknown code) are not 429s
    assert_error(client.get(url("icd10cm", "E11.99")), 404, "unknown_code")
    # another address is another guest
    assert client.get(url("icd10cm", "I10"), REMOTE_ADDR="198.51.100.23").status_code == 200


def test_retry_after_counts_down_to_the_oldest_unlock(client, meter_backend, settings, monkeypatch):
    settings.MEDCODE_QUOTAS = {"guest": 2, "free": 5, "paid": None}
    real_now = timezone.now
    monkeypatch.setattr(metering.timezone, "now", lambda: real_now() - timedelta(days=10))
    assert client.get(url("icd10cm", "E11.9")).status_code == 200  # ten days ago
    monkeypatch.setattr(metering.timezone, "now", real_now)
    assert client.get(url("icd10cm", "I10")).status_code == 200
    r = client.get(url("icd10cm", "J45.909"))
    assert_error(r, 429, "quota_exceeded")
    assert 20 * 86400 - 120 <= int(r["Retry-After"]) <= 20 * 86400


def test_free_key_quota_is_the_accounts_quota(client, free_key, meter_backend):
    codes = ["E11.9", "I10", "J45.909", "E11.8", "E11.65"]
    for i, code in enumerate(codes):
        r = client.get(url("icd10cm", code), **bearer(free_key))
        assert r.status_code == 200 and r["X-Quota-Remaining"] == str(len(codes) - 1 - i)
    assert_error(client.get(url("icd10cm", "E11.22"), **bearer(free_key)), 429, "quota_exceeded")
    assert client.get(url("icd10cm", "I10"), **bearer(free_key)).status_code == 200
    # a second key of the same account shares the account's quota
    key = apikeys.authenticate(free_key)
    _, second = apikeys.create_key(key.user)
    assert_error(client.get(url("icd10cm", "E11.22"), **bearer(second)), 429, "quota_exceeded")
    # the code page meter and the API meter are one: the account's page views are used up too
    assert metering.remaining([metering.user_subject(key.user)], 5, 30) == 0


def test_paid_key_is_unlimited(client, paid_key, meter_backend):
    for code in ["E11.9", "I10", "J45.909", "E11.8", "E11.65", "E11.22", "E11.21", "S52.501A"]:
        r = client.get(url("icd10cm", code), **bearer(paid_key))
        assert r.status_code == 200 and "X-Quota-Remaining" not in r


def test_rate_limit(client, settings, make_key):
    settings.MEDCODE_API_RATES = {"guest": 3, "free": 4, "paid": 1200}
    for i in range(3):
        r = client.get(url("icd10cm", "E11.9"))
        assert r.status_code == 200 and r["X-RateLimit-Remaining"] == str(2 - i)
    r = client.get(url("icd10cm", "E11.9"))
    err = assert_error(r, 429, "rate_limited")
    assert 1 <= int(r["Retry-After"]) <= 60 and err["retry_after"] == int(r["Retry-After"])
    assert r["X-RateLimit-Remaining"] == "0"
    # errors count too (they cost a request), and every answer carries the headers
    assert_error(client.get(url("icd10cm", "E11.99")), 429, "rate_limited")
    # a key has its own counter (by plan), independent of the address
    key = make_key("fast@example.com", "free")
    for _ in range(4):
        assert client.get(url("icd10cm", "E11.9"), **bearer(key)).status_code == 200
    assert_error(client.get(url("icd10cm", "E11.9"), **bearer(key)), 429, "rate_limited")
    # another address is another guest
    assert client.get(url("icd10cm", "E11.9"), REMOTE_ADDR="198.51.100.77").status_code == 200


# --- OpenAPI and docs -------------------------------------------------------------------------------

def test_openapi_documents_the_endpoint_and_errors(client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    op = spec["paths"]["/api/v1/codes/{system}/{code}"]["get"]
    assert {p["name"] for p in op["parameters"]} == {"system", "code", "date"}
    schemas = spec["components"]["schemas"]
    ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    record = schemas[ref.rsplit("/", 1)[1]]
    assert set(record["properties"]) == CONTRACT | ADDED and set(record["required"]) == CONTRACT
    assert set(schemas["Notes"]["properties"]) == NOTE_KINDS
    assert set(schemas["Effective"]["properties"]) == {"from", "to"}
    for status in ("400", "401", "404", "422", "429"):
        assert op["responses"][status]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    assert "Retry-After" in op["responses"]["429"]["headers"]
    assert set(schemas["Error"]["properties"]) == {"error"}
    assert {"code", "message", "did_you_mean"} <= set(schemas["ErrorDetail"]["properties"])
    assert spec["components"]["securitySchemes"]["ApiKeyAuth"] == {"type": "http", "scheme": "bearer"}
    assert {} in op["security"]  # the key is optional
    assert "quota_exceeded" in spec["info"]["description"] and "Retry-After" in spec["info"]["description"]


def test_docs_render_without_the_internet(client):
    r = client.get("/api/v1/docs")
    assert r.status_code == 200
    html = r.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    assert "/api/v1/openapi.json" in html
    js = client.get("/static/ninja/swagger-ui-bundle.js")
    assert js.status_code == 200


# --- the CLI ----------------------------------------------------------------------------------------

def test_cli_apikey_create_then_use_then_revoke(client, capsys):
    from medcode import cli

    assert cli.main(["apikey", "create", "Script@Example.com", "--plan", "paid", "--name", "nightly", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["email"] == "script@example.com" and doc["plan"] == "paid" and doc["account_created"] is True
    assert doc["key"].startswith(doc["prefix"]) and doc["name"] == "nightly"
    r = client.get(url("icd10cm", "E11.9"), **bearer(doc["key"]))
    assert r.status_code == 200 and r["X-RateLimit-Limit"] == "1200"

    # again, without --json: the key alone on stdout, the account kept
    assert cli.main(["apikey", "create", "script@example.com"]) == 0
    out, err = capsys.readouterr()
    second = out.strip()
    assert second.startswith("mc_") and "\n" not in second and "script@example.com" in err
    assert client.get(url("icd10cm", "I10"), **bearer(second)).status_code == 200

    assert cli.main(["apikey", "revoke", doc["prefix"]]) == 0
    assert doc["prefix"] in capsys.readouterr().out
    assert_error(client.get(url("icd10cm", "E11.9"), **bearer(doc["key"])), 401, "invalid_key")
    assert cli.main(["apikey", "revoke", doc["prefix"]]) == 1
    assert "no active key" in capsys.readouterr().err


def test_cli_apikey_create_bad_email(capsys):
    from medcode import cli
    from medcode.accounts.models import User

    assert cli.main(["apikey", "create", "not-an-email"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "not a valid email" in err
    assert not User.objects.exists()
    with pytest.raises(SystemExit) as exc:
        cli.main(["apikey", "create", "a@example.com", "--plan", "gold"])
    assert exc.value.code == 2


def test_cli_in_a_fresh_install(tmp_path):
    """`medcode apikey create` as a user runs it: a new MEDCODE_HOME, an SQLite file migrated on the way."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env["MEDCODE_HOME"] = str(tmp_path)
    run = [sys.executable, "-m", "medcode.cli", "apikey", "create"]
    ok = subprocess.run(run + ["new@example.com", "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["key"].startswith("mc_")
    bad = subprocess.run(run + ["nobody"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and bad.stdout == "" and "not a valid email" in bad.stderr
