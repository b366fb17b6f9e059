"""The engine's answer records: plain dataclasses, JSON-serialisable through `to_dict()`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Citation:
    source: str  # "ICD-10-CM Tabular FY2026", "NCCI Policy Manual 2026", ...
    ref: str  # code or section: "K21.9", "I.C.4.a.3", "Chapter I, E"
    url: str  # site path: /codes/<system>/<code>, /guidelines/<ref>, /references/<source-slug>/<ref>

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CodeMention:
    system: str
    code: str
    valid: bool  # exists and is in effect on the date of service
    title: str | None
    status: str  # active | deleted | future | unknown

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Answer:
    markdown: str
    citations: list[Citation] = field(default_factory=list)
    codes: list[CodeMention] = field(default_factory=list)
    intent: str = "unknown"
    confident: bool = False  # False for "I don't know" and low-confidence retrieval
    facts: list[str] = field(default_factory=list)  # retrieved facts an LLM may phrase, each ending "[ref]"
    context: dict = field(default_factory=dict)  # entities a follow-up needs (JSON-serialisable)

    def to_dict(self) -> dict:
        return {"markdown": self.markdown, "citations": [c.to_dict() for c in self.citations],
                "codes": [c.to_dict() for c in self.codes], "intent": self.intent, "confident": self.confident,
                "facts": list(self.facts), "context": dict(self.context)}


@dataclass
class Turn:
    """One earlier exchange: the question and the Answer.context the caller stored."""

    question: str
    context: dict = field(default_factory=dict)
