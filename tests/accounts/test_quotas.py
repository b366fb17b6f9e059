"""Feature quotas per rolling day (medcode.accounts.quotas) on both backends (app database, Redis),
and who is counted: accounts by plan, guests by signed cookie plus hashed address, API callers."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.utils import timezone

from medcode.accounts import metering, quotas
from medcode.accounts.models import FeatureUse, User
from threadrace import race
from windowkit import redis_store, run_sqlite_race

DAY = 86400


@pytest.fixture
def redis_quota():
    yield from redis_store(quotas.RedisQuota, "quota")


@pytest.fixture(params=["db", "redis"])
def store(request, settings):
    settings.MEDCODE_FEATURE_QUOTAS = {"assistant": {"guest": 3, "free": 20, "paid": None},
                                       "case2code": {"guest": 1, "free": 2, "paid": 0}}
    settings.MEDCODE_FEATURE_QUOTA_WINDOW_SECONDS = DAY
    request.getfixturevalue("db")
    if request.param == "db":
        return quotas.DatabaseQuota()
    return request.getfixturevalue("redis_quota")


def _who(plan: str = "guest", n: int = 1) -> quotas.Who:
    return quotas.Who(plan, [f"test:{uuid.uuid4().hex}" for _ in range(n)])


def test_three_a_day_for_guests_then_refused(store):
    who = _who()
    t0 = timezone.now() - timedelta(days=3)
    lefts = [quotas.consume(who, "assistant", now=t0 + timedelta(minutes=i), backend=store).remaining
             for i in range(3)]
    assert lefts == [2, 1, 0]
    with pytest.raises(quotas.QuotaExceeded) as exc:
        quotas.consume(who, "assistant", now=t0 + timedelta(hours=1), backend=store)
    e = exc.value
    assert (e.plan, e.limit, e.feature) == ("guest", 3, "assistant")
    assert e.retry_after == DAY - 3600  # the first use leaves the window a day after it was made
    assert "3 assistant questions per day are used up" in e.message and "register a free account" in e.message
    assert quotas.remaining(who, "assistant", now=t0 + timedelta(hours=1), backend=store).remaining == 0
    # a rolling day: one second after the first use leaves, one more fits, and only one
    later = t0 + timedelta(days=1, seconds=1)
    assert quotas.remaining(who, "assistant", now=later, backend=store).remaining == 1
    assert quotas.consume(who, "assistant", now=later, backend=store).remaining == 0
    with pytest.raises(quotas.QuotaExceeded):
        quotas.consume(who, "assistant", now=later, backend=store)
    # features are counted apart
    assert quotas.consume(who, "case2code", now=later, backend=store) == quotas.Remaining("case2code", "guest", 1, 0)


def test_a_refusal_records_nothing_and_every_subject_must_have_room(store):
    cookie1, cookie2, addr = (f"test:{uuid.uuid4().hex}" for _ in range(3))
    for _ in range(3):
        quotas.consume(quotas.Who("guest", [cookie1, addr]), "assistant", backend=store)
    # cookies cleared: a new cookie, the same address -> still spent
    with pytest.raises(quotas.QuotaExceeded):
        quotas.consume(quotas.Who("guest", [cookie2, addr]), "assistant", backend=store)
    assert quotas.remaining(quotas.Who("guest", [cookie2]), "assistant", backend=store).remaining == 3


def test_plans_unlimited_zero_and_unknown(store):
    paid = _who("paid")
    for _ in range(25):
        assert quotas.consume(paid, "assistant", backend=store) == quotas.Remaining("assistant", "paid", None, None)
    assert quotas.remaining(paid, "assistant", backend=store).remaining is None
    with pytest.raises(quotas.QuotaExceeded) as exc:  # a limit of 0: never, and no Retry-After to give
        quotas.consume(paid, "case2code", backend=store)
    assert exc.value.retry_after is None
    odd = _who("enterprise")  # an unknown plan gets the free plan's limit
    assert quotas.consume(odd, "assistant", backend=store).limit == 20
    with pytest.raises(KeyError, match="no quota is configured"):
        quotas.consume(_who(), "no-such-feature", backend=store)
    with pytest.raises(ValueError):
        quotas.consume(quotas.Who("guest", []), "assistant", backend=store)


def test_forget(store):
    who = _who("free")
    quotas.consume(who, "assistant", backend=store)
    quotas.consume(who, "case2code", backend=store)
    quotas.forget(who.subjects, backend=store)
    assert quotas.remaining(who, "assistant", backend=store).remaining == 20
    assert quotas.remaining(who, "case2code", backend=store).remaining == 2


@pytest.mark.django_db
def test_the_worker_prunes_old_usage_every_day(settings):
    """A consume deletes only its own subjects' old rows, so a guest who never comes back (a new cookie per
    visit) left rows forever: nothing called prune(). The worker's daily task prunes both database stores,
    also when Redis is configured (they hold what was counted while it was down)."""
    from medcode.accounts.models import MeterView
    from medcode.accounts.tasks import prune_usage
    from medcode.scheduling.periodic import configured

    assert configured()["prune-usage"] == {"task": "medcode.accounts.tasks.prune_usage", "every": DAY}
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # configured but down: the task still prunes the database
    gone, back = _who("guest"), _who("guest")
    old = timezone.now() - timedelta(days=31)
    quotas.consume(gone, "assistant", now=old, backend=quotas.DatabaseQuota())
    quotas.consume(back, "assistant", backend=quotas.DatabaseQuota())
    metering.decide(gone.subjects, "icd10cm", "E11.9", 5, 30, now=old, backend=metering.DatabaseMeter())
    metering.decide(back.subjects, "icd10cm", "I10", 5, 30, backend=metering.DatabaseMeter())
    assert prune_usage.call() == {"meter": 1, "feature_uses": 1}
    assert list(FeatureUse.objects.values_list("subject", flat=True)) == back.subjects
    assert list(MeterView.objects.values_list("subject", flat=True)) == back.subjects


@pytest.mark.django_db
def test_database_rows_are_pruned():
    store = quotas.DatabaseQuota()
    who = _who("free")
    old = timezone.now() - timedelta(days=2)
    quotas.consume(who, "assistant", now=old, backend=store)
    quotas.consume(who, "assistant", now=old + timedelta(hours=1), backend=store)
    assert quotas.prune(backend=store) == 2
    quotas.consume(who, "assistant", now=old, backend=store)
    quotas.consume(who, "assistant", backend=store)  # a use clears the subject's expired rows itself
    assert FeatureUse.objects.filter(subject=who.subjects[0]).count() == 1


# --- who is counted ------------------------------------------------------------------------------

def _request(rf, user=None, addr="203.0.113.7", cookie: str | None = None):
    request = rf.post("/assistant", REMOTE_ADDR=addr)
    request.user = user or AnonymousUser()
    if cookie is not None:
        request.COOKIES[metering.GUEST_COOKIE] = cookie
    return request


@pytest.mark.django_db
def test_who_from_requests_and_api_callers(rf, settings):
    settings.MEDCODE_FEATURE_QUOTA_BACKEND = "db"
    guest = quotas.who(_request(rf))
    assert guest.plan == "guest" and guest.subjects[0].startswith("guest:") and guest.subjects[1].startswith("addr:")
    free = User.objects.create_user("q-free@example.com", None, email_verified=True)
    assert quotas.who(_request(rf, user=free)) == quotas.Who("free", [f"user:{free.pk}"])
    unverified = User.objects.create_user("q-new@example.com", None, email_verified=False, plan="paid")
    assert quotas.who(_request(rf, user=unverified)).plan == "guest"  # counts as a guest until verified

    from medcode.api.callers import Caller

    caller = Caller("paid", "key:7", [f"user:{free.pk}"], free)
    assert quotas.who(caller) == quotas.Who("paid", [f"user:{free.pk}"])
    w = quotas.Who("free", ["x"])
    assert quotas.who(w) is w


@pytest.mark.django_db
def test_settings_pick_the_backend_and_redis_down_falls_back(settings):
    settings.MEDCODE_FEATURE_QUOTAS = {"assistant": {"guest": 3, "free": 20, "paid": None}}
    settings.REDIS_URL = ""
    assert isinstance(quotas.get_backend(), quotas.DatabaseQuota)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    assert isinstance(quotas.get_backend(), quotas.RedisQuota)
    who = _who()
    assert quotas.consume(who, "assistant").remaining == 2  # answered by the database, logged
    assert FeatureUse.objects.filter(subject=who.subjects[0]).count() == 1


def test_the_documented_defaults():
    from django.conf import settings

    assert settings.MEDCODE_FEATURE_QUOTAS["assistant"] == {"guest": 3, "free": 20, "paid": None}
    assert settings.MEDCODE_FEATURE_QUOTAS["case2code"] == {"guest": 3, "free": 20, "paid": None}
    assert settings.MEDCODE_FEATURE_QUOTA_WINDOW_SECONDS == DAY


# --- concurrency ------------------------------------------------------------------------------

def _race(store, who: quotas.Who, n: int, feature: str = "assistant") -> list:
    def use(i: int):
        try:
            return quotas.consume(who, feature, backend=store).remaining
        except quotas.QuotaExceeded:
            return "refused"

    return race(n, use)


@pytest.mark.django_db(transaction=True)
def test_concurrent_uses_never_exceed_the_limit_database(settings):
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("threads cannot share SQLite's in-memory test database: see the file-database test below")
    settings.MEDCODE_FEATURE_QUOTAS = {"assistant": {"guest": 3, "free": 20, "paid": None}}
    who = _who("guest", 2)
    results = _race(quotas.DatabaseQuota(), who, 8)
    assert sorted(map(str, results)) == ["0", "1", "2"] + ["refused"] * 5, results
    assert FeatureUse.objects.filter(subject=who.subjects[0]).count() == 3


def test_concurrent_uses_never_exceed_the_limit_redis(redis_quota, settings):
    settings.MEDCODE_FEATURE_QUOTAS = {"assistant": {"guest": 3, "free": 20, "paid": None}}
    who = _who("guest", 2)
    results = _race(redis_quota, who, 8)
    assert sorted(map(str, results)) == ["0", "1", "2"] + ["refused"] * 5, results


_SQLITE_RACE = """
import json, threading
import django
django.setup()
from django.core.management import call_command
from django.db import connections
from medcode.accounts import quotas
call_command("migrate", verbosity=0, interactive=False)
barrier = threading.Barrier(8)
out = [None] * 8
def work(i):
    try:
        barrier.wait()
        out[i] = quotas.consume(quotas.Who("guest", ["guest:x", "addr:y"]), "assistant",
                                backend=quotas.DatabaseQuota()).remaining
    except quotas.QuotaExceeded:
        out[i] = "refused"
    except Exception as exc:
        out[i] = repr(exc)
    finally:
        connections.close_all()
threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps({"results": out, "vendor": connections["default"].vendor}))
"""


def test_concurrent_uses_never_exceed_the_limit_sqlite_file(tmp_path):
    """The embedded default (an SQLite file, IMMEDIATE transactions, busy timeout) under threads."""
    doc = run_sqlite_race(tmp_path, _SQLITE_RACE)
    assert sorted(map(str, doc["results"])) == ["0", "1", "2"] + ["refused"] * 5, doc["results"]
