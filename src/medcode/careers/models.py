"""Employers, jobs, applications, saved searches and what alerts already sent.

Multi-choice fields (credentials, specialties, settings) are stored packed as '|A|B|' (see
vocab.pack), which filters the same way on SQLite and PostgreSQL. A job is open while it is
published and its expires_at is in the future: expiry is decided at query time (`open()`); the
periodic expire task only writes the status down for the employer's dashboard and the admin.
Files (logos, résumés) live under MEDCODE_PRIVATE_ROOT, outside anything served as static; the
rows hold only their relative paths, which the code generates (never from a user's file name).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from . import vocab


class Employer(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="employer")
    company_name = models.CharField(max_length=120)
    website = models.URLField(max_length=300, blank=True)
    logo_path = models.CharField(max_length=200, blank=True)
    # Set when staff approve the employer's first post; later posts publish without waiting.
    approved = models.BooleanField(default=False)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.company_name

    @property
    def logo_name(self) -> str:
        """The logo file's name: part of its URL, so a new logo gets a new URL (long browser caching)."""
        return self.logo_path.rsplit("/", 1)[-1]


class JobStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING = "pending", "Awaiting review"
    PUBLISHED = "published", "Published"
    CLOSED = "closed", "Closed"
    REJECTED = "rejected", "Not approved"
    EXPIRED = "expired", "Expired"


class JobQuerySet(models.QuerySet):
    def open(self, now=None):
        """Published and not past expires_at: what seekers, feeds, the API and alerts see."""
        return self.filter(status=JobStatus.PUBLISHED, expires_at__gt=now or timezone.now())


class Job(models.Model):
    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="jobs")
    title = models.CharField(max_length=120)
    workplace = models.CharField(max_length=10, choices=vocab.WORKPLACES)
    city = models.CharField(max_length=80, blank=True)
    state = models.CharField(max_length=80, blank=True)
    country = models.CharField(max_length=2, default="US")
    employment_type = models.CharField(max_length=12, choices=vocab.EMPLOYMENT_TYPES)
    credentials = models.CharField(max_length=200, blank=True)   # packed: |CPC|CCS-P|
    specialties = models.CharField(max_length=400, blank=True)   # packed
    coding_settings = models.CharField(max_length=200, blank=True)  # packed
    experience_years = models.PositiveSmallIntegerField(default=0)
    salary_min = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    salary_max = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    salary_currency = models.CharField(max_length=3, choices=vocab.CURRENCIES, default="USD")
    salary_period = models.CharField(max_length=5, choices=vocab.PERIODS, default="year")
    # Pay per year (hour x 2080, month x 12), for the minimum-salary filter and the salary sort.
    annual_min = models.BigIntegerField(null=True, blank=True)
    annual_max = models.BigIntegerField(null=True, blank=True, db_index=True)
    description = models.TextField()                 # Markdown as written
    description_html = models.TextField(blank=True)  # rendered and sanitised (markup.render)
    apply_mode = models.CharField(max_length=8, choices=[("onsite", "Apply on medcode"),
                                                         ("external", "Apply on the employer's site")],
                                  default="onsite")
    apply_url = models.URLField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.DRAFT, db_index=True)
    moderation_note = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["status", "expires_at"])]

    def __str__(self) -> str:
        return self.title

    # --- packed lists ---
    @property
    def credential_list(self) -> list[str]:
        return vocab.unpack(self.credentials)

    @property
    def specialty_list(self) -> list[str]:
        return vocab.unpack(self.specialties)

    @property
    def setting_list(self) -> list[str]:
        return vocab.unpack(self.coding_settings)

    @property
    def specialty_labels(self) -> list[str]:
        return [vocab.label(vocab.SPECIALTIES, s) for s in self.specialty_list]

    @property
    def setting_labels(self) -> list[str]:
        return [vocab.label(vocab.SETTINGS, s) for s in self.setting_list]

    # --- state ---
    def is_open(self, now=None) -> bool:
        return self.status == JobStatus.PUBLISHED and self.expires_at is not None and \
            self.expires_at > (now or timezone.now())

    @property
    def shown_status(self) -> str:
        """The status as the employer should read it (expiry is decided at query time)."""
        if self.status == JobStatus.PUBLISHED and not self.is_open():
            return JobStatus.EXPIRED.label
        return self.get_status_display()

    @property
    def location_text(self) -> str:
        place = ", ".join(p for p in (self.city, self.state) if p)
        kind = vocab.label(vocab.WORKPLACES, self.workplace)
        return f"{kind} · {place}" if place else kind

    @property
    def salary_text(self) -> str:
        if self.salary_min is None and self.salary_max is None:
            return ""

        def fmt(v):
            return f"{v:,.2f}".removesuffix(".00")

        lo, hi = self.salary_min, self.salary_max
        amount = fmt(lo) if hi is None or hi == lo else (f"up to {fmt(hi)}" if lo is None else f"{fmt(lo)}–{fmt(hi)}")
        return f"{amount} {self.salary_currency} {vocab.label(vocab.PERIODS, self.salary_period)}"

    def set_annual(self) -> None:
        self.annual_min = vocab.annual(self.salary_min, self.salary_period)
        self.annual_max = vocab.annual(self.salary_max if self.salary_max is not None else self.salary_min,
                                       self.salary_period)


class Application(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="applications")
    applicant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="job_applications")
    cover_note = models.TextField(blank=True)
    resume_path = models.CharField(max_length=200)
    resume_kind = models.CharField(max_length=4)  # pdf | docx (from the content)
    resume_size = models.PositiveIntegerField()
    resume_name = models.CharField(max_length=120, blank=True)  # as uploaded, shown only
    status = models.CharField(max_length=10, choices=vocab.APPLICATION_STATUSES, default="new")
    created = models.DateTimeField(default=timezone.now)
    status_changed = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "applicant"], name="careers_one_application_per_job")]
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.applicant} → {self.job}"


class ApplicationMessage(models.Model):
    """A message an employer mailed to an applicant, kept so both sides can read it again."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    body = models.TextField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created"]


class SavedSearch(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="job_alerts")
    filters = models.JSONField(default=dict)  # JobQuery.filters(): checked when saved
    label = models.CharField(max_length=400)
    active = models.BooleanField(default=True)
    created = models.DateTimeField(default=timezone.now)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.label


class AlertSent(models.Model):
    """A job a saved search's digest already carried: never sent again for that search."""

    search = models.ForeignKey(SavedSearch, on_delete=models.CASCADE, related_name="sent")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["search", "job"], name="careers_alert_sent_once")]
