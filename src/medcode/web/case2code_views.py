"""/case2code: paste a note, get the suggested codes with their evidence highlighted in the note.

Thin: read the form, ask medcode.case2code, render. The highlighted note is built here on the server
(every character HTML-escaped, evidence in <mark>), so reading needs no JavaScript; case2code.js only
keeps the final list in step with the accept/reject checkboxes and copies it. Each run counts against
the visitor's case-to-code quota (accounts.quotas, feature "case2code"), charged only for a note that
can be read. What cannot be read is a page that says why with a fitting status, never a 500.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods

from medcode.accounts import metering, quotas
from medcode.case2code import MAX_CHARS, SETTINGS, Case2CodeError, check_setting, check_text, code_note
from medcode.codebook import errors
from medcode.codebook.dates import parse_date

from .book import book

FEATURE = "case2code"
MAX_FIELD = 64
SETTING_LABELS = {"outpatient": "Outpatient (office, clinic)", "ed": "Emergency department",
                  "inpatient": "Inpatient (at discharge)"}
EXAMPLE = ("ED: 54-year-old with type 2 diabetes presents with a foot ulcer of the left heel, limited to "
           "breakdown of skin. Denies fever or chest pain. Assessment: diabetic foot ulcer of the left heel.")


def _url(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def highlighted(text: str, codes) -> str:
    """The note as HTML: every character escaped, each evidence span in a <mark> that names its
    suggestions (data-codes, and their numbers after it), overlapping spans split at their edges."""
    marks: list[tuple[int, int, int]] = []
    for n, s in enumerate(codes, 1):
        for e in s.evidence:
            if 0 <= e.start < e.end <= len(text):
                marks.append((e.start, e.end, n))
    cuts = sorted({0, len(text)} | {m[0] for m in marks} | {m[1] for m in marks})
    out = []
    for a, b in zip(cuts, cuts[1:]):
        piece = escape(text[a:b])
        covering = sorted({n for s, e, n in marks if s <= a and b <= e})
        if not covering:
            out.append(piece)
            continue
        names = " ".join(codes[n - 1].code for n in covering)
        nums = ",".join(str(n) for n in covering)
        out.append(f'<mark class="ev" data-codes="{escape(names)}" title="{escape(names)}">{piece}'
                   f'<sup class="ev-n" aria-hidden="true">{nums}</sup>'
                   f'<span class="sr-only"> (evidence for {escape(names)})</span></mark>')
    return mark_safe("".join(out))


def _context(request: HttpRequest, **extra) -> dict:
    left = quotas.remaining(request, FEATURE)
    ctx = {"settings_choices": [(s, SETTING_LABELS[s]) for s in SETTINGS], "setting": "outpatient", "date": "",
           "text": "", "result": None, "error": None, "quota": None, "max_chars": MAX_CHARS, "example": EXAMPLE,
           "remaining": left.remaining, "limit": left.limit}
    ctx.update(extra)
    return ctx


def _page(request: HttpRequest, ctx: dict, status: int = 200) -> HttpResponse:
    response = render(request, "web/case2code.html", ctx, status=status)
    response["Cache-Control"] = "private, no-store"
    return metering.set_guest_cookie(request, response)


def _quota(request: HttpRequest, exc: quotas.QuotaExceeded) -> dict:
    limits = settings.MEDCODE_FEATURE_QUOTAS.get(FEATURE, {})
    hours = -(-exc.retry_after // 3600) if exc.retry_after else None
    return {"message": exc.message[:1].upper() + exc.message[1:], "plan": exc.plan, "free_limit": limits.get("free"),
            "retry_hours": hours, "register_url": _url("register"), "login_url": _url("login")}


@require_http_methods(["GET", "HEAD", "POST"])
def case2code(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request, _context(request))
    try:
        post = request.POST
    except RequestDataTooBig:
        return _page(request, _context(request, error=f"The note is too large to read; paste at most {MAX_CHARS:,} "
                                                      "characters."), status=413)
    raw_text = post.get("text", "")
    setting = post.get("setting", "outpatient")[:MAX_FIELD].strip()
    raw_date = post.get("date", "")[:MAX_FIELD].strip()
    shown = raw_text if len(raw_text) <= MAX_CHARS else ""
    ctx = _context(request, text=shown, setting=setting if setting in SETTINGS else "outpatient", date=raw_date)
    try:
        text = check_text(raw_text)
        setting = check_setting(setting)
        when = parse_date(raw_date or None)
    except Case2CodeError as exc:
        ctx["error"] = exc.message[:1].upper() + exc.message[1:] + "."
        if exc.code == "binary":
            ctx["text"] = ""
        return _page(request, ctx, status=exc.status)
    except errors.CodebookError as exc:  # a bad date
        ctx["error"] = str(exc)[:1].upper() + str(exc)[1:]
        return _page(request, ctx, status=400)
    try:
        left = quotas.consume(request, FEATURE)
    except quotas.QuotaExceeded as exc:
        ctx["quota"] = _quota(request, exc)
        response = _page(request, ctx, status=429)
        if exc.retry_after:
            response["Retry-After"] = str(exc.retry_after)
        return response
    result = code_note(book(), text, setting, when)
    suggestions = []
    for n, s in enumerate(result.codes, 1):
        try:
            href = reverse("code", args=[s.system, s.code]) + (f"?date={when.isoformat()}" if raw_date else "")
        except NoReverseMatch:
            href = None
        suggestions.append({"n": n, "s": s, "href": href, "confidence_pct": round(s.confidence * 100)})
    ctx.update(result=result, suggestions=suggestions, note_html=highlighted(text, result.codes),
               final_list="\n".join(f"{s.code} {s.title}" for s in result.codes), setting=setting, when=when,
               remaining=left.remaining, limit=left.limit)
    return _page(request, ctx)
