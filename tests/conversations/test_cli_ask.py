"""`medcode ask QUESTION [--date D] [--json] [--no-model]`: the API's answer shape on stdout, errors on
stderr with a non-zero exit; the language model from the same MEDCODE_LLM_* variables as the site."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from scripted_llm import llm_server  # noqa: F401  (fixture)

from medcode.assistant import MAX_QUESTION_CHARS


def run(codebook_file, *args, **env):
    base = {k: v for k, v in os.environ.items() if not k.startswith("MEDCODE_LLM_")}
    return subprocess.run([sys.executable, "-m", "medcode.cli", "ask", *args], capture_output=True, text=True,
                          timeout=120, env={**base, "MEDCODE_CODEBOOK": str(codebook_file), **env})


def test_json_is_the_api_shape(codebook_file):
    proc = run(codebook_file, "What is K21.9?", "--date", "2026-04-01", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) == {"answer", "citations", "codes", "conversation"} and doc["conversation"] is None
    assert "K21.9" in doc["answer"]
    assert {"system": "icd10cm", "code": "K21.9", "valid": True} in doc["codes"]
    assert all(set(c) == {"source", "ref", "url"} for c in doc["citations"]) and doc["citations"]


def test_text_output_lists_sources_and_codes(codebook_file):
    proc = run(codebook_file, "Is", "I50.2", "billable?", "--date", "2026-04-01")  # words joined
    assert proc.returncode == 0, proc.stderr
    assert "I50.2" in proc.stdout and "\ncodes:\n" in proc.stdout and "I50.21    valid on 2026-04-01" in proc.stdout
    assert "(/codes/icd10cm/I50.2)" in proc.stdout and "\nsources:\n" not in proc.stdout  # linked in the text


def test_bad_input_fails_with_a_message(codebook_file):
    for args, says in ((("",), "the question is empty"), (("x" * 20_000,), f"at most {MAX_QUESTION_CHARS:,}"),
                       (("What is K21.9?", "--date", "31/12/2026"), "is not a date")):
        proc = run(codebook_file, *args)
        assert proc.returncode == 2 and says in proc.stderr and proc.stdout == "", (args, proc.stderr)
    proc = run(codebook_file, "What is K21.9?", MEDCODE_LLM_BASE_URL="http://127.0.0.1:9/v1",
               MEDCODE_LLM_DEADLINE="soon")
    assert proc.returncode == 2 and "MEDCODE_LLM_DEADLINE must be a number" in proc.stderr


def test_the_model_from_the_environment(codebook_file, llm_server):
    env = {"MEDCODE_LLM_BASE_URL": llm_server.base_url, "MEDCODE_LLM_MODEL": "script:invented"}
    proc = run(codebook_file, "What is K21.9?", "--date", "2026-04-01", "--json", **env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["answer"].startswith("From the sources:") and "K21.99" not in doc["answer"]
    assert "[invalid code removed]" in doc["answer"]
    proc = run(codebook_file, "What is K21.9?", "--date", "2026-04-01", **env)  # text: the sources listed
    assert "[invalid code removed]" in proc.stdout and "\nsources:\n" in proc.stdout
    assert "/codes/icd10cm/K21.9" in proc.stdout.split("\nsources:\n")[1]
    proc = run(codebook_file, "What is K21.9?", "--json", "--no-model", **env)
    assert not json.loads(proc.stdout)["answer"].startswith("From the sources:")
    proc = run(codebook_file, "What is K21.9?", "--json", **{**env, "MEDCODE_LLM_MODEL": "script:garbage"})
    assert proc.returncode == 0 and "The language model was not used" in json.loads(proc.stdout)["answer"]
