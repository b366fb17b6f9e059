"""The claim edit checker (issue 5): NCCI PTP pairs, MUEs, add-on codes and code validity for the lines
of one claim, from the codebook's tables. Plain Python: nothing here imports Django.

    from medcode.edits import check_claim
    check_claim(book, ["29881", "29880-59", "J1100x12"], setting="practitioner", when="2026-03-01")
"""

from .checker import (KINDS, SETTINGS, SEVERITIES, CheckResult, Finding, LineInfo, check_claim, run_check,
                      setting_name)
from .claim import (MAX_LINES, MAX_MODIFIERS, MAX_TEXT, MAX_UNITS, ClaimError, ClaimLine, line_from_dict,
                    parse_token, read_lines, split_text)
from .modifiers import ANATOMIC, CPT_MODIFIERS, NCCI_PTP_ASSOCIATED

__all__ = [
    "ANATOMIC", "CPT_MODIFIERS", "NCCI_PTP_ASSOCIATED", "KINDS", "SETTINGS", "SEVERITIES", "MAX_LINES",
    "MAX_MODIFIERS", "MAX_TEXT", "MAX_UNITS", "CheckResult", "ClaimError", "ClaimLine", "Finding", "LineInfo",
    "check_claim", "line_from_dict", "parse_token", "read_lines", "run_check", "setting_name", "split_text",
]
