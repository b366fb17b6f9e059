"""What goes wrong on the way from CMS/CDC: each fault gives a clear message naming the release, the
address and the reason; nothing is half-imported; the codebook in use keeps serving, unchanged.

Every test starts from a home whose book came from an earlier update (the packaged data plus the real
2020 HCPCS archive), and runs the update in-process against the loopback server.
"""

from __future__ import annotations

import errno
import hashlib
import re
import sqlite3
import struct
import zipfile
import zlib
from datetime import date
from pathlib import Path

import pytest

import ncci_official
from official_packs import SHARED_DATA, copy_home, serve, zip_members

from medcode.codebook import open_book, update
from medcode.codebook.update import load_registry, read_ledger, run_update

TODAY = date(2026, 11, 27)
MUE = "MCR_MUE_PractitionerServices_Eff_04-01-2026.csv"
GB2 = 2_000_000_000


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def mue_csv(tmp_path_factory) -> Path:
    src = SHARED_DATA / "ncci-2026-derived" / "mue_practitioner.json"
    if not src.exists():
        pytest.skip(f"official data not available: {src}")
    return ncci_official.write_mue_json(src, tmp_path_factory.mktemp("mue"))


@pytest.fixture(scope="module")
def base_home(tmp_path_factory, packs, release_server, packaged_registry) -> Path:
    """A home whose book an update built: packaged data + the real January 2020 HCPCS archive."""
    home = tmp_path_factory.mktemp("base-home")
    (home / "sources.toml").write_text(serve(release_server, packs, packaged_registry, ["hcpcs-2020-jan"]))
    report = run_update(load_registry(home / "sources.toml"), today=TODAY, only=["hcpcs-2020-jan"], progress=False,
                        sources_dir=home / "sources", book_path=home / "codebook.sqlite", home=home)
    assert report.ok and [r["id"] for r in report.imported] == ["hcpcs-2020-jan"], report.failed
    return home


@pytest.fixture
def home(base_home, tmp_path) -> Path:
    return copy_home(base_home, tmp_path / "home")


def release_toml(rid: str, url: str, pattern: str = MUE, effective: str = "2026-04-01", extra: str = "") -> str:
    return f'''
[[release]]
id = "{rid}"
series = "{rid}"
system = "ncci"
title = "Test release {rid}"
effective_from = {effective}
[[release.file]]
url = "{url}"
{extra}
members = [
  {{ pattern = "{pattern}", importer = "ncci_mue", system = "ncci-practitioner", layout = "MUE CSV" }},
]
'''


def run(home: Path, *releases: str, **kw):
    settings = home / "faults.toml"
    settings.write_text("[update]\nyears = 30\nuse_packaged = false\n" + "".join(releases))
    only = [line.split('"')[1] for text in releases for line in text.splitlines() if line.startswith("id = ")]
    return run_update(load_registry(settings), today=TODAY, only=only, progress=False,
                      sources_dir=home / "sources", book_path=home / "codebook.sqlite", home=home, **kw)


def snapshot(home: Path) -> dict:
    sources = home / "sources"
    return {"book": _sha(home / "codebook.sqlite"), "manifest": (sources / "manifest.json").read_text(),
            "files": sorted(p.name for p in sources.iterdir() if not p.name.startswith("updates.json")),
            "ledger": read_ledger(sources)["releases"]}


def still_serving(home: Path, before: dict, book_before) -> None:
    """Nothing imported, the book file untouched, and the book opened before the run still answers."""
    assert snapshot(home) == before
    book = open_book(home / "codebook.sqlite")
    assert book is book_before and book.is_current()
    assert book.get("hcpcs", "G0180", date(2021, 6, 1)).title.startswith("Physician certification")
    assert book.mue("J0585", "practitioner", date(2026, 5, 1)) is None  # the test releases never got in


def opened(home: Path):
    book = open_book(home / "codebook.sqlite")
    assert book.get("hcpcs", "G0180", date(2021, 6, 1)).title.startswith("Physician certification")
    return book


def one_failure(report, rid: str, url: str) -> str:
    assert [f["id"] for f in report.failed] == [rid], report.failed
    assert report.failed[0]["url"] == url and report.imported == []
    return report.failed[0]["error"]


# --- transfer faults ---------------------------------------------------------------------------------

def test_404_names_the_release_the_address_and_the_reason(home, release_server):
    book, before = opened(home), snapshot(home)
    url = release_server.url("/files/zip/no-such-release.zip")
    error = one_failure(run(home, release_toml("t-404", url)), "t-404", url)
    assert "404" in error and "not (or no longer) at this address" in error
    still_serving(home, before, book)


def test_connection_cut_half_way_is_resumed_with_range_on_the_next_run(home, release_server, mue_csv, tmp_path):
    archive = zip_members(tmp_path / "cut.zip", {MUE: mue_csv})
    path = "/files/zip/cut-half-way.zip"
    url = release_server.add(path, archive)
    size = archive.stat().st_size
    release_server.cut_once(path, size // 2)
    book, before = opened(home), snapshot(home)

    error = one_failure(run(home, release_toml("t-cut", url)), "t-cut", url)
    assert "cut" in error or "ended after" in error
    assert "kept" in error and "resumes" in error, error
    part = home / "downloads" / "t-cut" / "cut-half-way.zip.part"
    assert part.stat().st_size == size // 2
    still_serving(home, before, book)

    report = run(home, release_toml("t-cut", url))
    assert report.ok and [r["id"] for r in report.imported] == ["t-cut"]
    method, _, rng, status = release_server.requests(path)[-1]
    assert (rng, status) == (f"bytes={size // 2}-", 206)
    assert report.imported[0]["files"][0]["sha256"] == _sha(archive)
    assert open_book(home / "codebook.sqlite").mue("J0585", "practitioner", date(2026, 5, 1)).value == 800


def test_a_changed_file_is_fetched_whole_instead_of_resumed(release_server, mue_csv, tmp_path, packaged_registry):
    """If-Range: the part of an older version of a file is not glued to the new version."""
    old = zip_members(tmp_path / "old.zip", {MUE: mue_csv, "readme.txt": b"first version"})
    path = "/files/zip/changed.zip"
    url = release_server.add(path, old)
    release_server.cut_once(path, old.stat().st_size // 2)
    rel = packaged_registry.get("ncci-mue-2026q2")
    rf = update.RemoteFile(url=url, name="changed.zip", members=rel.files[0].members, max_bytes=1 << 30)
    folder = tmp_path / "downloads"
    folder.mkdir()
    client = update._client(30)
    with pytest.raises(update.FetchError, match="cut"):
        update.download(client, rel, rf, folder, progress=False)
    new = zip_members(tmp_path / "new.zip", {MUE: mue_csv, "readme.txt": b"second version, longer" * 50})
    release_server.add(path, new)
    got = update.download(client, rel, rf, folder, progress=False)
    method, _, rng, status = release_server.requests(path)[-1]
    assert rng == f"bytes={old.stat().st_size // 2}-" and status == 200  # asked to resume, got the whole new file
    assert _sha(got) == _sha(new) and not (folder / "changed.zip.part").exists()


# --- archive faults ----------------------------------------------------------------------------------

def _flipped(archive: Path) -> bytes:
    data = bytearray(archive.read_bytes())
    info = zipfile.ZipFile(archive).infolist()[0]
    start = info.header_offset + 30 + len(info.filename) + 200
    for i in range(start, start + 64):
        data[i] ^= 0xFF
    return bytes(data)


@pytest.mark.parametrize("case", ["html", "flipped"])
def test_corrupt_zip_is_refused_and_deleted(home, release_server, mue_csv, tmp_path, case):
    if case == "html":
        body = b"<html><head><title>Service Unavailable</title></head><body>Try later</body></html>"
        expect = "not a readable zip archive"
    else:
        body = _flipped(zip_members(tmp_path / "good.zip", {MUE: mue_csv}))
        expect = "is damaged"
    url = release_server.add(f"/files/zip/corrupt-{case}.zip", body)
    book, before = opened(home), snapshot(home)
    error = one_failure(run(home, release_toml(f"t-corrupt-{case}", url)), f"t-corrupt-{case}", url)
    assert expect in error and "refused and deleted" in error
    assert not list((home / "downloads").rglob(f"corrupt-{case}.zip*"))
    still_serving(home, before, book)


@pytest.mark.parametrize("member", ["../../evil.csv", "/tmp/evil.csv", "..\\..\\evil.csv", "C:/evil.csv"])
def test_a_member_pointing_outside_the_folder_is_refused(home, release_server, mue_csv, tmp_path, member):
    archive = tmp_path / "traversal.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(mue_csv, MUE)
        zf.writestr(member, b"HCPCS,1\n")
    url = release_server.add(f"/files/zip/traversal-{abs(hash(member))}.zip", archive)
    book, before = opened(home), snapshot(home)
    error = one_failure(run(home, release_toml("t-traversal", url)), "t-traversal", url)
    assert "points outside the archive" in error and repr(member) in error
    assert not [p for p in tmp_path.parent.rglob("evil.csv")] and not Path("/tmp/evil.csv").exists()
    still_serving(home, before, book)


def _bomb(path: Path, declared: int, expands: int = GB2) -> Path:
    """A zip whose one member inflates to `expands` bytes of zeros (about 2 MB on disk), declaring
    `declared` as its size: built from repeated byte-aligned deflate blocks, never holding 2 GB."""
    block = 1 << 20
    first = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = first.compress(bytes(block)) + first.flush(zlib.Z_FULL_FLUSH)
    n, rest = divmod(expands, block)
    last = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = last.compress(bytes(rest)) + last.flush()
    crc, zeros = 0, bytes(block)
    for _ in range(n):
        crc = zlib.crc32(zeros, crc)
    crc = zlib.crc32(bytes(rest), crc)
    size = len(piece) * n + len(tail)
    name = MUE.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, size, declared, len(name), 0) + name
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, size, declared, len(name),
                          0, 0, 0, 0, 0, 0) + name
    with open(path, "wb") as fh:
        fh.write(local)
        for _ in range(n):
            fh.write(piece)
        fh.write(tail)
        offset = fh.tell()
        fh.write(central)
        fh.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), offset, 0))
    return path


@pytest.fixture(scope="module")
def bombs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bombs")
    honest = _bomb(d / "bomb-2gb.zip", declared=GB2)
    lying = _bomb(d / "bomb-lying.zip", declared=10_000)
    with zipfile.ZipFile(honest) as zf:  # a real bomb: valid, 2 GB of zeros behind 2 MB
        (info,) = zf.infolist()
        assert info.file_size == GB2 and info.compress_size < 4_000_000
        with zf.open(info) as fh:
            assert fh.read(1 << 20) == bytes(1 << 20)
    return {"declared": honest, "lying": lying}


@pytest.mark.parametrize("kind", ["declared", "lying"])
def test_a_2gb_decompression_bomb_is_refused_without_being_written(home, release_server, bombs, kind):
    url = release_server.add(f"/files/zip/bomb-{kind}.zip", bombs[kind])
    book, before = opened(home), snapshot(home)
    error = one_failure(run(home, release_toml(f"t-bomb-{kind}", url)), f"t-bomb-{kind}", url)
    if kind == "declared":
        assert f"expands to {GB2} bytes: refused" in error
    else:  # the header says 10,000 bytes: reading stops there and the checksum gives it away
        assert "is damaged" in error and "CRC" in error
    assert "refused and deleted" in error
    written = sum(p.stat().st_size for p in home.rglob("*") if p.is_file())
    assert written < 200_000_000  # the home is the book and its sources, no 2 GB file
    still_serving(home, before, book)


def test_a_wrong_member_name_is_refused_with_what_the_archive_holds(home, release_server, mue_csv, tmp_path):
    archive = zip_members(tmp_path / "renamed.zip", {"mue_table_april.csv": mue_csv, "README.txt": b"notes"})
    url = release_server.add("/files/zip/renamed.zip", archive)
    book, before = opened(home), snapshot(home)
    error = one_failure(run(home, release_toml("t-renamed", url)), "t-renamed", url)
    assert f"has no member named like {MUE}" in error and "README.txt, mue_table_april.csv" in error
    still_serving(home, before, book)


def test_a_member_in_another_layout_is_refused(home, release_server, tmp_path):
    aoc = ncci_official.write_aoc_2024(SHARED_DATA / "ncci-2024q3" / "ncci_aoc.csv", tmp_path)
    archive = zip_members(tmp_path / "swapped.zip", {MUE: aoc})  # the add-on edits, named as the MUE table
    url = release_server.add("/files/zip/swapped.zip", archive)
    book, before = opened(home), snapshot(home)
    error = one_failure(run(home, release_toml("t-swapped", url)), "t-swapped", url)
    assert f"member {MUE} is not in the ncci_mue layout" in error and "medcode reads it as ncci_aoc" in error
    still_serving(home, before, book)


def test_a_checksum_or_size_the_registry_gives_is_enforced(home, release_server, mue_csv, tmp_path):
    archive = zip_members(tmp_path / "checked.zip", {MUE: mue_csv})
    url = release_server.add("/files/zip/checked.zip", archive)
    book, before = opened(home), snapshot(home)
    report = run(home, release_toml("t-sha", url, extra='sha256 = "' + "0" * 64 + '"'),
                 release_toml("t-size", url, effective="2026-01-01", extra="max_mb = 0.01"))
    errors = {f["id"]: f["error"] for f in report.failed}
    assert f"its sha256 is {_sha(archive)}, the registry expects {'0' * 64}" in errors["t-sha"]
    assert f"the file is {archive.stat().st_size:,} bytes, more than the 10,485 allowed" in errors["t-size"]
    still_serving(home, before, book)


# --- the disk fills up ---------------------------------------------------------------------------------

def _fill_disk_after(monkeypatch, limit: int, where: str = ""):
    """Writes for the update fail with ENOSPC once `limit` bytes went to files whose path holds `where`."""
    real = update._write
    written = {"n": 0}

    def write(fh, data):
        if where in str(getattr(fh, "name", "")):
            room = limit - written["n"]
            if len(data) > room:  # what fits goes to disk, as on a real full disk
                real(fh, data[:max(room, 0)])
                written["n"] = limit
                raise OSError(errno.ENOSPC, "No space left on device")
            written["n"] += len(data)
        real(fh, data)

    monkeypatch.setattr(update, "_write", write)


def test_disk_full_while_downloading_keeps_the_part_and_resumes(home, release_server, mue_csv, tmp_path, monkeypatch):
    archive = zip_members(tmp_path / "full.zip", {MUE: mue_csv})
    url = release_server.add("/files/zip/disk-full.zip", archive)
    book, before = opened(home), snapshot(home)
    _fill_disk_after(monkeypatch, 40_000, ".part")
    error = one_failure(run(home, release_toml("t-full", url)), "t-full", url)
    assert "disk full while writing" in error and "No space left on device" in error and "kept" in error
    assert (home / "downloads" / "t-full" / "disk-full.zip.part").stat().st_size == 40_000
    still_serving(home, before, book)
    monkeypatch.undo()  # space again: the next download carries on from byte 40,000
    rel = load_registry(home / "faults.toml").get("t-full")
    got = update.download(update._client(30), rel, rel.files[0], home / "downloads" / "t-full", progress=False)
    assert release_server.requests("/files/zip/disk-full.zip")[-1][2:] == ("bytes=40000-", 206)
    assert _sha(got) == _sha(archive)


def test_disk_full_while_unpacking_keeps_the_download(home, release_server, mue_csv, tmp_path, monkeypatch):
    archive = zip_members(tmp_path / "unpack.zip", {MUE: mue_csv})
    url = release_server.add("/files/zip/unpack-full.zip", archive)
    book, before = opened(home), snapshot(home)
    _fill_disk_after(monkeypatch, 10_000, ".unpacked")
    error = one_failure(run(home, release_toml("t-unpack", url)), "t-unpack", url)
    assert "disk full while unpacking" in error and "the download is kept" in error
    assert (home / "downloads" / "t-unpack" / "unpack-full.zip").exists()
    assert not (home / "downloads" / ".unpacked").exists()
    still_serving(home, before, book)


def test_disk_full_during_the_build_imports_nothing(home, release_server, mue_csv, tmp_path, monkeypatch):
    """SQLite's own disk-full error (max_page_count caps the new book) while the codebook is rebuilt."""
    archive = zip_members(tmp_path / "build.zip", {MUE: mue_csv})
    path = "/files/zip/build-full.zip"
    url = release_server.add(path, archive)
    book, before = opened(home), snapshot(home)
    real_connect = sqlite3.connect

    def connect(target, *args, **kwargs):
        conn = real_connect(target, *args, **kwargs)
        if ".tmp-" in str(target):  # the book being built (build.py writes <name>.tmp-<pid>)
            conn.execute("PRAGMA max_page_count=500")
        return conn

    monkeypatch.setattr(sqlite3, "connect", connect)
    error = one_failure(run(home, release_toml("t-build", url)), "t-build", url)
    assert "database or disk is full" in error and "serving codebook is unchanged" in error
    assert not list(home.glob("codebook.sqlite.tmp-*"))
    still_serving(home, before, book)
    monkeypatch.undo()
    fetched = len(release_server.requests(path))
    report = run(home, release_toml("t-build", url))  # the kept download is imported: no new request
    assert report.ok and len(release_server.requests(path)) == fetched


# --- several sources at once ---------------------------------------------------------------------------

def test_each_failing_source_gets_its_own_message_and_the_good_one_is_imported(home, release_server, mue_csv,
                                                                               tmp_path):
    good = release_server.add("/files/zip/good.zip", zip_members(tmp_path / "good.zip", {MUE: mue_csv}))
    lines = mue_csv.read_bytes().decode("cp1252").split("\r\n")
    lines[7] = lines[7].split(",", 1)[0] + ",ten," + lines[7].split(",", 2)[2]
    bad_name = "MCR_MUE_PractitionerServices_Eff_01-01-2026.csv"
    bad = release_server.add("/files/zip/bad-row.zip", zip_members(
        tmp_path / "bad.zip", {bad_name: "\r\n".join(lines).encode("cp1252")}))
    missing = release_server.url("/files/zip/gone.zip")
    book = opened(home)
    report = run(home, release_toml("t-good", good), release_toml("t-bad-row", bad, pattern=bad_name,
                                                                    effective="2026-01-01"),
                 release_toml("t-gone", missing, effective="2025-10-01"))
    errors = {f["id"]: (f["url"], f["error"]) for f in report.failed}
    assert set(errors) == {"t-bad-row", "t-gone"}
    assert errors["t-gone"][0] == missing and "404" in errors["t-gone"][1]
    assert errors["t-bad-row"][0] == bad
    assert re.match(rf"{re.escape(bad_name)}, line \d+: MUE value 'ten' for \w+ is not a whole number",
                    errors["t-bad-row"][1]), errors["t-bad-row"][1]
    assert "nothing of this release was imported" in errors["t-bad-row"][1]
    assert [r["id"] for r in report.imported] == ["t-good"]
    ledger = read_ledger(home / "sources")["releases"]
    assert "t-good" in ledger and "t-bad-row" not in ledger and "t-gone" not in ledger
    manifest = (home / "sources" / "manifest.json").read_text()
    assert bad_name not in manifest and MUE in manifest
    assert not book.is_current()  # rebuilt: the site reopens the new file
    new = open_book(home / "codebook.sqlite")
    assert new.mue("J0585", "practitioner", date(2026, 5, 1)).value == 800
    assert new.get("hcpcs", "G0180", date(2021, 6, 1)).title.startswith("Physician certification")


def test_one_update_at_a_time(home, release_server, mue_csv, tmp_path):
    url = release_server.add("/files/zip/locked.zip", zip_members(tmp_path / "locked.zip", {MUE: mue_csv}))
    with update.update_lock(home):
        with pytest.raises(update.UpdateBusy, match="another `medcode data update` is running"):
            run(home, release_toml("t-locked", url))
        check = run(home, release_toml("t-locked", url), dry_run=True)  # a check (no download) may run meanwhile
        assert [n.release.id for n in check.plan.missing] == ["t-locked"]
    with update.update_lock(home):  # released when the first update ends
        pass
    assert release_server.requests("/files/zip/locked.zip") == []


@pytest.mark.slow
def test_the_bomb_helper_is_really_2gb(bombs):
    """The bomb's stream, inflated in 1 MB steps without keeping it, is GB2 bytes of zeros."""
    with zipfile.ZipFile(bombs["declared"]) as zf, zf.open(zf.infolist()[0]) as fh:
        total = 0
        while chunk := fh.read(8 << 20):
            total += len(chunk)
    assert total == GB2

