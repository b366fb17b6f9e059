"""Every ICD-10-CM item of the April 2026 release against simple_icd_10_cm (a test-only oracle).

The product reads the CDC XML itself; this checks it reads it the way an independent parser does:
parent, children, billable status, includes, inclusion terms, excludes1 and excludes2, for all
~98k items, not a sample.
"""

from __future__ import annotations

from collections import Counter

import pytest

pytestmark = pytest.mark.slow

APRIL_2026 = "2026-05-01"


def _norm(texts) -> list[str]:
    return sorted(" ".join(t.split()) for t in texts)


def test_every_item_agrees_with_the_oracle(book):
    cm = pytest.importorskip("simple_icd_10_cm")
    every = cm.get_all_codes(True)
    # a one-category block (B10, QA0) shares its category's name in the library; the book keeps the
    # block as "B10-B10" so both have their own record
    shared_names = {c for c, n in Counter(every).items() if n > 1}
    own_kinds = {
        "includes": cm.get_includes,
        "inclusion_terms": cm.get_inclusion_term,
        "excludes1": cm.get_excludes1,
        "excludes2": cm.get_excludes2,
    }
    mismatches: list[str] = []
    for code in sorted(set(every)):
        ours = book.find("icd10cm", code, APRIL_2026)
        if ours is None or ours.status != "active":
            mismatches.append(f"{code}: missing from the book")
            continue
        parent = cm.get_parent(code) or None
        if code in shared_names and ours.kind == "category":
            parent = f"{code}-{code}"
        if ours.parent != parent:
            mismatches.append(f"{code}: parent {ours.parent!r} != {parent!r}")
        children = {c.code for c in book.children("icd10cm", code, APRIL_2026)}
        expected_children = set(cm.get_children(code)) - {code}
        if cm.is_chapter(code):
            expected_children = {f"{c}-{c}" if c in shared_names else c for c in expected_children}
        if children != expected_children:
            mismatches.append(f"{code}: children differ: +{sorted(children - expected_children)[:5]} "
                              f"-{sorted(expected_children - children)[:5]}")
        leaf = not expected_children and not cm.is_chapter(code) and not (
            cm.is_block(code) and code not in shared_names)
        if ours.billable != leaf:
            mismatches.append(f"{code}: billable {ours.billable} != {leaf}")
        own = book.notes("icd10cm", code, APRIL_2026, inherited=False)
        for kind, getter in own_kinds.items():
            got = _norm(n.text for n in own if n.kind == kind)
            want = _norm(getter(code))
            if got != want:
                mismatches.append(f"{code}: {kind} {got[:2]} != {want[:2]}")
    for name in shared_names:
        block = book.get("icd10cm", f"{name}-{name}", APRIL_2026)
        assert block.kind == "block" and [c.code for c in book.children("icd10cm", block.code, APRIL_2026)] == [name]
    assert not mismatches, f"{len(mismatches)} disagreements, first: " + "\n".join(mismatches[:40])
