"""Assistant speed: in-process latency of medcode.assistant.ask() with no language model.

Runs every question of ../shared/eval/dev/assistant.jsonl (plus the issue's example questions)
through `ask()`, interleaved with a baseline measured in the same run on the same questions: one
`medcode.search.search()` call of the question text (limit 10), the engine the assistant's look-up
intent itself calls. The first pass (cold caches: search vocabulary, code rows, passage term
frequencies) is reported apart from the warm passes. Machines here are shared and noisy: the ratio
to the baseline is what compares across runs.

Target (issue 6): p95 <= 150 ms per answer without a model.

Run: .venv/bin/python bench/assistant.py [--codebook PATH] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval" / "dev" / "assistant.jsonl"
EXAMPLES = [  # the examples
    "What is K21.9?", "Is I50.2 billable?", "What are the Excludes2 notes for G43?", "What do I code first with G63?",
    "Which 7th character means sequela for S82.891?", "ICD-9 equivalent of I48.91?",
    "Can 29880 and 29881 be billed together?", "What does modifier 25 mean?",
    "Are abnormal findings coded when the provider has not said they are clinically significant?",
]


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codebook", help="codebook file (default: the configured one)")
    ap.add_argument("--repeat", type=int, default=5, help="warm passes over the questions")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from medcode.assistant import ask
    from medcode.codebook import open_book
    from medcode.search import search

    book = open_book(args.codebook) if args.codebook else open_book()
    questions = [json.loads(line)["question"] for line in EVAL.read_text().splitlines() if line.strip()]
    questions += EXAMPLES

    def timed(fn, q) -> float:
        started = time.perf_counter()
        fn(q)
        return (time.perf_counter() - started) * 1000

    def run_ask(q):
        return ask(book, q)

    def run_search(q):
        return search(book, q, limit=10)

    cold_ask = [timed(run_ask, q) for q in questions]
    cold_base = [timed(run_search, q) for q in questions]
    warm_ask: list[float] = []
    warm_base: list[float] = []
    slowest: dict[str, float] = {}
    for _ in range(args.repeat):
        for q in questions:  # interleaved: both see the same machine load
            t = timed(run_ask, q)
            warm_ask.append(t)
            slowest[q] = max(slowest.get(q, 0.0), t)
            warm_base.append(timed(run_search, q))

    def line(name, xs):
        return (f"  {name:30} p50 {percentile(xs, 50):7.2f} ms   p95 {percentile(xs, 95):7.2f} ms   "
                f"max {max(xs):7.2f} ms   mean {statistics.mean(xs):7.2f} ms")

    print(f"assistant latency, no model: {len(questions)} questions, {args.repeat} warm passes "
          f"({len(warm_ask)} answers)")
    print("cold (first pass):")
    print(line("ask()", cold_ask))
    print(line("baseline: search()", cold_base))
    print("warm:")
    print(line("ask()", warm_ask))
    print(line("baseline: search()", warm_base))
    p95, base95 = percentile(warm_ask, 95), percentile(warm_base, 95)
    print(f"ratio ask/search: p50 {percentile(warm_ask, 50) / max(percentile(warm_base, 50), 1e-6):.1f}x, "
          f"p95 {p95 / max(base95, 1e-6):.1f}x")
    print(f"target p95 <= 150 ms: {'met' if p95 <= 150 else 'NOT met'} ({p95:.1f} ms)")
    print("slowest questions (warm max):")
    for q, t in sorted(slowest.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  {t:7.1f} ms  {q[:90]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
