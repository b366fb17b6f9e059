"""Code-shaped tokens in free text, for every system, and the code guard.

Shapes (after upper-casing, in questions; answers are matched as written):
  ICD-10-CM  K21.9, K219, S82.201C (dotted, or 4-7 characters with two digits after the letter);
             a bare 3-character category (E11) counts only when it exists (B12, A1C are words)
  ICD-10-PCS 0RRJ0JZ (7 characters, a digit first, at least one letter); B/C/D/F/G/H/X sections
             when the book has the code
  HCPCS      J1100 (a letter A-V and four digits)
  CPT        29881, 0596T: a number the CMS files list, or any 5-digit number right after
             "CPT"/"code(s)"/"procedure" (so years, zip codes and page numbers are left alone)
  modifier   "modifier 25", "-59" after a code, "modifiers 59 and XU"
  POS        "POS 11", "place of service 11"
  ICD-9-CM   428.0, 530.81, V58.61 only when the text speaks of ICD-9 (or `icd9=True`)
Section references (I.C.4.a.3, B3.1a, § 30.6.6, Chapter I, E) and ordinary numbers are never codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from medcode.codebook.codes import CPT, HCPCS, ICD9CM, ICD10CM, ICD10PCS, MODIFIER, POS, normalize

from .model import CodeMention

FLAG = "[not a valid code]"

_B = r"(?<![A-Za-z0-9.§-])"  # not inside a longer token or a section reference
_E = r"(?![A-Za-z0-9]|\.[A-Za-z0-9])"
_CM_DOTTED = re.compile(_B + r"([A-Za-z][0-9][0-9A-Za-z]\.[0-9A-Za-z]{1,4})" + r"(?![A-Za-z0-9]|\.[0-9A-Za-z])")
_ALNUM = re.compile(_B + r"([A-Za-z0-9]{3,7})" + _E)
_CM_UNDOTTED = re.compile(r"^[A-Z][0-9][0-9A-Z][0-9A-Z]{1,4}$")
_CM_3 = re.compile(r"^[A-Z][0-9][0-9A-Z]$")
_PCS = re.compile(r"^[0-9BCDFGHX][0-9A-HJ-NP-Z]{6}$")
_HCPCS = re.compile(r"^[A-V][0-9]{4}$")
_CPT = re.compile(r"^(?:[0-9]{5}|[0-9]{4}[FTUM])$")
_CPT_CONTEXT = re.compile(r"(?:(?:\bcpt|\bhcpcs|\bcodes?|\bprocedures?)\s*(?:#\s*)?|"
                          r"\b[0-9]{4}[0-9FTU]\s*(?:,|/|&|\band|\bor|\bwith|-|–|\bto|\bvs\.?)\s*)$", re.I)
_ICD9_CONTEXT = re.compile(r"icd[\s-]?9|icd9|gem", re.I)
_ICD9 = re.compile(_B + r"((?:[0-9]{3}|V[0-9]{2}|E[0-9]{3})(?:\.[0-9]{1,2})?)" + _E)
_MODIFIER = re.compile(r"\bmodifiers?\s*((?:[-–]?\s*[A-Za-z0-9]{2}\b(?:\s*(?:,|/|&|\band\b|\bor\b|\bwith\b)\s*)?)+)",
                       re.I)
_MOD_ITEM = re.compile(r"(?<![A-Za-z0-9])([A-Za-z0-9]{2})(?![A-Za-z0-9])")
_CODE_DASH_MOD = re.compile(r"(?<![A-Za-z0-9])([0-9]{5}|[A-V][0-9]{4})[-–]([A-Za-z0-9]{2})(?![A-Za-z0-9])")
# the modifier written before the word ("GY modifier", "the -25 modifier") or after "mod" ("mod GA", "mod-59")
_MOD_BEFORE = re.compile(r"(?<![A-Za-z0-9/])[-–]?([A-Za-z0-9]{2})\s*[-–]?\s*mod(?:ifier)?s?\b", re.I)
_MOD_SHORT = re.compile(r"\bmods?\.?\s*[-–:]?\s*([A-Za-z0-9]{2})(?![A-Za-z0-9])", re.I)
_POS = re.compile(r"\b(?:POS|place\s+of\s+service)(?:\s+code)?\s*[:#]?\s*([0-9]{2})(?![0-9])", re.I)
_MOD_WORDS = {"AN", "OR", "TO", "IN", "ON", "AT", "OF", "IS", "BE", "AS", "BY", "IT", "IF", "NO", "SO", "DO", "UP",
              "WE", "ME", "MY", "US", "GO", "AM", "HE"}


@dataclass(frozen=True)
class Found:
    start: int
    end: int
    text: str  # as written
    system: str
    code: str  # normalised spelling in the book
    exists: bool  # the book has the code at all (any date)
    strong: bool  # unmistakably a code even when it does not exist (a dotted ICD-10-CM code...)


class Resolver:
    """Looks tokens up in the book once per text."""

    def __init__(self, book, when: date | None):
        self.book = book
        self.when = when
        self._cache: dict = {}

    def find(self, system: str, code: str):
        key = (system, code)
        if key not in self._cache:
            try:
                self._cache[key] = self.book.find(system, code, self.when) if system != ICD9CM else (
                    self.book.icd9_title(code))
            except Exception:  # noqa: BLE001 - an odd token is simply not a code
                self._cache[key] = None
        return self._cache[key]

    def mention(self, f: Found) -> CodeMention:
        if f.system == ICD9CM:
            title = self.find(ICD9CM, f.code)
            return CodeMention(ICD9CM, f.code, title is not None, title, "active" if title else "unknown")
        code = self.find(f.system, f.code)
        if code is None:
            return CodeMention(f.system, f.code, False, None, "unknown")
        return CodeMention(f.system, code.code, code.status == "active", code.title or None, code.status)


def _overlaps(spans: list[tuple[int, int]], s: int, e: int) -> bool:
    return any(s < b and a < e for a, b in spans)


def scan(book, text: str, when: date | None = None, *, icd9: bool | None = None, question: bool = False,
         resolver: Resolver | None = None) -> list[Found]:
    """Every code-shaped token in `text`, in order, resolved against the book.

    `question`: the text is a user's question (any case; "k219" is K21.9). Answers are scanned as
    written: upper-case codes only, so words are never read as codes.
    """
    r = resolver or Resolver(book, when)
    text = text or ""
    if icd9 is None:
        icd9 = bool(_ICD9_CONTEXT.search(text))
    out: list[Found] = []
    spans: list[tuple[int, int]] = []

    def add(f: Found):
        out.append(f)
        spans.append((f.start, f.end))

    def cased(tok: str) -> bool:
        return question or tok == tok.upper()

    # modifiers and places of service named as such
    for m in _MODIFIER.finditer(text):
        base = m.start(1)
        for item in _MOD_ITEM.finditer(m.group(1)):
            tok = item.group(1).upper()
            if tok in _MOD_WORDS or (not question and item.group(1) != tok):
                continue
            s, e = base + item.start(1), base + item.end(1)
            known = r.find(MODIFIER, tok)
            add(Found(s, e, item.group(1), MODIFIER, tok, known is not None, True))
    for rx in (_MOD_BEFORE, _MOD_SHORT):
        for m in rx.finditer(text):
            raw = m.group(1)
            tok = raw.upper()
            if _overlaps(spans, m.start(1), m.end(1)) or tok in _MOD_WORDS or not cased(raw):
                continue
            known = r.find(MODIFIER, tok)
            if known is None and not (question and tok.isdigit()):
                continue  # "an modifier" is no modifier; an unknown two-digit one asked about is
            add(Found(m.start(1), m.end(1), raw, MODIFIER, tok, known is not None, True))
    for m in _CODE_DASH_MOD.finditer(text):
        tok = m.group(2).upper()
        if not _overlaps(spans, m.start(2), m.end(2)) and tok not in _MOD_WORDS and cased(m.group(2)):
            known = r.find(MODIFIER, tok)
            add(Found(m.start(2), m.end(2), m.group(2), MODIFIER, tok, known is not None, known is not None))
    for m in _POS.finditer(text):
        tok = m.group(1)
        known = r.find(POS, tok)
        add(Found(m.start(1), m.end(1), tok, POS, tok, known is not None, True))
    # dotted ICD-10-CM
    for m in _CM_DOTTED.finditer(text):
        tok = m.group(1)
        if not cased(tok) or _overlaps(spans, m.start(1), m.end(1)):
            continue
        code = normalize(tok, ICD10CM)
        if icd9 and re.match(r"^[VE][0-9]", code):  # V58.61 / E880.9 in an ICD-9 context
            if r.find(ICD9CM, code) is not None and r.find(ICD10CM, code) is None:
                add(Found(m.start(1), m.end(1), tok, ICD9CM, normalize(tok, ICD9CM), True, True))
                continue
        known = r.find(ICD10CM, code)
        add(Found(m.start(1), m.end(1), tok, ICD10CM, code, known is not None, True))
    # ICD-9-CM numbers
    if icd9:
        for m in _ICD9.finditer(text):
            if _overlaps(spans, m.start(1), m.end(1)):
                continue
            tok = m.group(1)
            if "." not in tok and len(tok) == 3 and not re.search(r"icd[\s-]?9[^.?!]{0,40}$", text[:m.start(1)], re.I):
                # a bare 3-digit number counts only right after "ICD-9 (code)"
                continue
            code = normalize(tok, ICD9CM)
            known = r.find(ICD9CM, code)
            add(Found(m.start(1), m.end(1), tok, ICD9CM, code, known is not None, "." in tok))
    # the other alphanumeric shapes
    for m in _ALNUM.finditer(text):
        s, e = m.start(1), m.end(1)
        if _overlaps(spans, s, e):
            continue
        raw = m.group(1)
        if not cased(raw):
            continue
        tok = raw.upper()
        if not any(ch.isdigit() for ch in tok):
            continue
        found = _classify(r, tok, text[:s], icd9, question)
        if found:
            system, code, exists, strong = found
            add(Found(s, e, raw, system, code, exists, strong))
    out.sort(key=lambda f: f.start)
    return out


def _classify(r: Resolver, tok: str, before: str, icd9: bool, question: bool):
    """(system, code, exists, strong) for an undotted alphanumeric token, or None when it is no code."""
    n = len(tok)
    if _CPT.match(tok):
        if icd9 and tok.isdigit() and r.find(ICD9CM, normalize(tok, ICD9CM)) is not None:
            return ICD9CM, normalize(tok, ICD9CM), True, True
        known = r.find(CPT, tok)
        if known is not None or r.find(HCPCS, tok) is not None:
            return (CPT if known is not None else HCPCS), tok, True, True
        if not tok.isdigit() or _CPT_CONTEXT.search(before[-30:]):
            return CPT, tok, False, True
        return None
    if _HCPCS.match(tok):
        if r.find(HCPCS, tok) is not None:
            return HCPCS, tok, True, True
        cm = normalize(tok, ICD10CM)
        if r.find(ICD10CM, cm) is not None:
            return ICD10CM, cm, True, True
        return HCPCS, tok, False, True
    if n == 7 and tok[0].isdigit() and _PCS.match(tok):
        if any(ch.isalpha() for ch in tok):
            return ICD10PCS, tok, r.find(ICD10PCS, tok) is not None, True
        return None
    if tok[0].isalpha() and _CM_UNDOTTED.match(tok):
        cm = normalize(tok, ICD10CM)
        if r.find(ICD10CM, cm) is not None:
            return ICD10CM, cm, True, True
        if n == 7 and _PCS.match(tok) and r.find(ICD10PCS, tok) is not None:
            return ICD10PCS, tok, True, True
        strong = tok[1:3].isdigit()
        return (ICD10CM, cm, False, True) if strong else None
    if n == 3 and _CM_3.match(tok):
        if r.find(ICD10CM, tok) is not None:
            return ICD10CM, tok, True, True
        return None
    return None


@dataclass
class _Guarded:
    text: str
    codes: list[CodeMention]
    flagged: list[str]


def mentions(book, text: str, when: date | None = None, **kw) -> list[CodeMention]:
    """The distinct codes a text mentions, with validity on the date (first mention first)."""
    r = Resolver(book, when)
    out: dict[tuple[str, str], CodeMention] = {}
    for f in scan(book, text, when, resolver=r, **kw):
        key = (f.system, f.code)
        if key not in out:
            out[key] = r.mention(f)
    return list(out.values())


DROPPED = "[a code that is not in the code set]"


def guard(book, text: str | None, when: date | None = None, *, icd9: bool | None = None,
          drop_except: set[str] | None = None):
    """Flag every code-shaped token that is not a valid code on the date: "K21.99 [not a valid code]".

    A code the book holds but not on that date is flagged "[not valid on the date]" instead. With
    `drop_except` (the codes a question names), a code that does not exist at all is removed rather than
    flagged unless it is one of those: an answer never repeats a nonexistent code nobody asked about (a
    tabular note that names one, for example).
    """
    from .guard import GuardResult

    text = text or ""
    r = Resolver(book, when)
    found = scan(book, text, when, icd9=icd9, resolver=r)
    codes: dict[tuple[str, str], CodeMention] = {}
    flagged: list[str] = []
    pieces: list[str] = []
    pos = 0
    for f in found:
        mention = r.mention(f)
        codes.setdefault((mention.system, mention.code), mention)
        if mention.valid:
            continue
        if not f.exists and not f.strong:
            continue
        after = text[f.end:f.end + len(FLAG) + 2]
        if "[not " in after:  # already flagged
            continue
        if drop_except is not None and mention.status == "unknown" and f.code not in drop_except and \
                f.text.upper() not in drop_except:
            pieces.append(text[pos:f.start])
            pieces.append(DROPPED)
            pos = f.end
            codes.pop((mention.system, mention.code), None)
            continue
        pieces.append(text[pos:f.end])
        pieces.append(" " + (FLAG if mention.status == "unknown" else "[not valid on the date]"))
        pos = f.end
        if f.text not in flagged:
            flagged.append(f.text)
    pieces.append(text[pos:])
    return GuardResult(text="".join(pieces), codes=list(codes.values()), flagged=flagged)
