"""Who and what a word is about: negated, uncertain, past, a relative's, hypothetical.

NegEx-style: a cue ("denies", "rule out", "history of", "mother") reaches forward (or, for a
trailing cue such as "negative" or "resolved", back) over the words of its clause until a word that
ends its reach ("but", "presents", another cue), the clause's end, or a comma that does not
continue a list. Each token gets the states of the cues that reach it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import lexicon
from .text import Note

NEG, UNC, HIST, FAM, HYP, ALLERGY = "negated", "uncertain", "history", "family", "hypothetical", "allergy"
VACCINE = "vaccine"
MAX_REACH = 12


def _cues(words: list[str]) -> dict[str, list[tuple[str, ...]]]:
    """Cues by their first word, longest first."""
    out: dict[str, list[tuple[str, ...]]] = {}
    for cue in sorted({tuple(w.split()) for w in words}, key=len, reverse=True):
        out.setdefault(cue[0], []).append(cue)
    return out


_PRE = [(NEG, _cues(lexicon.NEGATION_PRE)), (UNC, _cues(lexicon.UNCERTAIN_PRE)),
        (HIST, _cues(lexicon.HISTORY_PRE)), (FAM, _cues(lexicon.FAMILY_PRE)), (HYP, _cues(lexicon.HYPOTHETICAL_PRE)),
        (ALLERGY, _cues(["allergic to", "allergy to", "allergies to", "allergies", "allergic reaction to",
                         "intolerance to", "intolerant of"]))]
_POST = [(NEG, _cues(lexicon.NEGATION_POST)), (UNC, _cues(lexicon.UNCERTAIN_POST)),
         (HIST, _cues(lexicon.HISTORY_POST)), (VACCINE, _cues(lexicon.VACCINE_POST))]
_PSEUDO = _cues(lexicon.PSEUDO_NEGATION)
_SECTION_STATE = {"family": FAM, "allergies": ALLERGY}
_REPORTING = {"reports", "reported", "states", "stated", "says", "said", "notes", "noted", "brought", "brings",
              "accompanies", "accompanied", "present", "at", "is", "was", "concerned", "asks", "requests", "per"}


@dataclass
class Context:
    """Per-token states and the cue tokens (cues are words about words, never concepts)."""

    states: list[set[str]]
    cue_tokens: set[int] = field(default_factory=set)
    cues: list[tuple[str, int, int]] = field(default_factory=list)  # (state, first token, last token + 1)

    def of(self, i: int) -> set[str]:
        return self.states[i]


def _match(lows: list[str], at: int, cue: tuple[str, ...]) -> bool:
    return tuple(lows[at:at + len(cue)]) == cue


_RESOLVED = {("resolved",), ("has", "resolved"), ("now", "resolved"), ("since", "resolved")}


def annotate(note: Note, setting: str = "outpatient") -> Context:
    """Per-token states. In an inpatient record "resolved" is this stay's course (coded), not history."""
    toks = note.tokens
    states: list[set[str]] = [set() for _ in toks]
    ctx = Context(states)
    lows = [t.low for t in toks]
    from .text import _section_kind
    for a, b, label in _header_tokens(note):
        words = " ".join(t.text for t in toks[a:b])
        if _section_kind(words) is not None:
            ctx.cue_tokens.update(range(a, b))
    for t in toks:
        st = _SECTION_STATE.get(t.section)
        if st:
            states[t.i].add(st)
        if t.section == "history":
            states[t.i].add("pmh")
    for c, (a, b) in enumerate(note.clauses):
        i = a
        while i < b:
            pseudo = next((p for p in _PSEUDO.get(lows[i], ()) if _match(lows, i, p)), None)
            found = None
            for state, cues in _PRE:
                for cue in cues.get(lows[i], ()):
                    if _match(lows, i, cue) and i + len(cue) <= b:
                        if found is None or len(cue) > len(found[1]):
                            found = (state, cue)
                        break
            if pseudo and (found is None or len(pseudo) >= len(found[1])):
                # "no change", "not only", "could not": a negation word that negates nothing here
                ctx.cue_tokens.update(range(i, i + len(pseudo)))
                i += len(pseudo)
                continue
            if found is None and toks[i].low in lexicon.RELATIVES and not _reporting(lows, i, b):
                found = (FAM, (toks[i].low,))
            if found and setting == "inpatient" and found[0] == HIST and found[1] in _RESOLVED:
                found = None
            if found:
                state, cue = found
                end = i + len(cue)
                ctx.cue_tokens.update(range(i, end))
                reach = _forward(note, lows, end, b, state)
                for j in range(end, reach):
                    states[j].add(state)
                ctx.cues.append((state, i, reach))
                i = end
                continue
            i += 1
        # trailing cues: "CT head negative", "Pneumonia resolved"
        for i in range(a, b):
            for state, cues in _POST:
                cue = next((cu for cu in cues.get(lows[i], ()) if _match(lows, i, cu)), None)
                if cue is None or (setting == "inpatient" and state == HIST and cue in _RESOLVED):
                    continue
                after = i + len(cue)
                nxt = toks[after] if after < b else None
                if state == NEG and cue in (("normal",), ("clear",), ("negative",)) and nxt is not None \
                        and nxt.kind != "punct":
                    continue
                if cue == ("?",) and (i == a or toks[i - 1].kind == "punct"):
                    continue
                start = _backward(note, lows, i, a, limit=2 if state == VACCINE else 5)
                if start == i:
                    continue
                ctx.cue_tokens.update(range(i, after))
                for j in range(start, i):
                    states[j].add(state)
                ctx.cues.append((state, start, after))
        # "X versus Y": both sides uncertain
        for i in range(a, b):
            if lows[i] not in ("versus", "vs"):
                continue
            for j in range(_backward(note, lows, i, a, limit=6), min(b, i + 7)):
                if toks[j].kind == "punct" and toks[j].text in ",;.":
                    if j > i:
                        break
                    continue
                states[j].add(UNC)
    return ctx


def _header_tokens(note: Note) -> list[tuple[int, int, str]]:
    """The words of a header before its colon ("Final diagnosis:", "ED:") are labels, not concepts."""
    out = []
    toks = note.tokens
    for t in toks:
        if t.kind == "punct" and t.text == ":":
            nxt = toks[t.i + 1] if t.i + 1 < len(toks) else None
            if nxt is not None and nxt.kind == "num" and nxt.start == t.end:
                continue
            j = t.i
            while j > 0 and toks[j - 1].clause == t.clause and toks[j - 1].kind != "punct" and t.i - j < 5:
                j -= 1
            if j > 0 and toks[j - 1].clause == t.clause and toks[j - 1].text not in ".;\n":
                if t.i - j > 3:
                    continue
            out.append((j, t.i, ""))
    return out


def _reporting(lows: list[str], i: int, b: int) -> bool:
    """'mother reports', 'per mother', 'accompanied by his father': the relative is not the subject."""
    nxt = lows[i + 1:i + 3]
    prev = lows[max(0, i - 2):i]
    return bool(_REPORTING & set(nxt)) or "per" in prev or "by" in prev


def _forward(note: Note, lows: list[str], start: int, end: int, state: str) -> int:
    toks = note.tokens
    j = start
    content = 0
    while j < end and j - start < MAX_REACH:
        t = toks[j]
        if t.low in lexicon.SCOPE_END and j > start:
            break
        if state == NEG and t.low in ("in", "at", "on", "within", "involving") and j > start:
            break
        if t.kind == "punct" and t.text in "()[]" and state != ALLERGY:
            if t.text in ")]":
                break
        if t.kind == "punct" and t.text == ",":
            if state in (ALLERGY, FAM):
                j += 1
                continue
            if not _list_goes_on(note, lows, j + 1, end):
                break
        if t.kind == "punct" and t.text in ".;:":
            break
        if t.kind != "punct":
            content += 1
        j += 1
    return j


def _list_goes_on(note: Note, lows: list[str], j: int, end: int) -> bool:
    """After a comma: is the next piece another item of the same list ('fever, chills, or cough')?"""
    toks = note.tokens
    k = j
    words = 0
    while k < end and not (toks[k].kind == "punct" and toks[k].text in ",;.:"):
        if toks[k].kind == "num" or toks[k].low in lexicon.SCOPE_END:
            return False
        if toks[k].kind != "punct":
            words += 1
        k += 1
    if words == 0 or words > 4:
        return False
    # a new cue starts the piece: that cue governs it
    first = lows[j] if j < end else ""
    if first in lexicon.LIST_BREAKERS:
        return False
    return first not in {"no", "not", "denies", "without", "with", "and"} or first in {"and", "or"}


def _backward(note: Note, lows: list[str], i: int, start: int, limit: int = 5) -> int:
    toks = note.tokens
    j = i
    while j > start and i - j < limit:
        t = toks[j - 1]
        if t.kind == "punct" and t.text in ",;.:()":
            break
        if t.low in lexicon.SCOPE_END or t.low in ("is", "was", "were", "are"):
            if t.low in ("is", "was", "were", "are"):
                j -= 1
                continue
            break
        j -= 1
    return j
