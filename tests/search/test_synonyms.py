"""The curated synonym and abbreviation table (src/medcode/search/synonyms.tsv) against the official
indexes: every ICD-10-CM target's main term is a main term of the FY2025 Alphabetic Index (or of the
External Cause Index, Table of Drugs or Table of Neoplasms for the prefixed targets), nearly every path
resolves level by level, every PCS target's main term is a main term of the FY2025 ICD-10-PCS Index,
and every code hint is a valid code.

Standard library and pytest only (the ICD-10-CM hint check uses simple_icd_10_cm when installed);
the codebook is not needed. The official files are read from MEDCODE_SHARED_DATA (default
<repo>/../shared/data); the index checks are skipped when they are missing.
"""

from __future__ import annotations

import csv
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "src" / "medcode" / "search" / "synonyms.tsv"
DATA = Path(os.environ.get("MEDCODE_SHARED_DATA", ROOT.parent / "shared" / "data"))

HEADER = ["term", "kind", "system", "expands_to", "code_hint", "note"]
KINDS = {"abbrev", "lay", "procedure-lay", "shorthand"}
SYSTEMS = {"icd10cm", "icd10pcs", "any"}
SEP = " | "
MIN_ENTRIES = 400
FULL_PATH_MIN = 0.90  # share of index targets that must resolve level by level
NEOPLASM_COLUMNS = {"malignant", "malignant primary", "secondary", "malignant secondary", "in situ",
                    "ca in situ", "benign", "uncertain behavior", "unspecified behavior"}


# ---------------------------------------------------------------------------------------------
# the table


def _read_table() -> list[dict]:
    rows: list[dict] = []
    header = None
    with TABLE.open(encoding="utf-8", newline="") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if header is None:
                header = fields
                continue
            assert len(fields) == len(HEADER), f"line {lineno}: {len(fields)} fields, expected {len(HEADER)}"
            rows.append({**dict(zip(HEADER, fields)), "line": lineno})
    assert header == HEADER, f"header row {header!r}, expected {HEADER!r}"
    return rows


ROWS = _read_table()


def _targets(row: dict) -> list[str]:
    return row["expands_to"].split(SEP)


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


# ---------------------------------------------------------------------------------------------
# format checks (no data needed)


def test_enough_entries_and_every_kind():
    assert len(ROWS) >= MIN_ENTRIES, f"{len(ROWS)} entries, need at least {MIN_ENTRIES}"
    kinds = Counter(r["kind"] for r in ROWS)
    assert set(kinds) == KINDS, f"kinds present {sorted(kinds)}, expected all of {sorted(KINDS)}"
    systems = Counter(r["system"] for r in ROWS)
    assert set(systems) == SYSTEMS, f"systems present {sorted(systems)}"


def test_fields_are_well_formed():
    problems = []
    for r in ROWS:
        where = f"line {r['line']} {r['term']!r}"
        term = r["term"]
        if term != term.strip() or term != term.lower() or "  " in term or not term:
            problems.append(f"{where}: term must be lower case, trimmed, single-spaced")
        if r["kind"] not in KINDS:
            problems.append(f"{where}: kind {r['kind']!r}")
        if r["system"] not in SYSTEMS:
            problems.append(f"{where}: system {r['system']!r}")
        if (r["kind"] == "shorthand") != (r["system"] == "any"):
            problems.append(f"{where}: shorthand entries, and only they, have system any")
        targets = _targets(r)
        if any(t != t.strip() or not t for t in targets) or "||" in r["expands_to"]:
            problems.append(f"{where}: empty or untrimmed target in {r['expands_to']!r}")
        if len(set(map(_norm, targets))) != len(targets):
            problems.append(f"{where}: repeated target")
        if all(_norm(t) == _norm(term) for t in targets):
            problems.append(f"{where}: maps only to itself (the index already has it)")
        if r["system"] == "any" and any(t.startswith(("ext:", "drug:")) for t in targets):
            problems.append(f"{where}: prefixed targets are icd10cm only")
        if r["system"] == "icd10pcs" and any(t.startswith(("ext:", "drug:")) for t in targets):
            problems.append(f"{where}: prefixed targets are icd10cm only")
        if "ambiguous" in r["note"].lower() and len(targets) < 2 and r["system"] != "any":
            problems.append(f"{where}: an ambiguous term lists every common meaning")
        hint = r["code_hint"]
        if hint and (hint != hint.strip() or any(not c.strip() for c in hint.split(SEP))):
            problems.append(f"{where}: malformed code_hint {hint!r}")
        if r["note"] != r["note"].strip():
            problems.append(f"{where}: untrimmed note")
    assert not problems, "\n".join(problems)


def test_no_duplicate_keys():
    keys = Counter((r["term"], r["system"]) for r in ROWS)
    dups = [k for k, n in keys.items() if n > 1]
    assert not dups, f"duplicate (term, system): {dups}"


# ---------------------------------------------------------------------------------------------
# index trees


class Node:
    __slots__ = ("term", "code", "kids", "_variants")

    def __init__(self, term: str, code: str = ""):
        self.term = term
        self.code = code
        self.kids: dict[str, list[Node]] = {}
        self._variants: dict[str, list[Node]] | None = None

    def add(self, node: "Node") -> "Node":
        self.kids.setdefault(_norm(node.term), []).append(node)
        return node

    def match(self, key: str) -> list["Node"]:
        """Children whose whole term is `key`, then those with `key` as one of their comma-separated
        variants ("Failure, failed"; "myocardium, myocardial"), the way the index's own
        cross-references write paths."""
        if self._variants is None:
            self._variants = {}
            for k, nodes in self.kids.items():
                if "," in k:
                    for v in {_norm(p) for p in k.split(",")} - {k}:
                        self._variants.setdefault(v, []).extend(nodes)
        return self.kids.get(key, []) + self._variants.get(key, [])


def resolve(root: Node, path: str) -> tuple[bool, int, int]:
    """Whether `path` resolves level by level under `root`; also the number of comma pieces matched
    by the deepest partial match, and the total. A level whose own text contains ", " is matched by
    joining pieces, longest first."""
    parts = [p.strip() for p in path.split(",")]
    best = 0

    def walk(node: Node, i: int) -> bool:
        nonlocal best
        if i == len(parts):
            return True
        for k in range(len(parts) - i, 0, -1):
            for child in node.match(_norm(", ".join(parts[i:i + k]))):
                best = max(best, i + k)
                if walk(child, i + k):
                    return True
        return False

    return walk(root, 0), best, len(parts)


def _data(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"official data not available: {path}")
    return path


def _load_csv_tree(path: Path, term_col: str = "Term", code_col: str | None = "Code") -> Node:
    """A flattened index CSV (Level 0 = main term) as a tree. A term that is nothing but a
    nonessential modifier stands by its modifier. The flattened main Index files a "Note:" at
    level 1 under "Failure" whose following rows belong to "heart": note rows are skipped without
    closing the open term, so those rows stay under it."""
    root = Node("")
    stack = [root]
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for rec in csv.DictReader(fh):
            level = int(rec["Level"])
            term = " ".join((rec.get(term_col) or "").split()) or " ".join((rec.get("NonEssModif") or "").split())
            if term.startswith("Note:"):
                continue
            del stack[level + 1:]
            node = Node(term, (rec.get(code_col) or "").strip() if code_col else "")
            stack[min(level, len(stack) - 1)].add(node)
            stack.append(node)
    return root


def _load_pcs_tree(path: Path) -> Node:
    root = Node("")

    def walk(elem: ET.Element, node: Node) -> None:
        for term in elem.findall("term"):
            title = " ".join((term.findtext("title") or "").split())
            child = node.add(Node(title, term.findtext("codes") or term.findtext("code") or "")) if title else node
            walk(term, child)

    for main in ET.parse(path).getroot().iter("mainTerm"):
        node = root.add(Node(" ".join((main.findtext("title") or "").split()),
                             main.findtext("codes") or main.findtext("code") or ""))
        walk(main, node)
    return root


@pytest.fixture(scope="module")
def cm_trees() -> dict[str, Node]:
    folder = "icd10cm-2025-index-tables"
    return {
        "index": _load_csv_tree(_data(folder, "ICD10CM_2025_Index.csv")),
        "ext": _load_csv_tree(_data(folder, "ICD10CM_2025_ExternalIndex.csv")),
        "drug": _load_csv_tree(_data(folder, "ICD10CM_2025_Drugs.csv"), code_col=None),
        "neoplasm": _load_csv_tree(_data(folder, "ICD10CM_2025_neoplasms.csv"), code_col=None),
    }


@pytest.fixture(scope="module")
def pcs_tree() -> Node:
    return _load_pcs_tree(_data("icd10pcs-2025-index", "icd10pcs_index_2025.xml"))


def _cm_target(trees: dict[str, Node], target: str) -> tuple[Node, str, str]:
    """(tree, path, label) for one icd10cm target. "Neoplasm, <site...>, <column>" is a Table of
    Neoplasms cell: its site path is resolved in the table (whose level 0 is "Neoplasm, neoplastic")."""
    if target.startswith("ext:"):
        return trees["ext"], target[4:].strip(), "External Cause Index"
    if target.startswith("drug:"):
        return trees["drug"], target[5:].strip(), "Table of Drugs and Chemicals"
    parts = [p.strip() for p in target.split(",")]
    if _norm(parts[0]) == "neoplasm" and len(parts) >= 2 and _norm(parts[-1]) in NEOPLASM_COLUMNS:
        return trees["neoplasm"], ", ".join(["Neoplasm"] + parts[1:-1]), "Table of Neoplasms"
    return trees["index"], target, "Alphabetic Index"


def _main_term_exists(root: Node, path: str) -> bool:
    """The first level (the main term) is a main term of that index: the whole main term, or one of
    the variants of a main term written with commas ("Failure" of "Failure, failed"); a main term
    that itself contains ", " ("Post COVID-19 condition, unspecified") may also stand whole."""
    parts = [p.strip() for p in path.split(",")]
    return any(root.match(_norm(", ".join(parts[:k]))) for k in range(1, len(parts) + 1))


def _targets_of(system: str) -> list[tuple[dict, str]]:
    return [(r, t) for r in ROWS if r["system"] == system for t in _targets(r)]


# ---------------------------------------------------------------------------------------------
# index checks


def test_icd10cm_main_terms_exist(cm_trees):
    missing = []
    for row, target in _targets_of("icd10cm"):
        root, path, label = _cm_target(cm_trees, target)
        if not _main_term_exists(root, path):
            missing.append(f"line {row['line']} {row['term']!r}: {target!r} - no such main term in the {label}")
    assert not missing, "\n".join(missing)


def test_icd10cm_paths_resolve(cm_trees):
    targets = _targets_of("icd10cm")
    unresolved = []
    for row, target in targets:
        root, path, label = _cm_target(cm_trees, target)
        ok, depth, total = resolve(root, path)
        if not ok:
            unresolved.append(f"line {row['line']} {row['term']!r}: {target!r} resolves {depth}/{total} levels "
                              f"in the {label}")
    full = len(targets) - len(unresolved)
    print(f"\nICD-10-CM targets resolving fully: {full}/{len(targets)}")
    for line in unresolved:
        print("  " + line)
    assert full >= FULL_PATH_MIN * len(targets), "\n".join(unresolved)


def test_icd10pcs_main_terms_exist_and_paths_resolve(pcs_tree):
    targets = _targets_of("icd10pcs")
    missing, unresolved = [], []
    for row, target in targets:
        where = f"line {row['line']} {row['term']!r}: {target!r}"
        if not _main_term_exists(pcs_tree, target):
            missing.append(f"{where} - no such main term in the ICD-10-PCS Index")
        ok, depth, total = resolve(pcs_tree, target)
        if not ok:
            unresolved.append(f"{where} resolves {depth}/{total} levels")
    full = len(targets) - len(unresolved)
    print(f"\nICD-10-PCS targets resolving fully: {full}/{len(targets)}")
    for line in unresolved:
        print("  " + line)
    assert not missing, "\n".join(missing)
    assert full >= FULL_PATH_MIN * len(targets), "\n".join(unresolved)


# ---------------------------------------------------------------------------------------------
# code hints


def _hints(system: str) -> list[tuple[dict, str]]:
    return [(r, c.strip()) for r in ROWS if r["system"] == system and r["code_hint"]
            for c in r["code_hint"].split(SEP)]


def test_icd10cm_code_hints_are_valid_codes():
    hints = _hints("icd10cm")
    if not hints:
        return
    cm = pytest.importorskip("simple_icd_10_cm")
    bad = [f"line {r['line']} {r['term']!r}: {code!r}" for r, code in hints
           if not re.fullmatch(r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?", code) or not cm.is_valid_item(code)]
    assert not bad, "invalid ICD-10-CM code hints:\n" + "\n".join(bad)


def _pcs_codes_valid(path: Path, codes: set[str]) -> set[str]:
    """The subset of `codes` that the ICD-10-PCS tables allow: the table's first three characters and
    one row's labels for characters 4 to 7."""
    wanted = {c[:3]: [] for c in codes}
    for table in ET.parse(path).getroot().iter("pcsTable"):
        head = {int(a.get("pos")): {lab.get("code") for lab in a.findall("label")} for a in table.findall("axis")}
        prefixes = {a + b + c for a in head.get(1, ()) for b in head.get(2, ()) for c in head.get(3, ())}
        for prefix in prefixes & set(wanted):
            for row in table.findall("pcsRow"):
                wanted[prefix].append({int(a.get("pos")): {lab.get("code") for lab in a.findall("label")}
                                       for a in row.findall("axis")})
    valid = set()
    for code in codes:
        for row in wanted[code[:3]]:
            if all(code[pos - 1] in row.get(pos, ()) for pos in range(4, 8)):
                valid.add(code)
                break
    return valid


def test_icd10pcs_code_hints_are_valid_codes():
    hints = _hints("icd10pcs")
    if not hints:
        return
    malformed = [f"line {r['line']} {r['term']!r}: {c!r}" for r, c in hints
                 if not re.fullmatch(r"[0-9A-HJ-NP-Z]{7}", c)]
    assert not malformed, "ICD-10-PCS hints must be complete 7-character codes:\n" + "\n".join(malformed)
    valid = _pcs_codes_valid(_data("icd10pcs-2026-tables", "icd10pcs_tables_2026.xml"), {c for _, c in hints})
    bad = [f"line {r['line']} {r['term']!r}: {c!r}" for r, c in hints if c not in valid]
    assert not bad, "codes not in the ICD-10-PCS tables:\n" + "\n".join(bad)
