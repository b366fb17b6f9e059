"""GET /api/v1/jobs and /api/v1/jobs/{id}: open jobs as JSON, on the same NinjaAPI as the rest of v1
(registered by medcode.api.urls importing this module), so they share its authentication, per-plan
rate limit and error shape. Filters are the ones /jobs takes, parsed by the same code (query.parse).
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Query, Schema
from pydantic import Field

from medcode.api.callers import Caller
from medcode.api.errors import ApiError
from medcode.api.v1 import _OPENAPI_EXTRA, ERRORS, api

from . import search as job_search
from . import vocab
from .models import Job
from .query import QueryError, parse

MAX_PER_PAGE = 100


class Company(Schema):
    name: str
    website: str | None = Field(description="the employer's site, when given")
    logo_url: str | None = Field(description="PNG, at most 256 x 256")


class Location(Schema):
    workplace: str = Field(description="remote | hybrid | onsite", examples=["remote"])
    city: str | None
    state: str | None
    country: str = Field(description="ISO 3166-1 alpha-2", examples=["US"])


class Salary(Schema):
    min: float | None
    max: float | None
    currency: str = Field(examples=["USD"])
    period: str = Field(description="hour | month | year")
    annual_min: int | None = Field(description="min per year: hour x 2080, month x 12")
    annual_max: int | None = Field(description="max per year (min when no max was given)")


class Apply(Schema):
    mode: str = Field(description="onsite: apply on medcode (url is the job page); external: on the employer's site")
    url: str


class JobOut(Schema):
    id: int
    url: str = Field(description="the job's page on this site")
    title: str
    company: Company
    location: Location
    employment_type: str = Field(description=", ".join(vocab.keys(vocab.EMPLOYMENT_TYPES)))
    credentials: list[str] = Field(description="any of these is asked for: " + ", ".join(vocab.keys(vocab.CREDENTIALS)))
    settings: list[str] = Field(description=", ".join(vocab.keys(vocab.SETTINGS)))
    specialties: list[str] = Field(description=", ".join(vocab.keys(vocab.SPECIALTIES)))
    experience_years: int
    salary: Salary | None
    description: str = Field(description="as written, in Markdown")
    description_html: str = Field(description="rendered and sanitised HTML")
    apply: Apply
    posted_at: datetime
    expires_at: datetime


class JobList(Schema):
    count: int = Field(description="jobs matching, over all pages")
    page: int
    per_page: int
    pages: int
    results: list[JobOut]


def job_out(request, job: Job) -> dict:
    employer = job.employer
    page_url = request.build_absolute_uri(reverse("jobs:detail", args=[job.pk]))
    logo = None
    if employer.logo_path:
        logo = request.build_absolute_uri(
            reverse("jobs:logo", args=[employer.pk, employer.logo_name]))
    salary = None
    if job.salary_min is not None or job.salary_max is not None:
        salary = {"min": float(job.salary_min) if job.salary_min is not None else None,
                  "max": float(job.salary_max) if job.salary_max is not None else None,
                  "currency": job.salary_currency, "period": job.salary_period,
                  "annual_min": job.annual_min, "annual_max": job.annual_max}
    return {
        "id": job.pk, "url": page_url, "title": job.title,
        "company": {"name": employer.company_name, "website": employer.website or None, "logo_url": logo},
        "location": {"workplace": job.workplace, "city": job.city or None, "state": job.state or None,
                     "country": job.country},
        "employment_type": job.employment_type, "credentials": job.credential_list,
        "settings": job.setting_list, "specialties": job.specialty_list,
        "experience_years": job.experience_years, "salary": salary,
        "description": job.description, "description_html": job.description_html,
        "apply": {"mode": job.apply_mode, "url": job.apply_url if job.apply_mode == "external" else page_url},
        "posted_at": job.posted_at, "expires_at": job.expires_at,
    }


def _per_page(value: str | None) -> int:
    if value is None or value == "":
        return job_search.PER_PAGE
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 6 or not 1 <= int(text) <= MAX_PER_PAGE:
        raise ApiError(400, "bad_request", f"per_page must be a whole number from 1 to {MAX_PER_PAGE}")
    return int(text)


_MULTI_HELP = "repeat the parameter or separate values with commas; a job matches any of them"


@api.get("/jobs", response={200: JobList, **ERRORS}, tags=["jobs"], operation_id="list_jobs",
         summary="Open medical coding jobs, searched and filtered",
         description="The jobs open now (published, not past their 60 days), newest first or by pay. "
                     "Parameters are the ones the /jobs page takes. `min_salary` is per year in `currency` "
                     "(default USD): hourly pay counts x 2080, monthly x 12, and only jobs paid in that "
                     "currency match. A bad parameter is a `400` with `code` `bad_request` naming it. "
                     "Not metered; rate-limited like every call.",
         openapi_extra=_OPENAPI_EXTRA)
def list_jobs(request: HttpRequest, response: HttpResponse,
              q: str | None = Query(None, description="words to find in title, description, company, place"),
              workplace: list[str] | None = Query(None, description="remote, hybrid, onsite; " + _MULTI_HELP),
              credential: list[str] | None = Query(None, description=", ".join(vocab.keys(vocab.CREDENTIALS))
                                                   + "; " + _MULTI_HELP),
              setting: list[str] | None = Query(None, description=", ".join(vocab.keys(vocab.SETTINGS)) + "; "
                                                + _MULTI_HELP),
              specialty: list[str] | None = Query(None, description=", ".join(vocab.keys(vocab.SPECIALTIES))
                                                  + "; " + _MULTI_HELP),
              employment_type: list[str] | None = Query(None, description=", ".join(
                  vocab.keys(vocab.EMPLOYMENT_TYPES)) + "; " + _MULTI_HELP),
              min_salary: str | None = Query(None, description="least pay per year, whole number", examples=["50000"]),
              currency: str | None = Query(None, description="currency of min_salary (default USD)"),
              location: str | None = Query(None, description="city, state or country code; 'Austin, TX' needs both"),
              posted_within: str | None = Query(None, description="days, 1-365"),
              sort: str | None = Query(None, description="newest (default) or salary"),
              page: str | None = Query(None, description="page number, from 1"),
              per_page: str | None = Query(None, description=f"jobs per page, 1-{MAX_PER_PAGE} (default "
                                                             f"{job_search.PER_PAGE})")):
    caller: Caller = request.auth
    raw = {k: request.GET.getlist(k) for k in request.GET if k != "per_page"}
    try:
        query = parse(raw)
    except QueryError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    size = _per_page(per_page)
    result = job_search.page(job_search.jobs(query), query.page, size)
    for name, value in caller.headers.items():
        response[name] = str(value)
    response["Cache-Control"] = "private, max-age=60"
    return {"count": result.count, "page": result.number, "per_page": size, "pages": result.pages,
            "results": [job_out(request, j) for j in result.items]}


@api.get("/jobs/{job_id}", response={200: JobOut, **ERRORS}, tags=["jobs"], operation_id="get_job",
         summary="One open job", description="A job that is open now; a closed, expired or unknown job is `404`.",
         openapi_extra=_OPENAPI_EXTRA)
def get_job(request: HttpRequest, response: HttpResponse, job_id: str):
    caller: Caller = request.auth
    if not (job_id.isascii() and job_id.isdigit()) or len(job_id) > 18:
        raise ApiError(400, "bad_request", "the job id is a whole number")
    job = Job.objects.open().select_related("employer").filter(pk=int(job_id)).first()
    if job is None:
        raise ApiError(404, "not_found", f"there is no open job {job_id}")
    for name, value in caller.headers.items():
        response[name] = str(value)
    response["Cache-Control"] = "private, max-age=60"
    return job_out(request, job)
