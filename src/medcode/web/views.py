"""Thin views: parse the request, ask the core, render."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from medcode.codebook import errors
from medcode.codebook.codes import SYSTEM_LABELS, normalize, system_name
from medcode.codebook.dates import parse_date
from medcode.codebook.record import code_record

from .book import book

MAX_PARAM = 64


def home(request: HttpRequest) -> HttpResponse:
    b = book()
    chapters = b.top_level("icd10cm")
    return render(request, "web/home.html", {"chapters": chapters, "releases": b.releases()})


def healthz(request: HttpRequest) -> HttpResponse:
    b = book()
    return JsonResponse({"ok": True, "built_at": b.meta.get("built_at"), "systems": b.systems()})


def _error(request, status: int, title: str, message: str, **extra) -> HttpResponse:
    return render(request, "web/error.html", {"title": title, "message": message, **extra}, status=status)


def code_page(request: HttpRequest, system: str, code: str) -> HttpResponse:
    if len(code) > MAX_PARAM or len(request.GET.get("date", "")) > MAX_PARAM:
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
    return render(request, "web/code.html", {"rec": rec, "system_label": SYSTEM_LABELS.get(sys_id, sys_id)})


def not_found(request, exception=None):
    return _error(request, 404, "Not found", "There is no page at this address.")


def server_error(request):
    return HttpResponse("Something went wrong on our side; the error has been logged.", status=500,
                        content_type="text/plain")
