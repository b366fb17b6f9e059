"""Job descriptions: Markdown in, safe HTML out, through the site's one renderer (medcode.markup).

Raw HTML shows as text, http(s)/mailto links only, marked nofollow/noopener (posters are strangers),
headings under the page's own, remote images as their alt text.
"""

from __future__ import annotations

import html

import nh3

from medcode import markup

MAX_MARKDOWN = 20_000
LINK_REL = "nofollow noopener noreferrer ugc"


def render(text: str) -> str:
    return markup.render(text, url_schemes=markup.WEB_SCHEMES, link_rel=LINK_REL)


def sanitize(html: str) -> str:
    return markup.sanitize(html, url_schemes=markup.WEB_SCHEMES, link_rel=LINK_REL)


def plain(text: str, limit: int = 300) -> str:
    """A short plain-text summary (feeds, mails): the rendered text without tags."""
    words = html.unescape(nh3.clean(render(text), tags=set())).split()
    out = " ".join(words)
    return out if len(out) <= limit else out[: limit - 1].rsplit(" ", 1)[0] + "…"
