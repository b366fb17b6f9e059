"""`medcode data update` end to end, as a new user meets it: a fresh MEDCODE_HOME, the packaged codebook
served at once, the update (what `make run` starts) pointed at a loopback server holding the official
archives, then the same running site shows HCPCS, PCS and NCCI data without any manual import."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx
import pytest

from official_packs import medcode, serve

pytestmark = pytest.mark.slow  # a real site, a worker and an update in their own processes

ROOT = Path(__file__).resolve().parents[2]
# Packaged registry entries served faithfully, plus test releases (see official_packs.py).
RELEASES = ["hcpcs-2020-jan", "t-hcpcs-2025-jul-list", "t-icd10pcs-2026", "ncci-ptp-practitioner-2024q3",
            "ncci-mue-2024q3", "t-ncci-mue-2026q2"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, path: str) -> httpx.Response:
    return httpx.get(url + path, timeout=30, follow_redirects=True)


@pytest.fixture(scope="module")
def new_user(tmp_path_factory, packs, release_server, packaged_registry):
    home = tmp_path_factory.mktemp("new-user")
    (home / "sources.toml").write_text(serve(release_server, packs, packaged_registry, RELEASES))
    built = medcode(home, "data", "build", "--quiet")  # what `make run` does first (the codebook target)
    assert built.returncode == 0, built.stderr
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    site = subprocess.Popen([sys.executable, "-m", "medcode.cli", "serve", "--port", str(port), "--workers", "1"],
                            env={**{k: v for k, v in os.environ.items() if k not in ("MEDCODE_CODEBOOK",)},
                                 "MEDCODE_HOME": str(home), "DATABASE_URL": "", "MEDCODE_QUOTA_GUEST": "1000"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(300):
            try:
                if _get(url, "/healthz/ping").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("medcode serve did not start")
        before = {"cm": _get(url, "/codes/icd10cm/E11.9"), "hcpcs": _get(url, "/codes/hcpcs/G0180")}
        only = [a for r in RELEASES for a in ("--only", r)]
        started = len(release_server.log)
        update = medcode(home, "data", "update", "--if-online", "--json", *only)
        yield {"home": home, "url": url, "before": before, "update": update,
               "requests": release_server.log[started:], "server": release_server}
    finally:
        site.terminate()
        site.wait(timeout=30)


def test_packaged_data_is_served_at_once(new_user):
    assert new_user["before"]["cm"].status_code == 200 and "E11.9" in new_user["before"]["cm"].text
    assert new_user["before"]["hcpcs"].status_code == 404  # not before the update


def test_update_downloads_checks_imports_and_records_each_file(new_user, packs):
    run = new_user["update"]
    assert run.returncode == 0, run.stderr + run.stdout
    doc = json.loads(run.stdout)
    assert doc["failed"] == []
    assert sorted(r["id"] for r in doc["imported"]) == sorted(RELEASES)
    served = {name: path for key in RELEASES for name, path in packs.get(key).items()}
    for rel in doc["imported"]:
        for f in rel["files"]:
            local = served[f["name"]]
            assert f["size"] == local.stat().st_size
            assert f["sha256"] == hashlib.sha256(local.read_bytes()).hexdigest()
            assert f["url"].startswith(f"http://127.0.0.1:{new_user['server'].port}/")
    assert all(r[3] == 200 for r in new_user["requests"]), new_user["requests"]
    assert len(new_user["requests"]) == len(served)  # each archive fetched once
    home = new_user["home"]
    assert not any((home / "downloads").glob("*/*.zip"))  # imported: the sources folder keeps the copies
    assert doc["codebook"] == str(home / "codebook.sqlite")


def test_lookups_on_dates_in_each_release(new_user):
    from medcode.codebook import open_book

    book = open_book(new_user["home"] / "codebook.sqlite")
    # HCPCS: the 2020 annual file, then the July 2025 list (new titles, new codes)
    old = book.get("hcpcs", "G0180", date(2021, 6, 1))
    new = book.get("hcpcs", "G0180", date(2025, 8, 1))
    assert old.title.startswith("Physician certification") and "January 2020" in old.release
    assert new.title.startswith("Physician or allowed practitioner certification") and "July 2025" in new.release
    assert book.find("hcpcs", "G0011", date(2021, 6, 1)).status == "future"
    assert book.get("hcpcs", "G0011", date(2025, 8, 1)).status == "active"
    # ICD-10-PCS FY2026 tables
    pcs = book.get("icd10pcs", "0DTJ4ZZ", date(2025, 11, 1))
    assert pcs.title == "Resection of Appendix, Percutaneous Endoscopic Approach" and pcs.status == "active"
    # NCCI: the 2024 Q3 practitioner PTP edits, and the MUE tables of 2024 Q3 and 2026 Q2
    edit = book.ptp_edit("G0102", "36591", "practitioner", date(2024, 8, 1))
    assert edit is not None and edit.modifier == 0 and edit.active_on(date(2024, 8, 1))
    assert book.mue("J0585", "practitioner", date(2024, 8, 1)).value == 600
    assert book.mue("J0585", "practitioner", date(2026, 5, 1)).value == 800
    assert book.mue("J0585", "hospital", date(2024, 8, 1)) is not None  # all three 2024 Q3 tables


def test_the_running_site_shows_the_new_data_without_a_restart(new_user):
    url = new_user["url"]
    hcpcs = _get(url, "/codes/hcpcs/G0180?date=2025-08-01")
    assert hcpcs.status_code == 200 and "Physician or allowed practitioner certification" in hcpcs.text
    pcs = _get(url, "/codes/icd10pcs/0DTJ4ZZ")
    assert pcs.status_code == 200 and "Resection of Appendix, Percutaneous Endoscopic Approach" in pcs.text
    pair = _get(url, "/codes/hcpcs/G0102?date=2024-08-01")
    assert pair.status_code == 200
    edits = pair.text[pair.text.index('id="ptp-h"'):]
    assert "36591" in edits[:edits.index('id="mue-h"')]


def test_status_lists_every_release_with_its_dates_and_address(new_user):
    got = medcode(new_user["home"], "data", "status", "--json")
    assert got.returncode == 0, got.stderr
    doc = json.loads(got.stdout)
    origins = {r["origin"] for r in doc["releases"]}
    assert origins == {"packaged", "downloaded"}
    port = new_user["server"].port
    anweb = next(r for r in doc["releases"] if r["kind"] == "hcpcs_anweb" and r["system"] == "hcpcs")
    assert anweb["effective_from"] == "2020-01-01" and anweb["effective_to"] == "2025-06-30"
    assert anweb["url"] == f"http://127.0.0.1:{port}/files/zip/2020-alpha-numeric-hcpcs-file.zip"
    assert anweb["release"] == "hcpcs-2020-jan"
    assert doc["last_update_check"]["imported"] and not doc["last_update_check"]["failed"]
    text = medcode(new_user["home"], "data", "status")
    assert f"downloaded from http://127.0.0.1:{port}/files/zip/2020-alpha-numeric-hcpcs-file.zip" in text.stdout


def test_a_second_run_finds_nothing_missing(new_user):
    srv = new_user["server"]
    started = len(srv.log)
    only = [a for r in RELEASES for a in ("--only", r)]
    again = medcode(new_user["home"], "data", "update", "--json", *only)
    assert again.returncode == 0, again.stderr
    doc = json.loads(again.stdout)
    assert doc["missing"] == [] and doc["imported"] == [] and len(doc["held"]) == len(RELEASES)
    assert srv.log[started:] == []  # nothing downloaded


def test_registry_says_how_the_book_records_each_release(new_user, packaged_registry, tmp_path):
    """Without the update's own record, the book alone shows every served release as held: the
    registry's (system, kind, date) for each member match what the importers wrote."""
    from medcode.codebook.update import load_registry, plan_update

    home = new_user["home"]
    sources = tmp_path / "sources"
    sources.mkdir()
    shutil.copy(home / "sources" / "manifest.json", sources / "manifest.json")  # no updates.json
    registry = load_registry(home / "sources.toml")
    plan = plan_update(registry, sources_dir=sources, book_path=home / "codebook.sqlite", only=RELEASES)
    assert [n.release.id for n in plan.missing] == []
    assert sorted(r.id for r in plan.held) == sorted(RELEASES)


def test_make_run_on_a_fresh_home_serves_at_once_then_the_official_data(tmp_path, packs, release_server,
                                                                          packaged_registry):
    """The README's first command on a fresh MEDCODE_HOME, the settings file pointing at the local server:
    the site answers with the packaged data while the update runs, then shows HCPCS, PCS and NCCI data
    without anyone importing anything."""
    home = tmp_path / "home"
    home.mkdir()
    only = ", ".join(f'"{r}"' for r in RELEASES)
    text = serve(release_server, packs, packaged_registry, RELEASES)
    (home / "sources.toml").write_text(text.replace("[update]\n", f"[update]\nonly = [{only}]\n", 1))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("MEDCODE_CODEBOOK", "MEDCODE_SOURCES_FILE",
                                                            "MEDCODE_OFFLINE", "DATABASE_URL")}
    env.update(MEDCODE_HOME=str(home), MEDCODE_QUOTA_GUEST="1000", MEDCODE_SCHEDULER_INTERVAL="1")
    log = open(tmp_path / "make-run.log", "w")
    # -o: the venv is installed already (never reinstall the shared one from a test)
    make = subprocess.Popen(["make", "-o", ".venv/.installed", "run", f"PORT={port}"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if _get(url, "/healthz/ping").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and make.poll() is None, (tmp_path / "make-run.log").read_text()
            time.sleep(0.5)
        first = _get(url, "/codes/icd10cm/E11.9")
        assert first.status_code == 200 and "E11.9" in first.text  # packaged data, served at once
        deadline = time.monotonic() + 600
        while True:
            page = _get(url, "/codes/hcpcs/G0180?date=2025-08-01")
            if page.status_code == 200:
                break
            assert time.monotonic() < deadline, (tmp_path / "make-run.log").read_text()
            time.sleep(2)
        assert "Physician or allowed practitioner certification" in page.text
        pcs = _get(url, "/codes/icd10pcs/0DTJ4ZZ")
        assert pcs.status_code == 200 and "Resection of Appendix" in pcs.text
        pair = _get(url, "/codes/hcpcs/G0102?date=2024-08-01").text
        edits = pair[pair.index('id="ptp-h"'):]
        assert "36591" in edits[:edits.index('id="mue-h"')]
        ledger = json.loads((home / "sources" / "updates.json").read_text())
        assert sorted(ledger["releases"]) == sorted(RELEASES)  # all fetched by the update, none imported by hand
        status = json.loads(medcode(home, "data", "status", "--json").stdout)
        assert {r["origin"] for r in status["releases"]} == {"packaged", "downloaded"}
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        make.wait(timeout=60)
        log.close()
