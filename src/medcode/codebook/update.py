"""`medcode data update`: fetch the official releases the book lacks, check them, import them, rebuild.

What exists and where it is published is data (registry.toml); an operator's settings file changes an
address or adds a release. Downloads resume (HTTP Range) from `$MEDCODE_HOME/downloads`; every archive is
checked (expected members in their importer's layout, sane sizes, no paths outside the folder, no zip
bombs) before anything is imported; the import and the atomic rebuild are `imports.import_paths`, so the
serving codebook is only ever replaced by a complete new one. A failed release is reported with its
address and reason, and its good downloads are kept for the next run. Plain Python: no Django.
"""

from __future__ import annotations

import errno
import fnmatch
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tomllib
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Callable, Iterable
from urllib.parse import urlsplit

from .. import config
from . import sources as source_modules
from .build import packaged_sources, read_manifest
from .errors import CodebookError, SourceError
from .imports import MAX_MEMBER_BYTES, _safe_members, import_paths
from .writer import sha256_of, user_file_name

REGISTRY = Path(__file__).with_name("registry.toml")
LEDGER = "updates.json"  # in the sources folder, beside the import manifest
SYSTEMS = ("icd10cm", "icd10pcs", "hcpcs", "ncci", "pfs", "pos")
DEFAULT_YEARS = 3
DEFAULT_MAX_MB = 1024
MAX_EXPANDED_BYTES = 4 << 30  # all members of one archive together
CHUNK = 1 << 16
CONVERTERS = ("pdf-text",)
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
_SHA = re.compile(r"^[0-9a-f]{64}$")

OFFLINE_HELP = ("medcode serves the data it already holds (the packaged ICD-10-CM tabular and GEMs, and anything "
                "imported). To add the official files by hand, download them from CMS/CDC (`medcode data update "
                "--dry-run` lists the addresses) and run `medcode data import PATH` (files, folders or zips).")


class RegistryError(CodebookError):
    """The registry or an operator's settings file is not valid; the message names the file and entry."""


class UpdateBusy(CodebookError):
    """Another update holds the lock."""


class FetchError(CodebookError):
    """One release could not be fetched, checked or imported: which release, which address, why."""

    def __init__(self, release: str, url: str, why: str):
        self.release, self.url, self.why = release, url, why
        super().__init__(f"{release}: {url}: {why}")


# --- the registry ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Member:
    pattern: str
    importer: str
    layout: str
    system: str
    kinds: tuple[str, ...]
    effective_from: date | None = None
    optional: bool = False
    convert: str | None = None

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name.lower(), self.pattern.lower())


@dataclass(frozen=True)
class RemoteFile:
    url: str
    name: str
    members: tuple[Member, ...]
    max_bytes: int
    sha256: str = ""
    format: str = "zip"  # zip | file (the download is the member itself)


@dataclass
class Release:
    id: str
    series: str
    system: str
    title: str
    effective_from: date
    effective_to: date | None
    files: tuple[RemoteFile, ...]
    fetch: bool = True
    reason: str = ""
    cumulative: bool = False
    publisher: str = ""
    page: str = ""
    notes: str = ""
    defined_in: str = "packaged"

    def keys(self, member: Member) -> set[tuple[str, str, date]]:
        """How the built book records this member's release: (system, kind, effective from)."""
        start = member.effective_from or self.effective_from
        return {(member.system, kind, start) for kind in member.kinds}

    def summary(self) -> dict:
        return {"id": self.id, "system": self.system, "title": self.title, "effective_from": self.effective_from,
                "effective_to": self.effective_to, "page": self.page or None}


@dataclass
class Settings:
    years: int = DEFAULT_YEARS
    ahead_days: int = 0
    use_packaged: bool = True
    timeout: float = 60.0
    only: tuple[str, ...] = ()  # code sets or release ids an update fetches when not told otherwise


@dataclass
class Registry:
    releases: list[Release]
    settings: Settings
    files: list[str]

    def get(self, release_id: str) -> Release:
        for r in self.releases:
            if r.id == release_id:
                return r
        raise KeyError(release_id)


def settings_file() -> Path | None:
    """MEDCODE_SOURCES_FILE, else $MEDCODE_HOME/sources.toml when it exists."""
    env = os.environ.get("MEDCODE_SOURCES_FILE", "").strip()
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise RegistryError(f"MEDCODE_SOURCES_FILE={env}: no such file")
        return path
    path = config.home() / "sources.toml"
    return path if path.is_file() else None


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise RegistryError(f"{path}: cannot be read ({exc.strerror})") from None


class _Table:
    """Typed access to one TOML table; every complaint names the file and the entry."""

    def __init__(self, data, where: str, allowed: Iterable[str]):
        if not isinstance(data, dict):
            raise RegistryError(f"{where}: expected a table, got {type(data).__name__}")
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise RegistryError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))})")
        self.data, self.where = data, where

    def get(self, key: str, kind, default=..., check: Callable | None = None, hint: str = ""):
        if key not in self.data:
            if default is ...:
                raise RegistryError(f"{self.where}: '{key}' is required")
            return default
        value = self.data[key]
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is date and isinstance(value, datetime):
            ok = False
        if ok and check is not None:
            ok = check(value)
        if not ok:
            want = hint or {str: "a string", int: "a whole number", bool: "true or false", date: "a date (YYYY-MM-DD)",
                            list: "a list", float: "a number", dict: "a table"}.get(kind, kind.__name__)
            raise RegistryError(f"{self.where}: '{key}' must be {want}, got {value!r}")
        return value


def _url_ok(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _name_ok(value: str) -> bool:
    return bool(value) and value == PurePosixPath(value).name and value not in (".", "..") and "\\" not in value


def _importers() -> dict[str, object]:
    return {m.KIND: m for m in source_modules.modules()}


def _parse_member(raw, where: str) -> Member:
    t = _Table(raw, where, ("pattern", "importer", "layout", "system", "kind", "effective_from", "optional",
                            "convert"))
    importers = _importers()
    importer = t.get("importer", str)
    if importer not in importers:
        raise RegistryError(f"{where}: importer {importer!r} does not exist (known: {', '.join(sorted(importers))})")
    mod = importers[importer]
    kinds = t.get("kind", (str, list), default=mod.KIND)
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    if not kinds or not all(isinstance(k, str) and k for k in kinds):
        raise RegistryError(f"{where}: 'kind' must be a release kind or a list of them")
    convert = t.get("convert", str, default=None, check=lambda v: v in CONVERTERS,
                    hint=" or ".join(repr(c) for c in CONVERTERS))
    return Member(pattern=t.get("pattern", str, check=lambda v: bool(v.strip()), hint="a file name pattern"),
                  importer=importer, layout=t.get("layout", str, default=""),
                  system=t.get("system", str, default=mod.SYSTEM), kinds=kinds,
                  effective_from=t.get("effective_from", date, default=None),
                  optional=t.get("optional", bool, default=False), convert=convert)


def _parse_file(raw, where: str, fetch: bool) -> RemoteFile:
    t = _Table(raw, where, ("url", "name", "members", "max_mb", "sha256", "format"))
    url = t.get("url", str, check=_url_ok, hint="an http(s) address")
    name = t.get("name", str, default=PurePosixPath(urlsplit(url).path).name, check=_name_ok,
                 hint="a plain file name")
    if not _name_ok(name):
        raise RegistryError(f"{where}: the address {url} ends in no file name; give one with 'name'")
    members = t.get("members", list, default=[])
    if fetch and not members:
        raise RegistryError(f"{where}: 'members' must list at least one member medcode reads")
    max_mb = t.get("max_mb", (int, float), default=DEFAULT_MAX_MB, check=lambda v: v > 0, hint="a positive number")
    fmt = t.get("format", str, default="zip" if name.lower().endswith(".zip") else "file",
                check=lambda v: v in ("zip", "file"), hint="'zip' or 'file'")
    parsed = tuple(_parse_member(m, f"{where} member {i + 1}") for i, m in enumerate(members))
    if fmt == "file" and len(parsed) > 1:
        raise RegistryError(f"{where}: a download that is not an archive is one member, not {len(parsed)}")
    return RemoteFile(url=url, name=name, members=parsed, max_bytes=int(max_mb * 1024 * 1024),
                      sha256=t.get("sha256", str, default="", check=lambda v: bool(_SHA.match(v.lower())),
                                   hint="64 hexadecimal digits").lower(), format=fmt)


def _parse_release(raw, where: str, defined_in: str) -> Release:
    t = _Table(raw, where, ("id", "series", "system", "title", "effective_from", "effective_to", "file", "fetch",
                            "reason", "cumulative", "publisher", "page", "notes"))
    rid = t.get("id", str, check=lambda v: bool(_ID.match(v)), hint="lower-case letters, digits, '.', '_' or '-'")
    where = f"{where} ({rid})"
    t.where = where
    system = t.get("system", str, check=lambda v: v in SYSTEMS, hint=" or ".join(SYSTEMS))
    start = t.get("effective_from", date)
    end = t.get("effective_to", date, default=None, check=lambda v: v >= start,
                hint="a date on or after effective_from")
    fetch = t.get("fetch", bool, default=True)
    files = tuple(_parse_file(f, f"{where} file {i + 1}", fetch) for i, f in enumerate(t.get("file", list, default=[])))
    if fetch and not files:
        raise RegistryError(f"{where}: a release to fetch needs at least one [[release.file]]")
    reason = t.get("reason", str, default="")
    if not fetch and not reason:
        raise RegistryError(f"{where}: 'fetch = false' needs a 'reason' saying how to get the release")
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        raise RegistryError(f"{where}: two files are named alike ({', '.join(names)}); give them distinct 'name's")
    return Release(id=rid, series=t.get("series", str, default=rid), system=system, title=t.get("title", str),
                   effective_from=start, effective_to=end, files=files, fetch=fetch, reason=reason,
                   cumulative=t.get("cumulative", bool, default=False), publisher=t.get("publisher", str, default=""),
                   page=t.get("page", str, default=""), notes=t.get("notes", str, default=""), defined_in=defined_in)


def _parse_releases(doc: dict, path: Path, defined_in: str) -> list[Release]:
    raw = doc.get("release", [])
    if not isinstance(raw, list):
        raise RegistryError(f"{path}: 'release' must be an array of tables ([[release]])")
    out: list[Release] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        rel = _parse_release(entry, f"{path}: release {i + 1}", defined_in)
        if rel.id in seen:
            raise RegistryError(f"{path}: release id {rel.id!r} is listed twice")
        seen.add(rel.id)
        out.append(rel)
    return out


def _apply_addresses(releases: dict[str, Release], addresses, path: Path) -> None:
    t = _Table(addresses, f"{path}: [addresses]", addresses.keys() if isinstance(addresses, dict) else ())
    by_url = {f.url: (r, i) for r in releases.values() for i, f in enumerate(r.files)}
    for key in t.data:
        new = t.get(key, str, check=_url_ok, hint="an http(s) address")
        if key in releases:
            rel = releases[key]
            if len(rel.files) != 1:
                raise RegistryError(f"{path}: [addresses] {key!r}: that release has {len(rel.files)} files; "
                                    "name the file by its address instead")
            index = 0
        elif key in by_url:
            rel, index = by_url[key]
        else:
            raise RegistryError(f"{path}: [addresses] {key!r} is neither a release id nor an address in the registry")
        files = list(rel.files)
        old = files[index]
        files[index] = RemoteFile(url=new, name=old.name, members=old.members, max_bytes=old.max_bytes,
                                  sha256=old.sha256, format=old.format)
        rel.files = tuple(files)


def _close_series(releases: list[Release]) -> None:
    """A release without its own end is in effect until the day before the next one of its series."""
    by_series: dict[str, list[Release]] = {}
    for r in releases:
        by_series.setdefault(r.series, []).append(r)
    for rels in by_series.values():
        rels.sort(key=lambda r: r.effective_from)
        for cur, nxt in zip(rels, rels[1:]):
            if cur.effective_from == nxt.effective_from:
                raise RegistryError(f"releases {cur.id!r} ({cur.defined_in}) and {nxt.id!r} ({nxt.defined_in}) "
                                    f"of series {cur.series!r} both start {cur.effective_from}")
            if cur.effective_to is None:
                cur.effective_to = nxt.effective_from - timedelta(days=1)


def load_registry(override: Path | None | str = "auto", packaged: Path = REGISTRY) -> Registry:
    """The packaged registry with the operator's settings file applied (see registry.toml's header)."""
    path = settings_file() if override == "auto" else (Path(override) if override else None)
    doc = _read_toml(path) if path else {}
    _Table(doc, str(path), ("update", "addresses", "release"))
    st = _Table(doc.get("update", {}), f"{path}: [update]", ("years", "ahead_days", "use_packaged", "timeout",
                                                              "only"))
    settings = Settings(years=st.get("years", int, default=DEFAULT_YEARS, check=lambda v: 0 <= v <= 50,
                                     hint="a whole number of years, 0-50"),
                        ahead_days=st.get("ahead_days", int, default=0, check=lambda v: 0 <= v <= 366,
                                          hint="a whole number of days, 0-366"),
                        use_packaged=st.get("use_packaged", bool, default=True),
                        timeout=float(st.get("timeout", (int, float), default=60.0, check=lambda v: 0 < v <= 3600,
                                             hint="seconds, more than 0")),
                        only=tuple(st.get("only", list, default=[], check=lambda v: all(isinstance(x, str) for x in v),
                                          hint="a list of code sets or release ids")))
    releases: dict[str, Release] = {}
    files = []
    if settings.use_packaged:
        for rel in _parse_releases(_read_toml(packaged), packaged, "packaged"):
            releases[rel.id] = rel
        files.append(str(packaged))
    if path:
        for rel in _parse_releases(doc, path, str(path)):
            releases[rel.id] = rel  # an operator's entry replaces the packaged one of that id
        _apply_addresses(releases, doc.get("addresses", {}), path)
        files.append(str(path))
    ordered = sorted(releases.values(), key=lambda r: (r.series, r.effective_from))
    _close_series(ordered)
    return Registry(releases=ordered, settings=settings, files=files)


# --- what is held, what is missing ---------------------------------------------------------------

def read_ledger(folder: Path) -> dict:
    """What `medcode data update` fetched: release id -> files (address, size, sha256) and members read."""
    path = folder / LEDGER
    if not path.exists():
        return {"releases": {}}
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CodebookError(f"{path}: damaged update record ({exc}); delete it and run `medcode data update`") from None
    doc.setdefault("releases", {})
    return doc


def write_ledger(folder: Path, doc: dict) -> None:
    tmp = folder / f"{LEDGER}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(doc, indent=1, default=str))
    os.replace(tmp, folder / LEDGER)


@contextmanager
def _ledger_edit(folder: Path):
    """Read, change and write the record under a lock: a scheduled check and an update may end together."""
    import fcntl

    with open(folder / f"{LEDGER}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        doc = read_ledger(folder)
        yield doc
        write_ledger(folder, doc)


def book_keys(book_path: Path) -> set[tuple[str, str, date]]:
    """(system, kind, effective from) of every release the serving book holds; none without a book."""
    from .book import open_book

    try:
        book = open_book(book_path)
        return {(r.system, r.kind, r.effective_from) for r in book.releases()}
    except (CodebookError, sqlite3.Error):
        return set()


@dataclass
class Need:
    """A missing release and the members of it to fetch (members already held are left out)."""

    release: Release
    members: list[tuple[RemoteFile, Member]]

    @property
    def files(self) -> list[RemoteFile]:
        out: list[RemoteFile] = []
        for f, _ in self.members:
            if f not in out:
                out.append(f)
        return out

    def summary(self) -> dict:
        return {**self.release.summary(), "files": [
            {"url": f.url, "name": f.name,
             "members": [{"pattern": m.pattern, "importer": m.importer, "layout": m.layout}
                         for g, m in self.members if g is f]} for f in self.files]}


@dataclass
class Plan:
    today: date
    since: date
    until: date
    held: list[Release] = field(default_factory=list)
    missing: list[Need] = field(default_factory=list)
    by_hand: list[Release] = field(default_factory=list)
    superseded: list[Release] = field(default_factory=list)  # older releases of a cumulative series
    covered: list[Release] = field(default_factory=list)  # what they hold comes with a newer missing release


def _years_before(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


def _selected(rel: Release, only: set[str]) -> bool:
    return not only or rel.id in only or rel.system in only


def _check_only(registry: Registry, only: Iterable[str]) -> set[str]:
    wanted = {o.strip().lower() for o in only if o and o.strip()}
    known = {r.id for r in registry.releases} | set(SYSTEMS)
    aliases = {"cm": "icd10cm", "icd-10-cm": "icd10cm", "pcs": "icd10pcs", "icd-10-pcs": "icd10pcs",
               "hcpcs2": "hcpcs", "rvu": "pfs", "mue": "ncci", "ptp": "ncci"}
    out = set()
    for o in wanted:
        o = aliases.get(o, o)
        if o not in known:
            raise CodebookError(f"--only {o}: no code set or release of that name (code sets: {', '.join(SYSTEMS)}; "
                                "release ids: `medcode data update --dry-run --json`)")
        out.add(o)
    return out


def _in_ledger(ledger: dict, rel: Release, manifest_shas: set[str]) -> bool:
    entry = ledger["releases"].get(rel.id)
    if not entry:
        return False
    return all(m.get("sha256") in manifest_shas for m in entry.get("members", []))


def plan_update(registry: Registry, *, sources_dir: Path, book_path: Path, today: date | None = None,
                only: Iterable[str] = ()) -> Plan:
    """Which releases in effect from `years` ago to today (plus ahead_days) the book lacks.

    A release is held when an earlier update imported it, or when the book already has a release for
    each of its members (same system, kind and date: imported by hand, or packaged). Newer releases are
    looked at first, and a member a newer missing release provides is not fetched twice.
    """
    today = today or date.today()
    plan = Plan(today=today, since=_years_before(today, registry.settings.years),
                until=today + timedelta(days=registry.settings.ahead_days))
    wanted = _check_only(registry, list(only) or registry.settings.only)
    current = [r for r in registry.releases if _selected(r, wanted) and r.effective_from <= plan.until
               and (r.effective_to is None or r.effective_to >= plan.since)]
    plan.by_hand = [r for r in current if not r.fetch]
    fetchable = [r for r in current if r.fetch]
    newest: dict[str, Release] = {}
    for r in fetchable:
        if r.cumulative and (r.series not in newest or r.effective_from > newest[r.series].effective_from):
            newest[r.series] = r
    plan.superseded = [r for r in fetchable if r.cumulative and newest[r.series] is not r]
    fetchable = [r for r in fetchable if not (r.cumulative and newest[r.series] is not r)]

    ledger = read_ledger(sources_dir)
    shas = {s.sha256 for s in read_manifest(sources_dir)}
    held_keys = book_keys(book_path)
    for rel in fetchable:
        if _in_ledger(ledger, rel, shas):
            plan.held.append(rel)
            held_keys |= {k for f in rel.files for m in f.members for k in rel.keys(m)}
    planned: set = set()
    for rel in sorted(fetchable, key=lambda r: (r.effective_from, r.id), reverse=True):
        if rel in plan.held:
            continue
        members = [(f, m) for f in rel.files for m in f.members]
        required = [m for _, m in members if not m.optional]
        if all(rel.keys(m) & held_keys for m in required):
            plan.held.append(rel)
            continue
        needed = [(f, m) for f, m in members if not (rel.keys(m) & (held_keys | planned))]
        if any(not m.optional for _, m in needed):
            plan.missing.append(Need(rel, needed))
            planned |= {k for _, m in needed for k in rel.keys(m)}
        else:  # what it would bring comes with a newer release fetched in this run
            plan.covered.append(rel)
    plan.missing.sort(key=lambda n: (n.release.system, n.release.effective_from, n.release.id))
    plan.held.sort(key=lambda r: (r.system, r.effective_from, r.id))
    return plan


# --- downloads -------------------------------------------------------------------------------------

def _write(fh, data: bytes) -> None:
    """Every byte medcode writes for an update goes through here (the tests make the disk fill up)."""
    fh.write(data)


def _disk_full(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG)


def _bar(total: int | None, desc: str, progress: bool, initial: int = 0):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False,
                file=sys.stderr, disable=not (progress and sys.stderr.isatty()), mininterval=0.5)


def _client(timeout: float):
    import httpx

    from .. import __version__

    return httpx.Client(follow_redirects=True, timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
                        headers={"User-Agent": f"medcode/{__version__} (data update)"})


def download(client, rel: Release, rf: RemoteFile, folder: Path, progress: bool = True) -> Path:
    """The file at rf.url in `folder`, resuming a partial download (`.part`) with an HTTP Range request.

    A download that stops half way is kept and the next call carries on from where it stopped; If-Range
    makes the server send the whole file again if it changed in between.
    """
    import httpx

    final = folder / rf.name
    if final.exists():
        return final  # fetched by an earlier run whose import did not finish
    part = folder / (rf.name + ".part")
    meta_path = folder / (rf.name + ".part.json")
    have = part.stat().st_size if part.exists() else 0
    meta = {}
    if have and meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            meta = {}
    if have and meta.get("url") != rf.url:
        have, meta = 0, {}
    headers = {}
    if have:
        headers["Range"] = f"bytes={have}-"
        if meta.get("validator"):
            headers["If-Range"] = meta["validator"]
    fail = lambda why: FetchError(rel.id, rf.url, why)  # noqa: E731
    def kept(n: int) -> str:
        return (f"the {n:,} bytes downloaded so far are kept in {part} and the next run resumes from there"
                if n else "nothing was kept")
    written = have
    try:
        with client.stream("GET", rf.url, headers=headers) as resp:
            if resp.status_code == 416 and have:  # our part is stale or already complete: start again
                part.unlink(missing_ok=True)
                meta_path.unlink(missing_ok=True)
                return download(client, rel, rf, folder, progress)
            if resp.status_code == 206 and have:
                m = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", resp.headers.get("content-range", ""))
                if not m or int(m.group(1)) != have:
                    raise fail(f"the server resumed at the wrong place ({resp.headers.get('content-range')!r}, "
                               f"asked for byte {have})")
                total = int(m.group(3)) if m.group(3) != "*" else None
                mode = "ab"
            elif resp.status_code == 200:
                written, mode = 0, "wb"
                length = resp.headers.get("content-length")
                total = int(length) if length and length.isdigit() else None
            else:
                raise fail(f"the server answered {resp.status_code} {resp.reason_phrase}".rstrip()
                           + ("" if resp.status_code != 404 else ": the file is not (or no longer) at this address; "
                              "set the right one in sources.toml [addresses]"))
            if total is not None and total > rf.max_bytes:
                _drop(part, meta_path)
                raise fail(f"the file is {total:,} bytes, more than the {rf.max_bytes:,} allowed for it (max_mb)")
            validator = resp.headers.get("etag") or resp.headers.get("last-modified")
            meta_path.write_text(json.dumps({"url": rf.url, "validator": validator, "total": total}))
            with open(part, mode) as out, _bar(total, rf.name, progress, written) as bar:
                for chunk in resp.iter_bytes():  # as it arrives: a cut keeps every byte received
                    written += len(chunk)
                    if written > rf.max_bytes:
                        out.close()
                        _drop(part, meta_path)
                        raise fail(f"the server sent more than the {rf.max_bytes:,} bytes allowed for this file")
                    _write(out, chunk)
                    bar.update(len(chunk))
            if total is not None and written != total:
                raise fail(f"the connection ended after {written:,} of {total:,} bytes; {kept(written)}")
    except FetchError:
        raise
    except httpx.TimeoutException as exc:
        raise fail(f"no answer in time ({type(exc).__name__}); {kept(_size(part))}") from None
    except httpx.ConnectError as exc:
        raise fail(f"could not connect ({exc}): is the machine online? Set MEDCODE_OFFLINE=1 to skip updates, or "
                   "import the files by hand with `medcode data import PATH`") from None
    except httpx.TransportError as exc:
        raise fail(f"the connection was cut ({exc}); {kept(_size(part))}") from None
    except httpx.HTTPError as exc:
        raise fail(f"download failed ({exc})") from None
    except OSError as exc:
        if _disk_full(exc):
            raise fail(f"disk full while writing {part} ({exc.strerror}): free some space and run "
                       f"`medcode data update` again; {kept(_size(part))}") from None
        raise fail(f"cannot write {part} ({exc.strerror})") from None
    os.replace(part, final)
    meta_path.unlink(missing_ok=True)
    return final


def _drop(*paths: Path) -> None:
    for p in paths:
        p.unlink(missing_ok=True)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# --- checks ----------------------------------------------------------------------------------------

def _outside(name: str) -> bool:
    """A member name that would land outside the folder it is unpacked into, on any system."""
    win = PureWindowsPath(name)
    return (name.startswith(("/", "\\")) or win.drive != "" or ".." in PurePosixPath(name).parts
            or ".." in win.parts)


def _refuse(path: Path, rel: Release, rf: RemoteFile, why: str) -> FetchError:
    path.unlink(missing_ok=True)
    return FetchError(rel.id, rf.url, f"{why}; the download was refused and deleted (the next run fetches it again)")


def _copy_capped(src, dst_path: Path, limit: int) -> int:
    written = 0
    with open(dst_path, "wb") as out:
        while True:
            chunk = src.read(CHUNK)
            if not chunk:
                return written
            written += len(chunk)
            if written > limit:
                raise ValueError(f"expands past {limit:,} bytes")
            _write(out, chunk)


def pdf_text(pdf: Path, out: Path) -> None:
    """The text of a PDF as `pdftotext -layout` writes it (pages split by form feeds); pypdf's layout
    mode, with runs of spaces inside a line closed up, when poppler is not installed."""
    exe = shutil.which("pdftotext")
    if exe:
        subprocess.run([exe, "-layout", "-enc", "UTF-8", str(pdf), str(out)], check=True, capture_output=True,
                       timeout=600)
        return
    from pypdf import PdfReader

    pages = []
    for page in PdfReader(pdf).pages:
        lines = []
        for line in page.extract_text(extraction_mode="layout").split("\n"):
            body = line.strip()
            lead = len(line) - len(line.lstrip(" "))
            lines.append(" " * lead + re.sub(r" {2,}", " ", body) if body else "")
        pages.append("\n".join(lines))
    with open(out, "w", encoding="utf-8") as fh:
        _write(fh, "\f".join(pages))


def check_and_extract(rel: Release, rf: RemoteFile, path: Path, members: list[Member], out_dir: Path
                      ) -> list[tuple[Path, Member]]:
    """Members of a downloaded file, unpacked into out_dir after the archive passed every check, each
    confirmed to be in its importer's layout. Raises FetchError naming the release, address and problem."""
    fail = lambda why: _refuse(path, rel, rf, why)  # noqa: E731  a file that fails a check is not kept
    out_dir.mkdir(parents=True, exist_ok=True)
    found: list[tuple[Path, Member]] = []
    try:
        if rf.format == "zip":
            try:
                zf = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
                raise fail(f"{rf.name} is not a readable zip archive ({exc})") from None
            with zf:
                try:
                    infos = list(_safe_members(path, zf))
                except SourceError as exc:
                    raise fail(exc.detail) from None
                for info in infos:
                    if _outside(info.filename):
                        raise fail(f"archive member {info.filename!r} points outside the archive")
                expanded = sum(i.file_size for i in infos)
                if expanded > MAX_EXPANDED_BYTES:
                    raise fail(f"its members expand to {expanded:,} bytes in all")
                names = sorted(PurePosixPath(i.filename).name for i in infos)
                for m in members:
                    hits = [i for i in infos if m.matches(PurePosixPath(i.filename).name)]
                    if not hits:
                        if m.optional:
                            continue
                        raise fail(f"{rf.name} has no member named like {m.pattern} ({m.layout or m.importer}); it "
                                   f"holds: {', '.join(names) or 'nothing'}")
                    if len(hits) > 1:
                        raise fail(f"{rf.name} has {len(hits)} members named like {m.pattern} "
                                   f"({', '.join(i.filename for i in hits)}): the registry pattern must pick one")
                    target = out_dir / PurePosixPath(hits[0].filename).name
                    if any(target == t for t, _ in found):
                        raise fail(f"two members of {rf.name} are named {target.name}")
                    try:
                        with zf.open(hits[0]) as src:
                            _copy_capped(src, target, min(hits[0].file_size, MAX_MEMBER_BYTES))
                    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError,
                            RuntimeError) as exc:
                        raise fail(f"member {hits[0].filename} is damaged ({exc})") from None
                    found.append((target, m))
        else:
            (m,) = members
            if not m.matches(rf.name):
                raise fail(f"the download is named {rf.name}, not like {m.pattern} ({m.layout or m.importer})")
            target = out_dir / rf.name
            try:
                with open(path, "rb") as src:
                    _copy_capped(src, target, MAX_MEMBER_BYTES)
            except ValueError as exc:
                raise fail(f"{rf.name} {exc}") from None
            found.append((target, m))
        ready: list[tuple[Path, Member]] = []
        for target, m in found:
            if m.convert == "pdf-text":
                text = target.with_suffix(".txt")
                try:
                    pdf_text(target, text)
                except OSError:
                    raise
                except Exception as exc:  # pypdf / pdftotext: any failure to read the PDF is the file's fault
                    raise fail(f"cannot read the text of {target.name} ({type(exc).__name__}: {exc})") from None
                target.unlink()
                target = text
            mod = source_modules.detect(target)
            if mod is None or mod.KIND != m.importer:
                seen = f"medcode reads it as {mod.KIND}" if mod else "medcode does not recognise its layout"
                raise fail(f"member {target.name} is not in the {m.importer} layout "
                           f"({m.layout or 'see the registry'}): {seen}")
            ready.append((target, m))
        return ready
    except OSError as exc:
        shutil.rmtree(out_dir, ignore_errors=True)
        if _disk_full(exc):  # the download itself is fine: keep it for the next run
            raise FetchError(rel.id, rf.url, f"disk full while unpacking into {out_dir} ({exc.strerror}): free "
                             f"some space and run `medcode data update` again; the download is kept in "
                             f"{path.parent}") from None
        raise FetchError(rel.id, rf.url, f"cannot unpack into {out_dir} ({exc.strerror})") from None
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise


# --- the update ------------------------------------------------------------------------------------

@dataclass
class Fetched:
    need: Need
    files: list[dict]
    members: list[tuple[Path, Member, str]]  # unpacked file, registry member, address it came from


@dataclass
class UpdateReport:
    plan: Plan
    dry_run: bool
    probes: dict[str, str | None] = field(default_factory=dict)  # release id -> None (published) or the problem
    imported: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    codebook: str | None = None
    build_seconds: float | None = None
    offline: bool = False
    message: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed

    def _probe(self, rid: str) -> dict:
        if rid not in self.probes:
            return {}
        return {"available": self.probes[rid] is None, "problem": self.probes[rid]}

    def to_dict(self) -> dict:
        p = self.plan
        return {"dry_run": self.dry_run, "offline": self.offline, "message": self.message or None,
                "today": p.today, "since": p.since,
                "held": [r.summary() for r in p.held],
                "missing": [{**n.summary(), **self._probe(n.release.id)} for n in p.missing],
                "by_hand": [{**r.summary(), "reason": r.reason,
                             "addresses": [f.url for f in r.files]} for r in p.by_hand],
                "superseded": [r.summary() for r in p.superseded], "covered": [r.summary() for r in p.covered],
                "imported": self.imported, "failed": self.failed, "codebook": self.codebook,
                "build_seconds": self.build_seconds}


@contextmanager
def update_lock(home: Path):
    """One update at a time per MEDCODE_HOME (the make-run first update, the scheduled task, a user)."""
    import fcntl

    path = home / "update.lock"
    fh = open(path, "a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UpdateBusy(f"another `medcode data update` is running (lock {path}); try again when it "
                             "ends") from None
        yield
    finally:
        fh.close()


def offline() -> bool:
    return os.environ.get("MEDCODE_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def reachable(url: str, timeout: float = 3.0) -> bool:
    """A quick TCP check of the host a download would come from."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def probe(client, need: Need) -> str | None:
    """None when every file of a missing release answers at its address (one byte asked for), else why not."""
    import httpx

    for f in need.files:
        try:
            with client.stream("GET", f.url, headers={"Range": "bytes=0-0"}) as resp:
                if resp.status_code >= 400:
                    return f"{f.url}: the server answered {resp.status_code} {resp.reason_phrase}".rstrip()
        except httpx.HTTPError as exc:
            return f"{f.url}: {type(exc).__name__}: {exc}"
    return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _fetch(client, need: Need, downloads: Path, staging: Path, progress: bool, say) -> Fetched:
    rel = need.release
    folder = downloads / rel.id
    folder.mkdir(parents=True, exist_ok=True)
    out_dir = staging / rel.id
    shutil.rmtree(out_dir, ignore_errors=True)
    files, members = [], []
    for rf in need.files:
        say(f"  fetching {rel.id}: {rf.url}")
        path = download(client, rel, rf, folder, progress)
        digest = sha256_of(path)
        if rf.sha256 and digest != rf.sha256:
            path.unlink(missing_ok=True)
            raise FetchError(rel.id, rf.url, f"its sha256 is {digest}, the registry expects {rf.sha256}; the file "
                                             "was deleted")
        files.append({"url": rf.url, "name": rf.name, "size": path.stat().st_size, "sha256": digest,
                      "downloaded_at": _now()})
        wanted = [m for f, m in need.members if f is rf]
        for target, m in check_and_extract(rel, rf, path, wanted, out_dir):
            members.append((target, m, rf.url))
    return Fetched(need, files, members)


def _import(fetched: list[Fetched], sources_dir: Path, book_path: Path, progress: bool, report: UpdateReport,
            say) -> list[Fetched]:
    """Import every fetched release in one build; a release whose file an importer rejects is dropped
    and the rest are built again. Returns the releases now in the book."""
    pending = list(fetched)
    while pending:
        owner = {str(p): f for f in pending for p, _, _ in f.members}
        paths = [p for f in pending for p, _, _ in f.members]
        say(f"importing {len(paths)} file(s) of {len(pending)} release(s) and rebuilding {book_path}")
        try:
            result = import_paths(paths, sources_dir, book_path, progress=progress)
        except SourceError as exc:
            bad = owner.get(exc.path)
            if bad is None:
                _fail_all(report, pending, f"the codebook could not be rebuilt ({exc}); the serving codebook is "
                                           "unchanged")
                return []
            rel = bad.need.release
            where = f" ({exc.where})" if isinstance(exc.where, str) else (f", line {exc.where}" if exc.where else "")
            url = next(u for p, _, u in bad.members if str(p) == exc.path)
            report.failed.append({"id": rel.id, "title": rel.title, "url": url,
                                  "error": f"{Path(exc.path).name}{where}: {exc.detail}; nothing of this release "
                                           "was imported"})
            pending.remove(bad)
            continue
        except OSError as exc:
            why = ("the disk is full" if _disk_full(exc) else exc.strerror or str(exc))
            _fail_all(report, pending, f"the codebook could not be rebuilt ({why}); nothing was imported and the "
                                       "serving codebook is unchanged; the downloads are kept for the next run")
            return []
        except (sqlite3.Error, CodebookError) as exc:
            _fail_all(report, pending, f"the codebook could not be rebuilt ({exc}); nothing was imported and the "
                                       "serving codebook is unchanged")
            return []
        if result.report:
            report.codebook = str(result.report.path)
            report.build_seconds = round(result.report.seconds, 2)
        return pending
    return []


def _fail_all(report: UpdateReport, pending: list[Fetched], why: str) -> None:
    for f in pending:
        rel = f.need.release
        report.failed.append({"id": rel.id, "title": rel.title, "url": ", ".join(x["url"] for x in f.files),
                              "error": why})


def run_update(registry: Registry | None = None, *, today: date | None = None, only: Iterable[str] = (),
               dry_run: bool = False, progress: bool = True, sources_dir: Path | None = None,
               book_path: Path | None = None, home: Path | None = None, say: Callable[[str], None] | None = None,
               client=None, check_online: bool = False) -> UpdateReport:
    """Find the missing releases; unless dry_run, fetch, check and import them and rebuild the book.
    A dry run with check_online asks each missing release's addresses whether it is published yet."""
    say = say or (lambda msg: None)
    registry = registry or load_registry()
    home = home or config.home()
    sources_dir = sources_dir or config.sources_dir()
    book_path = book_path or config.codebook_path()
    if dry_run:
        plan = plan_update(registry, sources_dir=sources_dir, book_path=book_path, today=today, only=only)
        report = UpdateReport(plan=plan, dry_run=True)
        if check_online and plan.missing:
            own = client is None
            client = client or _client(min(registry.settings.timeout, 10.0))
            down: set[str] = set()  # hosts that did not answer: not asked again in this check
            try:
                for need in plan.missing:
                    hosts = {urlsplit(f.url).hostname for f in need.files}
                    if hosts & down:
                        report.probes[need.release.id] = f"not tried: {sorted(hosts & down)[0]} did not answer"
                        continue
                    problem = report.probes[need.release.id] = probe(client, need)
                    if problem and ("ConnectError" in problem or "Timeout" in problem):
                        down |= hosts
            finally:
                if own:
                    client.close()
        _record_check(sources_dir, report)
        return report
    with update_lock(home):
        plan = plan_update(registry, sources_dir=sources_dir, book_path=book_path, today=today, only=only)
        report = UpdateReport(plan=plan, dry_run=False)
        if not plan.missing:
            _record_check(sources_dir, report)
            return report
        downloads = home / "downloads"
        staging = downloads / ".unpacked"
        own_client = client is None
        client = client or _client(registry.settings.timeout)
        fetched: list[Fetched] = []
        unreachable: set[str] = set()
        try:
            for need in plan.missing:
                hosts = {urlsplit(f.url).hostname for f in need.files}
                try:
                    if hosts & unreachable:
                        host = sorted(hosts & unreachable)[0]
                        raise FetchError(need.release.id, need.files[0].url,
                                         f"not tried: {host} could not be reached earlier in this run")
                    fetched.append(_fetch(client, need, downloads, staging, progress, say))
                except FetchError as exc:
                    if exc.why.startswith("could not connect"):
                        unreachable.add(urlsplit(exc.url).hostname)
                    report.failed.append({"id": exc.release, "title": need.release.title, "url": exc.url,
                                          "error": exc.why})
                    say(f"  FAILED {exc}")
        finally:
            if own_client:
                client.close()
        try:
            done = _import(fetched, sources_dir, book_path, progress, report, say) if fetched else []
            if done:
                with _ledger_edit(sources_dir) as ledger:
                    for f in done:
                        rel = f.need.release
                        ledger["releases"][rel.id] = {
                            "title": rel.title, "system": rel.system, "effective_from": rel.effective_from.isoformat(),
                            "imported_at": _now(), "files": f.files,
                            "members": [{"name": p.name, "importer": m.importer, "sha256": sha256_of(p), "url": url}
                                        for p, m, url in f.members]}
                        report.imported.append({"id": rel.id, "title": rel.title, "files": f.files})
                        shutil.rmtree(downloads / rel.id, ignore_errors=True)  # the sources folder has the copies
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _record_check(sources_dir, report)
        return report


def _record_check(sources_dir: Path, report: UpdateReport) -> None:
    with _ledger_edit(sources_dir) as ledger:
        ledger["last_check"] = {"at": _now(), "dry_run": report.dry_run,
                                "missing": [n.release.id for n in report.plan.missing],
                                "imported": [r["id"] for r in report.imported], "failed": report.failed}


# --- where each release came from (`medcode data status`) ------------------------------------------

def release_origins(sources_dir: Path) -> dict[str, dict]:
    """sha256 of a file the book read -> where it came from: downloaded (address), imported, packaged."""
    out: dict[str, dict] = {}
    for src in packaged_sources():
        out[src.sha256 or sha256_of(src.path)] = {"origin": "packaged",
                                                  "package": src.options.get("package", "simple-icd-10-cm")}
    for src in read_manifest(sources_dir):
        out[src.sha256] = {"origin": "imported", "file": user_file_name(src.path)}
    for rid, entry in read_ledger(sources_dir)["releases"].items():
        for m in entry.get("members", []):
            out[m["sha256"]] = {"origin": "downloaded", "release": rid, "url": m.get("url"),
                                "imported_at": entry.get("imported_at")}
    return out


def last_check(sources_dir: Path) -> dict | None:
    return read_ledger(sources_dir).get("last_check")
