"""Markdown in, safe HTML out: the one renderer for job descriptions (careers), assistant answers (the
chat page) and consult replies (the mail's HTML part). Pure: no Django.

markdown-it-py renders CommonMark (with tables and ~~strikethrough~~) with raw HTML off, so typed
tags show as text, and it refuses javascript:/vbscript:/data: links. Headings move down two levels
so a "# Title" sits under the page's own h1 and h2; images become their alt text (no remote images:
tracking pixels). nh3 then keeps only TAGS and ATTRIBUTES, and links whose scheme is in
`url_schemes` or, with `link_filter`, the href it returns (None drops the link's href).
"""

from __future__ import annotations

from collections.abc import Callable

import nh3
from markdown_it import MarkdownIt

TAGS = frozenset({"p", "br", "hr", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a",
                  "table", "thead", "tbody", "tr", "th", "td", "h3", "h4", "h5", "h6"})
ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}, "ol": {"start"}}
WEB_SCHEMES = frozenset({"http", "https", "mailto"})

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"])


def to_html(text: str) -> str:
    """markdown-it's HTML, headings demoted and images as text: not yet sanitised (see render)."""
    tokens = _md.parse(text or "")
    for tok in tokens:
        if tok.type in ("heading_open", "heading_close"):
            tok.tag = f"h{min(6, int(tok.tag[1]) + 2)}"
        for child in tok.children or ():
            if child.type == "image":
                child.type, child.tag, child.attrs, child.children = "text", "", {}, None
    return _md.renderer.render(tokens, _md.options, {})


def sanitize(html: str, *, url_schemes=WEB_SCHEMES, link_filter: Callable[[str], str | None] | None = None,
             link_rel: str | None = None) -> str:
    """Only TAGS and ATTRIBUTES stay; links as `url_schemes` and `link_filter` allow; no comments."""
    def keep(element: str, attribute: str, value: str) -> str | None:
        if element == "a" and attribute == "href":
            return link_filter(value)
        return value

    return nh3.clean(html, tags=set(TAGS), attributes=ATTRIBUTES, url_schemes=set(url_schemes),
                     attribute_filter=keep if link_filter else None, link_rel=link_rel, strip_comments=True)


def render(text: str, **policy) -> str:
    """Safe HTML for a Markdown text; `policy`: sanitize's url_schemes, link_filter and link_rel."""
    return sanitize(to_html(text), **policy)
