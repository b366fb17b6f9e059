"""Answer markdown -> safe HTML for the chat page, through the site's one renderer (medcode.markup).

Answers are built from the codebook (and, with a model, its wording), so they are treated as
untrusted text: no raw HTML, a short list of tags, and links only to pages of this site.
"""

from __future__ import annotations

from django.utils.safestring import SafeString, mark_safe

from medcode import markup


def site_path(url: str | None) -> str | None:
    """The URL when it is a path on this site ("/codes/..."), else None (no off-site or script links)."""
    if not isinstance(url, str) or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return None
    return url


def markdown_html(text: str) -> SafeString:
    """The page's own headings are h1/h2; an answer's start at h3."""
    return mark_safe(markup.render(text, url_schemes=(), link_filter=site_path))
