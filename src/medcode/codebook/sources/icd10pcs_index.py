"""ICD-10-PCS Index, CMS XML layout (`ICD10PCS.index`): main terms and subterms to codes or tables.

The PCS index points at a complete code (<code>), at the first 3-6 characters of one (<codes>,
e.g. 0RRJ0, finished from the table), or at a whole table (<tab>). <see> sends the reader to
another main term; <use> gives the axis value to code a term as (body part and device keys)
and is kept in see_also. A subterm without a title is one more alternative for its parent
(Angioscopy -> 02JY4ZZ, 03JY4ZZ, ...): it becomes a row with its parent's words.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..codes import ICD10PCS, normalize
from ..dates import fiscal_year_start
from ..errors import SourceError
from ..writer import BuildContext, SourceFile
from .xmlfile import fiscal_year, parse_xml

KIND = "icd10pcs_index"
SYSTEM = ICD10PCS
ORDER = 42

ROOT = "ICD10PCS.index"
SOURCE = "pcs_index"
_CHARS = set("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ")


def sniff(path: Path, head: bytes) -> bool:
    return b"<" + ROOT.encode() in head


def _words(el: ET.Element | None) -> str:
    """An element's own text, without the text of its child elements."""
    return " ".join((el.text or "").split()) if el is not None else ""


def _pcs_code(text: str, src: SourceFile, where: str) -> str:
    code = normalize(text, SYSTEM)
    if not 3 <= len(code) <= 7 or not set(code) <= _CHARS:
        raise SourceError(src.path, f"{text!r} is not an ICD-10-PCS code or table", where)
    return code


def load(ctx: BuildContext, src: SourceFile) -> dict:
    root = parse_xml(src, ROOT)
    fy = fiscal_year(root, src)
    letters = root.findall("letter")
    if not letters or root.find("letter/mainTerm") is None:
        raise SourceError(src.path, "no <letter>/<mainTerm> elements: not a complete index file", f"/{ROOT}")
    release_id = ctx.add_release(system=SYSTEM, name=f"ICD-10-PCS FY{fy} Index", kind=KIND,
                                 effective_from=fiscal_year_start(fy), effective_to=None, src=src)
    next_id = ctx.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM index_terms").fetchone()[0]
    rows: list[tuple] = []

    def add(parent_id, level, term, path, el, where) -> int:
        nonlocal next_id
        code = see = see_also = None
        for child in el:
            if child.tag in ("code", "codes", "tab"):
                code = code or _pcs_code(_words(child), src, f"{where}/{child.tag}")
            elif child.tag == "see":
                see = _words(child)
                target = child.find("codes") if child.find("codes") is not None else child.find("tab")
                if target is not None:
                    code = code or _pcs_code(_words(target), src, f"{where}/see/{target.tag}")
            elif child.tag == "use":
                tab = child.find("tab")
                see_also = " ".join(filter(None, [_words(child), _words(tab)]))
                if tab is not None:
                    code = code or _pcs_code(_words(tab), src, f"{where}/use/tab")
        row_id = next_id
        next_id += 1
        rows.append((row_id, SOURCE, SYSTEM, release_id, parent_id, level, term, path, code, see, see_also,
                     None, None))
        return row_id

    def walk(el: ET.Element, parent_id: int, parent_level: int, parent_term: str, parent_path: str, where: str):
        for n, sub in enumerate(el.findall("term"), 1):
            here = f"{where}/term[{n}]"
            level_text = sub.get("level", "")
            if not level_text.isdigit() or int(level_text) != parent_level + 1:
                raise SourceError(src.path, f"term level {level_text!r} under a level-{parent_level} term", here)
            title = _words(sub.find("title"))
            term, path = (title, f"{parent_path}, {title}") if title else (parent_term, parent_path)
            row_id = add(parent_id, parent_level + 1, term, path, sub, here)
            walk(sub, row_id, parent_level + 1, term, path, here)

    mains = 0
    for letter in ctx.progress(letters, total=len(letters), desc="ICD-10-PCS index"):
        lwhere = f"/{ROOT}/letter[{_words(letter.find('title')) or '?'}]"
        for main in letter.findall("mainTerm"):
            title = _words(main.find("title"))
            where = f"{lwhere}/mainTerm[{title or '?'}]"
            if not title:
                raise SourceError(src.path, "mainTerm without a <title>", where)
            mains += 1
            row_id = add(None, 0, title, title, main, where)
            walk(main, row_id, 0, title, title, where)

    ctx.insert("index_terms", ("id", "source", "system", "release_id", "parent_id", "level", "term", "path", "code",
                               "see", "see_also", "nonessential", "column_name"), rows)
    counts = {"main_terms": mains, "terms": len(rows), "with_code": sum(1 for r in rows if r[8])}
    ctx.set_counts(release_id, counts)
    return counts
