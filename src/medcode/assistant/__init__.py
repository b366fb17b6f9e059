"""The assistant: grounded, cited answers to coding questions from the codebook alone (no Django, no model).

`ask(book, "Is I50.2 billable?")` -> Answer(markdown, citations, codes, intent, confident, facts, context).
Every answer is built from book look-ups, the search engine, the edit tables and passage retrieval over
the guideline and policy texts in the book; `guard_text` checks every code-shaped token in any text
(an answer, or a language model's phrasing of `Answer.facts`) against the book.
"""

from .model import Answer, Citation, CodeMention, Turn
from .engine import ask, MAX_QUESTION_CHARS
from .guard import GuardResult, guard_text

__all__ = ["ask", "Answer", "Citation", "CodeMention", "Turn", "guard_text", "GuardResult", "MAX_QUESTION_CHARS"]
