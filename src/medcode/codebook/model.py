"""Plain records the book hands out. Frozen: the book is read-only and so is what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, slots=True)
class Release:
    id: int
    system: str
    name: str
    effective_from: date
    effective_to: date | None
    kind: str
    source: str
    sha256: str
    imported_at: str
    counts: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class Code:
    system: str
    code: str
    title: str
    kind: str  # chapter, block, category, subcategory, extension (CM); section, body_system, table, code (PCS)
    parent: str | None
    billable: bool
    valid_from: date
    valid_to: date | None
    status: str  # active | deleted | future (relative to the date asked about)
    release: str  # name of the release this version came from

    @property
    def is_header(self) -> bool:
        return not self.billable


@dataclass(frozen=True, slots=True)
class Note:
    kind: str  # includes, inclusion_terms, excludes1, excludes2, code_first, use_additional, code_also, notes, seventh_note
    text: str
    origin: str  # the code (or chapter/block) where the note is printed
    origin_kind: str
    inherited: bool


@dataclass(frozen=True, slots=True)
class SeventhCharacter:
    char: str
    meaning: str
    origin: str


@dataclass(frozen=True, slots=True)
class IndexEntry:
    source: str  # index, eindex, drug, neoplasm, pcs_index
    path: str  # "Diabetes, type 2, with, polyneuropathy"
    code: str | None
    see: str | None
    see_also: str | None
    nonessential: str | None
    column: str | None  # Drug/Neoplasm table column heading


@dataclass(frozen=True, slots=True)
class Crosswalk:
    direction: str  # "icd10cm->icd9cm" or "icd9cm->icd10cm"
    source: str
    target: str | None  # None when the GEM says no map
    target_title: str | None
    approximate: bool
    no_map: bool
    combination: bool
    scenario: int
    choice_list: int


@dataclass(frozen=True, slots=True)
class Version:
    """One row of a code's history: what it was called and whether it was billable, and when."""

    title: str
    billable: bool
    parent: str | None
    valid_from: date
    valid_to: date | None
    release: str
