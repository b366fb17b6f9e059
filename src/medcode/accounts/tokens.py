"""Signed, expiring links for verifying an address and for moving an account to a new one.

A token is django.core.signing output (payload, timestamp, HMAC with SECRET_KEY), so nothing
is stored. A link carries the address it vouches for, and works only while the account still
has the state it was issued for: a verification link dies when the email changes; a change of
email link dies when the email or the password changes (so an older link cannot undo a newer
change, and changing the password cancels a change an intruder started).
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

VERIFY_SALT = "medcode.accounts.verify-email"
CHANGE_SALT = "medcode.accounts.change-email"
MAX_TOKEN = 512  # a real token is about 100 characters


class LinkError(Exception):
    """A link that cannot be used; the message is for the person who clicked it."""


class LinkExpired(LinkError):
    pass


class LinkInvalid(LinkError):
    pass


def _state(user) -> str:
    return salted_hmac(CHANGE_SALT, f"{user.pk}|{user.password}|{user.email}").hexdigest()[:20]


def verify_token(user) -> str:
    return signing.dumps({"u": user.pk, "e": user.email}, salt=VERIFY_SALT)


def change_email_token(user, new_email: str) -> str:
    return signing.dumps({"u": user.pk, "e": new_email, "s": _state(user)}, salt=CHANGE_SALT)


def _load(token: str, salt: str) -> dict:
    if not token or len(token) > MAX_TOKEN:
        raise LinkInvalid("This link is not valid. Copy the whole link from the email, or ask for a new one.")
    try:
        data = signing.loads(token, salt=salt, max_age=settings.MEDCODE_EMAIL_LINK_MAX_AGE)
    except signing.SignatureExpired:
        raise LinkExpired("This link has expired. Ask for a new one.") from None
    except (signing.BadSignature, ValueError, UnicodeError):
        raise LinkInvalid("This link is not valid. Copy the whole link from the email, or ask for a new one.") from None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("e"), str):
        raise LinkInvalid("This link is not valid.")
    return data


def read_verify_token(token: str) -> tuple[int, str]:
    """(user id, email the link was sent to)."""
    data = _load(token, VERIFY_SALT)
    return data["u"], data["e"]


def read_change_email_token(token: str) -> tuple[int, str, str]:
    """(user id, new email, state fingerprint)."""
    data = _load(token, CHANGE_SALT)
    if not isinstance(data.get("s"), str):
        raise LinkInvalid("This link is not valid.")
    return data["u"], data["e"], data["s"]


def state_matches(user, state: str) -> bool:
    return constant_time_compare(_state(user), state)
