"""Every API error is ``{"error": {"code": "...", "message": "..."}}`` with a fitting status.

`ApiError` is what the endpoints raise; `install_handlers` makes django-ninja's own errors
(validation, authentication, throttling, 404, anything unexpected) use the same shape.
"""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from medcode.codebook import errors as book_errors
from medcode.codebook.dates import BadDate

log = logging.getLogger("medcode.api")

# A body with thousands of bad items gets the first ones: the answer must not be far larger than the request.
MAX_DETAILS = 50
STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 413: "too_large", 422: "validation_error", 429: "too_many_requests",
                500: "internal_error", 503: "unavailable"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None, **extra):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra


def error_response(status: int, code: str, message: str, headers: dict | None = None, request=None,
                   **extra) -> JsonResponse:
    response = JsonResponse({"error": {"code": code, "message": message, **extra}}, status=status,
                            json_dumps_params={"ensure_ascii": False})
    caller = getattr(request, "auth", None)  # rate-limit headers once the caller is known
    for name, value in {**getattr(caller, "headers", {}), **(headers or {})}.items():
        response[name] = str(value)
    response["Cache-Control"] = "no-store"
    return response


def _describe_validation(errors: list[dict]) -> str:
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("query", "path", "body", "header"))
        parts.append(f"{loc or 'request'}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) or "the request is not valid"


def install_handlers(api: NinjaAPI) -> None:
    def api_error(request, exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.headers, request, **exc.extra)

    def validation(request, exc: ValidationError):
        details = [{"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", "")),
                    "type": str(e.get("type", ""))} for e in exc.errors[:MAX_DETAILS]]
        more = {"details_omitted": len(exc.errors) - MAX_DETAILS} if len(exc.errors) > MAX_DETAILS else {}
        return error_response(422, "validation_error", _describe_validation(exc.errors), details=details, **more)

    def authentication(request, exc: AuthenticationError):
        return error_response(401, "unauthorized", "a valid API key is required: Authorization: Bearer <key>")

    def throttled(request, exc: Throttled):
        headers = {"Retry-After": exc.wait} if exc.wait else {}
        return error_response(429, "rate_limited", "too many requests; slow down", headers)

    def http_error(request, exc: HttpError):
        return error_response(exc.status_code, STATUS_CODES.get(exc.status_code, "error"), str(exc))

    def not_found(request, exc: Http404):
        return error_response(404, "not_found", "there is no such API resource")

    def too_big(request, exc: RequestDataTooBig):
        return error_response(413, "too_large", "the request body is too large")

    def bad_date(request, exc: BadDate):
        return error_response(400, "bad_date", str(exc))

    def unknown_system(request, exc: book_errors.UnknownSystem):
        return error_response(404, "unknown_system", str(exc))

    def book_missing(request, exc: book_errors.BookMissing):
        log.error("codebook unavailable: %s", exc)
        return error_response(503, "codebook_unavailable", "the reference data is not available right now",
                              {"Retry-After": 60})

    def codebook_error(request, exc: book_errors.CodebookError):
        return error_response(400, "bad_request", str(exc))

    def unexpected(request, exc: Exception):
        log.exception("API error on %s %s", request.method, request.get_full_path(), exc_info=exc)
        return error_response(500, "internal_error", "something went wrong on our side; the error has been logged")

    for exc_class, handler in [
        (ApiError, api_error), (ValidationError, validation), (AuthenticationError, authentication),
        (Throttled, throttled), (HttpError, http_error), (Http404, not_found), (RequestDataTooBig, too_big),
        (BadDate, bad_date),
        (book_errors.UnknownSystem, unknown_system), (book_errors.BookMissing, book_missing),
        (book_errors.CodebookError, codebook_error), (Exception, unexpected),
    ]:
        api.add_exception_handler(exc_class, handler)
