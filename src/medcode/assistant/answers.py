"""One composer per intent. Each states only what a book look-up returned, and cites it."""

from __future__ import annotations

import re
from datetime import date

from medcode.codebook.codes import CPT, HCPCS, ICD9CM, ICD10CM, ICD10PCS, MODIFIER, POS, SYSTEM_LABELS, normalize
from medcode.codebook.references import ICD10CM_GUIDELINES, NCCI_POLICY

from .codetokens import Found, Resolver
from .model import Answer, Citation
from .text import best_sentences, content_stems, overlap, phrase_score, words

IDK = ("I don't know: I found nothing in the codebook's sources (code sets, official guidelines, NCCI and "
       "CMS manuals) that answers this, so I will not guess. Try naming the code you mean, or ask about a coding "
       "rule in the words the guidelines use.")

NOTE_LABELS = {
    "includes": "Includes", "inclusion_terms": "Inclusion terms", "excludes1": "Excludes1", "excludes2": "Excludes2",
    "code_first": "Code first", "use_additional": "Use additional code", "code_also": "Code also", "notes": "Note",
    "seventh_note": "7th character note",
}
# The guideline section that defines each note, and the words that pick its defining sentence.
NOTE_GUIDELINE = {
    "excludes1": ("I.A.12.a", "excludes1 note code excluded never used same time"),
    "excludes2": ("I.A.12.b", "excludes2 note acceptable use both code excluded together"),
    "code_first": ("I.A.13", "code first underlying condition sequenced first manifestation"),
    "use_additional": ("I.A.13", "use additional code manifestation etiology sequenced"),
    "code_also": ("I.A.17", "code also two codes may be required sequencing"),
}
INTENT_KINDS = {
    "excludes1": ["excludes1"], "excludes2": ["excludes2"], "excludes": ["excludes1", "excludes2"],
    "code_first": ["code_first"], "use_additional": ["use_additional", "code_also"], "code_also": ["code_also"],
    "includes": ["includes", "inclusion_terms"],
    "notes": ["includes", "inclusion_terms", "excludes1", "excludes2", "code_first", "use_additional", "code_also",
              "notes", "seventh_note"],
}
ORIGIN_KIND = {"chapter": "chapter", "block": "block", "category": "category", "subcategory": "subcategory",
               "extension": "code"}
# ICD-10-CM 7th characters: words of a question -> the meaning they name
ENCOUNTER_WORDS = ("sequela", "initial", "subsequent")


def code_url(system: str, code: str) -> str:
    return f"/codes/{system}/{code}"


def section_url(source: str, ref: str) -> str:
    if source == ICD10CM_GUIDELINES:
        return f"/guidelines/{ref}"
    return f"/references/{source}/{ref}"


def tabular_source(code) -> str:
    return code.release


class Builder:
    """What one answer is made of: lines of markdown, citations and facts."""

    def __init__(self, book, question: str, when: date, found: list[Found], resolver: Resolver, intent: str):
        self.book = book
        self.q = question
        self.when = when
        self.found = found
        self.r = resolver
        self.intent = intent
        self.lines: list[str] = []
        self.citations: list[Citation] = []
        self.facts: list[str] = []
        self.confident = True
        self.stems = content_stems(question)

    # pieces
    def cite(self, source: str, ref: str, url: str) -> None:
        if not any(c.source == source and c.ref == ref for c in self.citations):
            self.citations.append(Citation(source, ref, url))

    def cite_code(self, code) -> None:
        if code.kind == "chapter":
            self.cite(tabular_source(code), f"Chapter {code.code}", f"/browse/{code.system}/{code.code}")
        elif code.kind == "block":
            self.cite(tabular_source(code), code.code, f"/browse/{code.system}/{code.code}")
        else:
            self.cite(tabular_source(code), code.code, code_url(code.system, code.code))

    def fact(self, text: str, ref: str) -> None:
        self.facts.append(f"{text} [{ref}]")

    def say(self, *lines: str) -> None:
        self.lines.extend(lines)

    def codes(self, *systems: str) -> list[Found]:
        seen, out = set(), []
        for f in self.found:
            if (not systems or f.system in systems) and (f.system, f.code) not in seen:
                seen.add((f.system, f.code))
                out.append(f)
        return out

    def done(self, confident: bool | None = None) -> Answer:
        if confident is not None:
            self.confident = confident
        md = "\n".join(self.lines).strip()
        if self.citations:
            md += "\n\n**Sources:** " + "; ".join(f"[{c.source}, {c.ref}]({c.url})" for c in self.citations)
        return Answer(markdown=md, citations=self.citations, codes=[], intent=self.intent,
                      confident=self.confident, facts=self.facts, context={})

    def link(self, system: str, code: str) -> str:
        return f"[{code}]({code_url(system, code)})"

    def on(self) -> str:
        return self.when.isoformat()


def answer(b: Builder) -> Answer:
    handler = HANDLERS.get(b.intent)
    if handler is None:
        handler = meaning if b.found else guideline
    return handler(b)


# --- codes: existence first ------------------------------------------------------------------

def _code_or_explain(b: Builder, f: Found):
    """The book's record of a code valid on the date, or None after saying why there is none."""
    label = SYSTEM_LABELS.get(f.system, f.system)
    code = b.r.find(f.system, f.code)
    if code is None:
        # named as the question wrote it ("i109"): an answer does not spell out a code that does not exist
        shown = f.text if f.start >= 0 and f.text and f.text != f.text.upper() else f.code
        b.say(f"**{shown}** is not a valid {label} code: it does not exist in the code set held for {b.on()}.")
        b.fact(f"{shown} does not exist in {label}", shown)
        near = []
        if f.system in (ICD10CM, ICD10PCS, HCPCS):
            try:
                near = b.book.nearest(f.system, f.code, b.when, limit=5)
            except Exception:  # noqa: BLE001
                near = []
        if near:
            b.say("", "Nearest valid codes:")
            for c in near:
                b.say(f"- {b.link(c.system, c.code)} {c.title}" + ("" if c.billable else " (header, not billable)"))
                b.cite_code(c)
        b.confident = True
        return None
    if code.status != "active":
        b.say(f"**{code.code}** ({code.title}) is not valid on {b.on()}: "
              + (f"it was deleted; it was valid {code.valid_from.isoformat()} to {code.valid_to.isoformat()}."
                 if code.status == "deleted" else f"it takes effect on {code.valid_from.isoformat()}."))
        b.cite_code(code)
        b.fact(f"{code.code} is not valid on {b.on()} (status {code.status})", code.code)
        return None
    return code


def _change_note(b: Builder, code) -> str | None:
    """How the code's billability or title changed at the version in effect (e.g. a code the FY2027
    addenda turned into a header), from the book's code history."""
    try:
        versions = b.book.history(code.system, code.code)
    except Exception:  # noqa: BLE001
        return None
    before = [v for v in versions if v.valid_to is not None and v.valid_to < code.valid_from]
    if not before:
        return None
    prev = before[-1]
    if prev.billable != code.billable:
        was = "billable" if prev.billable else "a header (not billable)"
        now = "billable" if code.billable else "a header with more specific codes below it"
        return (f"Until {prev.valid_to.isoformat()} ({prev.release}) {code.code} was {was}; from "
                f"{code.valid_from.isoformat()} ({code.release}) it is {now}.")
    if prev.title != code.title:
        return f"Until {prev.valid_to.isoformat()} its title was \"{prev.title}\" ({prev.release})."
    return None


def _chain(b: Builder, code) -> list:
    try:
        return b.book.ancestors(code.system, code.code, b.when)
    except Exception:  # noqa: BLE001
        return []


# --- meaning ---------------------------------------------------------------------------------

def meaning(b: Builder) -> Answer:
    found = b.codes()
    if not found:
        return guideline(b)
    for f in found[:3]:
        if f.system == ICD9CM:
            _icd9_meaning(b, f)
            continue
        code = _code_or_explain(b, f)
        if code is None:
            b.say("")
            continue
        if f.system == ICD10CM:
            _cm_meaning(b, code)
        elif f.system == ICD10PCS:
            _pcs_meaning(b, code)
        elif f.system == HCPCS:
            _hcpcs_meaning(b, code)
        elif f.system == CPT:
            _cpt_meaning(b, code)
        elif f.system == MODIFIER:
            return modifier(b)
        elif f.system == POS:
            return place_of_service(b)
        b.say("")
    return b.done()


def _cm_meaning(b: Builder, code) -> None:
    b.say(f"**{code.code}** — {code.title} (ICD-10-CM)", "")
    b.fact(f"{code.code}: {code.title}", code.code)
    b.cite_code(code)
    if code.billable:
        b.say(f"- Billable: yes, a complete code valid on {b.on()}.")
    else:
        kids = b.book.billable_descendants(ICD10CM, code.code, b.when, limit=200)
        b.say(f"- Billable: no — {code.code} is a {code.kind} header; report one of its {len(kids)} billable codes "
              "(ask *which codes are below " + code.code + "?*).")
    change = _change_note(b, code)
    if change:
        b.say(f"- {change}")
        b.fact(change, code.code)
    chain = _chain(b, code)
    if chain:
        b.say("- Hierarchy: " + " › ".join(f"{a.code} {a.title}" if a.kind != "chapter" else
                                           f"Chapter {a.code}: {a.title}" for a in chain))
    notes = b.book.notes_by_kind(ICD10CM, code.code, b.when)
    own = [n for n in notes.get("inclusion_terms", []) if n.origin == code.code][:4]
    if own:
        b.say("- Inclusion terms: " + "; ".join(n.text for n in own))
    counts = {k: len([n for n in v]) for k, v in notes.items() if v and k in ("excludes1", "excludes2", "code_first",
                                                                           "use_additional", "code_also")}
    if counts:
        b.say("- Instructional notes apply (" + ", ".join(f"{NOTE_LABELS[k]}: {n}" for k, n in counts.items())
              + "); ask for them by name.")


def _pcs_meaning(b: Builder, code) -> None:
    b.say(f"**{code.code}** — {code.title} (ICD-10-PCS)", "")
    b.fact(f"{code.code}: {code.title}", code.code)
    b.cite_code(code)
    axes = b.book.pcs_axes(code.code)
    if axes:
        b.say("| Character | Axis | Value | Meaning |", "|---|---|---|---|")
        for a in axes:
            meaning_ = a["label"] + (f": {a['definition']}" if a.get("definition") else "")
            b.say(f"| {a['pos']} | {a['title']} | {a['value']} | {meaning_} |")
            b.fact(f"{code.code} character {a['pos']} ({a['title']}) = {a['value']}, {a['label']}", code.code)


def _hcpcs_meaning(b: Builder, code) -> None:
    b.say(f"**{code.code}** — {code.title} (HCPCS Level II)", "")
    b.fact(f"{code.code}: {code.title}", code.code)
    b.cite_code(code)
    try:
        details = b.book.hcpcs_details(HCPCS, code.code, b.when) or {}
    except Exception:  # noqa: BLE001
        details = {}
    if details.get("coverage_code"):
        b.say(f"- Medicare coverage code: {details['coverage_code']}")
    b.say(f"- Valid on {b.on()} (since {code.valid_from.isoformat()}).")


def _cpt_meaning(b: Builder, code) -> None:
    b.say(f"**{code.code}** is a CPT code that the CMS files in effect on {b.on()} list ({code.release}). Its "
          "descriptor is AMA-copyrighted text that this codebook does not hold without a CPT license.", "")
    b.fact(f"{code.code} is a CPT code listed in CMS files on {b.on()}", code.code)
    b.cite_code(code)
    rvu = b.book.rvu(code.code, None, b.when)
    if rvu:
        b.say(f"- PFS status {rvu.status}, global period {rvu.global_days}, work RVU {rvu.work:g}, total RVUs "
              f"{rvu.total_nonfacility:g} (non-facility) / {rvu.total_facility:g} (facility).")
        b.cite(rvu.release, code.code, code_url(CPT, code.code))


def _icd9_meaning(b: Builder, f: Found) -> None:
    title = b.book.icd9_title(f.code)
    if title:
        b.say(f"**{f.code}** — {title} (ICD-9-CM, not valid for services after 2015-09-30).")
        b.fact(f"ICD-9-CM {f.code}: {title}", f.code)
    else:
        b.say(f"**{f.code}** is not an ICD-9-CM code in the GEMs' code list.")


# --- billability -----------------------------------------------------------------------------

def billable(b: Builder) -> Answer:
    for f in b.codes(ICD10CM, ICD10PCS, HCPCS, CPT)[:2]:
        code = _code_or_explain(b, f)
        if code is None:
            b.say("")
            continue
        b.cite_code(code)
        if code.billable:
            b.say(f"**Yes — {code.code} is billable** on {b.on()}: {code.title}. It is a complete code, valid for "
                  "claims.")
            b.fact(f"{code.code} ({code.title}) is billable on {b.on()}", code.code)
            change = _change_note(b, code)
            if change:
                b.say("", change)
            continue
        kids = b.book.billable_descendants(code.system, code.code, b.when, limit=300)
        b.say(f"**No — {code.code} is not billable** on {b.on()}: it is a {code.kind} header ({code.title}) and is "
              f"not valid on a claim. Report one of the {len(kids)} more specific codes below it:", "")
        change = _change_note(b, code)
        if change:
            b.say(change, "")
            b.fact(change, code.code)
        b.fact(f"{code.code} is a {code.kind} header, not billable; it has {len(kids)} billable codes", code.code)
        ranked = _rank(b, kids)
        for c in ranked[:15]:
            b.say(f"- {b.link(c.system, c.code)} {c.title}")
            b.fact(f"{c.code}: {c.title} (billable)", c.code)
        if len(kids) > 15:
            b.say(f"- … and {len(kids) - 15} more on the {b.link(code.system, code.code)} page.")
        best = _best_by_words(b, kids)
        if best:
            b.say("", f"For the words of your question the closest is **{best.code}** ({best.title}).")
        b.say("")
    return b.done()


def _rank(b: Builder, codes: list) -> list:
    return list(codes)


def _best_by_words(b: Builder, codes: list):
    """The code whose title shares clearly the most words with the question (None when none stands out)."""
    if not b.stems or not codes:
        return None
    scored = sorted(((phrase_score(b.q, c.title), c) for c in codes), key=lambda x: -x[0])
    if len(scored) > 1 and scored[0][0] - scored[1][0] < 0.5:
        return None
    return scored[0][1] if scored[0][0] >= 2 else None


# --- instructional notes ---------------------------------------------------------------------

def notes(b: Builder) -> Answer:
    kinds = INTENT_KINDS.get(b.intent, INTENT_KINDS["notes"])
    for f in b.codes(ICD10CM)[:2]:
        code = _code_or_explain(b, f)
        if code is None:
            b.say("")
            continue
        b.cite_code(code)
        grouped = b.book.notes_by_kind(ICD10CM, code.code, b.when)
        shown = 0
        b.say(f"**{code.code}** — {code.title}", "")
        for kind in kinds:
            items = grouped.get(kind, [])
            if not items:
                continue
            by_origin: dict[str, list] = {}
            for n in items:
                by_origin.setdefault(n.origin, []).append(n)
            for origin, ns in by_origin.items():
                where = "at this code" if origin == code.code else f"inherited from {_origin_label(b, origin)}"
                b.say(f"**{NOTE_LABELS[kind]}** ({where}):")
                for n in ns:
                    b.say(f"- {n.text}")
                    b.fact(f"{NOTE_LABELS[kind]} note at {origin}: {n.text}", origin)
                    shown += 1
                b.say("")
                if origin != code.code:
                    oc = b.r.find(ICD10CM, origin)
                    if oc is not None:
                        b.cite_code(oc)
        if not shown:
            names = " / ".join(NOTE_LABELS[k] for k in kinds) if b.intent != "notes" else "instructional"
            b.say(f"No {names} notes apply to {code.code}: none is printed at the code, its category, block or "
                  "chapter in the ICD-10-CM tabular.")
            b.fact(f"No {names} notes apply to {code.code}", code.code)
        else:
            hit = _note_matching_question(b, grouped, kinds)
            if hit:
                b.say(f"The note that matches your question: **{hit.text}** ({NOTE_LABELS[hit.kind]} at "
                      f"{hit.origin}).")
        for kind in kinds:
            if kind in NOTE_GUIDELINE and grouped.get(kind) and b.intent != "notes":
                _quote_guideline(b, *NOTE_GUIDELINE[kind])
    return b.done()


def _quote_guideline(b: Builder, ref: str, terms: str) -> None:
    """Quote the ICD-10-CM guideline section's sentence that best fits the terms, if any, and cite it."""
    gl = b.book.reference_section(ICD10CM_GUIDELINES, ref)
    quote = best_sentences(gl.text, content_stems(terms), n=1) if gl is not None else []
    if quote:
        b.say("", f"> {quote[0]} (guideline {gl.ref}, {gl.title})")
        b.fact(quote[0], f"{gl.release} {gl.ref}")
        b.cite(gl.release, gl.label, section_url(gl.source, gl.ref))


def _origin_label(b: Builder, origin: str) -> str:
    c = b.r.find(ICD10CM, origin)
    if c is None:
        return origin
    if c.kind == "chapter":
        return f"Chapter {c.code} ({c.title})"
    return f"{ORIGIN_KIND.get(c.kind, c.kind)} {c.code} ({c.title})"


def _note_matching_question(b: Builder, grouped: dict, kinds: list[str]):
    qs = [s for s in b.stems if s not in ("note", "exclud", "excludes1", "excludes2", "categori", "point", "list")]
    best, best_hits = None, 0
    for kind in kinds:
        for n in grouped.get(kind, []):
            hits = overlap(qs, n.text)[0]
            if hits > best_hits:
                best, best_hits = n, hits
    return best if best_hits >= 1 and len(qs) >= 1 else None


# --- 7th characters --------------------------------------------------------------------------

def seventh(b: Builder) -> Answer:
    for f in b.codes(ICD10CM)[:1]:
        code = _code_or_explain(b, f)
        if code is None:
            continue
        b.cite_code(code)
        base = code.parent if code.kind == "extension" and code.parent else code.code
        table = b.book.seventh_characters(ICD10CM, code.code, b.when)
        if not table:
            b.say(f"**{code.code}** ({code.title}) takes no 7th character: no 7th-character table applies to it or "
                  "its category.")
            b.fact(f"No 7th character applies to {code.code}", code.code)
            return b.done()
        origin = table[0].origin
        b.say(f"7th characters for **{base}** ({'defined at ' + origin}):", "")
        for s in table:
            b.say(f"- **{s.char}** — {s.meaning}")
            b.fact(f"7th character {s.char} at {origin}: {s.meaning}", origin)
        wanted = _seventh_wanted(b, table)
        if wanted:
            full = _with_seventh(base, wanted.char)
            real = b.r.find(ICD10CM, full)
            if real is not None and real.status == "active":
                b.say("", f"**{wanted.char}** means *{wanted.meaning}*: the complete code is "
                      f"{b.link(ICD10CM, real.code)} ({real.title}).")
                b.cite_code(real)
            else:
                b.say("", f"**{wanted.char}** means *{wanted.meaning}*.")
        for ref in ("I.A.5", "I.A.4"):
            gl = b.book.reference_section(ICD10CM_GUIDELINES, ref)
            if gl is not None:
                quote = best_sentences(gl.text, content_stems("7th character required placeholder X"), n=1)
                if quote:
                    b.say("", f"> {quote[0]} (guideline {gl.ref}, {gl.title})")
                    b.fact(quote[0], f"{gl.release} {gl.ref}")
                b.cite(gl.release, gl.label, section_url(gl.source, gl.ref))
    return b.done()


def _seventh_wanted(b: Builder, table):
    named = re.search(r"(?:7th|seventh)\s+(?:character|char|digit)\s+[\"'“]?([A-Za-z])\b(?![\"'”]?\s+(?:to|for|of)\b)|"
                      r"\bcharacter\s+[\"'“]?([A-Z])[\"'”]?\s+(?:mean|stand|for|indicate)", b.q)
    if named:
        char = (named.group(1) or named.group(2)).upper()
        for s in table:
            if s.char == char:
                return s
    t = b.q.lower()
    best, best_hits = None, 0
    qs = content_stems(b.q)
    for s in table:
        hits = overlap(qs, s.meaning)[0]
        if "sequela" in t and s.meaning.lower() == "sequela":
            hits += 3
        if hits > best_hits:
            best, best_hits = s, hits
    return best if best_hits >= 1 else None


def _with_seventh(code: str, char: str) -> str:
    compact = code.replace(".", "")
    compact = compact.ljust(6, "X")
    return normalize(compact + char, ICD10CM)


# --- hierarchy -------------------------------------------------------------------------------

def hierarchy(b: Builder) -> Answer:
    for f in b.codes(ICD10CM, ICD10PCS)[:2]:
        code = _code_or_explain(b, f)
        if code is None:
            continue
        b.cite_code(code)
        chain = _chain(b, code)
        b.say(f"**{code.code}** — {code.title}", "")
        chapter = next((a for a in chain if a.kind == "chapter"), None)
        if chapter:
            b.say(f"- Chapter {chapter.code}: **{chapter.title}**")
            b.fact(f"{code.code} is in chapter {chapter.code}, {chapter.title}", code.code)
        for a in chain:
            if a.kind == "chapter":
                continue
            b.say(f"- {a.kind.replace('_', ' ').capitalize()}: {a.code} {a.title}")
            b.fact(f"{code.code} is under {a.kind} {a.code} {a.title}", a.code)
        if code.system == ICD10CM and chapter:
            gl = b.book.reference_section(ICD10CM_GUIDELINES, f"I.C.{chapter.code}")
            if gl is not None:
                b.say(f"- Chapter-specific guidelines: section {gl.ref} ({gl.title}).")
                b.cite(gl.release, gl.label, section_url(gl.source, gl.ref))
        b.say("")
    return b.done()


def code_range(b: Builder) -> Answer:
    """'What code range covers external causes?': the chapter or block whose title says it."""
    qs = content_stems(b.q)
    qs = [s for s in qs if s not in ("rang", "cover", "chapter", "block", "cm", "pcs") and not s.isdigit()]
    best, best_score = None, 0.0
    for chapter in b.book.top_level(ICD10CM, b.when):
        hit, extra = overlap(qs, chapter.title)
        score = hit - 0.05 * extra
        if score > best_score:
            best, best_score = chapter, score
        if hit >= 1:
            for block in b.book.children(ICD10CM, chapter.code, b.when):
                h2, e2 = overlap(qs, block.title)
                s2 = h2 - 0.05 * e2 - 0.01
                if s2 > best_score:
                    best, best_score = block, s2
    if best is None or best_score < max(0.9, 0.5 * len(qs)):
        return guideline(b)
    kind = "Chapter " + best.code if best.kind == "chapter" else "Block " + best.code
    b.say(f"**{kind}: {best.title}** (ICD-10-CM).")
    b.fact(f"{kind}: {best.title}", best.code)
    b.cite_code(best)
    return b.done()


# --- GEMs ------------------------------------------------------------------------------------

def crosswalk(b: Builder) -> Answer:
    any_found = False
    for f in b.codes(ICD10CM, ICD9CM)[:2]:
        any_found = True
        if f.system == ICD9CM:
            rows = b.book.crosswalks(f.code, "icd9cm")
            title = b.book.icd9_title(f.code)
            if title is None and not rows:
                b.say(f"**{f.code}** is not an ICD-9-CM code in the GEMs.")
                continue
            b.say(f"ICD-9-CM **{f.code}**" + (f" ({title})" if title else "") + " maps to ICD-10-CM (GEMs, "
                  "ICD-9-CM to ICD-10-CM):", "")
            _gem_rows(b, rows, "target", f.code)
        else:
            code = _code_or_explain(b, f)
            if code is None:
                continue
            b.cite_code(code)
            rows = [r for r in b.book.crosswalks(code.code) if r.direction == "icd10cm->icd9cm"]
            back = [r for r in b.book.crosswalks(code.code) if r.direction == "icd9cm->icd10cm"]
            if not rows and not back:
                b.say(f"There is no GEM entry for **{code.code}** ({code.title}): it is not in the General "
                      "Equivalence Mappings, which CMS last published for FY2018, so there is no official ICD-9-CM "
                      "equivalent.")
                b.fact(f"{code.code} has no GEM entry (no official ICD-9-CM mapping)", code.code)
                _gem_relatives(b, code)
                continue
            b.say(f"ICD-10-CM **{code.code}** ({code.title}) maps to ICD-9-CM (GEMs):", "")
            if rows:
                _gem_rows(b, rows, "target", code.code)
            if back:
                b.say("", "ICD-9-CM codes that map to it (backward GEM): " + ", ".join(
                    f"{r.source} ({b.book.icd9_title(r.source) or 'ICD-9-CM'})" for r in back[:8]))
        if f.system == ICD10CM:
            b.cite("GEMs 2018", f.code, code_url(ICD10CM, f.code))
        else:
            target = next((r.target for r in b.book.crosswalks(f.code, "icd9cm") if r.target), None)
            b.cite("GEMs 2018", f"ICD-9-CM {f.code}", code_url(ICD10CM, target) if target else "/search?q=" + f.code)
        b.say("")
    if not any_found:
        return guideline(b)
    return b.done()


def _gem_rows(b: Builder, rows, column: str, src: str) -> None:
    if not rows:
        b.say("- No mapping in this direction.")
        return
    for r in rows[:12]:
        if r.no_map:
            b.say("- No map: the GEM says this code has no equivalent.")
            b.fact(f"{src}: no map in the GEM", src)
            continue
        target = r.target
        if column == "target" and r.direction == "icd9cm->icd10cm":
            c = b.r.find(ICD10CM, target)
            title = c.title if c is not None else ""
        else:
            title = r.target_title or ""
        flags = []
        if r.approximate:
            flags.append("approximate")
        if r.combination:
            flags.append(f"combination: scenario {r.scenario}, choice list {r.choice_list}")
        flag = f" ({'; '.join(flags)})" if flags else " (exact)"
        b.say(f"- **{target}** {title}{flag}")
        b.fact(f"GEM {r.direction}: {r.source} -> {target}{flag}", src)


def _gem_relatives(b: Builder, code) -> None:
    """For a code newer than the GEMs: how its category's older codes map (a hint, not an equivalent)."""
    parent = code.parent
    for _ in range(2):
        if not parent:
            return
        sib = [c for c in b.book.children(ICD10CM, parent, b.when) if c.code != code.code][:12]
        shown = 0
        for c in sib:
            rows = [r for r in b.book.crosswalks(c.code) if r.direction == "icd10cm->icd9cm" and r.target]
            if rows:
                if not shown:
                    b.say("", f"For orientation only, how codes next to it under {parent} map:")
                b.say(f"- {c.code} ({c.title}) → " + ", ".join(f"{r.target} ({r.target_title or ''})"
                                                             for r in rows[:2]))
                shown += 1
            if shown >= 3:
                return
        if shown:
            return
        up = b.r.find(ICD10CM, parent)
        parent = up.parent if up is not None else None


# --- NCCI PTP / MUE / add-on -----------------------------------------------------------------

def _setting(b: Builder) -> str:
    return "hospital" if re.search(r"hospital|outpatient\s+facility|opps|facility\s+claim", b.q, re.I) else "practitioner"


def ptp(b: Builder) -> Answer:
    procs = [f.code for f in b.codes(CPT, HCPCS)]
    setting = _setting(b)
    if len(procs) < 2:
        if procs:
            return _ptp_single(b, procs[0], setting)
        return guideline(b)
    for f in b.codes(CPT, HCPCS):
        c = b.r.find(f.system, f.code)
        if c is None or c.status != "active":
            _code_or_explain(b, f)
    pairs = [(a, c) for i, a in enumerate(procs) for c in procs[i + 1:]]
    mods = {f.code for f in b.codes(MODIFIER)}
    findings = _claim_check(b, procs, setting)
    any_edit = False
    for a, c in pairs[:6]:
        edit = b.book.ptp_edit(a, c, setting, b.when) or b.book.ptp_edit(c, a, setting, b.when)
        if edit is None:
            b.say(f"**{a} + {c}: no NCCI PTP edit** pairs these codes ({setting} edits in effect on {b.on()}); "
                  "the edit tables do not stop them being billed together (other payment rules still apply).")
            b.fact(f"No NCCI PTP edit between {a} and {c} ({setting}, {b.on()})", f"{a}/{c}")
            continue
        any_edit = True
        mod = edit.modifier
        verdict = ("**not together — no modifier can bypass this edit** (modifier indicator 0)" if mod == 0 else
                   "**only with an NCCI PTP-associated modifier** when clinically appropriate (modifier indicator 1)"
                   if mod == 1 else "the edit is not applied (modifier indicator 9)")
        b.say(f"**{edit.column1} + {edit.column2}: NCCI PTP edit** — column 1 **{edit.column1}**, column 2 "
              f"**{edit.column2}**. Billed together for the same patient on the same date, the column 2 code is "
              f"denied unless reported {verdict}.",
              "",
              f"- Effective {edit.effective.isoformat()}" + (f", deleted after {edit.deletion.isoformat()}"
                                                             if edit.deletion else "") + f"; rationale: {edit.rationale}.",
              f"- Setting: {edit.setting} ({edit.release}).")
        b.fact(f"NCCI PTP edit: column 1 {edit.column1}, column 2 {edit.column2}, modifier indicator {mod} "
               f"({edit.modifier_meaning}), rationale {edit.rationale}", f"{edit.column1}/{edit.column2}")
        b.cite(edit.release, f"{edit.column1}/{edit.column2}", code_url(CPT, edit.column1))
        for finding in findings:
            if finding.kind == "ptp" and {edit.column1, edit.column2} <= set(finding.codes or []):
                b.say(f"- Edit check ({finding.severity}): {finding.fix}")
                b.fact(f"Edit checker: {finding.message} {finding.fix}", f"{edit.column1}/{edit.column2}")
                break
        if mods and mod == 1:
            from medcode.codebook.book import NCCI_PTP_MODIFIERS

            ok = sorted(m for m in mods if m in NCCI_PTP_MODIFIERS)
            if ok:
                b.say(f"- Modifier {', '.join(ok)} is an NCCI PTP-associated modifier: appended to the column 2 code "
                      "it bypasses the edit when the documentation supports a separate site, session or encounter.")
        b.say("")
    _policy_passages(b, [NCCI_POLICY], extra=procs, n=1 if any_edit else 2)
    return b.done()


_LINE = re.compile(r"(?<![A-Za-z0-9])([0-9]{4}[0-9FTU]|[A-V][0-9]{4})((?:[-–][A-Za-z0-9]{2})*)(?![A-Za-z0-9])")


def _claim_check(b: Builder, procs: list[str], setting: str) -> list:
    """The claim edit checker (medcode.edits) over the question's codes as claim lines, with the modifiers
    written on them ("29881-59"); [] when the checker is not installed or cannot read them."""
    try:
        from medcode.edits import check_claim
    except ImportError:
        return []
    written = {m.group(1).upper(): m.group(1).upper() + m.group(2).upper().replace("–", "-")
               for m in _LINE.finditer(b.q)}
    tokens = [written.get(code, code) for code in procs][:50]
    try:
        return list(check_claim(b.book, tokens, setting, b.when))
    except Exception:  # noqa: BLE001 - ClaimError and the like: the book's tables still answer
        return []


def _ptp_single(b: Builder, code: str, setting: str) -> Answer:
    counts = b.book.ptp_counts(code, setting, b.when)
    b.say(f"**{code}** appears in {counts['column1']} NCCI PTP edits as column 1 and {counts['column2']} as column 2 "
          f"({setting}, in effect on {b.on()}). Name the other code to check a pair.")
    b.fact(f"{code}: {counts['column1']} PTP edits as column 1, {counts['column2']} as column 2", code)
    return b.done()


def mue(b: Builder) -> Answer:
    setting = _setting(b)
    for f in b.codes(CPT, HCPCS)[:3]:
        m = b.book.mue(f.code, setting, b.when)
        if m is None:
            b.say(f"**{f.code}**: no MUE in the {setting} table in effect on {b.on()}.")
            b.fact(f"No {setting} MUE for {f.code} on {b.on()}", f.code)
            continue
        b.say(f"**{f.code}** — MUE **{m.value}** unit(s) of service ({m.setting}); MAI {m.mai}: {m.mai_label}; "
              f"rationale: {m.rationale}.")
        b.fact(f"MUE {f.code} {m.setting}: {m.value} units, MAI {m.mai} ({m.mai_label})", f.code)
        b.cite(m.release, f.code, code_url(f.system, f.code))
    _policy_passages(b, [NCCI_POLICY], extra=["medically", "unlikely", "MUE"], n=1)
    return b.done()


def addon(b: Builder) -> Answer:
    for f in b.codes(CPT, HCPCS)[:2]:
        prim = b.book.addon_primaries(f.code, b.when)
        if prim:
            named = [e.primary for e in prim if e.primary]
            b.say(f"**{f.code}** is an add-on code (AOC type {prim[0].aoc_type}): report it only with a primary code"
                  + (": " + ", ".join(named[:25]) + (f" and {len(named) - 25} more" if len(named) > 25 else "")
                     if named else " that the contractor (MAC) defines") + ".")
            b.fact(f"{f.code} is an add-on code, type {prim[0].aoc_type}; primary codes: {', '.join(named[:25])}",
                   f.code)
            b.cite(prim[0].release, f.code, code_url(f.system, f.code))
            continue
        adds = b.book.addons_for(f.code, b.when)
        if adds:
            codes = sorted({e.addon for e in adds})
            b.say(f"**{f.code}** is not an add-on code; these add-on codes list it as a primary code: "
                  + ", ".join(codes[:25]) + ".")
            b.fact(f"Add-on codes with primary {f.code}: {', '.join(codes[:25])}", f.code)
            b.cite(adds[0].release, f.code, code_url(f.system, f.code))
        else:
            b.say(f"**{f.code}** is not an add-on code, and no add-on code edit in effect on {b.on()} names it as a "
                  "primary code.")
            b.fact(f"{f.code}: not an add-on code", f.code)
    _policy_passages(b, [NCCI_POLICY], extra=["add-on"], n=1)
    return b.done()


# --- RVUs ------------------------------------------------------------------------------------

def rvu(b: Builder) -> Answer:
    for f in b.codes(CPT, HCPCS)[:2]:
        rows = b.book.rvus(f.code, b.when)
        if not rows:
            b.say(f"**{f.code}**: no Physician Fee Schedule relative values in the file in effect on {b.on()}.")
            continue
        for r in rows:
            mod = f" with modifier {r.modifier}" if r.modifier else ""
            b.say(f"**{f.code}{mod}** (PFS status {r.status}; global period {r.global_days}):",
                  f"- Work RVU {r.work:g}; practice expense {r.pe_nonfacility:g} non-facility / {r.pe_facility:g} "
                  f"facility; malpractice {r.mp:g}",
                  f"- Total {r.total_nonfacility:g} non-facility / {r.total_facility:g} facility; conversion factor "
                  f"${r.conversion_factor:g}", "")
            b.fact(f"{f.code}{mod}: work {r.work:g}, PE {r.pe_nonfacility:g}/{r.pe_facility:g}, MP {r.mp:g}, total "
                   f"{r.total_nonfacility:g}/{r.total_facility:g}, global {r.global_days}, CF {r.conversion_factor:g}",
                   f.code)
            b.cite(r.release, f.code, code_url(f.system, f.code))
    if not b.citations:
        return guideline(b)
    return b.done()


# --- modifiers and place of service ----------------------------------------------------------

def modifier(b: Builder) -> Answer:
    from medcode.codebook.book import CPT_MODIFIERS_BY_NUMBER, NCCI_PTP_MODIFIERS

    for f in b.codes(MODIFIER)[:3]:
        code = b.r.find(MODIFIER, f.code)
        if code is None:
            b.say(f"**{f.code}** is not a modifier in the HCPCS Level II modifier list or the CPT modifiers named "
                  "in CMS publications.")
            b.fact(f"{f.code} is not a known modifier", f.code)
            continue
        if code.title:
            b.say(f"**Modifier {code.code}** — {code.title} (HCPCS Level II modifier).")
            b.fact(f"Modifier {code.code}: {code.title}", code.code)
            b.cite_code(code)
        else:
            b.say(f"**Modifier {code.code}** is a CPT (Level I) modifier; its CPT descriptor is AMA text this codebook "
                  f"does not hold. CMS describes its use in the {CPT_MODIFIERS_BY_NUMBER.get(code.code, 'CMS manuals')}:")
            b.fact(f"Modifier {code.code} is a CPT modifier", code.code)
        if code.code in NCCI_PTP_MODIFIERS:
            b.say(f"- It is an NCCI PTP-associated modifier: under the right clinical circumstances it bypasses a PTP "
                  "edit whose modifier indicator is 1.")
            b.fact(f"Modifier {code.code} is an NCCI PTP-associated modifier", "Chapter I, E")
        guidance = b.book.modifier_guidance(code.code, b.when)
        if guidance and guidance.get("information"):
            b.say(f"- {guidance['information']}")
        b.say("")
        _policy_passages(b, None, extra=["modifier", code.code], n=2,
                         must=rf"modifiers?\s*[“\"'‘]?\s*-?\s*{re.escape(code.code)}\b",
                         prefer=[NCCI_POLICY, "cms-claims-processing-ch12"])
    return b.done()


def place_of_service(b: Builder) -> Answer:
    for f in b.codes(POS)[:3]:
        code = b.r.find(POS, f.code)
        if code is None:
            b.say(f"**{f.code}** is not a place of service code in the CMS list held.")
            continue
        details = b.book.pos_details(code.code, b.when) or {}
        b.say(f"**Place of service {code.code}** — {code.title}" + (f" ({details['setting']} setting)"
                                                                    if details.get("setting") else "") + ".")
        if details.get("description"):
            b.say("", f"> {details['description']}")
        b.fact(f"POS {code.code}: {code.title}" + (f"; {details['description']}" if details.get("description") else ""),
               code.code)
        b.cite_code(code)
    return b.done()


# --- lookup by description -------------------------------------------------------------------

_BOILER = re.compile(r"\b(?:what|which|is|are|the|a|an|icd[\s-]*10[\s-]*(?:cm|pcs)|icd[\s-]*10|icd[\s-]*9(?:[\s-]*cm)?|"
                     r"icd10cm|icd10pcs|icd10|icd|cm|pcs|whats|what's|dx|diagnosis\s+code|procedure\s+code|"
                     r"cpt|hcpcs|level\s+ii|codes?|for|describes?|described|complete|full|correct|proper|right\s+code|"
                     r"appropriate|do|does|i|we|you|use|should|how|would|to|report|assign|in\s+fy\s*\d{4}|fy\s*\d{4}|"
                     r"please|tell|me|find|give|number)\b", re.I)
_PROCEDURE_WORDS = re.compile(r"procedure|surgery|surgical|placement|insertion|removal|ectomy|otomy|ostomy|plasty|"
                              r"scopy|repair|excision|resection|biopsy|transplant|implant|drainage|bypass|"
                              r"replacement|injection|infusion|delivery|cesarean|imaging|scan", re.I)


def _lookup_system(b: Builder) -> str | None:
    t = b.q.lower()
    if re.search(r"icd[\s-]?10[\s-]?pcs|\bpcs\b", t):
        return ICD10PCS
    if re.search(r"icd[\s-]?10[\s-]?cm|diagnos", t):
        return ICD10CM
    if re.search(r"\bhcpcs\b|level ii", t):
        return HCPCS
    if _PROCEDURE_WORDS.search(t):
        return None
    return ICD10CM


def lookup(b: Builder) -> Answer:
    from medcode.search import search

    system = _lookup_system(b)
    query = " ".join(_BOILER.sub(" ", b.q).replace("?", " ").split())
    if len(words(query)) == 0:
        return guideline(b)
    # a parenthetical aside ("(no further specification)", "(PEG)") may help or mislead the search:
    # both readings are searched and the one whose best hit scores higher is kept
    variants = [query]
    plain = " ".join(re.sub(r"\([^()]*\)", " ", query).split())
    if plain and plain != query:
        variants.append(plain)
    res: dict = {"results": []}
    for variant in variants:
        try:
            got = search(b.book, variant[:480], system=system, limit=8, date=b.when)
        except Exception:  # noqa: BLE001
            continue
        top_new = got["results"][0]["score"] if got.get("results") else -1
        top_old = res["results"][0]["score"] if res.get("results") else -1
        if top_new > top_old:
            res = got
    hits = list(res.get("results", []))
    hits = [h for h in hits if h.get("billable") or h.get("system") not in (ICD10CM, ICD10PCS)]
    if not hits:
        return guideline(b, fallback=True)
    qs = content_stems(query)
    best = _refine(b, hits, qs, system)
    top = hits[0]
    strong = top["score"] >= 0.9 or (best is not None and overlap(qs, best["title"])[0] >= max(2, 0.6 * len(qs)))
    if not strong and top["score"] < 0.6:
        return guideline(b, fallback=True)
    first = best or top
    sys_label = SYSTEM_LABELS.get(first["system"], first["system"])
    b.say(f"**{first['code']}** — {first['title']} ({sys_label})", "")
    b.say(f"- How it matched: {first.get('match') or 'code title'}"
          + (f" (spelling corrected to *{res['corrected_query']}*)" if res.get("corrected_query") else ""))
    b.fact(f"Best code for '{query}': {first['code']} {first['title']} (matched {first.get('match')})", first["code"])
    c = b.r.find(first["system"], first["code"])
    if c is not None:
        b.cite_code(c)
    others = [h for h in hits if h["code"] != first["code"] and h["score"] >= 0.6 * top["score"]][:4]
    if others:
        b.say("", "Other candidates:")
        for h in others:
            b.say(f"- {b.link(h['system'], h['code'])} {h['title']} — {h.get('match') or 'title'}")
            b.fact(f"Candidate {h['code']} {h['title']}", h["code"])
    b.say("", "Check the code's notes and the documentation before assigning it.")
    return b.done(confident=bool(strong))


def _refine(b: Builder, hits: list[dict], qs: list[str], system: str | None):
    """A more specific code under the top hits' categories whose full title says more of the question
    (search ranks index paths; the title of a 7-character code may match the words better)."""
    top = hits[0]
    top_hit, top_extra = overlap(qs, top["title"] + " " + (top.get("match") or ""))
    best_hit, best_extra = top_hit, overlap(qs, top["title"])[1]
    best = None
    cats = []
    for h in hits[:3]:
        if h["system"] == ICD10CM and h["code"][:3] not in cats:
            cats.append(h["code"][:3])
    d = b.when.isoformat()
    scored = []
    for cat in cats:
        rows = b.book.db.execute(
            "SELECT code, title FROM codes WHERE system='icd10cm' AND code>=? AND code<? AND billable=1 "
            "AND valid_from<=? AND (valid_to IS NULL OR valid_to>=?) LIMIT 4000", (cat, cat + "\uffff", d, d)).fetchall()
        for code, title in rows:
            hit, extra = overlap(qs, title)
            if hit > top_hit:
                scored.append((hit, -extra, code, title))
    if not scored:
        return None
    scored.sort(reverse=True)
    hit, neg_extra, code, title = scored[0]
    # only a code whose title says clearly more of the question than the top hit replaces it, and only
    # when it stands alone (many titles sharing the same few words are a guess, not a match)
    rivals = [s for s in scored[1:] if s[0] == hit and s[1] >= neg_extra - 1]
    if hit < top_hit + 1 or hit < 0.75 * len(qs) or rivals:
        return None
    return {"system": ICD10CM, "code": code, "title": title, "billable": True, "match": "title words: " + title}


# --- guidelines and policy texts -------------------------------------------------------------

_QUOTED = re.compile(r"[\"“‘']([^\"”’']{1,40})[\"”’']")


def _question(b: Builder, extra: list[str] | None = None):
    """The question as retrieval reads it (cached on the builder per set of extra words)."""
    from .retrieval import read

    cache = b.__dict__.setdefault("_questions", {})
    k = tuple(extra or ())
    if k not in cache:
        quoted = [w for q in _QUOTED.findall(b.q) for w in words(q)]
        cache[k] = read(b.book, b.q, extra=list(extra or []), quoted=quoted)
    return cache[k]


def _retrieve(b: Builder, sources: list[str] | None, extra: list[str] | None = None, limit: int = 40,
              boost: str | None = None):
    """Sections for the question, best first: [Hit(score, cover, passage, ...)] and the question read."""
    from .retrieval import retrieve

    q = _question(b, extra)
    return retrieve(b.book, q, sources, limit=limit, boost=boost, quoted_titles=_QUOTED.findall(b.q)), q


def _section_text(b: Builder, p) -> tuple[str, str]:
    """The whole text and title of a passage's section (the quote is chosen from all of it)."""
    try:
        s = b.book.reference_section(p.source, p.ref)
    except Exception:  # noqa: BLE001
        s = None
    return (s.text, s.title) if s is not None and s.text.strip() else (p.text, p.title)


def _show(b: Builder, p, quote_lines: list[str]) -> None:
    where = f"{p.release}, {'section ' if p.source == ICD10CM_GUIDELINES else ''}{p.label} ({p.title})"
    b.say(f"**{where}:**", "")
    for s in quote_lines:
        b.say(f"> {s}")
        b.fact(s, f"{p.release} {p.label}")
    b.say("")
    b.cite(p.release, p.label, section_url(p.source, p.ref))


_COMPARE = (re.compile(r"\bdifferences?\s+(?:between|of)\s+(?:an?\s+|the\s+)?(.+?)\s+(?:and|vs\.?|versus)\s+(.+?)\s*[?.!]*$",
                       re.I),
            re.compile(r"^(?:what\s+is\s+the\s+difference\s*[:,-]?\s*)?(.+?)\s+(?:vs\.?|versus)\s+(.+?)\s*[?.!]*$", re.I),
            re.compile(r"\b(?:compare|comparing|distinguish|tell\s+apart)\s+(.+?)\s+(?:and|with|to|from)\s+(.+?)\s*[?.!]*$",
                       re.I))


_QUALIFIERS = frozenset("""acute chronic subacute inpatient outpatient initial subsequent primary secondary principal new
established left right bilateral unilateral open closed complete incomplete partial total single multiple major minor
direct indirect general personal family active inactive benign malignant mild moderate severe professional technical
facility nonfacility non-facility physician nonphysician type upper lower anterior posterior congenital acquired
traumatic nontraumatic current old healed healing""".split())


def comparison(question: str) -> tuple[str, str] | None:
    """The two things a question compares ("adverse effect vs poisoning", "difference between X and Y")."""
    for rx in _COMPARE:
        m = rx.search(question)
        if m:
            a, c = (" ".join(x.split()) for x in m.groups())
            # "inpatient vs outpatient uncertain diagnosis": a one-word side that only qualifies shares the
            # other side's topic ("adverse effect vs poisoning" compares two topics)
            if len(a.split()) == 1 and len(c.split()) > 1 and a.lower() in _QUALIFIERS:
                a = f"{a} {' '.join(c.split()[1:])}"
            elif len(c.split()) == 1 and len(a.split()) > 1 and c.lower() in _QUALIFIERS:
                c = f"{' '.join(a.split()[:-1])} {c}"
            if content_stems(a) and content_stems(c):
                return a, c
    return None


def _compare(b: Builder, pair: tuple[str, str]) -> Answer | None:
    """One section for each side of a comparison, each quoted for its side."""
    from .retrieval import quote, read

    picked = []
    for side in pair:
        sub = Builder(b.book, side, b.when, [], b.r, "guideline")
        hits, q = _retrieve(sub, None)
        hits = [h for h in hits if (h.passage.source, h.passage.ref) not in {(p.source, p.ref) for _, p, _ in picked}]
        if not hits or hits[0].cover < 0.6:
            return None
        picked.append((hits[0], hits[0].passage, q))
    whole = _question(b)
    for hit, p, q in picked:
        text, title = _section_text(b, p)
        lines = quote(q, text, title, n=2, chunks=hit.chunks) or quote(whole, text, title, n=2)
        if not lines:
            return None
        _show(b, p, lines)
    return b.done(confident=all(h.title_cover >= 0.5 for h, _, _ in picked))


def guideline(b: Builder, fallback: bool = False) -> Answer:
    from .retrieval import quote

    b.intent = "guideline" if b.intent not in ("guideline",) and not b.found else b.intent
    pair = None if b.found else comparison(b.q)
    if pair:
        compared = _compare(b, pair)
        if compared is not None:
            return compared
        b.lines, b.citations, b.facts = [], [], []
    hits, q = _retrieve(b, None)
    if not hits or q.asked < 3.0:  # nothing found, or a question of only common words ("what time is it")
        return _idk(b)
    best = hits[0]
    # a passage that neither holds most of the question nor is titled for any of it is a coincidence of words
    if best.cover < 0.45 or best.score < 16 or (best.title_cover < 0.1 and best.cover < 0.6):
        return _idk(b)
    confident = best.cover >= 0.6 and (best.title_cover >= 0.25 or best.cover >= 0.8) and best.score >= 18
    shown: list[tuple[str, str]] = []
    parts = 0
    for hit in hits:
        p = hit.passage
        if (p.source, p.ref) in shown:
            continue
        if parts and (hit.score < best.score * 0.72 or hit.cover < 0.4):
            break
        text, title = _section_text(b, p)
        if not text.strip():
            p = _best_child(b, p, q) or p  # a heading with no text of its own: its best subsection answers
            if (p.source, p.ref) in shown:
                continue
            text, title = p.text, p.title
        lines = quote(q, text, title, n=3 if not parts else 2, chunks=hit.chunks)
        if not lines:
            continue
        shown.append((p.source, p.ref))
        _show(b, p, lines)
        parts += 1
        if parts >= 3:
            break
    if not parts:
        return _idk(b)
    if not confident:
        b.say("*This is the closest passage I found; it may not settle your question — read the cited section.*")
    return b.done(confident=confident)


def _best_child(b: Builder, p, q):
    """The subsection of a text-less heading whose title and text share most with the question."""
    from medcode.codebook.references import Passage

    from .retrieval import keys_of

    best, best_hits = None, 0.0
    for kid in b.book.reference_children(p.source, p.ref):
        hits = 2 * q.coverage(keys_of(kid.title)) + q.coverage(keys_of(kid.text))
        if kid.text.strip() and hits > best_hits:
            best, best_hits = kid, hits
    if best is None:
        return None
    return Passage(best.source, best.ref, best.title, best.text, best.release, best.label, p.score)


def _policy_passages(b: Builder, sources: list[str] | None, extra: list[str], n: int = 1, must: str | None = None,
                     prefer: list[str] | None = None) -> int:
    """Quote the policy passages that govern an edit, a modifier or a code (added under the table facts)."""
    from .retrieval import quote

    hits, q = _retrieve(b, sources, extra, limit=40)
    must_rx = re.compile(must, re.I) if must else None

    def weight(hit):
        score, p = hit.score, hit.passage
        if prefer and p.source in prefer:
            score *= 1.3
        if must_rx:  # the passage that talks most about the thing asked (e.g. "modifier 25") first
            score += 4 * min(3, len(must_rx.findall(p.title + " " + " ".join(hit.chunks))))
        return -score

    hits.sort(key=weight)
    shown = 0
    for hit in hits:
        if shown >= n:
            break
        p = hit.passage
        if must_rx and not must_rx.search(" ".join(hit.chunks)):
            continue
        text, title = _section_text(b, p)
        lines = quote(q, text, title, n=2, chunks=hit.chunks, must=must_rx)
        if not lines:
            continue
        _show(b, p, lines)
        shown += 1
    return shown


def _idk(b: Builder) -> Answer:
    return Answer(markdown=IDK, citations=[], codes=[], intent="unknown", confident=False, facts=[], context={})


def code_guideline(b: Builder) -> Answer:
    """A rule question about a diagnosis code ("When should a code from Z3A be used?"): the guideline
    passages that name the code or its category, ranked for the question."""
    codes = []
    for f in b.codes(ICD10CM)[:2]:
        code = b.r.find(ICD10CM, f.code)
        if code is None or code.status != "active":
            return meaning(b)
        codes.append(code)
    lines = len(b.lines)
    for code in codes:
        b.say(f"**{code.code}** — {code.title}")
        b.cite_code(code)
    b.say("")
    found, strong = _code_passages(b, codes)
    if not found:
        del b.lines[lines:]
        return meaning(b)
    return b.done(confident=strong)


def _code_passages(b: Builder, codes: list, n: int = 2) -> tuple[bool, bool]:
    """Quote the guideline passages that name these codes or their categories; (any shown, strong match)."""
    from .retrieval import quote

    keys = sorted({c.code[:3] for c in codes} | {c.code for c in codes}, key=len, reverse=True)
    boost = r"\b(?:" + "|".join(re.escape(k) for k in keys) + r")"
    extra = [w for c in codes for w in words(c.title) if len(w) > 3][:12]
    hits, q = _retrieve(b, [ICD10CM_GUIDELINES], extra=extra + keys, boost=boost)
    naming = [h for h in hits if re.search(boost, h.passage.title + " " + " ".join(h.chunks))]
    if not naming:
        return False, False
    best = naming[0].score
    shown: list[tuple[str, str]] = []
    names = re.compile(boost)
    for hit in naming:
        p = hit.passage
        if (p.source, p.ref) in shown or len(shown) >= n or hit.score < 0.6 * best:
            continue
        text, title = _section_text(b, p)
        lines = quote(q, text, title, n=2, chunks=hit.chunks, must=names) or quote(q, text, title, n=2,
                                                                                  chunks=hit.chunks)
        if not lines:
            continue
        shown.append((p.source, p.ref))
        _show(b, p, lines)
    return bool(shown), bool(shown) and naming[0].cover >= 0.5


def rule_or_lookup(b: Builder) -> Answer:
    """A rule question that names a condition: the guideline passage when one answers it, else the codes."""
    ans = guideline(b, fallback=True)
    if ans.intent != "unknown" and ans.confident:
        return ans
    b2 = Builder(b.book, b.q, b.when, b.found, b.r, "lookup")
    looked = lookup(b2)
    if ans.intent != "unknown" and (looked.intent == "unknown" or not looked.confident):
        return ans  # a passage that may answer a rule question beats a guessed code
    return looked


def proc_rule(b: Builder) -> Answer:
    """A rule question about a procedure code ("how many minutes before I can bill 99291?"): what the code is,
    then the policy passages that name it, ranked for the question."""
    keys = []
    for f in b.codes(CPT, HCPCS)[:2]:
        code = _code_or_explain(b, f)
        if code is None:
            b.say("")
            continue
        keys.append(code.code)
        if f.system == HCPCS:
            b.say(f"**{code.code}** — {code.title} (HCPCS Level II)")
            b.fact(f"{code.code}: {code.title}", code.code)
            b.cite_code(code)
        else:
            b.say(f"**{code.code}** is a CPT code in the CMS files in effect on {b.on()} (its descriptor is AMA text "
                  "this codebook does not hold).")
            b.fact(f"{code.code} is a CPT code listed in CMS files on {b.on()}", code.code)
            b.cite_code(code)
        b.say("")
    if not keys:
        return b.done()
    names = r"(?<![0-9A-Z])(?:" + "|".join(re.escape(k) for k in keys) + r")(?![0-9])"
    shown = _policy_passages(b, None, extra=keys, n=2, must=names)
    if not shown:
        shown = _policy_passages(b, None, extra=keys, n=2)
    if not shown:
        b.say(f"No passage of the guidelines, the NCCI Policy Manual or the CMS manual chapters held answers this for "
              f"{', '.join(keys)}.")
    return b.done(confident=bool(shown))


# --- two diagnosis codes: what the notes of each say about the other -------------------------------

_RANGE = re.compile(r"\b([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)\s*-\s*([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)")
_NOTE_CODE = re.compile(r"\b([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{0,4})?)-?")


def _note_names(text: str, code: str) -> bool:
    """Whether a note's text names `code`: itself, a header above it ("E10.-", "F02.8-") or a range
    holding it ("E08-E13")."""
    key = code.replace(".", "")
    for m in _RANGE.finditer(text):
        lo, hi = m.group(1).replace(".", ""), m.group(2).replace(".", "")
        if lo[:3] <= key[:3] <= hi[:3]:
            return True
    for m in _NOTE_CODE.finditer(text):
        ref = m.group(1).replace(".", "")
        if ref and key.startswith(ref):
            return True
    return False


PAIR_KINDS = ("excludes1", "excludes2", "code_first", "use_additional", "code_also")
PAIR_MEANING = {
    "excludes1": ("I.A.12.a", "excludes1 note code excluded never used same time"),
    "excludes2": ("I.A.12.b", "excludes2 acceptable use both code excluded together"),
    "code_first": ("I.A.13", "code first underlying condition sequenced first"),
    "use_additional": ("I.A.13", "use additional code sequenced"),
    "code_also": ("I.A.17", "code also two codes may be required sequencing"),
}


def cm_pair(b: Builder) -> Answer:
    """"Can E11.9 and E10.9 be coded together?": the notes of each code (and of the headers above it)
    that name the other, with the guideline that says what such a note means."""
    found = b.codes(ICD10CM)[:2]
    codes = []
    for f in found:
        code = _code_or_explain(b, f)
        if code is not None:
            codes.append(code)
            b.cite_code(code)
    if len(codes) < 2:
        return b.done()
    hits = []
    for a, other in ((codes[0], codes[1]), (codes[1], codes[0])):
        grouped = b.book.notes_by_kind(ICD10CM, a.code, b.when)
        for kind in PAIR_KINDS:
            for n in grouped.get(kind, []):
                if _note_names(n.text, other.code):
                    hits.append((a, other, kind, n))
    def named(c):
        return f"**{c.code}** {c.title}" + ("" if c.billable else " (a header, not billable)")

    b.say(f"{named(codes[0])} and {named(codes[1])}:", "")
    if not hits:
        b.say(f"No Excludes1, Excludes2, code first, use additional or code also note at either code (or the "
              "headers above them) names the other: the tabular puts no restriction on reporting them together "
              "when the documentation supports both.")
        b.fact(f"No instructional note links {codes[0].code} and {codes[1].code}", codes[0].code)
        b.say("")
        _code_passages(b, codes)
        return b.done()
    kinds_seen = []
    for a, other, kind, n in hits:
        where = "" if n.origin == a.code else f" (printed at {n.origin})"
        b.say(f"- **{NOTE_LABELS[kind]}** at {a.code}{where}: *{n.text}* — this names {other.code}.")
        b.fact(f"{NOTE_LABELS[kind]} note at {n.origin} ({a.code}): {n.text}", n.origin)
        if n.origin != a.code:
            oc = b.r.find(ICD10CM, n.origin)
            if oc is not None:
                b.cite_code(oc)
        if kind not in kinds_seen:
            kinds_seen.append(kind)
    if "excludes1" in kinds_seen:
        b.say("", f"An Excludes1 note: {codes[0].code} and {codes[1].code} are not reported together (unless the "
              "two conditions are unrelated).")
    elif "excludes2" in kinds_seen:
        b.say("", f"An Excludes2 note: both may be reported together when the patient has both conditions.")
    for kind in kinds_seen:
        _quote_guideline(b, *PAIR_MEANING[kind])
    return b.done()


HANDLERS = {
    "meaning": meaning, "billable": billable, "seventh": seventh, "hierarchy": hierarchy, "range": code_range,
    "crosswalk": crosswalk, "ptp": ptp, "mue": mue, "addon": addon, "rvu": rvu, "modifier": modifier,
    "pos": place_of_service, "lookup": lookup, "guideline": guideline, "rule_or_lookup": rule_or_lookup,
    "cm_pair": cm_pair, "code_guideline": code_guideline, "proc_rule": proc_rule,
    **{k: notes for k in INTENT_KINDS},
}
