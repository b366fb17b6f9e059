"""ICD-10-CM Tabular List, CDC XML layout (`ICD10CM.tabular`): chapters to 7th-character codes."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from ..codes import ICD10CM, normalize, undotted
from ..dates import fiscal_year_end, fiscal_year_start
from ..errors import SourceError
from ..writer import BuildContext, SourceFile
from .xmlfile import fiscal_year, parse_xml

KIND = "icd10cm_tabular"
SYSTEM = ICD10CM
ORDER = 10

# XML element -> note kind stored in the book
NOTE_KINDS = {
    "includes": "includes",
    "inclusionTerm": "inclusion_terms",
    "excludes1": "excludes1",
    "excludes2": "excludes2",
    "codeFirst": "code_first",
    "useAdditionalCode": "use_additional",
    "codeAlso": "code_also",
    "notes": "notes",
    "sevenChrNote": "seventh_note",
}

# "7th characters D and S do not apply to codes in category S06 with 6th character 7 - ... or 8 - ..."
_SEVENTH_EXCEPTION = re.compile(
    r"7th characters? ([A-Z](?:(?:, | and | or )[A-Z])*) (?:does|do) not apply to codes in category (\w+) "
    r"with 6th character ((?:\w)(?: - [^,]*?)?(?:,? (?:or|and) \w(?: - [^,]*?)?)*)\.?$", re.I)

_CODE = re.compile(r"^[A-Z][0-9A-Z][0-9A-Z](\.[0-9A-Z]{1,4})?$")


def sniff(path: Path, head: bytes) -> bool:
    return b"<ICD10CM.tabular" in head


def package_default() -> SourceFile | None:
    """The April 2026 tabular shipped by simple-icd-10-cm, the embedded default."""
    try:
        from importlib.resources import files

        data = files("simple_icd_10_cm") / "data"
        xmls = sorted(p for p in data.iterdir() if p.name.startswith("icd10c-tabular") and p.name.endswith(".xml"))
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    if not xmls:
        return None
    return SourceFile(kind=KIND, path=Path(str(xmls[-1])), origin="packaged")


def _note_texts(el: ET.Element) -> list[str]:
    return [" ".join((n.text or "").split()) for n in el.findall("note") if (n.text or "").strip()]


def load(ctx: BuildContext, src: SourceFile) -> dict:
    root = parse_xml(src, "ICD10CM.tabular")
    fy = fiscal_year(root, src)
    month = "April 1" if "april" in src.name.lower() else None
    name = f"ICD-10-CM FY{fy}" + (f" ({month}, {fy} update)" if month else "")
    start, end = fiscal_year_start(fy), fiscal_year_end(fy)
    release_id = ctx.add_release(system=SYSTEM, name=name, kind=KIND, effective_from=start,
                                 effective_to=end, src=src)

    codes: list[tuple] = []
    notes: list[tuple] = []
    sevenths: list[tuple] = []
    valid_from = start.isoformat()
    seq = 0

    def add(code, title, kind, parent, billable):
        nonlocal seq
        seq += 1
        codes.append((SYSTEM, code, valid_from, None, title, kind, parent, int(billable), seq, release_id))

    def collect_notes(el: ET.Element, code: str, where: str) -> dict[str, str]:
        seventh: dict[str, str] = {}
        for child in el:
            kind = NOTE_KINDS.get(child.tag)
            if kind:
                for i, text in enumerate(_note_texts(child)):
                    notes.append((SYSTEM, code, kind, i, text))
            elif child.tag == "sevenChrDef":
                for ext in child.findall("extension"):
                    char = (ext.get("char") or "").strip().upper()
                    if len(char) != 1:
                        raise SourceError(src.path, "sevenChrDef extension without a single char", where)
                    seventh[char] = " ".join((ext.text or "").split())
        for char, meaning in seventh.items():
            sevenths.append((SYSTEM, code, char, meaning))
        return seventh

    # (category, 6th character) -> 7th characters that do not apply, read from the notes
    barred: dict[tuple[str, str], set[str]] = {}
    for note in root.iter("note"):
        m = _SEVENTH_EXCEPTION.search(" ".join((note.text or "").split()))
        if m:
            chars = set(re.findall(r"\b[A-Z]\b", m.group(1)))
            for sixth in re.findall(r"(?:^|(?:or|and) )(\w)\b", m.group(3)):
                barred.setdefault((m.group(2).upper(), sixth.upper()), set()).update(chars)

    def walk_diag(el: ET.Element, parent: str, inherited7: dict[str, str], where: str):
        raw = (el.findtext("name") or "").strip()
        title = " ".join((el.findtext("desc") or "").split())
        here = f"{where}/diag[{raw or '?'}]"
        code = normalize(raw, SYSTEM)
        if not _CODE.match(code):
            raise SourceError(src.path, f"diag name {raw!r} is not an ICD-10-CM code", here)
        if not title:
            raise SourceError(src.path, f"diag {raw} has no <desc>", here)
        own7 = collect_notes(el, code, here)
        seventh = own7 or inherited7
        children = el.findall("diag")
        kind = "category" if len(undotted(code)) == 3 else "subcategory"
        if children:
            add(code, title, kind, parent, False)
            for child in children:
                walk_diag(child, code, seventh, here)
        elif seventh:
            add(code, title, kind, parent, False)
            base = undotted(code).ljust(6, "X")
            skip = barred.get((base[:3], base[5]), set())
            for char, meaning in seventh.items():
                if char in skip:
                    continue
                add(normalize(base + char, SYSTEM), f"{title}, {meaning}", "extension", code, True)
        else:
            add(code, title, kind, parent, True)

    chapters = root.findall("chapter")
    if not chapters:
        raise SourceError(src.path, "no <chapter> elements: not a complete tabular file", "/ICD10CM.tabular")
    for ch in ctx.progress(chapters, total=len(chapters), desc="ICD-10-CM chapters"):
        ch_name = (ch.findtext("name") or "").strip()
        where = f"/ICD10CM.tabular/chapter[{ch_name}]"
        if not ch_name.isdigit():
            raise SourceError(src.path, "chapter without a numeric <name>", where)
        add(ch_name, " ".join((ch.findtext("desc") or "").split()), "chapter", None, False)
        collect_notes(ch, ch_name, where)
        for sec in ch.findall("section"):
            block = (sec.get("id") or "").strip().upper()
            swhere = f"{where}/section[{block}]"
            if not block:
                raise SourceError(src.path, "section without an id", swhere)
            if "-" not in block:  # a one-category block (B10, QA0) gets the range form so it differs from the category
                block = f"{block}-{block}"
            add(block, " ".join((sec.findtext("desc") or "").split()), "block", ch_name, False)
            collect_notes(sec, block, swhere)
            for diag in sec.findall("diag"):
                walk_diag(diag, block, {}, swhere)

    ctx.insert("codes", ("system", "code", "valid_from", "valid_to", "title", "kind", "parent", "billable",
                         "seq", "release_id"), codes)
    ctx.insert("notes", ("system", "code", "kind", "seq", "text"), notes)
    ctx.insert("seventh_chars", ("system", "code", "char", "meaning"), sevenths)
    counts = {
        "items": len(codes),
        "billable": sum(1 for c in codes if c[7]),
        "chapters": len(chapters),
        "notes": len(notes),
    }
    ctx.set_counts(release_id, counts)
    return counts
