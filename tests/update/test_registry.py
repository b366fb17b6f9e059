"""The registry of official releases (data in the package) and the operator's settings file: what it
covers, that its patterns and layouts fit the real official files, how a plan is made from it, and
that a bad settings file is refused with the file and entry named."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from official_packs import SHARED_DATA

from medcode.codebook import sources as source_modules
from medcode.codebook.update import REGISTRY, RegistryError, load_registry, plan_update, settings_file

TODAY = date(2026, 11, 27)


def test_registry_is_packaged_data():
    import tomllib

    assert REGISTRY.name == "registry.toml" and REGISTRY.parent.name == "codebook"
    tomllib.loads(REGISTRY.read_text())
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"**/*.toml"' in pyproject  # shipped in the wheel (package-data)


def test_registry_covers_every_code_set_with_official_addresses(packaged_registry):
    rels = packaged_registry.releases
    assert len({r.id for r in rels}) == len(rels)
    for r in rels:
        for f in r.files:
            host = urlsplit(f.url).hostname
            assert urlsplit(f.url).scheme == "https" and (host.endswith("cms.gov") or host.endswith("cdc.gov")), f.url
        if r.fetch:
            assert r.files and all(f.members for f in r.files), r.id
    importers = {m.importer for r in rels for f in r.files for m in f.members}
    assert {"icd10cm_tabular", "icd10cm_index", "icd10cm_addenda", "icd10cm_guidelines", "icd10pcs_tables",
            "icd10pcs_index", "icd10pcs_definitions", "hcpcs_anweb", "hcpcs_noc", "ncci_ptp", "ncci_mue",
            "ncci_aoc", "pfs_rvu", "pfs_gpci"} <= importers
    series = {r.series for r in rels}
    assert {"icd10cm", "icd10cm-guidelines", "icd10pcs", "hcpcs", "ncci-ptp-practitioner", "ncci-ptp-hospital",
            "ncci-mue", "ncci-aoc", "pfs-rvu", "pos"} <= series
    months = {r.effective_from.month for r in rels if r.series == "hcpcs" and r.effective_from.year == 2025}
    assert months == {1, 4, 7, 10}  # quarterly
    mue = next(r for r in rels if r.id == "ncci-mue-2026q2")
    assert {m.system for f in mue.files for m in f.members} == {"ncci-practitioner", "ncci-hospital", "ncci-dme"}
    assert all(r.cumulative for r in rels if r.series.startswith("ncci-ptp"))
    pos = next(r for r in rels if r.system == "pos")
    assert not pos.fetch and "medcode data import" in pos.reason and pos.page.startswith("https://www.cms.gov/")


@pytest.mark.parametrize("release, official_file", [
    ("hcpcs-2020-jan", "hcpcs-2020-anweb/HCPC2020_ANWEB_w_disclaimer.txt"),
    ("icd10pcs-fy2026", "icd10pcs-2026-tables/icd10pcs_tables_2026.xml"),
    ("icd10pcs-fy2026", "icd10pcs-2026-tables/icd10pcs_definitions_2026.xml"),
    ("icd10pcs-fy2025", "icd10pcs-2025-index/icd10pcs_index_2025.xml"),
    ("icd10pcs-fy2025", "icd10pcs-2025-index/icd10pcs_definitions_2025.xml"),
    ("icd10cm-2025-apr", "icd10cm-2025-index-tables/icd-10-cm-drug-2025.xml"),
    ("icd10cm-2025-apr", "icd10cm-2025-index-tables/icd-10-cm-neoplasm-2025.xml"),
    ("icd10cm-2025-apr", "icd10cm-2025-index-tables/icd-10-cm-eindex-2025.xml"),
    ("icd10cm-fy2027", "icd10cm-2027-addenda/icd10cm_codes_addenda_2027.txt"),
    ("pfs-rvu26b", "pfs-rvu-2026-apr/PPRRVU2026_Apr_nonQPP.txt"),
    ("pfs-rvu26b", "pfs-rvu-2026-apr/GPCI2026.csv"),
])
def test_patterns_and_importers_fit_the_real_official_files(packaged_registry, release, official_file):
    """Exactly one member of the release is named like the real file, and its importer reads that file."""
    path = SHARED_DATA / official_file
    if not path.exists():
        pytest.skip(f"official data not available: {path}")
    rel = packaged_registry.get(release)
    hits = [m for f in rel.files for m in f.members if m.matches(path.name)]
    assert len(hits) == 1, (release, path.name, hits)
    assert source_modules.detect(path).KIND == hits[0].importer


@pytest.mark.parametrize("release, name", [
    ("ncci-mue-2026q2", "MCR_MUE_PractitionerServices_Eff_04-01-2026.csv"),  # names CMS gives the files
    ("ncci-aoc-2026q3", "AOC_V2026Q3-F-MCR.txt"),
    ("ncci-ptp-practitioner-2024q3", "ccipra-v302r0-f1.txt"),
    ("ncci-ptp-hospital-2024q3", "ccioph-v302r0-f4.txt"),
    ("icd10cm-guidelines-fy2026", "fy-2026-icd-10-cm-coding-guidelines.pdf"),
    ("hcpcs-2025-jul", "HCPC2025_JUL_ANWEB_v3.txt"),
])
def test_patterns_fit_the_official_file_names(packaged_registry, release, name):
    rel = packaged_registry.get(release)
    assert len([m for f in rel.files for m in f.members if m.matches(name)]) == 1


def test_each_release_is_in_effect_until_the_next_of_its_series(packaged_registry):
    get = packaged_registry.get
    assert get("hcpcs-2026-jan").effective_to == date(2026, 3, 31)
    assert get("icd10cm-fy2026").effective_to == date(2026, 3, 31)  # the April 2026 update follows
    assert get("icd10cm-guidelines-fy2026").effective_to == date(2026, 9, 30)
    assert get("pfs-rvu26d").effective_to is None  # the newest stays in effect


# --- plans -------------------------------------------------------------------------------------------

def test_plan_against_a_book_built_from_the_official_files(codebook_file, tmp_path):
    """The test codebook (built by `medcode data import` from ../shared/data) already holds some releases:
    the registry's (system, kind, date) per member must recognise them, and only what it lacks is fetched."""
    (tmp_path / "sources").mkdir()
    registry = load_registry(_settings(tmp_path, "[update]\nyears = 30\n"))  # 2020 is in the window too
    plan = plan_update(registry, sources_dir=tmp_path / "sources", book_path=codebook_file, today=TODAY,
                       only=["hcpcs-2020-jan", "icd10pcs-fy2026", "ncci-ptp-practitioner-2024q3",
                             "ncci-ptp-hospital-2024q3", "icd10cm-guidelines-fy2026", "pfs-rvu26b"])
    held = {r.id for r in plan.held}
    assert {"hcpcs-2020-jan", "ncci-ptp-practitioner-2024q3", "ncci-ptp-hospital-2024q3",
            "icd10cm-guidelines-fy2026"} <= held
    missing = {n.release.id: n for n in plan.missing}
    # PCS FY2026: the book has the tables and definitions, not the FY2026 index
    assert [m.importer for _, m in missing["icd10pcs-fy2026"].members] == ["icd10pcs_index"]
    # RVU26B: the book has the non-QPP file and the 2026 GPCIs, not the QPP file
    assert [(m.importer, m.system) for _, m in missing["pfs-rvu26b"].members] == [("pfs_rvu", "pfs-qpp")]


def test_window_cumulative_series_and_releases_to_get_by_hand(packaged_registry, tmp_path):
    plan = plan_update(packaged_registry, sources_dir=tmp_path, book_path=tmp_path / "none.sqlite", today=TODAY)
    assert (plan.since, plan.until) == (date(2023, 11, 27), TODAY)
    ids = {n.release.id for n in plan.missing}
    assert "hcpcs-2023-oct" in ids and "hcpcs-2026-oct" in ids and "hcpcs-2020-jan" not in ids
    assert {"ncci-ptp-practitioner-2026q4", "ncci-ptp-hospital-2026q4"} <= ids  # the newest edit files only
    assert not any(i.startswith("ncci-ptp") and not i.endswith("2026q4") for i in ids)
    assert "ncci-ptp-practitioner-2024q3" in {r.id for r in plan.superseded}
    assert "pos-current" in {r.id for r in plan.by_hand}
    # the April updates bring the fiscal year's tables: the October releases add nothing more here
    assert {"icd10cm-fy2025", "icd10cm-fy2026"} <= {r.id for r in plan.covered}
    assert "icd10cm-fy2027" in ids  # no later update of FY2027 yet


def test_only_takes_code_sets_and_release_ids(packaged_registry, tmp_path):
    from medcode.codebook.errors import CodebookError

    plan = plan_update(packaged_registry, sources_dir=tmp_path, book_path=tmp_path / "x", today=TODAY,
                       only=["pcs", "hcpcs-2026-oct"])
    assert {n.release.system for n in plan.missing} == {"icd10pcs", "hcpcs"}
    assert [n.release.id for n in plan.missing if n.release.system == "hcpcs"] == ["hcpcs-2026-oct"]
    with pytest.raises(CodebookError, match="--only lab: no code set or release of that name"):
        plan_update(packaged_registry, sources_dir=tmp_path, book_path=tmp_path / "x", only=["lab"])


# --- the operator's settings file ------------------------------------------------------------------

def _settings(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text)
    return path


def test_addresses_are_overridden_by_release_id_or_by_address(tmp_path):
    path = _settings(tmp_path, '''
[addresses]
"hcpcs-2026-oct" = "https://mirror.example.org/oct.zip"
"https://www.cms.gov/files/zip/rvu26d.zip" = "http://mirror.example.org/rvu26d.zip"
''')
    reg = load_registry(path)
    assert reg.get("hcpcs-2026-oct").files[0].url == "https://mirror.example.org/oct.zip"
    assert reg.get("hcpcs-2026-oct").files[0].name == "october-2026-alpha-numeric-hcpcs-file.zip"
    assert reg.get("pfs-rvu26d").files[0].url == "http://mirror.example.org/rvu26d.zip"
    assert reg.files == [str(REGISTRY), str(path)]


def test_a_release_is_added_or_replaced_and_the_packaged_registry_can_be_left_out(tmp_path):
    text = '''
[[release]]
id = "hcpcs-2027-jan"
series = "hcpcs"
system = "hcpcs"
title = "HCPCS Level II, January 2027"
effective_from = 2027-01-01
[[release.file]]
url = "https://www.cms.gov/files/zip/january-2027-alpha-numeric-hcpcs-file.zip"
members = [{ pattern = "HCPC2027_JAN_ANWEB*.txt", importer = "hcpcs_anweb" }]
'''
    reg = load_registry(_settings(tmp_path, text))
    new = reg.get("hcpcs-2027-jan")
    assert new.defined_in.endswith("sources.toml") and reg.get("hcpcs-2026-oct").effective_to == date(2026, 12, 31)
    assert new.files[0].members[0].kinds == ("hcpcs_anweb",) and new.files[0].members[0].system == "hcpcs"
    alone = load_registry(_settings(tmp_path, "[update]\nuse_packaged = false\nyears = 1\n" + text))
    assert [r.id for r in alone.releases] == ["hcpcs-2027-jan"] and alone.settings.years == 1
    replaced = load_registry(_settings(tmp_path, text.replace("hcpcs-2027-jan", "hcpcs-2026-oct")
                                       .replace("2027-01-01", "2026-10-01")))
    assert replaced.get("hcpcs-2026-oct").title == "HCPCS Level II, January 2027"


def test_the_settings_file_comes_from_the_environment_or_the_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDCODE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MEDCODE_SOURCES_FILE", raising=False)
    assert settings_file() is None
    (tmp_path / "home").mkdir(exist_ok=True)
    (tmp_path / "home" / "sources.toml").write_text("[update]\nyears = 2\n")
    assert settings_file() == tmp_path / "home" / "sources.toml"
    assert load_registry().settings.years == 2
    other = _settings(tmp_path, "[update]\nyears = 5\n")
    monkeypatch.setenv("MEDCODE_SOURCES_FILE", str(other))
    assert load_registry().settings.years == 5
    monkeypatch.setenv("MEDCODE_SOURCES_FILE", str(tmp_path / "nope.toml"))
    with pytest.raises(RegistryError, match="MEDCODE_SOURCES_FILE=.*nope.toml: no such file"):
        load_registry()


_GOOD = '''
[[release]]
id = "t-one"
system = "ncci"
title = "one"
effective_from = 2026-01-01
[[release.file]]
url = "https://example.org/a.zip"
members = [{ pattern = "a.csv", importer = "ncci_mue" }]
'''


@pytest.mark.parametrize("text, expect", [
    ("years = [", "not valid TOML"),
    ("[updates]\nyears = 3\n", "unknown key(s) updates"),
    ("[update]\nyears = 'three'\n", "[update]: 'years' must be a whole number of years"),
    ("[update]\nyears = 3\nproxy = 'x'\n", "[update]: unknown key(s) proxy"),
    ('[addresses]\n"no-such-release" = "https://x.org/a.zip"\n', "'no-such-release' is neither a release id nor an address"),
    ('[addresses]\n"ncci-mue-2026q2" = "https://x.org/a.zip"\n', "that release has 3 files; name the file by its address"),
    ('[addresses]\n"hcpcs-2026-oct" = "ftp://x.org/a.zip"\n', "must be an http(s) address"),
    (_GOOD.replace('id = "t-one"', 'id = "T One"'), "'id' must be lower-case letters"),
    (_GOOD.replace('id = "t-one"\n', ""), "release 1: 'id' is required"),
    (_GOOD.replace("2026-01-01", '"January 2026"'), "(t-one): 'effective_from' must be a date (YYYY-MM-DD)"),
    (_GOOD + "effective_to = 2025-01-01\n", "unknown key(s) effective_to"),  # after [[release.file]]: a file key
    (_GOOD.replace('title = "one"', 'title = "one"\neffective_to = 2025-01-01'), "on or after effective_from"),
    (_GOOD.replace('system = "ncci"', 'system = "lab"'), "'system' must be icd10cm or icd10pcs"),
    (_GOOD.replace('"ncci_mue"', '"ncci_mues"'), "importer 'ncci_mues' does not exist"),
    (_GOOD.replace("https://example.org/a.zip", "file:///etc/passwd"), "'url' must be an http(s) address"),
    (_GOOD.replace("members = [{ pattern", "members = [{ colour = 1, pattern"), "member 1: unknown key(s) colour"),
    (_GOOD.replace('members = [{ pattern = "a.csv", importer = "ncci_mue" }]', "members = []"),
     "'members' must list at least one member"),
    (_GOOD + _GOOD, "release id 't-one' is listed twice"),
    (_GOOD + _GOOD.replace("t-one", "t-two").replace('system = "ncci"', 'system = "ncci"\nseries = "t-one"'),
     "of series 't-one' both start 2026-01-01"),
    (_GOOD.replace('title = "one"', 'title = "one"\nfetch = false'), "'fetch = false' needs a 'reason'"),
    ('[[release]]\nid = "t-x"\nsystem = "ncci"\ntitle = "x"\neffective_from = 2026-01-01\nfile = "x"\n',
     "'file' must be a list"),
    (_GOOD.replace('pattern = "a.csv"', 'pattern = "a.csv", convert = "ocr"'), "'convert' must be 'pdf-text'"),
    (_GOOD.replace("https://example.org/a.zip", "https://example.org/"), "ends in no file name"),
])
def test_a_bad_settings_file_is_refused_with_the_file_and_entry_named(tmp_path, text, expect):
    path = _settings(tmp_path, text)
    with pytest.raises(RegistryError) as err:
        load_registry(path)
    assert str(path) in str(err.value) and expect in str(err.value), str(err.value)
