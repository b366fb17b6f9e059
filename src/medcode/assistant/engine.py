"""Question -> intent and codes -> look-ups in the book -> cited markdown, with the code guard last.

Everything an answer says comes from the book: code records, notes, 7th characters, GEMs, PCS
axes, NCCI edits, RVUs, and passages of the guideline and policy texts. Words in the question
choose what to look up; they never become part of an answer except as the question quoted back,
so instructions hidden in a question ("ignore your sources...") change nothing.
"""

from __future__ import annotations

import re
from datetime import date

from medcode.codebook.codes import CPT, HCPCS, ICD9CM, ICD10CM, ICD10PCS, MODIFIER, POS, SYSTEM_LABELS

from . import answers
from .codetokens import _MOD_WORDS, Found, Resolver, guard, scan
from .model import Answer, Turn
from .scope import out_of_scope
from .text import clean, content_stems, date_asked, words

MAX_QUESTION_CHARS = 2000

_FOLLOW_UP = re.compile(r"^(?:and|also|what about|how about|then|ok(?:ay)?|so)\b|\b(?:its|it|this|that|these|those|"
                        r"same)\b(?:\s+(?:code|one|category))?", re.I)

INTENT_PATTERNS = {
    "excludes1": r"excludes?\s*-?\s*(?:1|one|i)\b|type\s*(?:1|one|i)\s+excludes",
    "excludes2": r"excludes?\s*-?\s*(?:2|two|ii)\b|type\s*(?:2|two|ii)\s+excludes",
    "excludes": r"\bexclu",
    "code_first": r"code\s+first|sequenced?\s+(?:it\s+)?first|coded\s+first|"
                  r"\bunderlying\b|what\s+(?:do|should)\s+i\s+code\s+first",
    "use_additional": r"use\s+additional|additional\s+codes?|accompan|along\s+with|\bcapture\b|also\s+(?:code|report|"
                      r"assign)|\bpaired\b|secondary\s+code",
    "code_also": r"code\s+also",
    "includes": r"\bincludes?\b(?!\s*[12])|inclusion\s+terms?",
    "notes": r"instructional\s+notes?|\bnotes?\b|\binstructions?\b|\brequire",
    "seventh": r"\b7th\b|seventh|7\s*th|placeholder|\bextension\b|\bsequela\b|initial\s+encounter|subsequent\s+encounter",
    "billable": r"billable|\bbill(?:ed|ing)?\b|\bvalid\b|reportable|be\s+reported|be\s+used|on\s+(?:a\s+)?claims?|"
                r"specific|\bheader\b|complete\s+code|choose|more\s+characters|codable|\bleaf\b|can\s+i\s+(?:use|report)",
    "hierarchy": r"\bchapters?\b|\bblocks?\b|\bcategory\b|\bparent\b|hierarch|code\s+range|\brange\b|which\s+section|"
                 r"falls?\s+(?:in|under)|belongs?\b|\bunder\s+which\b",
    "crosswalk": r"icd[\s-]?9|\bgems?\b|crosswalk|convert|conversion|\bmap(?:s|ping|ped)?\b|equivalent|translate|"
                 r"legacy|\bicd[\s-]?10\b.*\bfrom\b",
    "ptp": r"together|same\s+(?:day|date|session|encounter)|bundl|\bptp\b|\bncci\b|column\s*(?:1|one|2|two)|"
           r"mutually\s+exclusive|\bedits?\b|separately|with\s+(?:cpt\s+)?\d{5}",
    "mue": r"\bmues?\b|medically\s+unlikely|\bunits?\b|how\s+many\s+(?:times|units)|maximum|per\s+day",
    "addon": r"add[\s-]?on|\baoc\b|primary\s+(?:codes?|procedures?)",
    "rvu": r"\brvus?\b|relative\s+value|work\s+value|global\s+(?:period|days|surgery)|fee\s+schedule|"
           r"payment\s+amount|conversion\s+factor|malpractice|practice\s+expense|how\s+much",
    "lookup": r"\bcodes?\s+(?:for|to\s+use\s+for|that\s+describes?|describ\w*|used\s+for|is\s+used\s+for)\b|"
              r"\b(?:icd[\s-]*10(?:[\s-]*(?:cm|pcs))?|icd|cpt|hcpcs|pcs|dx|diagnosis|diagnostic|procedure)\s+(?:codes?\s+)?"
              r"(?:for|of)\s+(?:a|an|the)?\s*[a-z]|"
              r"\b(?:need|looking\s+for|find|give\s+me|suggest)\s+(?:a|an|the)\s+(?:[\w-]+\s+){0,2}codes?\b|"
              r"\bwhat\s+(?:icd[\s-]*10\s+|dx\s+|diagnosis\s+)?codes?\s*\??\s*$|"
              r"what\s+is\s+the\s+(?:[\w-]+\s+){0,3}codes?\b|which\s+(?:[\w-]+\s+){0,3}codes?\b(?!\s+(?:range|"
              r"chapter|first|also))|how\s+(?:do|should|would|can)\s+(?:i|you|we)\s+code\b|\bcode\s+(?:it|this)\b",
}
_RX = {k: re.compile(v, re.I) for k, v in INTENT_PATTERNS.items()}
_PAIR = re.compile(r"together|same\s+(?:time|claim|encounter|record)|\bboth\b|\balong\s+with\b|\bwith\b|"
                   r"\bfirst\b|sequenc|\bexclu|\band\b.*\?$", re.I)
_RULE_CODE = re.compile(r"^\s*(?:when|how|why|should|under\s+what)\b|guideline|sequenc|principal|first[- ]listed|"
                        r"secondary\s+diagnos|present\s+on\s+admission|\bpoa\b", re.I)
_RULE = re.compile(r"^\s*(?:how|should|when|can|could|is|are|do|does|may|must|why|if|in what|under what|for)\b|"
                   r"guideline|sequenc|\brule|principal|first[- ]listed|\bquery\b|documented|provider|"
                   r"\bwhich\s+[a-z]\s+codes?\b|\bpatient\s+(?:is\s+)?(?:on|with|has|had|taking|receiving)\b|\bboth\b", re.I)
# contractions and run-together spellings, read before the intent patterns
_PHRASES = [
    (re.compile(r"\bwhat\s*'?\s*s\b|\bwhats\b", re.I), "what is"),
    (re.compile(r"\bhow\s*'?\s*s\b|\bhows\b", re.I), "how is"),
    (re.compile(r"\bwhere\s*'?\s*s\b", re.I), "where is"),
    (re.compile(r"\bcan\s*'?\s*t\b|\bcannot\b", re.I), "can not"),
    (re.compile(r"\bi\s*'?\s*m\b", re.I), "i am"),
    (re.compile(r"\bisn\s*'?\s*t\b", re.I), "is not"),
    (re.compile(r"\bwhat\s+r\b", re.I), "what are"),
    (re.compile(r"\bu\b", re.I), "you"),
    (re.compile(r"\bpls\b|\bplz\b", re.I), "please"),
    (re.compile(r"\bw/o\b", re.I), "without"),
    (re.compile(r"\bw/", re.I), "with "),
]
# a rule question about a procedure code ("how many minutes before I can bill 99291?")
_PROC_RULE = re.compile(r"^\s*(?:how|when|who|can|could|should|may|must|is|are|do|does|why|under what|in what)\b|"
                        r"\b(?:how\s+(?:many|much|long|often)|minutes?|hours?|time|document\w*|require\w*|allowed|"
                        r"rules?|polic\w*|criteria|supervision|billed\s+by|bill\s+for|report(?:ed)?\s+(?:with|when|by))\b",
                        re.I)
NOTE_INTENTS = ("excludes1", "excludes2", "excludes", "code_first", "use_additional", "code_also", "includes", "notes")


def phrasing(text: str) -> str:
    """The question with contractions spelled out ("whats" -> "what is"), for the intent patterns only."""
    for rx, repl in _PHRASES:
        text = rx.sub(repl, text)
    return text


def _has(intent: str, text: str) -> bool:
    return bool(_RX[intent].search(text))


def _without_codes(text: str, found: list[Found]) -> str:
    """The question with its codes blanked, so "E11" or "25" never read as words."""
    out, pos = [], 0
    for f in found:
        if f.start < 0:  # a code carried over from the conversation, not written in this question
            continue
        out.append(text[pos:f.start])
        out.append(" ")
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


def route(q: str, found: list[Found], ctx_codes: list[dict] | None = None, last_intent: str | None = None) -> str:
    """The intent of a question, given its codes (and a previous answer's codes for a follow-up)."""
    t = phrasing(_without_codes(q, found)).lower()
    systems = [f.system for f in found]
    cm = [f for f in found if f.system == ICD10CM]
    pcs = [f for f in found if f.system == ICD10PCS]
    procs = [f for f in found if f.system in (CPT, HCPCS)]
    mods = [f for f in found if f.system == MODIFIER]
    pos = [f for f in found if f.system == POS]
    icd9 = [f for f in found if f.system == ICD9CM]
    distinct_procs = {f.code for f in procs}
    if len(distinct_procs) >= 2 and not _has("rvu", t) and not _has("mue", t):
        return "ptp"
    if procs and _has("addon", t):
        return "addon"
    if procs and _has("mue", t) and not _has("rvu", t):
        return "mue"
    if procs and _has("rvu", t):
        return "rvu"
    if procs and _has("ptp", t):
        return "ptp"
    if procs and not mods and not cm and not pcs and _PROC_RULE.search(t) and \
            (len(content_stems(t)) >= 2 or (re.match(r"\s*who\b", t) and content_stems(t))):
        return "proc_rule"  # "how many minutes before I can bill 99291?": the policy that names the code
    if mods and not cm and not pcs:
        return "modifier"
    if pos and not cm and not pcs and not procs:
        return "pos"
    if (cm or icd9) and _has("crosswalk", t):
        return "crosswalk"
    if icd9 and not cm:
        return "crosswalk"
    if len({f.code for f in cm}) >= 2 and (_PAIR.search(t) or any(_has(k, t) for k in NOTE_INTENTS)):
        return "cm_pair"
    if cm:
        for kind in NOTE_INTENTS:
            if _has(kind, t):
                return kind
        if _has("seventh", t):
            return "seventh"
        if _RULE_CODE.search(t):
            return "code_guideline"
        if _has("hierarchy", t):
            return "hierarchy"
        if _has("billable", t):
            return "billable"
        return "meaning"
    if pcs or procs:
        return "meaning"
    if ctx_codes:  # a follow-up about the codes of the previous answer
        for kind in NOTE_INTENTS + ("seventh", "crosswalk", "hierarchy", "billable", "addon", "mue", "rvu", "ptp"):
            if _has(kind, t):
                return kind
        return last_intent or "meaning"
    if _has("hierarchy", t) and re.search(r"range|chapter|block", t):
        return "range"
    if _has("lookup", t):
        # "how should X be coded?" / "should a code for ... be used?" ask for a rule first, a code second
        return "rule_or_lookup" if _RULE.search(t) else "lookup"
    return "guideline"


def _follow_up_codes(q: str, history: list[Turn] | None) -> tuple[list[dict], str | None]:
    """The codes (and intent) a follow-up question continues from, if it is one."""
    if not history:
        return [], None
    last = history[-1]
    ctx = last.context if isinstance(last.context, dict) else {}
    codes = [c for c in ctx.get("codes", []) if isinstance(c, dict) and c.get("system") and c.get("code")]
    if not codes:
        return [], None
    # a follow-up points back ("and its excludes?", "what about that code?") or asks, in a few words,
    # for something only a code can answer ("excludes2?", "billable?", "ICD-9?")
    about_a_code = any(_has(k, q) for k in NOTE_INTENTS + ("seventh", "crosswalk", "billable", "hierarchy", "addon",
                                                           "mue", "rvu"))
    if _FOLLOW_UP.search(q) or (len(words(q)) <= 6 and about_a_code):
        return codes[:4], ctx.get("intent") if isinstance(ctx.get("intent"), str) else None
    return [], None


_SMALL_TALK = re.compile(r"^\s*(?:hi+|hello|hey|hiya|yo|good\s+(?:morning|afternoon|evening)|greetings|thanks?|thank\s+you|"
                         r"thx|ty|cheers|ok(?:ay)?|cool|great|help|help\s+me|what\s+can\s+you\s+do|who\s+are\s+you|"
                         r"what\s+are\s+you|how\s+does\s+this\s+work|how\s+do\s+i\s+use\s+(?:this|you))"
                         r"(?:\s+(?:there|again|so\s+much|a\s+lot|medcode|assistant))?\s*[.!?]*\s*$", re.I)
HELP = ("I answer coding questions from the official sources in the codebook: code meanings and billability "
        "(*What is K21.9?*, *Is E11 billable?*), instructional notes (*What are the Excludes2 notes for G43?*), "
        "7th characters, ICD-9 crosswalks, ICD-10-PCS codes by axis, codes by description (*code for CHF*), NCCI "
        "edits, MUEs and add-on codes (*Can 29880 and 29881 be billed together?*), modifiers, places of service, "
        "RVUs, and guideline and Medicare policy questions (*How is sepsis with pneumonia sequenced?*). Every answer "
        "cites its source.")


_BARE = re.compile(r"(?<![A-Za-z0-9])([A-Za-z0-9]{2})(?![A-Za-z0-9])")


def _bare_modifiers(q: str, history: list[Turn] | None, resolver: Resolver) -> list[Found]:
    """"and XS?" after a question about modifier 59: a short question's two-character tokens that are
    modifiers, when the conversation is about a modifier."""
    if not history or len(words(q)) > 6:
        return []
    last = history[-1].context if isinstance(history[-1].context, dict) else {}
    if not any(isinstance(c, dict) and c.get("system") == MODIFIER for c in last.get("codes", [])):
        return []
    out = []
    for m in _BARE.finditer(q):
        tok = m.group(1).upper()
        if tok in _MOD_WORDS or (tok.isalpha() and m.group(1) != tok and tok.lower() in _WORDS_2):
            continue
        if resolver.find(MODIFIER, tok) is not None:
            out.append(Found(m.start(1), m.end(1), m.group(1), MODIFIER, tok, True, True))
    return out


_WORDS_2 = frozenset("an or to in on at of is be as by it if no so do up we me my us go am he ok hi id ie eg".split())
_POINTS_BACK = re.compile(r"\b(?:it|its|this|that|them|same\s+(?:code|one))\b", re.I)
_PAIRABLE = ({CPT, HCPCS}, {ICD10CM})


def _with_earlier_code(q: str, found: list[Found], history: list[Turn] | None) -> list[Found]:
    """"can it be billed with 29880?" after a question about 29881: the earlier code joins the one named."""
    if not found or not history or not _POINTS_BACK.search(_without_codes(q, found)) or \
            not _PAIR.search(_without_codes(q, found)):
        return found
    last = history[-1].context if isinstance(history[-1].context, dict) else {}
    earlier = [c for c in last.get("codes", []) if isinstance(c, dict) and c.get("system") and c.get("code")]
    for systems in _PAIRABLE:
        named = [f for f in found if f.system in systems]
        if len({f.code for f in named}) != 1:
            continue
        prev = next((c for c in earlier if c["system"] in systems and c["code"] != named[0].code), None)
        if prev is not None:
            return [Found(-1, -1, prev["code"], prev["system"], prev["code"], True, True)] + found
    return found


def _refuse(markdown: str, intent: str) -> Answer:
    return Answer(markdown=markdown, citations=[], codes=[], intent=intent, confident=False, facts=[], context={})


def ask(book, question: str, *, when: date | None = None, history: list[Turn] | None = None) -> Answer:
    """Answer a coding question from the book alone. Never raises for any question text."""
    raw = question if isinstance(question, str) else ("" if question is None else str(question))
    if len(raw) > MAX_QUESTION_CHARS * 4:
        return _refuse(f"That question is too long ({len(raw):,} characters; the limit is "
                       f"{MAX_QUESTION_CHARS:,}). Ask about one code or one topic at a time.", "too_long")
    q = clean(raw)
    if not q or not any(ch.isalnum() for ch in q):
        return _refuse("Please ask a coding question, for example: *What is K21.9?*, *Is I50.2 billable?* or "
                       "*Can 29880 and 29881 be billed together?*", "empty")
    if len(q) > MAX_QUESTION_CHARS:
        return _refuse(f"That question is too long ({len(q):,} characters; the limit is {MAX_QUESTION_CHARS:,}). "
                       "Ask about one code or one topic at a time.", "too_long")
    if _SMALL_TALK.match(q):
        return _refuse(HELP, "help")
    scope = out_of_scope(q)
    if scope is not None:
        return _refuse(scope.markdown, "unknown")
    when = when or date_asked(q) or date.today()
    resolver = Resolver(book, when)
    found = scan(book, q, when, question=True, resolver=resolver)
    found = found or _bare_modifiers(q, history, resolver)
    found = _with_earlier_code(q, found, history)
    ctx_codes, last_intent = ([], None) if found else _follow_up_codes(q, history)
    intent = route(q, found, ctx_codes, last_intent)
    if ctx_codes and not found:
        found = [Found(-1, -1, c["code"], c["system"], c["code"], True, True) for c in ctx_codes]
    builder = answers.Builder(book, q, when, found, resolver, intent)
    try:
        ans = answers.answer(builder)
    except Exception as exc:  # noqa: BLE001 - a look-up that fails must not take the question down
        ans = Answer(markdown=f"I could not answer that from the codebook ({type(exc).__name__}). Please rephrase "
                     "or ask about one code at a time.", intent=intent, confident=False)
    return finish(book, ans, when, found)


def finish(book, ans: Answer, when: date, found: list[Found]) -> Answer:
    """The code guard over the whole answer, then the code list and the follow-up context."""
    asked = {f.code for f in found} | {f.text.upper() for f in found}
    checked = guard(book, ans.markdown, when, icd9=(ans.intent == "crosswalk") or None, drop_except=asked)
    ans.markdown = checked.text
    codes = {(c.system, c.code): c for c in checked.codes}
    ans.codes = list(codes.values())
    if not ans.context:
        keep = [{"system": f.system, "code": f.code} for f in found if f.system != ICD9CM]
        if not keep and ans.confident and ans.intent == "lookup":  # "is it billable?" after a look-up
            keep = [{"system": c.system, "code": c.code} for c in ans.codes if c.valid][:1]
        seen, ctx = set(), []
        for k in keep:
            if (k["system"], k["code"]) not in seen:
                seen.add((k["system"], k["code"]))
                ctx.append(k)
        ans.context = {"codes": ctx, "intent": ans.intent, "date": when.isoformat()}
    return ans


__all__ = ["ask", "MAX_QUESTION_CHARS", "route", "SYSTEM_LABELS"]
