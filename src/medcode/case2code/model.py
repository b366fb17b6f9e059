"""What case to code hands back: suggestions with their evidence, and warnings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

SETTINGS = ("outpatient", "inpatient", "ed")
MAX_CHARS = 100_000


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    text: str  # exactly text[start:end] of the note


@dataclass(frozen=True, slots=True)
class Suggestion:
    system: str
    code: str
    title: str
    first_listed: bool
    confidence: float
    evidence: list[Span] = field(default_factory=list)
    rationale: str = ""


@dataclass(frozen=True, slots=True)
class Result:
    codes: list[Suggestion]
    warnings: list[str]

    def as_dict(self) -> dict:
        return {"codes": [asdict(s) for s in self.codes], "warnings": list(self.warnings)}


class Case2CodeError(ValueError):
    """A note the engine cannot read as given: code and message for the API and the CLI."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
