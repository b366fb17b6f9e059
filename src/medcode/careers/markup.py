"""Job descriptions: Markdown in, safe HTML out.

markdown-it-py renders CommonMark with raw HTML off (typed tags show as text) and refuses
javascript:/vbscript:/data: links; nh3 then keeps only a short list of tags and attributes,
http(s)/mailto links, and marks links nofollow/noopener. Headings move down two levels so a
description's "# Title" sits under the page's own h1 and h2.
"""

from __future__ import annotations

import html

import nh3
from markdown_it import MarkdownIt

MAX_MARKDOWN = 20_000

TAGS = {"p", "br", "strong", "em", "del", "ul", "ol", "li", "a", "h3", "h4", "h5", "h6", "blockquote",
        "code", "pre", "hr", "table", "thead", "tbody", "tr", "th", "td"}
ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"])


def render(text: str) -> str:
    tokens = _md.parse(text or "")
    for tok in tokens:
        if tok.type in ("heading_open", "heading_close"):
            tok.tag = f"h{min(6, int(tok.tag[1]) + 2)}"
        for child in tok.children or ():
            if child.type == "image":  # no remote images in a posting (tracking pixels): the alt text
                child.type, child.tag, child.attrs, child.children = "text", "", {}, None
    html = _md.renderer.render(tokens, _md.options, {})
    return sanitize(html)


def sanitize(html: str) -> str:
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES,
                     link_rel="nofollow noopener noreferrer ugc", strip_comments=True)


def plain(text: str, limit: int = 300) -> str:
    """A short plain-text summary (feeds, mails): the rendered text without tags."""
    words = html.unescape(nh3.clean(render(text), tags=set())).split()
    out = " ".join(words)
    return out if len(out) <= limit else out[: limit - 1].rsplit(" ", 1)[0] + "…"
