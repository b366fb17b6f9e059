"""One module per official release format. Each exposes KIND, SYSTEM, ORDER, sniff() and load().

sniff(path, head) says whether a file is in the module's layout from its first bytes;
load(ctx, src) reads it into the book being built and raises SourceError naming the file and
the line or element when the file is not what it claims.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

_MODULES = (
    "icd10cm_tabular",
    "icd10cm_addenda",
    "icd10cm_index",
    "icd10cm_index_csv",
    "icd10pcs_tables",
    "icd10pcs_definitions",
    "icd10pcs_index",
    "gems",
    "icd10cm_guidelines",
    "ncci_policy",
    "cms_manual",
    "icd10pcs_guidelines",
    "ncci_ptp",
    "ncci_mue",
    "ncci_aoc",
    "pfs_rvu",
    "pfs_gpci",
    "hcpcs_anweb",
    "hcpcs_attributes",
    "modifiers",
    "hcpcs_list",
    "hcpcs_noc",
    "pos",
    "cpt_licensed",
)


# Releases of these kinds carry a code list: they follow each other in time, and the one in effect on
# a date of service answers lookups. Index, guideline, definition and GEM releases do not.
CODE_LIST_KINDS = frozenset({"icd10cm_tabular", "icd10cm_addenda", "icd10pcs_tables", "hcpcs_anweb", "cpt",
                             "hcpcs_attributes", "hcpcs_list", "hcpcs_modifiers", "pos"})


def modules():
    """The importers that exist in this checkout, in build order."""
    found = []
    for name in _MODULES:
        try:
            found.append(import_module(f"{__name__}.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    return sorted(found, key=lambda m: m.ORDER)


def by_kind(kind: str):
    for mod in modules():
        if mod.KIND == kind:
            return mod
    raise KeyError(kind)


def head_of(path: Path, size: int = 4096) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(size)


def detect(path: Path):
    """The importer module whose layout this file is in, or None."""
    head = head_of(path)
    for mod in modules():
        if mod.sniff(path, head):
            return mod
    return None
