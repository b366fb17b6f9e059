"""Feature quotas: how many times per rolling day a plan may use a feature (assistant questions,
case-to-code runs, ...). Settings: ``MEDCODE_FEATURE_QUOTAS = {"assistant": {"guest": 3, "free": 20,
"paid": None}, ...}`` (None = unlimited) and ``MEDCODE_FEATURE_QUOTA_WINDOW_SECONDS`` (86400).

Unlike the code-page meter (distinct codes), every use counts. Who is counted is worked out the
same way as the meter (`metering.visitor`): a verified account by its plan under ``user:<id>``; a
guest (or an account whose address is not verified yet) under the signed guest cookie *and* the
hashed client address, so clearing cookies does not reset the count; an API caller under its
account or, anonymous, its hashed address. A use is recorded for every subject, and only when each
still has room.

    from medcode.accounts import quotas

    try:
        left = quotas.consume(request, "assistant")   # or an API Caller, or quotas.Who(plan, subjects)
    except quotas.QuotaExceeded as exc:
        ...  # 429 / a page saying exc.message, with exc.retry_after seconds and exc.plan
    left.remaining   # uses left in the window after this one; None = unlimited
    quotas.remaining(request, "assistant")             # the same figure, recording nothing

Backends as in metering: the app database (rows serialised per subject by the transaction, an
advisory lock on PostgreSQL), or Redis when ``REDIS_URL`` is set (a sorted set per subject and
feature, checked and added in one Lua script); ``MEDCODE_FEATURE_QUOTA_BACKEND = "db" | "redis"``
overrides. An unreachable Redis falls back to the database (logged), never a 500.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import router, transaction
from django.utils import timezone

from . import metering
from .models import FeatureUse

DEFAULT_WINDOW_SECONDS = 86400


@dataclass(frozen=True)
class Who:
    plan: str              # guest | free | paid
    subjects: list[str]    # user:<id> | guest:<cookie id> | addr:<hmac>


@dataclass(frozen=True)
class Remaining:
    feature: str
    plan: str
    limit: int | None      # uses per window; None = unlimited
    remaining: int | None  # uses left after this one; None = unlimited


class QuotaExceeded(Exception):
    def __init__(self, feature: str, plan: str, limit: int, retry_after: int | None, window_seconds: int):
        self.feature, self.plan, self.limit = feature, plan, limit
        self.retry_after = retry_after  # seconds until one more use fits; None: never (a limit of 0)
        self.window_seconds = window_seconds
        span = "day" if window_seconds == 86400 else f"{_duration(window_seconds)}"
        when = f"; one more fits in {_duration(retry_after)}" if retry_after else ""
        more = "register a free account" if plan == "guest" else "upgrade"
        super().__init__(f"the {plan} plan's {limit} {FEATURE_NOUNS.get(feature, feature + ' uses')} per {span} "
                         f"are used up{when}; {more} for more.")

    @property
    def message(self) -> str:
        return str(self)


FEATURE_NOUNS = {"assistant": "assistant questions", "case2code": "case-to-code runs"}


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{math.ceil(seconds / 60)} minutes"
    return f"{math.ceil(seconds / 3600)} hours"


# --- settings -----------------------------------------------------------------------------------

def window_seconds() -> int:
    return int(getattr(settings, "MEDCODE_FEATURE_QUOTA_WINDOW_SECONDS", DEFAULT_WINDOW_SECONDS))


def limit_for(plan: str, feature: str) -> int | None:
    """The feature's limit for a plan; unknown plans get the free plan's. An unknown feature is a bug."""
    table = settings.MEDCODE_FEATURE_QUOTAS
    if feature not in table:
        raise KeyError(f"no quota is configured for the feature {feature!r} (MEDCODE_FEATURE_QUOTAS)")
    limits = table[feature]
    return limits[plan] if plan in limits else limits.get("free")


def who(caller) -> Who:
    """A Who from a web request (metering.visitor), an API Caller (plan, meter_subjects) or a Who."""
    if isinstance(caller, Who):
        return caller
    if hasattr(caller, "meter_subjects") and hasattr(caller, "plan"):
        return Who(caller.plan, list(caller.meter_subjects))
    v = metering.visitor(caller)  # an HttpRequest
    return Who(v.plan, list(v.subjects))


# --- backends -------------------------------------------------------------------------------------

class DatabaseQuota:
    """FeatureUse rows in the app database."""

    def __init__(self, using: str | None = None):
        self.using = using or router.db_for_write(FeatureUse)

    def _times(self, subjects: list[str], feature: str, cutoff: datetime) -> dict[str, list[datetime]]:
        seen: dict[str, list[datetime]] = {s: [] for s in subjects}
        for subject, at in (FeatureUse.objects.using(self.using)
                            .filter(subject__in=subjects, feature=feature, at__gt=cutoff)
                            .values_list("subject", "at")):
            seen[subject].append(at)
        return seen

    def consume(self, subjects: list[str], feature: str, limit: int, window: timedelta, now: datetime):
        cutoff = now - window
        with transaction.atomic(using=self.using):
            metering.lock_subjects(self.using, f"medcode-quota:{feature}:", subjects)
            rows = FeatureUse.objects.using(self.using)
            rows.filter(subject__in=subjects, feature=feature, at__lte=cutoff).delete()  # keep the table small
            seen = self._times(subjects, feature, cutoff)
            left = min(limit - len(v) for v in seen.values())
            if left <= 0:
                return False, 0, metering.retry_after(seen, limit, window, now)
            rows.bulk_create([FeatureUse(subject=s, feature=feature, at=now) for s in subjects])
            return True, left - 1, None

    def remaining(self, subjects: list[str], feature: str, limit: int, window: timedelta, now: datetime) -> int:
        seen = self._times(subjects, feature, now - window)
        return max(0, min(limit - len(v) for v in seen.values()))

    def forget(self, subjects: list[str]) -> None:
        FeatureUse.objects.using(self.using).filter(subject__in=subjects).delete()

    def prune(self, window: timedelta, now: datetime) -> int:
        return FeatureUse.objects.using(self.using).filter(at__lte=now - window).delete()[0]


_LUA_CONSUME = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local member = ARGV[4]
local left = limit
local counts = {}
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  counts[i] = redis.call('ZCARD', key)
  if limit - counts[i] < left then left = limit - counts[i] end
end
if left <= 0 then
  if limit <= 0 then return {0, 0, -1} end
  local wait = 0
  for i, key in ipairs(KEYS) do
    if counts[i] >= limit then
      local entry = redis.call('ZRANGE', key, counts[i] - limit, counts[i] - limit, 'WITHSCORES')
      local w = tonumber(entry[2]) + window - now
      if w > wait then wait = w end
    end
  end
  return {0, 0, wait}
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window)
end
return {1, left - 1, -1}
"""


class RedisQuota:
    """One sorted set per subject and feature (a unique member per use, scored by time in ms)."""

    def __init__(self, url: str, prefix: str = "medcode:quota:"):
        self.prefix = prefix
        self.client = metering.redis_client(url)
        self._script = self.client.register_script(_LUA_CONSUME)

    def _keys(self, subjects: list[str], feature: str) -> list[str]:
        return [f"{self.prefix}{feature}:{s}" for s in subjects]

    def consume(self, subjects: list[str], feature: str, limit: int, window: timedelta, now: datetime):
        member = f"{metering.redis_ms(now)}:{secrets.token_hex(6)}"
        allowed, left, wait = self._script(keys=self._keys(subjects, feature),
                                           args=[metering.redis_ms(now), int(window.total_seconds() * 1000), limit,
                                                 member])
        return bool(allowed), int(left), None if allowed else metering.redis_wait_seconds(wait)

    def remaining(self, subjects: list[str], feature: str, limit: int, window: timedelta, now: datetime) -> int:
        return metering.redis_remaining(self.client, self._keys(subjects, feature), limit, window, now)

    def forget(self, subjects: list[str]) -> None:
        keys = [k for s in subjects for k in self.client.scan_iter(match=f"{self.prefix}*:{s}")]
        if keys:
            self.client.delete(*keys)

    def prune(self, window: timedelta, now: datetime) -> int:
        return 0  # old uses leave inside the script; idle sets expire on their own


def get_backend():
    choice = getattr(settings, "MEDCODE_FEATURE_QUOTA_BACKEND", None) or ("redis" if settings.REDIS_URL else "db")
    if choice == "redis":
        prefix = getattr(settings, "MEDCODE_FEATURE_QUOTA_REDIS_PREFIX", None) or \
            settings.CACHES["default"].get("KEY_PREFIX", "medcode") + ":quota:"
        return RedisQuota(settings.REDIS_URL, prefix)
    return DatabaseQuota()


def _run(backend, method: str, *args):
    return metering.run_with_db_fallback(backend, method, args, configured=get_backend,
                                         database=DatabaseQuota, what="quota store")


# --- entry points -----------------------------------------------------------------------------------

def consume(caller, feature: str, *, now: datetime | None = None, backend=None) -> Remaining:
    """Count one use of `feature` for the caller (request, API Caller or Who); QuotaExceeded when spent."""
    w = who(caller)
    if not w.subjects:
        raise ValueError("at least one subject is needed")
    limit = limit_for(w.plan, feature)
    if limit is None:
        return Remaining(feature, w.plan, None, None)
    window = window_seconds()
    allowed, left, retry = _run(backend, "consume", list(dict.fromkeys(w.subjects)), feature, int(limit),
                                timedelta(seconds=window), now or timezone.now())
    if not allowed:
        raise QuotaExceeded(feature, w.plan, int(limit), retry, window)
    return Remaining(feature, w.plan, int(limit), left)


def remaining(caller, feature: str, *, now: datetime | None = None, backend=None) -> Remaining:
    """Uses of `feature` the caller has left in the window (records nothing)."""
    w = who(caller)
    limit = limit_for(w.plan, feature)
    if limit is None:
        return Remaining(feature, w.plan, None, None)
    left = _run(backend, "remaining", list(dict.fromkeys(w.subjects)), feature, int(limit),
                timedelta(seconds=window_seconds()), now or timezone.now())
    return Remaining(feature, w.plan, int(limit), left)


def forget(subjects: list[str], *, backend=None) -> None:
    """Delete every recorded use of the subjects (an account being deleted)."""
    if subjects:
        _run(backend, "forget", list(subjects))


def prune(*, now: datetime | None = None, backend=None) -> int:
    """Delete uses older than the window from the database; returns how many."""
    return _run(backend, "prune", timedelta(seconds=window_seconds()), now or timezone.now())
