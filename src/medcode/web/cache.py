"""Rendered page parts in Django's cache (locmem by default, Redis with REDIS_URL).

What is cached is only ever visitor-independent HTML, rendered without a request (so no CSRF
token, no user, no meter can leak into it):

    medcode:web:<book tag>:<part>:<system>:<code>:<date key>

* ``book tag``: a hash of the codebook file's identity (path, inode, mtime, size), its
  ``built_at`` and the source of the templates and modules that render the parts — a rebuilt
  codebook or a deploy with changed templates starts from an empty cache, no flush needed;
* ``part``: ``public`` (always shown) or ``gated`` (notes, guidelines, crosswalks, index,
  history), cached apart so a visitor whose quota is spent gets the public part from the cache
  and never the gated one; also ``browse`` and ``guideline`` pages' content;
* ``date key``: ``t<date>`` when the visitor gave no date (today), ``d<date>`` when they chose
  one — the links in a part then carry that date.

The view assembles a page per request from these parts plus what is per visitor (the meter
banner or the register prompt, the account links, the CSRF token), which is never cached.
A cache that fails (Redis down) is logged and the parts are rendered instead, never a 500.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import weakref
from pathlib import Path
from typing import Callable

from django.core.cache import caches

log = logging.getLogger(__name__)

CACHE_ALIAS = "default"
TIMEOUT = 7 * 24 * 3600  # keys change with the book and the day anyway; this bounds stale leftovers

_HERE = Path(__file__).resolve().parent


def _code_version() -> str:
    """A hash of what renders the cached parts, so changed templates never meet old entries."""
    h = hashlib.sha256()
    for path in sorted([*_HERE.glob("*.py"), *(_HERE / "templates" / "web").glob("*.html")]):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:10]


CODE_VERSION = _code_version()

_tags: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def book_tag(book) -> str:
    tag = _tags.get(book)
    if tag is None:
        raw = f"{book.path}|{book.identity}|{book.meta.get('built_at')}|{CODE_VERSION}"
        tag = hashlib.sha256(raw.encode()).hexdigest()[:16]
        with _lock:
            _tags[book] = tag
    return tag


def date_key(when, explicit: bool) -> str:
    return ("d" if explicit else "t") + when.isoformat()


def key(book, part: str, *parts: str) -> str:
    return ":".join(("medcode:web", book_tag(book), part, *parts))


def _cache():
    return caches[CACHE_ALIAS]


def get_many(keys: list[str]) -> dict:
    try:
        return _cache().get_many(keys)
    except Exception as exc:  # a cache that is down costs a render, never the page
        log.warning("page cache unavailable (%s): rendering without it", exc)
        return {}


def set(key_: str, value) -> None:
    try:
        _cache().set(key_, value, TIMEOUT)
    except Exception as exc:
        log.warning("page cache unavailable (%s): not stored", exc)


def get_or_build(key_: str, build: Callable[[], object]):
    value = get_many([key_]).get(key_)
    if value is None:
        value = build()
        set(key_, value)
    return value
