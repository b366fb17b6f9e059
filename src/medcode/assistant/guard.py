"""Code guard: every code-shaped token in a text is checked against the book for the date of service."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from .model import CodeMention


@dataclass
class GuardResult:
    text: str  # invalid codes flagged: "K21.99 [not a valid code]"
    codes: list[CodeMention] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)


def guard_text(book, text: str, when: date | None = None) -> GuardResult:
    from .codetokens import guard

    return guard(book, text, when)
