"""CPT from a licensee's AMA data files. The project ships no CPT text: these files exist in a book only
when a licensee imports them.

Files, recognised by the names the AMA gives them (a year may be added: LONGULT_2026.txt):

    LONGULT.txt   long descriptors, upper/lower case, tab-delimited: code TAB descriptor; it may start
                  with a header line. The code list: codes and their titles (system 'cpt').
    MEDU.txt      medium descriptors, code TAB descriptor
    SHORTU.txt    short descriptors, code TAB descriptor
    MODUL.txt     CPT modifiers, modifier TAB descriptor (system 'modifier', kind 'cpt_modifier')
    ConsumerDescriptor.txt   header row "Concept Id, CPT Code, Consumer Friendly Descriptor" (tabs)
    ClinicianDescriptor.txt  header row "Concept Id, CPT Code, Clinician Descriptor Id,
                             Clinician Descriptor" (tabs); several rows per code

Every descriptor goes to `cpt_descriptors`; LONGULT's also become the codes' titles. A CPT year is in
effect from January 1. The files do not say which year they are for, so it comes from the option
`effective_from`, a year in the file name, or a year in a header line; otherwise the import stops
and says how to name the file. A line that is not code TAB descriptor (another separator, a wrong
number of columns) stops the import with the file and line.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from ..codes import CPT, MODIFIER
from ..errors import SourceError
from ..writer import BuildContext, SourceFile, user_file_name
from .hcpcs_anweb import CPT_MODIFIER, LEVEL2_MODIFIER, Entry, apply_list, option_date, original_name, read_text

KIND = "cpt"
SYSTEM = CPT
ORDER = 56
CODE_KIND = "code"

# file token -> (descriptor kind, label)
FILES = {
    "LONGULT": ("long", "long descriptors"),
    "MEDU": ("medium", "medium descriptors"),
    "SHORTU": ("short", "short descriptors"),
    "MODUL": ("modifier", "modifiers"),
    "CONSUMERDESCRIPTOR": ("consumer", "consumer friendly descriptors"),
    "CLINICIANDESCRIPTOR": ("clinician", "clinician descriptors"),
}
_NAME = re.compile(r"(?i)(?<![a-z])(longult|medu|shortu|modul|consumerdescriptor|cliniciandescriptor)(?![a-z])")
CPT_CODE = re.compile(r"^[0-9]{4}[0-9A-Z]$")
MODIFIER_CODE = re.compile(r"^[0-9A-Z]{2}$")
_YEAR = re.compile(r"(?<![0-9])(2[01][0-9]{2})(?![0-9])")
HEADERS = {
    "consumer": {"concept id": "concept_id", "cpt code": "code", "consumer friendly descriptor": "text"},
    "clinician": {"concept id": "concept_id", "cpt code": "code", "clinician descriptor id": "descriptor_id",
                  "clinician descriptor": "text"},
}
_MAX_HEADER_LINES = 20


def file_kind(src_or_path) -> str | None:
    name = original_name(src_or_path) if isinstance(src_or_path, SourceFile) else \
        original_name(SourceFile(kind="", path=Path(src_or_path)))
    m = _NAME.search(name)
    return FILES[m.group(1).upper()][0] if m else None


def sniff(path: Path, head: bytes) -> bool:
    """By the AMA's file names, for text files: a wrong separator inside is then reported by load()."""
    if file_kind(path) is None or not original_name_of(path).lower().endswith(".txt"):
        return False
    return bool(head.strip()) and b"\x00" not in head and not head.startswith(b"PK")


def original_name_of(path: Path) -> str:
    return user_file_name(path)


def _sep_name(ch: str) -> str:
    return {"|": "'|' (pipe)", ",": "',' (comma)", ";": "';' (semicolon)", " ": "a space"}.get(ch, repr(ch))


def _lines(src: SourceFile):
    for no, raw in enumerate(read_text(src).split("\n"), 1):
        line = raw.rstrip("\r")
        if line.strip():
            yield no, line


def parse_codes(src: SourceFile, kind: str) -> tuple[list[tuple[str, str, int]], list[str]]:
    """[(code, descriptor, line)] and the header lines of a code TAB descriptor file."""
    path = src.path
    shape = MODIFIER_CODE if kind == "modifier" else CPT_CODE
    width = 2 if kind == "modifier" else 5
    what = "CPT modifier" if kind == "modifier" else "CPT code"
    lead = re.compile(r"^([0-9A-Z]{%d})(?![0-9A-Za-z])" % width)
    rows: list[tuple[str, str, int]] = []
    header: list[str] = []
    seen: dict[str, int] = {}
    for no, line in _lines(src):
        m = lead.match(line)
        if not m or not shape.match(m.group(1)):
            if not rows and len(header) < _MAX_HEADER_LINES:  # a header or copyright line before the codes
                header.append(line)
                continue
            raise SourceError(path, f"line does not start with a {what} followed by a tab: {line[:40]!r}", no)
        code = m.group(1)
        sep = line[width:width + 1]
        if sep != "\t":
            if not sep:
                raise SourceError(path, f"{code} has no descriptor: expected {what} TAB descriptor", no)
            raise SourceError(path, f"unknown separator {_sep_name(sep)} after {code}: the CPT data files are "
                                    f"tab-delimited ({what} TAB descriptor)", no)
        parts = line.split("\t")
        if len(parts) != 2:
            raise SourceError(path, f"{len(parts)} tab-separated columns, expected 2 ({what}, descriptor)", no)
        text = " ".join(parts[1].split())
        if not text:
            raise SourceError(path, f"{code} has an empty descriptor", no)
        if code in seen:
            raise SourceError(path, f"{code} is listed twice (first on line {seen[code]})", no)
        seen[code] = no
        rows.append((code, text, no))
    if not rows:
        raise SourceError(path, f"no {what} lines ({what} TAB descriptor)", max(1, len(header)))
    return rows, header


def parse_table(src: SourceFile, kind: str) -> tuple[list[dict], list[str]]:
    """Rows of a descriptor file with a tab-delimited header row, by column name."""
    path = src.path
    wanted = HEADERS[kind]
    cols: list[str | None] | None = None
    preamble: list[str] = []
    rows: list[dict] = []
    for no, line in _lines(src):
        if cols is None:
            names = [" ".join(c.split()).lower() for c in line.split("\t")]
            if set(wanted) <= set(names):
                cols = [wanted.get(n) for n in names]
                continue
            flat = " ".join(line.lower().split())
            if all(w in flat for w in wanted):
                sep = next((c for c in "|,;" if c in line), None)
                raise SourceError(path, f"the header row is not tab-delimited"
                                        f"{f' (separator {_sep_name(sep)})' if sep else ''}: the CPT data files "
                                        "are tab-delimited", no)
            preamble.append(line)
            if len(preamble) >= _MAX_HEADER_LINES:
                raise SourceError(path, "no header row with the columns " + ", ".join(
                    f"'{w.title()}'" for w in wanted), no)
            continue
        parts = line.split("\t")
        if len(parts) != len(cols):
            if len(parts) == 1:
                sep = next((c for c in "|,;" if c in line), None)
                raise SourceError(path, f"unknown separator{f' {_sep_name(sep)}' if sep else ''}: expected "
                                        f"{len(cols)} tab-separated columns", no)
            raise SourceError(path, f"{len(parts)} tab-separated columns, the header has {len(cols)}", no)
        row = {c: " ".join(v.split()) for c, v in zip(cols, parts) if c}
        if not CPT_CODE.match(row["code"]):
            raise SourceError(path, f"{row['code']!r} in the CPT Code column is not a CPT code", no)
        if not row["text"]:
            raise SourceError(path, f"{row['code']} has an empty descriptor", no)
        row["line"] = no
        rows.append(row)
    if cols is None:
        raise SourceError(path, "no header row with the columns " + ", ".join(f"'{w.title()}'" for w in wanted))
    if not rows:
        raise SourceError(path, "no rows below the header row")
    return rows, preamble


def year_of(src: SourceFile, header: list[str]) -> int:
    start = option_date(src)
    if start:
        return start.year
    years = set(_YEAR.findall(original_name(src)))
    if len(years) == 1:
        return int(years.pop())
    for line in header:
        found = _YEAR.findall(line)
        if found:
            return int(found[0])
    raise SourceError(src.path, "cannot tell which CPT year this file is for: the AMA files do not say. Add the "
                                f"year to the file name (e.g. {original_name(src).rsplit('.', 1)[0]}_2026.txt) "
                                "and import it again")


def load(ctx: BuildContext, src: SourceFile) -> dict:
    kind = file_kind(src)
    if kind is None:
        raise SourceError(src.path, "not one of the AMA CPT data files (LONGULT, MEDU, SHORTU, MODUL, "
                                    "ConsumerDescriptor, ClinicianDescriptor)")
    if kind in HEADERS:
        table, header = parse_table(src, kind)
        rows = [(r["code"], r["text"], r["line"], r.get("concept_id"), r.get("descriptor_id")) for r in table]
    else:
        plain, header = parse_codes(src, kind)
        rows = [(code, text, no, None, None) for code, text, no in plain]
    year = year_of(src, header)
    start = date(year, 1, 1)
    label = FILES[[k for k, v in FILES.items() if v[0] == kind][0]][1]
    system = MODIFIER if kind == "modifier" else SYSTEM
    release_kind = "cpt" if kind == "long" else ("cpt_modifiers" if kind == "modifier" else "cpt_descriptors")
    name = f"CPT {year} {label} (licensed AMA data files)" if kind != "long" else f"CPT {year} (licensed AMA data files)"
    conn = ctx.conn
    dup = conn.execute("SELECT source FROM releases WHERE system=? AND name=?", (system, name)).fetchone()
    if dup:
        ctx.note(f"{KIND}: {src.name}: skipped, {name} was read from {dup[0]}")
        return {"skipped": 1}
    rel = ctx.add_release(system=system, name=name, kind=release_kind, effective_from=start, effective_to=None,
                          src=src)
    counts: dict = {"rows": len(rows), "year": year}
    if kind == "long":
        later = conn.execute("SELECT name FROM releases WHERE system=? AND kind='cpt' AND effective_from>?",
                             (SYSTEM, start.isoformat())).fetchone()
        if later:
            ctx.note(f"{KIND}: {src.name}: titles kept as descriptors only, {later[0]} is a later CPT code list")
        else:
            entries = {code: Entry(code, text, CODE_KIND, line=no) for code, text, no, *_ in rows}
            counts["merge"] = apply_list(ctx, system=SYSTEM, kinds=(CODE_KIND,), start=start, entries=entries,
                                         release_id=rel)
    elif kind == "modifier":
        level2 = {r[0] for r in conn.execute(
            "SELECT code FROM codes WHERE system=? AND kind=? AND valid_from<=? AND (valid_to IS NULL OR valid_to>=?)",
            (MODIFIER, LEVEL2_MODIFIER, start.isoformat(), start.isoformat()))}
        entries = {code: Entry(code, text, CPT_MODIFIER, line=no) for code, text, no, *_ in rows if code not in level2}
        counts["also_level2"] = len(rows) - len(entries)
        counts["merge"] = apply_list(ctx, system=MODIFIER, kinds=(CPT_MODIFIER,), start=start, entries=entries,
                                     release_id=rel)
    ctx.insert("cpt_descriptors", ("code", "kind", "seq", "text", "concept_id", "descriptor_id", "release_id"),
               [(code, kind, n, text, concept, descriptor, rel)
                for n, (code, text, _no, concept, descriptor) in enumerate(rows, 1)])
    ctx.set_counts(rel, counts)
    return counts
