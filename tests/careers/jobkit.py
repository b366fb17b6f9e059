"""Helpers for the job board tests (imported by the tests; fixtures are in conftest.py)."""

from __future__ import annotations

from decimal import Decimal
from html.parser import HTMLParser

from django.contrib.auth.hashers import Argon2PasswordHasher
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

PASSWORD = "plum-Harbour-47-lantern"


class FastArgon2(Argon2PasswordHasher):
    """argon2 with tiny costs: these tests log many users in on a shared machine."""

    time_cost, memory_cost, parallelism = 1, 256, 1


def client_for(user, **kwargs) -> Client:
    c = Client(**kwargs)
    c.force_login(user)
    return c


JOB_DATA = {
    "title": "Remote Outpatient Coder",
    "workplace": "remote", "city": "", "state": "", "country": "US",
    "employment_type": "full_time",
    "credentials": ["CPC"], "specialties": ["cardiology"], "coding_settings": ["outpatient", "profee"],
    "experience_years": 2,
    "salary_min": Decimal("55000"), "salary_max": Decimal("65000"), "salary_currency": "USD", "salary_period": "year",
    "description": "Code **outpatient** cardiology visits. Synthetic job for tests.",
    "apply_mode": "onsite", "apply_url": "",
}


def form_data(**override) -> dict:
    """JOB_DATA as a browser posts the job form (lists as repeated values, numbers as text)."""
    data = {**JOB_DATA, **override}
    return {k: ("" if v is None else v if isinstance(v, list) else str(v)) for k, v in data.items()}


def upload(name: str, data: bytes, content_type: str = "application/pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


class TagScan(HTMLParser):
    """Every element and attribute as a browser's parser sees them, and the text of each <script>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._in_script: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "script":
            self._in_script = attrs
            self.scripts.append((attrs, ""))

    def handle_data(self, data):
        if self._in_script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = None


def scan(html: str) -> TagScan:
    p = TagScan()
    p.feed(html)
    p.close()
    return p


def assert_inert(html: str, marker: str = "alert") -> None:
    """No script runs `marker`, no element carries an on* handler, no javascript: URL: what a poster typed
    is text, not markup."""
    page = scan(html)
    for attrs, text in page.scripts:
        assert marker not in text or attrs.get("type") == "application/ld+json", f"live script: {text[:200]}"
        if attrs.get("type") == "application/ld+json":
            assert "</" not in text and "<" not in text, "raw < inside the JSON-LD block"
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            assert not name.lower().startswith("on"), f"event handler on <{tag}>: {name}={value!r}"
            if name in ("href", "src", "action", "formaction"):
                assert not (value or "").strip().lower().startswith(("javascript:", "data:", "vbscript:")), \
                    f"<{tag} {name}={value!r}>"
        assert tag not in ("iframe", "object", "embed"), f"<{tag}> injected"
