"""Response schemas: they drive the OpenAPI document, so the contract is visible in /api/v1/docs."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field


class CodeBrief(Schema):
    code: str
    title: str
    billable: bool


class Ancestor(Schema):
    code: str
    title: str


class Effective(Schema):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from", description="first day the code (this version) is in effect")
    to: date | None = Field(description="last day it is in effect; null while it still is")


class Note(Schema):
    text: str
    origin: str = Field(description="the code (or chapter number) the note is printed at in the Tabular")
    origin_kind: str | None = Field(None, description="chapter, block, category, subcategory, ...")
    inherited: bool = Field(description="true when the note is printed at an ancestor and applies here")


class Notes(Schema):
    includes: list[Note]
    inclusion_terms: list[Note]
    excludes1: list[Note]
    excludes2: list[Note]
    code_first: list[Note]
    use_additional: list[Note]
    code_also: list[Note]


class GemTarget(Schema):
    code: str | None
    title: str | None
    approximate: bool
    no_map: bool
    combination: bool
    scenario: int | None = None
    choice_list: int | None = None


class GemSource(Schema):
    code: str
    title: str | None
    approximate: bool


class Crosswalks(Schema):
    model_config = ConfigDict(extra="allow")

    icd9cm: list[GemTarget] = Field(default_factory=list, description="ICD-10-CM -> ICD-9-CM (GEMs)")
    from_icd9cm: list[GemSource] = Field(default_factory=list, description="ICD-9-CM codes that map here (GEMs)")


class CodeRecord(Schema):
    system: str = Field(examples=["icd10cm"])
    code: str = Field(examples=["E11.9"])
    title: str = Field(description="the official description")
    billable: bool = Field(description="valid for reporting on the date of service")
    status: Literal["active", "deleted", "future"] = Field(
        description="active on the date of service; deleted (described from its last version) or future "
                    "(not yet in effect)")
    effective: Effective
    hierarchy: list[Ancestor] = Field(description="ancestors, nearest first (parent ... chapter)")
    children: list[CodeBrief] = Field(description="codes one level below; empty for a billable leaf")
    notes: Notes = Field(description="instructional notes, the code's own first, then inherited ones")
    seventh_characters: dict[str, str] = Field(description='7th character -> meaning, e.g. {"A": "initial '
                                                           'encounter ..."}')
    plain_language: str = Field(description="what the code means, in everyday words")
    crosswalks: Crosswalks
    edits: dict[str, Any] = Field(description="coding edits that involve the code (reserved; empty for now)")


class DidYouMean(Schema):
    code: str
    title: str
    billable: bool


class ErrorDetail(Schema):
    code: str = Field(description="machine-readable: bad_request, bad_date, too_long, malformed_code, "
                                  "unauthorized, invalid_key, unknown_system, unknown_code, not_found, "
                                  "method_not_allowed, validation_error, rate_limited, quota_exceeded, "
                                  "internal_error, codebook_unavailable",
                      examples=["unknown_code"])
    message: str = Field(description="for people", examples=["E11.99 is not an ICD-10-CM code on 2026-04-01"])
    did_you_mean: list[DidYouMean] | None = Field(None, description="unknown_code only: the nearest valid codes")
    retry_after: int | None = Field(None, description="rate_limited and quota_exceeded: seconds to wait "
                                                      "(also in the Retry-After header)")
    details: list[dict[str, Any]] | None = Field(None, description="validation_error only: each problem")


class Error(Schema):
    error: ErrorDetail
