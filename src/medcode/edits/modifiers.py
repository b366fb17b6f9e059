"""What the checker must know about modifiers without licensed CPT data.

HCPCS Level II modifiers (LT, XS, JW, ...) are in the codebook (system "modifier") with their dates.
CPT (Level I) modifiers are two-digit numbers whose descriptors are AMA text the project does not
ship, so the checker knows them by number only. The NCCI PTP-associated modifiers are CMS's list in
the NCCI Policy Manual for Medicare, chapter I, section E ("Modifiers and Modifier Indicators").
"""

from __future__ import annotations

from datetime import date

# NCCI Policy Manual, chapter I, E: "Modifiers that may be used under appropriate clinical
# circumstances to bypass an NCCI PTP edit". 22, 76 and 77 are named there as NOT associated.
ANATOMIC = frozenset({"E1", "E2", "E3", "E4", "FA", *(f"F{n}" for n in range(1, 10)), "TA",
                      *(f"T{n}" for n in range(1, 10)), "LT", "RT", "LC", "LD", "RC", "LM", "RI"})
GLOBAL_SURGERY = frozenset({"24", "25", "57", "58", "78", "79"})
OTHER_PTP = frozenset({"27", "59", "91", "XE", "XS", "XP", "XU"})
NCCI_PTP_ASSOCIATED = ANATOMIC | GLOBAL_SURGERY | OTHER_PTP
NOT_ASSOCIATED = frozenset({"22", "76", "77"})  # the manual says these never bypass a PTP edit

# The X{EPSU} modifiers, CMS's more specific alternatives to 59 (effective 2015-01-01), in our words.
X_MODIFIERS = {"XE": "separate encounter", "XS": "separate structure or organ", "XP": "separate practitioner",
               "XU": "unusual non-overlapping service"}

# CPT modifiers by number (Appendix A of the CPT codebook; numbers only, no descriptors). Modifiers
# added recently carry the first date they may be used; the others predate every table held.
CPT_MODIFIERS: dict[str, date | None] = {
    **{m: None for m in ("22", "23", "24", "25", "26", "27", "32", "47", "50", "51", "52", "53", "54", "55",
                         "56", "57", "58", "59", "62", "66", "73", "74", "76", "77", "78", "79", "80", "81",
                         "82", "90", "91", "92", "99")},
    "33": date(2011, 1, 1), "63": date(2006, 1, 1),
    "95": date(2017, 1, 1), "96": date(2018, 1, 1), "97": date(2018, 1, 1), "93": date(2022, 1, 1),
}


def cpt_modifier_status(code: str, when: date) -> str | None:
    """'active' or 'future' for a CPT modifier number, None when it is not one."""
    if code not in CPT_MODIFIERS:
        return None
    since = CPT_MODIFIERS[code]
    return "future" if since is not None and when < since else "active"


def is_cpt_number(code: str) -> bool:
    return len(code) == 2 and code.isdigit()
