"""The read-only API everything else uses. Every lookup takes a date of service (default today)."""

from __future__ import annotations

import functools
import json
import os
import re
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property
from pathlib import Path

from .codes import CPT, ICD10CM, MODIFIER, SYSTEMS, normalize, system_name
from .dates import from_iso, parse_date
from .errors import BookMissing, CodebookError, NoRelease, UnknownCode
from .model import Code, Crosswalk, IndexEntry, Note, Release, SeventhCharacter, Version
from .schema import READABLE_VERSIONS, SCHEMA_VERSION

NOTE_ORDER = ("includes", "inclusion_terms", "excludes1", "excludes2", "code_first", "use_additional",
              "code_also", "notes", "seventh_note")

_CODE_COLS = "code,title,kind,parent,billable,valid_from,valid_to,release_id"


def _per_build(method):
    """Inside `with book.memo():` this thread asks the book each question once: building one code page
    looks up the same code, its ancestors and their notes many times. Outside it, no memo."""
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        memo = getattr(self._local, "memo", None)
        if memo is None:
            return method(self, *args, **kwargs)
        key = (name, args, tuple(kwargs.items()))
        try:
            hit = memo[key]
        except KeyError:
            hit = memo[key] = method(self, *args, **kwargs)
        except TypeError:  # an unhashable argument: not remembered
            return method(self, *args, **kwargs)
        return list(hit) if isinstance(hit, list) else hit  # a caller may change its list, never ours

    return wrapper


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
        if version not in READABLE_VERSIONS:
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

    @contextmanager
    def memo(self):
        """Remember this thread's lookups until the block ends (see _per_build); nests."""
        if getattr(self._local, "memo", None) is not None:
            yield self
            return
        self._local.memo = {}
        try:
            yield self
        finally:
            self._local.memo = None

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

    def holds(self, system: str) -> bool:
        """Whether codes of `system` can be looked up: a release of it is held, or, for CPT, the CMS files
        that list CPT codes by number (see cms_listed)."""
        system = system_name(system)
        return system in self.systems() or (system == CPT and bool(self._edit_sets))

    # --- codes ------------------------------------------------------------------------------
    def _row_to_code(self, system: str, row, status: str) -> Code:
        return Code(system, row[0], row[1], row[2], row[3], bool(row[4]), date.fromisoformat(row[5]),
                    date.fromisoformat(row[6]) if row[6] else None, status, self._releases[row[7]].name)

    @_per_build
    def find(self, system: str, code: str, when: date | str | None = None) -> Code | None:
        """The version of a code in effect on the date, or its last version marked deleted/future."""
        system = system_name(system) if system not in SYSTEMS else system
        key = normalize(code, system)
        d = (when if isinstance(when, date) else parse_date(when)).isoformat()
        rows = self.db.execute(
            f"SELECT {_CODE_COLS} FROM codes WHERE system=? AND code=? ORDER BY valid_from", (system, key)
        ).fetchall()
        if not rows:
            return self._known_by_number(system, key, d) if system in (CPT, MODIFIER) else None
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

    @_per_build
    def history(self, system: str, code: str) -> list[Version]:
        system = system_name(system)
        rows = self.db.execute(
            "SELECT title,billable,parent,valid_from,valid_to,release_id FROM codes WHERE system=? AND code=? "
            "ORDER BY valid_from", (system, normalize(code, system))).fetchall()
        return [Version(r[0], bool(r[1]), r[2], date.fromisoformat(r[3]), from_iso(r[4]),
                        self._releases[r[5]].name) for r in rows]

    @_per_build
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

    @_per_build
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
    @_per_build
    def notes(self, system: str, code: str, when: date | str | None = None,
              inherited: bool = True) -> list[Note]:
        """Own notes first, then each ancestor's, each marked with the level it is printed at."""
        me = self.get(system, code, when)
        levels = [me] + (self.ancestors(system, code, when) if inherited else [])
        by_code: dict[str, list] = {}
        for row in self.db.execute(  # one query for every level, grouped back by level below
                f"SELECT code, kind, text FROM notes WHERE system=? AND code IN ({','.join('?' * len(levels))}) "
                "ORDER BY kind, seq", (me.system, *(lv.code for lv in levels))):
            by_code.setdefault(row[0], []).append(row)
        out: list[Note] = []
        for level in levels:
            for _, kind, text in by_code.get(level.code, ()):
                out.append(Note(kind, text, level.code, level.kind, level.code != me.code))
        rank = {k: i for i, k in enumerate(NOTE_ORDER)}
        out.sort(key=lambda n: (rank.get(n.kind, 99),))
        return out

    def notes_by_kind(self, system: str, code: str, when: date | str | None = None) -> dict[str, list[Note]]:
        grouped: dict[str, list[Note]] = {k: [] for k in NOTE_ORDER}
        for note in self.notes(system, code, when):
            grouped.setdefault(note.kind, []).append(note)
        return grouped

    @_per_build
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
    @_per_build
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

    @_per_build
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

    # --- HCPCS Level II, modifiers, place of service, CPT descriptors (issue 5) --------------
    def _for_date(self, rows: list, when: date | str | None) -> dict | None:
        """Of rows carrying `release_effective` (oldest first), the newest release in effect by the
        date, else the earliest: a code page shows what the release of the date of service says."""
        if not rows:
            return None
        d = parse_date(when)
        held = [r for r in rows if r["release_effective"] <= d]
        return held[-1] if held else rows[0]

    def _rows(self, sql: str, args: tuple) -> list[dict]:
        cur = self.db.execute(sql, args)
        names = [c[0] for c in cur.description]
        out = []
        for row in cur.fetchall():
            r = dict(zip(names, row))
            r["release_effective"] = from_iso(r["release_effective"])
            out.append(r)
        return out

    def hcpcs_details(self, system: str, code: str, when: date | str | None = None) -> dict | None:
        """The ANWEB record fields of a HCPCS code or Level II modifier from the release in effect on the
        date (else the nearest one held). None when no release carries them."""
        system = system_name(system)
        rows = self._rows(
            "SELECT d.*, r.name AS release, r.effective_from AS release_effective FROM hcpcs_details d "
            "JOIN releases r ON r.id=d.release_id WHERE d.system=? AND d.code=? ORDER BY r.effective_from, r.id",
            (system, normalize(code, system)))
        r = self._for_date(rows, when)
        if r is None:
            return None
        from .sources.hcpcs_anweb import ACTION_CODES

        return {
            "release": r["release"], "release_effective": r["release_effective"],
            "long_description": r["long_description"], "short_description": r["short_description"],
            "pricing_indicators": json.loads(r["pricing"]), "multiple_pricing_indicator": r["multiple_pricing"],
            "coverage_code": r["coverage"], "betos": r["betos"], "type_of_service": json.loads(r["tos"]),
            "asc_group": r["asc_group"], "asc_effective": from_iso(r["asc_date"]),
            "anesthesia_base_units": r["anesthesia_units"],
            "added": from_iso(r["added"]), "action_effective": from_iso(r["action_date"]),
            "terminated": from_iso(r["termination"]), "action_code": r["action_code"],
            "action": ACTION_CODES.get(r["action_code"] or ""),
            "cim_references": json.loads(r["cim"]), "mcm_references": json.loads(r["mcm"]),
            "statute": r["statute"], "lab_certification": json.loads(r["lab_cert"]),
            "cross_references": json.loads(r["xref"]), "opps_group": r["opps"],
            "opps_payment_indicator": r["opps_pi"], "opps_effective": from_iso(r["opps_date"]),
            "processing_note": r["proc_note"],
        }

    def hcpcs_descriptions(self, system: str, code: str, when: date | str | None = None) -> dict | None:
        """The long and short descriptions of a HCPCS code or Level II modifier from the newest release in
        effect by the date that carries them (an attributes-only release carries none), else the earliest."""
        system = system_name(system)
        rows = self._rows(
            "SELECT d.long_description, d.short_description, r.name AS release, r.effective_from AS "
            "release_effective FROM hcpcs_details d JOIN releases r ON r.id=d.release_id WHERE d.system=? AND "
            "d.code=? AND (d.long_description IS NOT NULL OR d.short_description IS NOT NULL) "
            "ORDER BY r.effective_from, r.id", (system, normalize(code, system)))
        r = self._for_date(rows, when)
        if r is None:
            return None
        return {"long_description": r["long_description"], "short_description": r["short_description"],
                "release": r["release"]}

    def hcpcs_noc(self, code: str, when: date | str | None = None) -> bool | None:
        """Whether a HCPCS code is on the CMS not-otherwise-classified list on the date; None when no
        NOC list is held."""
        lists = self.db.execute("SELECT id FROM releases WHERE system='hcpcs' AND kind='hcpcs_noc' "
                                "ORDER BY effective_from DESC, id DESC").fetchall()
        if not lists:
            return None
        d = parse_date(when).isoformat()
        row = self.db.execute("SELECT added, terminated FROM hcpcs_noc WHERE code=? AND release_id=?",
                              (normalize(code, "hcpcs"), lists[0][0])).fetchone()
        return bool(row) and (row[0] is None or row[0] <= d) and (row[1] is None or d <= row[1])

    def modifier_guidance(self, code: str, when: date | str | None = None) -> dict | None:
        rows = self._rows(
            "SELECT g.*, r.name AS release, r.effective_from AS release_effective FROM modifier_guidance g "
            "JOIN releases r ON r.id=g.release_id WHERE g.code=? ORDER BY r.effective_from, r.id",
            (normalize(code, "modifier"),))
        r = self._for_date(rows, when)
        if r is None:
            return None
        return {"release": r["release"], "categories": json.loads(r["categories"]), "information": r["information"],
                "instructions": r["instructions"], "correct_use": r["correct_use"],
                "incorrect_use": r["incorrect_use"], "resources": r["resources"]}

    def pos_details(self, code: str, when: date | str | None = None) -> dict | None:
        rows = self._rows(
            "SELECT p.*, r.name AS release, r.effective_from AS release_effective FROM pos_details p "
            "JOIN releases r ON r.id=p.release_id WHERE p.code=? ORDER BY r.effective_from, r.id",
            (normalize(code, "pos"),))
        r = self._for_date(rows, when)
        if r is None:
            return None
        return {"release": r["release"], "setting": r["setting"], "description": r["description"]}

    def cpt_descriptors(self, code: str, when: date | str | None = None) -> dict:
        """The licensee's CPT descriptors of a code or CPT modifier, each kind from the newest CPT year
        in effect by the date (else the earliest held): {} when no licensed data was imported."""
        rows = self._rows(
            "SELECT c.kind, c.seq, c.text, c.concept_id, c.descriptor_id, r.name AS release, "
            "r.effective_from AS release_effective FROM cpt_descriptors c JOIN releases r ON r.id=c.release_id "
            "WHERE c.code=? ORDER BY r.effective_from, r.id, c.seq", (normalize(code, "cpt"),))
        by_kind: dict[str, list[dict]] = {}
        for r in rows:
            by_kind.setdefault(r["kind"], []).append(r)
        out: dict = {}
        for kind, krows in by_kind.items():
            pick = self._for_date(krows, when)
            same = [r for r in krows if r["release"] == pick["release"]]
            if kind == "clinician":
                out[kind] = [{"id": r["descriptor_id"], "text": r["text"]} for r in same]
            else:
                out[kind] = pick["text"]
            if pick.get("concept_id") and "concept_id" not in out:
                out["concept_id"] = pick["concept_id"]
        return out


    # --- guideline and policy texts (issue 6): medcode.codebook.references ----------------------
    # Sources: "icd10cm-guidelines", "ncci-policy-manual" (refs "I", "I.E"), "cms-claims-processing-ch12"
    # and the other CMS manual chapters (refs "30.6.6"), "icd10pcs-guidelines" (refs "B3.1a"). Each
    # section: source, ref (URL-safe), title, parent, page, text (paragraphs split by blank lines),
    # release (the citation's source name, "NCCI Policy Manual 2026") and label ("Chapter I, E").
    def reference_sources(self):
        """Every guideline / policy text held: [ReferenceSource(source, name, effective_from, sections)]."""
        from . import references

        return references.sources(self.db)

    def reference_sections(self, source: str):
        """All sections of one text, in printed order ([] when the book does not hold it)."""
        from . import references

        return references.sections(self.db, source)

    def reference_section(self, source: str, ref: str):
        """One section by any common spelling of its ref ("Chapter I, E", "I.E", "§ 30.6.6"), or None."""
        from . import references

        return references.section(self.db, source, ref)

    def reference_children(self, source: str, ref: str):
        from . import references

        return references.children(self.db, source, ref)

    def reference_passages(self, query, sources: list[str] | None = None, limit: int = 10):
        """Passages ranked by bm25 for the query's words: [Passage(source, ref, title, text, release, label,
        score)], best first; `sources` narrows to some texts."""
        from . import references

        return references.passages(self.db, query, sources, limit)

    # --- NCCI edits (PTP, MUE, add-on codes) and the PFS RVU / GPCI files (issue 5) ------------
    # Each official file is a release; its setting is the release's system (ncci-practitioner,
    # ncci-hospital, ncci-dme; ncci for add-on edits; pfs, pfs-qpp). A date of service picks the set
    # of files of that setting in effect (a CMS release in parts, PTP f1-f4, is one set). PTP and
    # add-on rows carry their own effective and deletion dates: a date before the first set held uses
    # the first set's history. MUE tables carry none: no table before the first one held. A PFS file
    # applies within its calendar year only. Dates in these tables are INTEGER YYYYMMDD.
    # CPT codes are known here by number only (the RVU file's codes and status, the NCCI tables);
    # no CPT descriptor is stored: see cms_listed().
    @cached_property
    def _edit_sets(self) -> dict[tuple[str, str], list[EditSet]]:
        groups: dict[tuple[str, str], dict[date, list[Release]]] = {}
        for r in self._releases.values():
            if r.kind in _EDIT_KINDS:
                groups.setdefault((r.kind, r.system), {}).setdefault(r.effective_from, []).append(r)
        out: dict[tuple[str, str], list[EditSet]] = {}
        for key, by_start in groups.items():
            starts = sorted(by_start)
            sets = []
            for i, start in enumerate(starts):
                end = starts[i + 1] - timedelta(days=1) if i + 1 < len(starts) else None
                if key[0] in ("pfs_rvu", "pfs_gpci"):
                    end = min(end or date(start.year, 12, 31), date(start.year, 12, 31))
                rels = sorted(by_start[start], key=lambda r: r.id)
                sets.append(EditSet(key[0], key[1], start, end, tuple(r.id for r in rels),
                                    tuple(r.name for r in rels)))
            out[key] = sets
        return out

    def _edit_set(self, kind: str, system: str, d: date, history: bool) -> EditSet | None:
        """The set of `kind` files of `system` in effect on `d`; with `history`, the first set for an earlier date."""
        sets = self._edit_sets.get((kind, system))
        if not sets:
            return None
        for s in reversed(sets):
            if s.start <= d:
                return s if s.end is None or d <= s.end else None
        return sets[0] if history else None

    @staticmethod
    def _setting(setting: str) -> str:
        from .sources.ncci_ptp import setting_name

        try:
            return setting_name(setting)
        except ValueError as exc:
            raise CodebookError(str(exc)) from None

    @staticmethod
    def _hcpcs(code: str) -> str:
        return normalize(code, "hcpcs")

    def edit_sets(self, kind: str | None = None) -> list[EditSet]:
        """Every NCCI / PFS file set held, oldest first (what the edits and payments rest on)."""
        return sorted((s for sets in self._edit_sets.values() for s in sets if kind is None or s.kind == kind),
                      key=lambda s: (s.kind, s.system, s.start))

    # PTP
    _PTP_SELECT = ("SELECT e.column1, e.column2, e.effective, e.deletion, e.modifier, e.prior_1996, r.text, "
                   "e.release_id FROM ptp_edits e JOIN ptp_rationales r ON r.id=e.rationale_id ")

    def _ptp_set(self, setting: str, when) -> tuple[str, date, EditSet | None]:
        setting = self._setting(setting)
        if setting == "dme":
            raise CodebookError("NCCI PTP edits are published for practitioners and outpatient hospitals, not DME")
        d = parse_date(when)
        return setting, d, self._edit_set("ncci_ptp", f"ncci-{setting}", d, history=True)

    def _ptp(self, setting: str, row) -> PtpEdit:
        from .sources.ncci_ptp import ymd

        return PtpEdit(setting, row[0], row[1], ymd(row[2]), ymd(row[3]), row[4], bool(row[5]), row[6],
                       self._releases[row[7]].name)

    def ptp_edit(self, column1: str, column2: str, setting: str = "practitioner",
                 when: date | str | None = None) -> PtpEdit | None:
        """The PTP edit with `column1` as column 1 and `column2` as column 2 in effect on the date (the
        effective date through the deletion date), whatever its modifier indicator; None when none applies."""
        setting, d, s = self._ptp_set(setting, when)
        if s is None:
            return None
        day = _ymd(d)
        row = self.db.execute(
            self._PTP_SELECT + f"WHERE e.release_id IN ({','.join('?' * len(s.release_ids))}) AND e.column1=? "
            "AND e.column2=? AND e.effective<=? AND (e.deletion IS NULL OR e.deletion>=?) "
            "ORDER BY e.effective DESC LIMIT 1",
            (*s.release_ids, self._hcpcs(column1), self._hcpcs(column2), day, day)).fetchone()
        return self._ptp(setting, row) if row else None

    def ptp_pairs(self, code: str, setting: str = "practitioner", when: date | str | None = None,
                  active: bool = True, limit: int | None = None) -> dict[str, list[PtpEdit]]:
        """The PTP edits naming a code: {"column1": edits where it is column 1, "column2": where it is
        column 2}, in effect on the date (or, with active=False, every edit of the set, deleted ones too);
        with `limit`, the first that many of each, by the other code (ptp_counts gives the totals)."""
        setting, d, s = self._ptp_set(setting, when)
        out: dict[str, list[PtpEdit]] = {"column1": [], "column2": []}
        if s is None:
            return out
        key, day, ids = self._hcpcs(code), _ymd(d), s.release_ids
        when_sql = " AND e.effective<=? AND (e.deletion IS NULL OR e.deletion>=?)" if active else ""
        for col, other in (("column1", "column2"), ("column2", "column1")):
            rows = self.db.execute(
                self._PTP_SELECT + f"WHERE e.release_id IN ({','.join('?' * len(ids))}) AND e.{col}=?{when_sql} "
                f"ORDER BY e.{other}, e.effective" + (" LIMIT ?" if limit is not None else ""),
                (*ids, key, *((day, day) if active else ()), *((limit,) if limit is not None else ()))).fetchall()
            out[col] = [self._ptp(setting, r) for r in rows]
        return out

    def ptp_counts(self, code: str, setting: str = "practitioner", when: date | str | None = None) -> dict[str, int]:
        """How many PTP edits in effect on the date name a code as column 1 and as column 2."""
        setting, d, s = self._ptp_set(setting, when)
        if s is None:
            return {"column1": 0, "column2": 0}
        key, day, ids = self._hcpcs(code), _ymd(d), s.release_ids
        return {col: self.db.execute(
            f"SELECT count(*) FROM ptp_edits WHERE release_id IN ({','.join('?' * len(ids))}) AND {col}=? "
            "AND effective<=? AND (deletion IS NULL OR deletion>=?)", (*ids, key, day, day)).fetchone()[0]
            for col in ("column1", "column2")}

    def ptp_edits_among(self, codes, setting: str = "practitioner", when: date | str | None = None) -> list[PtpEdit]:
        """Every PTP edit in effect on the date whose column 1 and column 2 codes are both among `codes`
        (a claim's lines): one indexed query, for the edit checker."""
        setting, d, s = self._ptp_set(setting, when)
        keys = sorted({self._hcpcs(c) for c in codes if c})
        if s is None or len(keys) < 2:
            return []
        day, ids, marks = _ymd(d), s.release_ids, ",".join("?" * len(keys))
        rows = self.db.execute(
            self._PTP_SELECT + f"WHERE e.release_id IN ({','.join('?' * len(ids))}) AND e.column1 IN ({marks}) "
            f"AND e.column2 IN ({marks}) AND e.effective<=? AND (e.deletion IS NULL OR e.deletion>=?) "
            "ORDER BY e.column1, e.column2", (*ids, *keys, *keys, day, day)).fetchall()
        return [self._ptp(setting, r) for r in rows]

    # MUE
    def mue(self, code: str, setting: str = "practitioner", when: date | str | None = None) -> Mue | None:
        """The MUE of a code in the table of that setting in effect on the date; None when the table has no
        row for it or no table of the setting is in effect then."""
        setting = self._setting(setting)
        s = self._edit_set("ncci_mue", f"ncci-{setting}", parse_date(when), history=False)
        if s is None:
            return None
        row = self.db.execute(
            f"SELECT code, mue, mai, rationale, release_id FROM mue_edits WHERE release_id IN "
            f"({','.join('?' * len(s.release_ids))}) AND code=? ORDER BY release_id DESC LIMIT 1",
            (*s.release_ids, self._hcpcs(code))).fetchone()
        if row is None:
            return None
        from .sources.ncci_mue import MAI_LABELS

        return Mue(setting, row[0], row[1], row[2], MAI_LABELS[row[2]], row[3], s.start, s.end,
                   self._releases[row[4]].name)

    # add-on codes
    def _aoc(self, where: str, code: str, when) -> list[AddonEdit]:
        from .sources.ncci_ptp import ymd

        d = parse_date(when)
        s = self._edit_set("ncci_aoc", "ncci", d, history=True)
        if s is None:
            return []
        day = _ymd(d)
        rows = self.db.execute(
            "SELECT addon, primary_code, effective, deletion, aoc_type, addon_deletion, primary_deletion, note, "
            f"release_id FROM aoc_edits WHERE release_id IN ({','.join('?' * len(s.release_ids))}) AND {where}=? "
            "AND effective<=? AND (deletion IS NULL OR deletion>=?) ORDER BY addon, primary_code",
            (*s.release_ids, self._hcpcs(code), day, day)).fetchall()
        return [AddonEdit(r[0], None if r[1] == "CCCCC" else r[1], r[1] == "CCCCC", r[4], ymd(r[2]), ymd(r[3]),
                          ymd(r[5]), ymd(r[6]), r[7], self._releases[r[8]].name) for r in rows]

    def addon_primaries(self, addon: str, when: date | str | None = None) -> list[AddonEdit]:
        """The add-on code edits of an add-on code in effect on the date: its primary codes and AOC type
        (type 2 edits name no primary: contractor_defined). Empty when the code is not an add-on code."""
        return self._aoc("addon", addon, when)

    def addons_for(self, primary: str, when: date | str | None = None) -> list[AddonEdit]:
        """The add-on code edits in effect on the date that list `primary` as a primary code."""
        return self._aoc("primary_code", primary, when)

    # PFS relative values, GPCIs, payment
    _RVU_COLS = ("code, modifier, description, status, not_used_for_medicare, work, pe_nonfacility, pe_nonfacility_na, "
                 "pe_facility, pe_facility_na, mp, total_nonfacility, total_facility, pctc, global_days, preop, "
                 "intraop, postop, multiple_procedure, bilateral, assistant, co_surgeons, team_surgery, pricing, "
                 "endoscopic_base, conversion_factor, supervision, calculation_flag, imaging_family, "
                 "opps_pe_nonfacility, opps_pe_facility, opps_mp, release_id")

    def _rvu(self, row, s: EditSet) -> Rvu:
        v = list(row)
        for i in (4, 7, 9):
            v[i] = bool(v[i])
        return Rvu(*v[:-1], self._releases[v[-1]].name, s.start, s.end)

    def rvu(self, code: str, modifier: str | None = None, when: date | str | None = None,
            qpp: bool = False) -> Rvu | None:
        """The PFS relative value record of a code (and modifier: None or '' for the global service, 26, TC,
        53) in the file in effect on the date; None when the file has none or no PFS file covers the date.
        CPT rows carry their numbers and status but never a description. `qpp` reads the QPP file."""
        s = self._edit_set("pfs_rvu", "pfs-qpp" if qpp else "pfs", parse_date(when), history=False)
        if s is None:
            return None
        row = self.db.execute(
            f"SELECT {self._RVU_COLS} FROM pfs_rvu WHERE release_id IN ({','.join('?' * len(s.release_ids))}) "
            "AND code=? AND modifier=? ORDER BY release_id DESC LIMIT 1",
            (*s.release_ids, self._hcpcs(code), (modifier or "").strip().upper())).fetchone()
        return self._rvu(row, s) if row else None

    def rvus(self, code: str, when: date | str | None = None, qpp: bool = False) -> list[Rvu]:
        """Every relative value record of a code on the date: the global service, then 26, TC, 53."""
        s = self._edit_set("pfs_rvu", "pfs-qpp" if qpp else "pfs", parse_date(when), history=False)
        if s is None:
            return []
        rows = self.db.execute(
            f"SELECT {self._RVU_COLS} FROM pfs_rvu WHERE release_id IN ({','.join('?' * len(s.release_ids))}) "
            "AND code=? ORDER BY modifier", (*s.release_ids, self._hcpcs(code))).fetchall()
        return [self._rvu(r, s) for r in rows]

    _GPCI_COLS = "mac, locality, state, name, work, work_floor, floor_through, pe, mp, footnote, release_id"

    def _gpci(self, row, s: EditSet) -> Gpci:
        from .sources.ncci_ptp import ymd

        return Gpci(row[0], row[1], row[2], row[3], row[4], row[5], ymd(row[6]), row[7], row[8], row[9],
                    self._releases[row[10]].name, s.start, s.end)

    @staticmethod
    def _locality_key(locality) -> tuple[str, str]:
        if isinstance(locality, (tuple, list)) and len(locality) == 2:
            return str(locality[0]).strip(), str(locality[1]).strip()
        text = str(locality or "").strip()
        for sep in ("-", "/", " ", ":"):
            if sep in text:
                mac, _, loc = text.partition(sep)
                return mac.strip(), loc.strip()
        if len(text) == 7 and text.isdigit():
            return text[:5], text[5:]
        raise CodebookError(f"locality {locality!r}: give the MAC and locality number, e.g. 01112-05")

    def gpci(self, locality, when: date | str | None = None) -> Gpci | None:
        """The GPCIs of a Medicare locality ("MAC-locality", e.g. "01112-05", or (mac, locality)) in the
        GPCI file in effect on the date."""
        mac, loc = self._locality_key(locality)
        s = self._edit_set("pfs_gpci", "pfs", parse_date(when), history=False)
        if s is None:
            return None
        row = self.db.execute(
            f"SELECT {self._GPCI_COLS} FROM pfs_gpci WHERE release_id IN ({','.join('?' * len(s.release_ids))}) "
            "AND mac=? AND locality=? ORDER BY release_id DESC LIMIT 1", (*s.release_ids, mac, loc)).fetchone()
        return self._gpci(row, s) if row else None

    def localities(self, when: date | str | None = None) -> list[Gpci]:
        s = self._edit_set("pfs_gpci", "pfs", parse_date(when), history=False)
        if s is None:
            return []
        rows = self.db.execute(
            f"SELECT {self._GPCI_COLS} FROM pfs_gpci WHERE release_id IN ({','.join('?' * len(s.release_ids))}) "
            "ORDER BY state, mac, locality", s.release_ids).fetchall()
        return [self._gpci(r, s) for r in rows]

    def payment(self, code: str, locality, when: date | str | None = None, facility: bool = False,
                modifier: str | None = None, qpp: bool = False) -> Payment:
        """The Medicare PFS payment amount for a code in a locality on the date, facility or non-facility:
        [(work RVU x work GPCI) + (PE RVU x PE GPCI) + (MP RVU x MP GPCI)] x conversion factor. `amount`
        is None, with the reason, when the status is not paid on the fee schedule (only A, R and T are),
        when the setting is marked NA, or when no RVU or GPCI file covers the date."""
        from .sources.pfs_rvu import PAYABLE_STATUS, payment_amount

        d = parse_date(when)
        key, mod = self._hcpcs(code), (modifier or "").strip().upper()
        rvu = self.rvu(key, mod, d, qpp=qpp)
        g = self.gpci(locality, d)
        base = dict(code=key, modifier=mod, locality=f"{self._locality_key(locality)[0]}-"
                    f"{self._locality_key(locality)[1]}", facility=facility, date_of_service=d)
        if rvu is None:
            return Payment(**base, amount=None, reason=f"no PFS relative values for {key}{' ' + mod if mod else ''} "
                                                        f"on {d.isoformat()}")
        if g is None:
            return Payment(**base, amount=None, reason=f"no GPCIs for locality {base['locality']} on {d.isoformat()}",
                           status=rvu.status, rvu_release=rvu.release)
        pe = rvu.pe_facility if facility else rvu.pe_nonfacility
        work_gpci = g.work_on(d)
        parts = dict(status=rvu.status, work_rvu=rvu.work, pe_rvu=pe, mp_rvu=rvu.mp, work_gpci=work_gpci,
                     pe_gpci=g.pe, mp_gpci=g.mp, conversion_factor=rvu.conversion_factor, rvu_release=rvu.release,
                     gpci_release=g.release)
        if rvu.status not in PAYABLE_STATUS:
            return Payment(**base, **parts, amount=None,
                           reason=f"status {rvu.status}: not paid on the physician fee schedule")
        if (rvu.pe_facility_na if facility else rvu.pe_nonfacility_na):
            return Payment(**base, **parts, amount=None,
                           reason=f"NA: rarely or never performed in the {'facility' if facility else 'non-facility'} "
                                  "setting")
        amount = payment_amount(rvu.work, pe, rvu.mp, work_gpci, g.pe, g.mp, rvu.conversion_factor)
        return Payment(**base, **parts, amount=amount, reason=None)

    # which CMS files know a code
    def cms_listed(self, code: str, when: date | str | None = None) -> list[str]:
        """The CMS files in effect on the date that list a CPT or HCPCS code: 'pfs' (an RVU record, any
        status), 'mue:<setting>', 'ptp:<setting>' (an edit in effect names it), 'aoc'. This is how the book
        knows which CPT codes exist on a date without licensed CPT data: by number, never by descriptor."""
        return [label for label, _ in self._cms_listing(self._hcpcs(code), parse_date(when))]

    def _cms_listing(self, key: str, d: date) -> list[tuple[str, EditSet]]:
        day = _ymd(d)
        found: list[tuple[str, EditSet]] = []
        s = self._edit_set("pfs_rvu", "pfs", d, history=False)
        if s and self.db.execute(f"SELECT 1 FROM pfs_rvu WHERE release_id IN ({','.join('?' * len(s.release_ids))}) "
                                 "AND code=? LIMIT 1", (*s.release_ids, key)).fetchone():
            found.append(("pfs", s))
        for setting in ("practitioner", "hospital", "dme"):
            s = self._edit_set("ncci_mue", f"ncci-{setting}", d, history=False)
            if s and self.db.execute(f"SELECT 1 FROM mue_edits WHERE release_id IN "
                                     f"({','.join('?' * len(s.release_ids))}) AND code=?",
                                     (*s.release_ids, key)).fetchone():
                found.append((f"mue:{setting}", s))
        for setting in ("practitioner", "hospital"):
            s = self._edit_set("ncci_ptp", f"ncci-{setting}", d, history=True)
            if s is None:
                continue
            marks = ",".join("?" * len(s.release_ids))
            for col in ("column1", "column2"):
                if self.db.execute(f"SELECT 1 FROM ptp_edits WHERE release_id IN ({marks}) AND {col}=? AND "
                                   "effective<=? AND (deletion IS NULL OR deletion>=?) LIMIT 1",
                                   (*s.release_ids, key, day, day)).fetchone():
                    found.append((f"ptp:{setting}", s))
                    break
        s = self._edit_set("ncci_aoc", "ncci", d, history=True)
        if s:
            marks = ",".join("?" * len(s.release_ids))
            for col in ("addon", "primary_code"):
                if self.db.execute(f"SELECT 1 FROM aoc_edits WHERE release_id IN ({marks}) AND {col}=? AND "
                                   "effective<=? AND (deletion IS NULL OR deletion>=?) LIMIT 1",
                                   (*s.release_ids, key, day, day)).fetchone():
                    found.append(("aoc", s))
                    break
        return found

    def _known_by_number(self, system: str, key: str, day: str) -> Code | None:
        """A CPT code or CPT modifier the book holds no licensed text for, known by number only: a CPT
        code while a CMS file in effect on the date lists it (cms_listed), a CPT modifier that the CMS
        publications name (CPT_MODIFIERS_BY_NUMBER) while any NCCI / PFS file is held. Its title is
        empty: the descriptor is AMA text, shown only from a licensee's import."""
        d = date.fromisoformat(day)
        if system == CPT:
            if not _CPT_NUMBER.match(key):
                return None
            listing = self._cms_listing(key, d)
            if not listing:
                return None
            sets = [s for _, s in listing]
            start = min(s.start for s in sets)
            end = None if any(s.end is None for s in sets) else max(s.end for s in sets)
            return Code(CPT, key, "", "code", None, True, start, end, "active", sets[0].releases[0])
        if key not in CPT_MODIFIERS_BY_NUMBER or not self._edit_sets:
            return None
        start = min(s.start for sets in self._edit_sets.values() for s in sets)
        if d < start:
            return None
        return Code(MODIFIER, key, "", "cpt_modifier", None, True, start, None, "active",
                    "CPT modifier named in CMS publications (by number only)")


# --- records of the NCCI / PFS section (issue 5) ----------------------------------------------
_EDIT_KINDS = frozenset({"ncci_ptp", "ncci_mue", "ncci_aoc", "pfs_rvu", "pfs_gpci"})
MODIFIER_INDICATORS = {0: "not allowed", 1: "allowed", 9: "not applicable"}

# CPT numbers: Category I five digits, Category II/III and PLA four digits and F, T, U (or M).
_CPT_NUMBER = re.compile(r"^[0-9]{4}[0-9A-Z]$")

# CPT (Level I) modifiers by number, with the CMS publication that names each: their descriptors are AMA
# text, so without a licensee's MODUL file these are all the book says about them.
_NCCI_I_E = "NCCI Policy Manual, chapter I, section E (modifiers and modifier indicators)"
_PFS_LAYOUT = "PFS relative value file record layout"
_MCPM_12 = "Medicare Claims Processing Manual, chapter 12"
CPT_MODIFIERS_BY_NUMBER = {
    **{m: _NCCI_I_E for m in ("22", "24", "25", "27", "57", "58", "59", "76", "77", "78", "79", "91")},
    **{m: _PFS_LAYOUT for m in ("26", "50", "51", "53", "62", "66")},
    **{m: _MCPM_12 for m in ("23", "32", "47", "52", "54", "55", "56", "80", "82")},
}
# The NCCI PTP-associated modifiers (NCCI Policy Manual chapter I, section E): under the right clinical
# circumstances they bypass a PTP edit whose modifier indicator is 1.
NCCI_PTP_MODIFIERS = frozenset(
    ["E1", "E2", "E3", "E4", "FA", *(f"F{i}" for i in range(1, 10)), "TA", *(f"T{i}" for i in range(1, 10)),
     "LT", "RT", "LC", "LD", "RC", "LM", "RI", "24", "25", "57", "58", "78", "79", "27", "59", "91",
     "XE", "XS", "XP", "XU"])


def _ymd(d: date) -> int:
    return d.year * 10000 + d.month * 100 + d.day


@dataclass(frozen=True, slots=True)
class EditSet:
    """The files of one kind and setting that take effect on one date (a CMS release in parts is one set)."""

    kind: str  # ncci_ptp, ncci_mue, ncci_aoc, pfs_rvu, pfs_gpci
    system: str  # ncci-practitioner, ncci-hospital, ncci-dme, ncci, pfs, pfs-qpp
    start: date
    end: date | None  # the day before the next set of its kind and setting; None: in effect until replaced
    release_ids: tuple[int, ...]
    releases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PtpEdit:
    setting: str  # practitioner | hospital
    column1: str
    column2: str
    effective: date
    deletion: date | None  # the last day the edit applies
    modifier: int  # 0 not allowed, 1 allowed (with an NCCI-associated modifier), 9 not applicable
    prior_1996: bool
    rationale: str
    release: str

    def active_on(self, when: date) -> bool:
        return self.effective <= when and (self.deletion is None or when <= self.deletion)

    @property
    def modifier_meaning(self) -> str:
        return MODIFIER_INDICATORS[self.modifier]


@dataclass(frozen=True, slots=True)
class Mue:
    setting: str  # practitioner | hospital | dme
    code: str
    value: int  # units of service
    mai: int  # 1 line edit, 2 date of service edit: policy, 3 date of service edit: clinical
    mai_label: str
    rationale: str
    effective_from: date  # the table's dates
    effective_to: date | None
    release: str


@dataclass(frozen=True, slots=True)
class AddonEdit:
    addon: str
    primary: str | None  # None when the contractor defines the primary codes (CCCCC in the file)
    contractor_defined: bool
    aoc_type: int  # 1, 2, 3
    effective: date
    deletion: date | None
    addon_deletion: date | None
    primary_deletion: date | None
    note: str | None
    release: str


@dataclass(frozen=True, slots=True)
class Rvu:
    code: str
    modifier: str  # '' for the global service
    description: str | None  # HCPCS Level II only: never a CPT or CDT descriptor
    status: str
    not_used_for_medicare: bool
    work: float
    pe_nonfacility: float
    pe_nonfacility_na: bool
    pe_facility: float
    pe_facility_na: bool
    mp: float
    total_nonfacility: float
    total_facility: float
    pctc: str
    global_days: str
    preop: float
    intraop: float
    postop: float
    multiple_procedure: str
    bilateral: str
    assistant: str
    co_surgeons: str
    team_surgery: str
    pricing: str
    endoscopic_base: str | None
    conversion_factor: float
    supervision: str
    calculation_flag: str
    imaging_family: str
    opps_pe_nonfacility: float
    opps_pe_facility: float
    opps_mp: float
    release: str
    effective_from: date
    effective_to: date | None


@dataclass(frozen=True, slots=True)
class Gpci:
    mac: str
    locality: str
    state: str
    name: str
    work: float  # without the 1.0 floor when the file gives both
    work_floor: float | None  # with the 1.0 floor
    floor_through: date | None  # the floor applies through this date (the file's note)
    pe: float
    mp: float
    footnote: str | None
    release: str
    effective_from: date
    effective_to: date | None

    @property
    def id(self) -> str:
        return f"{self.mac}-{self.locality}"

    def work_on(self, when: date) -> float:
        """The work GPCI for a date of service: with the 1.0 floor through the date the file's note gives,
        without it after; the floored value when the file gives only that."""
        if self.work_floor is None:
            return self.work
        if self.floor_through is None or when <= self.floor_through:
            return self.work_floor
        return self.work


@dataclass(frozen=True, slots=True)
class Payment:
    code: str
    modifier: str
    locality: str
    facility: bool
    date_of_service: date
    amount: Decimal | None
    reason: str | None  # why there is no amount
    status: str | None = None
    work_rvu: float | None = None
    pe_rvu: float | None = None
    mp_rvu: float | None = None
    work_gpci: float | None = None
    pe_gpci: float | None = None
    mp_gpci: float | None = None
    conversion_factor: float | None = None
    rvu_release: str | None = None
    gpci_release: str | None = None


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
