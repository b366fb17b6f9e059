"""What importers write through while a codebook is being built."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from tqdm import tqdm


@dataclass
class SourceFile:
    """A release file the build reads: packaged, or copied in by `medcode data import`."""

    kind: str
    path: Path
    sha256: str = ""
    origin: str = "imported"  # packaged | imported
    options: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name


def user_file_name(path: Path | str) -> str:
    """The name the user gave a file: `medcode data import` keeps copies as `<12 hex of sha256>-<name>`,
    and zip members are sniffed as `<zip>__<member>`."""
    name = Path(path).name
    head, sep, rest = name.partition("-")
    if sep and len(head) == 12 and all(c in "0123456789abcdef" for c in head):
        name = rest
    return name.split("__")[-1]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class BuildContext:
    """A connection to the temp book plus helpers every importer needs."""

    def __init__(self, conn: sqlite3.Connection, progress: bool = True):
        self.conn = conn
        self.show_progress = progress and sys.stderr.isatty()
        self.log: list[str] = []

    def progress(self, iterable, total=None, desc=""):
        return tqdm(iterable, total=total, desc=desc, unit=" rows", disable=not self.show_progress,
                    leave=False, file=sys.stderr, mininterval=0.5)

    def add_release(self, *, system: str, name: str, kind: str, effective_from: date,
                    effective_to: date | None, src: SourceFile, counts: dict | None = None) -> int:
        cur = self.conn.execute(
            "INSERT INTO releases(system,name,kind,effective_from,effective_to,source,sha256,imported_at,counts)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (system, name, kind, effective_from.isoformat(),
             effective_to.isoformat() if effective_to else None,
             src.name, src.sha256 or sha256_of(src.path),
             datetime.now(timezone.utc).isoformat(timespec="seconds"),
             json.dumps(counts or {})),
        )
        return cur.lastrowid

    def set_counts(self, release_id: int, counts: dict) -> None:
        self.conn.execute("UPDATE releases SET counts=? WHERE id=?", (json.dumps(counts), release_id))

    def insert(self, table: str, columns: tuple[str, ...], rows) -> int:
        sql = f"INSERT INTO {table}({','.join(columns)}) VALUES ({','.join('?' * len(columns))})"
        cur = self.conn.executemany(sql, rows)
        return cur.rowcount

    def note(self, message: str) -> None:
        self.log.append(message)
