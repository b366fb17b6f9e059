"""The search index the codebook build writes, the backend registry and the synonym table reader."""

from __future__ import annotations

import pytest

from medcode.search import Engine, search
from medcode.search import synonyms as synonym_table
from medcode.search.backends import backend_class, register
from medcode.search.backends.sqlite import SQLiteBackend, compile_match
from medcode.search.backends.base import Alt, Expr, Slot, Term
from medcode.search.index import INDEX_VERSION, id_range


def test_the_build_writes_the_index(book):
    assert book.meta["search_index"] == INDEX_VERSION
    counts = dict(book.db.execute("SELECT source, count(*) FROM search_docs GROUP BY source"))
    for source in ("title", "inclusion", "index", "eindex", "drug", "neoplasm", "pcs_index"):
        assert counts.get(source, 0) > 0, source
    # each system's documents sit in their own id block
    for system, lo, hi in book.db.execute("SELECT system, min(id), max(id) FROM search_docs GROUP BY system"):
        first, last = id_range(system)
        assert first <= lo <= hi <= last


def test_see_only_entries_lead_to_the_target_code(book):
    row = book.db.execute("SELECT code, label FROM search_docs WHERE source='index' AND label LIKE "
                          "'index: Attack, attacks, heart %see%'").fetchone()
    assert row is not None and row[0] == "I21.9"


def test_documents_point_at_codes_of_the_book(book):
    rows = book.db.execute("SELECT system, code FROM search_docs WHERE source IN ('title','inclusion') "
                           "ORDER BY random() LIMIT 200").fetchall()
    for system, code in rows:
        assert book.find(system, code) is not None


def test_fts_syntax_never_reaches_fts5():
    expr = Expr((Slot([Alt((Term('a"b'),)), Alt((Term("near"), Term("x", prefix=True)))]),))
    assert compile_match(expr) == '("a""b" OR ("near" AND "x"*))'


def test_backend_registry(book):
    with pytest.raises(ValueError):
        backend_class("no-such-backend")
    register("sqlite-again", "medcode.search.backends.sqlite:SQLiteBackend")
    assert backend_class("sqlite-again") is SQLiteBackend
    engine = Engine(book, backend="sqlite-again")
    assert engine.search("heart attack", date="2026-05-01")["results"][0]["code"] == "I21.9"


def test_backend_from_the_environment(book, monkeypatch):
    monkeypatch.setenv("MEDCODE_SEARCH_BACKEND", "sqlite")
    assert backend_class() is SQLiteBackend
    assert search(book, "asthma", date="2026-05-01")["results"]


def test_index_redirects_become_entries():
    entry = synonym_table.redirect("icd10pcs", "pcs_index", "Biopsy", "Excision with qualifier Diagnostic")
    assert entry.targets[0].path == "Excision" and entry.targets[0].hint == "Diagnostic"
    entry = synonym_table.redirect("icd10cm", "index", "Decubitus", "Ulcer, pressure, by site")
    assert entry.targets[0].path == "Ulcer, pressure"


def test_synonym_table_reader():
    lines = ["# comment", "", "term\tkind\tsystem\texpands_to\tcode_hint\tnote",
             "clot in the leg\tlay\ticd10cm\tThrombosis, vein, deep\t\t",
             "mets\tabbrev\ticd10cm\tNeoplasm, secondary | Neoplasm, liver, secondary\t\t",
             "rt\tshorthand\tany\tright\t\t", "rtsa\tabbrev\ticd10pcs\tReplacement, Joint, Shoulder\t0RRJ00Z | 0RRK00Z\t"]
    table = synonym_table.Synonyms(synonym_table.parse(lines))
    assert table.lookup(("clot", "leg"), "icd10cm")[0].targets[0].path == "Thrombosis, vein, deep"
    mets = table.lookup(("mets",), None)[0]
    assert [t.source for t in mets.targets] == ["index", "neoplasm"]
    assert mets.targets[1].column == "Malignant Secondary" and mets.targets[1].path == "Neoplasm, liver"
    assert table.lookup(("rt",), "icd10pcs")[0].shorthand
    assert table.lookup(("rtsa",), "icd10cm") == []
    assert table.lookup(("rtsa",), "icd10pcs")[0].code_hints == ("0RRJ00Z", "0RRK00Z")
    with pytest.raises(ValueError):
        synonym_table.parse(["term\tnope"])


def test_the_packaged_table_loads():
    table = synonym_table.load()
    assert len(table) >= 400
    assert table.lookup(("heart", "attack"), "icd10cm")
