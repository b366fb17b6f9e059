"""`medcode data update` on the command line: offline first runs, dry runs, failures and exit codes, and
`make run` starting it beside the site."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from official_packs import medcode

ROOT = Path(__file__).resolve().parents[2]


def _settings(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "sources.toml").write_text(text)
    return home


def _release(rid: str, url: str) -> str:
    return f'''
[[release]]
id = "{rid}"
system = "ncci"
title = "Test release {rid}"
effective_from = 2026-04-01
[[release.file]]
url = "{url}"
members = [{{ pattern = "MCR_MUE_PractitionerServices_Eff_04-01-2026*.csv", importer = "ncci_mue", system = "ncci-practitioner" }}]
'''


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once it is closed


HEAD = "[update]\nyears = 30\nuse_packaged = false\n"


def test_offline_first_run_serves_the_packaged_data_and_says_how_to_import(tmp_path, release_server):
    home = _settings(tmp_path / "home", HEAD + _release("t-offline", release_server.url("/files/zip/off.zip")))
    seen = len(release_server.log)
    got = medcode(home, "data", "update", "--if-online", env={"MEDCODE_OFFLINE": "1"})
    assert got.returncode == 0, got.stderr
    assert "MEDCODE_OFFLINE is set" in got.stderr and "medcode data import PATH" in got.stderr
    assert release_server.log[seen:] == []  # nothing was asked of the network
    plain = medcode(home, "data", "update", env={"MEDCODE_OFFLINE": "1"})
    assert plain.returncode == 2 and "medcode data import PATH" in plain.stderr


def test_unreachable_sources_count_as_offline_for_the_first_run(tmp_path):
    port = _closed_port()
    home = _settings(tmp_path / "home", HEAD + _release("t-unreachable", f"http://127.0.0.1:{port}/a.zip"))
    got = medcode(home, "data", "update", "--if-online", "--json")
    assert got.returncode == 0, got.stderr
    doc = json.loads(got.stdout)
    assert doc["offline"] is True and f"127.0.0.1:{port}" in doc["message"]
    assert "medcode data import PATH" in doc["message"]
    assert not (home / "codebook.sqlite").exists() and not (home / "downloads").exists()


def test_dry_run_lists_what_is_missing_and_where_it_comes_from(tmp_path, release_server):
    url = release_server.url("/files/zip/dry.zip")
    home = _settings(tmp_path / "home", HEAD + _release("t-dry", url))
    seen = len(release_server.log)
    got = medcode(home, "data", "update", "--dry-run", "--json")
    assert got.returncode == 0, got.stderr
    doc = json.loads(got.stdout)  # exactly one JSON document
    (missing,) = doc["missing"]
    assert missing["id"] == "t-dry" and missing["files"][0]["url"] == url
    assert missing["files"][0]["members"][0]["importer"] == "ncci_mue"
    assert doc["dry_run"] is True and doc["imported"] == [] and release_server.log[seen:] == []
    text = medcode(home, "data", "update", "--dry-run")
    assert "missing  t-dry" in text.stdout and url in text.stdout


def test_a_failed_source_is_named_with_its_address_and_the_exit_code_says_so(tmp_path, release_server):
    url = release_server.url("/files/zip/cli-missing.zip")
    home = _settings(tmp_path / "home", HEAD + _release("t-gone", url))
    got = medcode(home, "data", "update", "--only", "t-gone")
    assert got.returncode == 1
    assert f"FAILED t-gone (Test release t-gone): {url}: the server answered 404" in got.stderr
    as_json = json.loads(medcode(home, "data", "update", "--json").stdout)
    assert as_json["failed"][0]["id"] == "t-gone" and as_json["failed"][0]["url"] == url


@pytest.mark.parametrize("args, text, expect", [
    (["--only", "lab"], HEAD, "--only lab: no code set or release of that name"),
    ([], "[update]\nyears = 'many'\n", "'years' must be a whole number of years"),
    ([], "[addresses]\n\"nope\" = \"https://x.org/a.zip\"\n", "'nope' is neither a release id nor an address"),
])
def test_bad_options_and_settings_are_refused_clearly(tmp_path, args, text, expect):
    home = _settings(tmp_path / "home", text)
    got = medcode(home, "data", "update", "--dry-run", *args)
    assert got.returncode == 2 and got.stderr.startswith("medcode: ") and expect in got.stderr, got.stderr
    assert "Traceback" not in got.stderr


def test_make_run_starts_the_update_beside_the_site():
    got = subprocess.run(["make", "-n", "run", "MEDCODE=medcode"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert got.returncode == 0, got.stderr
    lines = got.stdout.replace("\\\n", "").splitlines()
    (run,) = [ln for ln in lines if "medcode serve" in ln and "trap" in ln]
    update, serve = run.index("medcode data update --if-online &"), run.index("medcode serve")
    assert update < serve  # in the background: the site serves the packaged data at once
