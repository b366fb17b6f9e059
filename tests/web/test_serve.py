"""`medcode serve` as a user runs it: migrate, then gunicorn, answering over real HTTP."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.utils.html import escape


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def medcode_command() -> list[str]:
    script = shutil.which("medcode", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "medcode.cli"]


def fetch(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.fixture
def served(tmp_path, codebook_file):
    """The site on a free port, with its own MEDCODE_HOME (so its own SQLite app database)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(MEDCODE_HOME=str(tmp_path / "home"), MEDCODE_CODEBOOK=str(codebook_file))
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([*medcode_command(), "serve", "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"medcode serve exited {proc.returncode}:\n{(tmp_path / 'serve.log').read_text()}")
            try:
                if fetch(base + "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no answer on {base}/healthz:\n{(tmp_path / 'serve.log').read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.mark.slow  # ~5 s of migrate and gunicorn start; always SQLite, so the PostgreSQL run skips it
def test_serve_answers_health_and_code_pages(served, book, tmp_path):
    status, body = fetch(served + "/healthz")
    assert status == 200 and json.loads(body)["ok"] is True
    assert (tmp_path / "home" / "medcode.db").exists(), "serve did not migrate its own app database"

    status, body = fetch(served + "/codes/icd10cm/E11.9")
    assert status == 200
    title = book.get("icd10cm", "E11.9").title
    assert f"<title>E11.9 {escape(title)} · medcode</title>" in body

    status, body = fetch(served + "/codes/icd10cm/e119?date=2026-05-01")  # urllib follows the redirect
    assert status == 200 and escape(title) in body
    assert fetch(served + "/codes/icd10cm/K21.99")[0] == 404
