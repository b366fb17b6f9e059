"""POST /api/v1/edits/check: the claim edit checker (medcode.edits) as the v1 contract.

Registered on the same NinjaAPI as the rest of v1 (imported by urls.py): same authentication,
per-plan rate limit and error shape. Not metered against the code quota: a check answers about the
codes the caller sent, for one claim, and returns no code record (the gated sections of a code page
stay behind the quota); the rate limit bounds its use like any other call.
"""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Schema
from pydantic import ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from medcode.codebook.dates import parse_date
from medcode.edits import MAX_LINES, MAX_MODIFIERS, MAX_UNITS, ClaimError, run_check
from medcode.edits.claim import too_many_lines
from medcode.web.book import book

from .callers import Caller
from .errors import ApiError
from .v1 import _OPENAPI_EXTRA, ERRORS, MAX_PARAM, api


# A misspelt field ("unit": 5, "dos": ...) would otherwise be dropped and the claim checked as if it were
# absent (1 unit, today): refused with a 422 that names it, as the assistant's body is.
_STRICT = ConfigDict(extra="forbid")


class ClaimLineIn(Schema):
    model_config = _STRICT

    code: str = Field(description="a CPT or HCPCS Level II code", examples=["29880"])
    modifiers: list[str] = Field(default_factory=list, description=f"up to {MAX_MODIFIERS} two-character "
                                 "modifiers, CPT (59, 25, ...) or HCPCS Level II (LT, XS, ...)", examples=[["59"]])
    units: int = Field(1, strict=True, description=f"units of service, 1-{MAX_UNITS}", examples=[1])


class EditsCheckIn(Schema):
    model_config = _STRICT

    setting: str = Field("practitioner", description="practitioner or hospital (outpatient hospital): which NCCI "
                                                     "PTP and MUE tables apply", examples=["practitioner"])
    date: str | None = Field(None, description="date of service, YYYY-MM-DD (default today)",
                             examples=["2026-03-01"])
    lines: list[ClaimLineIn] = Field(description=f"the claim's service lines, 1-{MAX_LINES}, in claim order")

    @field_validator("lines", mode="before")
    @classmethod
    def _at_most_max_lines(cls, value):
        """Counted before each line is validated: 150,000 lines took seconds to read only to be refused."""
        if isinstance(value, list) and len(value) > MAX_LINES:
            raise PydanticCustomError("claim", too_many_lines(len(value)))
        return value


class EditFinding(Schema):
    kind: Literal["ptp", "mue", "addon", "invalid", "deleted"] = Field(
        description="ptp: a procedure-to-procedure pair; mue: units over a Medically Unlikely Edit; addon: an "
                    "add-on code without its primary code; invalid: a code or modifier that does not exist; "
                    "deleted: one not in effect on the date")
    lines: list[int] = Field(description="0-based indexes into the request's lines (a PTP finding: the column 1 "
                                         "line and the column 2 line, in line order)")
    message: str = Field(description="what the edit says, in plain words (lines numbered from 1)")
    fix: str = Field(description="what to do about it")
    severity: Literal["error", "warning", "advisory"] = Field(
        description="error: the claim line will be denied as it stands; warning: may be denied; advisory: allowed, "
                    "but the documentation must support it (e.g. a PTP edit bypassed by a modifier)")
    codes: list[str] = Field(description="the codes (or modifier) the finding is about")
    detail: dict[str, Any] = Field(description="the edit's data: ptp: column1, column2, indicator, rationale, "
                                               "effective, deletion, bypassed, bypassed_by; mue: mue, units, mai, "
                                               "mai_label, rationale; addon: aoc_type, primaries; invalid: "
                                               "suggestions; deleted: valid_from, valid_to")


class EditLine(Schema):
    code: str
    modifiers: list[str]
    units: int
    system: str | None = Field(description="cpt, hcpcs, or null when the code is neither")
    status: str = Field(description="active, deleted, future, invalid, or unverified (no CMS file in effect lists "
                                    "CPT codes on the date)")
    title: str | None = Field(description="the HCPCS Level II title; null for CPT codes (AMA text is not shipped)")


class EditsCheckOut(Schema):
    findings: list[EditFinding] = Field(description="errors first, then warnings and advisories; empty: nothing "
                                                    "found")
    setting: str
    date: str
    lines: list[EditLine] = Field(description="each request line as read")
    summary: dict[str, int] = Field(description="number of findings by severity")
    notices: list[str] = Field(description="limits of the check on this date (e.g. no MUE table in effect)")
    sources: dict[str, list[str]] = Field(description="the NCCI files the check used: ptp, mue, addon")


@api.post("/edits/check", response={200: EditsCheckOut, **ERRORS}, tags=["edits"], operation_id="check_edits",
          summary="Check a claim's lines against the NCCI edits",
          description="One claim (one patient, one provider, one date of service): every code and modifier exists "
                      "on the date; NCCI procedure-to-procedure pairs in effect in the setting's table (modifier "
                      "indicator 0: never together; 1: only with an NCCI PTP-associated modifier on the column 2 "
                      "line, or differing anatomic modifiers; 9: not applicable); units over the MUE, per line "
                      "(MAI 1) or summed over the code's lines (MAI 2, 3); add-on codes without a primary code. "
                      "Lines are written as `{\"code\": \"29880\", \"modifiers\": [\"59\"], \"units\": 1}`; at most "
                      f"{MAX_LINES}. A claim that cannot be read is `422` (`validation_error`, each problem in "
                      "`details`); a bad date `400`. Not metered against the code quota; rate-limited like every "
                      "call.",
          openapi_extra=_OPENAPI_EXTRA)
def check_edits(request: HttpRequest, response: HttpResponse, payload: EditsCheckIn):
    caller: Caller = request.auth
    for name, value in (("setting", payload.setting), ("date", payload.date)):
        if value is not None and len(value) > MAX_PARAM:
            raise ApiError(400, "too_long", f"{name} is {len(value)} characters long; at most {MAX_PARAM} allowed")
    when = parse_date(payload.date)  # BadDate -> 400
    lines = [{"code": li.code, "modifiers": li.modifiers, "units": li.units} for li in payload.lines]
    try:
        result = run_check(book(), lines, payload.setting, when)
    except ClaimError as exc:
        details = [{"loc": ["body", "payload", *(["lines", str(p["line"])] if p["line"] is not None else []),
                            p["field"]], "msg": p["message"], "type": "claim"} for p in exc.problems]
        raise ApiError(422, "validation_error", exc.message, details=details) from None
    for name, value in caller.headers.items():
        response[name] = str(value)
    response["Cache-Control"] = "no-store"
    return result.as_dict()
