"""Clinical note -> the ICD-10-CM codes a coder would assign, sequenced, each with its evidence.

1. The note is tokenized with offsets, shorthand expanded (text.py), and each word is given its
   context: negated, uncertain, past, a relative's, hypothetical (context.py).
2. Every place a main term of the Alphabetic Index is written becomes a *mention*, walked down the
   Index with the words of its clause (extract.py, index.py).
3. Context decides what a mention is: current; uncertain (coded as established for inpatients,
   Guidelines II.H; not coded for outpatients and the ED, IV.H, their symptoms are); past (a personal
   history code from "History, personal" when the Index has one, I.C.21.c.4; a chronic condition
   still treated stays current); a relative's (a family history code, "History, family"); negated
   or hypothetical (not coded).
4. Current mentions are walked again with what the rest of the note says: a condition's type stated
   elsewhere ("type 2 diabetes ... diabetic retinopathy"), and under the Index's "with" the note's
   other conditions (I.A.15: diabetes with CKD -> E11.22; hypertension with heart failure and CKD ->
   I13.x). A condition a combination took in is not coded again unless the combination's "use
   additional code" note asks for it (N18.x with E11.22/I12.9, I50.x with I11.0/I13.0).
5. Each Index code is completed to a billable code in the Tabular with the note's words (laterality,
   stage, 7th characters for the episode of care, trimester, in childbirth), complete.py.
6. Guideline rules add and remove codes (rules below), every code is checked against the Book on the
   date, Excludes1 pairs are resolved or flagged, and the list is sequenced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from medcode.codebook.codes import ICD10CM
from medcode.codebook.dates import parse_date

from . import lexicon
from .complete import Completer
from .context import ALLERGY, FAM, HIST, HYP, NEG, UNC, annotate
from .extract import Mention, evaluate, fate_of, find_mentions, is_chronic
from .index import Pool, Tree, tree_for
from .model import MAX_CHARS, SETTINGS, Case2CodeError, Result, Span, Suggestion
from .text import canon, tokenize, words_of

_CODE_REF = re.compile(r"\b([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)(?:\s*-\s*([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)"
                       r"|(\.?-))?")
_AGE = re.compile(r"\b(\d{1,3})[- ]?(?:year|yr)s?[- ]?old\b|\b(\d{1,3})\s*(?:yo|y/o|y\.o\.)(?![a-z])", re.I)
_AGE_YOUNG = re.compile(r"\b(\d{1,2})[- ]?(?:month|week|day)s?[- ]?old\b", re.I)
_WEEKS = re.compile(r"\b(\d{1,2})\s*(?:\+\s*\d\s*)?(?:weeks?|wks?)\b(?:,?\s*(?:and\s*)?(\d)\s*days?)?", re.I)
_GRAVIDA = re.compile(r"\bG\d+\s*P\d+", re.I)
_BMI = re.compile(r"\bBMI\b[^.;\n]{0,25}?(\d{1,2}(?:\.\d)?)(?:\s*(?:st|nd|rd|th)\s*percentile)?", re.I)

# R codes that are not signs or symptoms a diagnosis explains: severe sepsis, coma scales, NIHSS
NOT_SYMPTOMS = ("R65", "R40.2", "R29.7", "R99")
SYMPTOM_MAINS = {canon(w) for w in ("pain", "ache", "headache", "cervicalgia", "lumbago", "dorsalgia", "arthralgia",
                                    "myalgia", "cramp", "discomfort", "tenderness")}


@dataclass
class Cand:
    code: str
    title: str
    evidence: set[int]
    rationale: str
    confidence: float
    origin: str
    order: int
    section: str = "other"
    mention: Mention | None = None
    symptom: bool = False
    priority: int = 5
    keep_with: set[str] = field(default_factory=set)
    aorder: int | None = None  # where the assessment states it


@dataclass
class Features:
    setting: str
    age: float | None = None
    encounter: str = "initial"
    pregnant: bool = False
    delivered: bool = False
    newborn: bool = False
    weeks: int | None = None
    weeks_span: tuple[int, int] | None = None
    trimester: str | None = None
    follow_up: bool = False
    exam: bool = False
    postpartum: bool = False


def code_note(book, text, setting: str = "outpatient", when=None) -> Result:
    """Suggested ICD-10-CM codes for a clinical note. Raises Case2CodeError for a note or setting it
    cannot read (empty, too long, binary) and BadDate for a bad date."""
    text = check_text(text)
    setting = check_setting(setting)
    day = when if isinstance(when, date) else parse_date(when)
    book.release_for(ICD10CM, day)  # NoRelease (a CodebookError) when no ICD-10-CM release covers the date
    return _Run(book, text, setting, day).run()


def check_text(text) -> str:
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise Case2CodeError("bad_encoding", "the note is not valid UTF-8 text", 400) from None
    if not isinstance(text, str):
        raise Case2CodeError("bad_request", "the note must be text", 400)
    if len(text) > MAX_CHARS:
        raise Case2CodeError("too_long", f"the note is {len(text):,} characters long; at most {MAX_CHARS:,} "
                                         "characters are accepted", 413)
    if "\x00" in text:
        raise Case2CodeError("binary", "the note contains NUL bytes: send plain text, not a binary file", 400)
    controls = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\t\n\r\f\v") or 0xD800 <= ord(ch) <= 0xDFFF)
    if controls > max(3, len(text) // 100):
        raise Case2CodeError("binary", "the note contains control characters: send plain text, not a binary file",
                             400)
    if not text.strip():
        raise Case2CodeError("empty_text", "the note is empty: paste the clinical documentation to code", 422)
    return text


def check_setting(setting) -> str:
    value = (setting or "outpatient")
    if not isinstance(value, str) or value.strip().lower() not in SETTINGS:
        shown = str(setting)[:20]
        raise Case2CodeError("bad_setting", f"setting must be one of {', '.join(SETTINGS)}, not {shown!r}", 400)
    return value.strip().lower()


# --- one run ---------------------------------------------------------------------------------------

class _Run:
    def __init__(self, book, text: str, setting: str, when: date):
        self.book = book
        self.text = text
        self.setting = setting
        self.when = when
        self.warnings: list[str] = []
        self.tree: Tree = tree_for(book)
        self.drugs: Tree = tree_for(book, "drug")
        from . import extract as _extract
        if id(self.tree) not in _extract._DRUG_WORDS:
            _extract._DRUG_WORDS[id(self.tree)] = (
                {k for k, v in self.drugs.anchors.items() if any(len(a) == 1 for a, _n, _q in v)}
                - {canon(w) for w in ("alcohol", "tobacco", "nicotine")})
        self.completer = Completer(book, when)
        self._notes: dict[str, dict] = {}

    # --- the pipeline --------------------------------------------------------------------------
    def run(self) -> Result:
        note = self.note = tokenize(self.text)
        ctx = self.ctx = annotate(note, self.setting)
        self._past_procedures()
        self.feats = self._features()
        self.neo = tree_for(self.book, "neoplasm")
        mentions = self.mentions = find_mentions(note, ctx, self.tree, self.neo)
        self._adjectives()
        for m in mentions:
            if m.fate == "dropped":
                continue
            m.fate = fate_of(m, self.setting)
            if m.fate == "uncertain" and self.setting == "inpatient":
                m.fate = "current"
                m.notes.append("uncertain")
            if m.fate == "history" and self._still_present(m):
                m.fate = "current"
                m.notes.append("chronic")
        self._rewalk()
        self._absorb()
        cands: list[Cand] = []
        for m in mentions:
            cands.extend(self._from_mention(m))
        cands.extend(self._rules(cands))
        cands = self._clean(cands)
        return self._result(cands)

    # --- note-level facts ------------------------------------------------------------------------
    def _features(self) -> Features:
        f = Features(self.setting)
        text, low = self.text, self.text.lower()
        m = _AGE.search(text)
        if m:
            f.age = float(m.group(1) or m.group(2))
        elif _AGE_YOUNG.search(text):
            f.age = 0.5
        first = low[:200]
        f.newborn = (any(c in first for c in lexicon.NEWBORN_CUES) or (f.age is not None and f.age < 0.1)) and \
            not any(c in low for c in lexicon.MOTHER_CUES)
        has = lambda cues: any(re.search(r"(?<![a-z])" + re.escape(c) + r"(?![a-z])", low) for c in cues)
        f.delivered = not f.newborn and has(lexicon.DELIVERY_CUES) and (self.setting == "inpatient"
                                                                         or has(["delivered"]))
        f.pregnant = not f.newborn and (has(lexicon.PREGNANCY_CUES) or bool(_GRAVIDA.search(text)) or f.delivered)
        f.postpartum = has(["postpartum", "puerperium", "puerperal"]) and not f.delivered
        if f.pregnant:
            for mw in _WEEKS.finditer(text):
                tail = low[mw.end():mw.end() + 30]
                before = low[max(0, mw.start() - 25):mw.start()]
                if re.search(r"\b(after|ago|postpartum|post-partum|later|for)\b", tail[:12] + " " + before[-8:]):
                    continue
                f.weeks = int(mw.group(1))
                f.weeks_span = (mw.start(), mw.end())
                break
            if f.weeks is not None:
                f.trimester = "first" if f.weeks < 14 else "second" if f.weeks < 28 else "third"
            for word in ("first", "second", "third"):
                if f"{word} trimester" in low:
                    f.trimester = word
        if any(c in low for c in lexicon.SEQUELA_CUES):
            f.encounter = "sequela"
        elif any(re.search(r"(?<![a-z])" + re.escape(c) + r"(?![a-z])", low) for c in lexicon.SUBSEQUENT_CUES):
            f.encounter = "subsequent"
        f.follow_up = bool(re.search(r"\b(follow[- ]?up|surveillance|seen \d+ (?:weeks?|months?|days?) after|"
                                     r"post[- ]treatment)\b", low))
        f.exam = bool(re.search(r"\b(well[- ](?:child|baby|visit|woman)|annual (?:exam|physical)|routine "
                                r"(?:annual )?(?:exam|physical|check)|physical exam(?:ination)? for|wellness)\b", low))
        return f

    def _adjectives(self) -> None:
        """'ischemic stroke', 'alcoholic cirrhosis': an adjective before another condition's noun describes
        that condition; on its own ("Ischemia, cerebral") it would be a second, wrong concept."""
        anchors = {m.anchor[0]: m for m in self.mentions}
        toks = self.note.tokens
        for m in self.mentions:
            if len(m.anchor) != 1:
                continue
            t = toks[m.anchor[0]]
            if not t.low.endswith(("ic", "al", "ive", "ous", "ary", "ed", "oid")) or t.virtual:
                continue
            first = self.tree.nodes[m.main].term.split(",")[0].strip().lower()
            if t.low == first:
                continue
            for j in range(t.i + 1, min(len(toks), t.i + 3)):
                other = anchors.get(j)
                if other is not None and other is not m and j not in m.used:
                    m.fate = "dropped"
                    break
                if toks[j].kind == "punct":
                    break

    def _past_procedures(self) -> None:
        """The condition a past operation was for is past too: "s/p mastectomy for breast cancer",
        "following thyroidectomy for goiter in 2020"."""
        toks, ctx = self.note.tokens, self.ctx
        for a, b in self.note.clauses:
            for i in range(a, b):
                t = toks[i]
                if not (t.low.endswith(lexicon.PROCEDURE_WORDS[:4]) or t.low in lexicon.PROCEDURE_WORDS):
                    continue
                prev = {toks[j].low for j in range(max(a, i - 4), i)}
                past = HIST in ctx.of(i) or prev & {"following", "after", "post", "s/p", "status"}
                if not past:
                    continue
                for j in range(i + 1, min(b, i + 7)):
                    if toks[j].low == "for":
                        for k in range(j + 1, b):
                            if toks[k].kind == "punct" and toks[k].text in ",;.":
                                break
                            ctx.states[k].add(HIST)
                        break

    # --- second walk: the rest of the note ---------------------------------------------------------
    def _rewalk(self) -> None:
        current = [m for m in self.mentions if m.fate == "current"]
        blocked = frozenset(m.main for m in current)
        by_main: dict[int, list[Mention]] = {}
        for m in current:
            by_main.setdefault(m.main, []).append(m)
        shared_all: dict[str, list[tuple[int, int, int]]] = {}
        for m in current:
            for pos in sorted(m.used):
                st = self.note.tokens[pos].stem if pos >= 0 else ""
                if st:
                    shared_all.setdefault(st, []).append((pos, m.id, m.main, m.code))
            for w in m.words():
                shared_all.setdefault(w, []).append((m.anchor[0], m.id, m.main, m.code))
        shared_keys = {w for w, lst in shared_all.items()}
        post = self._postprocedural()
        for m in current:
            augment: list[tuple[str, int]] = []
            first = m.walk.nodes[0] if m.walk.nodes else None
            if not m.walk.neoplasm and (first is None or self.tree.nodes[first].connector):
                for other in by_main.get(m.main, ()):
                    if other is m or not other.walk.nodes or other.walk.neoplasm:
                        continue
                    node = self.tree.nodes[other.walk.nodes[0]]
                    if node.connector or node.parent != m.main:
                        continue
                    augment.extend((w, other.anchor[0]) for w in node.req)
                    break
            if m.clause in post:
                augment.extend((w, post[m.clause]) for w in words_of("postprocedural postsurgical postoperative"))
            if self.feats.pregnant:
                augment.extend((w, -1) for w in self._pregnancy_words())
            shared = shared_all
            others = {w for w in self.tree.with_words(m.main) & shared_keys
                      if any(x[2] != m.main for x in shared_all[w])}
            if not augment and not m.walk.via and not others:
                continue  # nothing elsewhere in the note can change this walk
            lo, hi = m.region
            again = evaluate(self.note, self.ctx, self.tree, m.main, m.quals, m.anchor, lo, hi, m.clause,
                             augment=augment, shared=shared, blocked=blocked - {m.main}, neo=self.neo,
                             base=m.pool)
            into = [x for x in m.walk.via if x in blocked and x != m.main]
            if into and not m.walk.neoplasm and (again is None or not again.walk.nodes):
                # its Index path led into a condition the note names on its own ("diabetic nephropathy"
                # -> Diabetes): that mention codes it, and these words are its
                owners = [o for o in current if o.main == into[0] and o is not m]
                owner = next((o for o in owners if o.code and m.code and o.code[:3] == m.code[:3]), None) or \
                    (owners[0] if owners else None)
                if owner is not None:
                    m.fate, m.absorbed_by = "duplicate", owner.id
                    continue
            if again is None:
                # its Index path led into a condition the note names on its own: that mention codes it
                twin = None if m.walk.neoplasm else next(
                    (o for o in current if o is not m and o.code and m.code and o.code[:3] == m.code[:3]), None)
                if twin is not None:
                    m.absorbed_by = twin.id
                    m.fate = "duplicate"
                else:
                    m.fate = "dropped"
                continue
            if again.walk.partners and again.code:
                # a "with" that lands on the other condition's own code combines nothing ("Pyelonephritis,
                # in, sepsis" is the sepsis code): the mention keeps its own
                partner_cats = {self.mentions[p].code[:3] for p in again.walk.partners if self.mentions[p].code}
                own = (self.tree.nodes[m.main].code or m.code or "")[:3]
                if again.code[:3] in partner_cats and again.code[:3] != own:
                    alone = evaluate(self.note, self.ctx, self.tree, m.main, m.quals, m.anchor, lo, hi, m.clause,
                                     augment=augment, shared=None, blocked=blocked - {m.main}, neo=self.neo,
                                     base=m.pool)
                    if alone is not None:
                        again = alone
            again.id, again.fate, again.notes, again.region, again.quals = m.id, m.fate, m.notes, m.region, m.quals
            self.mentions[m.id] = again

    def _pregnancy_words(self) -> list[str]:
        """What the Index's pregnancy subterms ask of a mother's encounter: in childbirth, in the puerperium,
        the trimester (from the weeks of gestation when not stated; Tabular chapter 15 note)."""
        f = self.feats
        if f.delivered:
            return words_of("childbirth")
        if f.postpartum:
            return words_of("puerperium")
        out = words_of("pregnancy")
        if f.trimester:
            out += words_of(f"{f.trimester} trimester")
        return out

    def _postprocedural(self) -> dict[int, int]:
        """Clauses that say a condition follows an operation ("hypothyroidism following thyroidectomy")."""
        out = {}
        toks = self.note.tokens
        for c, (a, b) in enumerate(self.note.clauses):
            for i in range(a, b - 1):
                if toks[i].low in ("following", "after", "post", "postop", "post-op", "s/p"):
                    for j in range(i + 1, min(b, i + 4)):
                        low = toks[j].low
                        if low.endswith(("ectomy", "otomy", "ostomy", "plasty")) or low in ("surgery", "operation",
                                                                                               "procedure"):
                            out[c] = j
                            break
        return out

    def _points_elsewhere(self, m: Mention) -> Mention | None:
        """A bare main term whose subterm the note says points at another condition's codes ("Nephropathy,
        diabetic - see E08-E13 with .21"): that condition's mention codes it."""
        if m.walk.nodes or m.walk.neoplasm:
            return None
        for cid in self.tree.nodes[m.main].children:
            child = self.tree.nodes[cid]
            if not child.see or not child.req or not set(child.req) <= set(m.pool.pos):
                continue
            cats = {lo[:3] for lo, _hi, _e in _refs(child.see)} | {
                f"{lo[:1]}{n:02d}" for lo, hi, _e in _refs(child.see) if lo[:1] == hi[:1] and lo[1:3].isdigit()
                and hi[1:3].isdigit() for n in range(int(lo[1:3]), int(hi[1:3]) + 1)}
            for o in self.mentions:
                if o is not m and o.fate == "current" and o.code and o.code[:3] in cats:
                    return o
        return None

    def _absorb(self) -> None:
        for m in self.mentions:
            if m.fate == "current":
                owner = self._points_elsewhere(m)
                if owner is not None:
                    m.fate, m.absorbed_by = "duplicate", owner.id
        current = sorted((m for m in self.mentions if m.fate in ("current", "duplicate")), key=lambda m: -m.score)
        for m in current:
            used = m.used
            for x in current:
                if x is m or x.absorbed_by is not None or x.fate == "duplicate" or x.id == m.absorbed_by:
                    continue
                if m.fate == "duplicate" and x.code and m.code and x.code[:3] == m.code[:3]:
                    continue
                if set(x.anchor) <= used and m.score >= x.score - 0.3:
                    x.absorbed_by = m.id

    # --- mentions to candidates --------------------------------------------------------------------
    def _complete(self, index_code: str, m: Mention | None, extra: set[str] = frozenset(),
                  pool: Pool | None = None):
        pool = pool if pool is not None else (m.pool if m else Pool())
        pos = set(pool.pos) | set(extra)
        if m is not None:
            pos |= {self.note.tokens[i].stem for i in m.used}
        neg = set(pool.neg)
        feats = self._code_features(index_code, pos)
        return self.completer.complete(index_code, pos, neg, feats)

    def _code_features(self, code: str, pos: set[str]) -> set[str]:
        f = self.feats
        out: set[str] = set()
        if code[:1] in "ST":
            enc = f.encounter if self.setting != "inpatient" or f.encounter == "sequela" else "initial"
            out |= {canon(w) for w in (enc, "encounter")}
            if canon("open") in pos:
                roman = pos & {"iii", "iiia", "iiib", "iiic", "3"}
                out |= {canon(w) for w in (("type", "iiia", "iiib", "iiic") if roman else ("type", "i", "ii"))}
            else:
                out.add(canon("closed"))
            if not pos & {canon("delayed"), canon("nonunion"), canon("malunion")}:
                out |= {canon("routine"), canon("healing")}
        if code[:1] == "O":
            if f.delivered:
                out.add(canon("childbirth"))
            elif f.postpartum:
                out.add(canon("puerperium"))
            else:
                out.add(canon("pregnancy"))
                if f.trimester:
                    out |= {canon(f.trimester), canon("trimester")}
        if code.startswith("Z00") and f.age is not None:
            pass
        return out

    def _from_mention(self, m: Mention) -> list[Cand]:
        if m.absorbed_by is not None and m.fate == "current":
            return self._absorbed(m)
        if m.fate == "current":
            return self._current(m)
        if m.fate == "history":
            return self._history(m)
        if m.fate == "family":
            return self._family(m)
        if m.fate == "allergy":
            return []
        if m.fate == "uncertain":
            self.warnings.append(f"not coded: \"{self._surface(m)}\" is documented as uncertain; for {self.setting} "
                                 "encounters uncertain diagnoses are not coded, the signs and symptoms are "
                                 "(Guidelines IV.H)")
        return []

    def _current(self, m: Mention, code: str | None = None, rationale_extra: str = "") -> list[Cand]:
        code = code or m.code
        done = self._complete(code, m)
        if done is None:
            self.warnings.append(f"\"{self._surface(m)}\": the Index gives {code}, which is not a valid code on "
                                 f"{self.when.isoformat()}; not suggested")
            return []
        if not self._encounter_z_ok(done.code, m):
            return []
        if "different facility" in done.title.lower() and not re.search(r"\b(transferr?ed|outside|another|"
                                                                       r"referring|other) (facility|hospital)",
                                                                       self.text, re.I):
            return []
        if self.tree.nodes[m.main].path.lower().startswith("allergy") and done.code.startswith(("T78.4", "T78.1")):
            return []  # an allergy with no reaction described: the allergy status rule codes it
        rationale = f"Index: {m.path} \u2192 {code}"
        if done.code != code.rstrip("-").rstrip("."):
            rationale += f"; Tabular: {done.code}"
        if m.walk.partners or (not m.walk.neoplasm and any(self._with_node(n) for n in m.walk.nodes)):
            rationale += " ('with' convention, Guidelines I.A.15)"
        if "uncertain" in m.notes:
            rationale += "; documented as uncertain at discharge, coded as established (Guidelines II.H)"
        if done.code[:1] in "ST" and len(done.code.replace(".", "")) == 7:
            rationale += f"; 7th character for the {self._enc_word()} (Guidelines I.C.19.a)"
        rationale += rationale_extra
        conf = 0.55 + min(0.35, 0.07 * m.score) - 0.05 * len(done.defaulted)
        symptom = (done.code.startswith("R") and not done.code.startswith(NOT_SYMPTOMS)) or (
            m.main_stem in SYMPTOM_MAINS and
                                                done.code.startswith(("M54", "M25.5", "M79.6", "M79.1", "G89")))
        out = [Cand(done.code, done.title, set(m.evidence) | self._used_for(m, done.used), rationale,
                    round(max(0.3, min(0.97, conf)), 2), "index", m.anchor[0], m.section, m, symptom)]
        for alt in m.walk.alts:
            if not self._joined(m, alt):
                continue
            d3 = self._complete(alt.code, m)
            if d3 is not None and d3.code != done.code:
                shown = m.path.rsplit(", ", 1)[0] + ", " + self.tree.nodes[alt.nodes[-1]].term
                out.append(Cand(d3.code, d3.title, (set(m.used) - m.walk.used) | alt.used, f"Index: {shown} \u2192 "
                                f"{alt.code}; both are documented, each is coded (Guidelines I.B.7)", out[0].confidence,
                                "index", m.anchor[0], m.section, m))
        out.extend(self._etiology(m, done.code))
        for manif in self._manifestations(m):
            d2 = self._complete(manif, m)
            if d2 is not None:
                out.append(Cand(d2.code, d2.title, set(m.used), f"Index: {m.path} \u2192 {code} [{manif}]: "
                                f"manifestation code after the etiology (Guidelines I.A.13)", 0.8, "manifestation",
                                m.anchor[0] + 1, m.section, m))
        return out

    def _encounter_z_ok(self, code: str, m: Mention) -> bool:
        """Z codes for the encounter's purpose (examination, follow-up, fitting, aftercare) come from what
        the visit is for, not from a word in the narrative."""
        if code.startswith(("Z08", "Z09")):
            return False
        if code.startswith(("Z00", "Z01")):
            return self.feats.exam
        if code[:3] in {f"Z{n:02d}" for n in list(range(2, 14)) + list(range(40, 54))}:
            return m.section in ("assessment", "complaint") or m.clause == 0 or (
                m.anchor[0] < 12 and self.note.tokens[m.anchor[0]].sentence == 0)
        return True

    def _etiology(self, m: Mention, code: str) -> list[Cand]:
        """'Code first COVID-19 (U07.1)' on J12.82 when the note's words for it are the main term that
        codes U07.1: the etiology is coded too, and first (Guidelines I.A.13)."""
        main_code = self.tree.nodes[m.main].code
        if not main_code or main_code.endswith("-"):
            return []
        out = []
        for note in self._note_list(code, "code_first"):
            for lo, hi, exact in _refs(note):
                if exact and lo == main_code and lo != code:
                    found = self.book.find(ICD10CM, lo, self.when)
                    if found is not None and found.billable and found.status == "active":
                        out.append(Cand(found.code, found.title, set(m.anchor), f"Index: "
                                        f"{self.tree.nodes[m.main].path} \u2192 {lo}; code first with {code} "
                                        f"(Tabular: \"{_clip(note)}\"; Guidelines I.A.13)", 0.85, "index",
                                        m.anchor[0], m.section, m))
        return out

    def _joined(self, m: Mention, alt) -> bool:
        """'with both hypoxia and hypercapnia': two sibling subterms joined by 'and' are both coded."""
        spots = sorted(m.walk.used | alt.used)
        if not spots:
            return False
        lows = {t.low for t in self.note.tokens[spots[0]:spots[-1] + 1]}
        return "and" in lows or "both" in lows

    def _with_node(self, nid: int) -> bool:
        node = self.tree.nodes[nid]
        parent = self.tree.nodes.get(node.parent) if node.parent is not None else None
        return node.term.lower().startswith("with ") or (parent is not None and parent.term.lower() == "with")

    def _enc_word(self) -> str:
        return {"initial": "initial encounter", "subsequent": "subsequent encounter",
                "sequela": "sequela"}[self.feats.encounter if self.setting != "inpatient" else "initial"]

    def _manifestations(self, m: Mention) -> list[str]:
        if m.walk.neoplasm:
            return []
        for n in reversed(m.walk.nodes or [m.main]):
            node = self.tree.nodes[n]
            if node.code:
                return list(node.manif)
        return []

    def _used_for(self, m: Mention, stems: set[str]) -> set[int]:
        out = set()
        for st in stems:
            where = m.pool.pos.get(st) or m.pool.neg.get(st)
            if where:
                out.add(m.pool.nearest(where))
        return out

    def _absorbed(self, m: Mention) -> list[Cand]:
        """A condition a combination took in: coded too only when the combination asks for it."""
        cands = self._current(m)
        if not cands:
            return []
        owner = self.mentions[m.absorbed_by]
        owner_code = self._complete(owner.code, owner)
        if owner_code is None:
            return cands
        mine = cands[0].code
        for note in (self._note_list(owner_code.code, "use_additional") + self._note_list(owner_code.code, "code_also")
                     + self._note_list(owner_code.code, "code_first")):
            for lo, hi, exact in _refs(note):
                if _covers(lo, hi, mine, loose=True):
                    c = cands[0]
                    c.rationale += f"; use additional code with {owner_code.code} (Tabular: \"{_clip(note)}\")"
                    c.keep_with.add(owner_code.code)
                    return [c]
        self._dropped_codes = getattr(self, "_dropped_codes", set()) | {mine}
        self._owner_codes = getattr(self, "_owner_codes", set()) | {owner_code.code}
        return []

    def _concept_words(self, m: Mention) -> set[str]:
        """The condition's words for a history walk; a neoplasm also says its Tabular category and block
        ("Malignant neoplasms of digestive organs"), which the History entries are worded by."""
        words = m.words() | {self.note.tokens[i].stem for i in m.used if 0 <= i < len(self.note.tokens)}
        if m.walk.neoplasm:
            words |= set(words_of("malignant neoplasm"))
        if m.code:
            # the Tabular's category and block say the family the History entries are worded by
            # ("Ischemic heart diseases" for a myocardial infarction)
            try:
                found = self.completer.resolve(m.code)
                if found is not None:
                    chain = [found] + self.book.ancestors(ICD10CM, found.code, self.when)
                    for anc in chain[:4]:
                        if anc.kind in ("category", "block", "subcategory"):
                            words |= set(words_of(anc.title))
            except Exception:
                pass
        return words

    def _still_present(self, m: Mention) -> bool:
        """'History of hypertension', 'h/o breast cancer, currently on tamoxifen': documented as history but
        still present or treated, so coded as current (Guidelines IV.J; I.C.2.d for a malignancy)."""
        a, b = self.note.clauses[m.clause]
        clause = self.note.tokens[a:b]
        lows = {t.low for t in clause if NEG not in self.ctx.of(t.i)}
        if lows & {"currently", "undergoing", "receiving", "ongoing", "active", "persistent", "persists"} and not \
                any(t.low in ("no", "not", "none") for t in clause):
            return True
        if self._resolved(m):
            return False
        return is_chronic(m) and self._history_cand(m) is None

    def _history_cand(self, m: Mention) -> Cand | None:
        cand = self._walk_path("History, personal", m, self._concept_words(m))
        return cand if cand is not None and cand.code.startswith("Z") else None

    def _history(self, m: Mention) -> list[Cand]:
        cand = self._history_cand(m)
        if cand is not None:
            cand.rationale += " (past condition, no longer present: personal history, Guidelines I.C.21.c.4)"
            out = [cand]
            out.extend(self._code_also_allergy(cand, m))
            return out
        return []

    def _resolved(self, m: Mention) -> bool:
        a, b = self.note.clauses[m.clause]
        lows = {t.low for t in self.note.tokens[a:b]}
        return bool(lows & {"resolved", "healed", "recovered", "remission", "completed"})

    def _family(self, m: Mention) -> list[Cand]:
        words = self._concept_words(m)
        cand = self._walk_path("History, family", m, words)
        if cand is not None and cand.code[:3] in ("Z80", "Z81", "Z82", "Z83", "Z84"):
            cand.rationale += " (a relative's condition: family history, Guidelines I.C.21.c.4)"
            return [cand]
        return []

    def _walk_path(self, path: str, m: Mention, words: set[str], rule: str = "") -> Cand | None:
        nid = self.tree.find_path(path)
        if nid is None:
            return None
        pool = Pool(anchor=m.anchor[0], skip_cost=1.5)
        for w in words:
            where = m.pool.pos.get(w)
            pool.add(w, m.pool.nearest(where) if where else m.anchor[0])
        walk = self.tree.walk(nid, pool, skips=1, spent=frozenset())
        if not walk.nodes or walk.code is None or walk.score < 1.0:
            return None
        from .index import GENERIC_HEADS, GENERIC_WORDS
        last = self.tree.nodes[walk.nodes[-1]]
        if not (set(last.req) - GENERIC_HEADS - GENERIC_WORDS) and not any(
                set(a) - GENERIC_HEADS - GENERIC_WORDS for a in last.alts):
            return None  # "History, personal, disease or disorder" is not what the note says
        done = self._complete(walk.code, None, set(pool.pos), pool)
        if done is None:
            return None
        shown = path + ", " + ", ".join(self.tree.nodes[n].term for n in walk.nodes)
        ev = set(m.used) | {p for p in walk.used if p < len(self.note.tokens)}
        return Cand(done.code, done.title, ev, f"Index: {shown} \u2192 {walk.code}{rule}", 0.8, "rule", m.anchor[0],
                    m.section, m)

    def _code_also_allergy(self, cand: Cand, m: Mention) -> list[Cand]:
        """Z87.892 'Code also allergy status': the substance's allergy status code."""
        notes = self._note_list(cand.code, "code_also")
        wants = [r for n in notes for r in _refs(n) if r[0][:3] in ("Z88", "Z91")]
        if not wants:
            return []
        got = self._status_walk(m.pool, m.anchor[0], m.anchor[-1] + 1, m)
        if got is None or not any(_covers(lo, hi, got.code, loose=True) for lo, hi, _e in wants):
            return []
        got.rationale += f"; code also allergy status with {cand.code} (Tabular note)"
        return [got]

    # --- guideline rules ------------------------------------------------------------------------------
    def _rules(self, cands: list[Cand]) -> list[Cand]:
        out: list[Cand] = []
        out.extend(self._titles_and_inclusions())
        out.extend(self._allergy_status())
        out.extend(self._absence_status())
        out.extend(self._long_term_drugs(cands))
        out.extend(self._underdosing(cands))
        out.extend(self._vaccination())
        out.extend(self._newborn(cands))
        out.extend(self._pregnancy_precedence(cands))
        out.extend(self._obstetric(cands + out))
        out.extend(self._bmi(cands + out))
        out.extend(self._exam_and_follow_up(cands + out))
        return out

    def _titles_and_inclusions(self) -> list[Cand]:
        """A diagnostic statement no Index term matched, said word for word as a Tabular title or inclusion
        term ("chronic simple glaucoma"): medcode.search finds it; every word of the term must be in the
        statement, and the statement must be affirmed and current."""
        from medcode.search import search

        from .text import FUNCTION

        anchored = {i for m in self.mentions for i in m.anchor}
        toks = self.note.tokens
        out = []
        for c, (a, b) in enumerate(self.note.clauses):
            clause = [t for t in toks[a:b] if t.kind != "punct" and t.i not in self.ctx.cue_tokens]
            if not clause or clause[0].section != "assessment" or anchored & set(range(a, b)):
                continue
            if any(self.ctx.of(t.i) for t in clause):
                continue
            said = {t.stem for t in clause if t.low not in FUNCTION}
            if len(said) < 2:
                continue
            query = " ".join(t.text for t in clause if not t.virtual)[:200]
            try:
                hits = search(self.book, query, system=ICD10CM, limit=5, date=self.when)["results"]
            except Exception:
                continue
            for h in hits:
                match = h["match"]
                if match == "title":
                    phrase = h["title"]
                elif match.startswith("inclusion: "):
                    phrase = match[len("inclusion: "):]
                else:
                    continue
                need = {w for w in words_of(phrase) if w not in _SIDE_WORDS}
                if not need or not need <= said:
                    continue
                pool = Pool(anchor=clause[0].i)
                for t in clause:
                    pool.add(t.stem, t.i)
                done = self.completer.complete(h["code"], set(pool.pos), set())
                if done is None:
                    continue
                ev = {t.i for t in clause if t.stem in need or t.stem in done.used}
                kind = "title" if match == "title" else "inclusion term"
                out.append(Cand(done.code, done.title, ev, f"Tabular {kind}: \"{_clip(phrase)}\" \u2192 {h['code']} "
                                "(no Index entry said it)", 0.7, "index", clause[0].i, "assessment"))
                break
        return out

    def _allergy_status(self) -> list[Cand]:
        """Allergies with no reaction now are allergy status codes ("History, personal, allergy")."""
        out = []
        toks = self.note.tokens
        seen_spans = set()
        for state, a, b in self.ctx.cues:
            if state != ALLERGY:
                continue
            pool = Pool(anchor=a)
            for i in range(a, min(b + 1, len(toks))):
                t = toks[i]
                if t.kind != "punct" and t.stem and i not in self.ctx.cue_tokens and NEG not in self.ctx.of(i):
                    pool.add(t.stem, i)
            got = self._status_walk(pool, a, b)
            if got and (got.code, a) not in seen_spans:
                seen_spans.add((got.code, a))
                out.append(got)
        for m in self.mentions:
            node = self.tree.nodes[m.main]
            if not node.path.lower().startswith("allergy") or m.fate not in ("current", "allergy", "history"):
                continue
            if m.code and not m.code.startswith(("T78.4", "T78.1", "T78.40")):
                continue
            got = self._status_walk(m.pool, m.anchor[0], m.anchor[-1] + 1, m)
            if got:
                out.append(got)
        return out

    def _status_walk(self, pool: Pool, a: int, b: int, m: Mention | None = None) -> Cand | None:
        nid = self.tree.find_path("History, personal, allergy")
        if nid is None:
            return None
        cost, pool.skip_cost = pool.skip_cost, 0.5
        walk = self.tree.walk(nid, pool, skips=1)
        pool.skip_cost = cost
        if not walk.nodes or walk.code is None or walk.score < 0.45:
            return None
        done = self._complete(walk.code, None, set(pool.pos), pool)
        if done is None:
            return None
        shown = "History, personal, allergy, " + ", ".join(self.tree.nodes[n].term for n in walk.nodes)
        ev = set(range(a, b)) if m is None else set(m.anchor)
        ev |= walk.used | self._pool_used(pool, done.used)
        ev = {i for i in ev if self.note.tokens[i].kind != "punct" and i not in self.ctx.cue_tokens or
              self.note.tokens[i].low.startswith("allerg")}
        return Cand(done.code, done.title, ev, f"Index: {shown} \u2192 {walk.code}; allergy with no reaction now: "
                    "allergy status (Guidelines I.C.21.c.3)", 0.8, "rule", a, self.note.tokens[a].section, m)

    def _pool_used(self, pool: Pool, stems: set[str]) -> set[int]:
        return {pool.nearest(pool.pos[s]) for s in stems if s in pool.pos}

    def _absence_status(self) -> list[Cand]:
        """'s/p mastectomy' -> acquired absence of the organ (Index: Absence, breast); 's/p CABG' -> the
        bypass status (Index: Status, aortocoronary bypass)."""
        out = []
        toks = self.note.tokens
        seen = set()
        for t in toks:
            path = lexicon.STATUS_AFTER.get(t.low)
            if path is None or not (HIST in self.ctx.of(t.i) or "pmh" in self.ctx.of(t.i)):
                continue
            nid = self.tree.find_path(path)
            code = self.tree.nodes[nid].code if nid is not None else None
            done = self.completer.complete(code, set(), set()) if code else None
            if done is None or done.code in seen:
                continue
            seen.add(done.code)
            out.append(Cand(done.code, done.title, {t.i}, f"Index: {path} \u2192 {code}; status after a past "
                            "procedure (Guidelines I.C.21.c.3)", 0.75, "rule", t.i, t.section))
        for t in toks:
            organ = next((o for w, o in lexicon.ABSENCE_AFTER.items() if t.low.endswith(w)), None)
            if organ is None:
                continue
            prev = {toks[j].low for j in range(max(0, t.i - 4), t.i)}
            if not (HIST in self.ctx.of(t.i) or prev & {"following", "after", "post", "s/p", "status"}):
                continue
            if NEG in self.ctx.of(t.i) or HYP in self.ctx.of(t.i):
                continue
            a, b = self.note.clauses[t.clause]
            pool = Pool(anchor=t.i)
            for i in range(max(a, t.i - 4), min(b, t.i + 2)):
                if toks[i].stem:
                    pool.add(toks[i].stem, i)
            for w in words_of(organ):
                pool.add(w, t.i)
            nid = self.tree.find_path("Absence")
            walk = self.tree.walk(nid, pool, skips=0) if nid else None
            if walk is None or not walk.nodes or walk.code is None:
                continue
            done = self._complete(walk.code, None, set(pool.pos), pool)
            if done is None:
                continue
            shown = "Absence, " + ", ".join(self.tree.nodes[n].term for n in walk.nodes)
            ev = {t.i} | self._pool_used(pool, done.used)
            out.append(Cand(done.code, done.title, ev, f"Index: {shown} \u2192 {walk.code}; organ removed by a past "
                            "operation: acquired absence status (Guidelines I.C.21.c.3)", 0.75, "rule", t.i,
                            t.section))
        return out

    def _diabetes_wants(self, cands: list[Cand]) -> set[str]:
        """The Z79 codes the diabetes codes' "use additional code" notes name."""
        out = set()
        for c in cands:
            if not c.code.startswith(("E08", "E09", "E10", "E11", "E13", "O24")):
                continue
            for note in self._note_list(c.code, "use_additional"):
                for lo, hi, exact in _refs(note):
                    if lo.startswith("Z79"):
                        out.add(lo)
        return out

    def _long_term_drugs(self, cands: list[Cand]) -> list[Cand]:
        """Long-term (current) drug therapy, Z79 (Guidelines I.C.21.c.3; diabetes: I.C.4.a.3)."""
        out = []
        toks = self.note.tokens
        drug_tree = tree_for(self.book, "drug")
        wants = self._diabetes_wants(cands)
        seen = set()
        for t in toks:
            if t.kind != "word" or len(t.low) < 3:
                continue
            label = lexicon.Z79_AGENTS.get(t.low)
            if label is None:
                label = self._drug_class(drug_tree, t.stem)
            if label is None:
                continue
            st = self.ctx.of(t.i)
            if st & {NEG, HYP, FAM, ALLERGY} or HIST in st:
                continue
            before = [x.low for x in toks[max(0, t.i - 4):t.i]]
            joined = " ".join(before)
            if not any(re.search(r"(?<![a-z])" + re.escape(c) + r"$", joined) or f" {c} " in f" {joined} "
                       for c in lexicon.LONG_TERM_CUES):
                continue
            if any(w in before for w in ("without", "stopped", "off", "discontinued", "start", "starts", "started",
                                         "starting", "initiated", "begin", "begins", "afford")):
                continue
            nid = self.tree.find_path(label.replace("Long-term ", "Long-term, ").replace(" oral ", ", oral, "))
            if nid is None:
                nid = self._long_term_node(label)
            if nid is None:
                continue
            code = self.tree.nodes[nid].code
            if not code:
                continue
            diabetes_drug = code in ("Z79.4", "Z79.84", "Z79.85")
            if diabetes_drug and code not in wants:
                continue
            if code in seen:
                continue
            seen.add(code)
            done = self.completer.complete(code, set(), set())
            if done is None:
                continue
            why = ("the diabetes code's note: use additional code for the drug (Guidelines I.C.4.a.3)" if diabetes_drug
                   else "long-term drug therapy (Guidelines I.C.21.c.3)")
            ev = {t.i} | {x.i for x in toks[max(0, t.i - 3):t.i] if x.low in ("long", "term", "long-term", "on",
                                                                               "maintained", "chronic")}
            out.append(Cand(done.code, done.title, ev, f"Index: {self.tree.nodes[nid].path} \u2192 {code}; {why}",
                            0.75, "rule", t.i, t.section, priority=8))
        return out

    def _long_term_node(self, label: str) -> int | None:
        words = words_of(label.replace("Long-term", ""))
        main = self.tree.find_path("Long-term")
        if main is None:
            return None
        pool = Pool()
        for w in words:
            pool.add(w, 0)
        walk = self.tree.walk(main, pool, skips=1)
        return walk.nodes[-1] if walk.nodes and walk.code else None

    def _drug_class(self, drug_tree: Tree, stem: str) -> str | None:
        for anchor, nid, _q in drug_tree.anchors.get(stem, ()):
            if len(anchor) != 1:
                continue
            node = drug_tree.nodes[nid]
            code = node.cells.get("Adverse effect") or ""
            for prefix, label in sorted(lexicon.Z79_BY_T_CATEGORY.items(), key=lambda x: -len(x[0])):
                if code.startswith(prefix):
                    return label
            if code.startswith("T38.3"):
                return "Long-term insulin" if stem == canon("insulin") else "Long-term oral hypoglycemic"
            return None
        return None

    def _underdosing(self, cands: list[Cand]) -> list[Cand]:
        """Taking less of a drug than prescribed: the drug's underdosing code (Table of Drugs, final
        character 6) and the noncompliance Z91.12-/Z91.13- (Guidelines I.C.19.e.5.c)."""
        out = []
        toks = self.note.tokens
        low = self.text.lower()
        drug_tree = tree_for(self.book, "drug")
        for cue in lexicon.UNDERDOSING_CUES:
            for mm in re.finditer(r"(?<![a-z])" + re.escape(cue) + r"(?![a-z])", low):
                after = [t for t in toks if mm.end() <= t.start < mm.end() + 40 and t.kind == "word"][:4]
                before = [t for t in toks if mm.start() - 40 <= t.start < mm.start() and t.kind == "word"][-3:]
                drug = None
                for t in after + before:
                    for anchor, nid, _q in drug_tree.anchors.get(t.stem, ()):
                        node = drug_tree.nodes[nid]
                        if len(anchor) == 1 and node.cells.get("Underdosing"):
                            drug = (t, node)
                            break
                    if drug:
                        break
                if drug is None:
                    continue
                t, node = drug
                if HYP in self.ctx.of(t.i) or FAM in self.ctx.of(t.i):
                    continue
                tcode = node.cells["Underdosing"]
                done = self._complete(tcode, None, {canon(self._enc_word().split()[0])}, Pool())
                if done is None:
                    continue
                ev = {t.i} | {x.i for x in toks if mm.start() <= x.start < mm.end()}
                out.append(Cand(done.code, done.title, ev, f"Table of Drugs: {node.path}, Underdosing \u2192 {tcode}; "
                                "underdosing is sequenced after the condition it caused (Guidelines I.C.19.e.5.c)",
                                0.75, "rule", t.i, t.section, priority=7))
                reason = "Underdosing, intentional NEC"
                window = low[max(0, mm.start() - 80):mm.end() + 120]
                if any(w in window for w in lexicon.FINANCIAL_CUES):
                    reason = "Underdosing, intentional NEC, due to financial hardship of patient"
                elif any(w in window for w in ("forgot", "forgetful", "confus", "dementia", "memory", "age")):
                    reason = "Underdosing, unintentional NEC"
                nid = self.tree.find_path(reason)
                if nid is not None and self.tree.nodes[nid].code:
                    d2 = self.completer.complete(self.tree.nodes[nid].code, set(), set())
                    if d2 is not None:
                        out.append(Cand(d2.code, d2.title, ev | self._financial_tokens(mm), f"Index: {reason} \u2192 "
                                        f"{self.tree.nodes[nid].code}; the reason for the underdosing "
                                        "(Guidelines I.C.19.e.5.c)", 0.7, "rule", t.i + 1, t.section, priority=8))
                return out
        return out

    def _financial_tokens(self, mm) -> set[int]:
        out = set()
        for t in self.note.tokens:
            if t.kind == "word" and t.low in ("afford", "cost", "financial", "insurance") \
                    and abs(t.start - mm.start()) < 150:
                out.add(t.i)
        return out

    def _vaccination(self) -> list[Cand]:
        out = []
        for t in self.note.tokens:
            if t.stem not in (canon("vaccine"), canon("vaccination"), canon("immunization"), canon("vaccinated")):
                continue
            st = self.ctx.of(t.i)
            if st & {NEG, HYP, HIST, FAM, ALLERGY, UNC}:
                continue
            a, b = self.note.clauses[t.clause]
            lows = {x.low for x in self.note.tokens[a:b]}
            if not lows & {"given", "administered", "received", "vaccinated", "updated", "today", "immunized"}:
                continue
            nid = self.tree.find_path("Vaccination, encounter for")
            if nid is None or not self.tree.nodes[nid].code:
                continue
            done = self.completer.complete(self.tree.nodes[nid].code, set(), set())
            if done:
                ev = {t.i} | {x.i for x in self.note.tokens[a:b] if x.low in ("given", "administered", "received")}
                out.append(Cand(done.code, done.title, ev, "Index: Vaccination, encounter for \u2192 "
                                f"{done.code}; vaccine given at this encounter", 0.8, "rule", t.i, t.section,
                                priority=6))
                break
        return out

    def _newborn(self, cands: list[Cand]) -> list[Cand]:
        """The birth episode on the infant's record: Z38 first (Guidelines I.C.16.a.2)."""
        if not self.feats.newborn or self.setting != "inpatient":
            return []
        toks = self.note.tokens
        born = [t for t in toks if t.low in ("born", "delivered", "birth")]
        if not born:
            return []
        s = born[0].sentence
        pool = Pool(anchor=born[0].i)
        for t in toks:
            if t.sentence == s and t.stem and t.kind != "punct":
                pool.add(t.stem, t.i)
        nid = self.tree.find_path("Newborn")
        if nid is None:
            return []
        walk = self.tree.walk(nid, pool, skips=0)
        code = walk.code if walk.nodes else self.tree.nodes[nid].code
        done = self._complete(code, None, set(pool.pos), pool) if code else None
        if done is None:
            return []
        shown = "Newborn" + ("".join(", " + self.tree.nodes[n].term for n in walk.nodes))
        ev = {born[0].i} | walk.used | self._pool_used(pool, done.used)
        return [Cand(done.code, done.title, ev, f"Index: {shown} \u2192 {code}; birth episode, first-listed on "
                     "the newborn's record (Guidelines I.C.16.a.2)", 0.85, "rule", born[0].i, born[0].section,
                     priority=0)]

    def _pregnancy_precedence(self, cands: list[Cand]) -> list[Cand]:
        """A condition of a pregnant patient is coded to chapter 15 first ("Pregnancy, complicated by"), with
        the condition's own code after it when the O code's note asks for it (Guidelines I.C.15.a.1)."""
        f = self.feats
        if not f.pregnant or f.newborn:
            return []
        nid = self.tree.find_path("Pregnancy, complicated by")
        if nid is None:
            return []
        out = []
        replaced = getattr(self, "_replaced", set())
        for c in cands:
            m = c.mention
            if m is None or c.origin != "index" or c.code[:1] in "OZRVWXYST" or c.symptom:
                continue
            pool = Pool(anchor=m.anchor[0], skip_cost=0.5)
            for w in self._concept_words(m) | set(words_of("pre existing")) | set(self._pregnancy_words()):
                where = m.pool.pos.get(w)
                pool.add(w, m.pool.nearest(where) if where else m.anchor[0])
            walk = self.tree.walk(nid, pool, skips=1)
            if not walk.nodes or not walk.code or not walk.code.startswith("O") or walk.score < 1.0:
                continue
            done = self._complete(walk.code, None, set(pool.pos), pool)
            if done is None or not done.code.startswith("O"):
                continue
            shown = "Pregnancy, complicated by, " + ", ".join(self.tree.nodes[n].term for n in walk.nodes)
            out.append(Cand(done.code, done.title, set(c.evidence), f"Index: {shown} \u2192 {walk.code}; a "
                            "condition in pregnancy is coded to chapter 15 first (Guidelines I.C.15.a.1)", c.confidence,
                            "index", c.order, c.section, m))
            notes = self._note_list(done.code, "use_additional")
            wanted = any(_covers(lo, hi, c.code, loose=True) for note in notes for lo, hi, _e in _refs(note)) or \
                any("condition" in note.lower() and not _refs(note) for note in notes)
            if wanted:
                c.keep_with.add(done.code)
                c.rationale += f"; use additional code with {done.code} (Tabular note)"
            else:
                replaced.add(c.code)
        self._replaced = replaced
        return out

    def _obstetric(self, cands: list[Cand]) -> list[Cand]:
        """Weeks of gestation (Z3A) and outcome of delivery (Z37) with chapter 15 codes."""
        f = self.feats
        if not f.pregnant or not any(c.code.startswith("O") for c in cands):
            return []
        out = []
        toks = self.note.tokens
        if f.weeks is not None:
            key = "Z3A.01" if f.weeks < 8 else "Z3A.49" if f.weeks > 42 else f"Z3A.{f.weeks:02d}"
            found = self.book.find(ICD10CM, key, self.when)
            if found is not None and found.status == "active" and found.billable:
                ev = {t.i for t in toks if f.weeks_span[0] <= t.start < f.weeks_span[1]}
                out.append(Cand(found.code, found.title, ev, f"Index: Pregnancy, weeks of gestation \u2192 {key}; "
                                "weeks of gestation with the obstetric codes (Tabular: Z3A)", 0.85, "rule",
                                min(ev) if ev else 0, "other", priority=7))
        if f.delivered:
            words = set()
            evt = set()
            for t in toks:
                if t.low in ("single", "singleton", "twin", "twins", "triplets", "liveborn", "live", "stillborn",
                             "stillbirth", "born"):
                    words.add(t.stem)
                    evt.add(t.i)
            pool = Pool()
            for w in words or {canon("single"), canon("liveborn")}:
                pool.add(w, min(evt) if evt else 0)
            if canon("live") in words:
                pool.add(canon("liveborn"), min(evt))
            if not words & {canon("twin"), canon("twins"), canon("triplets")}:
                pool.add(canon("single"), min(evt) if evt else 0)
            if not words & {canon("stillborn"), canon("stillbirth")}:
                pool.add(canon("liveborn"), min(evt) if evt else 0)
            nid = self.tree.find_path("Outcome of delivery")
            walk = self.tree.walk(nid, pool, skips=0) if nid else None
            if walk and walk.nodes and walk.code:
                done = self.completer.complete(walk.code, set(pool.pos), set())
                if done:
                    shown = "Outcome of delivery, " + ", ".join(self.tree.nodes[n].term for n in walk.nodes)
                    ev = evt or {t.i for t in toks if t.low in ("delivery", "delivered")}
                    out.append(Cand(done.code, done.title, ev, f"Index: {shown} \u2192 {walk.code}; outcome of "
                                    "delivery on the mother's record (Guidelines I.C.15.b.5)", 0.8, "rule",
                                    max(ev) if ev else 0, "other", priority=8))
        return out

    def _bmi(self, cands: list[Cand]) -> list[Cand]:
        """BMI (Z68) only with an associated weight diagnosis (Guidelines I.B.14)."""
        if not any(c.code.startswith(("E66", "E43", "E44", "E45", "E46", "R63", "E88.8")) for c in cands):
            return []
        m = _BMI.search(self.text)
        if not m:
            return []
        value = float(m.group(1))
        percentile = "percentile" in m.group(0).lower()
        age = self.feats.age
        pediatric = percentile or (age is not None and 2 <= age < 20)
        if pediatric and not percentile:
            return []
        best = None
        for code in self.book.billable_descendants(ICD10CM, "Z68", self.when):
            title = code.title.lower()
            if pediatric != ("pediatric" in title):
                continue
            if _in_bmi_range(title, value, percentile):
                best = code
                break
        if best is None:
            return []
        ev = {t.i for t in self.note.tokens if m.start() <= t.start < m.end()}
        return [Cand(best.code, best.title, ev, f"Tabular: {best.code} {best.title}; BMI with an associated "
                     "diagnosis (Guidelines I.B.14)", 0.8, "rule", min(ev), "other", priority=8)]

    def _exam_and_follow_up(self, cands: list[Cand]) -> list[Cand]:
        out = []
        definite = [c for c in cands if c.code[:1] not in "Z" and not c.symptom]
        # routine examinations: with abnormal findings when another condition is coded (I.C.21.c.12)
        for c in cands:
            if not c.code.startswith(("Z00.0", "Z00.1", "Z01.0", "Z01.1", "Z01.4", "Z00.12")):
                continue
            child = self.feats.age is not None and self.feats.age < 18
            if child or c.code.startswith("Z00.1"):
                base = "Examination, child"
            elif c.code.startswith("Z00.0"):
                base = "Examination, medical, general"
            elif c.code.startswith("Z01.4"):
                base = "Examination, gynecological"
            else:
                continue
            pool = Pool(anchor=c.order)
            if definite:
                for w in words_of("with abnormal findings"):
                    pool.add(w, c.order)
            nid = self.tree.find_path(base)
            if nid is None:
                continue
            walk = self.tree.walk(nid, pool, skips=0)
            code = walk.code if walk.nodes else self.tree.nodes[nid].code
            done = self.completer.complete(code, set(), set()) if code else None
            if done and done.code != c.code:
                c.code, c.title = done.code, done.title
                c.rationale = (f"Index: {base}" + "".join(", " + self.tree.nodes[n].term for n in walk.nodes) +
                               f" \u2192 {code}; routine examination" + (" with abnormal findings, the findings coded "
                                                                         "too" if definite else "") +
                               " (Guidelines I.C.21.c.12)")
        # follow-up after completed treatment: the condition no longer exists (I.C.21.c.8)
        if self.feats.follow_up and not definite:
            past = [c for c in cands if c.code.startswith(("Z85", "Z86", "Z87")) and c.origin == "rule"]
            if past:
                code = "Z08" if any(c.code.startswith("Z85") for c in past) else "Z09"
                found = self.book.find(ICD10CM, code, self.when)
                if found is not None and found.billable and found.status == "active":
                    ev = {t.i for t in self.note.tokens if t.low in ("follow", "follow-up", "surveillance", "after",
                                                                     "up") and t.sentence <= 1}
                    path = ("Examination, follow-up, malignant neoplasm" if code == "Z08" else
                            "Examination, follow-up")
                    out.append(Cand(found.code, found.title, ev or {0}, f"Index: {path} \u2192 {code}; follow-up "
                                    "after completed treatment, condition no longer present (Guidelines I.C.21.c.8)",
                                    0.8, "rule", -1, "other", priority=1))
        return out

    # --- checks, sequencing, output ---------------------------------------------------------------------
    def _clean(self, cands: list[Cand]) -> list[Cand]:
        # the Book has the last word: valid and billable on the date
        valid = []
        for c in cands:
            found = self.book.find(ICD10CM, c.code, self.when)
            if found is None or found.status != "active" or not found.billable:
                self.warnings.append(f"{c.code} is not a billable code on {self.when.isoformat()}; not suggested")
                continue
            c.title = found.title
            valid.append(c)
        cands = valid
        replaced = getattr(self, "_replaced", set())
        cands = [c for c in cands if c.code not in replaced]
        # a symptom a combination took in is not coded from another sentence either
        dropped = getattr(self, "_dropped_codes", set()) - getattr(self, "_owner_codes", set())
        cands = [c for c in cands if not (c.code in dropped and c.symptom) or c.keep_with]
        # one suggestion per code: evidence merged
        merged: dict[str, Cand] = {}
        for c in cands:
            if c.section == "assessment":
                c.aorder = c.order
        for c in sorted(cands, key=lambda c: (c.order, -c.confidence)):
            have = merged.get(c.code)
            if have is None:
                merged[c.code] = c
                continue
            have.evidence |= c.evidence
            have.confidence = max(have.confidence, c.confidence)
            have.keep_with |= c.keep_with
            if c.section == "assessment" and have.section != "assessment":
                have.section = "assessment"
            if c.aorder is not None:
                have.aorder = c.aorder if have.aorder is None else min(have.aorder, c.aorder)
        cands = list(merged.values())
        cands = self._newborn_and_maternal(cands)
        cands = self._assessment_wins(cands)
        cands = self._same_category(cands)
        cands = self._integral_symptoms(cands)
        cands = self._excludes1(cands)
        cands = self._o80(cands)
        return cands

    def _newborn_and_maternal(self, cands: list[Cand]) -> list[Cand]:
        if self.feats.newborn:
            kept = [c for c in cands if not (c.code.startswith("O") or c.code.startswith(("Z37", "Z3A")))]
            if len(kept) < len(cands):
                self.warnings.append("maternal codes (chapter 15, Z37, Z3A) left off the newborn's record "
                                     "(Tabular: chapter 15 note)")
            return kept
        return [c for c in cands if not c.code.startswith("Z38")]

    def _assessment_wins(self, cands: list[Cand]) -> list[Cand]:
        """A condition the narrative names loosely ("anxiety and depression") gives way to what the
        assessment diagnoses in the same category ("generalized anxiety disorder")."""
        stated = {c.code[:3] for c in cands if c.section == "assessment" and c.origin == "index"}
        out = []
        for c in cands:
            if c.section != "assessment" and c.origin == "index" and c.code[:3] in stated and \
                    c.code not in {o.code for o in cands if o.section == "assessment"}:
                continue
            out.append(c)
        return out

    def _same_category(self, cands: list[Cand]) -> list[Cand]:
        """Within a category, an unspecified or uncomplicated code gives way to a specific one; an
        unspecified injury gives way to a specified injury of the same body region (S80-S89...); a personal
        history of malignancy is not coded beside a current one (Guidelines I.C.2.d)."""
        out = []
        for c in cands:
            if _weak_title(c.title):
                rivals = [o for o in cands if o is not c and o.code[:3] == c.code[:3] and not _weak_title(o.title)]
                if rivals:
                    continue
                # "Dorsalgia, unspecified" beside "Low back pain, unspecified": the longer code says more
                if any(o is not c and o.code[:3] == c.code[:3] and len(o.code) > len(c.code) and
                       o.code.startswith(c.code[:4]) for o in cands):
                    continue
                if c.code[:1] == "S" and c.title.lower().startswith("unspecified injury") and any(
                        o is not c and o.code[:2] == c.code[:2] and o.origin == "index" and
                        not o.title.lower().startswith("unspecified injury") for o in cands):
                    continue
            if c.code.startswith("Z85") and any(o.code[:1] == "C" for o in cands):
                continue
            out.append(c)
        return out

    def _integral_symptoms(self, cands: list[Cand]) -> list[Cand]:
        """Signs and symptoms routinely part of a confirmed diagnosis are not coded (I.B.5, I.C.18.b);
        they are when no related definitive diagnosis is made (I.B.4, IV.D)."""
        definite = [c for c in cands if not c.symptom and c.code[:1] not in "ZVWXY"]
        if not definite:
            return cands
        out = []
        for c in cands:
            if not c.symptom:
                out.append(c)
                continue
            same_clause = c.mention is not None and any(d.mention is not None and d.mention.clause == c.mention.clause
                                                        for d in definite)
            if c.section == "assessment" and not same_clause and not self._excluded_by(c, definite):
                out.append(c)
                continue
        return out

    def _excluded_by(self, c: Cand, others: list[Cand]) -> bool:
        for kind in ("excludes1", "excludes2"):
            for note in self._note_list(c.code, kind):
                for lo, hi, exact in _refs(note):
                    if any(_covers(lo, hi, o.code) for o in others):
                        return True
        return False

    def _excludes1(self, cands: list[Cand]) -> list[Cand]:
        drop: set[int] = set()
        for i, a in enumerate(cands):
            for note in self._note_list(a.code, "excludes1"):
                refs = _refs(note)
                for j, b in enumerate(cands):
                    if i == j or i in drop or j in drop:
                        continue
                    if any(_covers(lo, hi, b.code) for lo, hi, _e in refs):
                        loser = self._excludes_loser(a, b)
                        if loser is None:
                            self.warnings.append(f"Excludes1: {a.code} and {b.code} are not coded together unless "
                                                 f"the conditions are unrelated (Tabular: {a.code} \"{_clip(note)}\"; "
                                                 "Guidelines I.A.12.a) - review")
                            continue
                        drop.add(i if loser is a else j)
                        self.warnings.append(f"Excludes1: {loser.code} left off; {a.code} excludes "
                                             f"\"{_clip(note)}\" and {(b if loser is a else a).code} is coded "
                                             "(Guidelines I.A.12.a)")
        return [c for k, c in enumerate(cands) if k not in drop]

    def _excludes_loser(self, a: Cand, b: Cand) -> Cand | None:
        if a.symptom != b.symptom:
            return a if a.symptom else b
        if (a.code[:1] == "Z") != (b.code[:1] == "Z"):
            return a if a.code[:1] == "Z" else b  # "tobacco use" gives way to the nicotine dependence
        if _weak_title(a.title) != _weak_title(b.title):
            return a if _weak_title(a.title) else b
        if a.origin != b.origin and "rule" in (a.origin, b.origin) and a.code[:1] == b.code[:1] == "Z":
            return None
        if a.section != b.section and "assessment" in (a.section, b.section):
            return a if b.section == "assessment" else b
        if a.confidence != b.confidence and abs(a.confidence - b.confidence) >= 0.15:
            return a if a.confidence < b.confidence else b
        return None

    def _o80(self, cands: list[Cand]) -> list[Cand]:
        """O80 (uncomplicated delivery) is never reported with another chapter 15 code (I.C.15.b.4)."""
        others = [c for c in cands if c.code.startswith("O") and c.code != "O80"]
        if others and any(c.code == "O80" for c in cands):
            self.warnings.append("O80 left off: another chapter 15 code is reported (Guidelines I.C.15.b.4)")
            return [c for c in cands if c.code != "O80"]
        return cands

    def _sequence(self, cands: list[Cand]) -> list[Cand]:
        principal_cue = self._admitted_for()
        for c in cands:
            code = c.code
            if c.priority in (0, 1):
                continue
            if code.startswith("O"):
                c.priority = 2
            elif code[:1] in "ST" and c.origin == "index":
                c.priority = 3
            elif code[:1] in "VWXY":
                c.priority = 9
            elif code.startswith(("Z00", "Z01")) and self.feats.exam:
                c.priority = 1
            elif code[:1] == "Z" or c.origin == "rule":
                if c.priority == 5:
                    c.priority = 6 if c.code.startswith(("Z23", "Z91.01", "Z91.0")) else 8
            elif c.symptom:
                c.priority = 7
            else:
                c.priority = 4 if c.section == "assessment" or (principal_cue is not None and
                                                                 c.mention is not None and
                                                                 c.mention.clause == principal_cue) else 5
        cands.sort(key=lambda c: (c.priority, c.order if c.priority != 4 else self._assessment_order(c)))
        # etiology before manifestation, a combination before its use-additional partner
        for _ in range(2):
            for c in list(cands):
                for note in self._note_list(c.code, "code_first"):
                    for lo, hi, _e in _refs(note):
                        first = next((o for o in cands if o is not c and _covers(lo, hi, o.code)), None)
                        if first is not None and cands.index(first) > cands.index(c):
                            cands.remove(first)
                            cands.insert(cands.index(c), first)
                for partner in list(cands):
                    if c.code in partner.keep_with and cands.index(partner) < cands.index(c):
                        cands.remove(partner)
                        cands.insert(cands.index(c) + 1, partner)
        return cands

    def _assessment_order(self, c: Cand) -> int:
        return c.aorder if c.aorder is not None else c.order

    def _admitted_for(self) -> int | None:
        if self.setting != "inpatient":
            return None
        for t in self.note.tokens:
            if t.low == "admitted":
                return t.clause
        return None

    def _result(self, cands: list[Cand]) -> Result:
        cands = self._sequence(cands)
        first_ok = bool(cands) and cands[0].priority < 9
        out = []
        for k, c in enumerate(cands):
            out.append(Suggestion("icd10cm", c.code, c.title, first_ok and k == 0, c.confidence,
                                  self._spans(c.evidence), c.rationale))
        if not out:
            self.warnings.append("no codable condition found in the note: no codes suggested")
        seen = set()
        warnings = [w for w in self.warnings if not (w in seen or seen.add(w))]
        return Result(out, warnings)

    def _spans(self, positions: set[int]) -> list[Span]:
        toks = self.note.tokens
        ranges = sorted({(toks[i].start, toks[i].end) for i in positions if 0 <= i < len(toks)
                         and toks[i].kind != "punct"})
        merged: list[list[int]] = []
        for s, e in ranges:
            if merged and (s <= merged[-1][1] or _joinable(self.text[merged[-1][1]:s])):
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        return [Span(s, e, self.text[s:e]) for s, e in merged]

    def _surface(self, m: Mention) -> str:
        spans = self._spans(m.used)
        return " ... ".join(s.text for s in spans)[:120]

    # --- the Book's notes --------------------------------------------------------------------------------
    def _note_list(self, code: str, kind: str) -> list[str]:
        got = self._notes.get(code)
        if got is None:
            got = self._notes[code] = _book_notes(self.book, code, self.when)
        return got.get(kind, [])


# --- helpers -----------------------------------------------------------------------------------------

_NOTES_CACHE: dict[tuple, dict] = {}


def _book_notes(book, code: str, when: date) -> dict[str, list[str]]:
    """A code's instructional notes by kind (own and inherited), read once per book and date."""
    key = (id(book), getattr(book, "identity", None), code, when)
    got = _NOTES_CACHE.get(key)
    if got is None:
        got = {}
        try:
            for n in book.notes(ICD10CM, code, when):
                got.setdefault(n.kind, []).append(n.text)
        except Exception:
            pass
        if len(_NOTES_CACHE) > 20_000:
            _NOTES_CACHE.clear()
        _NOTES_CACHE[key] = got
    return got


def _refs(note: str) -> list[tuple[str, str, bool]]:
    """The codes a Tabular note names: (low, high, exact) per code or range ("E16.A-", "P70-P74")."""
    out = []
    for m in _CODE_REF.finditer(note):
        lo, hi, dash = m.group(1), m.group(2), m.group(3)
        if hi:
            out.append((lo, hi, False))
        else:
            out.append((lo, lo, not dash and len(lo.replace(".", "")) > 3))
    return out


def _covers(lo: str, hi: str, code: str, loose: bool = False) -> bool:
    c = code.replace(".", "")
    a, b = lo.replace(".", ""), hi.replace(".", "")
    if loose:
        a, b = a[:3], b[:3]
    if a == b:
        return c.startswith(a)
    return a <= c[:len(a)] and c[:len(b)] <= b


_SIDE_WORDS = {canon(w) for w in ("unspecified", "right", "left", "bilateral", "side", "eye", "ear", "site",
                                    "initial", "encounter", "subsequent", "sequela")}
_WEAK_WORDS = re.compile(r"\b(unspecified|uncomplicated|without complications?|NOS)\b", re.I)


def _weak_title(title: str) -> bool:
    return bool(_WEAK_WORDS.search(title))


def _joinable(gap: str) -> bool:
    g = gap.strip()
    return len(gap) <= 3 and g in ("", "-", "'", "/")


def _clip(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[:n - 1] + "\u2026"


def _in_bmi_range(title: str, value: float, percentile: bool) -> bool:
    """Whether a BMI value (adult kg/m2, or a pediatric percentile) falls in a Z68 code's title range."""
    if percentile:
        head = title.split("to less than")[0]
        if "%" in head:
            return False  # bounds in % of the 95th percentile: a percentile alone does not say
        lo = re.search(r"pediatric, (\d+)(?:st|nd|rd|th) percentile", title)
        only_below = re.search(r"pediatric, less than (\d+)(?:st|nd|rd|th)", title)
        hi = re.search(r"to less than (\d+)(?:st|nd|rd|th) percentile", title)
        if only_below:
            return value < float(only_below.group(1))
        if lo is None:
            return False
        upper = float(hi.group(1)) if hi else 101.0
        return float(lo.group(1)) <= value < upper
    r = re.search(r"(\d+(?:\.\d)?)\s*-\s*(\d+(?:\.\d)?)", title)
    if r:
        return float(r.group(1)) <= value <= float(r.group(2)) + 0.05
    m = re.search(r"(\d+(?:\.\d)?)\s*or (less|greater)|less than (\d+(?:\.\d)?)|(\d+(?:\.\d)?)\s*(?:and|or) over",
                  title)
    if m:
        if m.group(1):
            return value <= float(m.group(1)) if m.group(2) == "less" else value >= float(m.group(1))
        if m.group(3):
            return value < float(m.group(3))
        if m.group(4):
            return value >= float(m.group(4))
    return False
