"""Passage index over the guideline and policy texts, for retrieval ranked by bm25 (SQLite FTS5).

A passage is a run of a section's paragraphs (about 300-1200 characters), so a hit points at the
sentences that answer rather than at a whole chapter. Columns: the section title, the titles of
its ancestors (context), and the passage text. Porter stemming: "coded" finds "code".
"""

from __future__ import annotations

import re
import sqlite3

DDL = """
DROP TABLE IF EXISTS reference_fts;
CREATE VIRTUAL TABLE reference_fts USING fts5(
  title, context, body, source UNINDEXED, ref UNINDEXED, seq UNINDEXED,
  tokenize = 'porter unicode61 remove_diacritics 2'
);
"""

MIN_CHARS = 300
MAX_CHARS = 1200
_SENTENCE_END = re.compile(r"(?<=[.;:])\s+(?=[A-Z(“\"•])")


def chunks(text: str) -> list[str]:
    """Paragraph runs of MIN..MAX characters; a paragraph longer than MAX is cut between sentences."""
    pieces: list[str] = []
    for para in (p.strip() for p in text.split("\n\n")):
        if not para:
            continue
        if len(para) <= MAX_CHARS:
            pieces.append(para)
            continue
        cur = ""
        for sentence in _SENTENCE_END.split(para):
            if cur and len(cur) + len(sentence) > MAX_CHARS * 0.8:
                pieces.append(cur)
                cur = sentence
            else:
                cur = f"{cur} {sentence}".strip()
        if cur:
            pieces.append(cur)
    out: list[str] = []
    cur = ""
    for piece in pieces:
        if cur and len(cur) >= MIN_CHARS:
            out.append(cur)
            cur = piece
        elif cur and len(cur) + len(piece) > MAX_CHARS:
            out.append(cur)
            cur = piece
        else:
            cur = f"{cur}\n\n{piece}" if cur else piece
    if cur:
        out.append(cur)
    return out


def _sections(conn: sqlite3.Connection):
    for table in ("guideline_sections", "reference_sections"):
        try:
            yield from conn.execute(f"SELECT source, ref, title, parent_ref, text FROM {table} ORDER BY source, seq")
        except sqlite3.OperationalError:  # a table this book does not have
            continue


def build_reference_index(conn: sqlite3.Connection) -> dict:
    """(Re)create reference_fts from the sections in the book being built; returns counts."""
    conn.executescript(DDL)
    rows = list(_sections(conn))
    titles = {(r[0], r[1]): (r[2], r[3]) for r in rows}
    passages = 0
    batch = []
    for source, ref, title, parent, text in rows:
        context, seen, up = [], set(), parent
        while up and (source, up) in titles and up not in seen:
            seen.add(up)
            context.append(titles[(source, up)][0])
            up = titles[(source, up)][1]
        for seq, body in enumerate(chunks(text) or [""]):
            if not body and not title:
                continue
            batch.append((title, " / ".join(context), body, source, ref, seq))
            passages += 1
    conn.executemany("INSERT INTO reference_fts(title, context, body, source, ref, seq) VALUES (?,?,?,?,?,?)", batch)
    conn.execute("INSERT INTO reference_fts(reference_fts) VALUES ('optimize')")
    return {"sections": len(rows), "passages": passages}
