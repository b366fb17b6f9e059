"""The code-page meter: how many distinct codes a visitor may open in full per rolling window.

The core is `decide()`: plain arguments in, a `Decision` out, so it is tested without requests.

    decide(subjects, system, code, quota, window_days, now=None) -> Decision

* A *subject* is one identity the visitor is counted under: ``user:<id>`` for an account,
  ``guest:<id from a signed cookie>`` plus ``addr:<HMAC of the client address>`` for a guest
  (both at once, so clearing cookies does not reset the meter), ``addr:...`` alone for an
  anonymous API call.
* A code already unlocked by any of the subjects within the window is free (``already_unlocked``).
* Otherwise the code is recorded for every subject, but only if every subject still has quota
  left; distinct codes only; each unlock counts for ``window_days`` from when it was first seen.
* ``quota=None`` is unlimited (nothing is recorded); ``quota=0`` allows nothing new.
* When refused, ``retry_after_seconds`` is how long until enough unlocks leave the window for
  one more to fit (None when it never will, i.e. a quota of 0).

Two backends behind one interface, picked by settings: the app database by default (one atomic
upsert per unlock, serialised per subject: SQLite takes its write lock at BEGIN because the
settings use IMMEDIATE transactions, PostgreSQL takes a transaction-scoped advisory lock per
subject), or Redis when ``REDIS_URL`` is set (a sorted set per subject scored by time; check and
add in one Lua script). ``MEDCODE_METER_BACKEND = "db" | "redis"`` overrides the choice. If
the configured Redis is unreachable the database answers instead (logged), never a 500. Old
database rows are deleted by ``medcode manage prune_meter`` (Redis entries expire by themselves).

The Django adapter, for the code page view::

    from medcode.accounts import metering

    def code_page(request, system, code):
        ...                                          # only once the code exists (no charge for a 404)
        decision = metering.meter_request(request, rec["system"], rec["code"])   # canonical spellings
        # decision.allowed          -> show the gated sections (notes, guidelines, crosswalks, ...)
        # decision.remaining        -> int for the banner ("N code page views remaining"), None = unlimited
        # decision.already_unlocked -> this view cost nothing
        response = render(...)
        return metering.set_guest_cookie(request, response)   # always: no-op for accounts

    metering.remaining_for(request) -> int | None      # the banner on any other page; records nothing

``meter_request`` works out who the visitor is (an account with a verified email address and its
plan; otherwise, guests and not-yet-verified accounts alike, the guest cookie plus the address),
their quota from ``MEDCODE_QUOTAS`` and the window from ``MEDCODE_METER_WINDOW_DAYS``. A guest
without a valid cookie (none, or tampered with) gets a fresh id; ``set_guest_cookie`` then sets
it on the response. Call it on every response of a view that used the meter.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, router, transaction
from django.utils import timezone
from django.utils.functional import SimpleLazyObject, empty

from .models import MeterView
from .throttle import address_key, client_ip

log = logging.getLogger(__name__)

GUEST_COOKIE = "medcode_guest"
GUEST_COOKIE_SALT = "medcode.accounts.metering.guest"
GUEST_COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest browsers keep a cookie
_GUEST_ID = re.compile(r"^[A-Za-z0-9_-]{16,40}$")


@dataclass(frozen=True)
class Decision:
    allowed: bool                    # show the gated content
    remaining: int | None            # distinct codes still available in the window; None = unlimited
    already_unlocked: bool           # the code was unlocked before (within the window): free
    retry_after_seconds: int | None  # when refused: seconds until one more unlock fits


def _ceil_seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


# --- plumbing shared with quotas.py (both count per-subject events in a sliding window) -------------

def lock_subjects(using: str, namespace: str, subjects: list[str]) -> None:
    """Serialise deciders per subject until the transaction ends (PostgreSQL advisory locks).

    SQLite: the transaction began with BEGIN IMMEDIATE (settings), so it already holds the
    database's write lock; without it, a racing writer fails instead of over-counting."""
    conn = connections[using]
    if conn.vendor == "postgresql":
        with conn.cursor() as cur:
            for s in sorted(set(subjects)):  # one order everywhere: no deadlocks
                key = int.from_bytes(hashlib.sha256(f"{namespace}{s}".encode()).digest()[:8], "big", signed=True)
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def retry_after(seen: dict[str, list[datetime]], limit: int, window: timedelta, now: datetime) -> int | None:
    """Seconds until every full subject has room for one more event; None when the limit is 0."""
    if limit <= 0:
        return None
    waits = []
    for times in seen.values():
        if len(times) >= limit:
            times = sorted(times)
            waits.append(times[len(times) - limit] + window - now)  # that one must expire first
    return _ceil_seconds(max(waits)) if waits else None


_redis_clients: dict[str, object] = {}
_redis_clients_lock = threading.Lock()


def redis_client(url: str):
    """One client (and its connection pool) per URL for the process."""
    with _redis_clients_lock:
        client = _redis_clients.get(url)
        if client is None:
            import redis

            client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
            _redis_clients[url] = client
    return client


def redis_ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def redis_wait_seconds(wait_ms) -> int | None:
    """A Lua script's wait in ms (negative: none) as whole seconds, at least 1."""
    return None if int(wait_ms) < 0 else max(1, math.ceil(int(wait_ms) / 1000))


def redis_remaining(client, keys: list[str], limit: int, window: timedelta, now: datetime) -> int:
    """The smallest room left over the keys' sorted sets (scores in ms) within the window."""
    low = f"({redis_ms(now - window)}"
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.zcount(key, low, "+inf")
        counts = pipe.execute()
    return max(0, min(limit - int(n) for n in counts))


# --- backends ---------------------------------------------------------------------------------

class DatabaseMeter:
    """MeterView rows in the app database."""

    def __init__(self, using: str | None = None):
        self.using = using or router.db_for_write(MeterView)

    def _live(self, subjects: list[str], cutoff: datetime):
        return (MeterView.objects.using(self.using)
                .filter(subject__in=subjects, first_seen__gt=cutoff)
                .values_list("subject", "system", "code", "first_seen"))

    def decide(self, subjects: list[str], system: str, code: str, quota: int, window: timedelta,
               now: datetime) -> Decision:
        cutoff = now - window
        with transaction.atomic(using=self.using):
            lock_subjects(self.using, "medcode-meter:", subjects)
            seen: dict[str, list[datetime]] = {s: [] for s in subjects}
            already = False
            for subject, sys_id, c, first_seen in self._live(subjects, cutoff):
                seen[subject].append(first_seen)
                already = already or (sys_id == system and c == code)
            left = min(quota - len(v) for v in seen.values())
            if already:
                return Decision(True, max(0, left), True, None)
            if left <= 0:
                return Decision(False, 0, False, retry_after(seen, quota, window, now))
            MeterView.objects.using(self.using).bulk_create(
                [MeterView(subject=s, system=system, code=code, first_seen=now) for s in subjects],
                update_conflicts=True, unique_fields=["subject", "system", "code"], update_fields=["first_seen"])
            return Decision(True, left - 1, False, None)

    def remaining(self, subjects: list[str], quota: int, window: timedelta, now: datetime) -> int:
        counts = {s: 0 for s in subjects}
        for subject, *_ in self._live(subjects, now - window):
            counts[subject] += 1
        return max(0, min(quota - n for n in counts.values()))

    def forget(self, subjects: list[str]) -> None:
        MeterView.objects.using(self.using).filter(subject__in=subjects).delete()

    def prune(self, window: timedelta, now: datetime) -> int:
        """Delete unlocks that have left the window; returns how many."""
        return MeterView.objects.using(self.using).filter(first_seen__lte=now - window).delete()[0]


_LUA_DECIDE = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local member = ARGV[3]
local quota = tonumber(ARGV[4])
for _, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
end
local left = quota
local already = false
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('ZCARD', key)
  if quota - counts[i] < left then left = quota - counts[i] end
  if redis.call('ZSCORE', key, member) then already = true end
end
if already then
  if left < 0 then left = 0 end
  return {1, left, 1, -1}
end
if left <= 0 then
  if quota <= 0 then return {0, 0, 0, -1} end
  local wait = 0
  for i, key in ipairs(KEYS) do
    if counts[i] >= quota then
      local entry = redis.call('ZRANGE', key, counts[i] - quota, counts[i] - quota, 'WITHSCORES')
      local w = tonumber(entry[2]) + window - now
      if w > wait then wait = w end
    end
  end
  return {0, 0, 0, wait}
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window)
end
return {1, left - 1, 0, -1}
"""


class RedisMeter:
    """One sorted set per subject (member ``system:code``, score = first seen in ms)."""

    def __init__(self, url: str, prefix: str = "medcode:meter:"):
        self.prefix = prefix
        self.client = redis_client(url)
        self._script = self.client.register_script(_LUA_DECIDE)

    def _keys(self, subjects: list[str]) -> list[str]:
        return [self.prefix + s for s in subjects]

    def decide(self, subjects: list[str], system: str, code: str, quota: int, window: timedelta,
               now: datetime) -> Decision:
        window_ms = int(window.total_seconds() * 1000)
        allowed, left, already, wait = self._script(
            keys=self._keys(subjects), args=[redis_ms(now), window_ms, f"{system}:{code}", quota])
        return Decision(bool(allowed), int(left), bool(already), None if allowed else redis_wait_seconds(wait))

    def remaining(self, subjects: list[str], quota: int, window: timedelta, now: datetime) -> int:
        return redis_remaining(self.client, self._keys(subjects), quota, window, now)

    def forget(self, subjects: list[str]) -> None:
        if subjects:
            self.client.delete(*self._keys(subjects))

    def prune(self, window: timedelta, now: datetime) -> int:
        return 0  # entries leave the window inside the script; idle sets expire on their own


def get_backend():
    """The meter backend the settings ask for: Redis when REDIS_URL is set, else the database."""
    choice = getattr(settings, "MEDCODE_METER_BACKEND", None) or ("redis" if settings.REDIS_URL else "db")
    if choice == "redis":
        prefix = getattr(settings, "MEDCODE_METER_REDIS_PREFIX", None) or \
            settings.CACHES["default"].get("KEY_PREFIX", "medcode") + ":meter:"
        return RedisMeter(settings.REDIS_URL, prefix)
    return DatabaseMeter()


# --- the pure entry points ----------------------------------------------------------------------

def run_with_db_fallback(backend, method: str, args: tuple, *, configured, database, what: str):
    """Call `backend` (or the `configured()` one); when that is Redis and Redis is unreachable, use
    `database()` instead rather than fail the request (logged: the two keep separate counts while
    Redis is down). Shared by the code-page meter and the feature quotas."""
    if backend is not None:
        return getattr(backend, method)(*args)
    backend = configured()
    try:
        return getattr(backend, method)(*args)
    except Exception as exc:
        if isinstance(backend, database) or not _is_redis_error(exc):
            raise
        log.warning("Redis %s unavailable (%s); using the database", what, exc)
        return getattr(database(), method)(*args)


def _run(backend, method: str, *args):
    return run_with_db_fallback(backend, method, args, configured=get_backend, database=DatabaseMeter,
                                what="meter")


def _is_redis_error(exc: Exception) -> bool:
    import redis

    return isinstance(exc, redis.RedisError)


def decide(subjects: list[str], system: str, code: str, quota: int | None, window_days: int | float,
           *, now: datetime | None = None, backend=None) -> Decision:
    """Unlock `system`/`code` for every subject if each has quota left (see the module docstring)."""
    if not subjects:
        raise ValueError("at least one subject is needed")
    if quota is None:
        return Decision(True, None, False, None)
    return _run(backend, "decide", list(dict.fromkeys(subjects)), system, code, int(quota),
                timedelta(days=window_days), now or timezone.now())


def remaining(subjects: list[str], quota: int | None, window_days: int | float, *, now: datetime | None = None,
              backend=None) -> int | None:
    """Distinct codes the subjects may still unlock (the smallest over them); None = unlimited."""
    if quota is None:
        return None
    return _run(backend, "remaining", list(dict.fromkeys(subjects)), int(quota), timedelta(days=window_days),
                now or timezone.now())


def forget(subjects: list[str], *, backend=None) -> None:
    """Delete everything the meter holds for the subjects (e.g. when an account is deleted)."""
    _run(backend, "forget", list(subjects))


def prune(*, now: datetime | None = None, backend=None) -> int:
    """Delete unlocks older than the window (the database keeps them until then); returns how many."""
    return _run(backend, "prune", timedelta(days=window_days()), now or timezone.now())


# --- who is metered -----------------------------------------------------------------------------

def quota_for(plan: str) -> int | None:
    """The quota of a plan ("guest", "free", "paid") from MEDCODE_QUOTAS; unknown plans get the free quota."""
    quotas = settings.MEDCODE_QUOTAS
    return quotas[plan] if plan in quotas else quotas["free"]


def window_days() -> int:
    return settings.MEDCODE_METER_WINDOW_DAYS


def user_subject(user) -> str:
    return f"user:{user.pk}"


# Both the address digest and a cookie's signature check give the same answer for the same input and
# secret every time, so each worker remembers its recent ones (a returning visitor costs no HMAC).
_MEMO_ENTRIES = 4096
_addr_memo: dict[tuple[str, str], str] = {}
_cookie_memo: dict[tuple[str, str], str | None] = {}


def _memo_put(memo: dict, key, value) -> None:
    if len(memo) >= _MEMO_ENTRIES:
        memo.clear()  # rare, and cheaper than tracking recency
    memo[key] = value


def address_subject(request) -> str:
    """``addr:<HMAC-SHA256 of the client address>`` (an IPv6 client counts per /64)."""
    raw = (request.META.get("REMOTE_ADDR", "") or "", request.META.get("HTTP_X_FORWARDED_FOR", ""),
           settings.SECRET_KEY, getattr(settings, "MEDCODE_TRUSTED_PROXY_COUNT", 0))
    found = _addr_memo.get(raw)
    if found is not None:
        return found
    addr = address_key(client_ip(request))
    digest = hmac.new(settings.SECRET_KEY.encode(), b"medcode-meter-addr:" + addr.encode(), hashlib.sha256)
    found = "addr:" + digest.hexdigest()
    _memo_put(_addr_memo, raw, found)
    return found


def _signed_guest_id(request) -> str | None:
    value = request.COOKIES.get(GUEST_COOKIE)
    if value is None:
        return None
    key = (value, settings.SECRET_KEY)
    if key in _cookie_memo:
        return _cookie_memo[key]
    gid = request.get_signed_cookie(GUEST_COOKIE, default=None, salt=GUEST_COOKIE_SALT)
    _memo_put(_cookie_memo, key, gid)
    return gid


def guest_id(request) -> str:
    """The guest id from the signed cookie; a missing or tampered cookie gets a fresh id, which
    `set_guest_cookie` then sets on the response."""
    gid = getattr(request, "_medcode_guest_id", None)
    if gid:
        return gid
    gid = _signed_guest_id(request)
    if not gid or not _GUEST_ID.match(gid):
        gid = secrets.token_urlsafe(16)
        request._medcode_guest_new = True
    request._medcode_guest_id = gid
    return gid


@dataclass(frozen=True)
class Visitor:
    plan: str                 # "guest", "free" or "paid"
    subjects: list[str]
    quota: int | None


def signed_in_user(request):
    """The request's logged-in account, or None. A request without a session cookie is a guest: its
    session is not loaded (the answer would be an empty session, an anonymous user)."""
    user = getattr(request, "user", None)
    if user is None:
        return None
    if (type(user) is SimpleLazyObject and user._wrapped is empty  # not yet looked up, nor assigned
            and settings.SESSION_COOKIE_NAME not in request.COOKIES):
        return None
    return user if user.is_authenticated else None


def visitor(request) -> Visitor:
    """Who a web request is metered as: the logged-in account once its email address is verified,
    else (guests, and accounts still unverified) the guest cookie plus the client address."""
    user = signed_in_user(request)
    if user is not None and user.email_verified:
        return Visitor(user.plan, [user_subject(user)], quota_for(user.plan))
    return Visitor("guest", [f"guest:{guest_id(request)}", address_subject(request)], quota_for("guest"))


# --- the Django adapter -------------------------------------------------------------------------

def meter_request(request, system: str, code: str) -> Decision:
    """Count this request's view of `system`/`code` (canonical spelling) against its visitor's quota."""
    v = visitor(request)
    decision = decide(v.subjects, system, code, v.quota, window_days())
    request._medcode_meter_remaining = decision.remaining
    return decision


def remaining_for(request) -> int | None:
    """Code page views the visitor has left (for the banner); None = unlimited. Records nothing."""
    cached = getattr(request, "_medcode_meter_remaining", False)
    if cached is not False:
        return cached
    v = visitor(request)
    return remaining(v.subjects, v.quota, window_days())


def set_guest_cookie(request, response):
    """Set the guest cookie when this request minted a new guest id; returns the response."""
    if getattr(request, "_medcode_guest_new", False) and getattr(request, "_medcode_guest_id", None):
        response.set_signed_cookie(
            GUEST_COOKIE, request._medcode_guest_id, salt=GUEST_COOKIE_SALT, max_age=GUEST_COOKIE_MAX_AGE,
            httponly=True, samesite="Lax", secure=settings.SESSION_COOKIE_SECURE)
    return response
