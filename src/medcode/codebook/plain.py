"""Plain-language descriptions generated from the code's structure, for coding students.

Nothing is copied from elsewhere: the words come from the official title and notes, with
abbreviations spelled out and a short glossary for the medical terms students meet first.
"""

from __future__ import annotations

import re
from datetime import date

from .book import Book
from .codes import CPT, HCPCS, ICD10PCS, MODIFIER, POS, SYSTEM_LABELS
from .model import Code

ABBREVIATIONS = [
    (r"\bw/o\b", "without"),
    (r"\bw/\s*", "with "),
    (r"\bNOS\b", "not otherwise specified"),
    (r"\bNEC\b", "not elsewhere classified"),
    (r"\bunsp\b\.?", "unspecified"),
    (r"\bspecf\b", "specified"),
    (r"\both\b", "other"),
    (r"\binit\b", "initial"),
    (r"\bsubs\b", "subsequent"),
    (r"\bencntr\b", "encounter"),
]

# A first-meeting explanation of common medical words (everyday wording, ours).
GLOSSARY = {
    "diabetes mellitus": "a long-term condition in which blood sugar stays too high",
    "hypertension": "high blood pressure",
    "hypertensive": "caused by high blood pressure",
    "neoplasm": "an abnormal growth of tissue (a tumor)",
    "malignant": "cancerous",
    "benign": "not cancerous",
    "in situ": "confined to the layer of cells where it began",
    "myocardial infarction": "a heart attack",
    "infarction": "tissue death from a blocked blood supply",
    "cerebral infarction": "a stroke caused by a blocked blood vessel in the brain",
    "heart failure": "the heart not pumping as well as the body needs",
    "atrial fibrillation": "an irregular, often fast heart rhythm",
    "chronic obstructive pulmonary disease": "long-term lung disease that makes breathing out difficult (COPD)",
    "asthma": "airway narrowing and inflammation that causes wheezing",
    "pneumonia": "a lung infection",
    "gastro-esophageal reflux": "stomach contents flowing back into the food pipe (GERD)",
    "esophagitis": "inflammation of the food pipe",
    "chronic kidney disease": "kidney function that has declined over months or years",
    "cystitis": "a bladder infection or inflammation",
    "cellulitis": "a bacterial skin infection",
    "osteoarthritis": "wear-and-tear joint disease",
    "rheumatoid arthritis": "an autoimmune joint disease",
    "fracture": "a broken bone",
    "sprain": "a stretched or torn ligament",
    "strain": "a stretched or torn muscle or tendon",
    "dislocation": "a joint forced out of position",
    "contusion": "a bruise",
    "laceration": "a cut or tear in the skin",
    "poisoning": "harm from taking the wrong substance or too much of a drug",
    "adverse effect": "an unwanted reaction to a drug taken correctly",
    "underdosing": "taking less of a drug than prescribed",
    "dementia": "a decline in memory and thinking that interferes with daily life",
    "major depressive disorder": "depression with episodes lasting at least two weeks",
    "anemia": "too few healthy red blood cells",
    "hypothyroidism": "an underactive thyroid",
    "hyperlipidemia": "high levels of fat (lipids) in the blood",
    "obesity": "excess body fat",
    "migraine": "recurring severe headaches",
    "epilepsy": "a tendency to have recurrent seizures",
    "sepsis": "the body's life-threatening response to an infection",
    "urinary tract infection": "an infection of the bladder, kidneys or urinary passages",
    "gestation": "pregnancy",
    "puerperium": "the period just after childbirth",
    "sequela": "a condition left after an illness or injury has healed",
    "calculus": "a stone",
    "cholelithiasis": "gallstones",
    "appendicitis": "inflammation of the appendix",
    "diverticulitis": "inflamed pouches in the wall of the colon",
    "hemorrhage": "bleeding",
    "edema": "swelling from fluid",
    "dyspnea": "shortness of breath",
    "syncope": "fainting",
}

SEVENTH_EXPLAINED = {
    "initial encounter": "while the patient is receiving active treatment for the condition",
    "subsequent encounter": "for encounters after active treatment, while the patient heals or recovers",
    "sequela": "for a complication or condition that arises as a direct result of the injury, reported with the "
               "code for that condition",
}

_CODE_REF = re.compile(r"\(([A-Z][0-9A-Z][0-9A-Z](?:\.[0-9A-Z-]{1,5})?(?:-[A-Z][0-9A-Z]{2}(?:\.[0-9A-Z-]+)?)?"
                       r"(?:,\s*[A-Z][0-9A-Z]{2}[.0-9A-Z-]*)*)\)")


_ABBREVIATIONS = [(re.compile(pattern), word) for pattern, word in ABBREVIATIONS]
_ANY_ABBREVIATION = re.compile("|".join(f"(?:{pattern})" for pattern, _ in ABBREVIATIONS))


def expand(text: str) -> str:
    if not _ANY_ABBREVIATION.search(text):  # most text has none: one scan instead of one per abbreviation
        return text
    out = text
    for pattern, word in _ABBREVIATIONS:
        out = pattern.sub(word, out)
    return out


def _lower_first(text: str) -> str:
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _join(items: list[str], word: str = "and") -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def _glossary(title: str, limit: int = 2) -> list[str]:
    low = title.lower()
    found: list[tuple[int, str, str]] = []
    for term, meaning in GLOSSARY.items():
        i = low.find(term)
        if i >= 0 and not any(term in t for _, t, _ in found):
            found.append((i, term, meaning))
    found.sort()
    return [f"{term[0].upper() + term[1:]} means {meaning}." for _, term, meaning in found[:limit]]


def _note_list(notes, kind: str, limit: int = 6, broad: bool = True) -> list[str]:
    """Notes of one kind as phrases; a note ending in ':' leads the items after it, which join it.

    broad=False leaves out notes printed at chapter or block level (they say little about one code).
    """
    phrases: list[str] = []
    lead: str | None = None
    items: list[str] = []
    origin = None

    def flush():
        if lead is not None:
            shown = _join(items[:limit], "or") + (", and others" if len(items) > limit else "")
            phrases.append(f"{lead} {shown}".strip())
        phrases.extend(i for i in ([] if lead is not None else items))

    for n in notes:
        if n.kind != kind or (not broad and n.origin_kind in ("chapter", "block")):
            continue
        text = expand(n.text).strip().lstrip(", ").strip()
        if n.origin != origin:
            flush()
            lead, items, origin = None, [], n.origin
        if text.endswith(":"):
            flush()
            lead, items = text.rstrip(":").rstrip(",").strip() + ":", []
        else:
            items.append(text.rstrip("."))
    flush()
    return phrases[:limit]


def describe(book: Book, system: str, code: str, when: date | str | None = None) -> str:
    """A few short paragraphs of plain prose about a code, on the date of service."""
    c = book.get(system, code, when)
    at = when if c.status == "active" else (c.valid_to or c.valid_from)
    if c.system == ICD10PCS:
        return _describe_pcs(book, c, at)
    if c.system in (HCPCS, MODIFIER, POS, CPT):
        return _describe_hcpcs_family(book, c, at)
    return _describe_cm(book, c, at)


def _describe_cm(book: Book, c: Code, when) -> str:
    label = SYSTEM_LABELS.get(c.system, c.system)
    paras: list[str] = []
    title = expand(c.title)
    if c.kind == "chapter":
        paras.append(f"Chapter {c.code} of {label} groups {_lower_first(title)}.")
    elif c.kind == "block":
        paras.append(f"The block {c.code} groups the categories for {_lower_first(title)}.")
    else:
        paras.append(f"{c.code} is the {label} code for {_lower_first(title)}.")
    glossary = _glossary(title)
    paras[-1] += " " + " ".join(glossary) if glossary else ""
    ancestors = book.ancestors(c.system, c.code, when)
    chapter = next((a for a in ancestors if a.kind == "chapter"), None)
    block = next((a for a in ancestors if a.kind == "block"), None)
    category = next((a for a in ancestors if a.kind == "category"), None)
    where = []
    if chapter:
        where.append(f"Chapter {chapter.code} ({expand(chapter.title)})")
    if block:
        where.append(f"the block {block.code}")
    if category and category.code != c.code:
        where.append(f"category {category.code}, {expand(category.title)}")
    if where:
        paras.append("It sits in " + _join(where) + ".")

    if c.status == "deleted":
        paras.append(f"It is no longer valid: it was deleted after {c.valid_to.isoformat()}. Look for the codes that "
                     "replaced it under the same category.")
    elif c.billable:
        paras.append("It is a billable code: it is specific enough to report on a claim as it is.")
    elif c.kind not in ("chapter", "block"):
        below = book.billable_descendants(c.system, c.code, when, limit=400)
        examples = ", ".join(f"{b.code} ({expand(b.title)})" for b in below[:3])
        paras.append(f"It is not billable: it is a heading. Report one of the {len(below)} more specific codes "
                     f"below it instead" + (f", for example {examples}." if examples else "."))

    notes = book.notes(c.system, c.code, when)
    includes = _note_list(notes, "includes") + _note_list(notes, "inclusion_terms")
    if includes:
        paras.append("It also covers " + _join([f"“{i}”" for i in includes]) + ".")
    first = _note_list(notes, "code_first")
    if first:
        paras.append("Code first " + "; ".join(first) + ". This code is listed after it.")
    additional = _note_list(notes, "use_additional")
    if additional:
        phrases = []
        for a in additional:
            rest = re.sub(r"^(additional )?code\(?s?\)?,?\s*", "", a)
            phrases.append(rest if re.match(r"^(to|for|if|from)\b", rest) else f"for {rest}")
        paras.append("Use an additional code " + "; and an additional code ".join(phrases) + ".")
    also = _note_list(notes, "code_also")
    if also:
        paras.append("Code also " + _join(also) + ", when documented.")
    ex1 = _note_list(notes, "excludes1", broad=c.kind in ("chapter", "block"))
    if ex1:
        paras.append("Never report it together with " + _join(ex1, "or") +
                     " (Excludes1): those conditions are coded elsewhere, with the code shown.")
    ex2 = _note_list(notes, "excludes2", broad=False)
    if ex2:
        paras.append("These are not part of this code but may be reported with it when the patient has both "
                     "(Excludes2): " + _join(ex2) + ".")

    sevenths = book.seventh_characters(c.system, c.code, when)
    if c.kind == "extension":
        char = c.code[-1]
        meaning = next((s.meaning for s in sevenths if s.char == char), None)
        if meaning:
            why = next((v for k, v in SEVENTH_EXPLAINED.items() if meaning.lower().startswith(k)), None)
            paras.append(f"The 7th character {char} means “{meaning}”" + (f": use it {why}." if why else "."))
    elif sevenths:
        chars = ", ".join(f"{s.char} ({s.meaning})" for s in sevenths[:6])
        paras.append(f"Codes here need a 7th character: {chars}" + (", and others" if len(sevenths) > 6 else "") +
                     ". Use the placeholder X to fill empty positions before it.")
    return "\n\n".join(paras)


def _describe_pcs(book: Book, c: Code, when) -> str:
    label = SYSTEM_LABELS[ICD10PCS]
    if c.kind != "code":
        return f"{c.code} is a {c.kind.replace('_', ' ')} of {label}: {c.title}. Every reportable PCS code has " \
               "seven characters; choose one from the table."
    return (f"{c.code} is the {label} procedure code for {_lower_first(c.title)}. Each of its seven characters "
            "stands for one axis of the procedure (section, body system, root operation, body part, approach, "
            "device and qualifier); the table below spells out each one. It is a complete, reportable code.")


def _validity(c: Code, what: str) -> str:
    if c.status == "deleted":
        return f"It is no longer valid: it was discontinued after {c.valid_to.isoformat()}."
    if c.status == "future":
        return f"It is not in effect yet: it is valid from {c.valid_from.isoformat()}."
    return f"It is a valid {what} on the date of service."


def _describe_hcpcs_family(book: Book, c: Code, when) -> str:
    """HCPCS Level II codes and sections, modifiers, places of service, and CPT codes (by number when no
    licensed text is held: the descriptor is AMA text and never paraphrased here)."""
    title = expand(c.title)
    paras: list[str] = []
    if c.system == HCPCS and c.kind == "section":
        return (f"The HCPCS Level II {c.code} codes: every Level II code starting with {c.code}. Level II codes "
                "report the products, supplies and services that CPT does not list, such as drugs, durable "
                "medical equipment, ambulance services and some Medicare-specific procedures. Open a code "
                "below for its description, Medicare attributes and edits.")
    if c.system == HCPCS:
        paras.append(f"{c.code} is the HCPCS Level II code for {_lower_first(title)}. "
                     f"Level II codes report the products, supplies and services that CPT does not list.")
        paras.append(_validity(c, "code to report on a claim"))
        noc = book.hcpcs_noc(c.code, when)
        if noc:
            paras.append("It is a not-otherwise-classified (NOC) code: report it only when no more specific "
                         "code describes the item or service, and describe what was given on the claim.")
    elif c.system == MODIFIER:
        from .book import NCCI_PTP_MODIFIERS

        if c.kind == "cpt_modifier":
            paras.append(f"{c.code} is a CPT (Level I) modifier"
                         + (f": {_lower_first(title)}." if c.title else
                            ". Its descriptor is AMA text, shown only when a licensee has imported the AMA files."))
        else:
            paras.append(f"{c.code} is a HCPCS Level II modifier: {_lower_first(title)}.")
        paras.append("A modifier is two characters added to a procedure code to tell the payer more about the "
                     "service (which side, who performed it, why it was separate) without changing what the code "
                     "means.")
        if c.code in NCCI_PTP_MODIFIERS:
            paras.append("It is one of the NCCI PTP-associated modifiers: on the right claim line, and when the "
                         "clinical circumstances justify it, it lets two codes whose NCCI edit has modifier "
                         "indicator 1 be reported together. It never bypasses an edit with indicator 0.")
        paras.append(_validity(c, "modifier"))
    elif c.system == POS:
        details = book.pos_details(c.code, when) or {}
        paras.append(f"{c.code} is the place of service code for {_lower_first(title)}. Professional claims "
                     "report it to say where the service was given.")
        setting = (details.get("setting") or "").lower()
        if setting in ("facility", "non-facility"):
            paras.append(f"Medicare pays physician fee schedule services there at the {setting} rate.")
        paras.append(_validity(c, "place of service code"))
    else:  # CPT
        if c.title:
            paras.append(f"{c.code} is the CPT (Level I) code for {_lower_first(title)}.")
        else:
            paras.append(f"{c.code} is a CPT (Level I) code. Its descriptor is licensed by the American Medical "
                         "Association and is not shown here; the code is known by its number from the CMS files "
                         "that list it on this date (fee schedule relative values, NCCI edits and MUEs).")
        paras.append(_validity(c, "code"))
    return "\n\n".join(paras)
