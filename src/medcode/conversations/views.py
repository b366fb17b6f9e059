"""The chat page (/assistant) and the policy-text pages (/references/<source>/<ref>). Thin views.

Without JavaScript the form POSTs to /assistant and the answer is on the conversation's page it
redirects to (/assistant/c/<id>). With JavaScript (static/conversations/assistant.js) the same form
is sent to /assistant/stream, whose server-sent events write the answer in as it comes and then put
in its rendered HTML. Both go through conversations.actions and charge the visitor's daily
assistant quota (accounts.quotas) only for a question that is valid.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from medcode.accounts import metering, quotas
from medcode.assistant import MAX_QUESTION_CHARS
from medcode.codebook.codes import SYSTEM_LABELS
from medcode.codebook.references import ICD10CM_GUIDELINES
from medcode.web.book import book

from . import actions, sse
from .render import markdown_html, site_path

MAX_PARAM = 64


def _url(name: str, *args) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _code_href(system: str, code: str, when: str | None = None) -> str | None:
    href = _url("code", system, code)
    if href and when:
        href += "?" + urlencode({"date": when})
    return href


def exchange_context(ex) -> dict:
    """What the template shows of one stored exchange (question escaped by the template)."""
    when = ex.date_of_service.isoformat()
    paged = set(book().systems())  # systems with code pages (ICD-9-CM, from the GEMs, has none)
    citations = [{"source": c.get("source", ""), "ref": c.get("ref", ""), "url": site_path(c.get("url"))}
                 for c in ex.citations or []]
    codes = []
    for c in ex.codes or []:
        system, code = c.get("system", ""), c.get("code", "")
        codes.append({"system": system, "label": SYSTEM_LABELS.get(system, system), "code": code,
                      "valid": bool(c.get("valid")), "title": c.get("title"), "status": c.get("status"),
                      "href": _code_href(system, code, when) if c.get("valid") and system in paged else None})
    # the engine's own answers end with their sources linked; a model's wording does not
    linked = bool(citations) and all(c["url"] and f"]({c['url']})" in ex.answer for c in citations)
    return {"id": ex.pk, "question": ex.question, "answer_html": markdown_html(ex.answer),
            "citations": [] if linked else citations, "codes": codes, "date": when, "model": ex.model}


def _quota_context(request, exc: quotas.QuotaExceeded) -> dict:
    user = getattr(request, "user", None)
    signed_in = bool(user is not None and user.is_authenticated)
    who = exc.plan if not signed_in or getattr(user, "email_verified", False) else "unverified"
    limits = settings.MEDCODE_FEATURE_QUOTAS.get(actions.FEATURE, {})
    hours = -(-exc.retry_after // 3600) if exc.retry_after else None
    return {"who": who, "limit": exc.limit, "free_limit": limits.get("free"), "retry_hours": hours,
            "register_url": _url("register"), "login_url": _url("login"), "account_url": _url("account"),
            "resend_url": _url("resend_verification"),
            "next": request.get_full_path() if request.method == "GET" else reverse("assistant")}


def _page(request: HttpRequest, *, conversation=None, error: str | None = None, quota: dict | None = None,
          question: str = "", date: str = "", status: int = 200) -> HttpResponse:
    owner, _ = actions.owner_for_request(request)
    exchanges = [exchange_context(e) for e in actions.exchanges_of(conversation)] if conversation else []
    if not date and exchanges:
        date = exchanges[-1]["date"]
    left = quotas.remaining(request, actions.FEATURE)
    ctx = {"conversation": conversation, "exchanges": exchanges, "error": error, "quota": quota,
           "question": question, "date": date, "max_chars": MAX_QUESTION_CHARS,
           "conversations": actions.conversations_of(owner), "examples": actions.EXAMPLES,
           "remaining": left.remaining, "limit": left.limit}
    response = render(request, "conversations/assistant.html", ctx, status=status)
    response["Cache-Control"] = "private, no-store"
    return metering.set_guest_cookie(request, response)


def _form(request: HttpRequest) -> tuple[str, str, str]:
    p = request.POST
    return p.get("question", ""), p.get("conversation", "").strip(), p.get("date", "").strip()


def _prepare(request: HttpRequest):
    """(prepared question, quota left) or raises AskError / QuotaExceeded."""
    question, cid, when = _form(request)
    owner, user = actions.owner_for_request(request)
    prep = actions.prepare(owner, user, question, cid or None, when or None)
    return prep, quotas.consume(request, actions.FEATURE)


@require_http_methods(["GET", "HEAD", "POST"])
def assistant(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        q = request.GET.get("q", "")
        return _page(request, question=q if len(q) <= MAX_QUESTION_CHARS else "")
    question, cid, when = _form(request)
    conv = None
    try:
        owner, _ = actions.owner_for_request(request)
        if cid:
            conv = actions.find_conversation(owner, cid)
        prep, _left = _prepare(request)
    except actions.AskError as exc:
        if exc.code == "unknown_conversation":
            raise Http404(exc.message) from None
        return _page(request, conversation=conv, error=exc.message[:1].upper() + exc.message[1:] + ".",
                     question=question[:MAX_QUESTION_CHARS], date=when[:MAX_PARAM], status=exc.status)
    except quotas.QuotaExceeded as exc:
        return _page(request, conversation=conv, quota=_quota_context(request, exc), question=question,
                     date=when[:MAX_PARAM], status=429)
    result = actions.answer(book(), prep)
    response = redirect(reverse("assistant_conversation", args=[result.conversation.pk]) + f"#a{result.exchange.pk}")
    return metering.set_guest_cookie(request, response)


@require_safe
def conversation(request: HttpRequest, cid: str) -> HttpResponse:
    owner, _ = actions.owner_for_request(request)
    try:
        conv = actions.find_conversation(owner, cid)
    except actions.AskError as exc:
        raise Http404(exc.message) from None
    return _page(request, conversation=conv)


def _stream_body(request, events, left: quotas.Remaining):
    def shape(result) -> dict:
        ex = exchange_context(result.exchange)
        return {"conversation": str(result.conversation.pk), "remaining": left.remaining, "limit": left.limit,
                "url": reverse("assistant_conversation", args=[result.conversation.pk]),
                "title": result.conversation.title,
                "html": render_to_string("conversations/_exchange.html", {"ex": ex}, request=request)}

    return sse.body(events, shape)


@require_POST
def stream(request: HttpRequest) -> HttpResponse:
    """The chat page's streaming endpoint (same form fields as the no-JS POST, CSRF-checked)."""
    try:
        prep, left = _prepare(request)
    except actions.AskError as exc:
        message = exc.message[:1].upper() + exc.message[1:] + "."
        response = JsonResponse({"error": {"code": exc.code, "message": message},
                                 "html": render_to_string("conversations/_problem.html", {"error": message})},
                                status=exc.status)
        return metering.set_guest_cookie(request, response)
    except quotas.QuotaExceeded as exc:
        html = render_to_string("conversations/_problem.html", {"quota": _quota_context(request, exc)},
                                request=request)
        response = JsonResponse({"error": {"code": "quota_exceeded", "message": exc.message}, "html": html},
                                status=429)
        if exc.retry_after:
            response["Retry-After"] = str(exc.retry_after)
        return metering.set_guest_cookie(request, response)
    response = StreamingHttpResponse(_stream_body(request, actions.answer_events(book(), prep), left),
                                     content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"
    return metering.set_guest_cookie(request, response)


# --- policy texts ------------------------------------------------------------------------------------

@require_safe
def reference(request: HttpRequest, source: str, ref: str) -> HttpResponse:
    """One section of a policy text held in the codebook (NCCI Policy Manual, CMS manual chapters,
    ICD-10-PCS guidelines); the ICD-10-CM guidelines have pages of their own (/guidelines/<ref>)."""
    if len(source) > MAX_PARAM or len(ref) > MAX_PARAM * 2:
        return _error(request, 400, "Bad request", "That address is too long to be a reference.")
    if source == ICD10CM_GUIDELINES:
        href = _url("guideline", ref)
        return redirect(href) if href else _error(request, 404, "Reference not found", "No such section.")
    b = book()
    section = b.reference_section(source, ref)
    if section is None:
        held = {s.source: s.name for s in b.reference_sources()}
        if source not in held:
            return _error(request, 404, "Reference not found",
                          f"This codebook holds no text called {source!r}.", sources=_sources(held))
        return _error(request, 404, "Reference not found",
                      f"{held[source]} has no section {ref!r} in this codebook.", sources=_sources(held))
    if section.ref != ref:
        return redirect(reverse("reference", args=[source, section.ref]))
    parent = b.reference_section(source, section.parent) if section.parent else None
    ctx = {"section": section, "paragraphs": [p.strip() for p in section.text.split("\n\n") if p.strip()],
           "parent": parent, "children": b.reference_children(source, section.ref),
           "page_title": f"{section.label} {section.title}".strip()}
    response = render(request, "conversations/reference.html", ctx)
    # a signed-in visitor's copy carries their account links and a CSRF token: never for shared caches
    response["Cache-Control"] = f"{'private' if request.user.is_authenticated else 'public'}, max-age=3600"
    return response


def _sources(held: dict) -> list[dict]:
    return [{"name": name, "source": slug} for slug, name in sorted(held.items(), key=lambda kv: kv[1])]


def _error(request, status: int, title: str, message: str, **extra) -> HttpResponse:
    return render(request, "conversations/error.html", {"title": title, "message": message, **extra}, status=status)
