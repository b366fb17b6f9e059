"""Questions the codebook has no source for, answered with an honest "I don't know" before any look-up.

The codebook holds the US code sets (ICD-10-CM, ICD-10-PCS, HCPCS, CPT numbers), the official ICD-10-CM and
PCS guidelines, the NCCI edits and Policy Manual, CMS manual chapters and the Medicare fee schedule. A question
about another country's system or payment, a code set it does not hold (ICD-11, SNOMED ...), or one payer's
private policy would otherwise be answered from the nearest US Medicare fact: plausible and wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FOREIGN = re.compile(r"\b(?:canada|ontario|quebec|alberta|british\s+columbia|uk|u\.k\.|united\s+kingdom|britain|"
                      r"england|scotland|nhs|australia|new\s+zealand|germany|france|spain|italy|india|mexico|japan|"
                      r"china|brazil|europe|european\s+union|philippines|singapore|south\s+africa|saudi\s+arabia|"
                      r"netherlands|belgium|sweden|norway|denmark|switzerland|ireland)\b", re.I)
_MONEY = re.compile(r"reimburs|\bpay(?:s|ment|ing|ed)?\b|\bpaid\b|\bfees?\b|\brates?\b|\bprice|\bcost|\bcharge|"
                    r"\bcover(?:ed|age|s)?\b|\bbill(?:ed|ing|able)?\b|\bclaims?\b|\bcod(?:e|es|ed|ing)\b|\brules?\b|"
                    r"\bguidelines?\b|\bpolic", re.I)
_OTHER_SETS = re.compile(r"\bicd[\s-]*11\b|\bicd[\s-]*10[\s-]*(?:ca|am|gm|who)\b|\bsnomed\b|\bloinc\b|\bread\s+codes?\b|"
                         r"\bopcs\b|\bcdt\b|\bdental\s+codes?\b|\bndc\b|\brxnorm\b|"
                         r"\b(?:which|what)\s+(?:ms[\s-]*|apr[\s-]*)?drg\b|"
                         r"\b(?:ms[\s-]*|apr[\s-]*)?drgs?\b(?=.*\b(?:for|group|grouper|weight|assign))", re.I)
_PAYERS = re.compile(r"\b(?:aetna|cigna|united\s*health(?:care)?|uhc|humana|anthem|blue\s*cross|blue\s*shield|bcbs|"
                     r"kaiser|tricare|molina|centene|wellcare|highmark|oscar)\b", re.I)
_SET_NAMES = {"icd11": "ICD-11", "icd10ca": "ICD-10-CA", "icd10am": "ICD-10-AM", "icd10gm": "ICD-10-GM",
              "icd10who": "WHO ICD-10", "snomed": "SNOMED CT", "loinc": "LOINC", "opcs": "OPCS-4", "cdt": "CDT",
              "dentalcode": "CDT (dental)", "dentalcodes": "CDT (dental)", "aprdrg": "APR-DRG", "msdrg": "MS-DRG",
              "drg": "the DRG groupers", "drgs": "the DRG groupers", "ndc": "NDC", "rxnorm": "RxNorm",
              "readcode": "Read codes", "readcodes": "Read codes"}

HOLDS = ("the US code sets (ICD-10-CM, ICD-10-PCS, HCPCS Level II, CPT by number), the official ICD-10-CM and "
         "ICD-10-PCS guidelines, the Medicare NCCI edits and Policy Manual, CMS manual chapters and the Medicare "
         "Physician Fee Schedule")


# general-knowledge questions ("who won the game", "how tall is ..."): coding questions ask who *can bill*
_TRIVIA = re.compile(r"^\s*(?:who\s+(?:is|was|were|won|invented|wrote|sings?)\b|how\s+(?:tall|old|far|big|heavy)\b|"
                     r"what\s+year\b|what\s+is\s+the\s+(?:capital|population|weather|temperature|score)\b)", re.I)


_CODING = re.compile(r"\b(?:medicare|medicaid|cms|ncci|icd|cpt|hcpcs|mac|npp|provider|physician|practitioner|"
                     r"modifier|diagnos\w*|procedure|coder|payer|beneficiar\w*|guideline)", re.I)


@dataclass(frozen=True)
class OutOfScope:
    reason: str  # foreign | code_set | payer
    markdown: str


def out_of_scope(question: str) -> OutOfScope | None:
    """Why the codebook cannot answer a question, or None when it may."""
    q = question or ""
    if _TRIVIA.search(q) and not re.search(r"\b[A-Za-z]?\d{2}", q) and not _MONEY.search(q) and \
            not _CODING.search(q):
        return OutOfScope("general", "I don't know: that is not a coding question, and the codebook has no source "
                                     f"for it. It holds {HOLDS}.")
    m = _OTHER_SETS.search(q)
    if m:
        raw = re.sub(r"[^a-z0-9]", "", m.group(0).lower())
        raw = re.sub(r"^(?:which|what)", "", raw)
        name = _SET_NAMES.get(raw, "DRG groupers" if "drg" in raw else m.group(0).strip())
        return OutOfScope("code_set", f"I don't know: the codebook does not hold {name}, so I cannot answer from a "
                                      f"source. It holds {HOLDS}. Ask about one of those instead.")
    m = _FOREIGN.search(q)
    if m and _MONEY.search(q):
        return OutOfScope("foreign", f"I don't know: the codebook has no source for {m.group(0).strip()} — it holds "
                                     f"{HOLDS}, which apply in the United States. I will not answer with US Medicare "
                                     "figures for another country.")
    m = _PAYERS.search(q)
    if m:
        name = m.group(0).strip()
        return OutOfScope("payer", f"I don't know {name if name != name.lower() else name.title()}'s own policy: the codebook holds no private "
                                   f"payer's rules, only {HOLDS}. Ask the payer, or ask about the Medicare rule.")
    return None
