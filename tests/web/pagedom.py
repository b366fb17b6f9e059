"""A small DOM over the stdlib HTML parser, so page tests name elements instead of grepping,
and a structural check of what a page must be: well nested, unique ids, headings in order,
landmarks, table headers, links that say where they go."""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# elements whose end tag HTML lets a page leave out; a page of ours closes them all the same
OPTIONAL_END = {"p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "option"}


class Node:
    def __init__(self, tag: str, attrs: dict, parent: Node | None):
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    @property
    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text for c in self.children]
        return " ".join("".join(parts).split())

    def iter(self, tag: str | None = None, **attrs):
        for c in self.children:
            if isinstance(c, Node):
                if (tag is None or c.tag == tag) and all(c.attrs.get(k.rstrip("_")) == v for k, v in attrs.items()):
                    yield c
                yield from c.iter(tag, **attrs)

    def find(self, tag: str | None = None, **attrs) -> Node:
        found = next(self.iter(tag, **attrs), None)
        assert found is not None, f"no <{tag} {attrs}> in the page"
        return found

    def next_element(self) -> Node:
        sibs = [c for c in self.parent.children if isinstance(c, Node)]
        return sibs[sibs.index(self) + 1]

    def following(self) -> list[Node]:
        """The element siblings after this one."""
        sibs = [c for c in self.parent.children if isinstance(c, Node)]
        return sibs[sibs.index(self) + 1:]

    def links(self) -> list[str]:
        return [a.attrs.get("href") for a in self.iter("a")]

    def ancestors(self):
        n = self.parent
        while n is not None:
            yield n
            n = n.parent


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node("#document", {}, None)
        self.problems: list[str] = []
        self.doctype = None

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        if len({k for k, _ in attrs}) != len(attrs):
            self.problems.append(f"<{tag}> repeats an attribute: {attrs}")
        node = Node(tag, dict(attrs), self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, dict(attrs), self.cur))

    def handle_endtag(self, tag):
        if tag in VOID:
            self.problems.append(f"end tag for void element </{tag}>")
            return
        if self.cur.tag != tag:
            self.problems.append(f"</{tag}> closes <{self.cur.tag}> at line {self.getpos()[0]}")
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse(html: str) -> _Parser:
    p = _Parser()
    p.feed(html)
    p.close()
    if p.cur is not p.root:
        p.problems.append(f"<{p.cur.tag}> never closed")
    return p


def dom(response) -> Node:
    return parse(response.content.decode()).root


def section(doc: Node, heading: str, level: str = "h2") -> Node:
    """The element right after the heading with this text."""
    h = next((h for h in doc.iter(level) if h.text == heading), None)
    assert h is not None, f"no {level} {heading!r}; headings: {[h.text for h in doc.iter(level)]}"
    return h.next_element()


def words(s: str) -> str:
    return " ".join(s.split())


INTERACTIVE = {"a", "button", "summary", "select", "textarea"}  # may not hold a link


def check_page(html: str) -> list[str]:
    """What keeps a page from being valid, accessible HTML, as a list of problems (empty: fine)."""
    p = parse(html)
    problems = list(p.problems)
    for leak in ("{#", "#}", "{%", "%}", "{{", "}}"):
        if leak in html:
            problems.append(f"template syntax in the page: {leak!r}")
    root = p.root
    if not p.doctype or p.doctype.lower() != "doctype html":
        problems.append(f"doctype is {p.doctype!r}")
    html_el = next(root.iter("html"), None)
    if html_el is None or not html_el.attrs.get("lang"):
        problems.append("<html> has no lang")
    if not next(root.iter("title"), None) or not next(root.iter("title")).text:
        problems.append("no <title>")
    ids = [n.attrs["id"] for n in root.iter() if "id" in n.attrs]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        problems.append(f"duplicate ids {sorted(dupes)}")
    for n in root.iter():
        for attr in ("aria-labelledby", "aria-describedby", "for"):
            if attr in n.attrs and n.attrs[attr] not in ids:
                problems.append(f"<{n.tag} {attr}={n.attrs[attr]!r}> names no element")
    mains = list(root.iter("main"))
    if len(mains) != 1:
        problems.append(f"{len(mains)} <main> landmarks")
    if not list(root.iter("header")) or not list(root.iter("nav")):
        problems.append("no header or nav landmark")
    navs = [n.attrs.get("aria-label") for n in root.iter("nav")]
    if len(navs) != len(set(navs)) or None in navs:
        problems.append(f"nav landmarks need distinct labels: {navs}")
    levels = [int(h.tag[1]) for h in root.iter() if h.tag in ("h1", "h2", "h3", "h4", "h5", "h6")]
    if levels.count(1) != 1 or (levels and levels[0] != 1):
        problems.append(f"headings must start with one h1: {levels}")
    for a, b in zip(levels, levels[1:]):
        if b > a + 1:
            problems.append(f"heading level jumps from h{a} to h{b}")
            break
    for h in root.iter():
        if h.tag in ("h1", "h2", "h3", "h4") and not h.text:
            problems.append(f"empty <{h.tag}>")
    for a in root.iter("a"):
        if not a.attrs.get("href"):
            problems.append(f"<a> without href: {a.text!r}")
        if not a.text and not a.attrs.get("aria-label"):
            problems.append(f"link without text: {a.attrs}")
        if a.text.lower() in {"here", "click here", "more", "link"}:
            problems.append(f"link text that does not say where it goes: {a.text!r}")
        if any(x.tag in INTERACTIVE for x in a.ancestors()):
            problems.append(f"interactive element inside another: {a.text!r}")
    for t in root.iter("table"):
        if not list(t.iter("th")):
            problems.append("a table without header cells")
    for i in root.iter("input"):
        if i.attrs.get("type") in ("hidden", "submit"):
            continue
        if not i.attrs.get("id") or not any(lb.attrs.get("for") == i.attrs["id"] for lb in root.iter("label")):
            if not i.attrs.get("aria-label"):
                problems.append(f"input without a label: {i.attrs}")
    for li in root.iter("li"):
        if li.parent.tag not in ("ul", "ol", "menu"):
            problems.append(f"<li> outside a list, in <{li.parent.tag}>")
    for block in ("div", "ul", "ol", "table", "section", "h2", "h3", "p", "form", "nav", "dl"):
        for n in root.iter(block):
            if any(x.tag == "p" for x in n.ancestors()):
                problems.append(f"<{block}> inside <p>")
    return problems
