"""`medcode search TEXT [--json]`: the API's document on stdout, errors on stderr with a non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def run(codebook_file, *args):
    env = {**os.environ, "MEDCODE_CODEBOOK": str(codebook_file)}
    return subprocess.run([sys.executable, "-m", "medcode.cli", "search", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_json_is_the_api_shape(codebook_file):
    proc = run(codebook_file, "heart", "attack", "--json", "--date", "2026-05-01", "--limit", "3")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) == {"query", "corrected_query", "results"}
    assert doc["query"] == "heart attack" and len(doc["results"]) == 3
    assert doc["results"][0]["code"] == "I21.9"


def test_text_output_says_did_you_mean(codebook_file):
    proc = run(codebook_file, "gastritus", "--date", "2026-05-01", "--system", "icd10cm", "--billable", "yes")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "did you mean: gastritis"
    assert "K29.70" in proc.stdout


def test_bad_limit_fails_with_a_message(codebook_file):
    proc = run(codebook_file, "asthma", "--limit", "0")
    assert proc.returncode != 0
    assert "limit" in proc.stderr and proc.stdout == ""


def test_nothing_found_is_not_a_failure(codebook_file):
    proc = run(codebook_file, "\U0001f494", "--json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["results"] == []
