"""The Alphabetic Index in memory, walked the way a coder reads it.

A coder finds the main term (the condition: "fracture", "diabetes"), then goes down the subterms
the documentation supports (type, site, "with" complications), follows "see" references, and takes
the code at the deepest term reached. `Tree.walk` does that against a *pool* of words from the
note: a subterm is taken when all of its words are in the pool (a "without"/"no"/"not" subterm
when its words are negated there); connector subterms ("with", "due to", "in") are passed through.
Under a "with" the pool may also hold the words of the note's other conditions: the Index's "with"
presumes the link (Guidelines I.A.15).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from .text import FUNCTION, canon, words_of

CONNECTORS = {"with", "in", "due to", "and", "by", "from", "following", "of", "as", "complicating", "on",
              "due to or associated with", "with or due to", "in or due to",
              "complicated by", "associated with", "affecting", "during", "involving", "secondary to",
              "resulting from", "caused by", "to"}
WITH_CONNECTORS = {"with", "in", "complicating", "complicated by", "associated with", "involving",
                   "due to or associated with", "with or due to", "in or due to"}
# a cause the note must state ("due to", "secondary to"): not presumed like "with"
CAUSAL_CONNECTORS = {"due to", "secondary to", "resulting from", "caused by", "following", "from"}
CAUSAL_WORDS = {canon(w) for w in ("due", "secondary", "caused", "causing", "induced", "from", "following",
                                   "related", "after", "because", "post", "postoperative", "postprocedural",
                                   "postsurgical")}
# words a subterm may leave unsaid in a note ("kidney involvement" = a kidney condition)
FILLERS = {canon(w) for w in ("involvement", "region", "part", "area", "bone", "bones", "mention", "condition", "state",
                              "current", "acquired", "use", "status", "encounter", "of", "type", "mellitus",
                              "organism", "organisms")} - {canon("type")}
GENERIC_HEADS = {canon(w) for w in ("disease", "disorder", "condition", "complication", "involvement",
                                    "problem", "abnormality")}
NEVER = {canon(w) for w in ("specified", "other", "unspecified", "nec", "nos", "except")}
GENERIC_WORDS = {canon(w) for w in ("left", "right", "bilateral", "acute", "chronic", "open", "closed", "with",
                                    "type", "stage", "initial", "subsequent", "sequela", "unilateral", "severe",
                                    "mild", "moderate", "single", "multiple", "recurrent", "primary",
                                    "secondary", "simple", "complete", "partial", "upper", "lower", "total")}
_ENDS = {canon(w) for w in ("distal", "proximal", "lower", "upper")}
_RANGE = re.compile(r"(\d+)\s+through\s+(?:stage\s+)?(\d+)")
_NEGATIVE_LEAD = ("without", "no", "not")


@dataclass(slots=True)
class Node:
    id: int
    parent: int | None
    level: int
    term: str
    path: str
    code: str | None
    see: str | None
    see_also: str | None
    nonessential: str | None
    req: tuple[str, ...] = ()
    alts: tuple = ()            # other spellings of a subterm ("respiration, respiratory")
    opt: frozenset = frozenset()
    neg: bool = False
    default: bool = False       # "not specified as recurrent": taken unless its words are affirmed
    connector: bool = False
    with_context: bool = False
    rng: tuple[int, int] | None = None
    children: list[int] = field(default_factory=list)
    manif: list[str] = field(default_factory=list)
    cells: dict[str, str] = field(default_factory=dict)  # Drug/Neoplasm table column -> code
    only: tuple = ()            # "(conditions in I50.- or I51.4-I51.7 ...)": the codes another condition must have


@dataclass
class Pool:
    """The words a walk may use: stem -> token positions, for affirmed and for negated words.
    `shared` holds other conditions' words, usable under a "with" (partner id per position)."""

    pos: dict[str, list[int]] = field(default_factory=dict)
    neg: dict[str, list[int]] = field(default_factory=dict)
    shared: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    nums: list[tuple[float, int]] = field(default_factory=list)
    anchor: int = 0
    skip_cost: float = 0.8
    opt_used: set = field(default_factory=set)
    owner: int | None = None  # the main term walking: its own other mentions are not "another condition"  # nonessential words the walks touched (evidence only)

    def add(self, stem: str, i: int, negated: bool = False) -> None:
        (self.neg if negated else self.pos).setdefault(stem, []).append(i)
        if not negated and stem[:1].isdigit():
            try:
                self.nums.append((float(re.match(r"\d+(?:\.\d+)?", stem).group(0)), i))
            except (AttributeError, ValueError):
                pass

    def nearest(self, positions: list[int]) -> int:
        return min(positions, key=lambda p: abs(p - self.anchor))


@dataclass
class Walk:
    score: float
    nodes: list[int]
    used: set[int]          # token positions the path consumed
    partners: set[int]      # partner mentions the path took words from
    code: str | None
    see_jumps: int = 0
    alts: list = field(default_factory=list)  # sibling subterms the pool says just as well ("both ... and ...")
    neoplasm: bool = False                     # the code is a Table of Neoplasms cell
    via: frozenset = frozenset()               # main terms a "see" led into


def _forms(text: str) -> list[list[str]]:
    text = re.sub(r"\([^)]*\)", " ", text or "")
    out = []
    for part in text.split(","):
        w = [x for x in words_of(part)]
        if w:
            out.append(w)
    return out


def _variant(a: str, b: str) -> bool:
    """'diabetes'/'diabetic', 'burn'/'burned', 'femur'/'femoral': one word, two forms."""
    n = 3 if min(len(a), len(b)) >= 3 else min(len(a), len(b))
    return a[:n] == b[:n]


_CODE = r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?"
_CODE_RANGE = re.compile(rf"({_CODE})(?:\s*-\s*({_CODE})|\.?-)?", re.I)


def _code_ranges(text: str) -> list[tuple[str, str]]:
    out = []
    for m in _CODE_RANGE.finditer(text):
        lo = m.group(1).upper().replace(".", "")
        hi = (m.group(2) or m.group(1)).upper().replace(".", "")
        out.append((lo, hi))
    return out


def in_ranges(code: str | None, ranges) -> bool:
    if not code:
        return False
    c = code.replace(".", "").rstrip("-").upper()
    return any(c[:len(lo)] >= lo and c[:len(hi)] <= hi for lo, hi in ranges)


class Tree:
    """One Index table (index, drug, neoplasm) in memory."""

    def __init__(self, db, source: str = "index"):
        self.source = source
        self.nodes: dict[int, Node] = {}
        self.mains: list[int] = []
        self.anchors: dict[str, list[tuple[tuple[str, ...], int, frozenset]]] = {}
        self._by_word: dict[int, dict[str, list[int]]] = {}
        self._default_kids: dict[int, list[int]] = {}
        rows = db.execute("SELECT id, parent_id, level, term, path, code, see, see_also, nonessential, column_name "
                          "FROM index_terms WHERE source=? ORDER BY id", (source,)).fetchall()
        for rid, parent, level, term, path, code, see, see_also, nonessential, column in rows:
            if column is not None:
                owner = self.nodes.get(parent)
                if owner is None or not code:
                    continue
                if column == "manifestation":
                    owner.manif.append(code)
                else:
                    owner.cells[column] = code
                continue
            node = Node(rid, parent, level, term, path, code, see, see_also, nonessential)
            self._prepare(node)
            self.nodes[rid] = node
            if parent is None:
                self.mains.append(rid)
            else:
                p = self.nodes.get(parent)
                if p is not None:
                    p.children.append(rid)
                    node.with_context = node.with_context or (p.connector and p.term.lower() in WITH_CONNECTORS)
        for rid in self.mains:
            self._anchor(self.nodes[rid])

    # --- building -----------------------------------------------------------------------------
    def _prepare(self, node: Node) -> None:
        low = " ".join(node.term.lower().split())
        node.connector = low in CONNECTORS
        lead = low.split(" ", 1)[0] if low else ""
        if node.parent is not None and not node.connector:
            if low.startswith(("not specified as ", "without mention of ", "not stated as ")):
                # the default subterm: taken unless the note says the opposite ("recurrent")
                node.default = True
                low = low.split(" ", 3)[-1] if low.startswith(("without mention of ", "not specified as ",
                                                                 "not stated as ")) else low
            elif lead in _NEGATIVE_LEAD:
                node.neg = True
                low = low.split(" ", 1)[1] if " " in low else ""
                if low.startswith("mention of "):
                    low = low[len("mention of "):]
            elif lead in ("with", "in") or low.startswith("due to "):
                node.with_context = lead in ("with", "in")
                if lead in ("with", "in"):
                    low = low.split(" ", 1)[1] if " " in low else ""
        m = _RANGE.search(low)
        if m:
            node.rng = (int(m.group(1)), int(m.group(2)))
            low = _RANGE.sub(" ", low)
        forms = _forms(low) if node.parent is not None else _forms(node.term)
        first = forms[0] if forms else []
        if node.parent is None:
            req = first
        else:
            # "myocardium, myocardial" are two spellings; "ischemic, perinatal arterial" is one term
            variants = all(len(f) == 1 and len(forms[0]) == 1 and _variant(f[0], forms[0][0]) for f in forms[1:])
            req = [w for f in (forms[:1] if variants else forms) for w in f]
        req = [w for w in req if w not in FUNCTION and w not in ("with", "nec", "nos")]
        trimmed = [w for w in req if w not in FILLERS]
        if trimmed:
            req = trimmed
        if "end" in req and set(req) & _ENDS:  # "distal end": the note says "distal radius"
            req = [w for w in req if w != "end"]
        ne = (node.nonessential or "").lower().strip()
        if (low == "and" or low.endswith(" and")) and ne.startswith("(on)"):
            # the Index prints "acute and (on) chronic"; its flattened copy keeps "acute and" + "(on)", or
            # "and" + "(on) chronic (congestive)" under "acute"
            rest = words_of(re.sub(r"\([^)]*\)", " ", ne))
            node.connector = False
            req = req + (rest or [canon("chronic")])
        alts = []
        if node.parent is not None and not node.connector and " or " in low and node.rng is None:
            # "atrial or auricular", "stage 5 chronic kidney disease or end stage renal disease"
            parts = [p for p in (words_of(x) for x in re.sub(r"\([^)]*\)", " ", low).split(" or ")) if p]
            parts = [[w for w in p if w not in FUNCTION and w not in ("with", "nec", "nos")] for p in parts]
            parts = [p for p in parts if p]
            if len(parts) > 1 and not node.neg:
                req = parts[0]
                alts.extend(tuple(dict.fromkeys(p)) for p in parts[1:])
        ne_rest = re.sub(r"\([^)]*\)", " ", node.nonessential or "").strip().lower()
        if node.parent is not None and not node.connector and ne_rest.startswith("or ") and not node.neg:
            # "stage 5 chronic kidney disease" + "(CKD) or end stage renal disease (ESRD)"
            other = [w for w in words_of(ne_rest[3:]) if w not in FUNCTION and w not in ("with", "nec", "nos")]
            if other:
                alts.append(tuple(dict.fromkeys(other)))
        node.req = () if node.connector else tuple(dict.fromkeys(req))
        if node.parent is not None and len(node.req) == 1:
            for f in forms[1:]:
                f = [w for w in f if w not in FUNCTION]
                if len(f) == 1 and _variant(f[0], node.req[0]) and f[0] != node.req[0]:
                    alts.append((f[0],))
        node.alts = tuple(alts)
        if "conditions in" in ne:
            node.only = tuple(_code_ranges(ne.split("conditions in", 1)[1]))
        opt = set(words_of(node.nonessential or "")) | {w for f in forms[1:] for w in f}
        node.opt = frozenset(opt - set(node.req) - NEVER)

    def _anchor(self, node: Node) -> None:
        if (node.nonessential or "").strip() == "(o)":
            return  # a word split by the flattened Index ("Cancer(o)phobia")
        forms = _forms(node.term)
        if not forms:
            return
        first = tuple(w for w in forms[0] if w not in FUNCTION)
        if not first:
            return
        quals = set()
        anchors = [first]
        for f in forms[1:]:
            f = tuple(w for w in f if w not in FUNCTION)
            if len(f) == 1 and len(first) == 1 and _variant(f[0], first[0]):
                anchors.append(f)
            else:
                quals.update(f)
        acronym = re.fullmatch(r"[A-Z0-9-]{2,6}", node.term.split(",")[0].strip()) is not None
        if acronym:
            quals = set(quals) | {"\u2191"}  # written in capitals in the note (AIDS, not "hearing aids")
        for a in anchors:
            self.anchors.setdefault(a[0], []).append((a, node.id, frozenset(quals)))

    def children_by_word(self, nid: int) -> dict[str, list[int]]:
        found = self._by_word.get(nid)
        if found is None:
            found = {}
            for cid in self.nodes[nid].children:
                c = self.nodes[cid]
                keys = (c.req[:1] if c.req else ("",)) + tuple(a[0] for a in c.alts)
                for k in keys:
                    found.setdefault(k, []).append(cid)
            self._by_word[nid] = found
        return found

    # --- walking ------------------------------------------------------------------------------
    def walk(self, start: int, pool: Pool, skips: int = 1, jumps: int = 3, engaged: frozenset = frozenset(),
             spent: frozenset = frozenset(), blocked: frozenset = frozenset()) -> Walk:
        """The best way down from `start` (a main term or any term) that the pool supports. Words in
        `spent` (the main term's own) count little when a subterm says them again. A "see" into a main
        term in `blocked` is not followed (that condition has its own mention, which links them)."""
        return self._best(start, pool, skips, jumps, engaged, {"blocked": blocked}, self.nodes[start].with_context,
                          spent, frozenset({start}))

    def follow_main(self, node: Node, pool: Pool, blocked: frozenset = frozenset()) -> Walk | None:
        """A main term that only says "see ..." ("Colles' fracture" is an entry; "Follow-up" is not)."""
        return self._follow_see(node, pool, 0, 2, frozenset(), frozenset(node.req), frozenset({node.id}),
                                {"blocked": blocked})

    def _best(self, nid, pool, skips, jumps, engaged, memo, in_with, spent, trail) -> Walk:
        key = (nid, skips, jumps, engaged, in_with, spent, trail)
        if key in memo:
            return memo[key]
        memo[key] = Walk(0.0, [], set(), set(), None)  # cycle guard
        node = self.nodes[nid]
        best = Walk(0.0, [], set(), set(), node.code)
        by_word = self.children_by_word(nid)
        cands: set[int] = set(by_word.get("", ())) | set(self._defaults_of(nid))
        for table in (pool.pos, pool.neg, pool.shared):
            if not table:
                continue
            if len(table) < len(by_word):
                for stem in table:
                    found = by_word.get(stem)
                    if found:
                        cands.update(found)
            else:
                for stem, found in by_word.items():
                    if stem in table:
                        cands.update(found)
        for cid in sorted(cands):
            child = self.nodes[cid]
            child_with = in_with or child.with_context or (node.connector and node.term.lower() in WITH_CONNECTORS) \
                or (child.connector and child.term.lower() in WITH_CONNECTORS)
            if child.connector and child.term.lower() in CAUSAL_CONNECTORS and not (CAUSAL_WORDS & pool.pos.keys()):
                continue
            got = self._match(child, pool, engaged, child_with, spent)
            if got is None:
                continue
            score, used, partners = got
            child_spent = spent | frozenset(child.req)
            sub = self._best(cid, pool, skips, jumps, engaged | frozenset(partners), memo,
                             child_with if child.connector else False, child_spent, trail)
            total = score + sub.score
            code = sub.code if sub.nodes else child.code
            if code is None and child.see and jumps > 0 and not sub.nodes:
                follow = self._follow_see(child, pool, skips, jumps - 1, engaged | frozenset(partners),
                                          child_spent, trail, memo)
                if follow is not None:
                    cand = Walk(total + follow.score + 0.05, [cid] + follow.nodes, used | follow.used,
                                partners | follow.partners, follow.code, follow.see_jumps + 1, via=follow.via)
                    if cand.score > best.score:
                        best = cand
                continue
            if child.connector and not sub.nodes:
                continue
            bonus = 0.05 if code else 0.0
            cand = Walk(total + bonus, [cid] + sub.nodes, used | sub.used, partners | sub.partners, code,
                        sub.see_jumps, [Walk(a.score, [cid] + a.nodes, a.used, a.partners, a.code) for a in sub.alts],
                        via=sub.via)
            if best.nodes and abs(cand.score - best.score) < 0.25 and cand.code and best.code and \
                    cand.code != best.code and not sub.nodes and len(best.nodes) == 1 and not cand.used & best.used:
                best.alts.append(cand)
                continue
            if cand.score > best.score or (cand.score == best.score and len(cand.nodes) < len(best.nodes)):
                best = cand
        # a level the note leaves unsaid ("History, personal, allergy, food, eggs" for "allergic to eggs")
        if skips > 0 and not node.connector:
            for cid in node.children:
                child = self.nodes[cid]
                if child.connector or not child.children or child.neg:
                    continue
                sub = self._best(cid, pool, skips - 1, jumps, engaged, memo, child.with_context, spent, trail)
                if not sub.nodes:
                    continue
                if not (set(self.nodes[sub.nodes[0]].req) - GENERIC_WORDS):
                    continue
                total = sub.score - pool.skip_cost
                if total > best.score:
                    best = Walk(total, [cid] + sub.nodes, sub.used, sub.partners, sub.code, sub.see_jumps)
        memo[key] = best
        return best

    def _match(self, child: Node, pool: Pool, engaged: frozenset, in_with: bool, spent: frozenset = frozenset()):
        """(score, positions used, partners engaged) when the pool says this subterm, else None."""
        if child.connector:
            return 0.0, set(), set()
        got = self._match_words(child, child.req, pool, engaged, in_with, spent)
        for alt in child.alts:
            other = self._match_words(child, alt, pool, engaged, in_with, spent)
            if other is not None and (got is None or other[0] > got[0]):
                got = other
        return got

    def _defaults_of(self, nid: int) -> list[int]:
        found = self._default_kids.get(nid)
        if found is None:
            found = self._default_kids[nid] = [c for c in self.nodes[nid].children if self.nodes[c].default]
        return found

    def _match_words(self, child: Node, req: tuple, pool: Pool, engaged: frozenset, in_with: bool, spent: frozenset):
        if child.connector:
            return 0.0, set(), set()
        if child.default:
            if any(w in pool.pos for w in req):
                return None
            return 0.2, set(), set()
        if not req and child.rng is None:
            return None
        if any(w in NEVER for w in req):
            return None
        used: set[int] = set()
        partners: set[int] = set()
        table = pool.neg if child.neg else pool.pos
        if not child.neg and pool.neg and all(w in pool.neg or w in FILLERS for w in req):
            return None  # the note's own clause denies it ("without macular edema")
        matched = 0.0
        for w in req:
            where = table.get(w)
            if where:
                at = pool.nearest(where)
                used.add(at)
                # a word right by the main term counts a little more than one across the clause
                matched += 0.15 if w in spent else 1.0 - min(0.2, 0.015 * abs(at - pool.anchor))
                continue
            if not child.neg and (in_with or engaged):
                shared = [(p, m) for p, m, main, code in pool.shared.get(w, ())
                          if main != pool.owner and (in_with or m in engaged) and
                          (not child.only or in_ranges(code, child.only))]
                if shared:
                    p, m = min(shared, key=lambda x: abs(x[0] - pool.anchor))
                    used.add(p)
                    partners.add(m)
                    matched += 1.0
                    continue
            if w in GENERIC_HEADS and (in_with or partners) and matched:
                continue
            if w in spent:  # "Hypertension, kidney, with, ... chronic kidney disease" after "kidney"
                matched += 0.1
                continue
            return None
        if child.rng is not None:
            lo, hi = child.rng
            hits = [i for v, i in pool.nums if lo <= int(v) <= hi]
            if not hits:
                return None
            used.add(pool.nearest(hits))
            matched += 1
        score = float(matched)
        for w in child.opt:
            where = pool.pos.get(w)
            if where:
                score += 0.3
                pool.opt_used.add(pool.nearest(where))
        if partners:
            score += 0.25
        return score, used, partners

    # --- see references ------------------------------------------------------------------------
    def _follow_see(self, node: Node, pool: Pool, skips: int, jumps: int, engaged: frozenset, spent: frozenset,
                    trail: frozenset, memo: dict) -> Walk | None:
        target = self.resolve(node.see)
        if target is None:
            return None
        tid, _rest = target
        blocked = memo.get("blocked", ())
        if self.main_of(tid) in blocked and self.main_of(tid) != self.main_of(node.id):
            return None
        if tid in trail or tid == node.id or self._is_ancestor(tid, node.id):
            return None
        sub = self._best(tid, pool, skips, jumps, engaged, {"blocked": blocked}, False,
                         spent | frozenset(self.nodes[tid].req), trail | {tid})
        nodes = [tid] + sub.nodes
        code = sub.code if sub.nodes else self.nodes[tid].code
        if code is None:
            return None
        return Walk(sub.score, nodes, sub.used, sub.partners, code, sub.see_jumps,
                    via=sub.via | {self.main_of(tid)})

    def _is_ancestor(self, a: int, b: int) -> bool:
        node = self.nodes.get(b)
        while node is not None and node.parent is not None:
            if node.parent == a:
                return True
            node = self.nodes.get(node.parent)
        return False

    _resolved: dict

    def resolve(self, reference: str | None) -> tuple[int, list[str]] | None:
        """The term a "see" reference names ("Diabetes, retinopathy" -> Diabetes, diabetic, with,
        retinopathy): the main term by its words, then each part by a child (or a connector's child)
        saying it. Parts that name no subterm ("by site", "by type") are left to the pool."""
        if not reference:
            return None
        cache = self.__dict__.setdefault("_resolved", {})
        if reference in cache:
            return cache[reference]
        ref = re.sub(r"\b(by|according to)\s+(site|type|body region|location|cause|condition)\b[^,]*", "",
                     reference.split(";")[0], flags=re.I)
        ref = re.sub(r"\b(category|subcategory)\s+\S+", "", ref)
        parts = [p for p in (words_of(x) for x in re.sub(r"\([^)]*\)", " ", ref).split(",")) if p]
        best = None
        if parts:
            head = tuple(parts[0])
            for a, nid, quals in self.anchors.get(head[0], ()):
                if not (a == head or (len(head) > len(a) and head[:len(a)] == a)):
                    continue
                # "Gout, chronic, idiopathic" names the main term "Gout, chronic"
                took = 0
                for part in parts[1:]:
                    if quals and set(part) <= quals:
                        took += 1
                    else:
                        break
                cur, leftover = self._descend(nid, parts, 1 + took)
                rank = (-len(leftover), len(a), took, -len(quals), -nid)
                if best is None or rank > best[0]:
                    best = (rank, cur, leftover)
        if best is None:
            cache[reference] = None
            return None
        cur, leftover = best[1], best[2]
        cache[reference] = (cur, leftover)
        return cache[reference]

    def _descend(self, found: int, parts: list[list[str]], used_parts: int) -> tuple[int, list[str]]:
        cur = found
        leftover: list[str] = []
        main_words = set(self.nodes[found].req) | set(self.nodes[found].opt)
        rest_parts = parts[used_parts:]
        extra = [w for w in parts[0] if w not in main_words]
        if extra:
            rest_parts = [extra] + rest_parts
        for part in rest_parts:
            nxt = self._child_saying(cur, set(part))
            if nxt is None:
                leftover.extend(part)
                continue
            cur = nxt
        return cur, leftover

    def _child_saying(self, nid: int, words: set[str]) -> int | None:
        """The child a reference part names: a direct subterm first (exact words before fewer), then one
        under a connector ("Diabetes, retinopathy" is "Diabetes, with, retinopathy")."""
        best = None
        for cid in self.nodes[nid].children:
            c = self.nodes[cid]
            if c.connector and set(words_of(c.term)) == words and words:
                return cid  # a reference that names the connector itself ("Pregnancy, complicated by")
            if c.connector or not c.req:
                continue
            for req in (c.req,) + tuple(c.alts):
                if set(req) <= words | FILLERS:
                    rank = (set(req) == words, len(req))
                    if best is None or rank > best[0]:
                        best = (rank, cid)
        if best is not None:
            return best[1]
        for cid in self.nodes[nid].children:
            if self.nodes[cid].connector:
                inner = self._child_saying(cid, words)
                if inner is not None:
                    return inner
        return None

    # --- lookups ---------------------------------------------------------------------------------
    def path_words(self, nodes: list[int]) -> set[str]:
        out: set[str] = set()
        for n in nodes:
            out.update(self.nodes[n].req)
        return out

    def with_words(self, nid: int) -> frozenset:
        """The first words of the "with"-type subterms under a main term (its own subtree): the words another
        condition must say for this term to take it in."""
        cache = self.__dict__.setdefault("_with_words", {})
        found = cache.get(nid)
        if found is None:
            out, stack = set(), [(nid, False)]
            while stack:
                cur, inside = stack.pop()
                node = self.nodes[cur]
                here = inside or node.with_context or (node.connector and node.term.lower() in WITH_CONNECTORS)
                if here and not node.connector:
                    out.update(node.req[:1])
                    out.update(a[0] for a in node.alts if a)
                stack.extend((c, here) for c in node.children)
            found = cache[nid] = frozenset(out)
        return found

    def links_with(self, nid: int) -> bool:
        """Whether a term's subtree has a "with" (or "in", "complicating"...) subterm or a "see" elsewhere:
        only such terms can take in another condition's words."""
        cache = self.__dict__.setdefault("_links", {})
        found = cache.get(nid)
        if found is None:
            stack, found = [nid], False
            while stack and not found:
                node = self.nodes[stack.pop()]
                if node.with_context or node.see or (node.connector and node.term.lower() in WITH_CONNECTORS):
                    found = True
                stack.extend(node.children)
            cache[nid] = found
        return found

    def main_of(self, nid: int) -> int:
        node = self.nodes[nid]
        while node.parent is not None:
            node = self.nodes[node.parent]
        return node.id

    def find_path(self, path: str) -> int | None:
        """A term by its printed path ("History, personal, allergy"), or None."""
        got = self.resolve(path)
        if got is None or got[1]:
            return None
        return got[0]


_trees: dict[tuple, Tree] = {}
_lock = threading.Lock()


def tree_for(book, source: str = "index") -> Tree:
    key = (id(book), getattr(book, "identity", None), source)
    found = _trees.get(key)
    if found is None:
        with _lock:
            found = _trees.get(key)
            if found is None:
                if len(_trees) > 12:
                    _trees.clear()
                found = _trees[key] = Tree(book.db, source)
    return found
