"""Likely PHI in a coding question, replaced by placeholders before anything is stored or logged.

Pure (no Django). `redact(text)` finds, in this order: email addresses, SSNs, phone numbers,
MRNs and other record numbers (after a label), dates of birth (after a label), street
addresses, and person names after "patient", "pt", "name", "Mr./Mrs./Ms." and the like.
It errs towards redacting: a coding question never needs any of these to be answered.
What it deliberately leaves alone: codes (E11.9, 0DTJ4ZZ, 99213, J1100), dates that are not
labelled as a birth date (a date of service matters for the code set), ages, and diagnoses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PLACEHOLDERS = {
    "email": "[email]",
    "ssn": "[SSN]",
    "phone": "[phone]",
    "mrn": "[MRN]",
    "dob": "[date of birth]",
    "address": "[address]",
    "name": "[name]",
}
LABELS = {
    "email": "email addresses", "ssn": "Social Security numbers", "phone": "phone numbers",
    "mrn": "record numbers (MRN)", "dob": "dates of birth", "address": "street addresses", "name": "names",
}

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_SSN = re.compile(
    r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])"  # 123-45-6789
    r"|(?i:\b(?:ssn|social security(?: number| no\.?| #)?|ss#)\s*[:#]?\s*)\d{3}[ -]?\d{2}[ -]?\d{4}\b")
_PHONE = re.compile(
    r"(?<![\w-])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s*|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w-])"  # (555) 123-4567, 555-123-4567
    r"|(?i:\b(?:phone|tel|telephone|cell|mobile|fax|ph)\.?\s*(?:no\.?|number|#)?\s*[:#]?\s*)\+?\d[\d\s().-]{8,16}\d")
_MRN_LABEL = (r"(?:MRN|MR\s?#|MR\s?no\.?|med(?:ical)?\s+rec(?:ord)?\s*(?:number|no\.?|#)?|chart\s*(?:number|no\.?|#)"
              r"|patient\s+(?:id|number|no\.?|#)|acct\.?\s*(?:number|no\.?|#)|account\s*(?:number|no\.?|#)"
              r"|encounter\s*(?:number|no\.?|#)|member\s*(?:id|number|no\.?|#)|policy\s*(?:number|no\.?|#)"
              r"|FIN|CSN|HAR)")
_MRN = re.compile(rf"\b({_MRN_LABEL})(\s*(?:is|was)?\s*[:#=]?\s*)([A-Z0-9][A-Z0-9-]{{2,}}\d[A-Z0-9-]*|\d{{3,}})\b",
                  re.IGNORECASE)
_MONTHS = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?"
           r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_DATE = (rf"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}|\d{{4}}-\d{{1,2}}-\d{{1,2}}"
         rf"|{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS},?\s+\d{{4}}"
         rf"|{_MONTHS}\s+\d{{4}}|\d{{8}})")
_DOB = re.compile(
    rf"\b(D\.?O\.?B\.?|date\s+of\s+birth|birth\s*date|birthdate|birthday|born(?:\s+on)?|b\.)(\s*(?:is|was)?\s*[:#=-]?\s*)"
    rf"({_DATE})", re.IGNORECASE)
_STREET_TYPES = (r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter"
                 r"|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Trail|Trl|Pike|Alley|Loop|Row)")
_UNIT = r"(?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|Rm|Room|Fl|Floor|#)\.?\s*#?\s*[\w-]+)?"
_CITY_ZIP = r"(?:,?\s*(?:[A-Z][a-z]+\.?\s+){0,3}(?:[A-Z][a-z]+)?,?\s*(?:[A-Z]{2}\s+)?\d{5}(?:-\d{4})?)?"
_ADDRESS = re.compile(
    rf"\b\d{{1,6}}[A-Za-z]?\s+(?:(?:[NSEW]|North|South|East|West)\.?\s+)?(?:[A-Z0-9][\w'.-]*\s+){{1,4}}"
    rf"{_STREET_TYPES}\b\.?{_UNIT}{_CITY_ZIP}"
    rf"|\b(?i:P\.?\s?O\.?\s+Box)\s+\d+{_CITY_ZIP}"
    rf"|\b(?i:(?:home|street|mailing)?\s*address)\s*(?:is)?\s*[:=-]\s*[^\n;]{{4,80}}")

# A capitalised word that can be part of a person's name (not a sentence word after "Patient").
_NAME_WORD = r"(?:[A-Z][a-z]*(?:['’-][A-Za-z][a-z]+)+|[A-Z][a-z]+(?:[A-Z][a-z]+)?|[A-Z]\.|[A-Z][A-Z'-]{1,}(?=\s|,|$))"
_NOT_NAMES = {
    "is", "has", "had", "was", "were", "with", "without", "who", "whose", "presents", "presented", "denies",
    "reports", "history", "admitted", "seen", "came", "comes", "returns", "returned", "underwent", "received",
    "the", "a", "an", "in", "on", "at", "for", "of", "to", "and", "or", "but", "states", "complains", "c/o",
    "visit", "encounter", "diagnosed", "status", "care", "education", "portal", "name", "age", "male", "female",
    "man", "woman", "boy", "girl", "infant", "newborn", "type", "also", "then", "now", "today", "yesterday",
    "here", "there", "what", "which", "when", "how", "why", "should", "would", "could", "can", "will", "may",
    "did", "does", "do", "i", "we", "you", "he", "she", "they", "it", "this", "that", "these", "those",
    "inpatient", "outpatient", "established", "new", "existing", "follow", "followup", "follow-up", "got",
    "requires", "required", "needs", "needed", "underlying", "previously", "currently", "being", "not", "no",
    "left", "right", "bilateral", "acute", "chronic", "hx", "dx", "pmh", "yo", "y/o", "years", "year", "old",
    "icd", "cpt", "hcpcs", "pcs", "cm", "er", "ed", "icu", "or", "pt", "dr", "dob", "mrn", "ssn", "copd", "chf",
    "afib", "ckd", "esrd", "hiv", "uti", "dm", "htn", "mi", "ami", "cva", "tia", "gerd", "bmi",
}
_NAME_TRIGGER = re.compile(
    r"\b(?:(?:patient|pt|client|resident|member|beneficiary|subscriber|guarantor|insured)(?:'s)?"
    r"(?:\s+(?:full\s+|first\s+|last\s+)?name)?(?:\s+(?:is|was|named|called))?|Mrs|Mr|Ms|Miss|Mx)(?![a-z])"
    r"\.?\s*[:#-]?\s*",
    re.IGNORECASE)
_NAME_WORDS = re.compile(rf"(?:(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s+)?{_NAME_WORD}(?:,?\s+{_NAME_WORD}){{0,3}}")
# After an explicit "name:" label the name may be typed in lower case.
_LABELLED_NAME = re.compile(
    r"\b((?:(?:patient(?:'s)?|pt\.?)\s+(?:full\s+|first\s+|last\s+|given\s+|family\s+)?name\b\s*(?:(?:is|was)\s*)?[:=-]?"
    r"|(?:full\s+|first\s+|last\s+|given\s+|family\s+|sur)?name\b\s*(?:is|was)?\s*[:=-])\s*)"
    r"([A-Za-z][A-Za-z'.-]*(?:,?[ \t]+[A-Za-z][A-Za-z'.-]*){0,3})", re.IGNORECASE)


@dataclass
class Redacted:
    text: str
    kinds: list[str] = field(default_factory=list)  # which kinds were found, in PLACEHOLDERS order

    @property
    def found(self) -> bool:
        return bool(self.kinds)


def _sub_label(pattern: re.Pattern, kind: str, text: str, hits: set[str]) -> str:
    """Replace the value after a label, keeping the label ("DOB: [date of birth]")."""

    def repl(m: re.Match) -> str:
        hits.add(kind)
        return m.group(1) + m.group(2) + PLACEHOLDERS[kind]

    return pattern.sub(repl, text)


def _sub(pattern: re.Pattern, kind: str, text: str, hits: set[str]) -> str:
    def repl(m: re.Match) -> str:
        hits.add(kind)
        return PLACEHOLDERS[kind]

    return pattern.sub(repl, text)


def _names(text: str, hits: set[str]) -> str:
    def labelled(m: re.Match) -> str:
        value = m.group(2)
        end = 0
        for w in re.finditer(r"[^\s,]+", value):  # stop at the first word that is clearly not part of the name
            bare = w.group(0).strip(".")
            if not bare or bare.lower() in _NOT_NAMES or bare.startswith("["):
                break
            end = w.start() + len(w.group(0).rstrip("."))
        if not end:
            return m.group(0)
        hits.add("name")
        return m.group(1) + PLACEHOLDERS["name"] + value[end:]

    text = _LABELLED_NAME.sub(labelled, text)

    out: list[str] = []
    pos = 0
    for trig in _NAME_TRIGGER.finditer(text):
        if trig.start() < pos:
            continue
        m = _NAME_WORDS.match(text, trig.end())
        if not m:
            continue
        words = re.split(r",?\s+", m.group(0))
        keep = []
        for w in words:
            bare = w.strip(",.").lower()
            if bare in _NOT_NAMES or not bare:
                break
            keep.append(w)
        if not keep:
            continue
        # the matched span of the kept words (they are a prefix of the match)
        end = trig.end()
        for w in keep:
            end = text.index(w, end) + len(w)
        trigger_word = trig.group(0).strip().rstrip(".:#-").lower()
        if len(keep) == 1 and not re.match(r"[A-Z][a-z]", keep[0]):
            continue  # "patient ED" / "pt A." alone is too thin to call a name
        hits.add("name")
        out.append(text[pos:trig.end()])
        out.append(PLACEHOLDERS["name"])
        pos = end
    out.append(text[pos:])
    return "".join(out)


def redact(text: str) -> Redacted:
    """The text with likely PHI replaced by placeholders, and the kinds found."""
    if not text:
        return Redacted(text or "", [])
    hits: set[str] = set()
    text = _sub(_EMAIL, "email", text, hits)
    text = _sub(_SSN, "ssn", text, hits)
    text = _sub_label(_DOB, "dob", text, hits)  # before phones: "DOB 01-02-1960" is not a phone
    text = _sub_label(_MRN, "mrn", text, hits)
    text = _sub(_PHONE, "phone", text, hits)
    text = _sub(_ADDRESS, "address", text, hits)
    text = _names(text, hits)
    return Redacted(text, [k for k in PLACEHOLDERS if k in hits])


def describe(kinds: list[str]) -> str:
    """ "names, dates of birth and phone numbers" for the reply's reminder."""
    labels = [LABELS[k] for k in kinds if k in LABELS]
    if not labels:
        return ""
    if len(labels) == 1:
        return labels[0]
    return ", ".join(labels[:-1]) + " and " + labels[-1]
