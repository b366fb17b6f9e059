"""NCCI edits benchmark (issue 5).

Part 1, the importers: the full NCCI practitioner PTP import, 2.5 million pairs in CMS's official layout
(ccipra-v302r0-f1..f4.txt, written first from the 2024 Q3 copy in ../shared/data by
tests/ncci_official.py, not timed), through `medcode data import`, as a user does it. A build always
includes the packaged ICD-10-CM tabular and GEMs, so a build of those alone is measured in the same
run as the baseline, and the PTP share is the difference. The PTP loader alone (parse, insert, the
column 2 index) is also timed on an empty book. Target (issue 5): <= 60 s on a 2-core machine.

Part 2, the claim edit checker: claim check latency for 20-line claims (target p99 <= 5 ms, as a
ratio to a single codebook lookup in the same run), after the PTP lookups it rests on. `--book PATH`
measures part 2 alone on a codebook already built (e.g. the test book).

Machines here are shared and noisy: wall times are printed with CPU times beside them.
Run: .venv/bin/python bench/edits.py [--data PATH] [--keep] [--book PATH]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def ptp_import(data: Path, work: Path) -> dict:
    """Part 1: the full practitioner PTP import, and its baseline."""
    from medcode.codebook.imports import import_paths
    from medcode.codebook.schema import DDL, INDEXES
    from medcode.codebook.sources import ncci_ptp
    from medcode.codebook.writer import BuildContext, SourceFile
    from ncci_official import write_ptp

    src = data / "ncci-2024q3" / "ncci_ptp_prac_pairs.csv.gz"
    official = work / "official"
    official.mkdir()
    parts, write_s, _ = timed(lambda: write_ptp(src, official, "ccipra"))

    base = work / "base"
    _, base_wall, base_cpu = timed(lambda: import_paths([], base / "sources", base / "codebook.sqlite", progress=False,
                                                        always_build=True))
    result, full_wall, full_cpu = timed(lambda: import_paths(parts, work / "full" / "sources",
                                                             work / "full" / "codebook.sqlite", progress=False))
    from medcode.codebook import open_book

    lines = sum(r.counts["lines"] for r in open_book(work / "full" / "codebook.sqlite").releases()
                if r.kind == "ncci_ptp")

    def loader_only():
        conn = sqlite3.connect(work / "loader.sqlite", isolation_level=None)
        conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY;"
                           "PRAGMA cache_size=-200000;")
        conn.executescript(DDL)
        conn.execute("BEGIN")
        ctx = BuildContext(conn, progress=False)
        for p in parts:
            ncci_ptp.load(ctx, SourceFile(kind="ncci_ptp", path=p))
        conn.execute("COMMIT")
        conn.executescript(INDEXES)
        conn.close()

    _, load_wall, load_cpu = timed(loader_only)
    return {"parts": len(parts), "lines": lines, "write_s": write_s, "base_wall": base_wall, "base_cpu": base_cpu,
            "full_wall": full_wall, "full_cpu": full_cpu, "load_wall": load_wall, "load_cpu": load_cpu,
            "size_mb": result.report.size / 1e6, "book": work / "full" / "codebook.sqlite"}


def ptp_lookups(book_path: Path, n: int = 5000) -> dict:
    """Book.ptp_edit() and ptp_edits_among() for a 20-code claim, against a raw primary-key read."""
    from medcode.codebook import open_book

    book = open_book(book_path)
    raw = sqlite3.connect(f"file:{book_path}?mode=ro&immutable=1", uri=True)
    (s,) = [s for s in book.edit_sets("ncci_ptp") if s.system == "ncci-practitioner"]
    pairs = raw.execute(f"SELECT column1, column2 FROM ptp_edits WHERE release_id IN "
                        f"({','.join('?' * len(s.release_ids))}) AND deletion IS NULL", s.release_ids).fetchall()
    rng = random.Random(7)
    sample = rng.sample(pairs, min(n, len(pairs)))
    ids = ",".join(map(str, s.release_ids))

    def raw_read(p):
        return raw.execute(f"SELECT * FROM ptp_edits WHERE release_id IN ({ids}) AND column1=? AND column2=?",
                           p).fetchall()

    def one(p):
        return book.ptp_edit(p[0], p[1], "practitioner", "2026-03-01")

    codes = sorted({c for p in pairs[:200000] for c in p})
    claims = [rng.sample(codes, 20) for _ in range(500)]

    def among(claim):
        return book.ptp_edits_among(claim, "practitioner", "2026-03-01")

    out = {}
    for name, fn, items in (("raw", raw_read, sample), ("ptp_edit", one, sample), ("among20", among, claims)):
        for x in items[:200]:
            fn(x)
        times = []
        for x in items:
            t = time.perf_counter_ns()
            fn(x)
            times.append((time.perf_counter_ns() - t) / 1000)
        out[name] = (percentile(times, 50), percentile(times, 99), statistics.mean(times))
    return out


def claim_check_latency(book_path: Path, n: int = 1000) -> dict | None:
    """Part 2: p50/p99 of checking 20-line claims (PTP, MUE, add-on and validity findings) as a ratio to a
    single Book.get() in the same run; target p99 <= 5 ms. Each claim holds a column 1 code of the
    practitioner table with 4 of its column 2 codes (so edits fire) and real codes drawn from the
    table to make 20 lines; a third of the lines carry a modifier (59, XS, LT, RT, 25), units 1-3. Wall time
    per check, with the thread's CPU time beside it (the machines are shared: a p99 in wall time is
    mostly the scheduler)."""
    from medcode.codebook import open_book
    from medcode.edits import ClaimLine, run_check

    book = open_book(book_path)
    sets = [s for s in book.edit_sets("ncci_ptp") if s.system == "ncci-practitioner"]
    if not sets:
        return None
    ids = ",".join(str(i) for s in sets for i in s.release_ids)
    when = "2026-03-01"
    rng = random.Random(20)
    codes = [r[0] for r in book.db.execute(f"SELECT DISTINCT column1 FROM ptp_edits WHERE release_id IN ({ids}) "
                                           "AND deletion IS NULL")]
    hcpcs = [c.code for c in book.codes("hcpcs", when)][:5000]
    mods = ["59", "XS", "LT", "RT", "25"]

    def claim() -> list[ClaimLine]:
        while True:
            c1 = rng.choice(codes)
            partners = [r[0] for r in book.db.execute(
                f"SELECT column2 FROM ptp_edits WHERE release_id IN ({ids}) AND column1=? AND deletion IS NULL", (c1,))]
            if len(partners) >= 4:
                break
        chosen = [c1, *rng.sample(partners, 4)]
        while len(chosen) < 20:
            c = rng.choice(codes)
            if c not in chosen:
                chosen.append(c)
        rng.shuffle(chosen)
        return [ClaimLine(c, (rng.choice(mods),) if rng.random() < 1 / 3 else (), rng.randint(1, 3)) for c in chosen]

    claims = [claim() for _ in range(n)]
    lookups = [rng.choice(hcpcs) for _ in range(n * 5)]

    def timings(fn, items) -> tuple[list[float], list[float]]:
        for x in items[:100]:
            fn(x)
        wall, cpu = [], []
        for x in items:
            t, c = time.perf_counter_ns(), time.thread_time_ns()
            fn(x)
            wall.append((time.perf_counter_ns() - t) / 1e6)
            cpu.append((time.thread_time_ns() - c) / 1e6)
        return wall, cpu

    base, base_cpu = timings(lambda c: book.get("hcpcs", c, when), lookups)
    checks, checks_cpu = timings(lambda c: run_check(book, c, "practitioner", when), claims)
    findings = sum(len(run_check(book, c, "practitioner", when).findings) for c in claims[:100]) / 100
    b50, b99 = percentile(base, 50), percentile(base, 99)
    p50, p99 = percentile(checks, 50), percentile(checks, 99)
    return {"p50_ms": p50, "p99_ms": p99, "ratio_p50": p50 / b50, "ratio_p99": p99 / b99, "get_p50_ms": b50,
            "get_p99_ms": b99, "claims": n, "findings_per_claim": findings,
            "cpu_p50_ms": percentile(checks_cpu, 50), "cpu_p99_ms": percentile(checks_cpu, 99),
            "get_cpu_p50_ms": percentile(base_cpu, 50)}


def print_claim_check(r: dict) -> None:
    print(f"claim check latency ({r['claims']} claims of 20 lines, {r['findings_per_claim']:.1f} findings each): "
          f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms (target p99 <= 5 ms)")
    print(f"  thread CPU time per check: p50 {r['cpu_p50_ms']:.2f} ms, p99 {r['cpu_p99_ms']:.2f} ms")
    print(f"  ratio to a single Book.get() (p50 {r['get_p50_ms'] * 1000:.1f} us, p99 {r['get_p99_ms'] * 1000:.1f} us): "
          f"p50 {r['ratio_p50']:.0f}x, p99 {r['ratio_p99']:.0f}x")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--keep", action="store_true", help="keep the work folder (the books and files)")
    ap.add_argument("--book", help="measure only the claim check latency (part 2) on this built codebook")
    args = ap.parse_args()
    if args.book:
        part2 = claim_check_latency(Path(args.book))
        if part2 is None:
            print(f"{args.book} holds no practitioner PTP edits: nothing to measure", file=sys.stderr)
            return 1
        print_claim_check(part2)
        return 0
    data = Path(args.data)
    if not (data / "ncci-2024q3" / "ncci_ptp_prac_pairs.csv.gz").exists():
        print(f"no NCCI copy under {data}: nothing to measure", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="medcode-bench-edits-"))
    try:
        r = ptp_import(data, work)
        share_wall, share_cpu = r["full_wall"] - r["base_wall"], r["full_cpu"] - r["base_cpu"]
        print(f"official-layout files: {r['parts']} parts, {r['lines']:,} practitioner PTP lines "
              f"(written in {r['write_s']:.1f} s, not timed)")
        print(f"medcode data import, full practitioner PTP: {r['full_wall']:.1f} s wall, {r['full_cpu']:.1f} s CPU "
              f"(book {r['size_mb']:.0f} MB)")
        print(f"  baseline build (packaged defaults only):  {r['base_wall']:.1f} s wall, {r['base_cpu']:.1f} s CPU")
        print(f"  PTP share (difference):                   {share_wall:.1f} s wall, {share_cpu:.1f} s CPU "
              f"(target <= 60 s); full / baseline = {r['full_wall'] / r['base_wall']:.2f}x wall, "
              f"{r['full_cpu'] / r['base_cpu']:.2f}x CPU")
        print(f"  PTP loader alone (parse, insert, index):  {r['load_wall']:.1f} s wall, {r['load_cpu']:.1f} s CPU, "
              f"{r['lines'] / r['load_cpu'] / 1000:.0f} k lines per CPU second")
        lk = ptp_lookups(r["book"])
        raw50, raw99, _ = lk["raw"]
        for name, label in (("ptp_edit", "Book.ptp_edit()"), ("among20", "ptp_edits_among(20 codes)")):
            p50, p99, mean = lk[name]
            print(f"{label:27s} p50 {p50:7.1f} us, p99 {p99:7.1f} us; ratio to a raw PK read p50 "
                  f"{p50 / raw50:.2f}x, p99 {p99 / raw99:.2f}x")
        print(f"{'raw PTP primary-key read':27s} p50 {raw50:7.1f} us, p99 {raw99:7.1f} us")
        part2 = claim_check_latency(r["book"])
        if part2 is None:
            print("claim check latency (20-line claims): no practitioner PTP edits in the book")
        else:
            print_claim_check(part2)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
