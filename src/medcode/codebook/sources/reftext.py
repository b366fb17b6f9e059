"""Shared by the policy-text importers (NCCI Policy Manual, CMS manual chapters, PCS guidelines).

They split a text release into sections addressable the way coders cite them and store them in
`reference_sections`; the passage index over them (and the ICD-10-CM guidelines) is built at the
end of the build by medcode.codebook.passages. One edition per source is kept: the newest.
"""

from __future__ import annotations

import re
from datetime import date

from ..errors import SourceError
from ..writer import BuildContext, SourceFile
from .textfile import read_cms_text

_BREAK_BEFORE = re.compile(r"^(?:[•\u2022\u25aa\u25cf\uf0b7]|-\s|\d{1,2}[.)]\s|\(?[a-z]\)\s|\([ivx]+\)\s|[A-Z]\.\s|Example)")
_ENDS_SENTENCE = re.compile(r"[.:;!?]['\"”’)]?$")


def read_text(src: SourceFile) -> str:
    """The file's text; a binary or empty file is a SourceError, not a garbled book."""
    data = src.path.read_bytes()
    if b"\x00" in data[:4096]:
        raise SourceError(src.path, "binary data where plain text was expected")
    text = read_cms_text(src.path).replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise SourceError(src.path, "file is empty")
    return text


def reflow(lines: list[str]) -> str:
    """Layout lines -> paragraphs separated by blank lines.

    A paragraph ends at a blank line, before a bullet or a numbered/lettered item, and after a line
    that ends a sentence well short of the text width (the last line of a paragraph).
    """
    widths = sorted(len(line.rstrip()) for line in lines if line.strip())
    full = widths[int(len(widths) * 0.9)] if widths else 80
    paras: list[str] = []
    cur: list[str] = []
    prev = ""

    def flush():
        if cur:
            text = ""
            for part in cur:
                if not text:
                    text = part
                elif text.endswith("-") and not text.endswith(" -") and part[:1].isalpha():
                    text += part  # a word broken over two lines: "face-" + "to-face"
                else:
                    text += " " + part
            paras.append(text)
            cur.clear()

    for raw in lines:
        line = " ".join(raw.split())
        if not line:
            flush()
            prev = ""
            continue
        if cur and (_BREAK_BEFORE.match(line) or cur[-1] in ("•", "\u2022", "\uf0b7")):
            if cur[-1] in ("•", "\u2022", "\uf0b7") and len(cur) == 1:
                cur[0] = "•"  # a bullet printed alone on its line: keep it with its text
            else:
                flush()
        elif cur and _ENDS_SENTENCE.search(prev) and len(prev) < 0.8 * full:
            flush()
        cur.append(line)
        prev = raw.rstrip()
    flush()
    return "\n\n".join(paras)


# A CPT descriptor quoted after a CPT code ("CPT code 93000 (electrocardiogram)") or after "describes" /
# "defines ... as" is AMA text: the book keeps the code number and drops the descriptor.
_CPT_CODE_PAREN = re.compile(r"(\b\d{4}[0-9FTU]\b(?:\s*[-–]\s*\d{4}[0-9FTU]\b)?)\s*\((?!e\.g\.|i\.e\.|or |and |see |\$|the )")
_CPT_QUOTED = re.compile(r"((?:\b\d{4}[0-9FTU]|modifier \w\w)\s+(?:describes|is described as)|"
                         r"\bdefines (?:modifier \w\w|CPT code \d{4}[0-9FTU]) as(?: an?)?)\s*[“\"][^”\"]{3,400}[”\"]")
CPT_OMITTED = "(CPT descriptor omitted)"


def strip_cpt_descriptors(text: str) -> str:
    out, pos = [], 0
    for m in _CPT_CODE_PAREN.finditer(text):
        if m.start() < pos:
            continue
        depth, end = 0, None
        for i in range(m.end() - 1, min(len(text), m.end() + 600)):  # the matching parenthesis
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            if depth == 0:
                end = i + 1
                break
        inner = text[m.end():end - 1] if end else ""
        if end is None or not re.search(r"[a-z]{3}", inner):
            continue
        out.append(text[pos:m.start()] + f"{m.group(1)} {CPT_OMITTED}")
        pos = end
    out.append(text[pos:])
    return _CPT_QUOTED.sub(lambda m: f"{m.group(1)} {CPT_OMITTED}", "".join(out))


def store(ctx: BuildContext, src: SourceFile, *, source: str, system: str, kind: str, name: str,
          start: date, end: date | None, sections: list[dict], strip_cpt: bool = True) -> dict:
    """Write one edition's sections. `sections`: dicts with ref, title, parent, page, and text or lines.

    An edition older than one already stored for the source is recorded as a release but its text
    is not kept (the book holds the newest edition of each text).
    """
    if not sections:
        raise SourceError(src.path, "no sections found: not the layout this importer reads")
    refs = [s["ref"] for s in sections]
    dupes = sorted({r for r in refs if refs.count(r) > 1})
    if dupes:
        raise SourceError(src.path, f"section numbering repeats ({', '.join(dupes[:5])}): the text is not in "
                          "the official layout")
    release_id = ctx.add_release(system=system, name=name, kind=kind, effective_from=start, effective_to=end,
                                 src=src)
    held = ctx.conn.execute(
        "SELECT max(r.effective_from) FROM reference_sections s JOIN releases r ON r.id=s.release_id "
        "WHERE s.source=?", (source,)).fetchone()[0]
    if held and held > start.isoformat():
        counts = {"sections": 0, "superseded_by_newer_edition": held}
        ctx.set_counts(release_id, counts)
        return counts
    ctx.conn.execute("DELETE FROM reference_sections WHERE source=?", (source,))
    rows = []
    for i, s in enumerate(sections):
        text = s["text"] if "text" in s else reflow(s.get("lines", []))
        if strip_cpt:
            text = strip_cpt_descriptors(text)
        rows.append((source, s["ref"], s["title"].strip(), s.get("parent"), i, s.get("page"), text, release_id))
    ctx.insert("reference_sections", ("source", "ref", "title", "parent_ref", "seq", "page", "text", "release_id"),
               rows)
    counts = {"sections": len(rows), "characters": sum(len(r[6]) for r in rows)}
    ctx.set_counts(release_id, counts)
    return counts
