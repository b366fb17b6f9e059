"""Case to code: a clinical note in, the ICD-10-CM codes a coder would assign out, each with the words
of the note that justify it and the convention or guideline used. Pure Python over the Book."""

from .engine import check_setting, check_text, code_note
from .model import MAX_CHARS, SETTINGS, Case2CodeError, Result, Span, Suggestion

__all__ = ["code_note", "check_text", "check_setting", "Case2CodeError", "Result", "Suggestion", "Span",
           "SETTINGS", "MAX_CHARS"]
