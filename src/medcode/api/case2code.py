"""POST /api/v1/case2code: case to code (medcode.case2code) as the v1 contract.

Registered on the same NinjaAPI as the rest of v1 (imported by urls.py): same authentication,
per-plan rate limit and error shape. Each run counts against the caller's case-to-code quota
(MEDCODE_FEATURE_QUOTAS["case2code"], per rolling day), charged only once the request is valid.
"""

from __future__ import annotations

import json

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from ninja import Schema
from pydantic import Field

from medcode.accounts import quotas
from medcode.case2code import MAX_CHARS, SETTINGS, Case2CodeError, check_setting, check_text, code_note
from medcode.codebook.dates import parse_date
from medcode.web.book import book

from .callers import Caller
from .errors import ApiError
from .v1 import _OPENAPI_EXTRA, ERRORS, api

FEATURE = "case2code"
C2C_ERRORS = {**ERRORS, 413: ERRORS[400]}
MAX_BODY_BYTES = 4 * MAX_CHARS + 16 * 1024  # a note of MAX_CHARS characters in UTF-8, and the JSON around it
_BODY_HELP = 'send JSON: {"text": "...", "setting": "outpatient", "date": "2026-04-01"}'


class Case2CodeRequest(Schema):
    text: str = Field(description=f"the clinical note, at most {MAX_CHARS:,} characters",
                      examples=["ED: 54-year-old with type 2 diabetes and diabetic foot ulcer of the left heel. "
                                "Denies fever."])
    setting: str = Field("outpatient", description="outpatient, inpatient or ed: decides how uncertain diagnoses "
                                                   "are coded (Guidelines II.H / IV.H)", examples=["ed"])
    date: str | None = Field(None, description="date of service, YYYY-MM-DD (default today)",
                             examples=["2026-04-01"])


class EvidenceSpan(Schema):
    start: int = Field(description="character offset into `text` (0-based)")
    end: int = Field(description="offset just past the span: text[start:end] is the evidence")
    text: str = Field(description="exactly text[start:end]")


class CodeSuggestion(Schema):
    system: str = Field(examples=["icd10cm"])
    code: str = Field(examples=["E11.621"])
    title: str = Field(description="the official description in effect on the date of service")
    first_listed: bool = Field(description="sequenced first (first-listed outpatient, principal inpatient)")
    confidence: float = Field(description="0..1")
    evidence: list[EvidenceSpan]
    rationale: str = Field(description="the Index path or convention and the guideline section used")


class Case2CodeResponse(Schema):
    codes: list[CodeSuggestion]
    warnings: list[str] = Field(description="what was left out and why (negated, uncertain, Excludes1...), and "
                                            "a message when nothing in the note could be coded")


def _payload(request: HttpRequest) -> tuple[str, str, str | None]:
    """The JSON body, read here so that every way it can be wrong gets its own clear message."""
    try:
        size = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        size = 0
    too_big = (f"the request body is over {MAX_BODY_BYTES:,} bytes; a note is at most {MAX_CHARS:,} "
               "characters")
    if size > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", too_big)
    try:
        raw = request.body
    except RequestDataTooBig:
        raise ApiError(413, "too_large", too_big) from None
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", too_big)
    if b"\x00" in raw:
        raise ApiError(400, "binary", "the request body contains NUL bytes: send the note as JSON text")
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "bad_encoding", f"the request body is not valid UTF-8 (byte {exc.start}); "
                                            f"{_BODY_HELP}") from None
    try:
        doc = json.loads(body)
    except ValueError:
        raise ApiError(422, "invalid_json", f"the request body is not JSON; {_BODY_HELP}") from None
    if not isinstance(doc, dict):
        raise ApiError(422, "validation_error", f"the request body must be a JSON object; {_BODY_HELP}")
    unknown = sorted(set(doc) - {"text", "setting", "date"})
    if unknown:
        raise ApiError(422, "validation_error", f"unknown field{'s' if len(unknown) > 1 else ''}: "
                                                f"{', '.join(repr(u)[:40] for u in unknown[:5])}")
    if doc.get("text") is None:
        raise ApiError(422, "validation_error", f"text is required; {_BODY_HELP}")
    for name in ("text", "setting", "date"):
        value = doc.get(name)
        if value is not None and not isinstance(value, str):
            raise ApiError(422, "validation_error", f"{name} must be a string")
    return doc["text"], doc.get("setting") or "outpatient", doc.get("date")


_REQUEST_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": Case2CodeRequest.model_json_schema(),
    "example": {"text": "ED: 54-year-old with type 2 diabetes and a diabetic foot ulcer of the left heel, "
                        "limited to breakdown of skin. Denies fever.", "setting": "ed", "date": "2026-04-01"}}}}}

_DESCRIPTION = (
    "Reads a clinical note and suggests the ICD-10-CM codes a coder would assign under the Official Guidelines, "
    "sequenced (the first is first-listed / principal), each with its evidence spans (character offsets into "
    "`text`) and the Index path or guideline used. Negated, hypothetical and family conditions are not coded as "
    "the patient's; uncertain diagnoses are coded as established for `inpatient` (Guidelines II.H) and not for "
    "`outpatient` / `ed` (IV.H, their symptoms are); combination codes, use-additional and code-first pairs, "
    "Excludes1 and 7th characters are applied; every code is valid and billable on `date`. A note with nothing "
    "codable returns no codes and a warning saying so. Counts against the daily case-to-code quota: guest "
    "{guest}, free {free}, paid {paid} runs per rolling day; over it `429` `quota_exceeded` with `Retry-After`. "
    "Errors: `422` empty text or a body that is not the JSON shown, `413` over {max_chars:,} characters, `400` "
    "binary content, invalid UTF-8, a bad setting or date.")


def _describe() -> str:
    from django.conf import settings

    q = settings.MEDCODE_FEATURE_QUOTAS.get(FEATURE, {})
    return _DESCRIPTION.format(max_chars=MAX_CHARS,
                               **{p: "unlimited" if q.get(p) is None else q.get(p) for p in ("guest", "free", "paid")})


@api.post("/case2code", response={200: Case2CodeResponse, **C2C_ERRORS}, tags=["case2code"],
          operation_id="case2code", summary="Suggest ICD-10-CM codes for a clinical note, each with its evidence",
          description=_describe(), openapi_extra={**_OPENAPI_EXTRA, **_REQUEST_BODY})
def case_to_code(request: HttpRequest, response: HttpResponse):
    caller: Caller = request.auth
    text, setting, date = _payload(request)
    if date is not None and len(date) > 64:
        raise ApiError(400, "too_long", f"date is {len(date)} characters long; at most 64 allowed")
    try:
        text = check_text(text)
        setting = check_setting(setting)
    except Case2CodeError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    when = parse_date(date)  # BadDate -> 400 bad_date
    try:
        left = quotas.consume(caller, FEATURE)
    except quotas.QuotaExceeded as exc:
        headers = {**caller.headers, "X-Quota-Remaining": 0,
                   **({"Retry-After": exc.retry_after} if exc.retry_after else {})}
        raise ApiError(429, "quota_exceeded", exc.message[:1].upper() + exc.message[1:], headers,
                       retry_after=exc.retry_after) from None
    result = code_note(book(), text, setting, when)
    for name, value in caller.headers.items():
        response[name] = str(value)
    if left.remaining is not None:
        response["X-Quota-Remaining"] = str(left.remaining)
    response["Cache-Control"] = "no-store"
    return result.as_dict()


__all__ = ["case_to_code", "SETTINGS"]
