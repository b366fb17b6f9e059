"""`medcode edits 29881 29880-59 J1100x12 --setting practitioner --date 2026-03-01 [--json]`: the API's
document on stdout with --json, a readable report without, and a non-zero exit with the reason on
stderr when a line cannot be read."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from medcode.edits import run_check

WHEN = "2026-03-01"


def run(codebook_file, *args):
    env = {**os.environ, "MEDCODE_CODEBOOK": str(codebook_file)}
    return subprocess.run([sys.executable, "-m", "medcode.cli", "edits", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_json_is_the_api_document(codebook_file, book):
    proc = run(codebook_file, "29881", "29880-59", "J1100x12", "--setting", "practitioner", "--date", WHEN, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # exactly one JSON document
    expected = run_check(book, ["29881", "29880-59", "J1100x12"], "practitioner", WHEN).as_dict()
    assert doc == json.loads(json.dumps(expected))
    assert [f["kind"] for f in doc["findings"]] == [f["kind"] for f in expected["findings"]] and doc["findings"]
    assert proc.stderr == ""


def test_the_report_names_each_finding_and_its_fix(codebook_file, book):
    proc = run(codebook_file, "29881, 29880-59", "--date", WHEN)  # one argument with commas works too
    assert proc.returncode == 0, proc.stderr
    result = run_check(book, ["29881", "29880-59"], "practitioner", WHEN)
    out = " ".join(proc.stdout.split())
    assert out.startswith(f"practitioner claim, date of service {WHEN}: {result.counts()['error']} error(s)")
    for f in result.findings:
        assert f"{f.severity.upper()} [{f.kind}]" in out
        assert " ".join(f.message.split()) in out and " ".join(f"Fix: {f.fix}".split()) in out


def test_a_clean_claim(codebook_file):
    proc = run(codebook_file, "G0008", "--setting", "hospital", "--date", WHEN)
    assert proc.returncode == 0 and "no problems found" in proc.stdout


def test_bad_input_fails_with_a_message(codebook_file):
    for args, message in ((["29881", "29880-5"], "line 2: modifier '5' is not two letters or digits"),
                          (["29881x0"], "units must be at least 1"),
                          (["29881", "29881"], "lines 1 and 2 are the same service"),
                          (["29881", "--date", "2026-02-30"], "is not a date"),
                          (["29881", "--setting", "inpatient"], "unknown setting"),
                          ([""], "the line is empty")):
        proc = run(codebook_file, *args, "--json")
        assert proc.returncode != 0, args
        assert message in proc.stderr and proc.stdout == "", (args, proc.stderr)


def test_main_without_a_subprocess(codebook_file, capsys, monkeypatch):
    from medcode import cli

    monkeypatch.setenv("MEDCODE_CODEBOOK", str(codebook_file))
    assert cli.main(["edits", "99292", "--date", WHEN, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [f["kind"] for f in doc["findings"]] == ["addon"]
    assert cli.main(["edits", "99292x", "--date", WHEN]) == 2
    assert "units must follow the x" in capsys.readouterr().err
