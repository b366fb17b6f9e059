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
from collections import OrderedDict
from pathlib import Path
from typing import Callable

from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache

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


# A small in-process copy in front of the shared cache: the hot pages of a worker are served without a
# round trip to Redis (or unpickling from locmem). Safe because an entry never changes under its key
# (the key names the book, the code version, the code and the date); bounded, least recently used out.
# It lives on the cache backend object, so a new cache configuration starts empty, and there is none
# when caching is off (the dummy backend: CACHE_BACKEND=dummy).
L1_ENTRIES = 512


def _l1(backend) -> OrderedDict | None:
    l1 = getattr(backend, "_medcode_l1", None)
    if l1 is None:
        if isinstance(backend, DummyCache):
            return None
        l1 = backend._medcode_l1 = OrderedDict()
    return l1


def _remember(l1: OrderedDict, key_: str, value) -> None:
    l1[key_] = value
    l1.move_to_end(key_)
    while len(l1) > L1_ENTRIES:
        l1.popitem(last=False)


def local_get(key_: str):
    """A value kept in this process only (never in the shared cache), or None."""
    try:
        l1 = _l1(_cache())
    except Exception:  # a cache that cannot even be configured: no local copy either
        return None
    if l1 is None:
        return None
    value = l1.get(key_)
    if value is not None:
        l1.move_to_end(key_)
    return value


def local_put(key_: str, value) -> None:
    try:
        l1 = _l1(_cache())
    except Exception:
        return
    if l1 is not None:
        _remember(l1, key_, value)


def get_many(keys: list[str]) -> dict:
    try:
        backend = _cache()
        l1 = _l1(backend)
        found = {}
        if l1 is not None:
            for k in keys:
                v = l1.get(k)
                if v is not None:
                    l1.move_to_end(k)
                    found[k] = v
            if len(found) == len(keys):
                return found
        rest = backend.get_many([k for k in keys if k not in found])
        if l1 is not None:
            for k, v in rest.items():
                _remember(l1, k, v)
        return {**found, **rest}
    except Exception as exc:  # a cache that is down costs a render, never the page
        log.warning("page cache unavailable (%s): rendering without it", exc)
        return {}


def set(key_: str, value) -> None:
    try:
        backend = _cache()
        l1 = _l1(backend)
        if l1 is not None:
            _remember(l1, key_, value)
        backend.set(key_, value, TIMEOUT)
    except Exception as exc:
        log.warning("page cache unavailable (%s): not stored", exc)


def get_or_build(key_: str, build: Callable[[], object]):
    value = get_many([key_]).get(key_)
    if value is None:
        value = build()
        set(key_, value)
    return value
