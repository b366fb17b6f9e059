"""Every change of state on the job board, as plain functions: views, the API, the admin, tasks and
tests all go through here.

Each action checks who may do it and raises a JobsError subclass otherwise; views turn those into
pages (NotFound -> 404, so a job or application of someone else looks like no job at all).
Rate limits count rows in the database (posts per day, applications and messages per hour), so
they hold across processes without a shared cache.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from . import emails, files, images, markup, storage, vocab
from . import search as job_search
from .models import AlertSent, Application, ApplicationMessage, Employer, Job, JobStatus, SavedSearch
from .query import JobQuery, QueryError, from_filters

log = logging.getLogger(__name__)
UNSUBSCRIBE_SALT = "medcode.careers.unsubscribe"
DIGEST_MAX_JOBS = 50


class JobsError(Exception):
    """The message is for the person who asked."""

    status = 400


class NotVerified(JobsError):
    status = 403


class NotFound(JobsError):
    status = 404


class NotAllowed(JobsError):
    status = 409  # the object exists and is yours, but not in a state that allows it


class RateLimited(JobsError):
    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class AlreadyApplied(JobsError):
    status = 409


def life_days() -> int:
    return settings.MEDCODE_JOBS_LIFE_DAYS


# --- employers ------------------------------------------------------------------------------------

def require_verified(user) -> None:
    if not user.is_authenticated or not user.email_verified:
        raise NotVerified("Verify your email address first (see your account page); employers and applicants "
                          "need a verified address.")


def save_employer(user, *, company_name: str, website: str = "", logo: bytes | None = None,
                  remove_logo: bool = False) -> Employer:
    """Creates or updates the user's employer profile; a logo is checked and resized (images.ImageRefused)."""
    require_verified(user)
    new_logo = images.process_logo(logo) if logo is not None else None
    employer = Employer.objects.filter(user=user).first() or Employer(user=user)
    old_logo = employer.logo_path
    employer.company_name, employer.website = emails.one_line(company_name, 200), website
    if new_logo is not None:
        employer.logo_path = storage.save("logos", new_logo, ".png")
    elif remove_logo:
        employer.logo_path = ""
    employer.save()
    if old_logo and old_logo != employer.logo_path:
        storage.delete(old_logo)
    return employer


def employer_of(user) -> Employer | None:
    if not user.is_authenticated:
        return None
    return Employer.objects.filter(user=user).first()


# --- jobs -----------------------------------------------------------------------------------------

JOB_FIELDS = ("title", "workplace", "city", "state", "country", "employment_type", "experience_years",
              "salary_min", "salary_max", "salary_currency", "salary_period", "description", "apply_mode",
              "apply_url")
ONE_LINE_FIELDS = ("title", "city", "state")
PACKED_FIELDS = {"credentials": "credentials", "specialties": "specialties", "coding_settings": "coding_settings"}


def _fill(job: Job, data: dict) -> None:
    for name in JOB_FIELDS:
        if name in data:
            setattr(job, name, data[name])
    for name in PACKED_FIELDS:
        if name in data:
            setattr(job, name, vocab.pack(data[name]))
    for name in ONE_LINE_FIELDS:  # they go into mail subjects and feed titles: never a line break
        setattr(job, name, emails.one_line(getattr(job, name), 200))
    if job.apply_mode != "external":
        job.apply_url = ""
    job.description_html = markup.render(job.description)
    job.set_annual()


def _own(job: Job, user) -> None:
    if not user.is_authenticated or job.employer.user_id != user.pk:
        raise NotFound("There is no such job.")


def create_job(user, data: dict) -> Job:
    """A new draft; at most MEDCODE_JOBS_POSTS_PER_DAY new jobs per employer per day."""
    require_verified(user)
    employer = employer_of(user)
    if employer is None:
        raise NotAllowed("Create your employer profile first.")
    limit = settings.MEDCODE_JOBS_POSTS_PER_DAY
    with transaction.atomic():
        _lock_employer(employer)
        now = timezone.now()
        recent = list(Job.objects.filter(employer=employer, created__gte=now - timedelta(days=1))
                      .order_by("created").values_list("created", flat=True)[:limit])
        if len(recent) >= limit:
            wait = int((recent[0] + timedelta(days=1) - now).total_seconds()) + 1
            raise RateLimited(f"You can post {limit} jobs a day; try again later.", max(1, wait))
        job = Job(employer=employer, created=now)
        _fill(job, data)
        job.save()
    return job


def _lock_employer(employer: Employer) -> None:
    """Counted limits are checked and written one request at a time per employer (inside a transaction):
    parallel requests all counting before any wrote would each pass the limit. (SQLite: the IMMEDIATE
    transaction already holds the write lock.)"""
    Employer.objects.select_for_update().filter(pk=employer.pk).first()


def update_job(job: Job, user, data: dict) -> Job:
    _own(job, user)
    _fill(job, data)
    if job.status == JobStatus.REJECTED:
        job.status, job.moderation_note = JobStatus.DRAFT, ""
    job.save()
    return job


def publish(job: Job, user) -> Job:
    """Draft -> published (an approved employer) or pending (a new employer's first posts wait for staff)."""
    _own(job, user)
    with transaction.atomic():
        _lock_employer(job.employer)
        job.refresh_from_db(fields=["status"])  # as it is now that no other publish of this employer runs
        if job.status not in (JobStatus.DRAFT,):
            raise NotAllowed(f"This job is {job.get_status_display().lower()}; only a draft can be published.")
        now = timezone.now()
        employer = job.employer
        employer.refresh_from_db(fields=["approved"])
        if employer.approved:
            _go_live(job, now)
        else:
            pending = Job.objects.filter(employer=employer, status=JobStatus.PENDING).count()
            if pending >= settings.MEDCODE_JOBS_PENDING_MAX:
                raise RateLimited(f"{pending} of your posts are waiting for review; publish more once they are "
                                  "approved.", 3600)
            job.status, job.submitted_at = JobStatus.PENDING, now
            job.save(update_fields=["status", "submitted_at", "updated"])
    return job


def _go_live(job: Job, now) -> None:
    job.status = JobStatus.PUBLISHED
    job.submitted_at = job.submitted_at or now
    job.posted_at = job.posted_at or now
    job.expires_at = now + timedelta(days=life_days())
    job.closed_at = None
    job.moderation_note = ""
    job.save()


def _require_staff(user) -> None:
    if not (user.is_authenticated and user.is_staff):
        raise NotFound("There is no such page.")


@transaction.atomic
def approve(job: Job, staff) -> Job:
    """Publishes a pending job and trusts its employer from now on (later posts go live at once)."""
    _require_staff(staff)
    job = Job.objects.select_for_update().select_related("employer__user").get(pk=job.pk)
    if job.status != JobStatus.PENDING:
        raise NotAllowed("This job is not waiting for review.")
    _go_live(job, timezone.now())
    Employer.objects.filter(pk=job.employer_id).update(approved=True)
    emails.send("job_approved", job.employer.user.email, f"Your job is live: {job.title}", job=job,
                job_url=emails.site_url(reverse("jobs:detail", args=[job.pk])))
    return job


@transaction.atomic
def reject(job: Job, staff, reason: str) -> Job:
    _require_staff(staff)
    job = Job.objects.select_for_update().select_related("employer__user").get(pk=job.pk)
    if job.status != JobStatus.PENDING:
        raise NotAllowed("This job is not waiting for review.")
    job.status, job.moderation_note = JobStatus.REJECTED, (reason or "").strip()[:500]
    job.save(update_fields=["status", "moderation_note", "updated"])
    emails.send("job_rejected", job.employer.user.email, f"Your job was not approved: {job.title}", job=job,
                edit_url=emails.site_url(reverse("jobs:edit", args=[job.pk])))
    return job


def close(job: Job, user) -> Job:
    _own(job, user)
    if job.status not in (JobStatus.PUBLISHED, JobStatus.PENDING, JobStatus.EXPIRED):
        raise NotAllowed("Only a published or pending job can be closed.")
    job.status, job.closed_at = JobStatus.CLOSED, timezone.now()
    job.save(update_fields=["status", "closed_at", "updated"])
    return job


def renew(job: Job, user) -> Job:
    """Another MEDCODE_JOBS_LIFE_DAYS from now for a published, expired or closed job (it was approved
    once; it keeps its posting date, so renewing does not push it to the top of "newest")."""
    _own(job, user)
    if job.status not in (JobStatus.PUBLISHED, JobStatus.EXPIRED, JobStatus.CLOSED) or job.posted_at is None:
        raise NotAllowed("Only a job that was published can be renewed.")
    _go_live(job, timezone.now())
    return job


def expire_due(now=None) -> int:
    """Writes down 'expired' for published jobs past expires_at (they already left every listing)."""
    now = now or timezone.now()
    return Job.objects.filter(status=JobStatus.PUBLISHED, expires_at__lte=now).update(
        status=JobStatus.EXPIRED, updated=now)


# --- applications ---------------------------------------------------------------------------------

def apply(job: Job, user, *, cover_note: str, upload, name: str = "") -> Application:
    """`upload`: a binary file object with .size (Django's UploadedFile). Its type is judged from
    its content (files.resume_kind raises files.FileRefused); one application per job and person."""
    require_verified(user)
    if not job.is_open():
        raise NotFound("This job is no longer open.")
    if job.apply_mode != "onsite":
        raise NotAllowed("This employer takes applications on its own site.")
    if job.employer.user_id == user.pk:
        raise NotAllowed("You cannot apply to your own job.")
    _may_apply(job, user)  # before the file is stored; again below, where it counts
    kind = files.resume_kind(upload, upload.size)
    upload.seek(0)
    path = storage.save("resumes", iter(lambda: upload.read(64 * 1024), b""), f".{kind}")
    try:
        with transaction.atomic():
            # one application at a time per seeker: parallel submits cannot all pass the hourly limit
            get_user_model().objects.select_for_update().filter(pk=user.pk).first()
            now = _may_apply(job, user)
            application = Application.objects.create(
                job=job, applicant=user, cover_note=cover_note, resume_path=path, resume_kind=kind,
                resume_size=upload.size, resume_name=_display_name(name, kind), created=now, status_changed=now)
    except IntegrityError:  # a second submit that raced the first
        storage.delete(path)
        raise AlreadyApplied("You have already applied to this job.") from None
    except JobsError:
        storage.delete(path)
        raise
    emails.send("application_received", job.employer.user.email, f"New application: {job.title}", job=job,
                application=application,
                application_url=emails.site_url(reverse("jobs:application", args=[application.pk])))
    return application


def _may_apply(job: Job, user):
    """AlreadyApplied or RateLimited, else the time it was checked."""
    if Application.objects.filter(job=job, applicant=user).exists():
        raise AlreadyApplied("You have already applied to this job.")
    now = timezone.now()
    limit = settings.MEDCODE_JOBS_APPLICATIONS_PER_HOUR
    if Application.objects.filter(applicant=user, created__gte=now - timedelta(hours=1)).count() >= limit:
        raise RateLimited(f"You can send {limit} applications an hour; try again later.", 3600)
    return now


def _display_name(name: str, kind: str) -> str:
    """The uploaded name, for display only: printable, short, with the suffix the content proved."""
    stem = "".join(c for c in (name or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1] if c.isprintable())
    stem = stem.rsplit(".", 1)[0].strip()[:80] or "resume"
    return f"{stem}.{kind}"


def visible_application(pk: int, user) -> Application:
    """The application, if `user` is its applicant or the employer of its job; NotFound otherwise."""
    app = Application.objects.select_related("job__employer__user", "applicant").filter(pk=pk).first()
    if app is None or not user.is_authenticated or user.pk not in (app.applicant_id, app.job.employer.user_id):
        raise NotFound("There is no such application.")
    return app


def set_status(application: Application, user, status: str) -> Application:
    if not user.is_authenticated or application.job.employer.user_id != user.pk:
        raise NotFound("There is no such application.")
    if status not in vocab.keys(vocab.APPLICATION_STATUSES):
        raise JobsError("Choose one of the listed statuses.")
    if application.status != status:
        application.status, application.status_changed = status, timezone.now()
        application.save(update_fields=["status", "status_changed"])
    return application


def message_applicant(application: Application, user, body: str) -> ApplicationMessage:
    """Mails the applicant (Reply-To: the employer's address) and keeps a copy on the application."""
    if not user.is_authenticated or application.job.employer.user_id != user.pk:
        raise NotFound("There is no such application.")
    now = timezone.now()
    limit = settings.MEDCODE_JOBS_MESSAGES_PER_HOUR
    sent = ApplicationMessage.objects.filter(sender=user, created__gte=now - timedelta(hours=1)).count()
    if sent >= limit:
        raise RateLimited(f"You can send {limit} messages an hour; try again later.", 3600)
    message = ApplicationMessage.objects.create(application=application, sender=user, body=body, created=now)
    job = application.job
    emails.send("application_message", application.applicant.email,
                f"Message from {job.employer.company_name} about {job.title}", reply_to=user.email,
                job=job, body=body,
                application_url=emails.site_url(reverse("jobs:application", args=[application.pk])))
    return message


# --- alerts ---------------------------------------------------------------------------------------

def save_search(user, query: JobQuery) -> SavedSearch:
    if not user.is_authenticated:
        raise NotFound("Log in to save a search.")
    filters = query.filters()
    active = list(SavedSearch.objects.filter(user=user, active=True))
    for existing in active:
        if existing.filters == filters:  # the same alert twice would mail the same jobs twice
            return existing
    if len(active) >= settings.MEDCODE_JOBS_SAVED_SEARCHES_MAX:
        raise NotAllowed(f"You can keep {settings.MEDCODE_JOBS_SAVED_SEARCHES_MAX} job alerts; delete one first.")
    return SavedSearch.objects.create(user=user, filters=filters, label=query.describe()[:400])


def delete_search(search: SavedSearch, user) -> None:
    if not user.is_authenticated or search.user_id != user.pk:
        raise NotFound("There is no such alert.")
    search.delete()


def unsubscribe_token(search: SavedSearch) -> str:
    return signing.dumps({"s": search.pk, "u": search.user_id}, salt=UNSUBSCRIBE_SALT)


def alert_for_token(token: str) -> SavedSearch:
    """The alert an unsubscribe link is for (JobsError if the link is not valid)."""
    if not token or len(token) > 300:
        raise JobsError("This unsubscribe link is not valid.")
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except (signing.BadSignature, ValueError, UnicodeError):
        raise JobsError("This unsubscribe link is not valid.") from None
    if not isinstance(data, dict) or not isinstance(data.get("s"), int) or not isinstance(data.get("u"), int):
        raise JobsError("This unsubscribe link is not valid.")
    search = SavedSearch.objects.filter(pk=data["s"], user_id=data["u"]).first()
    if search is None:
        raise NotFound("This alert no longer exists; you will get no more mail for it.")
    return search


def unsubscribe(token: str) -> SavedSearch:
    """Turns the alert off; the signed token is the proof, so no login is needed."""
    search = alert_for_token(token)
    if search.active:
        search.active = False
        search.save(update_fields=["active"])
    return search


def new_matches(search: SavedSearch, now=None) -> list[Job]:
    """Open jobs that match, posted since the alert was saved, and not sent for it before."""
    query = from_filters(search.filters)
    qs = job_search.jobs(query, now).filter(posted_at__gte=search.created)
    qs = qs.exclude(pk__in=AlertSent.objects.filter(search=search).values("job_id"))
    return list(qs.order_by("-posted_at", "-id")[:DIGEST_MAX_JOBS])


def send_alerts(now=None) -> int:
    """One digest per active saved search with new matches; returns how many digests went out.
    A job is recorded as sent only after the SMTP server took the digest (a failure retries next run)."""
    now = now or timezone.now()
    sent = 0
    searches = SavedSearch.objects.filter(active=True, user__is_active=True, user__email_verified=True) \
        .select_related("user").order_by("pk")
    for search in searches.iterator():
        try:
            jobs = new_matches(search, now)
        except QueryError:  # saved under an older vocabulary: skip it rather than stop every digest
            log.warning("saved search %s no longer parses; skipped", search.pk)
            continue
        if not jobs:
            continue
        unsubscribe_url = emails.site_url(reverse("jobs:unsubscribe", args=[unsubscribe_token(search)]))
        query = from_filters(search.filters)
        params = urlencode(query.params())
        message = emails.build(
            "alert_digest", search.user.email,
            f"{len(jobs)} new job{'s' if len(jobs) != 1 else ''} for your alert: {search.label}",
            headers={"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
            search=search, jobs=[(j, emails.site_url(reverse("jobs:detail", args=[j.pk]))) for j in jobs],
            unsubscribe_url=unsubscribe_url,
            search_url=emails.site_url(reverse("jobs:list")) + (f"?{params}" if params else ""))
        if not emails.send_now(message):
            continue
        AlertSent.objects.bulk_create([AlertSent(search=search, job=j, sent_at=now) for j in jobs],
                                      ignore_conflicts=True)
        SavedSearch.objects.filter(pk=search.pk).update(last_sent_at=now)
        sent += 1
    return sent


# --- files follow their rows ------------------------------------------------------------------------

def delete_files_with(sender, instance, **kwargs) -> None:
    """post_delete of an Application or Employer (directly, by CASCADE from a deleted account or job, or
    from the admin): its résumé or logo goes too, once the deletion is committed."""
    path = getattr(instance, "resume_path", None) or getattr(instance, "logo_path", None)
    if path:
        transaction.on_commit(lambda: storage.delete(path))
