"""Dates of service: parsing and the fiscal-year arithmetic code-set releases follow."""

from __future__ import annotations

from datetime import date, timedelta

from .errors import CodebookError


class BadDate(CodebookError):
    pass


def parse_date(value: date | str | None) -> date:
    """A date of service from a date, an ISO string, or None (today)."""
    if value is None or value == "":
        return date.today()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise BadDate(f"{value!r} is not a date; use YYYY-MM-DD") from None


def fiscal_year_start(fy: int) -> date:
    """ICD-10 fiscal year N runs from October 1 of N-1 to September 30 of N."""
    return date(fy - 1, 10, 1)


def fiscal_year_end(fy: int) -> date:
    return date(fy, 9, 30)


def day_before(d: date) -> date:
    return d - timedelta(days=1)


def iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def from_iso(s: str | None) -> date | None:
    return date.fromisoformat(s) if s else None
