"""Thin views: parse the request, ask the core (through web/pages.py and its cache), render."""

from __future__ import annotations

import re
from datetime import date

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.cache import patch_vary_headers
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_safe

from medcode.accounts import metering
from medcode.codebook import errors
from medcode.codebook.codes import ICD10CM, SYSTEM_LABELS, normalize, system_name
from medcode.codebook.dates import parse_date

from . import cache, pages
from .book import book
from .middleware import UNAVAILABLE, log as unavailable_log
from .pages import NOTE_LABELS  # noqa: F401  (tests and other views name the headings from here)

MAX_PARAM = 64
MAX_QUERY = 1024  # a code page's whole query string; anything longer is not a real link


def _url(name: str, *args) -> str | None:
    """A named URL, or None while the app that owns it is not installed (the page still renders)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


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
                                             "typed": typed, "systems": b.systems()},
                  status=400 if error else 200)


def healthz(request: HttpRequest) -> HttpResponse:
    """JSON whatever happens, so a monitor can read why the site is down."""
    try:
        b = book()
    except errors.BookMissing as exc:
        unavailable_log.error("codebook unavailable: %s", exc)
        return JsonResponse({"ok": False, "error": UNAVAILABLE}, status=503)
    return JsonResponse({"ok": True, "built_at": b.meta.get("built_at"), "systems": b.systems()})


def ping(request: HttpRequest) -> HttpResponse:
    """The cheapest page the site serves: the baseline bench/pages.py measures code pages against.
    With ?who=1 it also says who the visitor is, which costs what identifying a visitor costs (the
    session and account lookups every metered page pays): the bench's second baseline."""
    if request.GET.get("who"):
        user = request.user
        return HttpResponse(getattr(user, "plan", "guest") if user.is_authenticated else "guest",
                            content_type="text/plain")
    return HttpResponse("ok", content_type="text/plain")


def _error(request, status: int, title: str, message: str, **extra) -> HttpResponse:
    return render(request, "web/error.html", {"title": title, "message": message, **extra}, status=status)


def _params(request, system: str, code: str | None = None):
    """(system id, date, explicit date or None) or an error response."""
    if len(request.META.get("QUERY_STRING", "")) > MAX_QUERY:
        return _error(request, 400, "Bad request", "The address's query string is too long.")
    if max(len(system), len(code or ""), len(request.GET.get("date", ""))) > MAX_PARAM:
        return _error(request, 400, "Bad request", "That address is too long to be a code.")
    try:
        sys_id = system_name(system)
    except errors.UnknownSystem as exc:
        return _error(request, 404, "Unknown code system", str(exc))
    raw = request.GET.get("date", "").strip()
    try:
        when = parse_date(raw or None)
    except errors.CodebookError as exc:
        return _error(request, 400, "Bad date", str(exc))
    return sys_id, when, (when if raw else None)


def _canonical(request, name: str, args: list[str]) -> HttpResponse:
    url = reverse(name, args=args)
    if request.GET:
        url += "?" + request.GET.urlencode()
    return redirect(url, permanent=False)


# --- the code page ---------------------------------------------------------------------------------

@require_safe
def code_page(request: HttpRequest, system: str, code: str) -> HttpResponse:
    got = _params(request, system, code)
    if isinstance(got, HttpResponse):
        return got
    sys_id, when, explicit = got
    canonical = normalize(code, sys_id)
    if not canonical:  # only spaces or dots: there is no code address to redirect to
        return _error(request, 404, "Code not found", "The address names no code.")
    if sys_id != system or canonical != code:
        try:
            return _canonical(request, "code", [sys_id, canonical])
        except NoReverseMatch:  # a "/" inside the code
            return _error(request, 404, "Code not found", f"{canonical!r} is not a code.")
    b = book()
    found_key = cache.key(b, "found", sys_id, canonical, when.isoformat())
    found = cache.local_get(found_key)
    if found is None:
        found = b.find(sys_id, canonical, when)
        if found is not None:
            cache.local_put(found_key, found)
    if found is None:  # no charge for a code that does not exist
        near = b.nearest(sys_id, canonical, when)
        return _error(request, 404, "Code not found",
                      f"{canonical} is not a {SYSTEM_LABELS.get(sys_id, sys_id)} code on {when.isoformat()}.",
                      near=near, system=sys_id, near_query=f"?date={explicit.isoformat()}" if explicit else "")

    locality = _locality(request, b, found, when)
    if isinstance(locality, HttpResponse):
        return locality

    decision = metering.meter_request(request, found.system, found.code)

    dk = cache.date_key(when, explicit is not None)
    frame_key = cache.key(b, "frame", sys_id, found.code, dk)
    gated_key = cache.key(b, "gated", sys_id, found.code, dk, *((locality,) if locality else ()))
    held = cache.get_many([frame_key, gated_key] if decision.allowed else [frame_key])
    built: list[pages.CodeParts] = []

    def parts() -> pages.CodeParts:
        if not built:
            built.append(pages.build_code_parts(b, sys_id, found.code, when, explicit, locality))
        return built[0]

    frame = held.get(frame_key)
    if frame is None:
        frame = _code_frame(parts())
        cache.set(frame_key, frame)
    gated = None
    if decision.allowed:
        gated = held.get(gated_key)
        if gated is None:
            gated = render_to_string("web/_code_gated.html", parts().gated).encode()
            cache.set(gated_key, gated)

    # what is this visitor's own: never cached (a guest's account links are the same for every guest)
    nav = account_nav(request)
    meter = _meter_context(request, decision) if (decision.remaining is not None or not decision.allowed) else None
    banner = (render_to_string("web/_meter.html", {"meter": meter}).encode()
              if meter and meter["remaining"] is not None else b"")
    middle = gated if gated is not None else render_to_string(
        "web/_locked.html", {"meter": meter, "sections": LOCKED_SECTIONS.get(sys_id)}).encode()
    # the parts are UTF-8 bytes already: a cached page is joined, never re-encoded
    response = HttpResponse(b"".join((frame[0], nav, frame[1], banner, frame[2], middle, frame[3])))
    response["Cache-Control"] = "private"  # per visitor: no shared cache may keep it
    patch_vary_headers(response, ("Cookie",))  # (a guest's request never loads the session, which would say so)
    return metering.set_guest_cookie(request, response)


def _url_context() -> tuple:
    """What the markup kept once per process depends on: the script prefix and the URLconf. (With DEBUG
    nothing is kept: runserver reloads edited templates without a restart.)"""
    return get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF


_guest_nav: dict[tuple, bytes] = {}


def account_nav(request) -> bytes:
    """The account links, UTF-8: rendered per request for a signed-in visitor (their CSRF token is in
    it); for a guest the same HTML every time, so it is rendered once per process (and URL prefix)."""
    if metering.signed_in_user(request) is not None:
        return render_to_string("web/_account_nav.html", request=request).encode()
    prefix = _url_context()
    nav = _guest_nav.get(prefix)
    if nav is None:
        nav = render_to_string("web/_account_nav.html", {}).encode()
        if not settings.DEBUG:
            _guest_nav[prefix] = nav
    return nav


# What the register / upgrade prompt says is hidden (default: the ICD-10 sections).
LOCKED_SECTIONS = {"hcpcs": "Edits, relative values, payment and history", "cpt": "Edits, relative values, payment "
                   "and history", "modifier": "History", "pos": "History"}


def _locality(request, b, found, when):
    """The Medicare locality a HCPCS or CPT page's payment is for (None: national), or a 400 page.
    Checked before metering: a bad address costs no view."""
    raw = request.GET.get("locality", "").strip()
    if not raw or found.system not in ("hcpcs", "cpt"):
        return None
    if len(raw) > 16:
        return _error(request, 400, "Bad locality", "That is too long to be a Medicare locality.")
    try:
        gpci = b.gpci(raw, when)
    except errors.CodebookError as exc:
        return _error(request, 400, "Bad locality", str(exc))
    if gpci is None:
        return _error(request, 400, "Unknown locality",
                      f"There is no Medicare locality {raw!r} in the GPCI file in effect on {when.isoformat()}; "
                      "choose one from the list on the code page.")
    return gpci.id


# Holes in a cached code page, filled per request: the account links, the meter banner, and the
# gated sections (or the register / upgrade prompt). HTML comments: page text is escaped, so
# nothing a code or note says can forge one.
_HOLES = ("<!--medcode:account-nav-->", "<!--medcode:banner-->", "<!--medcode:gated-->")


_SLOTS = ("title", "head", "body", "tail")
_SLOT = re.compile("<!--medcode:slot-(" + "|".join(_SLOTS) + ")-->")
_shells: dict[tuple, list[str]] = {}


def _shell() -> list[str]:
    """code.html (and the base template around it) rendered once per process and URL prefix, with a
    marker in each slot a page fills: [text, slot name, text, slot name, ..., text]. Everything else
    in it is the same for every code page, so a page need not render it again."""
    prefix = _url_context()
    shell = _shells.get(prefix)
    if shell is None:
        marks = {name: mark_safe(f"<!--medcode:slot-{name}-->") for name in _SLOTS}
        nav, banner, middle = (mark_safe(h) for h in _HOLES)
        html = render_to_string("web/code.html", {"page_title": marks["title"], "account_nav": nav,
                                                  "banner": banner, "middle": middle,
                                                  **{n: marks[n] for n in ("head", "body", "tail")}})
        shell = _SLOT.split(html)
        named = shell[1::2]
        if any(named.count(n) != 1 for n in ("head", "body", "tail")) or "title" not in named:
            raise RuntimeError("the code page template must show its title and hold head, body and tail once")
        if not settings.DEBUG:
            _shells[prefix] = shell
    return shell


def _code_frame(p: pages.CodeParts) -> list[bytes]:
    """The code page around its holes, rendered without a request (so no user, no CSRF token), as
    UTF-8 pieces: the page-specific parts go into the shell's slots."""
    fill = {"title": str(conditional_escape(f"{p.public['rec']['code']} {p.title}")),
            **{name: render_to_string(f"web/_code_{name}.html", p.public) for name in ("head", "body", "tail")}}
    shell = _shell()
    html = "".join(piece if i % 2 == 0 else fill[piece] for i, piece in enumerate(shell))
    out, rest = [], html
    for hole in _HOLES:
        before, hit, rest = rest.partition(hole)
        if not hit or hole in rest:
            raise RuntimeError(f"the code page template must hold {hole} exactly once")
        out.append(before.encode())
    out.append(rest.encode())
    return out


def _meter_context(request, decision) -> dict:
    """The per-visitor banner and, when refused, the register / upgrade prompt."""
    user = getattr(request, "user", None)
    signed_in = bool(user is not None and user.is_authenticated)
    if signed_in and getattr(user, "email_verified", False):
        who = "paid" if decision.remaining is None else "free"
    else:
        who = "unverified" if signed_in else "guest"
    quotas = settings.MEDCODE_QUOTAS
    ctx = {
        "allowed": decision.allowed,
        "remaining": decision.remaining,
        "already_unlocked": decision.already_unlocked,
        "retry_after_days": -(-decision.retry_after_seconds // 86400) if decision.retry_after_seconds else None,
        "who": who,
        "window_days": settings.MEDCODE_METER_WINDOW_DAYS,
        "free_quota": quotas.get("free"),
        "guest_quota": quotas.get("guest"),
    }
    if not decision.allowed:  # the prompt's links; a missing route leaves its link out, not a 500
        ctx.update(register_url=_url("register"), login_url=_url("login"), account_url=_url("account"),
                   resend_url=_url("resend_verification"), next=request.get_full_path())
    return ctx


# --- browse --------------------------------------------------------------------------------------------

@require_safe
def browse_index(request: HttpRequest) -> HttpResponse:
    b = book()
    systems = [{"id": s, "label": SYSTEM_LABELS.get(s, s), "href": reverse("browse_system", args=[s])}
               for s in b.systems() if s in pages.BROWSE_LEVELS]
    return render(request, "web/browse_index.html", {"systems": systems})


@require_safe
def browse(request: HttpRequest, system: str, node: str | None = None) -> HttpResponse:
    got = _params(request, system, node)
    if isinstance(got, HttpResponse):
        return got
    sys_id, when, explicit = got
    if sys_id not in pages.BROWSE_LEVELS:
        return _error(request, 404, "Nothing to browse",
                      f"{SYSTEM_LABELS.get(sys_id, sys_id)} is not held here; browse ICD-10-CM or ICD-10-PCS.")
    b = book()
    if node is not None:
        canonical = normalize(node, sys_id)
        if not canonical:
            return _error(request, 404, "Not found", "The address names no code.")
        if sys_id != system or canonical != node:
            try:
                return _canonical(request, "browse_node", [sys_id, canonical])
            except NoReverseMatch:
                return _error(request, 404, "Not found", f"{canonical!r} is not a code.")
        found = b.find(sys_id, canonical, when)
        if found is None:
            return _error(request, 404, "Code not found",
                          f"{canonical} is not a {SYSTEM_LABELS.get(sys_id, sys_id)} code on {when.isoformat()}.",
                          near=b.nearest(sys_id, canonical, when), system=sys_id,
                          near_query=f"?date={explicit.isoformat()}" if explicit else "")
        if found.kind not in pages.BROWSE_LEVELS[sys_id]:  # a category or table: its code page lists the rest
            return _canonical(request, "code", [sys_id, found.code])
    elif sys_id != system:
        return _canonical(request, "browse_system", [sys_id])
    k = cache.key(b, "browse", sys_id, node or "-", cache.date_key(when, explicit is not None))
    content = cache.get_or_build(
        k, lambda: render_to_string("web/_browse.html", pages.build_browse(b, sys_id, node, when, explicit)))
    title = f"Browse {SYSTEM_LABELS.get(sys_id, sys_id)}"
    if node is not None:
        title = f"{pages.level_name(sys_id, found.code, found.kind)} {found.title}"
    return render(request, "web/browse.html", {"page_title": title, "content": mark_safe(content)})


# --- guidelines -----------------------------------------------------------------------------------------

@require_safe
def guideline_index(request: HttpRequest) -> HttpResponse:
    b = book()
    k = cache.key(b, "guidelines")
    content = cache.get_or_build(k, lambda: render_to_string("web/_guidelines.html",
                                                             pages.build_guideline_contents(b)))
    return render(request, "web/guidelines.html", {"content": mark_safe(content)})


@require_safe
def guideline(request: HttpRequest, ref: str) -> HttpResponse:
    if len(ref) > MAX_PARAM or len(request.META.get("QUERY_STRING", "")) > MAX_QUERY:
        return _error(request, 400, "Bad request", "That address is too long to be a guideline section.")
    b = book()
    stored = pages.guideline_ref(b, ref)
    if stored is None:
        return _error(request, 404, "Guideline section not found",
                      f"The ICD-10-CM Official Guidelines in this codebook have no section {ref!r}.",
                      guidelines_url=reverse("guidelines"))
    if stored != ref:
        return redirect(reverse("guideline", args=[stored]))
    k = cache.key(b, "guideline", stored.replace(" ", "_"))
    cached = cache.get_many([k]).get(k)
    if cached is None:
        ctx = pages.build_guideline(b, stored, date.today())
        cached = {"title": ctx["name"],
                  "html": render_to_string("web/_guideline.html", ctx)}
        cache.set(k, cached)
    return render(request, "web/guideline.html", {"page_title": cached["title"], "content": mark_safe(cached["html"])})


# --- errors -----------------------------------------------------------------------------------------------

def not_found(request, exception=None):
    return _error(request, 404, "Not found", "There is no page at this address.")


def server_error(request):
    return HttpResponse("Something went wrong on our side; the error has been logged.", status=500,
                        content_type="text/plain")
