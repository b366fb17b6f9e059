"""Answer markdown -> safe HTML for the chat page: markdown-it-py with raw HTML off, then nh3.

Answers are built from the codebook (and, with a model, its wording), so they are treated as
untrusted text: no raw HTML, a short list of tags, and links only to pages of this site.
"""

from __future__ import annotations

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")

TAGS = {"p", "br", "hr", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a",
        "table", "thead", "tbody", "tr", "th", "td", "h3", "h4", "h5", "h6"}
ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}, "ol": {"start"}}


def site_path(url: str | None) -> str | None:
    """The URL when it is a path on this site ("/codes/..."), else None (no off-site or script links)."""
    if not isinstance(url, str) or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return None
    return url


def _keep(element: str, attribute: str, value: str) -> str | None:
    if element == "a" and attribute == "href":
        return site_path(value)
    return value


def _demote_headings(html: str) -> str:
    """The page's own headings are h1/h2; an answer's headings start at h3."""
    for n in (2, 1):
        html = html.replace(f"<h{n}>", f"<h{n + 2}>").replace(f"</h{n}>", f"</h{n + 2}>")
    return html


def markdown_html(text: str) -> SafeString:
    html = _demote_headings(_md.render(text or ""))
    return mark_safe(nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=set(),
                               attribute_filter=_keep, link_rel=None, strip_comments=True))
