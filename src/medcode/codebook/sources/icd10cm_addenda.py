"""ICD-10-CM code addenda (`icd10cm_codes_addenda_YYYY.txt`): the Add / Delete / Revise lines that
turn the release in effect the day before into the next fiscal year's code set.

The codes addenda list billable codes only, so the headers are inferred:

* an added code hangs under the longest code that is a prefix of it (a new category hangs under
  the block that holds it). Headers that are new in the release but not listed (E89.83 above
  E89.830) are not invented: their titles are not in the file.
* a deleted code that still has codes below it (D69.1 above the new D69.11) continues as a header:
  its version ends the day before and a non-billable version starts on the effective date.
* a deleted code with nothing below it ends; so does every header left with no billable code
  below it (S23.420 once S23.420A/D/S are gone), up the tree.
* a revised title ends the old version and starts a new one.

Nothing is removed: every ended version stays, so deleted codes keep their pages and history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from ..codes import ICD10CM, normalize, undotted
from ..dates import fiscal_year_end, fiscal_year_start
from ..errors import SourceError
from ..writer import BuildContext, SourceFile, user_file_name
from . import CODE_LIST_KINDS

KIND = "icd10cm_addenda"
SYSTEM = ICD10CM
ORDER = 20  # after the tabular (10): it applies on top of the release already in the book

_LINE = re.compile(r"^(Add|Delete|Revise from|Revise to):[ \t]+(\S+)(?:[ \t]+(.*?))?[ \t]*$")
# a code first: the order-file addenda put a 5-digit order number there and are a different layout
_SNIFF = re.compile(rb"^(Add|Delete|Revise from|Revise to):[ \t]+[A-Z][0-9A-Z]{2,6}[ \t]+\S")
_SUMMARY_HEAD = "Codes"
_SUMMARY = re.compile(r"^\s*(\d+)\s+(codes in \S+|additions|deletions|revisions)\s*$")
_CODE = re.compile(r"^[A-Z][0-9A-Z][0-9A-Z](\.[0-9A-Z]{1,4})?$")
_YEAR = re.compile(r"(?<![0-9])(20[0-9]{2})(?![0-9])")

_COLS = ("system", "code", "valid_from", "valid_to", "title", "kind", "parent", "billable", "seq", "release_id")


@dataclass
class Change:
    line: int
    code: str
    title: str
    old_title: str | None = None  # Revise from


@dataclass
class Addenda:
    adds: dict[str, Change] = field(default_factory=dict)
    deletes: dict[str, Change] = field(default_factory=dict)
    revisions: dict[str, Change] = field(default_factory=dict)
    summary: dict[str, tuple[int, int]] = field(default_factory=dict)  # label -> (number, line)


def sniff(path: Path, head: bytes) -> bool:
    for line in head.lstrip(b"\xef\xbb\xbf").splitlines():
        if line.strip():
            return bool(_SNIFF.match(line))
    return False


def _text(src: SourceFile) -> str:
    data = src.path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # CMS text files are Windows-1252


def parse(src: SourceFile) -> Addenda:
    """Read and check every line; the book is not touched until the whole file is known good."""
    path = src.path
    out = Addenda()
    seen: dict[str, int] = {}
    pending: Change | None = None  # a "Revise from" waiting for its "Revise to"
    in_summary = False
    lines = _text(src).splitlines()
    for no, raw in enumerate(lines, 1):
        line = raw.rstrip()
        if not line.strip():
            continue
        if pending is not None and not line.startswith("Revise to:"):
            raise SourceError(path, f"'Revise from: {undotted(pending.code)}' is not followed by its "
                                    f"'Revise to:' line", pending.line)
        if in_summary:
            m = _SUMMARY.match(line)
            if not m:
                raise SourceError(path, f"unexpected line in the summary after 'Codes': {line.strip()[:60]!r}", no)
            out.summary[m.group(2)] = (int(m.group(1)), no)
            continue
        if line.strip() == _SUMMARY_HEAD:
            in_summary = True
            continue
        m = _LINE.match(line)
        if not m:
            raise SourceError(path, f"unrecognised line {line.strip()[:60]!r}: expected 'Add:', 'Delete:', "
                                    "'Revise from:' or 'Revise to:', a code and its title", no)
        verb, raw_code, title = m.group(1), m.group(2), (m.group(3) or "").strip()
        code = normalize(raw_code, SYSTEM)
        if not _CODE.match(code):
            raise SourceError(path, f"{raw_code!r} is not an ICD-10-CM code", no)
        if not title:
            raise SourceError(path, f"{verb}: {raw_code} has no title", no)
        if verb == "Revise to":
            if pending is None or pending.code != code:
                raise SourceError(path, f"'Revise to: {raw_code}' without a 'Revise from: {raw_code}' line "
                                        "just before it", no)
            out.revisions[code] = Change(pending.line, code, title, old_title=pending.title)
            pending = None
            continue
        if code in seen:
            raise SourceError(path, f"{code} is already listed on line {seen[code]}", no)
        seen[code] = no
        change = Change(no, code, title)
        if verb == "Revise from":
            pending = change
        elif verb == "Add":
            out.adds[code] = change
        else:
            out.deletes[code] = change
    if pending is not None:
        raise SourceError(path, f"'Revise from: {undotted(pending.code)}' is not followed by its "
                                f"'Revise to:' line", pending.line)
    if not (out.adds or out.deletes or out.revisions):
        raise SourceError(path, "no Add/Delete/Revise lines: the file is empty or not an ICD-10-CM addenda file",
                          max(len(lines), 1))
    for label, found in (("additions", out.adds), ("deletions", out.deletes), ("revisions", out.revisions)):
        if label in out.summary and out.summary[label][0] != len(found):
            number, no = out.summary[label]
            raise SourceError(path, f"the summary says {number} {label} but the file lists {len(found)}: "
                                    "is it truncated?", no)
    return out


def original_name(src: SourceFile) -> str:
    return user_file_name(src.path)


def effective(src: SourceFile) -> tuple[int, date, str]:
    """(fiscal year, effective date, release name). The file itself carries no date, so the year
    comes from its name (`icd10cm_codes_addenda_2027.txt`), or from the options
    `fiscal_year` / `effective_from`."""
    opts = src.options or {}
    name = original_name(src)
    april = "april" in name.lower()
    if opts.get("effective_from"):
        start = date.fromisoformat(str(opts["effective_from"]))
        fy = start.year + 1 if start.month >= 10 else start.year
        april = start.month != 10
    elif opts.get("fiscal_year"):
        fy = int(opts["fiscal_year"])
        start = date(fy, 4, 1) if april else fiscal_year_start(fy)
    else:
        years = set(_YEAR.findall(name))
        if len(years) != 1:
            found = f"it has {len(years)} years in it" if years else "it has no year in it"
            raise SourceError(src.path, f"cannot tell which fiscal year these addenda are for from the file name "
                                        f"({found}): rename it the way CMS names it, e.g. "
                                        "icd10cm_codes_addenda_2027.txt for FY2027, and import it again")
        fy = int(years.pop())
        start = date(fy, 4, 1) if april else fiscal_year_start(fy)
    label = f"ICD-10-CM FY{fy} (April 1, {fy} update, addenda)" if april else f"ICD-10-CM FY{fy} (addenda)"
    return fy, start, label


def _block_for(category: str, base: dict) -> str | None:
    """The block a new category belongs in: the one whose range holds it, else the block of the
    category just before it (J4B goes where J4A is, K6A where K68 is)."""
    best = None
    for code, row in base.items():
        if row[1] == "block" and "-" in code:
            lo, hi = code.split("-", 1)
            if lo <= category <= hi:
                return code
        elif row[1] == "category" and code < category and (best is None or code > best):
            best = code
    return base[best][2] if best else None


def load(ctx: BuildContext, src: SourceFile) -> dict:
    addenda = parse(src)
    fy, start, release_name = effective(src)
    path = src.path
    conn = ctx.conn
    starts = start.isoformat()
    before = (start - timedelta(days=1)).isoformat()

    later = conn.execute(
        "SELECT r.name, r.kind, r.source FROM codes c JOIN releases r ON r.id=c.release_id "
        "WHERE c.system=? AND c.valid_from>=? LIMIT 1", (SYSTEM, starts)).fetchone()
    if later:
        if later[1] == KIND:
            raise SourceError(path, f"{later[0]} ({later[2]}) is already applied and starts on or after "
                                    f"{starts}: addenda must be applied oldest first")
        ctx.note(f"{KIND}: {src.name}: skipped, {later[0]} ({later[2]}) already holds the code set from {starts}")
        return {"skipped": 1}

    # code -> (title, kind, parent, billable, valid_from, seq): the code set the day before
    base = {r[0]: r[1:] for r in conn.execute(
        "SELECT code,title,kind,parent,billable,valid_from,seq FROM codes WHERE system=? AND valid_from<=? "
        "AND (valid_to IS NULL OR valid_to>=?)", (SYSTEM, before, before))}
    if not base:
        raise SourceError(path, f"no ICD-10-CM release is in effect on {before} to apply these addenda to: "
                                f"import the FY{fy - 1} tabular first")
    base_name = "the previous release"
    for name, kind in conn.execute("SELECT name, kind FROM releases WHERE system=? AND effective_from<=? "
                                   "ORDER BY effective_from, id", (SYSTEM, before)):
        if kind in CODE_LIST_KINDS:
            base_name = name

    for code, ch in addenda.deletes.items():
        if code not in base:
            raise SourceError(path, f"Delete {undotted(code)}: {code} is not in {base_name} on {before}; "
                                    "these addenda do not follow the release in the book", ch.line)
        if not base[code][3]:
            raise SourceError(path, f"Delete {undotted(code)}: {code} is a header in {base_name}; the codes "
                                    "addenda list billable codes only", ch.line)
    for code, ch in addenda.revisions.items():
        if code not in base:
            raise SourceError(path, f"Revise {undotted(code)}: {code} is not in {base_name} on {before}", ch.line)
        if " ".join(base[code][0].split()).casefold() != " ".join(ch.old_title.split()).casefold():
            ctx.note(f"{KIND}: {src.name}:{ch.line}: 'Revise from' title of {code} differs from {base_name}: "
                     f"{ch.old_title!r} vs {base[code][0]!r}")
    for code, ch in addenda.adds.items():
        if code in base and base[code][3]:
            raise SourceError(path, f"Add {undotted(code)}: {code} is already a code in {base_name}", ch.line)

    # the code set from the effective date: code -> [title, kind, parent, billable]
    new = {code: [r[0], r[1], r[2], r[3]] for code, r in base.items()}
    for code, ch in addenda.revisions.items():
        new[code][0] = ch.title

    sevenths: dict[str, set[str]] = {}
    for code, char in conn.execute("SELECT code, char FROM seventh_chars WHERE system=?", (SYSTEM,)):
        sevenths.setdefault(code, set()).add(char)

    known = set(base) | set(addenda.adds)
    for code, ch in sorted(addenda.adds.items()):
        if code in base:  # a header that becomes a code once everything below it is deleted
            new[code] = [ch.title, base[code][1], base[code][2], 1]
            continue
        compact = undotted(code)
        parent = None
        for cut in range(len(compact) - 1, 2, -1):
            candidate = normalize(compact[:cut], SYSTEM)
            if candidate in known:
                parent = candidate
                break
        if parent is None:
            parent = _block_for(compact[:3], base)
        if parent is None:
            raise SourceError(path, f"Add {compact}: no category or block in {base_name} to put it under", ch.line)
        kind = "category" if len(compact) == 3 else "subcategory"
        if len(compact) == 7:
            up = parent
            while up and up in new and up not in sevenths:
                up = new[up][2]
            if up in sevenths and compact[6] in sevenths[up]:
                kind = "extension"
        new[code] = [ch.title, kind, parent, 1]

    children: dict[str, set[str]] = {}
    for code, row in new.items():
        if row[2]:
            children.setdefault(row[2], set()).add(code)

    became_headers = ended_deleted = ended_headers = 0
    for code in addenda.deletes:
        if children.get(code):
            new[code][3] = 0
            became_headers += 1
            continue
        ended_deleted += 1
        up = code
        while True:  # end the code, then each header left empty above it
            parent = new.pop(up)[2]
            if not parent or parent not in children:
                break
            children[parent].discard(up)
            if children[parent] or parent not in new or new[parent][3]:
                break
            ended_headers += 1
            up = parent
    for code, ch in addenda.adds.items():
        if children.get(code):
            raise SourceError(path, f"Add {undotted(code)}: listed as a billable code but "
                                    f"{sorted(children[code])[0]} is below it", ch.line)

    # a new code goes after the subtree of the sibling just before it, so `seq` keeps tabular order
    order = [r[0] for r in conn.execute("SELECT code FROM codes WHERE system=? GROUP BY code ORDER BY min(seq), code",
                                        (SYSTEM,))]
    old_seq = {code: i for i, code in enumerate(order, 1)}
    inserted = sorted(code for code in new if code not in base)
    placed = set(order)
    for code in inserted:
        parent = new[code][2]
        earlier = [c for c in children.get(parent, ()) if c < code and c in placed]
        if earlier:
            anchor = max(earlier)
            at = order.index(anchor)
            while at + 1 < len(order) and order[at + 1].startswith(anchor):
                at += 1
        else:
            at = order.index(parent)
        order.insert(at + 1, code)
        placed.add(code)
    seq = {code: i for i, code in enumerate(order, 1)}
    conn.executemany("UPDATE codes SET seq=? WHERE system=? AND code=?",
                     [(seq[c], SYSTEM, c) for c in order if c in old_seq and old_seq[c] != seq[c]])

    billable_before = sum(1 for r in base.values() if r[3])
    billable_after = sum(1 for r in new.values() if r[3])
    expected = billable_before + len(addenda.adds) - len(addenda.deletes)
    if billable_after != expected:
        raise SourceError(path, f"applying the addenda gives {billable_after} billable codes, expected "
                                f"{billable_before} + {len(addenda.adds)} - {len(addenda.deletes)} = {expected}")

    release_id = ctx.add_release(system=SYSTEM, name=release_name, kind=KIND, effective_from=start,
                                 effective_to=fiscal_year_end(fy), src=src)
    ends, rows = [], []
    for code, r in base.items():
        now = new.get(code)
        if now is None or tuple(now) != r[:4]:
            ends.append((before, SYSTEM, code, r[4]))
        if now is not None and tuple(now) != r[:4]:
            rows.append((SYSTEM, code, starts, None, now[0], now[1], now[2], now[3], seq[code], release_id))
    for code in inserted:
        now = new[code]
        rows.append((SYSTEM, code, starts, None, now[0], now[1], now[2], now[3], seq[code], release_id))
    conn.executemany("UPDATE codes SET valid_to=? WHERE system=? AND code=? AND valid_from=?", ends)
    ctx.insert("codes", _COLS, rows)

    counts = {
        "adds": len(addenda.adds),
        "deletes": len(addenda.deletes),
        "revisions": len(addenda.revisions),
        "became_headers": became_headers,
        "ended": ended_deleted,
        "headers_ended": ended_headers,
        "billable_before": billable_before,
        "billable": billable_after,
    }
    stated = [n for label, (n, _) in sorted(addenda.summary.items(), key=lambda kv: kv[1][1])
              if label.startswith("codes in")]
    if len(stated) == 2 and (stated[0], stated[1]) != (billable_before, billable_after):
        ctx.note(f"{KIND}: {src.name}: the file's summary says {stated[0]} -> {stated[1]} codes, the book has "
                 f"{billable_before} -> {billable_after}: it may not follow {base_name}")
    ctx.set_counts(release_id, counts)
    return counts
