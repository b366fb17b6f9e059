"""Any text in, a well-formed response out: never an exception, never FTS5 syntax leaking through."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medcode.search import MAX_QUERY_CHARS, search

WHEN = "2026-05-01"


def well_formed(doc, limit=10):
    assert set(doc) == {"query", "corrected_query", "results"}
    assert isinstance(doc["query"], str) and len(doc["query"]) <= MAX_QUERY_CHARS
    assert doc["corrected_query"] is None or isinstance(doc["corrected_query"], str)
    assert isinstance(doc["results"], list) and len(doc["results"]) <= limit
    for r in doc["results"]:
        assert set(r) == {"system", "code", "title", "billable", "score", "match"}
        assert isinstance(r["code"], str) and r["code"]
        assert isinstance(r["title"], str) and r["title"]
        assert isinstance(r["billable"], bool)
        assert isinstance(r["score"], float)
        assert isinstance(r["match"], str) and r["match"]
    return doc


BAD = [
    "", " ", "\t\n  ", "\x00", "asthma\x00attack", "a" * 10_000, "heart " * 2_000,
    "AND", "OR", "NOT", "NEAR", "asthma AND", "OR asthma", "NEAR(asthma copd)", "asthma NEAR/2 copd",
    '"', '""', '"asthma', "asthma\"", "*", "asth*", "**", "(", ")", "(asthma", "asthma)", "()",
    ":", "body:asthma", "search_fts:asthma", "{body}: asthma", "^asthma", "-asthma", "+", "a:b:c",
    "'; DROP TABLE codes; --", "1' OR '1'='1", "asthma' UNION SELECT * FROM codes --", "%", "_", "\\",
    "💔 attack", "心臓発作", "Ωmega", "crohn\u2019s disease", "Ménière's disease", "\u200b\u200b", "\ud800",
    "E11.9 OR 1=1", "K57.*", "0RR*", "..", ".", "-", "--", "E", "0", "99999999", "Z" * 9,
]


@pytest.mark.parametrize("q", BAD)
def test_bad_input_gets_a_response(book, q):
    well_formed(search(book, q, date=WHEN))


def test_fts_words_are_plain_words(book):
    # "and"/"or"/"not" are function words, never operators: these find what the words say
    assert search(book, "asthma AND copd", date=WHEN)["results"]
    assert search(book, "NEAR fracture", date=WHEN)["results"]
    top = search(book, '"heart attack"', date=WHEN)["results"][0]
    assert top["code"] == "I21.9"


def test_long_query_is_read_up_to_the_limit(book):
    doc = search(book, "asthma " * 3_000, date=WHEN)
    assert len(doc["query"]) <= MAX_QUERY_CHARS
    assert doc["results"] and doc["results"][0]["code"].startswith("J45")


def test_emoji_and_other_scripts_are_ignored(book):
    assert search(book, "asthma 💔", date=WHEN)["results"][0]["code"].startswith("J45")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])
@given(q=st.text(max_size=80) | st.from_regex(r"[A-Za-z0-9 .*\"():^\-]{0,30}", fullmatch=True),
       limit=st.integers(min_value=1, max_value=100))
def test_any_string_gives_a_well_formed_response(book, q, limit):
    well_formed(search(book, q, limit=limit, date=WHEN), limit)
