"""Who is calling: an API key (its account and plan) or an anonymous caller (the guest plan).

The Bearer scheme is optional: no Authorization header means anonymous; a header that is not a
valid, active key is a 401 (never a silent fall-back to anonymous). The per-minute rate limit
(MEDCODE_API_RATES, by plan) is checked here, so every operation is limited the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from ninja.security import HttpBearer

from medcode.accounts import apikeys, metering
from medcode.accounts.throttle import Counter

from .errors import ApiError

RATE_WINDOW = 60  # seconds


@dataclass
class Caller:
    plan: str                    # guest | free | paid
    rate_subject: str            # key:<id> | addr:<hmac>
    meter_subjects: list[str]    # user:<id> | addr:<hmac>
    user: object | None = None
    key: object | None = None
    headers: dict = field(default_factory=dict)  # rate-limit headers for the response

    @property
    def quota(self) -> int | None:
        return metering.quota_for(self.plan)


def _rate(plan: str) -> int | None:
    rates = settings.MEDCODE_API_RATES
    return rates.get(plan, rates.get("free"))


def check_rate(caller: Caller) -> None:
    limit = _rate(caller.plan)
    if limit is None:
        return
    counter = Counter("api-rate", limit, RATE_WINDOW)
    n = counter.hit(caller.rate_subject)
    caller.headers["X-RateLimit-Limit"] = limit
    caller.headers["X-RateLimit-Remaining"] = max(0, limit - n)
    if n > limit:
        wait = counter.retry_after(caller.rate_subject)
        raise ApiError(429, "rate_limited",
                       f"rate limit of {limit} requests per minute for the {caller.plan} plan exceeded; "
                       f"retry in {wait} s", {"Retry-After": wait, **caller.headers}, retry_after=wait)


class ApiKeyAuth(HttpBearer):
    """``Authorization: Bearer <key>``; optional (anonymous callers get the guest plan)."""

    def __call__(self, request) -> Caller:
        header = request.headers.get("Authorization", "").strip()
        if not header:
            addr = metering.address_subject(request)
            caller = Caller("guest", addr, [addr])
        else:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise ApiError(401, "unauthorized", "use the header Authorization: Bearer <key>",
                               {"WWW-Authenticate": "Bearer"})
            key = apikeys.authenticate(token.strip())
            if key is None:
                raise ApiError(401, "invalid_key", "the API key is not valid or has been revoked",
                               {"WWW-Authenticate": 'Bearer error="invalid_token"'})
            caller = Caller(key.user.plan, f"key:{key.pk}", [metering.user_subject(key.user)], key.user, key)
        check_rate(caller)
        return caller

    def authenticate(self, request, token):  # the work is done in __call__
        return None
