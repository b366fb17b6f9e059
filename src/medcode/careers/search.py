"""A parsed JobQuery applied to the open jobs: the one search behind /jobs, the feed, the API and alerts.

Full text: on PostgreSQL a SearchVector over title (weight A), description, company, place,
credentials and specialties matched by websearch_to_tsquery (English stemming); elsewhere
(SQLite) every word of q must appear, case-insensitively, in one of those fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.core.paginator import Paginator
from django.db import connection
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from .models import Job
from .query import JobQuery

PER_PAGE = 20
TEXT_FIELDS = ("title", "description", "employer__company_name", "city", "state", "credentials", "specialties")
PACKED = {"credential": "credentials", "specialty": "specialties", "setting": "coding_settings"}


def _text(qs: QuerySet, query: JobQuery) -> QuerySet:
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVector

        vector = SearchVector("title", weight="A", config="english") + SearchVector(
            *TEXT_FIELDS[1:], weight="B", config="english")
        return qs.annotate(search_doc=vector).filter(
            search_doc=SearchQuery(query.q, search_type="websearch", config="english"))
    for term in query.terms:
        any_field = Q()
        for name in TEXT_FIELDS:
            any_field |= Q(**{f"{name}__icontains": term})
        qs = qs.filter(any_field)
    return qs


def jobs(query: JobQuery, now=None, base: QuerySet | None = None) -> QuerySet:
    now = now or timezone.now()
    qs = (base if base is not None else Job.objects.all()).open(now).select_related("employer")
    if query.q:
        qs = _text(qs, query)
    if query.workplace:
        qs = qs.filter(workplace__in=query.workplace)
    if query.employment_type:
        qs = qs.filter(employment_type__in=query.employment_type)
    for param, column in PACKED.items():
        values = getattr(query, param)
        if values:
            any_value = Q()
            for v in values:
                any_value |= Q(**{f"{column}__contains": f"|{v}|"})
            qs = qs.filter(any_value)
    if query.min_salary is not None:
        qs = qs.filter(annual_max__gte=query.min_salary, salary_currency=query.currency)
    if query.location:
        for part in (p.strip() for p in query.location.split(",")):
            if part:
                qs = qs.filter(Q(city__icontains=part) | Q(state__icontains=part) | Q(country__iexact=part))
    if query.posted_within:
        qs = qs.filter(posted_at__gte=now - timedelta(days=query.posted_within))
    if query.sort == "salary":
        return qs.order_by(F("annual_max").desc(nulls_last=True), "-posted_at", "-id")
    return qs.order_by("-posted_at", "-id")


@dataclass
class Page:
    items: list
    count: int
    number: int
    pages: int
    per_page: int

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def page(qs: QuerySet, number: int, per_page: int | None = None) -> Page:
    """One page; past the last page an empty one (never an error)."""
    per_page = per_page or PER_PAGE
    paginator = Paginator(qs, per_page)
    count = paginator.count
    pages = max(1, paginator.num_pages)
    items = list(paginator.page(number).object_list) if number <= pages and count else []
    return Page(items, count, number, pages, per_page)
