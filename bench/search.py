"""Search speed: in-process latency of medcode.search over the development queries.

Prints p50 and p99 of `search()` (limit 10, date of service fixed) over every query of
../shared/eval/dev/search.jsonl, plus each query's prefixes as typed into an autocomplete box
("h", "he", "hea", ...), absolute and as a ratio to a trivial baseline measured in the same run,
interleaved with it: a raw SQLite primary-key read of one code (machines here are shared and noisy;
the ratio is what compares across runs). The first pass over the queries (cold engine caches:
vocabulary, index navigation, code rows) is reported apart from the warm passes.

Targets (issue 4): p50 <= 1 ms, p99 <= 5 ms in-process.

`http_throughput()` measures requests per second against a running server on this machine; the
autocomplete part of the benchmark (search endpoint vs a trivial Django view) reuses it.

Run: .venv/bin/python bench/search.py [--codebook PATH] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval" / "dev" / "search.jsonl"
WHEN = "2026-05-01"


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def http_throughput(base_url: str, paths: list[str], seconds: float = 5.0, concurrency: int = 4,
                    max_requests: int = 20_000) -> dict:
    """Requests per second that `concurrency` clients get from a server on this machine, cycling
    through `paths` for at most `seconds` and `max_requests`. Only loopback addresses are allowed."""
    host = urllib.request.urlparse(base_url).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        raise ValueError(f"http_throughput only talks to this machine, not {host!r}")
    deadline = time.perf_counter() + seconds
    lock = threading.Lock()
    state = {"done": 0, "errors": 0, "latencies": []}

    def worker(offset: int):
        n = offset
        while time.perf_counter() < deadline:
            with lock:
                if state["done"] + state["errors"] >= max_requests:
                    return
            url = base_url.rstrip("/") + paths[n % len(paths)]
            n += 1
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(url, timeout=10) as resp:
                    resp.read()
                ok = 200 <= resp.status < 300
            except Exception:
                ok = False
            with lock:
                state["done" if ok else "errors"] += 1
                state["latencies"].append(time.perf_counter() - started)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i * 7,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    lat = state["latencies"] or [0.0]
    return {"requests": state["done"], "errors": state["errors"], "seconds": elapsed,
            "rps": state["done"] / elapsed if elapsed else 0.0,
            "p50_ms": percentile(lat, 50) * 1000, "p99_ms": percentile(lat, 99) * 1000}


def typed_prefixes(query: str) -> list[str]:
    """What an autocomplete box sends while the query is typed (from 2 characters on)."""
    return [query[:n] for n in range(2, len(query) + 1)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codebook", help="codebook to search (default: one built from ../shared/data, cached)")
    ap.add_argument("--repeat", type=int, default=5, help="warm passes over the queries (default 5)")
    args = ap.parse_args()

    sys.path.insert(0, str(ROOT / "bench"))
    from search_eval import codebook_path

    from medcode.codebook.book import Book
    from medcode.search import search

    path = codebook_path(args.codebook)
    book = Book(path)
    queries = [json.loads(line) for line in open(EVAL, encoding="utf-8") if line.strip()]
    full = [(q["query"], q.get("system")) for q in queries]
    typed = [(p, None) for q in queries for p in typed_prefixes(q["query"])]

    raw = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    sample_codes = [r[0] for r in raw.execute("SELECT code FROM codes WHERE system='icd10cm' LIMIT 5000")]

    def baseline(i: int):
        return raw.execute("SELECT code,title,billable FROM codes WHERE system='icd10cm' AND code=?",
                           (sample_codes[i % len(sample_codes)],)).fetchall()

    def timed(fn, *a, **kw) -> float:
        t = time.perf_counter_ns()
        fn(*a, **kw)
        return (time.perf_counter_ns() - t) / 1e6

    # first pass: cold engine caches
    cold = [timed(search, book, q, system=s, limit=10, date=WHEN) for q, s in full]
    rng = random.Random(7)
    results = {}
    for name, items in (("full queries", full), ("as typed", typed)):
        t_search, t_base = [], []
        for _ in range(args.repeat):
            order = items[:]
            rng.shuffle(order)
            for i, (q, s) in enumerate(order):
                t_base.append(timed(baseline, i))
                t_search.append(timed(search, book, q, system=s, limit=10, date=WHEN))
        results[name] = (t_search, t_base)

    print(f"search latency in-process over {len(full)} dev queries ({len(typed)} typed prefixes), "
          f"codebook {path}")
    print(f"  cold first pass:  p50 {percentile(cold, 50):7.3f} ms   p99 {percentile(cold, 99):7.3f} ms")
    for name, (t_search, t_base) in results.items():
        s50, s99 = percentile(t_search, 50), percentile(t_search, 99)
        b50, b99 = percentile(t_base, 50), percentile(t_base, 99)
        print(f"  {name + ':':17} p50 {s50:7.3f} ms   p99 {s99:7.3f} ms   mean {statistics.mean(t_search):.3f} ms"
              f"   (n={len(t_search)})")
        print(f"  {'  baseline:':17} p50 {b50:7.3f} ms   p99 {b99:7.3f} ms   (raw SQLite primary-key read)")
        print(f"  {'  ratio:':17} p50 {s50 / b50:7.1f}x     p99 {s99 / b99:7.1f}x")
    s50, s99 = percentile(results["full queries"][0], 50), percentile(results["full queries"][0], 99)
    verdict = "met" if s50 <= 1.0 and s99 <= 5.0 else "NOT met"
    print(f"targets p50 <= 1 ms, p99 <= 5 ms (full queries, warm): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
