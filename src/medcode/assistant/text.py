"""Question text: cleaning, the date it speaks of, words, and picking the sentences that answer."""

from __future__ import annotations

import html
import re
from datetime import date

from medcode.search.text import stem

_TAG = re.compile(r"<[^>]{0,200}>")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_FY = re.compile(r"\b(?:FY|fiscal\s+year)\s*'?(\d{4}|\d{2})\b", re.I)


def clean(question) -> str:
    """Plain one-line text: markup tags and control characters removed, entities decoded, spaces folded.

    The question is only ever read as words (never executed or rendered), so a script in it is inert;
    the caller escapes it wherever it is shown.
    """
    text = str(question or "")
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    text = _CONTROL.sub(" ", text)
    return " ".join(text.split())


def date_asked(question: str, today: date | None = None) -> date | None:
    """The date of service a question names by fiscal year ("in FY2026"): the last day of that year
    that is not in the future, else its first day."""
    m = _FY.search(question or "")
    if not m:
        return None
    year = int(m.group(1))
    year += 2000 if year < 100 else 0
    if not 2015 <= year <= 2100:
        return None
    start, end = date(year - 1, 10, 1), date(year, 9, 30)
    today = today or date.today()
    return end if end <= today else (today if start <= today else start)


STOP = frozenset("""a about an and any are as at be been by can could do does did for from has have how i if in
into is it its me my of on or our should so such than that the their them then there these this those to under
up was we were what when where which who whom why will with would you your shall may must please tell explain say
code codes coded coding icd icd10 icd10cm icd10pcs cm pcs cpt hcpcs fy fy2026 fy2027 2026 2027 2025 mean means
meaning describe describes described complete full correct right proper appropriate use used using report reported
reporting assign assigned assignment number value list""".split())
# words that carry meaning for a code title even though they are common
KEEP = frozenset({"right", "left", "without", "with", "unspecified", "other", "initial", "subsequent", "sequela",
                  "bilateral", "open", "closed", "acute", "chronic", "not", "no"})

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    return _WORD.findall((text or "").lower().replace("'s", "").replace("’s", ""))


def content_stems(text: str, keep: frozenset = KEEP) -> list[str]:
    out = []
    for w in words(text):
        if (w in STOP and w not in keep) or len(w) < 2:
            continue
        s = stem(w)
        if s not in out:
            out.append(s)
    return out


_SENTENCE = re.compile(r"(?<=[.!?;])[\"”’)]?\s+(?=[A-Z(“\"•0-9]|[a-z][.)]\s?[A-Z])")
_ABBREV = re.compile(r"\b(?:e\.g|i\.e|etc|vs|No|Dr|Pub|Sec|Ch|U\.S|al|approx|Rev)\.$")


def sentences(text: str) -> list[str]:
    """Sentences of a passage (bullets and numbered items are sentences too)."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text or ""):
        para = " ".join(para.split())
        if not para:
            continue
        buf = ""
        for piece in _SENTENCE.split(para):
            buf = f"{buf} {piece}".strip() if buf else piece
            if _ABBREV.search(buf) or len(buf) < 25:
                continue
            out.append(buf)
            buf = ""
        if buf:
            if out and len(buf) < 25:
                out[-1] = f"{out[-1]} {buf}"
            else:
                out.append(buf)
    return out


def best_sentences(text: str, query_stems: list[str], n: int = 2, max_chars: int = 600) -> list[str]:
    """The sentences that share the most (rarest-first) words with the question, in text order.

    A sentence scores by the question words it contains; a following sentence that continues the
    best one ("However, ...", "This ...") is kept with it."""
    sents = sentences(text)
    if not sents:
        return []
    qs = set(query_stems)
    scored = []
    for i, s in enumerate(sents):
        ss = {stem(w) for w in words(s)}
        hit = len(qs & ss)
        scored.append((hit - 0.002 * len(s) - (0.5 if "CPT descriptor omitted" in s else 0), i))
    scored.sort(reverse=True)
    picked: list[int] = []
    for score, i in scored:
        if len(picked) >= n:
            break
        if score <= 0 and picked:
            break
        picked.append(i)
    return clip_sentences(sents, sorted(picked), max_chars, max_chars * n)


def clip_sentences(sents: list[str], picked: list[int], max_chars: int, budget: int) -> list[str]:
    """The picked sentences in order, each cut at a word to max_chars, until the budget is spent."""
    out, total = [], 0
    for i in picked:
        s = sents[i]
        if len(s) > max_chars:
            s = s[:max_chars].rsplit(" ", 1)[0] + " …"
        if total + len(s) > budget:
            break
        out.append(s)
        total += len(s)
    return out


def overlap(query_stems: list[str], text: str) -> tuple[int, int]:
    """(question words found in the text, text words not in the question)."""
    ts = {stem(w) for w in words(text) if w not in STOP or w in KEEP}
    qs = set(query_stems)
    return len(qs & ts), len(ts - qs)


def _tokens(text: str) -> list[str]:
    return [stem(w) for w in words(text) if (w not in STOP or w in KEEP) and len(w) > 1]


def phrase_score(question: str, title: str) -> float:
    """Words and word pairs of the question that a title repeats, less a little for each extra word:
    "with perforation" tells K35.201 from "without perforation" (K35.200) where single words cannot."""
    q, t = _tokens(question), _tokens(title)
    qs, ts = set(q), set(t)
    pairs_q = set(zip(q, q[1:]))
    pairs_t = set(zip(t, t[1:]))
    return len(qs & ts) + len(pairs_q & pairs_t) - 0.1 * len(ts - qs)
