"""From the Index's code to a billable code on the date: the Tabular's children chosen by the note.

The Index often stops at a header (S52.53-, H40.11-, O24.4-): the coder reads on in the Tabular and
picks, level by level, the child whose own words the documentation says (left, moderate stage,
in childbirth, subsequent encounter for closed fracture with routine healing). A child whose words
the note does not say loses to its "unspecified" sibling; "without X" / "not X" children win when X
is not affirmed. Defaults printed in the Tabular's notes ("A fracture not indicated as displaced or
nondisplaced should be coded to displaced") are read from the Book.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from medcode.codebook.codes import ICD10CM

from .text import FUNCTION, canon

_NEG_LEAD = {"without", "not", "no"}
_UNSPEC = {canon("unspecified"), canon("unsp")}
_WEAK = {canon(w) for w in ("encounter", "for", "code", "mellitus", "of", "the", "and", "or", "site", "type", "eye",
                            "ear", "side", "limb", "extremity", "region", "part", "joint", "lower", "upper",
                            "due", "to", "cause", "with", "by", "in")}
_DEFAULT = re.compile(r"not (?:indicated|specified|documented|stated) as (?:either )?(\w+) or (\w+)\s*,?\s*"
                      r"(?:should be |is )?(?:coded|classified|assigned) (?:to|as) (?:the )?(\w+)", re.I)


@dataclass
class Completed:
    code: str
    title: str
    used: set[str] = field(default_factory=set)    # note words that chose a child
    defaulted: list[str] = field(default_factory=list)  # levels chosen for want of words


def _title_features(title: str) -> tuple[frozenset, frozenset]:
    pos, neg = set(), set()
    polarity = "+"
    for raw in re.findall(r"[A-Za-z]+|\d+|,", title.lower()):
        if raw == ",":
            polarity = "+"
            continue
        if raw in _NEG_LEAD:
            polarity = "-"
            continue
        if raw == "with":
            polarity = "+"
            continue
        if raw in FUNCTION:
            continue
        (neg if polarity == "-" else pos).add(canon(raw))
    return frozenset(pos), frozenset(neg)


class Completer:
    """Walks a header down to a billable code. One per book and date; caches what it reads."""

    def __init__(self, book, when):
        self.book = book
        self.when = when
        self._kids: dict[str, list] = {}
        self._defaults: dict[str, set[str]] = {}

    def kids(self, code: str):
        found = self._kids.get(code)
        if found is None:
            found = self._kids[code] = self.book.children(ICD10CM, code, self.when)
        return found

    def defaults(self, code: str, have: set[str]) -> set[str]:
        """Words a Tabular note makes the default for this code's category."""
        cat = code[:3]
        rules = self._defaults.get(cat)
        if rules is None:
            rules = set()
            try:
                notes = self.book.notes(ICD10CM, code, self.when)
            except Exception:
                notes = []
            for n in notes:
                if n.kind != "notes":
                    continue
                for a, b, d in _DEFAULT.findall(n.text):
                    rules.add((canon(a), canon(b), canon(d)))
            self._defaults[cat] = rules
        out = set()
        for a, b, d in rules:
            if a not in have and b not in have:
                out.add(d)
        return out

    def resolve(self, index_code: str):
        """The Book's code for an Index code ("S52.53-" -> S52.53), or None."""
        base = index_code.rstrip("-").rstrip(".")
        found = self.book.find(ICD10CM, base, self.when)
        if found is not None and found.status == "active":
            return found
        return None

    def _score(self, kids, have: set[str], neg: set[str]):
        """Each child's score against the note's words: (score, said, unspecified) per child."""
        feats = [_cached_title_features(k.title) for k in kids]
        common_pos = frozenset.intersection(*[f[0] for f in feats]) if feats else frozenset()
        common_neg = frozenset.intersection(*[f[1] for f in feats]) if feats else frozenset()
        out = []
        for k, (p, n) in zip(kids, feats):
            score = 0.0
            said: set[str] = set()
            unspecified = False
            missing = 0
            for w in p - common_pos:
                if w in _UNSPEC:
                    unspecified = True
                    continue
                if w in _WEAK:
                    continue
                if w in have:
                    score += 1.0
                    said.add(w)
                elif w in neg:
                    score -= 2.0
                    missing += 1
                else:
                    score -= 1.0
                    missing += 1
            for w in n - common_neg:
                if w in have:
                    score -= 2.0
                elif w in neg:
                    score += 1.0
                    said.add(w)
                else:
                    score += 0.3
            out.append((score, said, unspecified, missing))
        return out

    def _pick(self, kids, have: set[str], neg: set[str]):
        scored = self._score(kids, have, neg)
        best = max(range(len(kids)), key=lambda i: (scored[i][0], scored[i][2], -i))
        return kids[best], scored[best]

    def complete(self, index_code: str, pos: set[str], neg: set[str], features: set[str] = frozenset()
                 ) -> Completed | None:
        cur = self.resolve(index_code)
        if cur is None:
            return None
        have = set(pos) | set(features)
        used: set[str] = set()
        defaulted: list[str] = []
        if cur.billable and _UNSPECIFIED_TITLE.search(cur.title) and cur.parent and len(cur.code) > 3:
            # the Index stopped at an unspecified code; the Tabular's siblings may say what the note says
            # ("Otitis media, unspecified ear" -> left ear; "Major depressive disorder, recurrent" -> moderate)
            sibs = self.kids(cur.parent)
            if len(sibs) > 1 and any(k.code == cur.code for k in sibs):
                have_here = have | self.defaults(cur.code, have)
                scored = self._score(sibs, have_here, neg)
                mine = next(i for i, k in enumerate(sibs) if k.code == cur.code)
                best = max(range(len(sibs)), key=lambda i: (scored[i][0], scored[i][2], -i))
                if scored[best][0] >= scored[mine][0] + 1.0 and scored[best][1] - scored[mine][1] and \
                        scored[best][3] <= 1:
                    used |= scored[best][1]
                    cur = sibs[best]
        depth = 0
        while not cur.billable and depth < 6:
            depth += 1
            kids = self.kids(cur.code)
            if not kids:
                return None
            have_here = have | self.defaults(cur.code, have)
            k, (score, said, unspecified, _missing) = self._pick(kids, have_here, neg)
            if not said:
                defaulted.append(k.code)
            used |= said
            cur = k
        if not cur.billable:
            return None
        return Completed(cur.code, cur.title, used, defaulted)


_UNSPECIFIED_TITLE = re.compile(r"(?<!or )\bunspecified\b", re.I)


@lru_cache(maxsize=4096)
def _cached_title_features(title: str):
    return _title_features(title)
