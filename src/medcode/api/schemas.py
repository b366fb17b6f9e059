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


# --- edits of a HCPCS or CPT code (issue 5) --------------------------------------------------------

class PtpPair(Schema):
    column1: str
    column2: str
    effective: date
    deletion: date | None = Field(description="the last day the edit applies; null: not deleted")
    modifier: Literal[0, 1, 9] = Field(description="0 not allowed, 1 allowed with an NCCI PTP-associated modifier, "
                                                   "9 not applicable (see modifier_indicators)")
    prior_1996: bool = Field(description="the file's '* = in existence prior to 1996' flag")
    rationale: str


class PtpSide(Schema):
    count: int = Field(description="how many edits in effect name the code in this column")
    pairs: list[PtpPair] = Field(description="the first of them (at most 100), by the other code")


class PtpSetting(Schema):
    column1: PtpSide = Field(description="edits where the code is column 1 (paid; the other code is denied)")
    column2: PtpSide = Field(description="edits where the code is column 2")
    releases: list[str] = Field(description="the NCCI files the pairs shown come from")


class Ptp(Schema):
    practitioner: PtpSetting
    hospital: PtpSetting = Field(description="outpatient hospital")
    modifier_indicators: dict[str, str] = Field(description="what each modifier indicator means, in words")


class MueEdit(Schema):
    units: int = Field(description="the most units of service per line (MAI 1) or per date of service (MAI 2, 3)")
    mai: Literal[1, 2, 3] = Field(description="MUE adjudication indicator")
    mai_label: str
    mai_meaning: str | None
    rationale: str
    effective_from: date = Field(description="first day of the MUE table")
    effective_to: date | None
    release: str


class MueSettings(Schema):
    practitioner: MueEdit | None
    hospital: MueEdit | None = Field(description="outpatient hospital")
    dme: MueEdit | None = Field(description="DME supplier")


class AddonEditOut(Schema):
    addon: str
    primary: str | None = Field(description="null when the contractor defines the primary codes")
    contractor_defined: bool
    type: Literal[1, 2, 3] = Field(description="AOC edit type")
    type_meaning: str | None
    effective: date
    deletion: date | None
    note: str | None
    release: str


class AddonRelations(Schema):
    primaries: list[AddonEditOut] = Field(description="when the code is an add-on code: its primary codes")
    addons: list[AddonEditOut] = Field(description="the add-on codes that list the code as a primary code")


class RvuRecord(Schema):
    modifier: str = Field(description="'' global service, 26 professional, TC technical, 53 discontinued")
    status: str
    status_meaning: str | None
    not_used_for_medicare: bool
    work: float
    pe_nonfacility: float
    pe_nonfacility_na: bool
    pe_facility: float
    pe_facility_na: bool
    mp: float
    total_nonfacility: float
    total_facility: float
    global_days: str = Field(description="000, 010, 090, MMM, XXX, YYY, ZZZ")
    global_meaning: str | None
    preop: float
    intraop: float
    postop: float
    pctc: str
    pctc_meaning: str | None
    multiple_procedure: str
    multiple_procedure_meaning: str | None
    bilateral: str
    bilateral_meaning: str | None
    assistant: str
    assistant_meaning: str | None
    co_surgeons: str
    co_surgeons_meaning: str | None
    team_surgery: str
    team_surgery_meaning: str | None
    endoscopic_base: str | None
    conversion_factor: float
    release: str
    effective_from: date
    effective_to: date | None


class PaymentAmount(Schema):
    modifier: str
    nonfacility: float | None = Field(description="dollars; null with the reason when not paid")
    nonfacility_reason: str | None
    facility: float | None
    facility_reason: str | None


class PaymentOut(Schema):
    basis: Literal["national", "locality"] = Field(description="national: RVUs x conversion factor, before any "
                                                               "locality's GPCIs")
    locality: str | None
    conversion_factor: float
    date_of_service: date
    amounts: list[PaymentAmount]
    release: str


class Edits(Schema):
    date_of_service: date
    ptp: Ptp
    mue: MueSettings
    addon: AddonRelations
    rvu: list[RvuRecord] = Field(description="PFS relative values: the global service, then 26, TC, 53")
    payment: PaymentOut | None = Field(description="national payment; null when no PFS file covers the date")


class NoEdits(Schema):
    """Codes that edits do not apply to (ICD-10, modifiers, places of service): an empty object."""

    model_config = ConfigDict(extra="forbid")


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
    edits: Edits | NoEdits = Field(description="HCPCS and CPT codes: NCCI PTP pairs (as column 1 and as column 2, "
                                                "practitioner and outpatient hospital), MUEs, add-on code relations, "
                                                "PFS relative values and the national payment on the date of service. "
                                                "An empty object for other codes.")
    attributes: dict[str, Any] | None = Field(
        None, description="HCPCS Level II codes, modifiers, places of service and CPT codes: their CMS record "
                          "({'hcpcs': ANWEB fields with their meanings}, {'modifier': level, guidance}, "
                          "{'pos': setting, description}, {'cpt': licensed, notice, listed_in}); null for ICD-10. "
                          "Added after v1's first fields: optional.")


class DidYouMean(Schema):
    code: str
    title: str
    billable: bool


class ErrorDetail(Schema):
    code: str = Field(description="machine-readable: bad_request, bad_date, too_long, malformed_code, "
                                  "unauthorized, invalid_key, unknown_system, unknown_code, not_found, "
                                  "method_not_allowed, too_large, validation_error, rate_limited, quota_exceeded, "
                                  "internal_error, codebook_unavailable",
                      examples=["unknown_code"])
    message: str = Field(description="for people", examples=["E11.99 is not an ICD-10-CM code on 2026-04-01"])
    did_you_mean: list[DidYouMean] | None = Field(None, description="unknown_code only: the nearest valid codes")
    retry_after: int | None = Field(None, description="rate_limited and quota_exceeded: seconds to wait "
                                                      "(also in the Retry-After header)")
    details: list[dict[str, Any]] | None = Field(None, description="validation_error only: each problem")


class Error(Schema):
    error: ErrorDetail
