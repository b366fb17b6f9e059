"""API key actions: create, revoke, authenticate. Views, the CLI and the JSON API call these.

A key is ``mc_`` + 43 URL-safe characters. Only its SHA-256 is stored (`ApiKey.issue`); the raw key
is returned once, at creation. ``authenticate`` takes the raw key from an
``Authorization: Bearer`` header and returns the active key (or None); ``last_used`` is written at
most once a minute per key so a busy client does not turn every read into a write.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import ApiKey, Plan, User, hash_key

MAX_ACTIVE_KEYS = 20
MAX_KEY_LENGTH = 100
LAST_USED_EVERY = timedelta(minutes=1)


class ApiKeyError(Exception):
    """A key action that cannot be done; the message is for the user."""


def active_keys(user: User):
    return user.api_keys.filter(revoked__isnull=True).order_by("-created")


def create_key(user: User, name: str = "") -> tuple[ApiKey, str]:
    """A new key for `user`: (the stored key, the raw key to show once)."""
    name = (name or "").strip()[:100]
    if not user.email_verified:
        raise ApiKeyError("Verify your email address before creating API keys.")
    with transaction.atomic():
        list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))  # one at a time per user
        if active_keys(user).count() >= MAX_ACTIVE_KEYS:
            raise ApiKeyError(f"You already have {MAX_ACTIVE_KEYS} active keys; revoke one first.")
        return ApiKey.issue(user, name)


def revoke_key(user: User, key_id: int) -> bool:
    """Revoke one of `user`'s keys; False when there is no such active key."""
    return ApiKey.objects.filter(user=user, pk=key_id, revoked__isnull=True).update(revoked=timezone.now()) == 1


def revoke_prefix(prefix: str) -> ApiKey:
    """Revoke the one active key whose prefix is `prefix` (the first 12 characters shown on the
    account page). Raises ApiKeyError when none or several match."""
    prefix = (prefix or "").strip().rstrip("…").rstrip(".")
    if len(prefix) < 6:
        raise ApiKeyError("give at least the first 6 characters of the key (e.g. mc_AbC123…)")
    matches = list(ApiKey.objects.filter(prefix__startswith=prefix[:12], revoked__isnull=True)
                   .select_related("user")[:2])
    if not matches:
        raise ApiKeyError(f"no active key starts with {prefix!r}")
    if len(matches) > 1:
        raise ApiKeyError(f"several active keys start with {prefix!r}; give more of the key")
    key = matches[0]
    key.revoked = timezone.now()
    key.save(update_fields=["revoked"])
    return key


def authenticate(raw: str) -> ApiKey | None:
    """The active key for a raw key string whose user is active, or None."""
    raw = (raw or "").strip()
    if not raw.startswith(ApiKey.PREFIX) or len(raw) > MAX_KEY_LENGTH:
        return None
    key = (ApiKey.objects.select_related("user")
           .filter(key_hash=hash_key(raw), revoked__isnull=True, user__is_active=True).first())
    if key is None:
        return None
    now = timezone.now()
    if key.last_used is None or now - key.last_used >= LAST_USED_EVERY:
        ApiKey.objects.filter(pk=key.pk).filter(
            Q(last_used__isnull=True) | Q(last_used__lte=now - LAST_USED_EVERY)).update(last_used=now)
        key.last_used = now
    return key


def authenticate_user(raw: str) -> User | None:
    key = authenticate(raw)
    return key.user if key else None


def ensure_account(email: str, plan: str | None = None) -> tuple[User, bool]:
    """The account for `email`, created verified with an unusable password if it does not exist
    (its owner sets one through password reset). `plan` sets the plan either way.
    Returns (user, created); raises ApiKeyError for an invalid address or plan."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    email = (email or "").strip()
    try:
        if len(email) > User._meta.get_field("email").max_length:
            raise ValidationError("too long")
        validate_email(email)
    except ValidationError:
        raise ApiKeyError(f"{email!r} is not a valid email address") from None
    if plan is not None and plan not in Plan.values:
        raise ApiKeyError(f"unknown plan {plan!r}; use one of: {', '.join(Plan.values)}")
    email = User.objects.normalize_email(email).lower()
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).first()
        created = user is None
        if created:
            user = User.objects.create_user(email, password=None, email_verified=True,
                                            plan=plan or Plan.FREE)
        elif plan is not None and user.plan != plan:
            user.plan = plan
            user.save(update_fields=["plan"])
    return user, created
