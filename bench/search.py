"""Search speed: in-process latency of medcode.search over the development queries.

Prints p50 and p99 of `search()` (limit 10, date of service fixed) over every query of
../shared/eval/dev/search.jsonl, plus each query's prefixes as typed into an autocomplete box
("h", "he", "hea", ...), absolute and as a ratio to a trivial baseline measured in the same run,
interleaved with it: a raw SQLite primary-key read of one code (machines here are shared and noisy;
the ratio is what compares across runs). The first pass over the queries (cold engine caches:
vocabulary, index navigation, code rows) is reported apart from the warm passes.

Targets (issue 4): p50 <= 1 ms, p99 <= 5 ms in-process.

HTTP autocomplete throughput (issue 4 target: >= 70% of a trivial Django view): the site served
the way bench/pages.py serves it (gunicorn, 2 sync workers, loopback; its Server and wrk harness
are reused), loaded with wrk by interleaved rounds of
  * the trivial view /healthz/ping (the whole middleware stack, no work),
  * /search/suggest?q=... cycling through every dev query as typed (its prefixes from 2 characters:
    what the header box sends), the headline figure,
  * /search/suggest?q=copd+flare over and over, for information,
each as requests per second and as a ratio to the trivial view of the same run. Without wrk,
`http_throughput()` (threads of urllib clients, slower and noisier) stands in for it.

Run: .venv/bin/python bench/search.py [--codebook PATH] [--repeat N] [--part all|inprocess|http]
     [--seconds 5] [--rounds 3]
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


HTTP_TARGET = 0.70


def http_bench(path: Path, queries: list[dict], seconds: float, rounds: int, threads: int,
               connections: int) -> int:
    """The autocomplete endpoint's throughput against the trivial view, served by gunicorn (bench/pages.py)."""
    import shutil
    import tempfile
    from urllib.parse import quote

    from pages import LUA_PATHS, Server, measure, prepare_home, wrk

    seconds = max(1, round(seconds))  # wrk takes whole seconds ("-d5s"; it refuses "-d5.0s")
    home = Path(tempfile.mkdtemp(prefix="medcode-bench-search-"))
    prepare_home(home, path)
    prefixes = list(dict.fromkeys(p for q in queries for p in typed_prefixes(q["query"])))
    typed_paths = [f"/search/suggest?q={quote(p)}" for p in prefixes]
    paths_file = home / "suggest-paths.txt"
    paths_file.write_text("".join(p + "\n" for p in typed_paths))
    script = home / "suggest.lua"
    script.write_text(LUA_PATHS % paths_file)
    one = "/search/suggest?q=copd+flare"
    cookie = "bench=1"  # wrk wants a header value; no session, no guest: the views ignore it

    def run(extra_env: dict) -> tuple[str, dict]:
        server = Server(home, path, extra_env)
        try:
            status, body = server.get(one, "")
            if status != 200 or 'role="option"' not in body:
                raise SystemExit(f"{one} answered {status} without suggestions: {body[:200]!r}")
            for p in typed_paths[:200]:  # warm both workers' engines a little
                server.get(p, "")
            if shutil.which("wrk"):
                # warm-up, not counted: every prefix reaches both workers (the steady state of a site in use)
                wrk(server.base + "/", max(seconds, 10), cookie, threads, connections, script)
                how = f"wrk -t{threads} -c{connections}, {rounds} interleaved rounds of {seconds:g} s"
                return how, measure(server, {"trivial": ("/healthz/ping", None, cookie),
                                             "typed": ("/", script, cookie), "one": (one, None, cookie)},
                                    rounds, seconds, threads, connections)
            how = f"no wrk (apt-get install -y wrk): urllib clients x{connections}, {seconds:g} s each"
            return how, {name: {**http_throughput(server.base, paths, seconds, connections, 10**9), "non2xx": 0,
                                "socket_errors": ""}
                         for name, paths in (("trivial", ["/healthz/ping"]), ("typed", typed_paths),
                                             ("one", [one]))}
        finally:
            server.stop()

    try:
        how, cached = run({})
        _, uncached = run({"CACHE_BACKEND": "dummy"})
    finally:
        shutil.rmtree(home, ignore_errors=True)

    print(f"HTTP autocomplete throughput: gunicorn 2 sync workers on loopback, {how}")

    def line(label: str, r: dict, base: dict | None = None, target: float | None = None) -> str:
        out = f"  {label:<62} {r['rps']:8.0f} req/s  p99 {r['p99_ms']:7.2f} ms"
        if base is not None:
            ratio = r["rps"] / base["rps"]
            out += f"  {ratio:6.1%} of trivial"
            if target is not None:
                out += f"  (target >= {target:.0%}: {'met' if ratio >= target else 'MISSED'})"
        if r.get("non2xx") or r.get("socket_errors"):
            out += f"  [non-2xx {r['non2xx']}, socket errors {r['socket_errors'] or 0}]"
        return out

    n = len(typed_paths)
    print("site as configured (suggestion fragments cached: worker LRU + the page cache), after a warm-up:")
    print(line("trivial view /healthz/ping", cached["trivial"]))
    print(line(f"/search/suggest, {n} dev-query prefixes as typed", cached["typed"], cached["trivial"], HTTP_TARGET))
    print(line("/search/suggest?q=copd+flare, repeated", cached["one"], cached["trivial"]))
    print("CACHE_BACKEND=dummy (every suggestion searched afresh), against its own trivial view:")
    print(line("trivial view /healthz/ping", uncached["trivial"]))
    print(line(f"/search/suggest, {n} dev-query prefixes as typed", uncached["typed"], uncached["trivial"]))
    print(line("/search/suggest?q=copd+flare, repeated", uncached["one"], uncached["trivial"]))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codebook", help="codebook to search (default: one built from ../shared/data, cached)")
    ap.add_argument("--repeat", type=int, default=5, help="warm passes over the queries (default 5)")
    ap.add_argument("--part", choices=("all", "inprocess", "http"), default="all")
    ap.add_argument("--seconds", type=int, default=5, help="HTTP: seconds per wrk run (default 5)")
    ap.add_argument("--rounds", type=int, default=3, help="HTTP: interleaved rounds (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="HTTP: wrk threads (default 2)")
    ap.add_argument("--connections", type=int, default=8, help="HTTP: wrk connections (default 8)")
    args = ap.parse_args()

    sys.path.insert(0, str(ROOT / "bench"))
    from search_eval import codebook_path

    if args.part == "http":
        queries = [json.loads(line) for line in open(EVAL, encoding="utf-8") if line.strip()]
        return http_bench(codebook_path(args.codebook), queries, args.seconds, args.rounds, args.threads,
                          args.connections)

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
    print(f"targets p50 <= 1 ms, p99 <= 5 ms (full queries, warm): {verdict}", flush=True)
    if args.part == "all":
        raw.close()
        return http_bench(path, queries, args.seconds, args.rounds, args.threads, args.connections)
    return 0


if __name__ == "__main__":
    sys.exit(main())
