"""Codes and ranges named in running text (instructional notes, plain language, guideline text)
turned into links. Pure: the caller says where a reference leads; nothing here knows the book.

The Tabular writes references in a handful of ways, all handled:

    Z79.4           one code
    E08.-  O24.4-   a code and everything below it ("-" / ".-" marks an incomplete code)
    M51.1.-         the same, with the odd extra dot some notes carry
    E00-E07         a range (often a block)
    N18.1-N18.6     a range of subcategories
    I70.2--I70.7-   a range of incomplete codes
    F11.-F17.-      a range whose dash doubles as the separator
    F10-F19 with .17, .27, .97   the range is linked; the ".17" suffixes are left as text

A reference starts at a word boundary, so CD30 in "CD30-positive" or H1N1 are not codes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_CODE = r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?"
_REF = re.compile(
    rf"(?<![A-Za-z0-9])(?P<start>{_CODE})(?:\.?-{{1,2}}(?P<end>{_CODE}))?(?P<tail>\.?-)?(?![A-Za-z0-9])")
# "Section I.B.10", "section I.C.4.a.3", "Section I.C.19.a" in guideline text
_SECTION = re.compile(r"(?<![A-Za-z0-9])(?P<word>[Ss]ection\s+)(?P<ref>I{1,3}V?(?:\.[A-Z](?:\.[0-9a-z]+)*)?)")


@dataclass(frozen=True, slots=True)
class Ref:
    """One reference found in text: a code (end None) or a range start..end."""

    text: str          # as written, e.g. "I70.2--I70.7-"
    start: str         # "I70.2"
    end: str | None    # "I70.7" for a range
    open: bool         # written with a trailing dash: the code and everything below it

    @property
    def is_range(self) -> bool:
        return self.end is not None


def iter_refs(text: str) -> Iterator[tuple[int, int, Ref]]:
    """(start offset, end offset, Ref) for every code or range written in the text."""
    for m in _REF.finditer(text or ""):
        yield m.start(), m.end(), Ref(m.group(0), m.group("start"), m.group("end"), bool(m.group("tail")))


def _a(href: str, label: str, title: str | None = None) -> str:
    t = f' title="{html.escape(title)}"' if title else ""
    return f'<a href="{html.escape(href)}"{t}>{html.escape(label)}</a>'


Resolver = Callable[[Ref], "str | tuple[str, str] | None"]


def link_codes(text: str, resolve: Resolver, sections: Callable[[str], str | None] | None = None) -> str:
    """The text, HTML-escaped, with every resolvable reference as a link.

    ``resolve(ref)`` returns the href (or ``(href, title)``) the reference leads to, or None to
    leave it as text. A range that does not resolve as a whole has its two ends tried as single
    codes. ``sections(ref)`` does the same for "Section I.B.10" references when given.
    """
    text = text or ""
    if sections is None:
        return _link_refs(text, resolve)
    spans: list[tuple[int, int, str]] = []
    for a, b, ref in iter_refs(text):
        target = resolve(ref)
        if target is not None:
            href, title = target if isinstance(target, tuple) else (target, None)
            spans.append((a, b, _a(href, ref.text, title)))
            continue
        if ref.is_range:  # link each end that exists on its own
            sep = ref.text.index(ref.end, len(ref.start))
            for offset, code in ((0, ref.start), (sep, ref.end)):
                single = resolve(Ref(code, code, None, False))
                if single is not None:
                    href, title = single if isinstance(single, tuple) else (single, None)
                    spans.append((a + offset, a + offset + len(code), _a(href, code, title)))
    if sections is not None:
        for m in _SECTION.finditer(text):
            href = sections(m.group("ref"))
            if href and not any(s < m.end() and m.start() < e for s, e, _ in spans):
                spans.append((m.start(), m.end(), _a(href, m.group(0))))
    spans.sort()
    out, pos = [], 0
    for a, b, markup in spans:
        if a < pos:  # overlapping matches cannot happen with one regex, but be safe
            continue
        out.append(html.escape(text[pos:a]))
        out.append(markup)
        pos = b
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _link_refs(text: str, resolve: Resolver) -> str:
    """link_codes without section references, in one pass: the text is escaped first and the references
    are replaced in the escaped text. The same result, because a reference is made of characters
    escaping leaves alone, and what escaping writes (&amp; &lt; &gt; &quot; &#x27;) holds no upper-case
    letter to start a reference and ends in ";", which is no more a letter or digit than the character
    it replaced (so the boundaries around a reference are unchanged)."""
    def link(m: re.Match) -> str:
        written, start, end = m.group(0), m.group("start"), m.group("end")
        target = resolve(Ref(written, start, end, bool(m.group("tail"))))
        if target is not None:
            href, title = target if isinstance(target, tuple) else (target, None)
            return _a(href, written, title)
        if end is None:
            return written
        # a range that does not resolve as a whole: link each end that exists on its own
        sep = written.index(end, len(start))
        out = []
        for code in (start, end):
            single = resolve(Ref(code, code, None, False))
            if single is None:
                out.append(code)
            else:
                href, title = single if isinstance(single, tuple) else (single, None)
                out.append(_a(href, code, title))
        return out[0] + written[len(start):sep] + out[1] + written[sep + len(end):]

    return _REF.sub(link, html.escape(text))
