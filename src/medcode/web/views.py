"""Thin views: parse the request, ask the core, render."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse

from medcode.codebook import errors
from medcode.codebook.codes import ICD10CM, SYSTEM_LABELS, normalize, system_name
from medcode.codebook.dates import parse_date
from medcode.codebook.record import code_record

from .book import book
from .middleware import UNAVAILABLE, log as unavailable_log

MAX_PARAM = 64

# Headings as the Tabular prints them (the kinds are storage keys, not words).
NOTE_LABELS = {
    "includes": "Includes",
    "inclusion_terms": "Inclusion terms",
    "excludes1": "Excludes1",
    "excludes2": "Excludes2",
    "code_first": "Code first",
    "use_additional": "Use additional code",
    "code_also": "Code also",
    "notes": "Notes",
    "seventh_note": "7th character note",
}


def home(request: HttpRequest) -> HttpResponse:
    """The code box submits here (GET ?code=), so opening a code works without JavaScript."""
    error = None
    typed = request.GET.get("code", "").strip()
    if typed:
        if len(typed) > MAX_PARAM:
            error, typed = "That is too long to be a code.", ""
        else:
            try:
                return redirect(reverse("code", args=[ICD10CM, normalize(typed, ICD10CM)]))
            except NoReverseMatch:  # empty after normalising, or a "/" in it
                error = f"{typed!r} is not a code."
    b = book()
    chapters = b.top_level(ICD10CM)
    return render(request, "web/home.html", {"chapters": chapters, "releases": b.releases(), "error": error,
                                             "typed": typed}, status=400 if error else 200)


def healthz(request: HttpRequest) -> HttpResponse:
    """JSON whatever happens, so a monitor can read why the site is down."""
    try:
        b = book()
    except errors.BookMissing as exc:
        unavailable_log.error("codebook unavailable: %s", exc)
        return JsonResponse({"ok": False, "error": UNAVAILABLE}, status=503)
    return JsonResponse({"ok": True, "built_at": b.meta.get("built_at"), "systems": b.systems()})


def _error(request, status: int, title: str, message: str, **extra) -> HttpResponse:
    return render(request, "web/error.html", {"title": title, "message": message, **extra}, status=status)


def code_page(request: HttpRequest, system: str, code: str) -> HttpResponse:
    if max(len(system), len(code), len(request.GET.get("date", ""))) > MAX_PARAM:
        return _error(request, 400, "Bad request", "That address is too long to be a code.")
    try:
        sys_id = system_name(system)
    except errors.UnknownSystem as exc:
        return _error(request, 404, "Unknown code system", str(exc))
    try:
        when = parse_date(request.GET.get("date"))
    except errors.CodebookError as exc:
        return _error(request, 400, "Bad date", str(exc))
    canonical = normalize(code, sys_id)
    if not canonical:  # only spaces or dots: there is no code address to redirect to
        return _error(request, 404, "Code not found", "The address names no code.")
    if sys_id != system or canonical != code:
        url = reverse("code", args=[sys_id, canonical])
        if request.GET:
            url += "?" + request.GET.urlencode()
        return redirect(url, permanent=False)
    b = book()
    try:
        rec = code_record(b, sys_id, canonical, when)
    except errors.UnknownCode:
        near = b.nearest(sys_id, canonical, when)
        return _error(request, 404, "Code not found",
                      f"{canonical} is not a {SYSTEM_LABELS.get(sys_id, sys_id)} code on {when.isoformat()}.",
                      near=near, system=sys_id)
    notes = [(NOTE_LABELS.get(kind, kind.replace("_", " ").capitalize()), items)
             for kind, items in rec["notes"].items() if items]
    return render(request, "web/code.html",
                  {"rec": rec, "notes": notes, "system_label": SYSTEM_LABELS.get(sys_id, sys_id)})


def not_found(request, exception=None):
    return _error(request, 404, "Not found", "There is no page at this address.")


def server_error(request):
    return HttpResponse("Something went wrong on our side; the error has been logged.", status=500,
                        content_type="text/plain")
