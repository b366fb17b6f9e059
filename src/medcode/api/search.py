"""GET /api/v1/search: the search engine (medcode.search) as the v1 contract.

Registered on the same NinjaAPI as the rest of v1 (imported by urls.py), so it shares its
authentication, per-plan rate limit and error shape. Searching is not metered: results carry a
code's title only, like the free part of a code page.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Query, Schema
from pydantic import Field

from medcode.search import MAX_LIMIT, MAX_QUERY_CHARS, SearchError, search

from .callers import Caller
from .errors import ApiError
from .v1 import _OPENAPI_EXTRA, ERRORS, api
from medcode.web.book import book

_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


class SearchResult(Schema):
    system: str = Field(examples=["icd10cm"])
    code: str = Field(examples=["I21.9"])
    title: str = Field(description="the official description in effect on the date of service")
    billable: bool = Field(description="valid for reporting on the date of service (false: a header)")
    score: float = Field(description="relevance; higher is better, comparable within one response only")
    match: str = Field(description='how it matched: "code", "title", "inclusion: ...", "index: Infarct, '
                                   'myocardium", "drug table: Acetaminophen [Poisoning Accidental '
                                   '(unintentional)]", ...', examples=["index: Infarct, infarction, myocardium"])


class SearchResponse(Schema):
    query: str = Field(description="the query as read (whitespace collapsed)")
    corrected_query: str | None = Field(description="the query with misspellings corrected, when any were "
                                                    "(\"did you mean\"); null otherwise")
    results: list[SearchResult]


def _flag(name: str, value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    try:
        return _BOOLEANS[value.strip().lower()]
    except KeyError:
        raise ApiError(400, "bad_request", f"{name} must be true or false, not {value[:20]!r}") from None


def _limit(value: str | None) -> int:
    if value is None or value == "":
        return 10
    text = value.strip()
    if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 12:  # str.isdigit() takes '²'
        raise ApiError(400, "bad_limit", f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(text)


@api.get("/search", response={200: SearchResponse, **ERRORS}, tags=["search"], operation_id="search",
         summary="Find codes from words, abbreviations, misspellings or partial codes",
         description="Searches code titles, inclusion terms, the Alphabetic Index (see references followed), "
                     "the External Cause Index, the Drug and Neoplasm Tables, the PCS Index and a curated "
                     "synonym and abbreviation table. A code typed as a code (`K57.`, `k219`, `0RR`) lists that "
                     "code and the codes below it. Misspellings are corrected against the vocabulary "
                     "(`corrected_query`). Laterality and encounter words (right, left, bilateral, initial, "
                     "subsequent, sequela) steer to the specific billable code. Only codes valid on `date` "
                     "are returned. Not metered; rate-limited like every call.",
         openapi_extra=_OPENAPI_EXTRA)
def search_codes(request: HttpRequest, response: HttpResponse,
                 q: str | None = Query(None, description=f"what to look for (at most {MAX_QUERY_CHARS} "
                                                         "characters)", examples=["heart attack"]),
                 system: str | None = Query(None, description="icd10cm, icd10pcs, hcpcs, cpt or all (default all)"),
                 limit: str | None = Query(None, description=f"results wanted, 1-{MAX_LIMIT} (default 10)"),
                 billable: str | None = Query(None, description="true: billable codes only; false: headers only"),
                 chapter: str | None = Query(None, description="ICD-10-CM chapter number (1-22) or ICD-10-PCS "
                                                               "section character"),
                 date: str | None = Query(None, description="date of service, YYYY-MM-DD (default today)",
                                          examples=["2026-04-01"])):
    caller: Caller = request.auth
    if q is None:
        raise ApiError(400, "bad_request", "q is required: /api/v1/search?q=heart+attack")
    if len(q) > MAX_QUERY_CHARS:
        raise ApiError(400, "too_long", f"q is {len(q)} characters long; at most {MAX_QUERY_CHARS} allowed")
    for name, value in (("system", system), ("chapter", chapter), ("date", date)):
        if value is not None and len(value) > 64:
            raise ApiError(400, "too_long", f"{name} is {len(value)} characters long; at most 64 allowed")
    try:
        doc = search(book(), q, system=system, limit=_limit(limit), billable=_flag("billable", billable),
                     chapter=chapter, date=date)
    except SearchError as exc:
        raise ApiError(400, exc.code, exc.message) from None
    for name, value in caller.headers.items():
        response[name] = str(value)
    response["Cache-Control"] = "private, max-age=300"
    return doc
