"""HCPCS Level II modifier list as a CSV with a header row (`hcpcs_level2_modifiers.csv`: mod_code,
mod_type, mod_category, mod_description, mod_information, mod_instructions, mod_correct_use,
mod_incorrect_use, mod_resources).

A third-party compilation (see ../shared/data PROVENANCE), not a CMS file layout: it is recognised
by that header row only. Each row is one Level II modifier (a modifier with two categories has two
rows, same description); CPT (Level I) rows, should a copy carry them, are skipped: their wording is
AMA text. The list is cumulative like the ANWEB file it comes from, so it is merged the same way as
the HCPCS code + description list (hcpcs_list): new modifiers added, titles updated, modifiers in
effect and absent ended; listed modifiers already discontinued stay discontinued. The usage notes go
to `modifier_guidance`.

The file carries no date. The release date is the option `effective_from`, a date in the file name
(`hcpcs_level2_modifiers_2024-07-01.csv`), or, for the copy this project was checked against, the
quarter of the package it came from.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from ..codes import MODIFIER
from ..errors import SourceError
from ..writer import BuildContext, SourceFile
from .listcsv import effective as listcsv_effective, header_is, rows as csv_rows
from .hcpcs_anweb import LEVEL2_MODIFIER, MOD_CODE, Entry, apply_list, later_release, quarter_label, same_release

KIND = "hcpcs_modifiers"
SYSTEM = MODIFIER
ORDER = 52

COLUMNS = ("mod_code", "mod_type", "mod_category", "mod_description", "mod_information", "mod_instructions",
           "mod_correct_use", "mod_incorrect_use", "mod_resources")
GUIDANCE = ("mod_information", "mod_instructions", "mod_correct_use", "mod_incorrect_use", "mod_resources")

# Copies whose date is known from where they came from (sha256 -> (release date, origin)).
KNOWN_COPIES = {
    "3b038667ffd79e9ebcb5904fc5361d6e4679121033dd5e4e98745f40c5a7c42d":
        (date(2024, 7, 1), "NCCI 2024 Q3 package (andrewallenbruce/northstar)"),
}


def sniff(path: Path, head: bytes) -> bool:
    return header_is(head, COLUMNS)


def effective(src: SourceFile) -> tuple[date, str | None]:
    return listcsv_effective(src, KNOWN_COPIES, "hcpcs_level2_modifiers_2024-07-01.csv")


def parse(src: SourceFile) -> tuple[dict[str, dict], int, int]:
    """({code: row}, rows read, CPT rows skipped)."""
    path = src.path
    out: dict[str, dict] = {}
    rows = skipped = 0
    for no, row in csv_rows(src, COLUMNS):
        rows += 1
        r = dict(zip(COLUMNS, (c.strip() for c in row)))
        code = r["mod_code"].upper()
        if r["mod_type"].upper() in ("CPT", "LEVEL I", "AMA"):
            skipped += 1
            continue
        if r["mod_type"].upper() != "HCPCS":
            raise SourceError(path, f"mod_type {r['mod_type']!r} is neither HCPCS nor CPT", no)
        if not MOD_CODE.match(code):
            raise SourceError(path, f"{r['mod_code']!r} is not a two-character modifier", no)
        title = " ".join(r["mod_description"].split())
        if not title:
            raise SourceError(path, f"modifier {code} has no description", no)
        if code in out:
            first = out[code]
            if first["title"] != title:
                raise SourceError(path, f"modifier {code} is listed again (line {first['line']}) with another "
                                        "description", no)
            if r["mod_category"] and r["mod_category"] not in first["categories"]:
                first["categories"].append(r["mod_category"])
            for k in GUIDANCE:
                if r[k] and not first[k]:
                    first[k] = r[k]
            continue
        out[code] = {"title": title, "line": no, "categories": [r["mod_category"]] if r["mod_category"] else [],
                     **{k: r[k] for k in GUIDANCE}}
    if not out:
        raise SourceError(path, "no Level II modifiers below the header")
    return out, rows, skipped


def load(ctx: BuildContext, src: SourceFile) -> dict:
    mods, rows, skipped = parse(src)
    start, origin = effective(src)
    conn = ctx.conn
    dup = same_release(conn, SYSTEM, KIND, start)
    if dup:
        ctx.note(f"{KIND}: {src.name}: skipped, the same list ({dup[0]}) was read from {dup[1]}")
        return {"skipped": 1}
    from . import CODE_LIST_KINDS

    later = later_release(conn, SYSTEM, tuple(CODE_LIST_KINDS), start)
    if later:
        ctx.note(f"{KIND}: {src.name}: skipped, {later[0]} ({later[1]}) already holds a later modifier list")
        return {"skipped": 1}
    if origin:
        ctx.note(f"{KIND}: {src.name}: no date in the file; the known copy from the {origin} is dated {start}")
    rel = ctx.add_release(system=SYSTEM, name=f"HCPCS Level II modifiers {quarter_label(start)} (modifier list)",
                          kind=KIND, effective_from=start, effective_to=None, src=src)
    entries = {code: Entry(code, m["title"], LEVEL2_MODIFIER, line=m["line"]) for code, m in mods.items()}
    from .hcpcs_list import hints

    counts: dict = {"rows": rows, "modifiers": len(mods), "cpt_rows_skipped": skipped}
    counts["merge"] = apply_list(ctx, system=SYSTEM, kinds=(LEVEL2_MODIFIER,), start=start, entries=entries,
                                 release_id=rel, hints=hints(ctx, SYSTEM, start), third_party=True)
    ctx.insert("modifier_guidance", ("code", "release_id", "categories", "information", "instructions", "correct_use",
                                     "incorrect_use", "resources"),
               [(code, rel, json.dumps(m["categories"]), *(m[k] or None for k in GUIDANCE)) for code, m in mods.items()])
    ctx.set_counts(rel, counts)
    return counts
