"""What the code, browse and guideline pages show, built from the book and ready for a template.

Nothing here looks at a request: the same inputs give the same output, which is what lets
web/cache.py keep the rendered parts and serve them to every visitor allowed to see them.
The parts of a code page:

* ``public``: always shown — hierarchy, description, plain language, billable status or the
  codes to choose instead, effective dates, the 7th-character table with its concrete codes,
  PCS axes and table grid, children and siblings;
* ``gated``: shown while the visitor's meter allows — instructional notes with their origin,
  the guideline sections that apply, index entries, the GEMs crosswalk, history; for HCPCS and
  CPT codes the edits: NCCI PTP pairs, MUEs, add-on code relations, PFS relative values and the
  payment by locality (national unless the visitor chose a locality).

HCPCS Level II codes, modifiers and places of service show their CMS record in the public part;
CPT codes show the descriptor only from a licensee's import, else the notice that it needs an
AMA license (the code is then known by number from the CMS files that list it).
"""

from __future__ import annotations

import functools
import html
import itertools
import re
import threading
import weakref
from dataclasses import dataclass
from datetime import date

from urllib.parse import quote

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.safestring import SafeString, mark_safe

from medcode.codebook import guidelines as gl
from medcode.codebook.book import Book
from medcode.codebook.codes import CPT, HCPCS, ICD10CM, ICD10PCS, MODIFIER, POS, SYSTEM_LABELS, normalize, undotted
from medcode.codebook.record import CPT_NOTICE, code_record, locality_payment

from .notelinks import Ref, iter_refs, link_codes
from .templatetags.codepage import time_tag

# Headings as the Tabular prints them (the kinds are storage keys, not words).
NOTE_LABELS = {
    "includes": "Includes",
    "inclusion_terms": "Inclusion terms",
    "excludes1": "Excludes1",
    "excludes2": "Excludes2",
    "code_first": "Code first",
    "use_additional": "Use additional code",
    "code_also": "Code also",
    "notes": "Notes",
    "seventh_note": "7th character note",
}

# What each kind of level is called in running text ("from category E11").
KIND_WORDS = {
    "chapter": "chapter", "block": "block", "category": "category", "subcategory": "subcategory",
    "extension": "code", "section": "section", "body_system": "body system", "table": "table", "code": "code",
    "hcpcs_modifier": "modifier", "cpt_modifier": "modifier",
}

# What the muted line under the heading calls a code of each system and kind.
HCPCS_FAMILY = (HCPCS, CPT, MODIFIER, POS)
KIND_LABELS = {(MODIFIER, "hcpcs_modifier"): "HCPCS Level II modifier", (MODIFIER, "cpt_modifier"): "CPT modifier",
               (POS, "code"): "Place of service code", (CPT, "code"): "CPT code",
               (HCPCS, "section"): "HCPCS Level II section"}

INDEX_SOURCES = {
    "index": "Alphabetic Index",
    "eindex": "External Cause Index",
    "drug": "Table of Drugs and Chemicals",
    "neoplasm": "Neoplasm Table",
    "pcs_index": "ICD-10-PCS Index",
}

# Browse levels: these list their children; anything below them is read on its code page.
BROWSE_LEVELS = {ICD10CM: ("chapter", "block"), ICD10PCS: ("section", "body_system")}
CHILD_NOUNS = {"chapter": "Blocks", "block": "Categories", "section": "Body systems", "body_system": "Tables"}

SIBLINGS_SHOWN = 40
GUIDELINE_MENTIONS_SHOWN = 12
PTP_SHOWN = 50  # pairs of each column and setting on the page (the counts say how many there are)
PRIMARIES_SHOWN = 100

# CMS file labels of book.cms_listed(), in words.
LISTED_IN = {"pfs": "the physician fee schedule relative value file", "mue:practitioner": "the practitioner MUE table",
             "mue:hospital": "the outpatient hospital MUE table", "mue:dme": "the DME supplier MUE table",
             "ptp:practitioner": "the practitioner NCCI PTP edits", "ptp:hospital": "the outpatient hospital NCCI PTP "
             "edits", "aoc": "the NCCI add-on code edits"}
PTP_SHORT = {0: "not allowed", 1: "allowed with a modifier", 9: "not applicable"}
SETTING_LABELS = {"practitioner": "Practitioner", "hospital": "Outpatient hospital", "dme": "DME supplier"}
RVU_PARTS = {"": "global service", "26": "professional component (26)", "TC": "technical component (TC)",
             "53": "discontinued procedure (53)"}


# --- links ---------------------------------------------------------------------------------------

class Links:
    """Where things are on the site. Links carry the date of service when the visitor chose one,
    so following a note from a FY2026 page stays in FY2026."""

    # URL prefixes by (script prefix and URLconf, URL name, system): one reverse() each per process
    _prefixes: dict[tuple, str] = {}

    def __init__(self, explicit_date: date | None = None):
        self.query = f"?date={explicit_date.isoformat()}" if explicit_date else ""
        self._script = (get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)

    def _base(self, name: str, *args: str) -> str:
        key = (self._script, name, args[0] if args else "")
        base = self._prefixes.get(key)
        if base is None:
            # codes are A-Z, 0-9, "." and "-": no quoting needed, so one reverse() per system
            base = reverse(name, args=[*args, "0"])[:-1]
            self._prefixes[key] = base
        return base

    def code(self, system: str, code: str) -> str:
        return self._base("code", system) + code + self.query

    def code_path(self, system: str, code: str) -> str:
        """The code's page for today (no date of service in the address)."""
        return self._base("code", system) + code

    def browse(self, system: str, node: str | None = None) -> str:
        if node is None:
            key = (self._script, "browse_system", system)
            root = self._prefixes.get(key)
            if root is None:
                root = self._prefixes[key] = reverse("browse_system", args=[system])
            return root + self.query
        return self._base("browse_node", system) + node + self.query

    def guideline(self, ref: str) -> str:
        return self._base("guideline") + quote(ref)  # "Appendix I" has a space

    def level(self, system: str, code: str, kind: str) -> str:
        """A browse page for the levels that list children, else the code page."""
        if kind in BROWSE_LEVELS.get(system, ()):
            return self.browse(system, code)
        return self.code(system, code)


def level_name(system: str, code: str, kind: str) -> str:
    """How a level is named in a link: "Chapter 4", "Section 0", else its code."""
    if kind == "chapter":
        return f"Chapter {code}"
    if kind == "section" and system == ICD10PCS:
        return f"Section {code}"
    return code


@functools.lru_cache(maxsize=65536)
def _cm(code: str) -> str:
    """normalize(code, ICD10CM), remembered: note text names the same few thousand codes again and again."""
    return normalize(code, ICD10CM)


class CodeResolver:
    """Resolves references in note text to the pages that exist, for one system and date.
    A range leads to its block when there is one, else to its first code."""

    def __init__(self, book: Book, system: str, when: date, links: Links, current: str | None = None):
        self.book, self.system, self.when, self.links, self.current = book, system, when, links, current
        self._known: frozenset[str] | None = None
        self._html: dict[str, SafeString] = {}  # one page links the same text many times (index entries)

    def exists(self, code: str) -> bool:
        """Has a page: any code the book holds in any version (a deleted code keeps its page)."""
        if self._known is None:
            self._known = known_codes(self.book, self.system)
        return code in self._known

    def __call__(self, ref: Ref):
        if self.system != ICD10CM:
            return None
        start = _cm(ref.start)
        if ref.is_range:
            block = f"{start}-{_cm(ref.end)}"
            if self.exists(block):
                return self.links.code(self.system, block), f"block {block}"
            chapter = chapter_ranges(self.book).get(block)
            if chapter is not None:
                return self.links.code(self.system, chapter), f"Chapter {chapter}"
            if self.exists(start):
                return self.links.code(self.system, start), f"{start}, the first code of {ref.text}"
            return None
        if start == self.current or not self.exists(start):
            return None
        return self.links.code(self.system, start)

    def html(self, text: str) -> str:
        done = self._html.get(text)
        if done is None:  # (SafeString is mark_safe without its lazy-text check)
            done = self._html[text] = SafeString(link_codes(text, self))
        return done


# --- per-book facts computed once ------------------------------------------------------------------

_per_book: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_per_book_lock = threading.Lock()


def _book_memo(book: Book) -> dict:
    with _per_book_lock:
        memo = _per_book.get(book)
        if memo is None:
            memo = _per_book[book] = {}
        return memo


def known_codes(book: Book, system: str) -> frozenset[str]:
    """Every code of a system the book holds, in any version: one query per process and book,
    instead of one per reference on every page built."""
    memo = _book_memo(book)
    found = memo.get(("codes", system))
    if found is None:
        found = frozenset(r[0] for r in book.db.execute("SELECT DISTINCT code FROM codes WHERE system=?", (system,)))
        memo[("codes", system)] = found
    return found


_CHAPTER_RANGE = re.compile(r"\(([A-Z][0-9][0-9A-Z])-([A-Z][0-9][0-9A-Z])\)\s*$")


def chapter_ranges(book: Book) -> dict[str, str]:
    """ICD-10-CM chapters by the range their title ends with: "E00-E89" -> "4"."""
    memo = _book_memo(book)
    found = memo.get("chapter_ranges")
    if found is None:
        found = {}
        for c in book.top_level(ICD10CM):
            m = _CHAPTER_RANGE.search(c.title)
            if c.kind == "chapter" and m:
                found[f"{m.group(1)}-{m.group(2)}"] = c.code
        memo["chapter_ranges"] = found
    return found


def guideline_index(book: Book) -> tuple[dict[str, gl.Section], dict[str, list[str]]]:
    """Every guideline section by ref, and which sections mention each code or range (in order)."""
    memo = _book_memo(book)
    found = memo.get("guidelines")
    if found is None:
        sections = {s.ref: s for s in gl.all_sections(book)}
        mentions: dict[str, list[str]] = {}
        for s in sections.values():
            for _, _, ref in iter_refs(s.text):
                keys = [normalize(ref.start, ICD10CM)]
                if ref.is_range:
                    keys.append(f"{keys[0]}-{normalize(ref.end, ICD10CM)}")
                for k in keys:
                    refs = mentions.setdefault(k, [])
                    if s.ref not in refs:
                        refs.append(s.ref)
        found = memo["guidelines"] = (sections, mentions)
    return found


def guideline_children(book: Book) -> dict[str, list[gl.Section]]:
    """Each guideline section's subsections, in order (instead of a scan of every section per page)."""
    memo = _book_memo(book)
    found = memo.get("guideline_children")
    if found is None:
        found = {}
        for s in guideline_index(book)[0].values():
            found.setdefault(s.parent, []).append(s)
        memo["guideline_children"] = found
    return found


# --- the code page -----------------------------------------------------------------------------------

# Parts of the public context only some codes have (the templates test them with {% if %}).
_PUBLIC_OPTIONAL = ("billable_below", "seventh", "axes", "code_row", "grid", "children", "cpt_notice", "by_number")


@dataclass
class CodeParts:
    """A code page's two cacheable parts, as template contexts."""

    title: str
    public: dict
    gated: dict


def _esc(text) -> str:
    """What the templates' autoescape does to a value (Django's escape: & < > " ')."""
    return html.escape(str(text), quote=True)


def _text(value) -> str:
    """A value as ``{{ value }}`` writes it in a template (for the values the code page shows: text,
    numbers, None; markup already safe is kept as it is)."""
    if isinstance(value, SafeString):
        return value
    return html.escape(str(value), quote=True)


def _time_tag(value) -> str:
    """``{{ value|time_tag }}`` of the code page templates."""
    return time_tag(value) if isinstance(value, date) else _text(value)


def _links_ul(items: list[dict], cls: str) -> SafeString:
    """``<ul class="...">`` of ``<li><a href><span class="code">code</span> title</a></li>`` (lists of codes
    run to hundreds of items: built here rather than in a template loop)."""
    return SafeString(f'<ul class="{cls}">' + "".join(
        f'<li><a href="{_text(c["href"])}"><span class="code">{_text(c["code"])}</span> {_text(c["title"])}</a></li>'
        for c in items) + "</ul>")


def _iso(d):
    return d.isoformat() if isinstance(d, date) else d


def _date(d):
    return date.fromisoformat(d) if isinstance(d, str) else d


def build_code_parts(book: Book, system: str, code: str, when: date, explicit_date: date | None,
                     locality: str | None = None) -> CodeParts:
    """Both parts of the page for `code` (which exists) on the date of service; `locality` (a Medicare
    locality id the view has checked, e.g. "01112-05") adjusts the payment of a HCPCS or CPT code."""
    with book.memo():  # one page build asks the book the same questions many times
        return _build_code_parts(book, system, code, when, explicit_date, locality)


def _build_code_parts(book: Book, system: str, code: str, when: date, explicit_date: date | None,
                      locality: str | None) -> CodeParts:
    links = Links(explicit_date)
    rec = code_record(book, system, code, when)
    found = book.get(system, rec["code"], when)
    at = when if found.status == "active" else (found.valid_to or found.valid_from)
    resolve = CodeResolver(book, system, at, links, current=rec["code"])
    sys_label = SYSTEM_LABELS.get(system, system)

    # hierarchy, top down, after the system's browse root
    crumbs = [{"href": links.browse(system), "label": sys_label, "title": f"Browse {sys_label}"}]
    for h in reversed(rec["hierarchy"]):
        crumbs.append({"href": links.code(system, h["code"]), "label": level_name(system, h["code"], h["kind"]),
                       "title": h["title"]})

    chapter = next((h for h in rec["hierarchy"] if h["kind"] == "chapter"), None)
    if rec["kind"] == "chapter":
        chapter = {"code": rec["code"], "title": rec["title"]}

    public = {
        "rec": rec,
        "system": system,
        "system_label": sys_label,
        "kind_word": KIND_WORDS.get(rec["kind"], rec["kind"]),
        "kind_label": KIND_LABELS.get((system, rec["kind"]),
                                      f"{sys_label} {KIND_WORDS.get(rec['kind'], rec['kind'])}"),
        "family": system in HCPCS_FAMILY,
        "heading_code": level_name(system, rec["code"], rec["kind"]),
        "crumbs": crumbs,
        "crumbs_html": SafeString("".join(
            f'<a href="{_esc(c["href"])}" title="{_esc(c["title"])}">{_esc(c["label"])}</a> › ' for c in crumbs)),
        "effective_from": _date(rec["effective"]["from"]),
        "effective_to": _date(rec["effective"]["to"]),
        "date_of_service": when,
        "date_of_service_iso": when.isoformat(),  # (the date filter is slow: it formats through DateFormat)
        "explicit_date": explicit_date,
        "self_path": links.code_path(system, rec["code"]),
        "plain": [resolve.html(p) for p in rec["plain_language"].split("\n\n") if p.strip()],
        "browse_href": links.browse(system, rec["code"]) if rec["kind"] in BROWSE_LEVELS.get(system, ()) else None,
    }
    public["plain_html"] = SafeString("".join(f"<p>{p}</p>" for p in public["plain"]))

    # what to report instead of a header
    below = rec.get("billable_below") or []
    is_table = system == ICD10PCS and rec["kind"] == "table"
    if below and not is_table:
        public["billable_below"] = [{"href": links.code(system, c["code"]), **c} for c in below]
        public["billable_below_more"] = len(below) >= 50
        public["billable_below_html"] = _links_ul(public["billable_below"], "plain cols")

    # the 7th-character table with the concrete codes it makes
    sevenths = book.seventh_characters(system, rec["code"], at) if rec["seventh_characters"] else []
    if sevenths:
        base = found.parent if found.kind == "extension" else found.code
        rows, any_code = [], False
        for s in sevenths:
            compact = undotted(base)
            concrete = normalize(compact.ljust(6, "X") + s.char, system) if len(compact) <= 6 else None
            exists = concrete is not None and resolve.exists(concrete)
            any_code = any_code or exists
            rows.append({"char": s.char, "meaning": s.meaning, "code": concrete if exists else None,
                         "href": links.code(system, concrete) if exists else None,
                         "current": concrete == rec["code"]})
        origin = sevenths[0].origin
        origin_code = book.find(system, origin, at)
        for r in rows:
            cell = ""
            if any_code:
                if r["current"]:
                    cell = f'<td><span class="code" aria-current="page">{_text(r["code"])}</span> (this code)</td>'
                elif r["href"]:
                    cell = f'<td><a class="code" href="{_esc(r["href"])}">{_esc(r["code"])}</a></td>'
                else:
                    cell = '<td><span class="muted">no such code</span></td>'
            r["item"] = SafeString(f'<tr><th scope="row" class="code">{_text(r["char"])}</th>'
                                   f'<td>{_text(r["meaning"])}</td>{cell}</tr>')
        public["seventh"] = {"rows": rows, "has_codes": any_code, "origin": origin,
                             "origin_word": KIND_WORDS.get(origin_code.kind, "code") if origin_code else "code",
                             "origin_href": links.code(system, origin), "base": base}

    # PCS: the seven axes, and the table grid
    if system == ICD10PCS:
        pcs = rec.get("pcs") or {}
        if pcs.get("axes"):
            public["axes"] = pcs["axes"]
            table = book.pcs_table(rec["code"])
            if table:
                public["code_row"] = _pcs_rows(table, rec["code"], {}, links, only_matching=True)
                public["table_href"] = links.code(system, table["code"])
                public["table_code"] = table["code"]
        if pcs.get("table"):
            titles = {c["code"]: c["title"] for c in rec["children"]}
            public["table"] = pcs["table"]
            public["grid"] = _pcs_rows(pcs["table"], None, titles, links)
            for row in public["grid"]:
                row["codes_html"] = _links_ul(row["codes"], "plain cols")
            listed = {c["code"] for row in public["grid"] for c in row["codes"]}
            public["unlisted_children"] = [{"href": links.code(system, c["code"]), **c}
                                           for c in rec["children"] if c["code"] not in listed]

    if not is_table:
        public["children"] = [{"href": links.code(system, c["code"]), **c} for c in rec["children"]]
        public["children_html"] = SafeString('<ul class="plain">' + "".join(
            f'<li><a class="code" href="{_esc(c["href"])}">{_esc(c["code"])}</a> {_text(c["title"])}'
            + ("" if c.get("billable") else ' <span class="muted">(header)</span>') + "</li>"
            for c in public["children"]) + "</ul>")
    if system in HCPCS_FAMILY:
        public.update(_family_public(book, rec, links))

    sibs = book.siblings(system, rec["code"], at)
    public["siblings"] = [{"href": links.code(system, s.code), "code": s.code,
                           "label": level_name(system, s.code, s.kind), "title": s.title, "billable": s.billable}
                          for s in sibs[:SIBLINGS_SHOWN]]
    for sib in public["siblings"]:
        sib["item"] = SafeString(f'<a href="{_esc(sib["href"])}"><span class="code">{_esc(sib["label"])}</span> '
                                f'{_esc(sib["title"])}</a>')
    public["siblings_html"] = SafeString("".join(f"<li>{s['item']}</li>" for s in public["siblings"]))
    public["siblings_more"] = max(0, len(sibs) - SIBLINGS_SHOWN)
    parent = rec["hierarchy"][0] if rec["hierarchy"] else None
    public["parent"] = ({"href": links.code(system, parent["code"]),
                         "label": level_name(system, parent["code"], parent["kind"]),
                         "word": KIND_WORDS.get(parent["kind"], "")} if parent else None)

    for name in _PUBLIC_OPTIONAL:  # a name the template asks for and misses costs it an exception or four
        public.setdefault(name, None)

    gated = {
        "rec": rec,
        "system": system,
        "family": system in HCPCS_FAMILY,
        "edits": _edits(book, rec, when, links, explicit_date, locality) if rec.get("edits") else None,
        "notes": (notes := _notes(rec, system, resolve, links)),
        "notes_html": _notes_html(notes),
        "guidelines": _guidelines(book, rec, chapter, links) if system == ICD10CM else None,
        "index_entries": _index_entries(rec, system, resolve, links),
        "crosswalks": rec.get("crosswalks") or {},
        "crosswalks_html": _crosswalk_rows(rec.get("crosswalks") or {}),
        "history": _history(book, rec),
    }
    return CodeParts(found.title, public, gated)


# --- HCPCS, modifiers, POS, CPT --------------------------------------------------------------------

def code_system_of(code: str) -> str:
    """HCPCS Level II codes start with a letter, CPT codes with a digit (both five characters)."""
    return CPT if code[:1].isdigit() else HCPCS


def _family_public(book: Book, rec: dict, links: Links) -> dict:
    """The CMS record shown beside the title: ANWEB fields, modifier guidance, POS setting, CPT status."""
    out: dict = {}
    details = rec.get("hcpcs")
    if details:
        out["hcpcs"] = {**details, "pricing": [{"code": c, "meaning": m} for c, m in
                                               zip(details.get("pricing_indicators") or [],
                                                   details.get("pricing_meanings") or [])],
                        "tos": [{"code": c, "meaning": m} for c, m in
                                zip(details.get("type_of_service") or [], details.get("type_of_service_meanings") or [])]}
    if rec.get("modifier"):
        out["modifier"] = rec["modifier"]
    if rec.get("pos"):
        out["pos"] = rec["pos"]
    cpt = rec.get("cpt")
    if cpt:
        out["cpt"] = {**cpt, "listed_in_words": [LISTED_IN.get(x, x) for x in cpt.get("listed_in") or []]}
    if (rec["system"] == CPT and not (cpt or {}).get("licensed")) or (rec.get("modifier") or {}).get("notice"):
        out["cpt_notice"] = CPT_NOTICE
        out["by_number"] = not book.history(rec["system"], rec["code"])  # no licensed release lists it
    return out


def _code_link(book: Book, code: str, links: Links) -> str | None:
    """The page of a code named by an edit: a HCPCS code the book holds, or any CPT number (the edit
    itself makes it known on the date)."""
    system = code_system_of(code)
    if system == HCPCS and code not in known_codes(book, HCPCS):
        return None
    return links.code(system, code)


def _edits(book: Book, rec: dict, when: date, links: Links, explicit_date: date | None,
           locality: str | None) -> dict:
    """The edits section: rec["edits"] with links, indicator words and the payment for the chosen locality."""
    e = rec["edits"]
    me = rec["code"]
    ptp = []
    for setting in ("practitioner", "hospital"):
        block = e["ptp"][setting]
        sides = []
        for col, other in (("column1", "column2"), ("column2", "column1")):
            pairs = [{**p, "other": p[other], "href": _code_link(book, p[other], links),
                      "meaning": PTP_SHORT.get(p["modifier"], str(p["modifier"]))}
                     for p in block[col]["pairs"][:PTP_SHOWN]]
            sides.append({"column": col[-1], "other_column": other[-1], "count": block[col]["count"],
                          "pairs": pairs, "more": max(0, block[col]["count"] - len(pairs))})
        ptp.append({"setting": setting, "label": SETTING_LABELS[setting], "sides": sides,
                    "total": sum(s["count"] for s in sides)})
    mue = [{"setting": s, "label": SETTING_LABELS[s], **m} for s, m in e["mue"].items() if m]

    def aoc(items: list[dict], key: str) -> list[dict]:
        return [{**a, "href": _code_link(book, a[key], links) if a[key] else None} for a in items]

    primaries = aoc(e["addon"]["primaries"], "primary")
    payment = e.get("payment")
    if locality and payment:
        payment = locality_payment(book, me, locality, when) or payment
    localities = book.localities(when) if payment else []
    chosen = next((f"{g.name} ({g.state}, {g.id})" for g in localities if g.id == locality), locality)
    return {
        "ptp": ptp,
        "ptp_legend": e["ptp"]["modifier_indicators"],
        "ptp_any": any(p["total"] for p in ptp),
        "mue": mue,
        "primaries": primaries[:PRIMARIES_SHOWN],
        "primaries_more": max(0, len(primaries) - PRIMARIES_SHOWN),
        "primary_types": sorted({(a["type"], a["type_meaning"]) for a in primaries}),
        "addons": aoc(e["addon"]["addons"], "addon"),
        "rvu": [{**r, "part": RVU_PARTS.get(r["modifier"], r["modifier"])} for r in e["rvu"]],
        "payment": ({**payment, "rows": [{**a, "part": RVU_PARTS.get(a["modifier"], a["modifier"])}
                                         for a in payment["amounts"]]} if payment else None),
        "localities": [{"id": g.id, "label": f"{g.state}: {g.name} ({g.id})", "selected": g.id == locality}
                       for g in localities],
        "locality": locality,
        "locality_label": chosen,
        "explicit_date": explicit_date,
        "self_path": links.code_path(rec["system"], me),
    }


def _pcs_rows(table: dict, code: str | None, titles: dict, links: Links, only_matching: bool = False) -> list[dict]:
    """The rows of a PCS table: each axis with its values, and the complete codes the row makes."""
    out = []
    for n, row in enumerate(table["rows"], start=1):
        if only_matching and not all(any(v[0] == code[a["pos"] - 1] for v in a["values"]) for a in row):
            continue
        axes = [{"pos": a["pos"], "title": a["title"],
                 "values": [{"char": v[0], "label": v[1], "current": bool(code) and code[a["pos"] - 1] == v[0]}
                            for v in a["values"]]} for a in row]
        codes = []
        if not only_matching:
            for combo in itertools.product(*[[v[0] for v in a["values"]] for a in row]):
                c = table["code"] + "".join(combo)
                if c in titles:
                    codes.append({"code": c, "title": titles[c], "href": links.code(ICD10PCS, c)})
        out.append({"n": n, "axes": axes, "codes": codes})
    return out


def _notes(rec: dict, system: str, resolve: CodeResolver, links: Links) -> list[dict]:
    groups = []
    for kind, items in rec.get("notes", {}).items():
        if not items:
            continue
        notes = []
        for n in items:
            note = {"html": resolve.html(n["text"]), "inherited": n["inherited"]}
            item = note["html"]
            if n["inherited"]:
                note["origin_word"] = KIND_WORDS.get(n["origin_kind"], n["origin_kind"])
                note["origin"] = n["origin"]
                note["origin_href"] = links.code(system, n["origin"])
                item += (f' <span class="muted">(from {_esc(note["origin_word"])} <a href="{_esc(note["origin_href"])}">'
                         f'{_esc(n["origin"])}</a>)</span>')
            note["item"] = SafeString(item)  # the list item's markup: a page has dozens, too many to template
            notes.append(note)
        groups.append({"kind": kind, "label": NOTE_LABELS.get(kind, kind.replace("_", " ").capitalize()),
                       "notes": notes})
    return groups


def _notes_html(groups: list[dict]) -> SafeString:
    """The notes section's groups as the template wrote them (a page has dozens of notes)."""
    return SafeString("".join(f'\n<h3>{_text(g["label"])}</h3>\n<ul>'
                              + "".join(f"<li>{n['item']}</li>" for n in g["notes"]) + "</ul>\n" for g in groups))


def _crosswalk_rows(crosswalks: dict) -> dict:
    """The GEMs tables' rows (a code can map to dozens)."""
    def match(x: dict, full: bool) -> str:
        if full and x.get("no_map"):
            return "no equivalent"
        if full and x.get("combination"):
            return (f'combination (scenario {_text(x.get("scenario", ""))}, '
                    f'choice list {_text(x.get("choice_list", ""))})')
        return "approximate" if x.get("approximate") else "identical"

    return {
        "icd9cm": SafeString("".join(
            f'<tr><td class="code">{_text(x.get("code") or "no map")}</td><td>{_text(x.get("title") or "")}</td>'
            f'<td>{match(x, True)}</td></tr>' for x in crosswalks.get("icd9cm") or [])),
        "from_icd9cm": SafeString("".join(
            f'<tr><td class="code">{_text(x.get("code", ""))}</td><td>{_text(x.get("title") or "")}</td>'
            f'<td>{match(x, False)}</td></tr>' for x in crosswalks.get("from_icd9cm") or [])),
    }


def _guidelines(book: Book, rec: dict, chapter: dict | None, links: Links) -> dict | None:
    sections, mentions = guideline_index(book)
    if not sections:
        return None
    out = {"chapter": None, "subsections": [], "mentions": [], "release": None}
    if chapter is not None:
        top = sections.get(f"I.C.{chapter['code']}")
        if top is not None:
            out["chapter"] = _sec(top, links)
            out["release"] = top.release
            out["subsections"] = [_sec(s, links) for s in guideline_children(book).get(top.ref, ())]
    keys = [rec["code"]] + [h["code"] for h in rec["hierarchy"] if h["kind"] != "chapter"]
    seen: list[str] = []
    for k in keys:
        for ref in mentions.get(k, []):
            if ref not in seen:
                seen.append(ref)
    out["mentions"] = [_sec(sections[r], links) for r in seen[:GUIDELINE_MENTIONS_SHOWN]]
    out["mentions_more"] = max(0, len(seen) - GUIDELINE_MENTIONS_SHOWN)
    out["mention_codes"] = keys
    for name in ("subsections", "mentions"):
        out[name + "_html"] = SafeString("".join(f'<li><a href="{_text(x["href"])}">{_text(x["name"])}</a></li>'
                                                 for x in out[name]))
    if out["release"] is None and out["mentions"]:
        out["release"] = sections[seen[0]].release
    if not out["chapter"] and not out["mentions"]:
        return None
    return out


def _index_entries(rec: dict, system: str, resolve: CodeResolver, links: Links) -> list[dict]:
    groups: dict[str, list[dict]] = {}
    if system == ICD10PCS:
        for e in (rec.get("pcs") or {}).get("index_entries", []):
            code = e["code"] or ""
            item = {"path": e["path"], "code": code, "see": e["see"], "use": e["use"]}
            if len(code) == 7 and code != rec["code"]:
                item["href"] = links.code(system, code)
            elif len(code) == 3 and code != rec["code"]:
                item["table_only"] = True
                item["table_href"] = links.code(system, code)
                item["table"] = code
            elif 3 < len(code) < 7 and code[:3] != rec["code"]:
                item["table_href"] = links.code(system, code[:3])
                item["table"] = code[:3]
            groups.setdefault("pcs_index", []).append(item)
    else:
        for e in rec.get("index_entries", []):
            item = {"path": e["path"], "column": e["column"],
                    "code_html": resolve.html(e["code"]) if e["code"] else ""}
            # the list item's markup (a drug's page lists a hundred entries: too many to template)
            item["item"] = SafeString(
                _esc(e["path"]) + (f' <span class="muted">[{_esc(e["column"])}]</span>' if e["column"] else "")
                + (f' \u2192 <span class="code">{item["code_html"]}</span>' if item["code_html"] else ""))
            groups.setdefault(e["source"], []).append(item)
    out = [{"source": s, "label": INDEX_SOURCES.get(s, s), "entries": items, "entries_html": None}
           for s, items in groups.items()]
    if system != ICD10PCS:
        for g in out:
            g["entries_html"] = SafeString("".join(f"<li>{e['item']}</li>" for e in g["entries"]))
    return out


def _history(book: Book, rec: dict) -> dict:
    """Each version with what changed from the one before, and the deletion if there was one."""
    versions = rec.get("history") or []
    from medcode.codebook.sources import CODE_LIST_KINDS

    held = [r for r in book.releases(rec["system"]) if r.kind in CODE_LIST_KINDS]
    first_held = min((r.effective_from for r in held), default=None)
    rows = []
    prev = None
    for v in versions:
        start, end = _date(v["valid_from"]), _date(v["valid_to"])
        changes = []
        if prev is None:
            if first_held is not None and start > first_held:
                changes.append("new code")
            else:
                changes.append("in the first release held")
        else:
            prev_end = _date(prev["valid_to"])
            if prev_end is not None and (start - prev_end).days > 1:
                changes.append("reinstated")
            if v["title"] != prev["title"]:
                changes.append("title revised")
            if prev["billable"] and not v["billable"]:
                changes.append("became a header (no longer billable)")
            elif not prev["billable"] and v["billable"]:
                changes.append("became billable")
        rows.append({"from": start, "to": end, "title": v["title"], "billable": v["billable"],
                     "release": v["release"], "changes": changes,
                     "previous_title": prev["title"] if prev and v["title"] != prev["title"] else None})
        prev = v
    last_end = _date(versions[-1]["valid_to"]) if versions else None
    rows_html = SafeString("".join(
        f'<tr><td>{_time_tag(h["from"])}</td><td>{_time_tag(h["to"]) if h["to"] else "now"}</td><td>{_text(h["title"])}'
        + (f'<br><span class="muted">was: {_text(h["previous_title"])}</span>' if h["previous_title"] else "")
        + f'</td><td>{"yes" if h["billable"] else "no"}</td><td>{_text(h["release"])}</td>'
        f'<td>{"; ".join(_text(c) for c in h["changes"])}</td></tr>' for h in rows))
    return {"rows": rows, "rows_html": rows_html, "deleted_after": last_end}


# --- browse ------------------------------------------------------------------------------------------

def build_browse(book: Book, system: str, node: str | None, when: date, explicit_date: date | None) -> dict:
    """A browse level: the system's top level, or a chapter/block/section/body system's children."""
    links = Links(explicit_date)
    sys_label = SYSTEM_LABELS.get(system, system)
    crumbs = [{"href": links.browse(system), "label": sys_label, "title": f"Browse {sys_label}"}]
    if node is None:
        children = book.top_level(system, when)
        me = None
        heading = f"Browse {sys_label}"
        noun = "Chapters" if system == ICD10CM else "Sections"
    else:
        me = book.get(system, node, when)
        children = book.children(system, me.code, when)
        for a in reversed(book.ancestors(system, me.code, when)):
            crumbs.append({"href": links.level(system, a.code, a.kind), "label": level_name(system, a.code, a.kind),
                           "title": a.title})
        heading = f"{level_name(system, me.code, me.kind)} {me.title}"
        noun = CHILD_NOUNS.get(me.kind, "Codes")
    items = [{"href": links.level(system, c.code, c.kind), "label": level_name(system, c.code, c.kind),
              "title": c.title, "billable": c.billable, "kind": c.kind,
              "code_page": c.kind not in BROWSE_LEVELS.get(system, ())} for c in children]
    return {
        "system": system, "system_label": sys_label, "node": me, "heading": heading, "noun": noun,
        "crumbs": crumbs if node is not None else [], "items": items,
        "code_href": links.code(system, me.code) if me else None,
        "date_of_service": when, "explicit_date": explicit_date,
    }


# --- guidelines ----------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def section_name(ref: str, title: str) -> str:
    """How a guideline section is cited: "Section I.C.4.a Diabetes mellitus", "Appendix I ...", "Introduction"."""
    if re.match(r"^(I|II|III|IV)(\.|$)", ref):
        return f"Section {ref} {title}"
    if ref == "Intro":
        return title
    return f"{ref} {title}"


def _sec(s, links: Links) -> dict:
    return {"ref": s.ref, "title": s.title, "name": section_name(s.ref, s.title), "href": links.guideline(s.ref)}


def guideline_ref(book: Book, typed: str) -> str | None:
    """The stored ref a typed one means: as stored ("Appendix I"), else normalised (i.c.4.a(3))."""
    sections, _ = guideline_index(book)
    if typed in sections:
        return typed
    canonical = gl.normalize_ref(typed)
    return canonical if canonical in sections else None


def build_guideline(book: Book, ref: str, when: date) -> dict | None:
    sections, _ = guideline_index(book)
    s = sections.get(ref)
    if s is None:
        return None
    links = Links(None)
    resolve = CodeResolver(book, ICD10CM, when, links)

    def section_href(r: str) -> str | None:
        r = guideline_ref(book, r)
        return links.guideline(r) if r is not None and r != ref else None

    paragraphs = [mark_safe(link_codes(p.strip(), resolve, section_href)) for p in s.text.split("\n\n") if p.strip()]
    trail = []
    p = s.parent
    while p and p in sections:
        trail.append(_sec(sections[p], links))
        p = sections[p].parent
    trail.reverse()
    children = [_sec(c, links) for c in sections.values() if c.parent == s.ref]
    order = list(sections)
    i = order.index(s.ref)
    prev = sections[order[i - 1]] if i > 0 else None
    nxt = sections[order[i + 1]] if i + 1 < len(order) else None
    return {
        "section": s, "name": section_name(s.ref, s.title), "paragraphs": paragraphs, "trail": trail,
        "children": children, "prev": _sec(prev, links) if prev else None, "next": _sec(nxt, links) if nxt else None,
    }


def build_guideline_contents(book: Book) -> dict:
    """All sections as a nested outline."""
    sections, _ = guideline_index(book)
    links = Links(None)
    kids: dict[str | None, list] = {}
    for s in sections.values():
        parent = s.parent if s.parent in sections else None
        kids.setdefault(parent, []).append(s)

    def tree(parent):
        return [{"ref": s.ref, "title": s.title, "href": links.guideline(s.ref), "children": tree(s.ref)}
                for s in kids.get(parent, [])]

    release = next(iter(sections.values())).release if sections else None
    return {"outline": tree(None), "release": release, "count": len(sections)}
