"""/api/v1/: the NinjaAPI and its operations. Each operation parses, asks the codebook, meters."""

from string import Template

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Query
from ninja.openapi.docs import Swagger

from medcode.accounts import metering
from medcode.codebook import errors as book_errors
from medcode.codebook.codes import SYSTEM_LABELS, looks_like, normalize, system_name
from medcode.codebook.dates import parse_date
from medcode.codebook.record import code_record
from medcode.web.book import book

from .callers import ApiKeyAuth, Caller
from .errors import ApiError, install_handlers
from .schemas import CodeRecord, Error

MAX_PARAM = 64
ATTRIBUTE_BLOCKS = ("hcpcs", "modifier", "pos", "cpt")  # code_record's blocks for HCPCS, modifier, POS, CPT
CONTRACT_NOTES = ("includes", "inclusion_terms", "excludes1", "excludes2", "code_first", "use_additional",
                  "code_also")

DESCRIPTION = """
Official code sets (ICD-10-CM, ICD-10-PCS, ...) by date of service, as JSON.

**Authentication.** Send `Authorization: Bearer <key>` with a key from your account page or from
`medcode apikey create EMAIL`. Without the header you call as a guest. A header with a key that is
not valid or has been revoked gets `401`.

**Errors.** Every error is `{"error": {"code": "...", "message": "..."}}` with a fitting status:
`400` bad date or an over-long parameter, `401` bad key, `404` unknown system or code (with
`did_you_mean`, the nearest valid codes), `422` validation, `429` rate limit or quota, with a
`Retry-After` header (seconds).

**Rate limit.** Requests per minute per key (per client address for guests), by plan: guest
$guest_rate, free $free_rate, paid $paid_rate. Over it: `429` with `"code": "rate_limited"`;
`X-RateLimit-Limit` and `X-RateLimit-Remaining` are on every response.

**Quota.** A code record includes the gated sections (instructional notes, crosswalks, edits), so
every *distinct* code counts against the same quota as the code pages on the site: guest
$guest_quota, free $free_quota, paid unlimited, per rolling $window days; asking again for a
code already unlocked in the window is free (an API key counts as its account, a guest call as
the client address). When the quota is spent the call gets `429` with `"code": "quota_exceeded"`
and `Retry-After` = seconds until the oldest unlock leaves the window. `X-Quota-Remaining` says how
many new codes are left (absent when unlimited).
"""


def _description() -> str:
    rates, quotas = settings.MEDCODE_API_RATES, settings.MEDCODE_QUOTAS

    def q(v):
        return "unlimited" if v is None else v

    return Template(DESCRIPTION).substitute(guest_rate=rates["guest"], free_rate=rates["free"], paid_rate=rates["paid"],
                              guest_quota=q(quotas["guest"]), free_quota=q(quotas["free"]),
                              window=settings.MEDCODE_METER_WINDOW_DAYS)


api = NinjaAPI(
    title="medcode API",
    version="1",
    description=_description(),
    urls_namespace="api-v1",
    docs=Swagger(settings={"persistAuthorization": True}),
    auth=ApiKeyAuth(),
)
install_handlers(api)

ERRORS = {400: Error, 401: Error, 404: Error, 422: Error, 429: Error, 503: Error}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again",
                                "schema": {"type": "integer"}}}
_RATE_HEADERS = {
    "X-RateLimit-Limit": {"description": "requests allowed per minute", "schema": {"type": "integer"}},
    "X-RateLimit-Remaining": {"description": "requests left this minute", "schema": {"type": "integer"}},
    "X-Quota-Remaining": {"description": "new codes left in the quota window (absent when unlimited)",
                          "schema": {"type": "integer"}},
}
_OPENAPI_EXTRA = {
    # the Bearer key is optional: anonymous callers are guests
    "security": [{}],  # appended to ninja's [{"ApiKeyAuth": []}]
    "responses": {200: {"headers": _RATE_HEADERS}, 429: {"headers": _RETRY_AFTER}},
}


def _check_length(**params: str | None) -> None:
    for name, value in params.items():
        if value is not None and len(value) > MAX_PARAM:
            raise ApiError(400, "too_long", f"{name} is {len(value)} characters long; at most {MAX_PARAM} allowed")


def api_record(rec: dict) -> dict:
    """The API's view of a `code_record()`: exactly the v1 contract."""
    notes = rec.get("notes", {})
    return {
        "system": rec["system"],
        "code": rec["code"],
        "title": rec["title"],
        "billable": rec["billable"],
        "status": rec["status"],
        "effective": {"from": rec["effective"]["from"], "to": rec["effective"]["to"]},
        "hierarchy": [{"code": h["code"], "title": h["title"]} for h in rec["hierarchy"]],
        "children": [{"code": c["code"], "title": c["title"], "billable": c["billable"]} for c in rec["children"]],
        "notes": {kind: [{"text": n["text"], "origin": n["origin"], "origin_kind": n.get("origin_kind"),
                          "inherited": n["inherited"]} for n in notes.get(kind, [])]
                  for kind in CONTRACT_NOTES},
        "seventh_characters": dict(rec.get("seventh_characters", {})),
        "plain_language": rec["plain_language"],
        "crosswalks": rec.get("crosswalks", {}),
        "edits": rec.get("edits", {}),
        "attributes": {k: rec[k] for k in ATTRIBUTE_BLOCKS if rec.get(k) is not None} or None,
    }


@api.get("/codes/{system}/{code}", response={200: CodeRecord, **ERRORS}, by_alias=True, tags=["codes"],
         operation_id="get_code", summary="A code's record on a date of service",
         description="The code, its official and plain-language descriptions, hierarchy, children, "
                     "instructional notes, 7th characters, crosswalks and edits, as in effect on `date` "
                     "(default today). Codes are normalised: `e119`, `E11.9` and `E11.9 ` are one code. "
                     "Counts against the quota (see above) unless the code was already unlocked.",
         openapi_extra=_OPENAPI_EXTRA)
def get_code(request: HttpRequest, response: HttpResponse, system: str, code: str,
             date: str | None = Query(None, description="date of service, YYYY-MM-DD (default today)",
                                      examples=["2026-04-01"])):
    caller: Caller = request.auth
    _check_length(system=system, code=code, date=date)
    sys_id = system_name(system)  # UnknownSystem -> 404
    when = parse_date(date)       # BadDate -> 400
    b = book()
    if not b.holds(sys_id):
        raise ApiError(404, "unknown_system",
                       f"this server holds no {SYSTEM_LABELS.get(sys_id, sys_id)} release; it holds: "
                       f"{', '.join(b.systems())}")
    canonical = normalize(code, sys_id)
    try:
        rec = code_record(b, sys_id, canonical, when)
    except book_errors.UnknownCode:
        label = SYSTEM_LABELS.get(sys_id, sys_id)
        if not canonical or not looks_like(sys_id, canonical):
            raise ApiError(400, "malformed_code", f"{code!r} does not have the shape of a {label} code") from None
        near = [{"code": c.code, "title": c.title, "billable": c.billable}
                for c in b.nearest(sys_id, canonical, when)]
        raise ApiError(404, "unknown_code", f"there is no {label} code {canonical} on {when.isoformat()}",
                       did_you_mean=near) from None

    decision = metering.decide(caller.meter_subjects, rec["system"], rec["code"], caller.quota,
                               metering.window_days())
    if not decision.allowed:
        wait = decision.retry_after_seconds
        when_msg = f"; one more fits in {wait} s" if wait else ""
        headers = {**caller.headers, **({"Retry-After": wait} if wait else {}), "X-Quota-Remaining": 0}
        raise ApiError(429, "quota_exceeded",
                       f"the {caller.plan} plan's quota of {caller.quota} distinct codes per "
                       f"{metering.window_days()} days is spent{when_msg}. Codes already unlocked stay "
                       f"available; {'register' if caller.plan == 'guest' else 'upgrade'} for more.",
                       headers, retry_after=wait)
    for name, value in caller.headers.items():
        response[name] = str(value)
    if decision.remaining is not None:
        response["X-Quota-Remaining"] = str(decision.remaining)
    response["Cache-Control"] = "private, no-store"
    return api_record(rec)
