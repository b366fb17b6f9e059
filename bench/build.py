"""Codebook build and lookup benchmark.

Prints: full build time and file size (packaged defaults plus the official files in ../shared/data),
and in-process Book.get() p50/p99 as a ratio to a raw SQLite primary-key read of the same rows in
the same run (machines here are shared and noisy; the ratio is what is comparable).

Targets (issue 2): full build <= 120 s on a 2-core machine; get() within 3x of the raw read.
Run: make bench  (or .venv/bin/python bench/build.py [--data PATH])
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ["icd10cm-2027-addenda", "icd10cm-2025-index-tables", "icd10pcs-2026-tables", "icd10pcs-2025-index",
           "icd10cm-2026-guidelines"]


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def time_each(fn, keys, repeat: int = 3) -> list[float]:
    out = []
    for _ in range(repeat):
        for key in keys:
            t = time.perf_counter_ns()
            fn(key)
            out.append((time.perf_counter_ns() - t) / 1000)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--lookups", type=int, default=20000)
    args = ap.parse_args()

    from medcode.codebook import open_book
    from medcode.codebook.imports import import_paths

    data = Path(args.data)
    folders = [data / f for f in FOLDERS if (data / f).exists()]
    work = Path(tempfile.mkdtemp(prefix="medcode-bench-"))
    dest = work / "codebook.sqlite"
    t0 = time.perf_counter()
    import_paths(folders, work / "sources", dest, progress=False, always_build=True)
    build_s = time.perf_counter() - t0
    size_mb = dest.stat().st_size / 1e6

    book = open_book(dest)
    raw = sqlite3.connect(f"file:{dest}?mode=ro&immutable=1", uri=True)
    keys = [r[0] for r in raw.execute("SELECT code FROM codes WHERE system='icd10cm'")]
    random.seed(7)
    sample = random.sample(keys, min(args.lookups, len(keys)))
    when = "2026-05-01"

    def raw_read(code):
        return raw.execute("SELECT code,title,kind,parent,billable,valid_from,valid_to,release_id FROM codes "
                           "WHERE system='icd10cm' AND code=?", (code,)).fetchall()

    def book_get(code):
        return book.get("icd10cm", code, when)

    # warm both paths, then interleave the measurements so noise hits both alike
    time_each(raw_read, sample[:2000], 1)
    time_each(book_get, sample[:2000], 1)
    raw_t, get_t = [], []
    for chunk in range(0, len(sample), 1000):
        part = sample[chunk:chunk + 1000]
        raw_t += time_each(raw_read, part, 1)
        get_t += time_each(book_get, part, 1)
    rp50, rp99 = percentile(raw_t, 50), percentile(raw_t, 99)
    gp50, gp99 = percentile(get_t, 50), percentile(get_t, 99)

    print(f"full build: {build_s:.1f} s (target <= 120 s), codebook {size_mb:.1f} MB, "
          f"{len(folders)} official folders + packaged defaults")
    print(f"raw SQLite PK read: p50 {rp50:.1f} us, p99 {rp99:.1f} us")
    print(f"Book.get():         p50 {gp50:.1f} us, p99 {gp99:.1f} us")
    print(f"ratio get/raw:      p50 {gp50 / rp50:.2f}x, p99 {gp99 / rp99:.2f}x (target <= 3x)  "
          f"mean {statistics.mean(get_t) / statistics.mean(raw_t):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
