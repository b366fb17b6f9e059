"""/edits/check: the claim edit checker as a form. Thin: read the form, ask medcode.edits, render.

The form is rows of code / modifiers / units (and, for a list copied from elsewhere, a box of lines
typed as on the command line: "29880-59", "J1100 x12"). Without JavaScript, "Add a line" posts the
form back with one more empty row; with it, edits.js adds the row in place. CSRF-protected like
every POST. Not metered (it shows no code page's gated sections); what cannot be read is a 400 page
that names each problem, never a 500.
"""

from __future__ import annotations

import re
from datetime import date

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from medcode.codebook import errors
from medcode.codebook.dates import parse_date
from medcode.edits import MAX_LINES, MAX_TEXT, ClaimError, run_check

from .book import book

FIRST_ROWS = 4
MAX_FIELD = 64
SEVERITY_LABELS = {"error": "Error", "warning": "Warning", "advisory": "Note"}
KIND_LABELS = {"ptp": "NCCI pair (PTP)", "mue": "Units over the MUE", "addon": "Add-on code",
               "invalid": "Not a valid code", "deleted": "Not in effect on the date"}
_MOD_SPLIT = re.compile(r"[\s,;/\-]+")
_TYPED = re.compile(r"[-\s]|[xX*][0-9]+\s*$")


def _rows_from_post(post) -> tuple[list[dict], list[dict]]:
    """The form's rows as typed, and the claim lines from the non-empty ones (dicts for medcode.edits)."""
    try:
        count = min(max(int(post.get("rows", FIRST_ROWS)), 1), MAX_LINES)
    except (TypeError, ValueError):
        count = FIRST_ROWS
    rows, lines = [], []
    for n in range(count):
        code = post.get(f"code_{n}", "")[:MAX_FIELD].strip()
        mods = post.get(f"mods_{n}", "")[:MAX_FIELD].strip()
        units = post.get(f"units_{n}", "")[:MAX_FIELD].strip()
        rows.append({"n": n, "code": code, "mods": mods, "units": units, "line": None})
        if code or mods or (units and units != "1"):
            rows[-1]["line"] = len(lines)
            if _TYPED.search(code) and not mods and not units:  # "29880-59 x2" typed in the code box
                lines.append(code)
            else:
                lines.append({"code": code, "modifiers": [m for m in _MOD_SPLIT.split(mods) if m],
                              "units": units or 1})
    return rows, lines


def _rows_from_lines(lines) -> list[dict]:
    return [{"n": n, "code": li.code, "mods": " ".join(li.modifiers), "units": str(li.units), "line": n}
            for n, li in enumerate(lines)]


def _empty_rows(start: int, count: int) -> list[dict]:
    return [{"n": start + k, "code": "", "mods": "", "units": "", "line": None} for k in range(count)]


def _code_href(b, system: str | None, code: str, when: date, explicit: bool) -> str | None:
    """A link to the code's page when the site has one for that date."""
    if system is None:
        return None
    try:
        if b.find(system, code, when) is None:
            return None
        href = reverse("code", args=[system, code])
    except Exception:  # noqa: BLE001  no page for that system or spelling: no link, never a 500
        return None
    return f"{href}?date={when.isoformat()}" if explicit else href


@require_http_methods(["GET", "HEAD", "POST"])
def check(request: HttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    ctx = {"settings_choices": [("practitioner", "Practitioner (physician, NPP)"),
                                ("hospital", "Outpatient hospital")],
           "setting": "practitioner", "date": "", "paste": "", "result": None, "problems": [], "error": None,
           "max_lines": MAX_LINES, "max_text": MAX_TEXT, "checked": False}
    if data is None:
        ctx["rows"] = _empty_rows(0, FIRST_ROWS)
        return render(request, "web/edits_check.html", ctx)

    setting = data.get("setting", "practitioner")[:MAX_FIELD].strip() or "practitioner"
    raw_date = data.get("date", "")[:MAX_FIELD].strip()
    paste = data.get("paste", "")
    rows, lines = _rows_from_post(data)
    ctx.update(setting=setting, date=raw_date, paste=paste[:MAX_TEXT])
    if "add" in data:  # "Add a line" without JavaScript: the same form, one row more
        ctx["rows"] = rows + _empty_rows(len(rows), 1 if len(rows) < MAX_LINES else 0)
        return render(request, "web/edits_check.html", ctx)

    status = 200
    try:
        when = parse_date(raw_date or None)
        source = paste if paste.strip() else lines
        if isinstance(source, str) and len(source) > MAX_TEXT:
            raise ClaimError([{"line": None, "field": "lines", "message": f"the list of lines is {len(source):,} "
                               f"characters long; at most {MAX_TEXT:,} are read"}])
        result = run_check(book(), source, setting, when)
    except ClaimError as exc:
        status = 400
        ctx["error"] = "The claim could not be checked:"
        ctx["problems"] = [p["message"] for p in exc.problems]
        bad = {p["line"] for p in exc.problems if p["line"] is not None} if not paste.strip() else set()
        # the lines first, in order, so the form's line numbers are the ones the messages use
        used = [r for r in rows if r["line"] is not None]
        for n, row in enumerate(used + [r for r in rows if r["line"] is None]):
            row["invalid"], row["n"] = row["line"] in bad, n
        ctx["rows"] = used + [r for r in rows if r["line"] is None]
        return render(request, "web/edits_check.html", ctx, status=status)
    except errors.CodebookError as exc:  # a bad date
        ctx["error"] = str(exc)
        ctx["rows"] = rows
        return render(request, "web/edits_check.html", ctx, status=400)

    b = book()
    explicit = bool(raw_date)
    hrefs = {li.line.code: _code_href(b, li.system, li.line.code, when, explicit)
             for li in result.lines if li.status not in ("invalid",)}
    by_line: dict[int, list[dict]] = {}
    findings = []
    for n, f in enumerate(result.findings, 1):
        item = {"n": n, "kind": f.kind, "kind_label": KIND_LABELS[f.kind], "severity": f.severity,
                "severity_label": SEVERITY_LABELS[f.severity], "message": f.message, "fix": f.fix,
                "lines": [{"number": i + 1, "code": result.lines[i].line.code,
                           "href": hrefs.get(result.lines[i].line.code)} for i in f.lines]}
        findings.append(item)
        for i in f.lines:
            by_line.setdefault(i, []).append(item)
    claim = []
    for i, li in enumerate(result.lines):
        marks = by_line.get(i, [])
        worst = next((s for s in ("error", "warning", "advisory") if any(m["severity"] == s for m in marks)), None)
        claim.append({"number": i + 1, "code": li.line.code, "modifiers": " ".join(li.line.modifiers),
                      "units": li.line.units, "title": li.title, "href": hrefs.get(li.line.code),
                      "system": li.system, "status": li.status, "worst": worst,
                      "findings": [m["n"] for m in marks]})
    shown_rows = _rows_from_lines([li.line for li in result.lines])
    ctx.update(checked=True, result=result, findings=findings, claim=claim, summary=result.counts(),
               notices=result.notices, when=when, setting=result.setting,
               rows=shown_rows + _empty_rows(len(shown_rows), 2 if len(shown_rows) < MAX_LINES - 1 else 0),
               paste="")
    response = render(request, "web/edits_check.html", ctx, status=status)
    response["Cache-Control"] = "private, no-store"
    return response
