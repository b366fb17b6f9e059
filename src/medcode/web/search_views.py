"""The search pages: /search (results with filters) and /search/suggest (the header box's autocomplete).

Both are thin: read the request, ask medcode.search, render. Any query text is accepted (the engine
cleans it); what cannot be answered as asked (an over-long query, a bad limit, system, chapter,
billable flag or date) is a 400 page that says why, never a 500.

The autocomplete is a small vanilla-JS combobox (static/web/autocomplete.js) that fetches the HTML
fragment /search/suggest returns. Not htmx: the site ships no JavaScript dependency, nothing can be
fetched from a CDN offline, and an ARIA combobox (arrow keys, Enter, Escape, aria-activedescendant)
needs script of its own even with htmx. Without JavaScript the header box is a plain GET form to /search.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from html import escape as _esc
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_safe

from medcode.codebook.codes import ICD10CM, ICD10PCS, SYSTEM_LABELS
from medcode.search import MAX_LIMIT, MAX_QUERY_CHARS, SearchError, search
from medcode.search.engine import clean_query
from medcode.search.text import STOPWORDS, fold, stem, words

from . import cache
from .book import book

PAGE_LIMIT = 25
SUGGEST_LIMIT = 8
MAX_PARAM = 64
_FLAGS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False}
_TOKEN = re.compile(r"([A-Za-z\u00C0-\u024F]+|[0-9]+)")


def highlighter(*queries: str | None):
    """A function: title -> the title HTML-escaped, with the words the queries say (same stem, or a
    prefix of 3 or more letters being typed) in <mark>. Built once per request, used per result."""
    said, prefixes = set(), []
    for q in queries:
        for w in words(q):
            if w in STOPWORDS:
                continue
            said.add(stem(w))
            if len(w) >= 3 and not w.isdigit():
                prefixes.append(w)
    prefixes = tuple(prefixes)

    def mark(title: str) -> str:
        out = []
        for i, piece in enumerate(_TOKEN.split(title)):
            if i % 2 and piece:
                w = fold(piece)
                if w not in STOPWORDS and (stem(w) in said or (prefixes and w.startswith(prefixes))):
                    out.append(f"<mark>{_esc(piece)}</mark>")
                    continue
            out.append(_esc(piece))
        return mark_safe("".join(out))

    return mark


def highlight(title: str, *queries: str | None) -> str:
    return highlighter(*queries)(title)


def code_href(system: str, code: str, date: str = "") -> str:
    href = reverse("code", args=[system, code])
    return f"{href}?{urlencode({'date': date})}" if date else href


def _flag(value: str) -> bool | None:
    if not value:
        return None
    try:
        return _FLAGS[value.strip().lower()]
    except KeyError:
        raise SearchError("bad_request", "Billable must be true or false.") from None


def _limit(value: str) -> int:
    if not value:
        return PAGE_LIMIT
    text = value.strip()
    if not text.isdigit() or len(text) > 6:
        raise SearchError("bad_limit", f"The number of results must be a whole number from 1 to {MAX_LIMIT}.")
    return int(text)


@require_safe
def search_page(request: HttpRequest) -> HttpResponse:
    g = request.GET
    raw_q = g.get("q", "")
    params = {name: g.get(name, "").strip() for name in ("system", "billable", "chapter", "date", "limit")}
    b = book()
    held = [s for s in b.systems() if s in (ICD10CM, ICD10PCS)] + sorted(
        s for s in b.systems() if s not in (ICD10CM, ICD10PCS))
    ctx = {"q": clean_query(raw_q), "query": "", "results": [], "error": None, "corrected": None,
           "systems": [{"id": s, "label": SYSTEM_LABELS.get(s, s)} for s in held], **params,
           "billable_only": params["billable"].lower() in ("true", "1", "yes", "on"),
           "max_chars": MAX_QUERY_CHARS}
    status = 200
    try:
        if len(raw_q) > MAX_QUERY_CHARS:
            raise SearchError("too_long", f"Your search is {len(raw_q):,} characters long; at most "
                                          f"{MAX_QUERY_CHARS} are read. Shorten it and search again.")
        for name, value in params.items():
            if len(value) > MAX_PARAM:
                raise SearchError("too_long", f"The {name} filter is too long ({len(value):,} characters).")
        if ctx["q"]:
            doc = search(b, raw_q, system=params["system"] or None, limit=_limit(params["limit"]),
                         billable=_flag(params["billable"]), chapter=params["chapter"] or None,
                         date=params["date"] or None)
            ctx["query"] = doc["query"]
            corrected = doc["corrected_query"]
            mark = highlighter(doc["query"], corrected)
            ctx["results"] = [{**r, "label": SYSTEM_LABELS.get(r["system"], r["system"]),
                               "href": code_href(r["system"], r["code"], params["date"]),
                               "title_html": mark(r["title"])}
                              for r in doc["results"]]
            if corrected:
                kept = {k: v for k, v in params.items() if v}
                ctx["corrected"] = corrected
                ctx["corrected_url"] = reverse("search") + "?" + urlencode({"q": corrected, **kept})
    except SearchError as exc:
        ctx["error"], status = exc.message, 400
    return render(request, "web/search.html", ctx, status=status)


def suggest_fragment(b, text: str) -> str:
    """The <li role="option"> items for a query (already cleaned), each with its code page in data-href."""
    doc = search(b, text, limit=SUGGEST_LIMIT)
    mark = highlighter(doc["query"], doc["corrected_query"])
    return "".join(
        f'<li role="option" id="site-q-opt-{i}" aria-selected="false" '
        f'data-href="{_esc(code_href(r["system"], r["code"]))}">'
        f'<span class="code">{_esc(r["code"])}</span> '
        f'<span class="ac-title">{mark(r["title"])}</span> '
        f'<span class="ac-match">{_esc(r["match"])}</span></li>'
        for i, r in enumerate(doc["results"]))


class _Recent:
    """The worker's own most recently asked suggestion fragments (a small LRU in front of the shared
    cache, which may be a network hop away): the prefixes everyone types are few and hot."""

    def __init__(self, size: int):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key: str):
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def put(self, key: str, value: str) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


SUGGEST_LRU = 4096
_recent = _Recent(SUGGEST_LRU)


def _caching() -> bool:
    """CACHE_BACKEND=dummy (settings) means no caching at all: then not this LRU either."""
    return not settings.CACHES.get("default", {}).get("BACKEND", "").endswith("DummyCache")


@require_safe
def suggest(request: HttpRequest) -> HttpResponse:
    """The header box's suggestions: the top few results as listbox options (empty when there is
    nothing to suggest). Everyone typing a query sends the same prefixes ("he", "hea", "heart"...),
    so the fragment is kept in the shared page cache, keyed by the codebook and the cleaned query."""
    raw_q = request.GET.get("q", "")
    if len(raw_q) > MAX_QUERY_CHARS:
        return HttpResponse("", status=400, content_type="text/html; charset=utf-8")
    text = clean_query(raw_q)
    html = ""
    if len(text) >= 2:
        b = book()
        digest = hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=12).hexdigest()
        key = cache.key(b, "suggest", digest)
        if not _caching():
            html = suggest_fragment(b, text)
        else:
            html = _recent.get(key)
            if html is None:
                html = cache.get_or_build(key, lambda: suggest_fragment(b, text))
                _recent.put(key, html)
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    return response
