"""Code systems and code normalisation: `e119`, `E11.9` and ` e11.9 ` are one code."""

from __future__ import annotations

import re

from .errors import UnknownSystem

ICD10CM = "icd10cm"
ICD10PCS = "icd10pcs"
HCPCS = "hcpcs"
CPT = "cpt"
MODIFIER = "modifier"
POS = "pos"
ICD9CM = "icd9cm"

SYSTEMS = (ICD10CM, ICD10PCS, HCPCS, CPT, MODIFIER, POS)

SYSTEM_LABELS = {
    ICD10CM: "ICD-10-CM",
    ICD10PCS: "ICD-10-PCS",
    HCPCS: "HCPCS Level II",
    CPT: "CPT",
    MODIFIER: "Modifier",
    POS: "Place of service",
    ICD9CM: "ICD-9-CM",
}

_ALIASES = {
    "icd10cm": ICD10CM, "icd-10-cm": ICD10CM, "icd10": ICD10CM, "cm": ICD10CM, "dx": ICD10CM,
    "icd10pcs": ICD10PCS, "icd-10-pcs": ICD10PCS, "pcs": ICD10PCS, "px": ICD10PCS,
    "hcpcs": HCPCS, "hcpcs2": HCPCS, "level2": HCPCS,
    "cpt": CPT, "modifier": MODIFIER, "mod": MODIFIER, "pos": POS, "icd9cm": ICD9CM, "icd9": ICD9CM,
}

_STRIP = re.compile(r"[\s.\u00a0]+")
_ICD10CM_CODE = re.compile(r"^[A-Z][0-9A-Z][0-9A-Z]([0-9A-Z]{1,4})?$")
_BLOCK = re.compile(r"^[A-Z][0-9A-Z][0-9A-Z]-[A-Z][0-9A-Z][0-9A-Z]$")
_PCS = re.compile(r"^[0-9A-HJ-NP-Z]{1,7}$")


def system_name(system: str) -> str:
    """Canonical system id for any accepted spelling; UnknownSystem otherwise."""
    key = (system or "").strip().lower()
    try:
        return _ALIASES[key]
    except KeyError:
        raise UnknownSystem(
            f"unknown code system {system!r}; use one of: {', '.join(SYSTEMS)}"
        ) from None


def normalize(code: str, system: str = ICD10CM) -> str:
    """The stored spelling of a code: upper case; ICD-10-CM dotted after the 3rd character.

    Returns the cleaned string even when it is not code-shaped, so callers can report it.
    """
    raw = (code or "").strip().upper()
    if system == ICD10CM:
        if "-" in raw:
            return _STRIP.sub("", raw)
        compact = _STRIP.sub("", raw)
        if len(compact) > 3 and compact[0].isalpha():
            return compact[:3] + "." + compact[3:]
        return compact
    if system == ICD9CM:
        compact = _STRIP.sub("", raw)
        if compact.startswith("E") and len(compact) > 4:
            return compact[:4] + "." + compact[4:]
        if len(compact) > 3:
            return compact[:3] + "." + compact[3:]
        return compact
    return _STRIP.sub("", raw)


def undotted(code: str) -> str:
    return code.replace(".", "").upper()


def looks_like(system: str, code: str) -> bool:
    """Shape check only (existence is the book's job)."""
    c = normalize(code, system)
    if system == ICD10CM:
        return bool(_ICD10CM_CODE.match(undotted(c)) or _BLOCK.match(c) or c.isdigit())
    if system == ICD10PCS:
        return bool(_PCS.match(c))
    return bool(c) and len(c) <= 10 and c.isalnum()
