"""POST /api/v1/assistant/ask and /api/v1/assistant/ask/stream: the assistant as the v1 contract.

Registered on the same NinjaAPI as the rest of v1 (imported by urls.py): same authentication,
per-plan rate limit and error shape. Each question counts against the caller's assistant quota
(MEDCODE_FEATURE_QUOTAS["assistant"], per rolling day), charged only once the request is valid.
Conversations belong to the caller (an API key's account, or an anonymous caller's address).
"""

from __future__ import annotations

import json

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import Schema
from pydantic import Field

from medcode.accounts import quotas
from medcode.assistant import MAX_QUESTION_CHARS
from medcode.conversations import actions, sse
from medcode.web.book import book

from .callers import Caller
from .errors import ApiError
from .v1 import _OPENAPI_EXTRA, ERRORS, api

ASK_ERRORS = {**ERRORS, 413: ERRORS[400]}


class AskRequest(Schema):
    question: str = Field(description=f"the question, at most {MAX_QUESTION_CHARS:,} characters",
                          examples=["What is K21.9?"])
    conversation: str | None = Field(None, description="an earlier answer's `conversation`, to ask a follow-up "
                                                       "(\"and its excludes?\"); null starts a new one")
    date: str | None = Field(None, description="date of service, YYYY-MM-DD (default today)",
                             examples=["2026-04-01"])


class Citation(Schema):
    source: str = Field(examples=["ICD-10-CM Tabular FY2026"])
    ref: str = Field(description="the code or section cited", examples=["K21.9"])
    url: str = Field(description="the code page or section on this site (a path)", examples=["/codes/icd10cm/K21.9"])


class CodeValidity(Schema):
    system: str = Field(examples=["icd10cm"])
    code: str = Field(examples=["K21.9"])
    valid: bool = Field(description="exists and is in effect on the date of service")


class AskResponse(Schema):
    answer: str = Field(description="markdown")
    citations: list[Citation]
    codes: list[CodeValidity] = Field(description="every code the answer mentions, checked against the codebook")
    conversation: str = Field(description="the conversation's id: send it back to ask a follow-up")


MAX_BODY_BYTES = 64 * 1024
_BODY_HELP = 'send JSON: {"question": "What is K21.9?", "conversation": null, "date": "2026-04-01"}'


def _payload(request: HttpRequest) -> AskRequest:
    """The JSON body, read here rather than by django-ninja so every way it can be wrong gets a clear message."""
    try:
        size = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        size = 0
    if size > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"the request body is {size:,} bytes; at most {MAX_BODY_BYTES:,} are read "
                                         f"(a question is at most {MAX_QUESTION_CHARS:,} characters)")
    try:
        raw = request.body
    except RequestDataTooBig:
        raise ApiError(413, "too_large", f"the request body is too large; {_BODY_HELP}") from None
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"the request body is over {MAX_BODY_BYTES:,} bytes")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(422, "invalid_json", f"the request body is not JSON; {_BODY_HELP}") from None
    if not isinstance(doc, dict):
        raise ApiError(422, "validation_error", f"the request body must be a JSON object; {_BODY_HELP}")
    for name in ("question", "conversation", "date"):
        value = doc.get(name)
        if value is not None and not isinstance(value, str):
            raise ApiError(422, "validation_error", f"{name} must be a string" +
                           (" or null" if name != "question" else ""))
    if "question" not in doc or doc["question"] is None:
        raise ApiError(422, "validation_error", f"question is required; {_BODY_HELP}")
    unknown = sorted(set(doc) - {"question", "conversation", "date"})
    if unknown:
        raise ApiError(422, "validation_error", f"unknown field{'s' if len(unknown) > 1 else ''}: "
                                                f"{', '.join(repr(u)[:40] for u in unknown[:5])}")
    return AskRequest(question=doc["question"], conversation=doc.get("conversation"), date=doc.get("date"))


def _prepare(request: HttpRequest) -> tuple[Caller, actions.Prepared, quotas.Remaining]:
    caller: Caller = request.auth
    payload = _payload(request)
    owner, user = actions.owner_for_caller(caller)
    try:
        prep = actions.prepare(owner, user, payload.question, payload.conversation, payload.date)
    except actions.AskError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    try:
        left = quotas.consume(caller, actions.FEATURE)
    except quotas.QuotaExceeded as exc:
        headers = {**caller.headers, "X-Quota-Remaining": 0,
                   **({"Retry-After": exc.retry_after} if exc.retry_after else {})}
        raise ApiError(429, "quota_exceeded", exc.message[:1].upper() + exc.message[1:], headers,
                       retry_after=exc.retry_after) from None
    return caller, prep, left


_REQUEST_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": AskRequest.model_json_schema(), "example": {"question": "What is K21.9?", "conversation": None,
                                                          "date": "2026-04-01"}}}}}


def _headers(response: HttpResponse, caller: Caller, left: quotas.Remaining, result=None) -> None:
    for name, value in caller.headers.items():
        response[name] = str(value)
    if left.remaining is not None:
        response["X-Quota-Remaining"] = str(left.remaining)
    if result is not None:
        response["X-Assistant-Model"] = result.model or ("fallback" if result.note else "none")
    response["Cache-Control"] = "no-store"


_DESCRIPTION = (
    "Answers a coding question from the official sources in the codebook (code sets, instructional notes, "
    "Official Guidelines, NCCI and CMS manuals, edits, crosswalks), as markdown with citations; every code "
    "the answer mentions is listed with its validity on `date`. It says plainly when it does not know. "
    "With a language model configured, the model only rewords the retrieved facts; the code guard checks "
    "its wording (header `X-Assistant-Model`: the model's name, `none`, or `fallback` when the model failed "
    "and the sources' answer was served with a note). Send `conversation` back to ask a follow-up; "
    "another caller's conversation is a 404. Counts against the daily assistant quota: guest {guest}, "
    "free {free}, paid {paid} questions per rolling day; over it `429` `quota_exceeded` with `Retry-After`. "
    "Errors: `413` question too long, `422` empty question or a body that is not the JSON shown, `400` bad "
    "date, `404` unknown conversation.")


def _describe() -> str:
    from django.conf import settings

    q = settings.MEDCODE_FEATURE_QUOTAS.get("assistant", {})
    return _DESCRIPTION.format(**{p: "unlimited" if q.get(p) is None else q.get(p) for p in ("guest", "free", "paid")})


@api.post("/assistant/ask", response={200: AskResponse, **ASK_ERRORS}, tags=["assistant"],
          operation_id="assistant_ask", summary="Ask a coding question; a grounded, cited answer",
          description=_describe(), openapi_extra={**_OPENAPI_EXTRA, **_REQUEST_BODY})
def ask(request: HttpRequest, response: HttpResponse):
    caller, prep, left = _prepare(request)
    result = actions.answer(book(), prep)
    _headers(response, caller, left, result)
    return actions.api_shape(result.answer, result.conversation.pk)


@api.post("/assistant/ask/stream", response={200: None, **ASK_ERRORS}, tags=["assistant"],
          operation_id="assistant_ask_stream", summary="The same, streamed as server-sent events",
          description="Takes the same body as `/assistant/ask` and answers `text/event-stream`: `event: delta` "
                      "with `{\"text\": \"...\"}` pieces of the answer as they are written (with a language model, "
                      "its wording, already code-guarded), then one `event: done` whose data is exactly the "
                      "`/assistant/ask` response; the done answer is the one to keep (it replaces the pieces, "
                      "e.g. with the sources' answer and a note when the model failed). An `event: error` with "
                      "the usual error object ends a stream that failed after it began. Errors found before the "
                      "stream begins (bad input, quota) are ordinary JSON error responses.",
          openapi_extra={**_OPENAPI_EXTRA, **_REQUEST_BODY, "responses": {**_OPENAPI_EXTRA["responses"], 200: {
              "description": "server-sent events", "content": {"text/event-stream": {"schema": {"type": "string"}}},
              "headers": _OPENAPI_EXTRA["responses"][200]["headers"]}}})
def ask_stream(request: HttpRequest):
    caller, prep, left = _prepare(request)
    events = actions.answer_events(book(), prep)
    response = StreamingHttpResponse(
        sse.body(events, lambda r: actions.api_shape(r.answer, r.conversation.pk)),
        content_type="text/event-stream; charset=utf-8")
    _headers(response, caller, left)
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response
