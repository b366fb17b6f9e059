"""`medcode code FILE|- [--setting] [--date] [--json]`: the API's shape on stdout, errors on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from medcode.case2code import MAX_CHARS

NOTE = "Type 2 diabetes with CKD stage 3a. Denies chest pain. Rule out pneumonia."


def run(codebook_file, *args, stdin: bytes | None = None):
    return subprocess.run([sys.executable, "-m", "medcode.cli", "code", *args], input=stdin, capture_output=True,
                          timeout=180, env={**os.environ, "MEDCODE_CODEBOOK": str(codebook_file)})


def test_json_from_a_file(codebook_file, book, tmp_path):
    from medcode.case2code import code_note

    note = tmp_path / "note.txt"
    note.write_text(NOTE, encoding="utf-8")
    proc = run(codebook_file, str(note), "--date", "2026-04-01", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc == json.loads(json.dumps(code_note(book, NOTE, "outpatient", "2026-04-01").as_dict()))
    assert [c["code"] for c in doc["codes"]] == ["E11.22", "N18.31"]
    assert any("pneumonia" in w for w in doc["warnings"])


def test_text_from_stdin(codebook_file):
    proc = run(codebook_file, "-", "--setting", "inpatient", "--date", "2026-04-01", stdin=NOTE.encode())
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "* E11.22" in out and "evidence: 'Type 2 diabetes' @0-15" in out
    assert "J18.9" in out  # inpatient: the uncertain diagnosis is coded (Guidelines II.H)


def test_bad_input(codebook_file, tmp_path):
    binary = tmp_path / "scan.pdf"
    binary.write_bytes(b"%PDF-1.4\x00\x01\x02")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Type 2 diab\xe9tes".encode("latin-1"))
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    big = tmp_path / "big.txt"
    big.write_text("diabetes " * 25_000)
    for args, says in (((str(binary),), "binary"), ((str(latin),), "not UTF-8"), ((str(empty),), "empty"),
                       ((str(big),), f"{MAX_CHARS:,}"), ((str(tmp_path / "missing.txt"),), "cannot read"),
                       ((str(latin), "--date", "2026-02-30"), "")):
        proc = run(codebook_file, *args)
        assert proc.returncode != 0 and proc.stdout == b""
        assert says in proc.stderr.decode(), (args, proc.stderr)
    proc = run(codebook_file, "-", "--setting", "clinic", stdin=b"diabetes")
    assert proc.returncode == 2 and b"invalid choice" in proc.stderr


def test_nothing_codable(codebook_file):
    proc = run(codebook_file, "-", "--json", stdin=b"Patient seen today. Return in 3 months.")
    assert proc.returncode == 0
    doc = json.loads(proc.stdout)
    assert doc["codes"] == [] and doc["warnings"]
