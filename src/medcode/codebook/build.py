"""Release files -> codebook.sqlite, atomically: build a temp file, check it, then rename.

A failed or interrupted build leaves the serving book untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from . import sources as source_modules
from .errors import CodebookError, SourceError
from ..search.index import build_search_index
from .passages import build_reference_index
from .schema import DDL, INDEXES, SCHEMA_VERSION
from .writer import BuildContext, SourceFile, sha256_of, user_file_name

MANIFEST = "manifest.json"


@dataclass
class BuildReport:
    path: Path
    seconds: float
    size: int
    releases: list[dict] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


# --- what the build reads -------------------------------------------------------------------

def packaged_sources() -> list[SourceFile]:
    """Defaults shipped by PyPI packages: the ICD-10-CM tabular and the GEMs."""
    found = []
    for mod in source_modules.modules():
        default = getattr(mod, "package_default", None)
        if default:
            src = default()
            if src is not None:
                found.append(src)
    return found


def read_manifest(folder: Path) -> list[SourceFile]:
    path = folder / MANIFEST
    if not path.exists():
        return []
    try:
        entries = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CodebookError(f"{path}: damaged import manifest ({exc}); re-import your files") from None
    return [SourceFile(kind=e["kind"], path=folder / e["file"], sha256=e["sha256"], origin="imported",
                       options=e.get("options", {})) for e in entries]


def write_manifest(folder: Path, entries: list[SourceFile]) -> None:
    data = [{"kind": s.kind, "file": s.path.name, "sha256": s.sha256, "options": s.options} for s in entries]
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, folder / MANIFEST)


def all_sources(folder: Path | None) -> list[SourceFile]:
    """Packaged defaults plus imported files; an imported file replaces a packaged one of its kind
    only when it is the same file (by checksum), so both can coexist as separate releases."""
    imported = read_manifest(folder) if folder else []
    packaged = packaged_sources()
    seen = {s.sha256 for s in imported}
    for src in packaged:
        src.sha256 = src.sha256 or sha256_of(src.path)
    return [s for s in packaged if s.sha256 not in seen] + imported


# --- the build -------------------------------------------------------------------------------

def _verify(src: SourceFile) -> None:
    if not src.path.exists():
        raise SourceError(src.path, "file is missing; re-import it with `medcode data import`")
    if src.sha256 and src.origin == "imported" and sha256_of(src.path) != src.sha256:
        raise SourceError(src.path, "checksum differs from the one recorded at import; re-import it")


def inputs_fingerprint(srcs: list[SourceFile]) -> str:
    """What a build depends on: each source file (by checksum and options) and the code that reads them."""
    h = hashlib.sha256(SCHEMA_VERSION.encode())
    package = Path(__file__).resolve().parent.parent
    for sub in ("codebook", "search"):
        for f in sorted((package / sub).rglob("*")):
            if f.suffix in (".py", ".tsv"):
                h.update(f.relative_to(package).as_posix().encode() + b"\0" + f.read_bytes())
    for src in sorted(srcs, key=lambda s: (s.kind, s.sha256 or sha256_of(s.path))):
        h.update(json.dumps([src.kind, src.sha256 or sha256_of(src.path), src.options], sort_keys=True,
                            default=str).encode())
    return h.hexdigest()


def is_stale(dest: Path, srcs: list[SourceFile]) -> bool:
    """True unless `dest` is a readable book built from exactly these inputs by this code."""
    try:
        conn = sqlite3.connect(f"file:{Path(dest).resolve()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key='inputs'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return True
    return row is None or row[0] != inputs_fingerprint(srcs)


def _close_releases(conn: sqlite3.Connection) -> None:
    """A release is in effect until the next release of its system and family starts: code lists
    follow code lists (a tabular, then the next year's addenda), an index follows an index.
    A superseded release whose file states an earlier end (a fee schedule's calendar year) keeps it."""
    rows = conn.execute("SELECT id, system, effective_from, kind, effective_to FROM releases "
                        "ORDER BY effective_from, id").fetchall()
    by_system: dict[tuple, list] = {}
    for row in rows:
        family = "codes" if row[3] in source_modules.CODE_LIST_KINDS else row[3]
        by_system.setdefault((row[1], family), []).append(row)
    for rels in by_system.values():
        for cur, nxt in zip(rels, rels[1:]):
            if nxt[2] > cur[2]:
                end = (date.fromisoformat(nxt[2]) - timedelta(days=1)).isoformat()
                if cur[4] is None or end < cur[4]:
                    conn.execute("UPDATE releases SET effective_to=? WHERE id=?", (end, cur[0]))
        # the newest release stays in effect until a later one is imported (a year-bound fee schedule's
        # lookups check the year themselves)
        conn.execute("UPDATE releases SET effective_to=NULL WHERE id=?", (rels[-1][0],))


def _order(src: SourceFile) -> tuple:
    """Importer order, then release date, then the file's own name (imported copies carry a digest prefix)."""
    mod = source_modules.by_kind(src.kind)
    return (mod.ORDER, src.options.get("effective_from", ""), user_file_name(src.path))


def _remove_stale_temps(dest: Path) -> None:
    for tmp in dest.parent.glob(dest.name + ".tmp-*"):
        try:
            pid = int(tmp.name.rsplit("-", 1)[1])
        except ValueError:
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except PermissionError:
            pass


def build(dest: Path, srcs: list[SourceFile], progress: bool = True) -> BuildReport:
    """Build a complete book from `srcs` into `dest`; on any failure `dest` is left as it was."""
    started = time.perf_counter()
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(dest)
    tmp = dest.with_name(f"{dest.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    if not any(s.kind == "icd10cm_tabular" for s in srcs):
        raise CodebookError("no ICD-10-CM tabular available: install simple-icd-10-cm or import a tabular XML")
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY;"
                           "PRAGMA cache_size=-200000;")
        conn.executescript(DDL)
        conn.execute("BEGIN")
        ctx = BuildContext(conn, progress)
        for src in sorted(srcs, key=_order):
            _verify(src)
            mod = source_modules.by_kind(src.kind)
            counts = mod.load(ctx, src)
            ctx.note(f"{src.kind}: {src.path.name}: {counts}")
        _close_releases(conn)
        conn.executemany("INSERT INTO meta(key,value) VALUES (?,?)", [
            ("schema_version", SCHEMA_VERSION),
            ("built_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
            ("sources", json.dumps([{"kind": s.kind, "file": s.path.name, "origin": s.origin} for s in srcs])),
            ("inputs", inputs_fingerprint(srcs)),
        ])
        conn.execute("COMMIT")
        conn.executescript(INDEXES)
        ctx.note(f"search index: {build_search_index(conn)}")
        ctx.note(f"reference passages: {build_reference_index(conn)}")
        conn.execute("ANALYZE")
        problems = conn.execute("PRAGMA quick_check").fetchone()[0]
        if problems != "ok":
            raise CodebookError(f"built book failed its integrity check: {problems}")
        releases = [dict(zip(("system", "name", "effective_from", "effective_to", "source"), r)) for r in
                    conn.execute("SELECT system,name,effective_from,effective_to,source FROM releases ORDER BY id")]
        conn.close()
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, dest)
    except BaseException:
        try:
            conn.close()
        except Exception:
            pass
        tmp.unlink(missing_ok=True)
        raise
    return BuildReport(path=dest, seconds=time.perf_counter() - started, size=dest.stat().st_size,
                       releases=releases, log=ctx.log)
