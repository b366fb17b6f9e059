"""`medcode ...`: a thin adapter over the core. Data commands print one JSON document with --json."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path

from . import config
from .codebook import errors


def _json_default(obj):
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(type(obj).__name__)


def _print_json(doc) -> None:
    sys.stdout.write(json.dumps(doc, default=_json_default, ensure_ascii=False, indent=2) + "\n")


def _book():
    from .codebook import open_book

    return open_book()


# --- lookup ---------------------------------------------------------------------------------

def cmd_lookup(args) -> int:
    from .codebook.codes import system_name
    from .codebook.dates import parse_date
    from .codebook.record import code_record, guess_system

    when = parse_date(args.date)
    book = _book()
    system = system_name(args.system) if args.system else guess_system(book, args.code, when)
    record = code_record(book, system, args.code, when)
    if args.json:
        _print_json(record)
        return 0
    _print_record(record)
    return 0


def _print_record(rec: dict) -> None:
    out = sys.stdout.write
    status = "" if rec["status"] == "active" else f"  [{rec['status'].upper()}]"
    out(f"{rec['code']}  {rec['title']}{status}\n")
    out(f"  system: {rec['system']}   billable: {'yes' if rec['billable'] else 'no'}   "
        f"release: {rec['release']}   effective: {rec['effective']['from']} to {rec['effective']['to'] or 'now'}\n")
    if rec["hierarchy"]:
        out("  hierarchy: " + " > ".join(f"{h['code']} {h['title']}" for h in reversed(rec["hierarchy"])) + "\n")
    if rec["children"]:
        out("  children:\n")
        for c in rec["children"]:
            out(f"    {c['code']}  {c['title']}{'' if c['billable'] else '  (header)'}\n")
    for kind, items in rec["notes"].items():
        if items:
            out(f"  {kind.replace('_', ' ')}:\n")
            for n in items:
                origin = f"  [from {n['origin']}]" if n["inherited"] else ""
                out(f"    - {n['text']}{origin}\n")
    if rec["seventh_characters"]:
        out("  7th characters:\n")
        for char, meaning in rec["seventh_characters"].items():
            out(f"    {char}  {meaning}\n")
    if rec.get("index_entries"):
        out("  index entries:\n")
        for e in rec["index_entries"][:20]:
            out(f"    {e['path']}\n")
    xw = rec.get("crosswalks", {}).get("icd9cm", [])
    if xw:
        out("  ICD-9-CM (GEMs): " + ", ".join(f"{x['code']}{' ~' if x['approximate'] else ''}" for x in xw) + "\n")
    if len(rec.get("history", [])) > 1 or rec["status"] != "active":
        out("  history:\n")
        for h in rec["history"]:
            out(f"    {h['valid_from']} to {h['valid_to'] or 'now'}: {h['title']} ({h['release']})\n")


# --- search ---------------------------------------------------------------------------------

def cmd_search(args) -> int:
    from .search import SearchError, search

    query = " ".join(args.text)
    billable = {"yes": True, "no": False}.get(args.billable) if args.billable else None
    try:
        doc = search(_book(), query, system=args.system, limit=args.limit, billable=billable,
                     chapter=args.chapter, date=args.date)
    except SearchError as exc:
        print(f"medcode: {exc.message}", file=sys.stderr)
        return 2
    if args.json:
        _print_json(doc)
        return 0
    if doc["corrected_query"]:
        print(f"did you mean: {doc['corrected_query']}")
    if not doc["results"]:
        print(f"no codes found for {doc['query']!r}", file=sys.stderr)
        return 0
    width = max(len(r["code"]) for r in doc["results"])
    for r in doc["results"]:
        flag = " " if r["billable"] else "*"
        print(f"{r['code']:<{width}} {flag} {r['title']}")
        print(f"{'':<{width}}     {r['match']}")
    if any(not r["billable"] for r in doc["results"]):
        print("* header: not billable; pick a code below it")
    return 0


# --- data -----------------------------------------------------------------------------------

def cmd_data_build(args) -> int:
    from .codebook.build import all_sources, build

    report = build(config.codebook_path(), all_sources(config.sources_dir()), progress=not args.quiet)
    doc = {"path": report.path, "seconds": round(report.seconds, 2), "size": report.size,
           "releases": report.releases}
    if args.json:
        _print_json(doc)
    else:
        print(f"built {report.path} ({report.size / 1e6:.1f} MB) in {report.seconds:.1f} s")
        for r in report.releases:
            print(f"  {r['system']:9} {r['name']:45} {r['effective_from']} to {r['effective_to'] or 'now'}")
    return 0


def cmd_data_import(args) -> int:
    from .codebook.imports import import_paths

    result = import_paths([Path(p) for p in args.paths], config.sources_dir(), config.codebook_path(),
                          progress=not args.quiet)
    doc = {"added": [{"kind": s.kind, "file": s.path.name, "sha256": s.sha256} for s in result.added],
           "unchanged": [{"kind": s.kind, "file": s.path.name} for s in result.unchanged],
           "skipped": result.skipped,
           "codebook": str(result.report.path) if result.report else None}
    if args.json:
        _print_json(doc)
    else:
        for s in result.added:
            print(f"imported {s.kind}: {s.path.name}")
        for s in result.unchanged:
            print(f"already imported {s.kind}: {s.path.name}")
        for s in result.skipped:
            print(f"skipped (not a known layout): {s}")
        if result.report:
            print(f"rebuilt {result.report.path} in {result.report.seconds:.1f} s")
    return 0


def cmd_data_status(args) -> int:
    book = _book()
    rels = [{"system": r.system, "name": r.name, "kind": r.kind, "effective_from": r.effective_from,
             "effective_to": r.effective_to, "source": r.source, "sha256": r.sha256, "counts": r.counts}
            for r in book.releases()]
    doc = {"codebook": str(book.path), "built_at": book.meta.get("built_at"), "releases": rels}
    if args.json:
        _print_json(doc)
    else:
        print(f"codebook {book.path} (built {doc['built_at']})")
        for r in rels:
            print(f"  {r['system']:9} {r['name']:45} {r['effective_from']} to {r['effective_to'] or 'now':10}  "
                  f"{r['source']}  sha256 {r['sha256'][:12]}")
    return 0


# --- site -----------------------------------------------------------------------------------

def _django(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medcode.site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["medcode", *argv])
    return 0


def cmd_serve(args) -> int:
    """gunicorn serving the WSGI app; `--dev` uses Django's autoreloading server instead."""
    _django(["migrate", "--noinput", "-v", "0"])
    if args.dev:
        return _django(["runserver", f"{args.host}:{args.port}"])
    from gunicorn.app.wsgiapp import run

    sys.argv = ["gunicorn", "--bind", f"{args.host}:{args.port}", "--workers", str(args.workers),
                "--access-logfile", "-", "medcode.site.wsgi:application"]
    run()
    return 0


def cmd_manage(args) -> int:
    return _django(args.rest)


def cmd_worker(args) -> int:
    """The background task worker (django-tasks database backend) plus the periodic scheduler."""
    import threading

    _django_ready()
    from django.conf import settings
    from django.core.management import call_command

    from .scheduling.periodic import configured, run_scheduler

    stop = threading.Event()
    if not args.no_scheduler:
        configured()  # a bad MEDCODE_PERIODIC_TASKS entry fails here, with its name, not in a thread
        threading.Thread(target=run_scheduler, args=(stop, settings.MEDCODE_SCHEDULER_INTERVAL),
                         name="medcode-scheduler", daemon=True).start()
    options = {"interval": args.interval, "startup_delay": False, "reload": False}
    if args.max_tasks:
        options["max_tasks"] = args.max_tasks
    try:
        call_command("db_worker", **options)
    finally:
        stop.set()
    return 0


# --- API keys -------------------------------------------------------------------------------

def _django_ready() -> None:
    """Django set up on the configured app database, migrated (as `serve` does)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medcode.site.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)


def cmd_apikey_create(args) -> int:
    _django_ready()
    from .accounts import apikeys

    try:
        user, created = apikeys.ensure_account(args.email, args.plan)
        key, raw = apikeys.create_key(user, args.name or "")
    except apikeys.ApiKeyError as exc:
        print(f"medcode: {exc}", file=sys.stderr)
        return 1
    doc = {"key": raw, "prefix": key.prefix, "name": key.name, "email": user.email, "plan": user.plan,
           "account_created": created, "created": key.created.isoformat()}
    if args.json:
        _print_json(doc)
    else:
        print(raw)
        print(f"{'created account' if created else 'account'} {user.email} (plan {user.plan}); "
              f"key {key.prefix}… — shown only this once", file=sys.stderr)
    return 0


def cmd_apikey_revoke(args) -> int:
    _django_ready()
    from .accounts import apikeys

    try:
        key = apikeys.revoke_prefix(args.prefix)
    except apikeys.ApiKeyError as exc:
        print(f"medcode: {exc}", file=sys.stderr)
        return 1
    doc = {"prefix": key.prefix, "name": key.name, "email": key.user.email, "revoked": key.revoked.isoformat()}
    if args.json:
        _print_json(doc)
    else:
        print(f"revoked {key.prefix}… of {key.user.email}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="medcode", description="Open medical-coding reference (ICD-10-CM, ICD-10-PCS, "
                                "HCPCS, CPT) grounded in the official code sets.")
    sub = p.add_subparsers(dest="command", required=True)

    lk = sub.add_parser("lookup", help="print a code's whole record")
    lk.add_argument("code")
    lk.add_argument("--system", help="icd10cm, icd10pcs, hcpcs, cpt (default: guessed from the code)")
    lk.add_argument("--date", help="date of service, YYYY-MM-DD (default today)")
    lk.add_argument("--json", action="store_true")
    lk.set_defaults(func=cmd_lookup)

    se = sub.add_parser("search", help="find codes from words, abbreviations, misspellings or partial codes")
    se.add_argument("text", nargs="+", help='what to look for, e.g. "heart attack", "diab typ 2 w neph", K57.')
    se.add_argument("--system", help="icd10cm, icd10pcs, ... or all (default: all)")
    se.add_argument("--limit", type=int, default=10, help="at most this many results, 1-100 (default 10)")
    se.add_argument("--billable", choices=["yes", "no"], help="only billable codes (yes) or only headers (no)")
    se.add_argument("--chapter", help="ICD-10-CM chapter number (1-22) or ICD-10-PCS section character")
    se.add_argument("--date", help="date of service, YYYY-MM-DD (default today)")
    se.add_argument("--json", action="store_true")
    se.set_defaults(func=cmd_search)

    data = sub.add_parser("data", help="build and inspect the codebook")
    dsub = data.add_subparsers(dest="data_command", required=True)
    b = dsub.add_parser("build", help="rebuild the codebook from imported files and packaged defaults")
    b.add_argument("--json", action="store_true")
    b.add_argument("--quiet", action="store_true")
    b.set_defaults(func=cmd_data_build)
    im = dsub.add_parser("import", help="import official release files, folders or zips, then rebuild")
    im.add_argument("paths", nargs="+")
    im.add_argument("--json", action="store_true")
    im.add_argument("--quiet", action="store_true")
    im.set_defaults(func=cmd_data_import)
    st = dsub.add_parser("status", help="list the releases the codebook holds")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_data_status)

    sv = sub.add_parser("serve", help="serve the site")
    sv.add_argument("--host", default=os.environ.get("MEDCODE_HOST", "127.0.0.1"))
    sv.add_argument("--port", type=int, default=int(os.environ.get("MEDCODE_PORT", "8000")))
    sv.add_argument("--workers", type=int, default=int(os.environ.get("MEDCODE_WORKERS", "2")))
    sv.add_argument("--dev", action="store_true", help="Django's development server with autoreload")
    sv.set_defaults(func=cmd_serve)

    wk = sub.add_parser("worker", help="run background tasks (mail, alerts, data checks) and the periodic scheduler")
    wk.add_argument("--interval", type=float, default=1.0, help="seconds between polls for new tasks")
    wk.add_argument("--max-tasks", type=int, default=None, help="exit after running this many tasks")
    wk.add_argument("--no-scheduler", action="store_true", help="do not enqueue the periodic tasks")
    wk.set_defaults(func=cmd_worker)

    ak = sub.add_parser("apikey", help="create and revoke API keys")
    aksub = ak.add_subparsers(dest="apikey_command", required=True)
    akc = aksub.add_parser("create", help="create a key for EMAIL (and the account, verified, if it does not "
                           "exist) and print it")
    akc.add_argument("email")
    akc.add_argument("--plan", choices=["free", "paid"], help="set the account's plan (new accounts: free)")
    akc.add_argument("--name", default="", help="a name for the key")
    akc.add_argument("--json", action="store_true")
    akc.set_defaults(func=cmd_apikey_create)
    akr = aksub.add_parser("revoke", help="revoke the key that starts with PREFIX")
    akr.add_argument("prefix")
    akr.add_argument("--json", action="store_true")
    akr.set_defaults(func=cmd_apikey_revoke)

    mg = sub.add_parser("manage", help="run a Django management command")
    mg.add_argument("rest", nargs=argparse.REMAINDER)
    mg.set_defaults(func=cmd_manage)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except errors.UnknownCode as exc:
        print(f"medcode: {exc}", file=sys.stderr)
        try:
            near = _book().nearest(exc.system, exc.code)
            if near:
                print("did you mean: " + ", ".join(f"{c.code} ({c.title})" for c in near), file=sys.stderr)
        except errors.CodebookError:
            pass
        return 1
    except errors.CodebookError as exc:
        print(f"medcode: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("medcode: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
