"""Users (email login), plans, API keys and the code-page meter."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils import timezone


class Plan(models.TextChoices):
    FREE = "free", "Free"
    PAID = "paid", "Paid"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email, password, **extra):
        if not email:
            raise ValueError("an email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True, email_verified=True)
        return self._create(email, password, **extra)


class User(AbstractUser):
    """Logs in with an email address; the username field is not used."""

    username = None
    email = models.EmailField("email address", unique=True)
    email_verified = models.BooleanField(default=False)
    plan = models.CharField(max_length=10, choices=Plan.choices, default=Plan.FREE)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    def __str__(self) -> str:
        return self.email


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKey(models.Model):
    """Only a hash of the key is stored; the key itself is shown once, when created."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(default=timezone.now)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)

    PREFIX = "mc_"

    @classmethod
    def issue(cls, user: User, name: str = "") -> tuple["ApiKey", str]:
        raw = cls.PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(user=user, name=name[:100], prefix=raw[:12], key_hash=hash_key(raw))
        return key, raw

    @property
    def active(self) -> bool:
        return self.revoked is None

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class MeterView(models.Model):
    """One distinct code a visitor unlocked, when. The 30-day window is counted from `first_seen`."""

    subject = models.CharField(max_length=80)  # user:<id> | guest:<cookie id> | addr:<hmac of client address> | key:<id>
    system = models.CharField(max_length=12)
    code = models.CharField(max_length=16)
    first_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subject", "system", "code"], name="meter_unique_view")]
        indexes = [models.Index(fields=["subject", "first_seen"])]


class FeatureUse(models.Model):
    """One use of a metered feature (an assistant question, a case-to-code run) by one subject, when.
    Counted per rolling day by medcode.accounts.quotas; rows older than the window are pruned."""

    subject = models.CharField(max_length=80)  # user:<id> | guest:<cookie id> | addr:<hmac of client address>
    feature = models.CharField(max_length=32)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["subject", "feature", "at"])]
