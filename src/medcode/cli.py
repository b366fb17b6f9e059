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


# --- ask ------------------------------------------------------------------------------------

def cmd_ask(args) -> int:
    """The assistant, without conversations; a language model when MEDCODE_LLM_* is set (unless --no-model)."""
    from .assistant import MAX_QUESTION_CHARS, ask, llm
    from .codebook.dates import parse_date
    from .conversations.contract import api_shape

    question = " ".join(args.question).strip()
    if not question:
        print('medcode: the question is empty; e.g. medcode ask "What is K21.9?"', file=sys.stderr)
        return 2
    if len(question) > MAX_QUESTION_CHARS:
        print(f"medcode: the question is {len(question):,} characters long; at most {MAX_QUESTION_CHARS:,} "
              "are allowed", file=sys.stderr)
        return 2
    when = parse_date(args.date)
    try:
        model = None if args.no_model else llm.config_from_env(os.environ)
    except ValueError as exc:
        print(f"medcode: {exc}", file=sys.stderr)
        return 2
    book = _book()
    answer = llm.phrase(book, question, ask(book, question, when=when), model, when=when).answer
    if args.json:
        _print_json(api_shape(answer))
        return 0
    out = sys.stdout.write
    out(answer.markdown.rstrip() + "\n")
    if answer.citations and not all(f"]({c.url})" in answer.markdown for c in answer.citations):
        out("\nsources:\n")  # a model's wording does not link them; the engine's own answer does
        for c in answer.citations:
            out(f"  {c.source}: {c.ref}  {c.url}\n")
    if answer.codes:
        out("\ncodes:\n")
        for c in answer.codes:
            out(f"  {c.code:<9} {'valid' if c.valid else 'NOT VALID'} on {when.isoformat()}"
                f"{'  ' + c.title if c.title else ''}\n")
    return 0


# --- code (case to code) --------------------------------------------------------------------

def cmd_code(args) -> int:
    """A clinical note (a file, or - for stdin) -> suggested ICD-10-CM codes with their evidence."""
    from .case2code import MAX_CHARS, Case2CodeError, code_note
    from .codebook.dates import parse_date

    try:
        if args.file == "-":
            raw = sys.stdin.buffer.read(4 * MAX_CHARS + 1)
        else:
            with open(args.file, "rb") as fh:
                raw = fh.read(4 * MAX_CHARS + 1)
    except OSError as exc:
        print(f"medcode: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if b"\x00" in raw:
        print(f"medcode: {args.file} is binary (NUL bytes): give a plain-text note", file=sys.stderr)
        return 2
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        print(f"medcode: {args.file} is not UTF-8 text (byte {exc.start}); save the note as UTF-8", file=sys.stderr)
        return 2
    when = parse_date(args.date)
    try:
        result = code_note(_book(), text, args.setting, when)
    except Case2CodeError as exc:
        print(f"medcode: {exc.message}", file=sys.stderr)
        return 2
    if args.json:
        _print_json(result.as_dict())
        return 0
    out = sys.stdout.write
    if not result.codes:
        out("no codes suggested\n")
    for s in result.codes:
        out(f"{'*' if s.first_listed else ' '} {s.code:<9} {s.title}\n")
        out(f"    evidence: {'; '.join(repr(e.text) + f' @{e.start}-{e.end}' for e in s.evidence)}\n")
        out(f"    why: {s.rationale}\n")
    for w in result.warnings:
        out(f"note: {w}\n")
    if any(s.first_listed for s in result.codes):
        out("* first-listed (principal for inpatient)\n")
    return 0


# --- edits ----------------------------------------------------------------------------------

def cmd_edits(args) -> int:
    """The claim edit checker; exit 0 once the claim is checked (whatever it found), 2 when unreadable."""
    import textwrap

    from .codebook.dates import parse_date
    from .edits import ClaimError, run_check, split_text

    when = parse_date(args.date)
    tokens = [t for arg in args.lines for t in (split_text(arg) or [arg])]
    try:
        result = run_check(_book(), tokens, args.setting, when)
    except ClaimError as exc:
        for p in exc.problems:
            print(f"medcode: {p['message']}", file=sys.stderr)
        return 2
    if args.json:
        _print_json(result.as_dict())
        return 0
    out = sys.stdout.write
    n = result.counts()
    label = "outpatient hospital" if result.setting == "hospital" else "practitioner"
    out(f"{label} claim, date of service {result.when.isoformat()}: {n['error']} error(s), {n['warning']} "
        f"warning(s), {n['advisory']} note(s)\n")
    for i, li in enumerate(result.lines, 1):
        what = {"cpt": "CPT", "hcpcs": "HCPCS"}.get(li.system or "", "?")
        out(f"  {i:>2}  {li.line.label:<18} {what:<5} {li.title or ''}".rstrip()[:110] + "\n")
    if not result.findings:
        out("no problems found: no NCCI edit applies to these lines on this date\n")
    wrap = textwrap.TextWrapper(width=100, initial_indent="    ", subsequent_indent="    ")
    for f in result.findings:
        where = ", ".join(str(i + 1) for i in f.lines)
        out(f"\n{f.severity.upper()} [{f.kind}] line{'s' if len(f.lines) > 1 else ''} {where}\n")
        out(wrap.fill(f.message) + "\n")
        out(wrap.fill("Fix: " + f.fix) + "\n")
    for notice in result.notices:
        out("\nnote: " + notice + "\n")
    return 0


# --- data -----------------------------------------------------------------------------------

def cmd_data_build(args) -> int:
    from .codebook.build import all_sources, build, is_stale

    srcs = all_sources(config.sources_dir())
    if args.if_stale and not is_stale(config.codebook_path(), srcs):
        if args.json:
            _print_json({"path": str(config.codebook_path()), "rebuilt": False})
        else:
            print(f"{config.codebook_path()} is up to date with its sources: not rebuilt")
        return 0
    report = build(config.codebook_path(), srcs, progress=not args.quiet)
    doc = {"path": report.path, "rebuilt": True, "seconds": round(report.seconds, 2), "size": report.size,
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
    from .codebook.update import update_lock

    with update_lock(config.home()):  # not while `medcode data update` rewrites the same manifest
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
    from .codebook.update import last_check, release_origins

    book = _book()
    origins = release_origins(config.sources_dir())
    rels = [{"system": r.system, "name": r.name, "kind": r.kind, "effective_from": r.effective_from,
             "effective_to": r.effective_to, "source": r.source, "sha256": r.sha256, "counts": r.counts,
             **origins.get(r.sha256, {"origin": "unknown"})}
            for r in book.releases()]
    doc = {"codebook": str(book.path), "built_at": book.meta.get("built_at"), "releases": rels,
           "last_update_check": last_check(config.sources_dir())}
    if args.json:
        _print_json(doc)
    else:
        print(f"codebook {book.path} (built {doc['built_at']})")
        for r in rels:
            came = {"downloaded": f"downloaded from {r.get('url')}", "packaged": f"packaged ({r.get('package')})",
                    "imported": "imported by hand"}.get(r["origin"], r["origin"])
            print(f"  {r['system']:9} {r['name']:45} {r['effective_from']} to {r['effective_to'] or 'now':10}  "
                  f"{r['source']}  sha256 {r['sha256'][:12]}  {came}")
        check = doc["last_update_check"]
        if check:
            print(f"last update check {check['at']}: {len(check['missing'])} release(s) missing, "
                  f"{len(check['imported'])} imported, {len(check['failed'])} failed")
    return 0


def cmd_data_update(args) -> int:
    """Fetch the official releases in effect that the codebook lacks (see codebook/update.py)."""
    from .codebook import update

    def say(msg: str) -> None:
        if not args.json and not args.quiet:
            print(msg, file=sys.stderr)

    def offline(msg: str, code: int) -> int:
        if args.json:
            _print_json({"offline": True, "message": msg})
        else:
            print(f"medcode: {msg}", file=sys.stderr)
        return code

    if update.offline() and not args.dry_run:
        return offline(f"MEDCODE_OFFLINE is set: nothing is downloaded. {update.OFFLINE_HELP}",
                       0 if args.if_online else 2)
    registry = update.load_registry()
    if args.if_online and not args.dry_run:
        plan = update.plan_update(registry, sources_dir=config.sources_dir(), book_path=config.codebook_path(),
                                  only=args.only or ())
        urls = [f.url for n in plan.missing for f in n.files]
        if urls and not update.reachable(urls[0]):
            return offline(f"offline ({urls[0]} cannot be reached): nothing is downloaded. {update.OFFLINE_HELP}", 0)
    report = update.run_update(registry, only=args.only or (), dry_run=args.dry_run,
                               progress=not (args.quiet or args.json), say=say)
    if args.json:
        _print_json(report.to_dict())
        return 0 if report.ok else 1
    plan = report.plan
    print(f"releases in effect from {plan.since} to {plan.today}: {len(plan.held)} held, {len(plan.missing)} missing")
    for need in plan.missing if args.dry_run else ():
        print(f"  missing  {need.release.id:30} {need.release.title}")
        for f in need.files:
            print(f"{'':41}{f.url}")
    for r in plan.by_hand:
        print(f"  {'by hand':8} {r.id:30} {r.title}: {r.reason}")
    for r in report.imported:
        print(f"imported {r['id']}: {', '.join(f['url'] for f in r['files'])}")
    for r in report.failed:
        print(f"FAILED {r['id']} ({r['title']}): {r['url']}: {r['error']}", file=sys.stderr)
    if report.codebook:
        print(f"rebuilt {report.codebook} in {report.build_seconds:.1f} s")
    elif not args.dry_run and not plan.missing:
        print("nothing to fetch: the codebook holds every release in effect")
    return 0 if report.ok else 1


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


def cmd_smtpd(args) -> int:
    """The email-consult SMTP gateway (aiosmtpd): mail for MEDCODE_CONSULT_ADDRESS only, stored for the worker."""
    _django_ready()
    from django.conf import settings

    from .consult.gateway import serve

    serve(args.host or settings.MEDCODE_SMTPD_HOST, args.port or settings.MEDCODE_SMTPD_PORT)
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

    ed = sub.add_parser("edits", help="check a claim's lines against the NCCI edits (PTP pairs, MUEs, add-on codes)",
                        description="Lines are CODE[-MOD...][xUNITS], e.g. 29881 29880-59 J1100x12 (or one argument "
                                    "with commas). Exit 0 once checked, whatever was found; 2 when a line cannot be "
                                    "read.")
    ed.add_argument("lines", nargs="+", metavar="LINE", help="a claim line: 29880-59, J1100x12, 29881-LT-59x2")
    ed.add_argument("--setting", default="practitioner", help="practitioner (default) or hospital")
    ed.add_argument("--date", help="date of service, YYYY-MM-DD (default today)")
    ed.add_argument("--json", action="store_true", help="print the API's document (POST /api/v1/edits/check)")
    ed.set_defaults(func=cmd_edits)

    ak_ = sub.add_parser("ask", help="ask a coding question; a cited answer from the official sources")
    ak_.add_argument("question", nargs="+", help='e.g. "Is I50.2 billable?"')
    ak_.add_argument("--date", help="date of service, YYYY-MM-DD (default today)")
    ak_.add_argument("--no-model", action="store_true", help="never use the language model (MEDCODE_LLM_*)")
    ak_.add_argument("--json", action="store_true", help="print the API's answer shape")
    ak_.set_defaults(func=cmd_ask)

    cd = sub.add_parser("code", help="suggest ICD-10-CM codes for a clinical note, each with its evidence")
    cd.add_argument("file", help="a plain-text note (UTF-8), or - to read stdin")
    cd.add_argument("--setting", default="outpatient", choices=["outpatient", "inpatient", "ed"],
                    help="how uncertain diagnoses are coded (default outpatient)")
    cd.add_argument("--date", help="date of service, YYYY-MM-DD (default today)")
    cd.add_argument("--json", action="store_true", help="print the API's response shape")
    cd.set_defaults(func=cmd_code)

    data = sub.add_parser("data", help="build and inspect the codebook")
    dsub = data.add_subparsers(dest="data_command", required=True)
    b = dsub.add_parser("build", help="rebuild the codebook from imported files and packaged defaults")
    b.add_argument("--json", action="store_true")
    b.add_argument("--quiet", action="store_true")
    b.add_argument("--if-stale", action="store_true",
                   help="only when the imported files or this medcode changed since the last build")
    b.set_defaults(func=cmd_data_build)
    im = dsub.add_parser("import", help="import official release files, folders or zips, then rebuild")
    im.add_argument("paths", nargs="+")
    im.add_argument("--json", action="store_true")
    im.add_argument("--quiet", action="store_true")
    im.set_defaults(func=cmd_data_import)
    st = dsub.add_parser("status", help="list the releases the codebook holds")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_data_status)
    up = dsub.add_parser("update", help="download the official releases in effect that the codebook lacks, check "
                         "them, import them and rebuild (registry: codebook/registry.toml; overrides: "
                         "MEDCODE_SOURCES_FILE or $MEDCODE_HOME/sources.toml)")
    up.add_argument("--only", action="append", metavar="SYSTEM", help="only this code set (icd10cm, icd10pcs, hcpcs, "
                    "ncci, pfs, pos) or release id; repeat for more")
    up.add_argument("--dry-run", action="store_true", help="list what is missing and where it would come from")
    up.add_argument("--if-online", action="store_true", help="when offline (or MEDCODE_OFFLINE=1) say how to import "
                    "by hand and exit 0 (make run uses it)")
    up.add_argument("--json", action="store_true")
    up.add_argument("--quiet", action="store_true")
    up.set_defaults(func=cmd_data_update)

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

    sm = sub.add_parser("smtpd", help="run the email-consult SMTP gateway (accepts mail for MEDCODE_CONSULT_ADDRESS)")
    sm.add_argument("--host", help="interface to listen on (default MEDCODE_SMTPD_HOST, 127.0.0.1)")
    sm.add_argument("--port", type=int, help="port to listen on (default MEDCODE_SMTPD_PORT, 2525)")
    sm.set_defaults(func=cmd_smtpd)

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
