"""The code-page meter: the pure `decide()` on both backends (app database, Redis), then the
Django adapter (accounts by plan, guests by signed cookie plus hashed address)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.http import HttpResponse
from django.utils import timezone

from medcode.accounts import metering
from medcode.accounts.models import MeterView, User
from threadrace import race
from windowkit import REDIS_URL, redis_store, run_sqlite_race

CM = "icd10cm"


@pytest.fixture
def redis_meter():
    """A Redis meter under a prefix of its own; its keys are deleted afterwards."""
    yield from redis_store(metering.RedisMeter, "meter")


@pytest.fixture(params=["db", "redis"])
def meter(request):
    if request.param == "db":
        request.getfixturevalue("db")
        return metering.DatabaseMeter()
    request.getfixturevalue("db")  # the adapter tests create users either way
    return request.getfixturevalue("redis_meter")


@pytest.fixture(params=["db", "redis"])
def site_meter(request, settings):
    """The adapter's backend as the settings choose it: the database, or Redis via REDIS_URL."""
    request.getfixturevalue("db")
    if request.param == "redis":
        m = request.getfixturevalue("redis_meter")
        settings.REDIS_URL = REDIS_URL
        settings.MEDCODE_METER_REDIS_PREFIX = m.prefix
    else:
        settings.REDIS_URL = ""
    settings.MEDCODE_QUOTAS = {"guest": 1, "free": 5, "paid": None}
    settings.MEDCODE_METER_WINDOW_DAYS = 30
    return request.param


def _subject() -> str:
    return f"test:{uuid.uuid4().hex}"


# --- decide() on both backends --------------------------------------------------------------------

def test_distinct_codes_only_and_reopening_is_free(meter):
    s = [_subject()]
    first = metering.decide(s, CM, "E11.9", 2, 30, backend=meter)
    assert first == metering.Decision(True, 1, False, None)
    again = metering.decide(s, CM, "E11.9", 2, 30, backend=meter)
    assert again == metering.Decision(True, 1, True, None)
    second = metering.decide(s, CM, "I10", 2, 30, backend=meter)
    assert second == metering.Decision(True, 0, False, None)
    third = metering.decide(s, CM, "J45.909", 2, 30, backend=meter)
    assert not third.allowed and third.remaining == 0 and not third.already_unlocked
    assert 30 * 86400 - 60 <= third.retry_after_seconds <= 30 * 86400
    # spent, yet both unlocked codes stay open, for free
    assert metering.decide(s, CM, "I10", 2, 30, backend=meter).allowed
    assert metering.decide(s, CM, "E11.9", 2, 30, backend=meter).already_unlocked
    # the same code in another system is another code
    assert not metering.decide(s, "icd10pcs", "E11.9", 2, 30, backend=meter).allowed
    assert metering.remaining(s, 2, 30, backend=meter) == 0


def test_window_expiry_with_a_fake_clock(meter):
    s = [_subject()]
    t0 = timezone.now() - timedelta(days=100)
    assert metering.decide(s, CM, "A00.0", 2, 30, now=t0, backend=meter).allowed
    assert metering.decide(s, CM, "A00.1", 2, 30, now=t0 + timedelta(days=5), backend=meter).allowed
    refused = metering.decide(s, CM, "A00.9", 2, 30, now=t0 + timedelta(days=10), backend=meter)
    assert not refused.allowed
    assert refused.retry_after_seconds == 20 * 86400  # the oldest unlock (t0) leaves the window at t0+30d
    # one second after the first unlock leaves the window, one more fits
    later = t0 + timedelta(days=30, seconds=1)
    assert metering.remaining(s, 2, 30, now=later, backend=meter) == 1
    ok = metering.decide(s, CM, "A00.9", 2, 30, now=later, backend=meter)
    assert ok.allowed and ok.remaining == 0
    # A00.0 left the window: opening it again is a new unlock, and there is no room for it
    gone = metering.decide(s, CM, "A00.0", 2, 30, now=later, backend=meter)
    assert not gone.allowed and not gone.already_unlocked
    assert gone.retry_after_seconds == (timedelta(days=35) - timedelta(days=30, seconds=1)).total_seconds()
    # after everything has expired, an old code counts afresh (its row is renewed, not duplicated)
    much_later = t0 + timedelta(days=80)
    assert metering.decide(s, CM, "A00.0", 2, 30, now=much_later, backend=meter) == \
        metering.Decision(True, 1, False, None)
    assert metering.decide(s, CM, "A00.0", 2, 30, now=much_later + timedelta(days=1), backend=meter).already_unlocked


def test_every_subject_must_have_room(meter):
    cookie1, cookie2, addr1, addr2 = (_subject() for _ in range(4))
    assert metering.decide([cookie1, addr1], CM, "E11.9", 1, 30, backend=meter).allowed
    # cookies cleared: a new cookie id, the same address -> the address is spent
    assert not metering.decide([cookie2, addr1], CM, "I10", 1, 30, backend=meter).allowed
    # ... but the code already unlocked from that address stays open
    assert metering.decide([cookie2, addr1], CM, "E11.9", 1, 30, backend=meter).already_unlocked
    # the same cookie from another address -> the cookie is spent
    assert not metering.decide([cookie1, addr2], CM, "I10", 1, 30, backend=meter).allowed
    assert metering.remaining([cookie2, addr2], 1, 30, backend=meter) == 1
    # a refusal records nothing
    assert metering.decide([cookie2, addr2], CM, "I10", 1, 30, backend=meter).allowed


def test_unlimited_and_zero_quotas(meter):
    s = [_subject()]
    for code in ("E11.9", "I10", "J45.909"):
        assert metering.decide(s, CM, code, None, 30, backend=meter) == metering.Decision(True, None, False, None)
    assert metering.remaining(s, None, 30, backend=meter) is None
    assert metering.remaining(s, 3, 30, backend=meter) == 3  # unlimited views recorded nothing
    zero = metering.decide(s, CM, "E11.9", 0, 30, backend=meter)
    assert zero == metering.Decision(False, 0, False, None)  # never: no Retry-After to give


def test_forget(meter):
    s = [_subject()]
    metering.decide(s, CM, "E11.9", 1, 30, backend=meter)
    assert metering.remaining(s, 1, 30, backend=meter) == 0
    metering.forget(s, backend=meter)
    assert metering.remaining(s, 1, 30, backend=meter) == 1


def test_decide_needs_a_subject():
    with pytest.raises(ValueError):
        metering.decide([], CM, "E11.9", 1, 30, backend=object())


@pytest.mark.django_db
def test_database_rows_and_prune():
    meter = metering.DatabaseMeter()
    s = _subject()
    t0 = timezone.now() - timedelta(days=40)
    metering.decide([s], CM, "E11.9", 5, 30, now=t0, backend=meter)
    metering.decide([s], CM, "E11.9", 5, 30, now=t0 + timedelta(days=1), backend=meter)  # free: no new row
    metering.decide([s], CM, "I10", 5, 30, backend=meter)
    assert sorted(MeterView.objects.filter(subject=s).values_list("code", flat=True)) == ["E11.9", "I10"]
    assert meter.prune(timedelta(days=30), timezone.now()) == 1
    assert list(MeterView.objects.filter(subject=s).values_list("code", flat=True)) == ["I10"]


# --- concurrency --------------------------------------------------------------------------------

def _race(meter, subjects: list[str], n: int, quota: int) -> list[metering.Decision]:
    return race(n, lambda i: metering.decide(subjects, CM, f"Z{i:02d}.0", quota, 30, backend=meter))


@pytest.mark.django_db(transaction=True)
def test_concurrent_unlocks_never_exceed_the_quota_database():
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("threads cannot share SQLite's in-memory test database: see the file-database test below")
    subjects = [_subject(), _subject()]
    results = _race(metering.DatabaseMeter(), subjects, 10, 5)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r.allowed for r in results) == 5
    assert sorted(r.remaining for r in results if r.allowed) == [0, 1, 2, 3, 4]
    for s in subjects:
        assert MeterView.objects.filter(subject=s).count() == 5


_SQLITE_RACE = """
import json, os, threading
import django
django.setup()
from django.core.management import call_command
from django.db import connections
from medcode.accounts import metering
call_command("migrate", verbosity=0, interactive=False)
barrier = threading.Barrier(10)
out = [None] * 10
def work(i):
    try:
        barrier.wait()
        d = metering.decide(["user:1", "addr:x"], "icd10cm", f"Z{i:02d}.0", 5, 30, backend=metering.DatabaseMeter())
        out[i] = [d.allowed, d.remaining]
    except Exception as exc:
        out[i] = repr(exc)
    finally:
        connections.close_all()
threads = [threading.Thread(target=work, args=(i,)) for i in range(10)]
[t.start() for t in threads]
[t.join() for t in threads]
from medcode.accounts.models import MeterView
print(json.dumps({"results": out, "rows": MeterView.objects.filter(subject="user:1").count(),
                  "vendor": connections["default"].vendor}))
"""


def test_concurrent_unlocks_never_exceed_the_quota_sqlite_file(tmp_path):
    """The embedded default (an SQLite file, IMMEDIATE transactions, busy timeout) under threads."""
    doc = run_sqlite_race(tmp_path, _SQLITE_RACE)
    assert all(isinstance(r, list) for r in doc["results"]), doc["results"]
    assert sum(r[0] for r in doc["results"]) == 5
    assert sorted(r[1] for r in doc["results"] if r[0]) == [0, 1, 2, 3, 4]
    assert doc["rows"] == 5


def test_concurrent_unlocks_never_exceed_the_quota_redis(redis_meter):
    subjects = [_subject(), _subject()]
    results = _race(redis_meter, subjects, 10, 5)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r.allowed for r in results) == 5
    assert sorted(r.remaining for r in results if r.allowed) == [0, 1, 2, 3, 4]
    assert all(redis_meter.client.zcard(redis_meter.prefix + s) == 5 for s in subjects)


# --- the Django adapter -------------------------------------------------------------------------

def _request(rf, user=None, addr="203.0.113.7", cookie: str | None = None):
    request = rf.get("/codes/icd10cm/E11.9", REMOTE_ADDR=addr)
    request.user = user or AnonymousUser()
    if cookie is not None:
        request.COOKIES[metering.GUEST_COOKIE] = cookie
    return request


def _cookie_from(response: HttpResponse) -> str:
    return response.cookies[metering.GUEST_COOKIE].value


def test_guest_cookie_and_address(rf, site_meter):
    first = _request(rf)
    assert metering.remaining_for(first) == 1
    d = metering.meter_request(first, CM, "E11.9")
    assert d.allowed and d.remaining == 0 and not d.already_unlocked
    response = metering.set_guest_cookie(first, HttpResponse())
    cookie = _cookie_from(response)
    morsel = response.cookies[metering.GUEST_COOKIE]
    assert morsel["httponly"] and morsel["samesite"] == "Lax" and int(morsel["max-age"]) > 300 * 86400
    assert metering.remaining_for(first) == 0

    # the same guest comes back with the cookie: the code stays open, a new one is gated
    back = _request(rf, cookie=cookie)
    assert metering.meter_request(back, CM, "E11.9").already_unlocked
    assert not metering.meter_request(_request(rf, cookie=cookie), CM, "I10").allowed
    assert metering.set_guest_cookie(back, HttpResponse()).cookies.get(metering.GUEST_COOKIE) is None  # kept

    # cookies cleared: the hashed address still counts
    cleared = _request(rf)
    refused = metering.meter_request(cleared, CM, "I10")
    assert not refused.allowed and refused.remaining == 0 and refused.retry_after_seconds > 0
    assert metering.remaining_for(_request(rf)) == 0
    # same cookie, another address: the cookie still counts
    assert not metering.meter_request(_request(rf, addr="198.51.100.9", cookie=cookie), CM, "I10").allowed
    # a fresh visitor elsewhere has the full guest quota
    assert metering.meter_request(_request(rf, addr="198.51.100.10"), CM, "I10").allowed


def test_tampered_cookie_is_ignored_and_replaced(rf, site_meter):
    r = _request(rf)
    metering.meter_request(r, CM, "E11.9")
    good = _cookie_from(metering.set_guest_cookie(r, HttpResponse()))
    gid = r._medcode_guest_id
    assert good.startswith(gid + ":")
    forged = good.replace(gid, "A" * len(gid), 1)
    for i, bad in enumerate((good[:-2] + "xx", forged, "nonsense", "", "a" * 5000, gid, "../\x00\u2603")):
        req = _request(rf, addr=f"192.0.2.{40 + i}", cookie=bad)
        d = metering.meter_request(req, CM, "I10")  # never an exception
        assert d.allowed  # a new guest id, a new address: room for one
        assert req._medcode_guest_id not in (gid, "A" * len(gid))
        assert _cookie_from(metering.set_guest_cookie(req, HttpResponse())) != bad


def test_accounts_by_plan(rf, site_meter):
    free = User.objects.create_user("free@example.com", "x" * 12, email_verified=True)
    for i in range(5):
        d = metering.meter_request(_request(rf, user=free), CM, f"E11.{i}")
        assert d.allowed and d.remaining == 4 - i
    assert not metering.meter_request(_request(rf, user=free), CM, "E11.9").allowed
    assert metering.meter_request(_request(rf, user=free), CM, "E11.0").already_unlocked
    assert metering.remaining_for(_request(rf, user=free)) == 0
    # an account does not set a guest cookie, and is not limited by its address's guest quota
    r = _request(rf, user=free)
    metering.meter_request(r, CM, "E11.0")
    assert not metering.set_guest_cookie(r, HttpResponse()).cookies

    paid = User.objects.create_user("paid@example.com", "x" * 12, email_verified=True, plan="paid")
    for i in range(12):
        assert metering.meter_request(_request(rf, user=paid), CM, f"I{10 + i}") == \
            metering.Decision(True, None, False, None)
    assert metering.remaining_for(_request(rf, user=paid)) is None

    # until its address is verified, an account is metered as a guest
    fresh = User.objects.create_user("fresh@example.com", "x" * 12)
    assert metering.remaining_for(_request(rf, user=fresh, addr="192.0.2.99")) == 1
    assert metering.meter_request(_request(rf, user=fresh, addr="192.0.2.99"), CM, "E11.9").allowed
    assert not metering.meter_request(_request(rf, user=fresh, addr="192.0.2.99"), CM, "I10").allowed


def test_quotas_come_from_settings(rf, site_meter, settings):
    settings.MEDCODE_QUOTAS = {"guest": 3, "free": 5, "paid": None}
    for i in range(3):
        assert metering.meter_request(_request(rf, addr="192.0.2.5"), CM, f"A0{i}.0").allowed
    assert not metering.meter_request(_request(rf, addr="192.0.2.5"), CM, "A09.0").allowed


def test_address_subject_is_a_keyed_hash_and_ipv6_counts_per_64(rf, settings):
    a = metering.address_subject(_request(rf, addr="203.0.113.7"))
    assert a.startswith("addr:") and "203.0.113.7" not in a and len(a) == 5 + 64
    assert a == metering.address_subject(_request(rf, addr="203.0.113.7"))
    assert a != metering.address_subject(_request(rf, addr="203.0.113.8"))
    assert metering.address_subject(_request(rf, addr="2001:db8:1:2::1")) == \
        metering.address_subject(_request(rf, addr="2001:db8:1:2:ffff::9"))
    assert metering.address_subject(_request(rf, addr="2001:db8:1:2::1")) != \
        metering.address_subject(_request(rf, addr="2001:db8:1:3::1"))
    settings.SECRET_KEY = "another secret key, long enough for the tests to be meaningful"
    assert metering.address_subject(_request(rf, addr="203.0.113.7")) != a


@pytest.mark.django_db
def test_unreachable_redis_falls_back_to_the_database(rf, settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.MEDCODE_QUOTAS = {"guest": 1, "free": 5, "paid": None}
    assert isinstance(metering.get_backend(), metering.RedisMeter)
    request = _request(rf, addr="192.0.2.200")
    assert metering.remaining_for(request) == 1
    assert metering.meter_request(request, CM, "E11.9").allowed
    assert MeterView.objects.filter(code="E11.9").count() == 2  # cookie and address, in the database
    assert "Redis meter unavailable" in caplog.text


@pytest.mark.django_db
def test_prune_meter_command(settings):
    from io import StringIO

    from django.core.management import call_command

    settings.REDIS_URL = ""
    s = _subject()
    metering.decide([s], CM, "E11.9", 5, 30, now=timezone.now() - timedelta(days=31))
    metering.decide([s], CM, "I10", 5, 30)
    out = StringIO()
    call_command("prune_meter", stdout=out)
    assert "pruned 1" in out.getvalue()
    assert list(MeterView.objects.filter(subject=s).values_list("code", flat=True)) == ["I10"]
