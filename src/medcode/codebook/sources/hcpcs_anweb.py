"""HCPCS Level II, CMS "ANWEB" alpha-numeric file: fixed-width text (`HCPC2020_ANWEB_w_disclaimer.txt`)
or the same records as an Excel workbook with the record layout's column names (`HCPC, SEQNUM, RECID,
LONG DESCRIPTION, ...`).

One record per code, 320 characters (record layout, CMS "HCPCS record layout"):

    HCPCS code 1-5 (a modifier right-aligned: "   LT"), sequence number 6-10, record identification
    code 11 (3 procedure, 4 procedure continuation, 7 modifier, 8 modifier continuation), long
    description 12-91, short description 92-119, pricing indicator 120-127 (4 x 2), multiple pricing
    indicator 128, CIM reference 129-146 (3 x 6), MCM reference 147-170 (3 x 8), statute 171-180,
    lab certification 181-204 (8 x 3), cross reference 205-229 (5 x 5), coverage 230, ASC payment
    group 231-232, ASC effective date 233-240, OPPS payment group 241-243, OPPS payment policy
    indicator 244, OPPS effective date 245-252, processing note 253-256, BETOS 257-259, filler 260,
    type of service 261-265 (5 x 1), anesthesia base units 266-268, code added date 269-276, action
    effective date 277-284, termination date 285-292, action code 293, filler 294-320.

A long description longer than 80 characters continues on records 4 (or 8) with the next sequence
numbers; they hold columns 1-91 only.

The file is cumulative: it keeps discontinued codes, with their termination dates. So a code's
version here runs from its added date to its termination date (open when it has none), with the
release's long description as its title; modifier records become system 'modifier' codes. The
other fields go to `hcpcs_details`, one row per code and release.

This module also holds what the other HCPCS-family importers share: the code list merge
(`apply_list`), the letter headers, reading .xlsx workbooks, and release dates from file names.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from ..codes import HCPCS, MODIFIER
from ..errors import SourceError
from ..writer import BuildContext, SourceFile, user_file_name
from .textfile import read_cms_text

KIND = "hcpcs_anweb"
SYSTEM = HCPCS
ORDER = 50  # the HCPCS family: anweb 50, attributes 51, modifier list 52, July list 53, NOC 54, POS 55

RECORD_LENGTH = 320
# (field, first column, last column, width of one occurrence) -- 1-based, inclusive, from the layout
LAYOUT = (
    ("code", 1, 5, 5), ("seq", 6, 10, 5), ("rec_id", 11, 11, 1),
    ("long", 12, 91, 80), ("short", 92, 119, 28),
    ("pricing", 120, 127, 2), ("multiple_pricing", 128, 128, 1),
    ("cim", 129, 146, 6), ("mcm", 147, 170, 8), ("statute", 171, 180, 10),
    ("lab_cert", 181, 204, 3), ("xref", 205, 229, 5), ("coverage", 230, 230, 1),
    ("asc_group", 231, 232, 2), ("asc_date", 233, 240, 8),
    ("opps", 241, 243, 3), ("opps_pi", 244, 244, 1), ("opps_date", 245, 252, 8),
    ("proc_note", 253, 256, 4), ("betos", 257, 259, 3), ("filler1", 260, 260, 1),
    ("tos", 261, 265, 1), ("anesthesia_units", 266, 268, 3),
    ("added", 269, 276, 8), ("action_date", 277, 284, 8), ("termination", 285, 292, 8),
    ("action_code", 293, 293, 1), ("filler2", 294, 320, 27),
)
REPEATING = {"pricing", "cim", "mcm", "lab_cert", "xref", "tos"}
DATE_FIELDS = ("asc_date", "opps_date", "added", "action_date", "termination")
LAST_FIELD_END = 293  # a record may lose its trailing blanks, never a field

# The action code key CMS ships with the file (HCPC2020_TRANS_ALPHA, "Action Code Key").
ACTION_CODES = {
    "A": "Add", "B": "Coverage and Long Description Change", "C": "Long Description Change",
    "D": "Discontinued", "F": "Coverage Change", "N": "No Change", "P": "Payment Change",
    "R": "Re-activated", "S": "Short Description Change",
    "T": "Miscellaneous change (BETOS or Type of Service)",
}
COVERAGE_CODES = set("CDIMS")

PROC_CODE = re.compile(r"^[A-Z][0-9]{4}$")
MOD_CODE = re.compile(r"^[0-9A-Z]{2}$")
_RECORD = re.compile(r"^([A-Z][0-9]{4}|   [0-9A-Z]{2})([0-9]{5})([3478])")
_BETOS = re.compile(r"^([A-Z][0-9][A-Z0-9 ]|   )$")
_MONTHS = {"JAN": 1, "APR": 4, "JUL": 7, "OCT": 10}
_MONTH_NAMES = {1: "January", 4: "April", 7: "July", 10: "October"}

# Columns of the workbook variant (names as in CMS's ANWEB .xls/.xlsx; spaces and underscores vary).
XLSX_COLUMNS = {
    "HCPC": "code", "HCPCS": "code", "SEQNUM": "seq", "RECID": "rec_id",
    "LONG_DESCRIPTION": "long", "SHORT_DESCRIPTION": "short",
    "PRICE1": "pricing", "PRICE2": "pricing", "PRICE3": "pricing", "PRICE4": "pricing",
    "MULT_PI": "multiple_pricing", "CIM1": "cim", "CIM2": "cim", "CIM3": "cim",
    "MCM1": "mcm", "MCM2": "mcm", "MCM3": "mcm", "STATUTE": "statute",
    **{f"LABCERT{i}": "lab_cert" for i in range(1, 9)}, **{f"XREF{i}": "xref" for i in range(1, 6)},
    "COV": "coverage", "ASC_GRP": "asc_group", "ASC_DT": "asc_date", "OPPS": "opps", "OPPS_PI": "opps_pi",
    "OPPS_DT": "opps_date", "PROCNOTE": "proc_note", "BETOS": "betos",
    **{f"TOS{i}": "tos" for i in range(1, 6)}, "ANEST_BU": "anesthesia_units", "ADD_DT": "added",
    "ACT_EFF_DT": "action_date", "TERM_DT": "termination", "ACTION_CD": "action_code",
}
_XLSX_REQUIRED = {"HCPC", "SEQNUM", "RECID", "LONG_DESCRIPTION", "ADD_DT", "TERM_DT"}

_COLS = ("system", "code", "valid_from", "valid_to", "title", "kind", "parent", "billable", "seq", "release_id")
DETAIL_COLS = ("system", "code", "release_id", "long_description", "short_description", "pricing",
               "multiple_pricing", "cim", "mcm", "statute", "lab_cert", "xref", "coverage", "asc_group",
               "asc_date", "opps", "opps_pi", "opps_date", "proc_note", "betos", "tos", "anesthesia_units",
               "added", "action_date", "termination", "action_code")

PROC_KIND = "code"              # a HCPCS Level II code
HEADER_KIND = "section"         # the letter headers (A, B, C, ...)
LEVEL2_MODIFIER = "hcpcs_modifier"
CPT_MODIFIER = "cpt_modifier"


# --- shared helpers ---------------------------------------------------------------------------

def code_seq(code: str) -> int:
    """Order of a code in its system: its value in base 36, so that codes sort by number and letter
    (0-9 before A-Z, as CMS lists them) and a new code never renumbers the others."""
    try:
        return int(code, 36)
    except ValueError:
        return 0


def header_seq(letter: str) -> int:
    return int(letter + "0000", 36) - 1


def header_title(letter: str) -> str:
    return f"HCPCS Level II {letter} codes"


def norm_title(title: str | None) -> str:
    return " ".join((title or "").split())


def _words(title: str | None) -> list[str]:
    return re.findall(r"[0-9a-z]+", (title or "").casefold())


def differs(old: str | None, new: str | None, third_party: bool = False) -> bool:
    """Whether `new` revises `old`. Spacing never counts. A third-party list (not a CMS file) counts
    only as a change of words: not quotes, case or punctuation, and not a shortened copy of the title."""
    if not third_party:
        return norm_title(old) != norm_title(new)
    a, b = _words(old), _words(new)
    return a != b and not (b and a[:len(b)] == b)


def original_name(src: SourceFile) -> str:
    return user_file_name(src.path)


def date_from_name(name: str) -> date | None:
    """`HCPC2020_ANWEB`, `HCPC2025_JUL_ANWEB_v3`, `NOC_codes_JUL2025`, `anweb_2024-07-01`: the first day
    of the quarter the file is for, when its name says so."""
    up = name.upper()
    m = re.search(r"(?<![0-9])(20[0-9]{2})-([01][0-9])-([0-3][0-9])(?![0-9])", up)
    if m:
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
    m = re.search(r"(JAN|APR|JUL|OCT)[A-Z]*[_ -]?(20[0-9]{2})(?![0-9])", up)
    if m:
        return date(int(m.group(2)), _MONTHS[m.group(1)], 1)
    m = re.search(r"(?<![0-9])(20[0-9]{2})[_ -]?(?:Q([1-4])|(JAN|APR|JUL|OCT))", up)
    if m:
        month = _MONTHS[m.group(3)] if m.group(3) else 3 * (int(m.group(2)) - 1) + 1
        return date(int(m.group(1)), month, 1)
    m = re.search(r"HCPC[S]?[_ -]?(20[0-9]{2})(?![0-9])", up)
    if m:
        return date(int(m.group(1)), 1, 1)
    return None


def option_date(src: SourceFile) -> date | None:
    value = (src.options or {}).get("effective_from")
    if not value:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise SourceError(src.path, f"option effective_from={value!r} is not a date (YYYY-MM-DD)") from None


def quarter_label(d: date) -> str:
    return f"{_MONTH_NAMES.get(d.month, d.strftime('%B'))} {d.year}"


def parse_yyyymmdd(value: str, path, where, what: str) -> str | None:
    """ISO date of an 8-digit YYYYMMDD field, None when blank; SourceError when it is not a date."""
    value = value.strip()
    if not value:
        return None
    if not (len(value) == 8 and value.isdigit()):
        raise SourceError(path, f"{what} {value!r} is not a date (YYYYMMDD): are the columns shifted?", where)
    try:
        found = date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise SourceError(path, f"{what} {value!r} is not a valid date", where) from None
    if not 1900 <= found.year <= 2199:
        raise SourceError(path, f"{what} {value!r} is not a plausible date: are the columns shifted?", where)
    return found.isoformat()


def is_xlsx(path: Path, head: bytes) -> bool:
    return head[:4] == b"PK\x03\x04" and original_name_of(path).lower().endswith((".xlsx", ".xlsm"))


def original_name_of(path: Path) -> str:
    return user_file_name(path)


def xlsx_rows(path: Path, limit: int | None = None, sheet: int = 0):
    """The cell values of a workbook's first sheet, row by row (None for blank cells)."""
    import openpyxl  # only needed for workbooks

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise SourceError(path, f"not a readable .xlsx workbook ({exc})") from None
    try:
        ws = wb.worksheets[sheet]
        for n, row in enumerate(ws.iter_rows(values_only=True), 1):
            if limit is not None and n > limit:
                break
            yield row
    finally:
        wb.close()


_PEEKED: dict[tuple, list[tuple]] = {}


def peek_xlsx(path: Path, head: bytes, rows: int = 12) -> list[tuple]:
    """The first rows of a workbook, or [] when it is not one (for sniff(); several importers ask about
    the same file, and opening a workbook reads all its strings, so the answer is kept)."""
    if not is_xlsx(path, head):
        return []
    try:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key not in _PEEKED:
            if len(_PEEKED) > 64:
                _PEEKED.clear()
            _PEEKED[key] = list(xlsx_rows(path, limit=12))
        return _PEEKED[key][:rows]
    except Exception:
        return []


def cell_text(value) -> str:
    """A workbook cell as the text the fixed-width file would hold (numbers without '.0', dates YYYYMMDD)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def header_key(value) -> str:
    return re.sub(r"[\s_]+", "_", cell_text(value).strip().upper())


def read_text(src: SourceFile) -> str:
    return read_cms_text(src.path)


# --- merging a code list into the book --------------------------------------------------------

@dataclass
class Entry:
    """A code as a release file gives it. `dated`: the file says when the code was added and ended
    (ANWEB); an undated list (a cumulative code + description list) says only that the code exists
    or existed, so it never ends or revives a code by itself."""

    code: str
    title: str | None            # None: the file has no title (keep the book's)
    kind: str
    parent: str | None = None
    added: str | None = None     # ISO
    term: str | None = None      # ISO, the last day the code is valid
    dated: bool = False
    line: int | str | None = None


@dataclass
class Merge:
    counts: dict = field(default_factory=lambda: {"added": 0, "retitled": 0, "ended": 0, "end_changed": 0,
                                                  "revived": 0, "unchanged": 0, "untitled": 0})


def apply_list(ctx: BuildContext, *, system: str, kinds: tuple[str, ...], start: date, entries: dict[str, Entry],
               release_id: int, hints: dict[str, tuple[str | None, str | None]] | None = None,
               end_missing: bool = True, third_party: bool = False) -> dict:
    """Merge one release's code list into `codes` as of `start`.

    * a code the book does not hold yet starts on its added date (dated lists; else a hint from an
      earlier attributes release; else `start`) and ends on its termination date;
    * a code in effect the day before whose title changed ends that day; the new title starts on `start`
      (for a `third_party` list, only a change of words: see `differs`);
    * a dated list moves a code's end to its termination date, and revives a code it lists as valid;
    * with `end_missing`, a code of `kinds` in effect the day before and absent from the list ends that day.

    Versions are never removed, so a deleted code keeps its page and history. One read, then batched
    writes: no per-code queries.
    """
    conn = ctx.conn
    d = start.isoformat()
    before = (start - timedelta(days=1)).isoformat()
    hints = hints or {}
    marks = ",".join("?" * len(kinds))
    versions: dict[str, list[list]] = {}
    for row in conn.execute(f"SELECT code, valid_from, valid_to, title, kind, parent, billable, seq FROM codes "
                            f"WHERE system=? AND kind IN ({marks}) ORDER BY code, valid_from", (system, *kinds)):
        versions.setdefault(row[0], []).append(list(row[1:]))
    counts = Merge().counts
    inserts: list[tuple] = []
    ends: list[tuple] = []       # (valid_to, code, valid_from)
    retitles: list[tuple] = []   # (title, release_id, code, valid_from)

    def in_effect(vs, day):
        for v in vs:
            if v[0] <= day and (v[1] is None or v[1] >= day):
                return v
        return None

    for code, e in entries.items():
        vs = versions.get(code)
        if not vs:
            if e.title is None:
                counts["untitled"] += 1
                continue
            if e.dated:
                vf, vt = e.added or d, e.term
            elif code in hints:
                vf, vt = hints[code][0] or d, hints[code][1]
            else:
                vf, vt = d, None
            if vt is not None and vt < vf:  # a hint that contradicts itself: a one-day version, not a gap
                vt = vf
            inserts.append((system, code, vf, vt, e.title, e.kind, e.parent, 1, code_seq(code), release_id))
            counts["added"] += 1
            continue
        same_day = next((v for v in vs if v[0] == d), None)
        cur = in_effect(vs, before)
        if same_day is not None:  # a release of the same date already gave this code (e.g. by number only)
            if e.title is not None and differs(same_day[2], e.title, third_party):
                retitles.append((e.title, release_id, code, d))
                counts["retitled"] += 1
            else:
                counts["unchanged"] += 1
            if e.dated and e.term != same_day[1]:
                ends.append((e.term, code, d))
            continue
        if cur is not None:
            if e.dated and e.term is not None and e.term < d:
                # terminated before this release: the version ends on the termination date
                end = max(e.term, cur[0])
                if cur[1] != end:
                    ends.append((end, code, cur[0]))
                    counts["end_changed"] += 1
                else:
                    counts["unchanged"] += 1
                continue
            new_end = e.term if e.dated else cur[1]
            if e.title is not None and differs(cur[2], e.title, third_party):
                ends.append((before, code, cur[0]))
                if new_end is not None and new_end < d:
                    new_end = None
                inserts.append((system, code, d, new_end, e.title, cur[3], cur[4], cur[5], cur[6], release_id))
                counts["retitled"] += 1
            elif new_end != cur[1]:
                ends.append((new_end, code, cur[0]))
                counts["end_changed"] += 1
            else:
                counts["unchanged"] += 1
            continue
        last = vs[-1]
        if last[0] > d:
            counts["unchanged"] += 1  # a later release already holds it
            continue
        if e.dated and (e.term is None or e.term >= d):
            last_end = last[1]
            if last_end is not None and last_end < before:
                inserts.append((system, code, d, e.term, e.title or last[2], last[3], last[4], last[5], last[6],
                                release_id))
                counts["revived"] += 1
                continue
        counts["unchanged"] += 1
    if end_missing:
        for code, vs in versions.items():
            if code in entries:
                continue
            cur = in_effect(vs, before)
            if cur is not None and (cur[1] is None or cur[1] > before):
                ends.append((before, code, cur[0]))
                counts["ended"] += 1
    conn.executemany(f"UPDATE codes SET valid_to=? WHERE system='{system}' AND code=? AND valid_from=?", ends)
    conn.executemany(f"UPDATE codes SET title=?, release_id=? WHERE system='{system}' AND code=? AND valid_from=?",
                     retitles)
    ctx.insert("codes", _COLS, inserts)
    return counts


def refresh_headers(ctx: BuildContext, release_id: int) -> int:
    """One header per letter above the HCPCS codes, spanning its codes' dates (kept simple: a letter
    is a grouping, not an official heading, so its title says only which codes it holds)."""
    conn = ctx.conn
    spans = conn.execute(
        "SELECT substr(code,1,1), min(valid_from), max(coalesce(valid_to,'9999-12-31')) FROM codes "
        "WHERE system=? AND kind=? GROUP BY substr(code,1,1)", (HCPCS, PROC_KIND)).fetchall()
    held = {r[0]: r[1] for r in conn.execute("SELECT code, release_id FROM codes WHERE system=? AND kind=?",
                                             (HCPCS, HEADER_KIND))}
    conn.execute("DELETE FROM codes WHERE system=? AND kind=?", (HCPCS, HEADER_KIND))
    rows = [(HCPCS, letter, start, None if end == "9999-12-31" else end, header_title(letter), HEADER_KIND, None, 0,
             header_seq(letter), held.get(letter, release_id)) for letter, start, end in spans]
    ctx.insert("codes", _COLS, rows)
    return len(rows)


def later_release(conn, system: str, kinds, start: date):
    """A code-list release of `system` already in the book that starts after `start`, if any."""
    marks = ",".join("?" * len(kinds))
    return conn.execute(f"SELECT name, source FROM releases WHERE system=? AND kind IN ({marks}) AND effective_from>? "
                        "ORDER BY effective_from LIMIT 1", (system, *kinds, start.isoformat())).fetchone()


def same_release(conn, system: str, kind: str, start: date):
    return conn.execute("SELECT name, source FROM releases WHERE system=? AND kind=? AND effective_from=?",
                        (system, kind, start.isoformat())).fetchone()


def already_held(ctx: BuildContext, src: SourceFile, kind: str, start: date) -> bool:
    """True (with a build-log note) when the book holds this release or a later HCPCS code set."""
    from . import CODE_LIST_KINDS

    dup = same_release(ctx.conn, SYSTEM, kind, start)
    if dup:
        ctx.note(f"{kind}: {src.name}: skipped, the same release ({dup[0]}) was read from {dup[1]}")
        return True
    later = later_release(ctx.conn, SYSTEM, tuple(CODE_LIST_KINDS), start)
    if later:
        ctx.note(f"{kind}: {src.name}: skipped, {later[0]} ({later[1]}) already holds a later HCPCS code set")
        return True
    return False


# --- the ANWEB file -----------------------------------------------------------------------------

@dataclass
class Record:
    fields: dict
    line: int | str
    long_parts: list[str]


@dataclass
class Anweb:
    procedures: dict[str, Record] = field(default_factory=dict)
    modifiers: dict[str, Record] = field(default_factory=dict)
    header: list[str] = field(default_factory=list)
    records: int = 0
    continuations: int = 0


def sniff(path: Path, head: bytes) -> bool:
    if is_xlsx(path, head):
        for row in peek_xlsx(path, head):
            keys = {header_key(v) for v in row if v is not None}
            if _XLSX_REQUIRED <= keys:
                return True
        return False
    for raw in head.split(b"\n")[:40]:
        line = raw.rstrip(b"\r")
        try:
            text = line.decode("cp1252")
        except UnicodeDecodeError:
            return False
        m = _RECORD.match(text)
        if m and m.group(3) in "37" and LAST_FIELD_END <= len(text) <= RECORD_LENGTH and _date_like(text[268:276]):
            return True
    return False


def _date_like(value: str) -> bool:
    return len(value) == 8 and value.isdigit() and value[:2] in ("19", "20")


def _split(value: str, width: int) -> list[str]:
    return [value[i:i + width].strip() for i in range(0, len(value), width) if value[i:i + width].strip()]


_DATE_LABELS = {"asc_date": "ASC payment group effective date (columns 233-240)",
                "opps_date": "OPPS effective date (columns 245-252)", "added": "code added date (columns 269-276)",
                "action_date": "action effective date (columns 277-284)",
                "termination": "termination date (columns 285-292)"}


def _check_fields(f: dict, path, where) -> None:
    """Field-level checks that catch a shifted or foreign layout; the message names the field."""
    for name in DATE_FIELDS:
        f[name] = parse_yyyymmdd(f[name], path, where, _DATE_LABELS[name])
    if f["added"] is None:
        raise SourceError(path, "the code added date (columns 269-276) is blank", where)
    if f["termination"] and f["termination"] < f["added"]:
        raise SourceError(path, f"termination date {f['termination']} is before the code added date {f['added']}",
                          where)
    units = f["anesthesia_units"].strip()
    if units and not units.isdigit():
        raise SourceError(path, f"anesthesia base units {units!r} is not a number (columns 266-268)", where)
    f["anesthesia_units"] = int(units) if units else None
    for p in f["pricing"]:
        if not (len(p) == 2 and p.isdigit()):
            raise SourceError(path, f"pricing indicator {p!r} is not two digits (columns 120-127)", where)
    cov = f["coverage"].strip()
    if cov and cov not in COVERAGE_CODES:
        raise SourceError(path, f"coverage code {cov!r} is not one of C, D, I, M, S (column 230)", where)
    act = f["action_code"].strip()
    if act and act not in ACTION_CODES:
        raise SourceError(path, f"action code {act!r} is not a HCPCS action code (column 293)", where)
    if not _BETOS.match(f["betos"].ljust(3)):
        raise SourceError(path, f"BETOS code {f['betos']!r} is not a BETOS code (columns 257-259)", where)
    for t in f["tos"]:
        if not re.match(r"^[0-9A-Z]$", t):
            raise SourceError(path, f"type of service {t!r} is not a type of service code (columns 261-265)", where)
    mpi = f["multiple_pricing"].strip()
    if mpi and not re.match(r"^[0-9A-Z]$", mpi):
        raise SourceError(path, f"multiple pricing indicator {mpi!r} is not a code (column 128)", where)


def _fields_of_line(line: str) -> dict:
    out = {}
    for name, first, last, width in LAYOUT:
        value = line[first - 1:last]
        out[name] = _split(value, width) if name in REPEATING else value
    return out


def parse_text(src: SourceFile) -> Anweb:
    path = src.path
    text = read_text(src)
    out = Anweb()
    last: Record | None = None
    last_seq = 0
    started = False
    for no, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        m = _RECORD.match(line)
        if not m:
            if not started:
                out.header.append(line)
                if len(out.header) > 60:
                    raise SourceError(path, "no ANWEB records in the first 60 lines: not a HCPCS ANWEB file", no)
                continue
            raise SourceError(path, "not an ANWEB record: columns 1-11 must hold a HCPCS code (a modifier "
                                    "right-aligned in 5 columns), a 5-digit sequence number and record "
                                    f"identification code 3, 4, 7 or 8; found {line[:11]!r}", no)
        started = True
        if len(line) > RECORD_LENGTH:
            raise SourceError(path, f"record is {len(line)} characters long; the ANWEB layout has {RECORD_LENGTH}: "
                                    "are the columns shifted?", no)
        rec_id = m.group(3)
        code = m.group(1).strip()
        seq = int(m.group(2))
        if rec_id in "48":
            if len(line) > 91 and line[91:].strip():
                raise SourceError(path, "a continuation record holds text after its long description "
                                        "(columns 92 on must be blank): are the columns shifted?", no)
            if last is None or last.fields["code"] != code or (rec_id == "4") != (last.fields["rec_id"] == "3"):
                raise SourceError(path, f"continuation record for {code} does not follow that code's first record",
                                  no)
            if seq <= last_seq:
                raise SourceError(path, f"sequence number {seq:05d} of {code} does not follow {last_seq:05d}", no)
            last_seq = seq
            last.long_parts.append(line[11:91])
            out.continuations += 1
            continue
        if len(line) < LAST_FIELD_END:
            raise SourceError(path, f"record is {len(line)} characters long and ends before the action code "
                                    f"(column {LAST_FIELD_END}): truncated, or columns are missing", no)
        line = line.ljust(RECORD_LENGTH)
        f = _fields_of_line(line)
        if f["filler1"].strip() or f["filler2"].strip():
            raise SourceError(path, "text in the layout's blank columns (260, 294-320): are the columns shifted?", no)
        f["code"] = code
        _check_fields(f, path, no)
        rec = Record(f, no, [line[11:91]])
        target = out.procedures if rec_id == "3" else out.modifiers
        if rec_id == "3" and not PROC_CODE.match(code) or rec_id == "7" and not MOD_CODE.match(code):
            raise SourceError(path, f"{code!r} is not a {'HCPCS code' if rec_id == '3' else 'modifier'} "
                                    f"(record identification code {rec_id})", no)
        if code in target:
            raise SourceError(path, f"{code} is listed twice (first on line {target[code].line})", no)
        target[code] = rec
        last, last_seq = rec, seq
        out.records += 1
    if not out.records:
        raise SourceError(path, "no ANWEB records: the file is empty or not a HCPCS ANWEB file", max(1, len(out.header)))
    return out


def parse_xlsx(src: SourceFile) -> Anweb:
    path = src.path
    out = Anweb()
    columns: list[tuple[int, str]] | None = None
    last: Record | None = None
    for no, row in enumerate(xlsx_rows(path), 1):
        where = f"row {no}"
        cells = [cell_text(v) for v in row]
        if columns is None:
            keys = [header_key(v) for v in row]
            if _XLSX_REQUIRED <= set(keys):
                columns = [(i, XLSX_COLUMNS[k]) for i, k in enumerate(keys) if k in XLSX_COLUMNS]
                continue
            out.header.append(" ".join(c for c in cells if c))
            if no > 60:
                raise SourceError(path, "no header row with HCPC, SEQNUM, RECID, LONG DESCRIPTION, ADD DT, TERM DT "
                                        "in the first 60 rows: not a HCPCS ANWEB workbook", where)
            continue
        if not any(c.strip() for c in cells):
            continue
        f: dict = {name: ([] if name in REPEATING else "") for name, *_ in LAYOUT}
        for i, name in columns:
            value = cells[i] if i < len(cells) else ""
            if name in REPEATING:
                if value.strip():
                    if name == "pricing" and value.strip().isdigit():
                        value = value.strip().zfill(2)
                    f[name].append(value.strip())
            else:
                f[name] = value
        code = f["code"].strip().upper()
        rec_id = f["rec_id"].strip()
        if rec_id not in ("3", "4", "7", "8"):
            raise SourceError(path, f"RECID {rec_id!r} is not 3, 4, 7 or 8", where)
        if rec_id in "48":
            if last is None or last.fields["code"] != code:
                raise SourceError(path, f"continuation row for {code} does not follow that code's first row", where)
            last.long_parts.append(f["long"])
            out.continuations += 1
            continue
        f["code"] = code
        for name in DATE_FIELDS:
            f[name] = f[name].strip()
        units = f["anesthesia_units"].strip()
        f["anesthesia_units"] = units
        _check_fields(f, path, where)
        target = out.procedures if rec_id == "3" else out.modifiers
        if rec_id == "3" and not PROC_CODE.match(code) or rec_id == "7" and not MOD_CODE.match(code):
            raise SourceError(path, f"{code!r} is not a {'HCPCS code' if rec_id == '3' else 'modifier'} "
                                    f"(RECID {rec_id})", where)
        if code in target:
            raise SourceError(path, f"{code} is listed twice (first on {target[code].line})", where)
        rec = Record(f, where, [f["long"]])
        target[code] = rec
        last = rec
        out.records += 1
    if columns is None:
        raise SourceError(path, "no header row with the ANWEB column names: not a HCPCS ANWEB workbook")
    if not out.records:
        raise SourceError(path, "no code rows below the header")
    return out


def long_description(rec: Record) -> str:
    """The long description: the record's piece and its continuations, joined; runs of spaces (the
    padding of each piece, and the odd double space inside one) become one space."""
    return " ".join(" ".join(p.split()) for p in rec.long_parts if p.strip())


def effective(src: SourceFile, parsed: Anweb) -> date:
    """The release date: an option, the file name (HCPC2020 = January 2020, HCPC2025_JUL = July 2025),
    the '2020 HCPCS' of the disclaimer, else the newest action effective date in the file."""
    found = option_date(src) or date_from_name(original_name(src))
    if found:
        return found
    for line in parsed.header:
        m = re.search(r"(?<![0-9])(20[0-9]{2}) HCPCS", line)
        if m:
            return date(int(m.group(1)), 1, 1)
    newest = max((r.fields["action_date"] or r.fields["added"] for r in
                  list(parsed.procedures.values()) + list(parsed.modifiers.values())), default=None)
    if newest is None:
        raise SourceError(src.path, "cannot tell which release this is: name it the way CMS does (HCPC2025_JAN_ANWEB)")
    return date.fromisoformat(newest)


def detail_row(system: str, code: str, release_id: int, f: dict, long_desc: str | None, short: str | None) -> tuple:
    def blank(v):
        v = (v or "").strip() if isinstance(v, str) else v
        return v if v not in ("", None) else None

    return (system, code, release_id, long_desc, blank(short), json.dumps(f["pricing"]),
            blank(f["multiple_pricing"]), json.dumps(f["cim"]), json.dumps(f["mcm"]), blank(f["statute"]),
            json.dumps(f["lab_cert"]), json.dumps(f["xref"]), blank(f["coverage"]), blank(f["asc_group"]),
            f["asc_date"], blank(f["opps"]), blank(f["opps_pi"]), f["opps_date"], blank(f["proc_note"]),
            blank(f["betos"]), json.dumps(f["tos"]), f["anesthesia_units"], f["added"], f["action_date"],
            f["termination"], blank(f["action_code"]))


def load(ctx: BuildContext, src: SourceFile) -> dict:
    with open(src.path, "rb") as fh:
        head = fh.read(4)
    parsed = parse_xlsx(src) if is_xlsx(src.path, head) else parse_text(src)
    start = effective(src, parsed)
    if already_held(ctx, src, KIND, start):
        return {"skipped": 1}
    label = quarter_label(start)
    counts: dict = {"records": parsed.records, "continuation_records": parsed.continuations,
                    "codes": len(parsed.procedures), "modifiers": len(parsed.modifiers)}
    rel = ctx.add_release(system=SYSTEM, name=f"HCPCS Level II {label} (ANWEB)", kind=KIND, effective_from=start,
                          effective_to=None, src=src)
    entries = {code: Entry(code, long_description(r), PROC_KIND, code[0], r.fields["added"], r.fields["termination"],
                           True, r.line) for code, r in parsed.procedures.items()}
    counts["terminated"] = sum(1 for e in entries.values() if e.term and e.term < start.isoformat())
    merged = apply_list(ctx, system=SYSTEM, kinds=(PROC_KIND,), start=start, entries=entries, release_id=rel)
    counts["merge"] = merged
    details = [detail_row(SYSTEM, code, rel, r.fields, entries[code].title, r.fields["short"])
               for code, r in parsed.procedures.items()]
    if parsed.modifiers:
        mrel = ctx.add_release(system=MODIFIER, name=f"HCPCS Level II modifiers {label} (ANWEB)", kind=KIND,
                               effective_from=start, effective_to=None, src=src)
        mentries = {code: Entry(code, long_description(r), LEVEL2_MODIFIER, None, r.fields["added"],
                                r.fields["termination"], True, r.line) for code, r in parsed.modifiers.items()}
        counts["modifier_merge"] = apply_list(ctx, system=MODIFIER, kinds=(LEVEL2_MODIFIER,), start=start,
                                              entries=mentries, release_id=mrel)
        details += [detail_row(MODIFIER, code, mrel, r.fields, mentries[code].title, r.fields["short"])
                    for code, r in parsed.modifiers.items()]
        ctx.set_counts(mrel, {"modifiers": len(parsed.modifiers), "merge": counts["modifier_merge"]})
    ctx.insert("hcpcs_details", DETAIL_COLS, details)
    counts["headers"] = refresh_headers(ctx, rel)
    ctx.set_counts(rel, counts)
    return counts
