"""NCCI procedure-to-procedure (PTP) edits, practitioner and outpatient hospital, in CMS's layout.

CMS publishes each quarter's PTP edits as tab-delimited text (`ccipra-v302r0-f1.txt` ... `-f4.txt`
for practitioners, `ccioph-...` for outpatient hospitals; the parts split one table by code range).
Each file opens with a header block: the AMA copyright notice, a title, and the column titles
spread over several lines::

    CPT only copyright 2024 American Medical Association.  All rights reserved.
    Column1/Column2 Edits
    Column 1  Column 2  *=in existence  Effective  Deletion   Modifier          PTP Edit Rationale
                        prior to 1996   Date       Date       0=not allowed
                                                   *=no data  1=allowed
                                                              9=not applicable

then one edit per line: column 1 code, column 2 code, "*" when the edit existed before 1996,
effective date (YYYYMMDD), deletion date (YYYYMMDD, or "*" for none), modifier indicator (0, 1, 9)
and the rationale. Deleted edits stay in the file and in the book: they stop applying after their
deletion date (the deletion date is the last day an edit applies).

The setting comes from the file name (ccipra practitioner, ccioph outpatient hospital) and the
quarter from the version in it: vXYZrN is NCCI version XY.Z, year 1994 + XY, quarter Z + 1
(v302r0: July 1, 2024; v322r0: July 1, 2026).

The file is read in one streaming pass (2.5 million lines for practitioners) and written with
executemany in batches into a compact WITHOUT ROWID table keyed (release, column 1, column 2,
effective date); the dozen rationale texts go into a lookup table. Every line is checked; any bad
line stops the build with the file and line number, and the build leaves the old book in place.

This module also holds what the other NCCI and PFS importers share: settings, file names, dates.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from ..errors import SourceError
from ..writer import BuildContext, SourceFile, user_file_name

KIND = "ncci_ptp"
SYSTEM = "ncci"  # releases are recorded per setting: system 'ncci-practitioner' / 'ncci-hospital'
ORDER = 90  # reads nothing else in the book

BATCH = 50_000

# --- shared by the NCCI and PFS importers -----------------------------------------------------

SETTINGS = ("practitioner", "hospital", "dme")
SETTING_LABELS = {"practitioner": "practitioner", "hospital": "outpatient hospital", "dme": "DME supplier"}
_SETTING_ALIASES = {
    "practitioner": "practitioner", "prac": "practitioner", "pra": "practitioner", "physician": "practitioner",
    "professional": "practitioner",
    "hospital": "hospital", "outpatient": "hospital", "outpatient_hospital": "hospital", "oph": "hospital",
    "opps": "hospital", "facility": "hospital", "outpatient-hospital": "hospital",
    "dme": "dme", "dme_supplier": "dme", "supplier": "dme",
}
CODE = re.compile(r"^[0-9A-Z]{5}$")  # a CPT or HCPCS Level II code, as the NCCI and PFS files print them


def setting_name(value: str) -> str:
    """'practitioner', 'hospital' or 'dme' for any accepted spelling; ValueError otherwise."""
    key = (value or "").strip().lower().replace(" ", "_")
    try:
        return _SETTING_ALIASES[key]
    except KeyError:
        raise ValueError(f"unknown setting {value!r}; use practitioner, hospital or dme") from None


def release_system(setting: str) -> str:
    return f"ncci-{setting}"


def original_name(src: SourceFile) -> str:
    return user_file_name(src.path)


def option_date(src: SourceFile, key: str = "effective_from") -> date | None:
    value = (src.options or {}).get(key)
    if not value:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise SourceError(src.path, f"option {key}={value!r} is not a date (YYYY-MM-DD)") from None


class DateCache:
    """YYYYMMDD text -> int, each distinct value checked once (a PTP file has a few thousand)."""

    def __init__(self):
        self.good: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        hit = self.good.get(text)
        if hit is not None:
            return hit
        if len(text) != 8 or not text.isdigit():
            raise ValueError(f"{text!r} is not a date (YYYYMMDD)")
        try:
            date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            raise ValueError(f"{text!r} is not a date (YYYYMMDD)") from None
        value = self.good[text] = int(text)
        return value


def ymd(value: int | None) -> date | None:
    """An INTEGER YYYYMMDD from these tables as a date."""
    if value is None:
        return None
    return date(value // 10000, value // 100 % 100, value % 100)


def as_ymd(d: date) -> int:
    return d.year * 10000 + d.month * 100 + d.day


def quarter_start(year: int, quarter: int) -> date:
    return date(year, 3 * (quarter - 1) + 1, 1)


# --- this layout --------------------------------------------------------------------------------

_TITLES = re.compile(rb"column\s*1\s*\t\s*column\s*2\s*\t", re.I)
_VERSION = re.compile(r"v(\d{2})(\d)r(\d+)", re.I)
_PART = re.compile(r"-f(\d+)\b", re.I)
_PRACTITIONER = re.compile(r"ccipra|practitioner", re.I)
_HOSPITAL = re.compile(r"ccioph|hospital|outpatient", re.I)
_HEADER_LINES = 30  # the header block is about six lines; more than this and it is not a PTP file
_COLUMNS = 7
_COLS = ("release_id", "column1", "column2", "effective", "deletion", "modifier", "prior_1996", "rationale_id")


def sniff(path: Path, head: bytes) -> bool:
    """Tab-delimited text whose header block has the Column 1 / Column 2 titles and the PTP columns."""
    if not _TITLES.search(head):
        return False
    low = head.lower()
    return b"effective" in low and b"deletion" in low and b"modifier" in low


def setting_of(src: SourceFile) -> str:
    opt = (src.options or {}).get("setting")
    if opt:
        try:
            return setting_name(opt)
        except ValueError as exc:
            raise SourceError(src.path, str(exc)) from None
    name = original_name(src)
    prac, hosp = bool(_PRACTITIONER.search(name)), bool(_HOSPITAL.search(name))
    if prac != hosp:
        return "practitioner" if prac else "hospital"
    raise SourceError(src.path, "cannot tell whether these PTP edits are for practitioners or outpatient hospitals "
                                "from the file name: name it as CMS does (ccipra-v302r0-f1.txt for practitioners, "
                                "ccioph-v302r0-f1.txt for outpatient hospitals) and import it again")


def effective_of(src: SourceFile) -> tuple[date, str]:
    """(effective date, version label) from the file name's NCCI version, or the options."""
    name = original_name(src)
    m = _VERSION.search(name)
    start = option_date(src)
    if m:
        major, quarter, revision = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if quarter > 3:
            raise SourceError(src.path, f"version {m.group(0)} in the file name has no quarter {quarter + 1}")
        label = f"version {major}.{quarter} revision {revision}"
        return start or quarter_start(1994 + major, quarter + 1), label
    if start:
        return start, ""
    raise SourceError(src.path, "cannot tell which quarter these PTP edits are for: the file name has no NCCI version "
                                "(CMS names the files like ccipra-v302r0-f1.txt, version 30.2 = July 1, 2024); "
                                "rename it the way CMS names it and import it again")


def _lines(path: Path):
    """(line number, text) for every line; CMS files are Windows-1252 with CRLF line ends."""
    with open(path, "rb") as fh:
        for no, raw in enumerate(fh, 1):
            yield no, raw.rstrip(b"\r\n").decode("cp1252", errors="replace")


def _header(path: Path, lines) -> tuple[int, str]:
    """Consume the header block; return the first edit line (number, text) after it."""
    seen_titles = False
    last = 0
    for no, line in lines:
        cells = [c.strip().lower() for c in line.split("\t")]
        if not seen_titles:
            if len(cells) >= 2 and re.fullmatch(r"column\s*1", cells[0]) and re.fullmatch(r"column\s*2", cells[1]):
                if len(cells) < _COLUMNS:
                    raise SourceError(path, f"the column titles have {len(cells)} columns, a PTP file has "
                                            f"{_COLUMNS}: Column 1, Column 2, prior to 1996, Effective Date, "
                                            "Deletion Date, Modifier, PTP Edit Rationale", no)
                wanted = {2: ("existence", "prior"), 3: ("effective",), 4: ("deletion",), 5: ("modifier",),
                          6: ("rationale",)}
                for i, words in wanted.items():
                    if not any(w in cells[i] for w in words):
                        raise SourceError(path, f"column {i + 1} is titled {cells[i]!r}, expected the "
                                                f"{words[0]} column of the PTP layout", no)
                seen_titles = True
            elif no >= _HEADER_LINES:
                break
            last = no
            continue
        # after the titles come their continuation lines (no code in the first cell), then the edits
        if cells[0] and CODE.match(cells[0].upper()):
            return no, line
        last = no
        if no >= _HEADER_LINES:
            break
    if not seen_titles:
        raise SourceError(path, "no 'Column 1 / Column 2' title line in the first lines: not a PTP edit file in "
                                "CMS's tab-delimited layout", max(last, 1))
    raise SourceError(path, "the header block does not end: no edit line follows the column titles", max(last, 1))


class _Parsed:
    """Running totals of one file, filled while its batches stream by."""

    def __init__(self):
        self.lines = self.deleted = 0
        self.by_modifier = {0: 0, 1: 0, 9: 0}


def parse(src: SourceFile, rationale_id, release_id: int, totals: _Parsed):
    """Yield (rows, line numbers) batches for ptp_edits; SourceError names the first bad line."""
    path = src.path
    lines = _lines(path)
    first = _header(path, lines)
    dates = DateCache()
    code_ok = CODE.match
    by_modifier = totals.by_modifier
    rows: list[tuple] = []
    nos: list[int] = []
    deleted = 0

    def all_lines():
        yield first
        yield from lines

    for no, line in all_lines():
        f = line.split("\t")
        if len(f) != _COLUMNS:
            if not line.strip():
                continue
            if len(f) > _COLUMNS and not "".join(f[_COLUMNS:]).strip():
                f = f[:_COLUMNS]  # trailing empty cells, as a spreadsheet saves them
            else:
                raise SourceError(path, f"{len(f)} tab-separated columns, a PTP edit line has {_COLUMNS} (Column 1, "
                                        "Column 2, prior to 1996, Effective Date, Deletion Date, Modifier, "
                                        f"Rationale): {line[:60]!r}", no)
        c1, c2, prior, eff, dele, mod, why = f
        if not (code_ok(c1) and code_ok(c2)):
            c1s, c2s = c1.strip().upper(), c2.strip().upper()
            for col, raw, clean in ((1, c1, c1s), (2, c2, c2s)):
                if not code_ok(clean):
                    raise SourceError(path, f"{raw!r} in column {col} is not a CPT/HCPCS code (5 letters or digits)",
                                      no)
            c1, c2 = c1s, c2s
        try:
            e = dates(eff)
        except ValueError as exc:
            raise SourceError(path, f"effective date: {exc}", no) from None
        if dele == "*" or dele == "":
            d = None
        else:
            try:
                d = dates(dele)
            except ValueError as exc:
                raise SourceError(path, f"deletion date: {exc} (or '*' for none)", no) from None
            if d < e:
                raise SourceError(path, f"deletion date {dele} is before the effective date {eff}", no)
            deleted += 1
        if mod == "1":
            m = 1
        elif mod == "0":
            m = 0
        elif mod == "9":
            m = 9
        else:
            raise SourceError(path, f"modifier indicator {mod!r}: must be 0, 1 or 9", no)
        by_modifier[m] += 1
        if not prior:
            p = 0
        elif prior.strip() == "*":
            p = 1
        else:
            raise SourceError(path, f"the 'in existence prior to 1996' column holds {prior!r}: must be '*' or empty",
                              no)
        rows.append((release_id, c1, c2, e, d, m, p, rationale_id(why.strip())))
        nos.append(no)
        if len(rows) >= BATCH:
            totals.lines += len(rows)
            yield rows, nos
            rows, nos = [], []
    totals.deleted = deleted
    if rows:
        totals.lines += len(rows)
        yield rows, nos


def _losers(conn, rows, nos, missing: int) -> list[int]:
    """The lines of a batch that were not stored because their key was taken: a repeat within the batch,
    or a line whose stored twin differs from it. (A line identical to a stored one is counted, unnamed.)"""
    found, first = [], {}
    for row, no in zip(rows, nos):
        key = row[:4]
        if key in first:
            found.append(no)
        else:
            first[key] = row
    if len(found) < missing:
        for key, row in first.items():
            stored = conn.execute("SELECT deletion, modifier, prior_1996, rationale_id FROM ptp_edits WHERE "
                                  "release_id=? AND column1=? AND column2=? AND effective=?", key).fetchone()
            if stored != row[4:]:
                found.append(nos[rows.index(row)])
    found.sort()
    return found + [0] * (missing - len(found))


def load(ctx: BuildContext, src: SourceFile) -> dict:
    setting = setting_of(src)
    start, version = effective_of(src)
    name = original_name(src)
    part = _PART.search(name)
    quarter = (start.month - 1) // 3 + 1
    label = (f"NCCI PTP edits, {SETTING_LABELS[setting]}, {start.year} Q{quarter}"
             + (f" ({version})" if version else "") + (f", part {part.group(1)}" if part else ""))
    conn = ctx.conn
    release_id = ctx.add_release(system=release_system(setting), name=label, kind=KIND, effective_from=start,
                                 effective_to=None, src=src)
    known = dict((t, i) for i, t in conn.execute("SELECT id, text FROM ptp_rationales"))

    def rationale_id(text: str) -> int:
        hit = known.get(text)
        if hit is None:
            hit = known[text] = conn.execute("INSERT INTO ptp_rationales(text) VALUES (?)", (text,)).lastrowid
        return hit

    sql = f"INSERT INTO ptp_edits({','.join(_COLS)}) VALUES ({','.join('?' * len(_COLS))}) ON CONFLICT DO NOTHING"
    totals = _Parsed()
    stored = 0
    duplicates: list[int] = []
    for rows, nos in ctx.progress(parse(src, rationale_id, release_id, totals), desc=f"PTP {setting} {name}"):
        n = conn.executemany(sql, rows).rowcount
        if n != len(rows):  # some keys were already held (the build runs without a journal: no rollback)
            duplicates += _losers(conn, rows, nos, len(rows) - n)
        stored += n
    read = totals.lines
    if not read:
        raise SourceError(src.path, "no edit lines after the header block: the file is empty or truncated")
    counts = {"setting": setting, "lines": read, "edits": stored, "deleted": totals.deleted,
              "modifier_0": totals.by_modifier[0], "modifier_1": totals.by_modifier[1],
              "modifier_9": totals.by_modifier[9]}
    if duplicates:
        counts["duplicate_keys"] = len(duplicates)
        named = [str(no) for no in duplicates if no][:10]
        ctx.note(f"{KIND}: {name}: {len(duplicates)} line(s) repeat the column 1, column 2 and effective date of an "
                 "earlier line and were not stored (the first is kept)"
                 + (f": lines {', '.join(named)}" if named else ""))
    ctx.set_counts(release_id, counts)
    return counts
