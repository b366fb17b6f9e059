"""Cache-based counters: failed logins per account and per client address, mails per recipient.

The counters live in the default cache (in-process by default, Redis with REDIS_URL, which is
what several web processes need to share one count). An account counter is keyed by a hash of
the email as typed, so it counts, and blocks, the same way whether or not the account exists.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or X-Forwarded-For when trusted proxies set it.

    With MEDCODE_TRUSTED_PROXY_COUNT = n > 0, each of the n proxies appends the address it got
    the request from, so the client is the n-th entry from the right; anything further left was
    written by the client and proves nothing. A header that is short or malformed is ignored.
    """
    remote = request.META.get("REMOTE_ADDR", "") or ""
    n = getattr(settings, "MEDCODE_TRUSTED_PROXY_COUNT", 0)
    if n > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= n:
            addr = _parse_addr(hops[-n])
            if addr:
                return addr
    return _parse_addr(remote) or remote


def _parse_addr(value: str) -> str | None:
    """A normalised IP address from `value`, tolerating a port ("1.2.3.4:80", "[::1]:80")."""
    value = value.strip()[:100]
    candidates = [value]
    if value.startswith("[") and "]" in value:
        candidates.append(value[1:value.index("]")])
    elif value.count(":") == 1:
        candidates.append(value.split(":")[0])
    for c in candidates:
        try:
            return str(ipaddress.ip_address(c))
        except ValueError:
            continue
    return None


def address_key(ip: str) -> str:
    """IPv6 clients usually hold a whole /64, so they are counted per /64 like one IPv4 address."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:100]
    if addr.version == 6:
        if addr.ipv4_mapped:
            return str(addr.ipv4_mapped)
        return str(ipaddress.ip_network(f"{addr}/64", strict=False))
    return str(addr)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True)
class Counter:
    """A fixed-window counter: `limit` hits per `window` seconds, counted from the first hit."""

    name: str
    limit: int
    window: int

    def _keys(self, subject: str) -> tuple[str, str]:
        base = f"throttle:{self.name}:{_digest(subject)}"
        return base + ":n", base + ":t0"

    def count(self, subject: str) -> int:
        return cache.get(self._keys(subject)[0], 0)

    def exceeded(self, subject: str) -> bool:
        return self.count(subject) >= self.limit

    def hit(self, subject: str) -> int:
        """Count one more hit; returns the new count."""
        n_key, t_key = self._keys(subject)
        if cache.add(n_key, 1, self.window):
            cache.set(t_key, time.time(), self.window)
            return 1
        try:
            return cache.incr(n_key)
        except ValueError:  # expired between add and incr: this hit opens a new window
            cache.set(n_key, 1, self.window)
            cache.set(t_key, time.time(), self.window)
            return 1

    def retry_after(self, subject: str) -> int:
        """Seconds until the window that holds `subject` closes (at least 1)."""
        started = cache.get(self._keys(subject)[1])
        if started is None:
            return self.window
        return max(1, math.ceil(started + self.window - time.time()))

    def reset(self, subject: str) -> None:
        cache.delete_many(list(self._keys(subject)))


def _window() -> int:
    return settings.MEDCODE_LOGIN_WINDOW_MINUTES * 60


def account_counter() -> Counter:
    return Counter("login-account", settings.MEDCODE_LOGIN_MAX_FAILURES, _window())


def address_counter() -> Counter:
    return Counter("login-address", settings.MEDCODE_LOGIN_MAX_FAILURES_PER_ADDRESS, _window())


def normalize_login(email: str) -> str:
    return (email or "").strip().lower()[:320]


class LoginThrottle:
    """Failed-login bookkeeping for one login attempt (email as typed, client address)."""

    def __init__(self, request, email: str):
        self.account = normalize_login(email)
        self.address = address_key(client_ip(request))
        self.per_account = account_counter()
        self.per_address = address_counter()

    def blocked_for(self) -> int:
        """Seconds to wait before another attempt may be checked, or 0 if it may be checked now."""
        waits = [c.retry_after(s) for c, s in ((self.per_account, self.account), (self.per_address, self.address))
                 if s and c.exceeded(s)]
        return max(waits, default=0)

    def failed(self) -> None:
        if self.account:
            self.per_account.hit(self.account)
        self.per_address.hit(self.address)

    def succeeded(self) -> None:
        """The owner got in: forget the account's failures (never the address's, or one good
        account would let an address keep guessing other accounts' passwords)."""
        self.per_account.reset(self.account)


def reset_account(email: str) -> None:
    """After a password reset the owner may log in at once, whatever was guessed before."""
    account_counter().reset(normalize_login(email))


def mail_allowed(recipient: str) -> bool:
    """Counts one account mail to `recipient`; False once the hourly cap is reached."""
    counter = Counter("mail-recipient", settings.MEDCODE_MAILS_PER_RECIPIENT_PER_HOUR, 3600)
    subject = normalize_login(recipient)
    if counter.exceeded(subject):
        return False
    counter.hit(subject)
    return True
