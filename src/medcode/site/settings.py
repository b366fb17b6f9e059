"""Settings from environment variables, each with an embedded default: one machine needs none.

DATABASE_URL switches the app database to PostgreSQL; REDIS_URL adds Redis for counters and cache.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from medcode import config


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [v.strip() for v in os.environ.get(name, default).split(",") if v.strip()]


BASE_DIR = Path(__file__).resolve().parent.parent
HOME = config.home()

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or config.secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # serves the API docs' Swagger UI from its own static files (no CDN)
    "django_tasks",
    "django_tasks_db",
    "medcode.scheduling",
    "medcode.accounts",
    "medcode.web",
    "medcode.careers",  # the job board (/jobs)
    "medcode.conversations",  # the assistant's conversations, its API and chat page
    "medcode.consult",  # email consult: the SMTP gateway's mail, threads, review queue, delivery log
    "medcode.dataupdates",  # scheduled checks for new official releases (staff page /staff/data-updates/)
]

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "account"
LOGOUT_REDIRECT_URL = "home"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "medcode.web.middleware.CodebookUnavailableMiddleware",
]

ROOT_URLCONF = "medcode.site.urls"
WSGI_APPLICATION = "medcode.site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{HOME / 'medcode.db'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Background tasks (django-tasks): stored in the app database, run by `medcode worker`.
# MEDCODE_TASKS_BACKEND=django_tasks.backends.immediate.ImmediateBackend runs them inline instead.
TASKS = {"default": {"BACKEND": os.environ.get("MEDCODE_TASKS_BACKEND", "django_tasks_db.DatabaseBackend")}}
# Periodic tasks the worker enqueues: {"name": {"task": "dotted.path", "every": seconds}}; apps add theirs.
MEDCODE_PERIODIC_TASKS: dict[str, dict] = {
    "prune-task-results": {"task": "medcode.scheduling.tasks.prune_task_results", "every": 24 * 3600},
    "job-alerts": {"task": "medcode.careers.tasks.send_job_alerts", "every": 24 * 3600},
    "expire-jobs": {"task": "medcode.careers.tasks.expire_jobs", "every": 3600},
    "prune-usage": {"task": "medcode.accounts.tasks.prune_usage", "every": 24 * 3600},  # meter + feature quotas
}
MEDCODE_TASK_RESULTS_KEEP_DAYS = int(os.environ.get("MEDCODE_TASK_RESULTS_KEEP_DAYS", "30"))
MEDCODE_SCHEDULER_INTERVAL = float(os.environ.get("MEDCODE_SCHEDULER_INTERVAL", "30"))

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
     "OPTIONS": {"user_attributes": ("email", "first_name", "last_name")}},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Accounts: login throttling (cache counters, per submitted email and per client address) and mail links.
MEDCODE_LOGIN_MAX_FAILURES = int(os.environ.get("MEDCODE_LOGIN_MAX_FAILURES", "5"))  # per account
MEDCODE_LOGIN_MAX_FAILURES_PER_ADDRESS = int(os.environ.get("MEDCODE_LOGIN_MAX_FAILURES_PER_ADDRESS", "20"))
MEDCODE_LOGIN_WINDOW_MINUTES = int(os.environ.get("MEDCODE_LOGIN_WINDOW_MINUTES", "15"))
# How many reverse proxies in front of the site append to X-Forwarded-For; 0 = ignore that header.
MEDCODE_TRUSTED_PROXY_COUNT = int(os.environ.get("MEDCODE_TRUSTED_PROXY_COUNT", "0"))
# Verification and change-of-email links expire after this many seconds (password reset: PASSWORD_RESET_TIMEOUT).
MEDCODE_EMAIL_LINK_MAX_AGE = int(os.environ.get("MEDCODE_EMAIL_LINK_MAX_AGE", str(3 * 24 * 3600)))
# Account mails (verification, reset, notices) one recipient can receive per hour: no mail-bombing via our forms.
MEDCODE_MAILS_PER_RECIPIENT_PER_HOUR = int(os.environ.get("MEDCODE_MAILS_PER_RECIPIENT_PER_HOUR", "10"))

# Jobs (medcode.careers): résumés and logos live here, outside STATIC_ROOT, handed out by views that check
# who asks. A job is listed for MEDCODE_JOBS_LIFE_DAYS after publishing (renewable). Flood limits below.
MEDCODE_PRIVATE_ROOT = Path(os.environ.get("MEDCODE_PRIVATE_ROOT", HOME / "private"))
MEDCODE_JOBS_LIFE_DAYS = int(os.environ.get("MEDCODE_JOBS_LIFE_DAYS", "60"))
MEDCODE_JOBS_POSTS_PER_DAY = int(os.environ.get("MEDCODE_JOBS_POSTS_PER_DAY", "10"))  # new jobs per employer
MEDCODE_JOBS_PENDING_MAX = int(os.environ.get("MEDCODE_JOBS_PENDING_MAX", "3"))  # a new employer's posts awaiting review
MEDCODE_JOBS_APPLICATIONS_PER_HOUR = int(os.environ.get("MEDCODE_JOBS_APPLICATIONS_PER_HOUR", "20"))  # per seeker
MEDCODE_JOBS_MESSAGES_PER_HOUR = int(os.environ.get("MEDCODE_JOBS_MESSAGES_PER_HOUR", "30"))  # per employer
MEDCODE_JOBS_SAVED_SEARCHES_MAX = int(os.environ.get("MEDCODE_JOBS_SAVED_SEARCHES_MAX", "20"))  # alerts per seeker
MEDCODE_JOBS_MAX_REQUEST_BYTES = int(os.environ.get("MEDCODE_JOBS_MAX_REQUEST_BYTES", str(6 * 1024 * 1024)))

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", HOME / "static"))
try:  # whitenoise warns on every start when it is missing, though the finders serve the files
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
except OSError:
    pass
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Cache (rendered code pages, throttles): in-process by default, Redis with REDIS_URL.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": os.environ.get("CACHE_PREFIX", "medcode")}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "medcode"}}
# CACHE_BACKEND=dummy: no caching at all (bench/pages.py measures uncached code pages with it).
if os.environ.get("CACHE_BACKEND", "").strip().lower() == "dummy":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}

# Mail: Django's SMTP backend, configured by the usual variables.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "medcode <no-reply@localhost>")

# Plans and metering: distinct code pages whose gated sections a visitor may open per window.
MEDCODE_QUOTAS = {
    "guest": int(os.environ.get("MEDCODE_QUOTA_GUEST", "1")),
    "free": int(os.environ.get("MEDCODE_QUOTA_FREE", "5")),
    "paid": None,  # unlimited
}
MEDCODE_METER_WINDOW_DAYS = int(os.environ.get("MEDCODE_METER_WINDOW_DAYS", "30"))
# API requests per minute, by plan (anonymous callers get the guest rate).
MEDCODE_API_RATES = {
    "guest": int(os.environ.get("MEDCODE_API_RATE_GUEST", "30")),
    "free": int(os.environ.get("MEDCODE_API_RATE_FREE", "120")),
    "paid": int(os.environ.get("MEDCODE_API_RATE_PAID", "1200")),
}

# Feature quotas per rolling day (medcode.accounts.quotas), by plan; None = unlimited.
def _feature_quota(feature: str, guest: int, free: int) -> dict:
    f = feature.upper()
    paid = os.environ.get(f"MEDCODE_QUOTA_{f}_PAID", "")
    return {"guest": int(os.environ.get(f"MEDCODE_QUOTA_{f}_GUEST", str(guest))),
            "free": int(os.environ.get(f"MEDCODE_QUOTA_{f}_FREE", str(free))),
            "paid": int(paid) if paid.strip() else None}


MEDCODE_FEATURE_QUOTAS = {"assistant": _feature_quota("assistant", 3, 20), "case2code": _feature_quota("case2code", 3, 20)}
MEDCODE_FEATURE_QUOTA_WINDOW_SECONDS = int(os.environ.get("MEDCODE_FEATURE_QUOTA_WINDOW_SECONDS", "86400"))

# Optional language model for the assistant (any OpenAI-compatible /chat/completions server): it only
# rephrases the retrieved facts; unset MEDCODE_LLM_BASE_URL = no model. Timeouts in seconds: connect,
# between two streamed chunks, and for the whole answer (past it the no-model answer is served, with a note).
MEDCODE_LLM_BASE_URL = os.environ.get("MEDCODE_LLM_BASE_URL", "").strip()
MEDCODE_LLM_MODEL = os.environ.get("MEDCODE_LLM_MODEL", "").strip()
MEDCODE_LLM_API_KEY = os.environ.get("MEDCODE_LLM_API_KEY", "")
MEDCODE_LLM_CONNECT_TIMEOUT = float(os.environ.get("MEDCODE_LLM_CONNECT_TIMEOUT", "3"))
MEDCODE_LLM_READ_TIMEOUT = float(os.environ.get("MEDCODE_LLM_READ_TIMEOUT", "8"))
MEDCODE_LLM_DEADLINE = float(os.environ.get("MEDCODE_LLM_DEADLINE", "15"))  # well inside gunicorn's 30 s

# Email consult (medcode.consult). `medcode smtpd` accepts mail only for MEDCODE_CONSULT_ADDRESS (comma-separated;
# each also as consult+<token>@domain, a user's secret address) and refuses the rest at RCPT; replies go out
# through the EMAIL_* relay above. Limits per hour are counted from the stored mail.
MEDCODE_CONSULT_ADDRESS = env_list("MEDCODE_CONSULT_ADDRESS", "consult@localhost")
MEDCODE_SMTPD_HOST = os.environ.get("MEDCODE_SMTPD_HOST", "127.0.0.1")
MEDCODE_SMTPD_PORT = int(os.environ.get("MEDCODE_SMTPD_PORT", "2525"))
MEDCODE_CONSULT_MAX_BYTES = int(os.environ.get("MEDCODE_CONSULT_MAX_BYTES", str(25 * 1024 * 1024)))  # over it: 552
MEDCODE_CONSULT_MAX_PER_SENDER_PER_HOUR = int(os.environ.get("MEDCODE_CONSULT_MAX_PER_SENDER_PER_HOUR", "30"))
MEDCODE_CONSULT_MAX_PER_HOUR = int(os.environ.get("MEDCODE_CONSULT_MAX_PER_HOUR", "2000"))  # all senders
# Refuse mail whose upstream Authentication-Results shows an SPF/DKIM/DMARC failure (or no pass); with
# MEDCODE_CONSULT_AUTHSERV_ID only that server's header counts. Secret addresses only: plain address refused.
MEDCODE_CONSULT_REQUIRE_AUTH_RESULTS = env_bool("MEDCODE_CONSULT_REQUIRE_AUTH_RESULTS")
MEDCODE_CONSULT_AUTHSERV_ID = os.environ.get("MEDCODE_CONSULT_AUTHSERV_ID", "").strip()
MEDCODE_CONSULT_REQUIRE_SECRET_ADDRESS = env_bool("MEDCODE_CONSULT_REQUIRE_SECRET_ADDRESS")
# Consults per calendar month (UTC) by plan; an empty value = unlimited.
MEDCODE_CONSULT_QUOTAS = {plan: (int(v) if v.strip() else None) for plan, v in (
    ("free", os.environ.get("MEDCODE_CONSULT_QUOTA_FREE", "5")),
    ("paid", os.environ.get("MEDCODE_CONSULT_QUOTA_PAID", "200")))}
# Expert review before sending: every answer, the plans listed, and (by default) answers the assistant is unsure of.
MEDCODE_CONSULT_REVIEW_ALL = env_bool("MEDCODE_CONSULT_REVIEW_ALL")
MEDCODE_CONSULT_REVIEW_PLANS = env_list("MEDCODE_CONSULT_REVIEW_PLANS")
MEDCODE_CONSULT_REVIEW_UNCONFIDENT = env_bool("MEDCODE_CONSULT_REVIEW_UNCONFIDENT", True)
# Notices (not a verified account, over quota): one per address per N hours, and so many per hour site-wide.
MEDCODE_CONSULT_NOTICE_HOURS = int(os.environ.get("MEDCODE_CONSULT_NOTICE_HOURS", "24"))
MEDCODE_CONSULT_NOTICES_PER_HOUR = int(os.environ.get("MEDCODE_CONSULT_NOTICES_PER_HOUR", "30"))
# Sending: retried with doubling delays from RETRY_BASE up to RETRY_MAX seconds, MAX_ATTEMPTS in all. A claim on
# a message (processing or sending) expires after its lease, so a killed worker's work is picked up again.
MEDCODE_CONSULT_SEND_MAX_ATTEMPTS = int(os.environ.get("MEDCODE_CONSULT_SEND_MAX_ATTEMPTS", "12"))
MEDCODE_CONSULT_RETRY_BASE = float(os.environ.get("MEDCODE_CONSULT_RETRY_BASE", "30"))
MEDCODE_CONSULT_RETRY_MAX = float(os.environ.get("MEDCODE_CONSULT_RETRY_MAX", "3600"))
MEDCODE_CONSULT_PROCESS_LEASE = float(os.environ.get("MEDCODE_CONSULT_PROCESS_LEASE", "300"))
MEDCODE_CONSULT_SEND_LEASE = float(os.environ.get("MEDCODE_CONSULT_SEND_LEASE", str(max(120, 6 * EMAIL_TIMEOUT))))
MEDCODE_CONSULT_SWEEP_EVERY = int(os.environ.get("MEDCODE_CONSULT_SWEEP_EVERY", "60"))
MEDCODE_PERIODIC_TASKS["consult-sweep"] = {"task": "medcode.consult.tasks.sweep", "every": MEDCODE_CONSULT_SWEEP_EVERY}
# Optional IMAP polling of a hosted mailbox (instead of, or beside, the gateway); the same processing.
MEDCODE_CONSULT_IMAP_HOST = os.environ.get("MEDCODE_CONSULT_IMAP_HOST", "").strip()
MEDCODE_CONSULT_IMAP_PORT = int(os.environ.get("MEDCODE_CONSULT_IMAP_PORT", "993"))
MEDCODE_CONSULT_IMAP_SECURITY = os.environ.get("MEDCODE_CONSULT_IMAP_SECURITY", "ssl")  # ssl | starttls | none
MEDCODE_CONSULT_IMAP_USER = os.environ.get("MEDCODE_CONSULT_IMAP_USER", "")
MEDCODE_CONSULT_IMAP_PASSWORD = os.environ.get("MEDCODE_CONSULT_IMAP_PASSWORD", "")
MEDCODE_CONSULT_IMAP_FOLDER = os.environ.get("MEDCODE_CONSULT_IMAP_FOLDER", "INBOX")
MEDCODE_CONSULT_IMAP_DELETE = env_bool("MEDCODE_CONSULT_IMAP_DELETE")  # else fetched mail is only marked seen
MEDCODE_CONSULT_IMAP_EVERY = int(os.environ.get("MEDCODE_CONSULT_IMAP_EVERY", "60"))
if MEDCODE_CONSULT_IMAP_HOST:
    MEDCODE_PERIODIC_TASKS["consult-imap"] = {"task": "medcode.consult.tasks.poll_imap",
                                              "every": MEDCODE_CONSULT_IMAP_EVERY}

# Official data updates: the worker checks for new CMS/CDC releases this often (seconds); staff decide on
# /staff/data-updates/ whether a check also applies them. MEDCODE_OFFLINE=1: no checks go online.
MEDCODE_UPDATE_CHECK_EVERY = int(os.environ.get("MEDCODE_UPDATE_CHECK_EVERY", str(24 * 3600)))
MEDCODE_PERIODIC_TASKS["official-data-check"] = {"task": "medcode.dataupdates.tasks.check_official_releases",
                                                 "every": MEDCODE_UPDATE_CHECK_EVERY}

# The read-only reference book (never the app database).
MEDCODE_CODEBOOK = str(config.codebook_path())

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
