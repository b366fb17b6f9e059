"""A job search as typed into /jobs, the feed, the API or a saved alert: parsed and checked once.

`parse` takes the request's parameters (name -> list of strings, as QueryDict.getlist gives) and
returns a `JobQuery` or raises `QueryError` naming every bad parameter. Multi-choice parameters
may repeat (credential=CPC&credential=CRC) or hold a comma-separated list (credential=CPC,CRC).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

from . import vocab

MAX_Q = 200
MAX_LOCATION = 100
MAX_SALARY = 100_000_000
MAX_PAGE = 10_000
MAX_DAYS = 365
MAX_VALUES = 30  # values of one multi-choice parameter
MAX_TERMS = 10   # words of q used for matching

MULTI = {
    "workplace": vocab.WORKPLACES,
    "credential": vocab.CREDENTIALS,
    "setting": vocab.SETTINGS,
    "specialty": vocab.SPECIALTIES,
    "employment_type": vocab.EMPLOYMENT_TYPES,
}
PARAMS = ("q", *MULTI, "min_salary", "currency", "location", "posted_within", "sort", "page")


class QueryError(ValueError):
    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


@dataclass(frozen=True)
class JobQuery:
    q: str = ""
    workplace: tuple[str, ...] = ()
    credential: tuple[str, ...] = ()
    setting: tuple[str, ...] = ()
    specialty: tuple[str, ...] = ()
    employment_type: tuple[str, ...] = ()
    min_salary: int | None = None  # per year, in `currency`
    currency: str = "USD"
    location: str = ""
    posted_within: int | None = None  # days
    sort: str = "newest"
    page: int = 1

    @property
    def terms(self) -> list[str]:
        """The words of q, for the portable (substring) match."""
        return re.findall(r"[\w][\w+#./-]*", self.q, flags=re.UNICODE)[:MAX_TERMS]

    def filters(self) -> dict:
        """What a saved search keeps: everything but sort and page, empty values left out."""
        data = asdict(self)
        data.pop("sort"), data.pop("page")
        if data["min_salary"] is None:
            data.pop("currency")
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items() if v not in ("", (), None)}

    def params(self, **override) -> list[tuple[str, str]]:
        """URL parameters that give this query back (for pagination, feed and alert links)."""
        data = {**asdict(self), **override}
        out: list[tuple[str, str]] = []
        for name in PARAMS:
            value = data.get(name)
            if name == "currency" and data.get("min_salary") is None:
                continue
            if name == "sort" and value == "newest" or name == "page" and value == 1:
                continue
            if isinstance(value, (tuple, list)):
                out.extend((name, v) for v in value)
            elif value not in (None, ""):
                out.append((name, str(value)))
        return out

    def is_empty(self) -> bool:
        return not self.filters()

    def describe(self) -> str:
        """In words, for a saved search's name and its digest mail."""
        parts = []
        if self.q:
            parts.append(f'"{self.q}"')
        for name, pairs in MULTI.items():
            values = getattr(self, name)
            if values:
                labels = [v if name == "credential" else vocab.label(pairs, v).lower() for v in values]
                parts.append(" or ".join(labels))
        if self.location:
            parts.append(f"in {self.location}")
        if self.min_salary is not None:
            parts.append(f"at least {self.min_salary:,} {self.currency} a year")
        if self.posted_within:
            parts.append(f"posted within {self.posted_within} days")
        return ", ".join(parts) or "all jobs"


def _values(raw: Mapping[str, Sequence[str]], name: str) -> list[str]:
    got = raw.get(name)
    if got is None:
        return []
    if isinstance(got, str):
        got = [got]
    return [str(v) for v in got]


def _one(raw, name: str, errors: dict) -> str:
    values = [v for v in _values(raw, name) if v.strip() != ""]
    if len(values) > 1:
        errors[name] = "give it once"
        return ""
    return values[0].strip() if values else ""


def _whole(text: str, name: str, low: int, high: int, errors: dict) -> int | None:
    if text == "":
        return None
    cleaned = text.replace(",", "").replace("_", "")
    if not (cleaned.isascii() and cleaned.isdigit()) or len(cleaned) > 12:  # not '²' or '١'
        errors[name] = f"must be a whole number from {low} to {high:,}"
        return None
    value = int(cleaned)
    if not low <= value <= high:
        errors[name] = f"must be a whole number from {low} to {high:,}"
        return None
    return value


def parse(raw: Mapping[str, Sequence[str]]) -> JobQuery:
    errors: dict[str, str] = {}
    data: dict = {}

    q = " ".join(_one(raw, "q", errors).split())
    if len(q) > MAX_Q:
        errors["q"] = f"at most {MAX_Q} characters"
    data["q"] = q

    for name, pairs in MULTI.items():
        allowed = {k.lower(): k for k in vocab.keys(pairs)}
        picked: list[str] = []
        for value in _values(raw, name):
            for item in value.split(","):
                item = item.strip()
                if not item:
                    continue
                key = allowed.get(item.lower())
                if key is None:
                    shown = item[:30]
                    errors[name] = f"{shown!r} is not one of: {', '.join(vocab.keys(pairs))}"
                    break
                if key not in picked:
                    picked.append(key)
        if len(picked) > MAX_VALUES:
            errors[name] = "too many values"
        data[name] = tuple(picked)

    data["min_salary"] = _whole(_one(raw, "min_salary", errors), "min_salary", 0, MAX_SALARY, errors)
    currency = _one(raw, "currency", errors).upper() or "USD"
    if currency not in vocab.keys(vocab.CURRENCIES):
        errors["currency"] = f"must be one of: {', '.join(vocab.keys(vocab.CURRENCIES))}"
        currency = "USD"
    data["currency"] = currency

    location = " ".join(_one(raw, "location", errors).split())
    if len(location) > MAX_LOCATION:
        errors["location"] = f"at most {MAX_LOCATION} characters"
    data["location"] = location

    data["posted_within"] = _whole(_one(raw, "posted_within", errors), "posted_within", 1, MAX_DAYS, errors)

    sort = _one(raw, "sort", errors).lower() or "newest"
    if sort not in vocab.keys(vocab.SORTS):
        errors["sort"] = f"must be one of: {', '.join(vocab.keys(vocab.SORTS))}"
        sort = "newest"
    data["sort"] = sort

    data["page"] = _whole(_one(raw, "page", errors), "page", 1, MAX_PAGE, errors) or 1

    for name in ("q", "location"):
        if any(ord(c) < 32 for c in data[name]):
            errors[name] = "control characters are not allowed"
    if errors:
        raise QueryError(errors)
    return JobQuery(**data)


def from_filters(filters: dict) -> JobQuery:
    """A saved search's stored filters back into a query (they were checked when saved)."""
    return parse({k: v if isinstance(v, list) else [str(v)] for k, v in (filters or {}).items()})

