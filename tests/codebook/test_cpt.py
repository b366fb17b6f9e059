"""CPT from a licensee's AMA data files, tested ONLY with the SYNTHETIC files in tests/fixtures/cpt_synthetic
(invented codes and wording, not CPT content: the project ships no CPT text)."""

from __future__ import annotations

import hashlib
import shutil
from datetime import date
from pathlib import Path

import pytest

from medcode.codebook import SourceError, open_book
from medcode.codebook.build import build
from medcode.codebook.record import CPT_NOTICE, code_record
from medcode.codebook.sources import cpt_licensed, detect
from medcode.codebook.writer import SourceFile

from test_hcpcs import synthetic_cm

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cpt_synthetic"
FILES = ("LONGULT.txt", "MEDU.txt", "SHORTU.txt", "MODUL.txt", "ConsumerDescriptor.txt", "ClinicianDescriptor.txt")
YEAR = date(2099, 1, 1)  # the synthetic files say "CPT year 2099" in their first line
ON = date(2099, 6, 1)


def rows(name: str) -> list[list[str]]:
    """The data lines of a fixture split at tabs, read here without the importer (header lines start
    with a letter, data lines with a code or a concept id)."""
    lines = (FIXTURES / name).read_text().splitlines()
    return [l.split("\t") for l in lines if "\t" in l and l[:1].isdigit()]


def build_cpt(tmp_path: Path, names=FILES, folder: Path = FIXTURES, **options) -> Path:
    dest = tmp_path / "book.sqlite"
    srcs = [synthetic_cm(tmp_path)] + [SourceFile(kind="cpt", path=folder / n, options=options) for n in names]
    build(dest, srcs, progress=False)
    return dest


@pytest.fixture(scope="module")
def cb(tmp_path_factory):
    return open_book(build_cpt(tmp_path_factory.mktemp("cpt")))


def test_fixtures_are_marked_synthetic():
    for name in FILES + ("README.txt",):
        first = (FIXTURES / name).read_text().splitlines()[0]
        assert first.startswith("SYNTHETIC TEST DATA") and "not AMA CPT content" in first, name
    for name in FILES:
        for parts in rows(name):
            assert parts[-1].lower().startswith(("synthetic", "synth")), (name, parts)


def test_files_are_recognised_by_name(tmp_path):
    for name in FILES:
        assert detect(FIXTURES / name) is cpt_licensed, name
    assert detect(FIXTURES / "README.txt") is None
    renamed = tmp_path / "notes.txt"
    shutil.copy(FIXTURES / "LONGULT.txt", renamed)
    assert detect(renamed) is None


def test_codes_and_titles_follow_longult(cb):
    longult = {code: text for code, text in rows("LONGULT.txt")}
    assert len(longult) == 4
    rel = cb.release_for("cpt", ON)
    assert rel.kind == "cpt" and rel.effective_from == YEAR and rel.name == "CPT 2099 (licensed AMA data files)"
    assert rel.counts["rows"] == len(longult)
    assert cb.count("cpt", ON) == len(longult)
    for code, text in longult.items():
        c = cb.get("cpt", code, ON)
        assert c.title == text and c.billable and c.status == "active" and c.valid_from == YEAR
    assert cb.find("cpt", "99901", "2098-12-31").status == "future"


def test_every_descriptor_is_on_the_record(cb):
    longult = dict(rows("LONGULT.txt"))
    medium, short = dict(rows("MEDU.txt")), dict(rows("SHORTU.txt"))
    consumer = {r[1]: r for r in rows("ConsumerDescriptor.txt")}
    clinician: dict[str, list] = {}
    for r in rows("ClinicianDescriptor.txt"):
        clinician.setdefault(r[1], []).append(r)
    for code in longult:
        rec = code_record(cb, "cpt", code, ON)
        block = rec["cpt"]
        assert block["licensed"] is True and block["notice"] is None
        d = block["descriptors"]
        assert d["long"] == longult[code] and d["medium"] == medium[code] and d["short"] == short[code]
        assert d["consumer"] == consumer[code][2] and d["concept_id"] == consumer[code][0]
        assert d.get("clinician", []) == [{"id": r[2], "text": r[3]} for r in clinician.get(code, [])]
    assert len(clinician["99901"]) == 2


def test_cpt_modifiers(cb):
    modul = dict(rows("MODUL.txt"))
    for code, text in modul.items():
        rec = code_record(cb, "modifier", code, ON)
        assert rec["title"] == text and rec["kind"] == "cpt_modifier"
        assert {k: rec["modifier"][k] for k in ("level", "guidance", "cpt_descriptor", "notice")} == \
            {"level": "CPT", "guidance": None, "cpt_descriptor": text, "notice": None}
    rel = next(r for r in cb.releases("modifier") if r.kind == "cpt_modifiers")
    assert rel.counts["rows"] == len(modul)


def test_a_later_year_replaces_titles_and_ends_dropped_codes(tmp_path):
    later = tmp_path / "later"
    later.mkdir()
    (later / "LONGULT_2100.txt").write_text(
        "SYNTHETIC TEST DATA for medcode: invented codes and wording, not AMA CPT content\n"
        "99901\tSynthetic procedure descriptor one, long form, with an invented qualifier\n"
        "99902\tSynthetic procedure descriptor two, revised long form\n"
        "99904\tSynthetic procedure descriptor five, long form\n")
    dest = tmp_path / "book.sqlite"
    build(dest, [synthetic_cm(tmp_path), SourceFile(kind="cpt", path=FIXTURES / "LONGULT.txt"),
                 SourceFile(kind="cpt", path=later / "LONGULT_2100.txt")], progress=False)
    b = open_book(dest)
    assert b.get("cpt", "99901", "2100-02-01").valid_from == YEAR  # unchanged: one version
    assert b.get("cpt", "99902", "2099-12-31").title.endswith("two, long form")
    assert b.get("cpt", "99902", "2100-01-01").title.endswith("two, revised long form")
    assert b.find("cpt", "99903", "2100-01-01").status == "deleted"
    assert b.get("cpt", "99904", "2100-01-01").valid_from == date(2100, 1, 1)
    assert b.release_for("cpt", "2099-12-31").effective_to == date(2099, 12, 31)


def test_the_folder_imports_as_a_user_would(tmp_path):
    from medcode.codebook.imports import import_paths

    result = import_paths([FIXTURES], tmp_path / "sources", tmp_path / "book.sqlite", progress=False)
    assert sorted(s.path.name.split("-", 1)[1] for s in result.added) == sorted(FILES)
    b = open_book(tmp_path / "book.sqlite")
    assert b.get("cpt", "0901T", ON).title == dict(rows("LONGULT.txt"))["0901T"]


def test_without_licensed_data_there_is_no_cpt_text(tmp_path):
    dest = tmp_path / "book.sqlite"
    build(dest, [synthetic_cm(tmp_path)], progress=False)
    b = open_book(dest)
    assert b.cpt_descriptors("99901", ON) == {} and b.find("cpt", "99901", ON) is None
    assert "AMA" in CPT_NOTICE


# --- bad files ---------------------------------------------------------------------------------------

HEAD = "SYNTHETIC TEST DATA for medcode, CPT year 2099: invented codes and wording, not AMA CPT content\n"


@pytest.mark.parametrize("name,body,line,say", [
    ("LONGULT.txt", "99901\tSynthetic one\n99902|Synthetic two\n", 3, "unknown separator '|' (pipe)"),
    ("LONGULT.txt", "99901,Synthetic one\n", 2, "unknown separator ',' (comma)"),
    ("SHORTU.txt", "99901\tSYNTH ONE\n99902\tSYNTH\tTWO\n", 3, "3 tab-separated columns, expected 2"),
    ("MEDU.txt", "99901\tSynthetic one\n99901\tSynthetic again\n", 3, "listed twice"),
    ("MODUL.txt", "9Y\tSynthetic modifier\n9Z\n", 3, "no descriptor"),
    ("LONGULT.txt", "99901\tSynthetic one\nnot a code line\n", 3, "does not start with a CPT code"),
    ("ConsumerDescriptor.txt", "Concept Id|CPT Code|Consumer Friendly Descriptor\n1|99901|Synthetic\n", 2,
     "not tab-delimited (separator '|' (pipe))"),
    ("ConsumerDescriptor.txt", "Concept Id\tCPT Code\tConsumer Friendly Descriptor\n1\t99901\n", 3,
     "2 tab-separated columns, the header has 3"),
    ("ClinicianDescriptor.txt", "Concept Id\tCPT Code\tClinician Descriptor Id\tClinician Descriptor\n"
                                "1;99901;2;Synthetic\n", 3, "unknown separator ';' (semicolon)"),
    ("ClinicianDescriptor.txt", "Concept Id\tCPT Code\tClinician Descriptor Id\tClinician Descriptor\n"
                                "1\tA9901\t2\tSynthetic\n", 3, "not a CPT code"),
])
def test_bad_files_are_refused_and_the_book_is_unchanged(tmp_path, name, body, line, say):
    good = build_cpt(tmp_path, names=("LONGULT.txt",))
    before = hashlib.sha256(good.read_bytes()).hexdigest()
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    (bad_dir / name).write_text(HEAD + body)
    with pytest.raises(SourceError) as err:
        build(good, [synthetic_cm(tmp_path), SourceFile(kind="cpt", path=FIXTURES / "LONGULT.txt"),
                     SourceFile(kind="cpt", path=bad_dir / name)], progress=False)
    message = str(err.value)
    assert str(bad_dir / name) in message and f":{line}:" in message and say in message, message
    assert hashlib.sha256(good.read_bytes()).hexdigest() == before
    assert open_book(good).get("cpt", "99901", ON).title.startswith("Synthetic procedure descriptor one")


def test_a_file_that_does_not_say_its_year_is_refused(tmp_path):
    nameless = tmp_path / "LONGULT.txt"
    nameless.write_text("99901\tSynthetic procedure descriptor one\n")
    with pytest.raises(SourceError) as err:
        build(tmp_path / "book.sqlite", [synthetic_cm(tmp_path), SourceFile(kind="cpt", path=nameless)],
              progress=False)
    assert "which CPT year" in str(err.value) and "LONGULT_2026.txt" in str(err.value)
    named = tmp_path / "LONGULT_2027.txt"
    shutil.copy(nameless, named)
    build(tmp_path / "book.sqlite", [synthetic_cm(tmp_path), SourceFile(kind="cpt", path=named)], progress=False)
    assert open_book(tmp_path / "book.sqlite").get("cpt", "99901", "2027-03-01").valid_from == date(2027, 1, 1)
