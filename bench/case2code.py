"""Case to code speed: in-process latency and throughput of medcode.case2code on ~500-word notes.

The notes are composed from the development notes (../shared/eval/dev/case2code.jsonl): each bench note
joins dev notes, starting at a different one each time, until it has about 500 words, so every note
mixes settings, negations, history and combinations the way a long discharge summary does. Each note is
coded in its turn by
  - medcode    `code_note()` (inpatient, date of service fixed), the headline figure,
  - reading    the same note only tokenized and given its context (case2code.text + context): the cost
               of reading 500 words, a floor no coder can go under,
  - naive      the substring baseline of bench/case2code_eval.py (every billable title looked for in
               the note), a coder that understands nothing,
interleaved, so the machine's noise falls on all three alike (machines here are shared: the ratios are
what compares across runs). The first pass (cold caches: the Index in memory, notes of codes) is
reported apart from the warm passes. Target (issue 7): medcode p95 <= 100 ms per 500-word note.

Run: .venv/bin/python bench/case2code.py [--codebook PATH] [--notes 40] [--repeat 3] [--words 500]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval" / "dev" / "case2code.jsonl"
WHEN = "2026-04-01"


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def compose(items: list[dict], count: int, words: int) -> list[str]:
    notes = []
    for start in range(count):
        parts, n, k = [], 0, start
        while n < words:
            text = items[k % len(items)]["text"]
            parts.append(text)
            n += len(text.split())
            k += 7  # a different mix each time
        notes.append("\n".join(parts))
    return notes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--codebook")
    ap.add_argument("--notes", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--words", type=int, default=500)
    args = ap.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from case2code_eval import codebook_path, naive_engine

    from medcode.case2code import code_note
    from medcode.case2code.context import annotate
    from medcode.case2code.text import tokenize
    from medcode.codebook import open_book

    book = open_book(codebook_path(args.codebook))
    items = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line.strip()]
    notes = compose(items, args.notes, args.words)
    naive = naive_engine(book)
    engines = {
        "medcode": lambda text: code_note(book, text, "inpatient", WHEN),
        "reading": lambda text: annotate(tokenize(text)),
        "naive": lambda text: naive({"id": "", "text": text}),
    }
    started = time.perf_counter()
    code_note(book, "Type 2 diabetes.", "outpatient", WHEN)  # loads the Index into memory
    load_s = time.perf_counter() - started

    cold = {name: [] for name in engines}
    warm = {name: [] for name in engines}
    for rep in range(1 + args.repeat):
        for text in notes:
            for name, run in engines.items():
                t0 = time.perf_counter()
                run(text)
                (cold if rep == 0 else warm)[name].append((time.perf_counter() - t0) * 1000)

    mean_words = statistics.mean(len(n.split()) for n in notes)
    print(f"case to code on {len(notes)} notes of ~{mean_words:.0f} words, {args.repeat} warm passes "
          f"(first call, loading the Index: {load_s:.2f} s)")
    print(f"  {'':<9}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'notes/s':>9}   p95 vs reading   p95 vs naive")
    for label, table in (("cold", cold), ("warm", warm)):
        print(f"  {label} pass{'es' if label == 'warm' else ''}:")
        for name, ts in table.items():
            p95 = percentile(ts, 95)
            print(f"  {name:<9}{statistics.median(ts):>9.1f}{p95:>9.1f}{max(ts):>9.1f}"
                  f"{1000 / statistics.mean(ts):>9.1f}"
                  f"{p95 / percentile(table['reading'], 95):>15.1f}x{p95 / percentile(table['naive'], 95):>14.2f}x")
    p95 = percentile(warm["medcode"], 95)
    print(f"\n  target p95 <= 100 ms per {args.words}-word note: {p95:.1f} ms, "
          f"{'met' if p95 <= 100 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
