"""Claim lines from what people type (`29880-59`, `J1100 x12`, `29881-LT-59x2`) or from JSON.

Everything a claim line can get wrong in its form is a ClaimError listing every problem, each with
the line and field; whether a well-formed code or modifier exists on the date is the checker's job
(an "invalid" or "deleted" finding), so the reader says only what it cannot read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_LINES = 50       # an 837P claim has at most 50 service lines
MAX_MODIFIERS = 4    # modifier positions on a claim line
MAX_UNITS = 99_999   # the largest MUE CMS publishes is 90,000 units
MAX_TOKEN = 64
MAX_TEXT = 8_000     # a pasted list of lines

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9.]{0,9}$")
_MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
# units at the end: x12, X 12, *12, ×12 -- unless the X follows a dash, where X2 is a modifier
_UNITS = re.compile(r"[X*\u00d7]\s*([0-9]+)\s*$")
_UNITS_INSIDE = re.compile(r"^[A-Z0-9]{5}[X*\u00d7][0-9]+$")
_SPLIT_LINES = re.compile(r"[\n\r,;]+")


@dataclass(frozen=True, slots=True)
class ClaimLine:
    code: str
    modifiers: tuple[str, ...] = ()
    units: int = 1

    @property
    def label(self) -> str:
        """The line as people write it: 29881-LT-59 x2."""
        text = "-".join((self.code, *self.modifiers))
        return f"{text} x{self.units}" if self.units != 1 else text

    def as_dict(self) -> dict:
        return {"code": self.code, "modifiers": list(self.modifiers), "units": self.units}


@dataclass
class ClaimError(ValueError):
    """A claim that cannot be read: `problems` are {"line": index or None, "field", "message"}."""

    problems: list[dict] = field(default_factory=list)

    def __str__(self) -> str:
        shown = [p["message"] for p in self.problems[:5]]
        more = len(self.problems) - len(shown)
        return "; ".join(shown) + (f"; and {more} more problem{'s' if more > 1 else ''}" if more > 0 else "")

    @property
    def message(self) -> str:
        return str(self)


def _where(index: int | None) -> str:
    return f"line {index + 1}: " if index is not None else ""


def _check_code(raw: str, index: int | None, problems: list[dict]) -> str | None:
    code = raw.strip().upper()
    if not code:
        problems.append({"line": index, "field": "code", "message": f"{_where(index)}the code is missing"})
        return None
    if not _CODE.match(code):
        problems.append({"line": index, "field": "code",
                         "message": f"{_where(index)}{raw.strip()[:20]!r} is not a code: use a CPT or HCPCS code "
                                    "such as 99213 or J1100"})
        return None
    return code


def _check_modifiers(mods, index: int | None, problems: list[dict]) -> tuple[str, ...]:
    if len(mods) > MAX_MODIFIERS:  # one problem, not one per item: 300,000 of them made a 45 MB answer
        problems.append({"line": index, "field": "modifiers",
                         "message": f"{_where(index)}{len(mods):,} modifiers; a claim line holds at most "
                                    f"{MAX_MODIFIERS}"})
        return ()
    out: list[str] = []
    for raw in mods:
        if not isinstance(raw, str):
            problems.append({"line": index, "field": "modifiers",
                             "message": f"{_where(index)}each modifier must be text such as \"59\" or \"LT\""})
            continue
        mod = raw.strip().upper()
        if not mod:
            problems.append({"line": index, "field": "modifiers", "message": f"{_where(index)}a modifier is empty"})
        elif len(mod) == 5 and mod[:1].isalnum() and _CODE.match(mod):
            problems.append({"line": index, "field": "modifiers",
                             "message": f"{_where(index)}{mod} looks like a code, not a modifier: put each code "
                                        "on a line of its own (separate them with commas or new lines)"})
        elif not _MODIFIER.match(mod):
            problems.append({"line": index, "field": "modifiers",
                             "message": f"{_where(index)}modifier {raw.strip()[:20]!r} is not two letters or "
                                        "digits (e.g. 59, LT, XS)"})
        elif mod in out:
            problems.append({"line": index, "field": "modifiers",
                             "message": f"{_where(index)}modifier {mod} is given twice"})
        else:
            out.append(mod)
    return tuple(out)


def _check_units(value, index: int | None, problems: list[dict]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str) and re.fullmatch(r"[0-9]{1,9}", value.strip()):  # not '²': isdigit() takes it
            value = int(value.strip())
        else:
            problems.append({"line": index, "field": "units",
                             "message": f"{_where(index)}units must be a whole number from 1 to {MAX_UNITS:,}"})
            return None
    if value < 1:
        problems.append({"line": index, "field": "units",
                         "message": f"{_where(index)}units must be at least 1 (got {value})"})
        return None
    if value > MAX_UNITS:
        problems.append({"line": index, "field": "units",
                         "message": f"{_where(index)}{value:,} units is more than any claim line holds "
                                    f"(at most {MAX_UNITS:,})"})
        return None
    return value


def parse_token(token: str, index: int | None = None) -> ClaimLine:
    """One line as typed: CODE[-MOD...][xUNITS], any case, spaces allowed around - and x."""
    problems: list[dict] = []
    line = _parse_token(token, index, problems)
    if problems:
        raise ClaimError(problems)
    return line


def _parse_token(token, index: int | None, problems: list[dict]) -> ClaimLine | None:
    before = len(problems)
    if not isinstance(token, str):
        problems.append({"line": index, "field": "line", "message": f"{_where(index)}a line must be text"})
        return None
    text = token.strip().upper().replace("\u2013", "-").replace("\u2014", "-")
    if not text:
        problems.append({"line": index, "field": "line", "message": f"{_where(index)}the line is empty"})
        return None
    if len(text) > MAX_TOKEN:
        problems.append({"line": index, "field": "line",
                         "message": f"{_where(index)}the line is {len(text)} characters long; a claim line such as "
                                    "29881-LT-59x2 is far shorter"})
        return None
    units: int | None = 1
    m = _UNITS.search(text)
    if m and text[:m.start()].strip() and not text[:m.start()].rstrip().endswith("-"):
        digits = m.group(1)
        units = _check_units(int(digits) if len(digits) <= 9 else 10 ** 9, index, problems)
        text = text[:m.start()]
    else:
        last = re.split(r"\s*-\s*|\s+", text)[-1]
        if text.endswith(("*", "\u00d7")) or (last.endswith("X") and len(last) in (3, 6)):
            problems.append({"line": index, "field": "units",
                             "message": f"{_where(index)}a number of units must follow the x (e.g. J1100x12)"})
            return None
    parts = re.split(r"\s*-\s*|\s+", text.strip())
    if _UNITS_INSIDE.match(parts[0]) and len(parts) > 1:
        problems.append({"line": index, "field": "units",
                         "message": f"{_where(index)}put the units last, after the modifiers (e.g. 29880-59x2)"})
        return None
    code = _check_code(parts[0], index, problems)
    mods = _check_modifiers(parts[1:], index, problems)
    if len(problems) > before:
        return None
    return ClaimLine(code, mods, units)


def line_from_dict(item, index: int | None = None, problems: list[dict] | None = None) -> ClaimLine | None:
    """A line of the API's JSON: {"code": "29880", "modifiers": ["59"], "units": 1}."""
    own = problems is None
    problems = [] if own else problems
    before = len(problems)
    out = None
    if not isinstance(item, dict):
        problems.append({"line": index, "field": "line",
                         "message": f"{_where(index)}each line must be an object like "
                                    "{\"code\": \"29880\", \"modifiers\": [\"59\"], \"units\": 1}"})
    else:
        unknown = sorted(set(item) - {"code", "modifiers", "units"})
        raw_code, mods, units = item.get("code"), item.get("modifiers") or [], item.get("units", 1)
        if unknown:
            problems.append({"line": index, "field": unknown[0],
                             "message": f"{_where(index)}unknown field {unknown[0][:20]!r}; a line has code, "
                                        "modifiers and units"})
        if not isinstance(raw_code, str):
            problems.append({"line": index, "field": "code",
                             "message": f"{_where(index)}code is required and must be text"})
            code = None
        elif not _CODE.match(raw_code.strip().upper()) and re.search(r"[-\s*]|X[0-9]", raw_code.strip().upper()):
            problems.append({"line": index, "field": "code",
                             "message": f"{_where(index)}code {raw_code.strip()[:20]!r} carries more than a code: put "
                                        "modifiers in \"modifiers\" and the units in \"units\""})
            code = None
        else:
            code = _check_code(raw_code, index, problems)
        if not isinstance(mods, (list, tuple)):
            problems.append({"line": index, "field": "modifiers",
                             "message": f"{_where(index)}modifiers must be a list such as [\"59\"]"})
            mods = []
        mods = _check_modifiers(mods, index, problems)
        units = _check_units(units, index, problems)
        if len(problems) == before:
            out = ClaimLine(code, mods, units)
    if own and problems:
        raise ClaimError(problems)
    return out


def split_text(text: str) -> list[str]:
    """A pasted list: one line per row, or separated by commas or semicolons; blank rows skipped."""
    return [t.strip() for t in _SPLIT_LINES.split(text or "") if t.strip()]


def too_many_lines(count: int) -> str:
    return f"the claim has {count:,} lines; at most {MAX_LINES} are checked at once (a claim holds at most 50 " \
           "service lines)"


def read_lines(items) -> list[ClaimLine]:
    """Claim lines from ClaimLines, typed tokens or API dicts (mixed is fine); every problem at once."""
    if isinstance(items, str):
        if len(items) > MAX_TEXT:
            raise ClaimError([{"line": None, "field": "lines",
                               "message": f"the list of lines is {len(items):,} characters long; at most "
                                          f"{MAX_TEXT:,} are read"}])
        items = split_text(items)
    if not isinstance(items, (list, tuple)):
        raise ClaimError([{"line": None, "field": "lines", "message": "lines must be a list of claim lines"}])
    if not items:
        raise ClaimError([{"line": None, "field": "lines",
                           "message": "the claim has no lines: give at least one code"}])
    if len(items) > MAX_LINES:
        raise ClaimError([{"line": None, "field": "lines", "message": too_many_lines(len(items))}])
    problems: list[dict] = []
    out: list[ClaimLine | None] = []
    for i, item in enumerate(items):
        if isinstance(item, ClaimLine):
            out.append(item)
        elif isinstance(item, dict):
            out.append(line_from_dict(item, i, problems))
        else:
            out.append(_parse_token(item, i, problems))
    seen: dict[tuple, int] = {}
    for i, line in enumerate(out):
        if line is None:
            continue
        key = (line.code, frozenset(line.modifiers))
        if key in seen:
            j = seen[key]
            problems.append({"line": i, "field": "line",
                             "message": f"lines {j + 1} and {i + 1} are the same service ({line.code}"
                                        f"{''.join('-' + m for m in line.modifiers)}): put all its units on one "
                                        f"line (e.g. {line.code}x{(out[j].units if out[j] else 1) + line.units}), "
                                        "or add the modifier that tells them apart (e.g. 76, 91, LT/RT)"})
        else:
            seen[key] = i
    if problems:
        raise ClaimError(problems)
    return [line for line in out if line is not None]
