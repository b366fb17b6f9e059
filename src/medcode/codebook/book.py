"""The read-only API everything else uses. Every lookup takes a date of service (default today)."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from datetime import date
from functools import cached_property
from pathlib import Path

from .codes import ICD10CM, SYSTEMS, normalize, system_name, undotted
from .dates import from_iso, parse_date
from .errors import BookMissing, NoRelease, UnknownCode
from .model import Code, Crosswalk, IndexEntry, Note, Release, SeventhCharacter, Version
from .schema import SCHEMA_VERSION

NOTE_ORDER = ("includes", "inclusion_terms", "excludes1", "excludes2", "code_first", "use_additional",
              "code_also", "notes", "seventh_note")

_CODE_COLS = "code,title,kind,parent,billable,valid_from,valid_to,release_id"


class Book:
    """One open codebook file. Thread-safe: each thread gets its own read-only connection."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        if not self.path.exists():
            raise BookMissing(f"no codebook at {self.path}: run `medcode data build`")
        st = self.path.stat()
        self.identity = (st.st_ino, st.st_mtime_ns, st.st_size)
        self._local = threading.local()
        if not self.path.is_file():
            raise BookMissing(f"{self.path} is not a codebook file: run `medcode data build`")
        try:
            version = self.meta.get("schema_version")
        except sqlite3.DatabaseError as exc:
            raise BookMissing(f"{self.path} is not a readable codebook ({exc}): run `medcode data build`") from None
        if version != SCHEMA_VERSION:
            raise BookMissing(f"{self.path} has schema {version}, this medcode needs {SCHEMA_VERSION}: "
                              "run `medcode data build`")

    # --- plumbing ---------------------------------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            uri = f"file:{self.path}?mode=ro&immutable=1"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            conn.execute("PRAGMA query_only=1")
            conn.execute("PRAGMA cache_size=-32000")
            conn.execute("PRAGMA mmap_size=268435456")
            self._local.conn = conn
        return conn

    def is_current(self) -> bool:
        """False once a rebuild has replaced the file this book was opened on."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return False
        return (st.st_ino, st.st_mtime_ns, st.st_size) == self.identity

    @cached_property
    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta"))

    @cached_property
    def _releases(self) -> dict[int, Release]:
        out = {}
        for r in self.db.execute("SELECT id,system,name,effective_from,effective_to,kind,source,sha256,"
                                 "imported_at,counts FROM releases ORDER BY system, effective_from, id"):
            out[r[0]] = Release(r[0], r[1], r[2], from_iso(r[3]), from_iso(r[4]), r[5], r[6], r[7], r[8],
                                json.loads(r[9]))
        return out

    # --- releases ---------------------------------------------------------------------------
    def releases(self, system: str | None = None) -> list[Release]:
        rels = list(self._releases.values())
        return [r for r in rels if system is None or r.system == system_name(system)]

    def release_for(self, system: str, when: date | str | None = None) -> Release:
        """The release of `system` in effect on the date of service."""
        system = system_name(system)
        d = parse_date(when)
        from .sources import CODE_LIST_KINDS

        held = [r for r in self._releases.values() if r.system == system and r.kind in CODE_LIST_KINDS]
        if not held:
            raise NoRelease(f"no {system} release is held: import one with `medcode data import`")
        for r in reversed(held):
            if r.effective_from <= d and (r.effective_to is None or d <= r.effective_to):
                return r
        raise NoRelease(f"no {system} release held is in effect on {d.isoformat()}; the earliest held starts "
                        f"{held[0].effective_from.isoformat()}")

    def systems(self) -> list[str]:
        return [s for s in SYSTEMS if any(r.system == s for r in self._releases.values())]

    # --- codes ------------------------------------------------------------------------------
    def _row_to_code(self, system: str, row, status: str) -> Code:
        return Code(system, row[0], row[1], row[2], row[3], bool(row[4]), date.fromisoformat(row[5]),
                    date.fromisoformat(row[6]) if row[6] else None, status, self._releases[row[7]].name)

    def find(self, system: str, code: str, when: date | str | None = None) -> Code | None:
        """The version of a code in effect on the date, or its last version marked deleted/future."""
        system = system_name(system) if system not in SYSTEMS else system
        key = normalize(code, system)
        d = (when if isinstance(when, date) else parse_date(when)).isoformat()
        rows = self.db.execute(
            f"SELECT {_CODE_COLS} FROM codes WHERE system=? AND code=? ORDER BY valid_from", (system, key)
        ).fetchall()
        if not rows:
            return None
        last = None
        for row in rows:  # versions in date order
            if row[5] > d:
                break
            if row[6] is None or d <= row[6]:
                return self._row_to_code(system, row, "active")
            last = row
        if last is None:
            return self._row_to_code(system, rows[0], "future")
        # not in effect on that date: the version that ended last before it (a later release may bring it back)
        return self._row_to_code(system, last, "deleted")

    def get(self, system: str, code: str, when: date | str | None = None) -> Code:
        found = self.find(system, code, when)
        if found is None:
            raise UnknownCode(system_name(system), normalize(code, system_name(system)))
        return found

    def exists(self, system: str, code: str, when: date | str | None = None) -> bool:
        found = self.find(system, code, when)
        return found is not None and found.status == "active"

    def is_billable(self, system: str, code: str, when: date | str | None = None) -> bool:
        found = self.find(system, code, when)
        return found is not None and found.status == "active" and found.billable

    def history(self, system: str, code: str) -> list[Version]:
        system = system_name(system)
        rows = self.db.execute(
            "SELECT title,billable,parent,valid_from,valid_to,release_id FROM codes WHERE system=? AND code=? "
            "ORDER BY valid_from", (system, normalize(code, system))).fetchall()
        return [Version(r[0], bool(r[1]), r[2], date.fromisoformat(r[3]), from_iso(r[4]),
                        self._releases[r[5]].name) for r in rows]

    def ancestors(self, system: str, code: str, when: date | str | None = None) -> list[Code]:
        """Parent first, chapter (or PCS section) last."""
        out: list[Code] = []
        cur = self.get(system, code, when)
        seen = {cur.code}
        while cur.parent and cur.parent not in seen:
            parent = self.find(cur.system, cur.parent, when)
            if parent is None:
                break
            out.append(parent)
            seen.add(parent.code)
            cur = parent
        return out

    def children(self, system: str, code: str, when: date | str | None = None) -> list[Code]:
        system = system_name(system)
        d = parse_date(when).isoformat()
        rows = self.db.execute(
            f"SELECT {_CODE_COLS} FROM codes WHERE system=? AND parent=? AND valid_from<=? "
            "AND (valid_to IS NULL OR valid_to>=?) ORDER BY seq, code",
            (system, normalize(code, system), d, d)).fetchall()
        return [self._row_to_code(system, r, "active") for r in rows]

    def siblings(self, system: str, code: str, when: date | str | None = None) -> list[Code]:
        me = self.get(system, code, when)
        if not me.parent:
            return [c for c in self.top_level(system, when) if c.code != me.code]
        return [c for c in self.children(system, me.parent, when) if c.code != me.code]

    def top_level(self, system: str, when: date | str | None = None) -> list[Code]:
        system = system_name(system)
        d = parse_date(when).isoformat()
        rows = self.db.execute(
            f"SELECT {_CODE_COLS} FROM codes WHERE system=? AND parent IS NULL AND valid_from<=? "
            "AND (valid_to IS NULL OR valid_to>=?) ORDER BY seq", (system, d, d)).fetchall()
        return [self._row_to_code(system, r, "active") for r in rows]

    def billable_descendants(self, system: str, code: str, when: date | str | None = None,
                             limit: int = 500) -> list[Code]:
        """The codes to choose from below a header."""
        out: list[Code] = []
        stack = [code]
        while stack and len(out) < limit:
            for child in reversed(self.children(system, stack.pop(), when)):
                if child.billable:
                    out.append(child)
                else:
                    stack.append(child.code)
        out.sort(key=lambda c: c.code)
        return out[:limit]

    def codes(self, system: str, when: date | str | None = None, billable: bool | None = None):
        """Every code of a system in effect on the date (an iterator)."""
        system = system_name(system)
        d = parse_date(when).isoformat()
        sql = (f"SELECT {_CODE_COLS} FROM codes WHERE system=? AND valid_from<=? AND (valid_to IS NULL OR valid_to>=?)")
        args: list = [system, d, d]
        if billable is not None:
            sql += " AND billable=?"
            args.append(int(billable))
        for row in self.db.execute(sql + " ORDER BY seq", args):
            yield self._row_to_code(system, row, "active")

    def count(self, system: str, when: date | str | None = None, billable: bool | None = None) -> int:
        system = system_name(system)
        d = parse_date(when).isoformat()
        sql = "SELECT count(*) FROM codes WHERE system=? AND valid_from<=? AND (valid_to IS NULL OR valid_to>=?)"
        args: list = [system, d, d]
        if billable is not None:
            sql += " AND billable=?"
            args.append(int(billable))
        return self.db.execute(sql, args).fetchone()[0]

    def nearest(self, system: str, code: str, when: date | str | None = None, limit: int = 5) -> list[Code]:
        """Valid codes closest to a code that does not exist: longest shared prefix first."""
        system = system_name(system)
        key = normalize(code, system)
        d = parse_date(when).isoformat()
        for cut in range(len(key), 0, -1):
            prefix = key[:cut].rstrip(".")
            if not prefix:
                break
            rows = self.db.execute(
                f"SELECT {_CODE_COLS} FROM codes WHERE system=? AND code>=? AND code<? AND valid_from<=? "
                "AND (valid_to IS NULL OR valid_to>=?) ORDER BY billable DESC, length(code), code LIMIT ?",
                (system, prefix, prefix + "\uffff", d, d, limit)).fetchall()
            rows = [r for r in rows if r[0] != key]
            if rows:
                return [self._row_to_code(system, r, "active") for r in rows]
        return []

    # --- notes and 7th characters -----------------------------------------------------------
    def notes(self, system: str, code: str, when: date | str | None = None,
              inherited: bool = True) -> list[Note]:
        """Own notes first, then each ancestor's, each marked with the level it is printed at."""
        me = self.get(system, code, when)
        levels = [me] + (self.ancestors(system, code, when) if inherited else [])
        out: list[Note] = []
        for level in levels:
            rows = self.db.execute("SELECT kind, text FROM notes WHERE system=? AND code=? ORDER BY kind, seq",
                                   (me.system, level.code)).fetchall()
            for kind, text in rows:
                out.append(Note(kind, text, level.code, level.kind, level.code != me.code))
        rank = {k: i for i, k in enumerate(NOTE_ORDER)}
        out.sort(key=lambda n: (rank.get(n.kind, 99),))
        return out

    def notes_by_kind(self, system: str, code: str, when: date | str | None = None) -> dict[str, list[Note]]:
        grouped: dict[str, list[Note]] = {k: [] for k in NOTE_ORDER}
        for note in self.notes(system, code, when):
            grouped.setdefault(note.kind, []).append(note)
        return grouped

    def seventh_characters(self, system: str, code: str, when: date | str | None = None) -> list[SeventhCharacter]:
        """The 7th-character table in force for a code: the nearest level that defines one."""
        me = self.get(system, code, when)
        lookup = me.parent if me.kind == "extension" else me.code
        chain = [lookup] + [a.code for a in self.ancestors(system, lookup, when)]
        for level in chain:
            rows = self.db.execute("SELECT char, meaning FROM seventh_chars WHERE system=? AND code=? ORDER BY char",
                                   (me.system, level)).fetchall()
            if rows:
                return [SeventhCharacter(c, m, level) for c, m in rows]
        return []

    # --- index and crosswalks ---------------------------------------------------------------
    def index_entries(self, code: str, system: str = ICD10CM, limit: int = 200) -> list[IndexEntry]:
        """Index terms that lead to this code: those giving it in full first, then those that stop at
        one of its headers with a dash (E11.4-, E11.- lead on to E11.42), nearest header first."""
        system = system_name(system)
        if system == ICD10CM:
            from .sources.icd10cm_index import lookup_keys  # the Index's spelling of incomplete codes

            try:
                keys = lookup_keys(code)
            except ValueError:
                return []
        else:
            keys = [normalize(code, system)]
        if not keys:
            return []
        rank = " ".join(f"WHEN ? THEN {i}" for i in range(len(keys)))
        rows = self.db.execute(
            "SELECT source,path,code,see,see_also,nonessential,column_name FROM index_terms "
            f"WHERE system=? AND code IN ({','.join('?' * len(keys))}) ORDER BY CASE code {rank} END, "
            "CASE source WHEN 'index' THEN 0 WHEN 'eindex' THEN 1 WHEN 'drug' THEN 2 WHEN 'neoplasm' THEN 3 "
            "ELSE 4 END, path, id LIMIT ?", (system, *keys, *keys, limit)).fetchall()
        return [IndexEntry(*r) for r in rows]

    def crosswalks(self, code: str, system: str = ICD10CM) -> list[Crosswalk]:
        """GEM rows from this ICD-10-CM code to ICD-9-CM, and from ICD-9-CM codes back to it."""
        system = system_name(system)
        if system == "icd9cm":
            return self._gem_rows("icd9cm->icd10cm", "source", normalize(code, "icd9cm"))
        key = normalize(code, system)
        return (self._gem_rows("icd10cm->icd9cm", "source", key)
                + self._gem_rows("icd9cm->icd10cm", "target", key))

    def _gem_rows(self, direction: str, column: str, key: str) -> list[Crosswalk]:
        rows = self.db.execute(
            f"SELECT source,target,approximate,no_map,combination,scenario,choice_list FROM crosswalks "
            f"WHERE direction=? AND {column}=? ORDER BY scenario, choice_list, target", (direction, key)).fetchall()
        out = []
        for r in rows:
            other = r[1] if direction == "icd10cm->icd9cm" else r[0]
            title = self.icd9_title(other) if direction == "icd10cm->icd9cm" else None
            out.append(Crosswalk(direction, r[0], r[1], title, bool(r[2]), bool(r[3]), bool(r[4]), r[5], r[6]))
        return out

    def icd9_title(self, code: str | None) -> str | None:
        if not code:
            return None
        row = self.db.execute("SELECT title FROM icd9_codes WHERE code=?", (normalize(code, "icd9cm"),)).fetchone()
        return row[0] if row else None

    # --- PCS --------------------------------------------------------------------------------
    def pcs_table(self, table_code: str) -> dict | None:
        key = normalize(table_code, "icd10pcs")[:3]
        head = self.db.execute("SELECT code,section,body_system,operation,definition FROM pcs_tables WHERE code=?",
                               (key,)).fetchone()
        if not head:
            return None
        rows = [json.loads(r[0]) for r in self.db.execute(
            "SELECT axes FROM pcs_rows WHERE table_code=? ORDER BY row_no", (key,))]
        return {"code": head[0], "section": head[1], "body_system": head[2], "operation": head[3],
                "definition": head[4], "rows": rows}

    def pcs_definition(self, section: str, axis_pos: int, label: str) -> dict | None:
        """A value's entry in the definitions file; the newest definitions release when several are held."""
        row = self.db.execute(
            "SELECT d.axis_title,d.value,d.label,d.definition,d.explanation,d.includes FROM pcs_definitions d "
            "JOIN releases r ON r.id=d.release_id WHERE d.section=? AND d.axis_pos=? AND (d.label=? OR d.value=?) "
            "ORDER BY r.effective_from DESC, d.release_id DESC LIMIT 1",
            (section, axis_pos, label, label)).fetchone()
        if not row:
            return None
        return {"axis": row[0], "value": row[1], "label": row[2], "definition": row[3],
                "explanation": row[4], "includes": json.loads(row[5] or "[]")}

    @staticmethod
    def _pcs_header_title(section: str, pos: int) -> str:
        """Axes 1-3 are named the same in every table of a section (pcs_rows keeps only axes 4-7)."""
        if pos == 1:
            return "Section"
        if pos == 2:
            return "Section Qualifier" if section == "F" else "Body System"
        return {"B": "Type", "C": "Type", "F": "Type", "G": "Type", "H": "Type", "D": "Modality"}.get(section,
                                                                                                    "Operation")

    def pcs_axes(self, code: str) -> list[dict] | None:
        """The seven axes of a valid PCS code: title, character, label, and the definitions file's
        definition and inclusion terms where it has them. None when no table row allows the code."""
        key = normalize(code, "icd10pcs")
        table = self.pcs_table(key) if len(key) == 7 else None
        if table is None:
            return None
        for row in table["rows"]:
            labels = {a["pos"]: dict(map(tuple, a["values"])).get(key[a["pos"] - 1]) for a in row}
            if all(labels.values()):
                break
        else:
            return None
        axes = [(p, self._pcs_header_title(key[0], p), table[f]) for p, f in
                ((1, "section"), (2, "body_system"), (3, "operation"))]
        axes += [(a["pos"], a["title"], labels[a["pos"]]) for a in row]
        out = []
        for pos, title, label in axes:
            found = self.pcs_definition(key[0], pos, label) if pos >= 3 else None
            out.append({"pos": pos, "title": title, "value": key[pos - 1], "label": label,
                        "definition": found["definition"] if found else None,
                        "includes": found["includes"] if found else []})
        if out[2]["definition"] is None:  # the tables file prints the operation's definition too
            out[2]["definition"] = table["definition"]
        return out

    def pcs_index_entries(self, code: str, limit: int = 50) -> list[IndexEntry]:
        """PCS Index terms leading to this code: the index gives whole codes, their first characters
        (0RRJ) or a table (0RR), so every prefix counts; the most specific first."""
        key = normalize(code, "icd10pcs")
        prefixes = [key[:n] for n in range(len(key), 2, -1)]
        if not prefixes:
            return []
        rows = self.db.execute(
            "SELECT source,path,code,see,see_also,nonessential,column_name FROM index_terms "
            f"WHERE system='icd10pcs' AND code IN ({','.join('?' * len(prefixes))}) "
            "ORDER BY length(code) DESC, path, id LIMIT ?", (*prefixes, limit)).fetchall()
        return [IndexEntry(*r) for r in rows]


# --- one book per process, reopened when a rebuild replaces the file --------------------------
_lock = threading.Lock()
_open: dict[str, Book] = {}


def open_book(path: Path | str | None = None) -> Book:
    """The shared Book for `path` (default: the configured codebook); reopened after a rebuild."""
    if path is None:
        from ..config import codebook_path

        path = codebook_path()
    key = os.fspath(path)
    book = _open.get(key)
    if book is not None and book.is_current():
        return book
    with _lock:
        book = _open.get(key)
        if book is None or not book.is_current():
            book = Book(key)
            _open[key] = book
        return book
