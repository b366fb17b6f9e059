"""The build is all or nothing: bad files give a clear error and the serving book stays as it was."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medcode.codebook import open_book
from medcode.codebook.sources.icd10cm_tabular import package_default

from shared_data import shared


def medcode(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "MEDCODE_HOME": str(home)}
    env.pop("MEDCODE_CODEBOOK", None)
    return subprocess.run([sys.executable, "-m", "medcode.cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def built_home(tmp_path_factory) -> Path:
    """A MEDCODE_HOME holding a book built from the packaged defaults."""
    home = tmp_path_factory.mktemp("home")
    result = medcode(home, "data", "build", "--quiet")
    assert result.returncode == 0, result.stderr
    return home


@pytest.fixture
def home(built_home, tmp_path) -> Path:
    """A private copy of the built home, so each test starts from the same good book."""
    import shutil

    dest = tmp_path / "home"
    shutil.copytree(built_home, dest)
    return dest


def test_build_writes_a_book_with_release_provenance(home):
    book = open_book(home / "codebook.sqlite")
    (release,) = [r for r in book.releases("icd10cm") if r.kind == "icd10cm_tabular"]
    src = package_default()
    assert release.sha256 == digest(src.path) and release.source == src.path.name
    assert release.effective_from.isoformat() == "2025-10-01"
    status = medcode(home, "data", "status", "--json")
    assert status.returncode == 0, status.stderr
    doc = json.loads(status.stdout)
    assert any(r["sha256"] == release.sha256 for r in doc["releases"])


def _truncated_tabular(tmp_path: Path) -> Path:
    text = package_default().path.read_bytes()[:400_000]
    bad = tmp_path / "icd10cm-tabular-truncated.xml"
    bad.write_bytes(text)
    return bad


@pytest.mark.parametrize("case", ["truncated", "empty", "fake_zip", "unknown", "wrong_system", "bad_zip_member"])
def test_bad_files_are_refused_and_the_book_is_unchanged(home, tmp_path, case):
    book_path = home / "codebook.sqlite"
    before = digest(book_path)
    manifest_before = (home / "sources" / "manifest.json").read_text() if (home / "sources" / "manifest.json").exists() else None
    if case == "truncated":
        bad = _truncated_tabular(tmp_path)
        expect = [bad.name, "not well-formed XML", ":"]
    elif case == "empty":
        bad = tmp_path / "empty.xml"
        bad.write_bytes(b"")
        expect = [bad.name, "empty"]
    elif case == "fake_zip":
        bad = tmp_path / "icd10cm-2026.zip"
        bad.write_bytes(b"this is not an archive\n" * 10)
        expect = [bad.name, "not a zip"]
    elif case == "unknown":
        bad = shared("icd10cm-2026-guidelines", "icd_10_cm_october_2025_guidelines_0.pdf")  # only its text is read
        expect = [bad.name, "not a release file medcode recognises"]
    elif case == "wrong_system":
        # synthetic: a tabular-shaped file whose codes are ICD-10-PCS codes, not ICD-10-CM
        bad = tmp_path / "tabular-wrong-system.xml"
        bad.write_text('<?xml version="1.0"?>\n<ICD10CM.tabular><version>2026</version>\n'
                       '<chapter><name>1</name><desc>Synthetic</desc><section id="A00-A09"><desc>S</desc>\n'
                       '<diag><name>0RRJ0JZ</name><desc>Synthetic title</desc></diag></section></chapter>\n'
                       '</ICD10CM.tabular>\n')
        expect = [bad.name, "0RRJ0JZ", "not an ICD-10-CM code", "diag[0RRJ0JZ]"]
    else:
        import zipfile

        bad = tmp_path / "escape.zip"
        with zipfile.ZipFile(bad, "w") as zf:
            zf.writestr("../../outside.xml", "<ICD10CM.tabular/>")
        expect = [bad.name, "outside the archive"]
    result = medcode(home, "data", "import", str(bad))
    assert result.returncode != 0
    for piece in expect:
        assert piece in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert str(home / "sources") not in result.stderr  # names the user's file, not medcode's stored copy
    assert digest(book_path) == before
    after = (home / "sources" / "manifest.json").read_text() if (home / "sources" / "manifest.json").exists() else None
    assert json.loads(after or "[]") == json.loads(manifest_before or "[]")
    assert not list((home / "sources").glob("*-" + bad.name))
    assert not list(home.glob("codebook.sqlite.tmp-*"))


def test_truncated_error_names_the_line(tmp_path):
    from medcode.codebook.build import build
    from medcode.codebook.errors import SourceError
    from medcode.codebook.writer import SourceFile

    bad = _truncated_tabular(tmp_path)
    with pytest.raises(SourceError) as err:
        build(tmp_path / "book.sqlite", [SourceFile(kind="icd10cm_tabular", path=bad)], progress=False)
    assert isinstance(err.value.where, int) and err.value.where > 1000
    assert not (tmp_path / "book.sqlite").exists()


def test_killed_build_leaves_the_previous_book_serving(home):
    book_path = home / "codebook.sqlite"
    before = digest(book_path)
    reader = open_book(book_path)
    env = {**os.environ, "MEDCODE_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "medcode.cli", "data", "build", "--quiet"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(home.glob("codebook.sqlite.tmp-*")):
        time.sleep(0.01)
    assert list(home.glob("codebook.sqlite.tmp-*")), "the build never started writing"
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert digest(book_path) == before
    assert reader.get("icd10cm", "E11.9").title  # the open book still answers
    assert open_book(book_path).get("icd10cm", "E11.9").code == "E11.9"
    # the next build clears the dead build's temp file and replaces the book atomically
    result = medcode(home, "data", "build", "--quiet")
    assert result.returncode == 0, result.stderr
    assert not list(home.glob("codebook.sqlite.tmp-*"))
    assert not reader.is_current()
    assert open_book(book_path) is not reader


def test_lookup_cli(home):
    ok = medcode(home, "lookup", "e11.9", "--json")
    assert ok.returncode == 0, ok.stderr
    doc = json.loads(ok.stdout)
    book = open_book(home / "codebook.sqlite")
    assert doc["code"] == "E11.9" and doc["title"] == book.get("icd10cm", "E11.9").title
    assert [h["code"] for h in doc["hierarchy"]] == [a.code for a in book.ancestors("icd10cm", "E11.9")]
    missing = medcode(home, "lookup", "K21.99")
    assert missing.returncode != 0 and "K21.99" in missing.stderr and "did you mean" in missing.stderr
    assert missing.stdout == ""
    bad_date = medcode(home, "lookup", "E11.9", "--date", "2026-02-30")
    assert bad_date.returncode != 0 and "YYYY-MM-DD" in bad_date.stderr
    bad_system = medcode(home, "lookup", "E11.9", "--system", "icd11")
    assert bad_system.returncode != 0 and "unknown code system" in bad_system.stderr
    text = medcode(home, "lookup", "S52.501A")
    assert text.returncode == 0 and "7th characters" in text.stdout


def test_missing_book_is_a_clear_error(tmp_path):
    result = medcode(tmp_path, "lookup", "E11.9")
    assert result.returncode != 0 and "medcode data build" in result.stderr and "Traceback" not in result.stderr


def test_build_if_stale_skips_an_up_to_date_book_and_rebuilds_after_an_import(home, tmp_path):
    """`make run` calls `data build --if-stale`: a second start must not rebuild minutes of tables."""
    book_path = home / "codebook.sqlite"
    before = digest(book_path)
    again = medcode(home, "data", "build", "--if-stale", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == {"path": str(book_path), "rebuilt": False}
    assert digest(book_path) == before

    from medcode.codebook.build import all_sources, is_stale
    from medcode.codebook.writer import SourceFile

    srcs = all_sources(home / "sources")
    assert not is_stale(book_path, srcs)
    extra = tmp_path / "other.xml"
    extra.write_text("<synthetic/>")
    assert is_stale(book_path, srcs + [SourceFile(kind="icd10cm_tabular", path=extra)])  # a new input
    assert is_stale(tmp_path / "missing.sqlite", srcs)
    (tmp_path / "junk.sqlite").write_bytes(b"not a database")
    assert is_stale(tmp_path / "junk.sqlite", srcs)
