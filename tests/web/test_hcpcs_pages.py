"""Code pages for HCPCS Level II codes, modifiers, places of service and CPT codes (issue 5): the CMS
record beside the title, and the gated edits section (NCCI PTP pairs, MUEs, add-on relations, RVUs,
payment by locality). Every value is checked against the book (Book methods, code_record), never
against literals copied from a page. CPT text appears only from the SYNTHETIC licensed files
(tests/fixtures/cpt_synthetic and an invented line written here), never real AMA wording."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from medcode.codebook import open_book
from medcode.codebook.build import build
from medcode.codebook.record import (AOC_TYPE_WORDS, BETOS, COVERAGE, CPT_NOTICE, MAI_WORDS, PRICING_INDICATORS,
                                     PTP_MODIFIER_WORDS, RVU_STATUS, TYPE_OF_SERVICE, code_record)
from medcode.codebook.sources.pfs_rvu import PAYABLE_STATUS, payment_amount
from medcode.codebook.writer import SourceFile
from medcode.web.pages import PTP_SHORT, PTP_SHOWN, SETTING_LABELS
from medcode.web.views import LOCKED_SECTIONS
from pagedom import check_page, dom, words

pytestmark = pytest.mark.django_db

DOS = date(2026, 6, 1)  # a date every file of the test book covers (HCPCS July 2025, PFS April 2026, MUE 2026)
LOCALITY = "01112-05"   # a locality of the GPCI file
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cpt_synthetic"
GATED_IDS = ("ptp-h", "mue-h", "aoc-h", "rvu-h", "payment-h", "history-h")


def url(system: str, code: str, when: date | None = DOS, **query) -> str:
    q = ({"date": when.isoformat()} if when else {}) | query
    return reverse("code", args=[system, code]) + ("?" + "&".join(f"{k}={v}" for k, v in q.items()) if q else "")


def open_page(client, system, code, when=DOS, **query):
    r = client.get(url(system, code, when, **query))
    assert r.status_code == 200, (system, code, r.status_code)
    assert check_page(r.content.decode()) == []
    return dom(r)


def sec(doc, heading_id: str):
    return doc.find("section", **{"aria-labelledby": heading_id})


def has_section(doc, heading_id: str) -> bool:
    return bool(list(doc.iter("section", **{"aria-labelledby": heading_id})))


def dl(node) -> dict[str, str]:
    """A definition list as {term: text}."""
    out, term = {}, None
    for n in node.iter():
        if n.tag == "dt":
            term = n.text
        elif n.tag == "dd" and term is not None:
            out[term] = n.text
    return out


def rows(table) -> list[list[str]]:
    return [[c.text for c in tr.iter() if c.tag in ("td", "th")] for tr in table.find("tbody").iter("tr")]


def caption_table(doc, text: str):
    t = next((t for t in doc.iter("table") if text in t.find("caption").text), None)
    assert t is not None, f"no table captioned {text!r}: {[t.find('caption').text for t in doc.iter('table')]}"
    return t


def d(v) -> str:
    """A date as Django's default DATE_FORMAT shows it ("July 1, 2024", "Jan. 1, 1994")."""
    from django.utils.formats import date_format

    return date_format(v)


# --- HCPCS Level II codes ------------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["G0008", "J1100"])
def test_hcpcs_page_shows_the_anweb_record(paid_client, book, code):
    rec = code_record(book, "hcpcs", code, DOS)
    h = rec["hcpcs"]
    doc = open_page(paid_client, "hcpcs", code)
    assert words(rec["title"]) in doc.find("h1").text
    fields = dl(sec(doc, "hcpcs-h"))
    assert fields["Long description"] == words(h["long_description"])
    assert fields["Short description"] == words(h["short_description"])
    for p in h["pricing_indicators"]:
        assert f"{p} {PRICING_INDICATORS[p]}" in fields[next(k for k in fields if k.startswith("Pricing indicator"))]
    assert fields["Coverage"] == f"{h['coverage_code']} {COVERAGE[h['coverage_code']]}"
    assert fields["BETOS"] == f"{h['betos']} {BETOS[h['betos']]}"
    for t in h["type_of_service"]:
        assert f"{t} {TYPE_OF_SERVICE[t]}" in fields["Type of service"]
    assert fields["Added"] == d(h["added"])
    assert fields["Last action"].startswith(f"{h['action_code']} {h['action']}")
    assert d(h["action_effective"]) in fields["Last action"]
    assert fields["Termination"] == (d(h["terminated"]) if h["terminated"] else "none")
    assert fields["Not otherwise classified"].startswith("yes" if h["noc"] else "no")
    assert h["noc"] is book.hcpcs_noc(code, DOS)
    # the attributes-only release carries no descriptions: they come from the newest one that does
    assert h["long_description"] == book.hcpcs_descriptions("hcpcs", code, DOS)["long_description"]


def test_a_noc_code_says_so(paid_client, book):
    code = next(r[0] for r in book.db.execute("SELECT code FROM hcpcs_noc ORDER BY code")
                if book.exists("hcpcs", r[0], DOS) and book.hcpcs_noc(r[0], DOS))
    doc = open_page(paid_client, "hcpcs", code)
    assert dl(sec(doc, "hcpcs-h"))["Not otherwise classified"].startswith("yes")
    assert "not-otherwise-classified" in doc.find("div", class_="plain-language").text


# --- the edits section ---------------------------------------------------------------------------------

def check_ptp(doc, book, system, code):
    section = sec(doc, "ptp-h")
    if not any(n for s in ("practitioner", "hospital") for n in book.ptp_counts(code, s, DOS).values()):
        assert f"No NCCI PTP edit names {code} on this date" in section.text and not list(section.iter("table"))
        return section
    legend = dl(section)
    for k, v in PTP_MODIFIER_WORDS.items():
        assert legend[f"Modifier indicator {k}"] == v
    for setting in ("practitioner", "hospital"):
        counts = book.ptp_counts(code, setting, DOS)
        pairs = book.ptp_pairs(code, setting, DOS, limit=PTP_SHOWN)
        label = SETTING_LABELS[setting]
        for col, other in (("column1", "column2"), ("column2", "column1")):
            n = col[-1]
            if not counts[col]:
                assert not [t for t in section.iter("table") if t.find("caption").text.startswith(
                    f"{label}: {code} as column {n}")]
                continue
            assert f"{counts[col]} edit{'s' if counts[col] != 1 else ''} with {code} as column {n}" in section.text
            table = caption_table(section, f"{label}: {code} as column {n}")
            got = rows(table)
            assert len(got) == min(counts[col], PTP_SHOWN) == len(pairs[col])
            for cells, e in zip(got, pairs[col]):
                assert cells[0].split()[0] == getattr(e, other)
                assert cells[1] == f"{e.modifier}: {PTP_SHORT[e.modifier]}"
                assert cells[2] == d(e.effective)
                assert cells[3] == (d(e.deletion) if e.deletion else "not deleted")
                assert cells[4] == e.rationale
            if counts[col] > PTP_SHOWN:
                assert f"(the first {PTP_SHOWN} of {counts[col]})" in table.find("caption").text
    return section


@pytest.mark.parametrize("system, code", [("hcpcs", "G0008"), ("hcpcs", "J1100"), ("cpt", "29881")])
def test_edits_follow_the_book(paid_client, book, system, code):
    doc = open_page(paid_client, system, code)
    check_ptp(doc, book, system, code)

    mue = sec(doc, "mue-h")
    held = {s: book.mue(code, s, DOS) for s in ("practitioner", "hospital", "dme")}
    if any(held.values()):
        got = {r[0]: r for r in rows(mue.find("table"))}
        assert set(got) == {SETTING_LABELS[s] for s, m in held.items() if m}
        for s, m in held.items():
            if m:
                cells = got[SETTING_LABELS[s]]
                assert cells[1] == str(m.value)
                assert cells[2] == f"{m.mai} {m.mai_label}: {MAI_WORDS[m.mai]}"
                assert cells[3] == m.rationale
    else:
        assert "No MUE table" in mue.text

    aoc = sec(doc, "aoc-h")
    for e in book.addons_for(code, DOS):
        assert e.addon in aoc.text and AOC_TYPE_WORDS[e.aoc_type] in aoc.text
    for e in book.addon_primaries(code, DOS)[:100]:
        assert (e.primary or "defined by the contractor") in aoc.text

    rvu = sec(doc, "rvu-h")
    records = book.rvus(code, DOS)
    assert records, f"the test book has no RVUs for {code} on {DOS}"
    table = rvu.find("table")
    for cells, r in zip(rows(table), records):
        assert cells[1:4] == [r.status, str(r.work), str(r.pe_nonfacility) + (" NA" if r.pe_nonfacility_na else "")]
        assert cells[6:9] == [str(r.total_nonfacility), str(r.total_facility), r.global_days]
    policy = dl(rvu)
    assert policy["Status"].startswith(f"{records[0].status}: {RVU_STATUS[records[0].status]}")
    assert policy["Global period"].startswith(records[0].global_days)

    # payment: national by default (RVUs x conversion factor), then a locality's from book.payment
    pay = sec(doc, "payment-h")
    r0 = records[0]
    cells = rows(pay.find("table"))[0]
    for i, facility in ((1, False), (2, True)):
        na = r0.pe_facility_na if facility else r0.pe_nonfacility_na
        if r0.status in PAYABLE_STATUS and not na:
            expect = payment_amount(r0.work, r0.pe_facility if facility else r0.pe_nonfacility, r0.mp, 1, 1, 1,
                                    r0.conversion_factor)
            assert cells[i] == f"${expect}"
        else:
            assert "$" not in cells[i] and cells[i]
    select = pay.find("select", name="locality")
    options = [o.attrs["value"] for o in select.iter("option")]
    assert options == [""] + [g.id for g in book.localities(DOS)]
    local = sec(open_page(paid_client, system, code, locality=LOCALITY), "payment-h")
    assert "selected" in next(o for o in local.iter("option") if o.attrs["value"] == LOCALITY).attrs
    cells = rows(local.find("table"))[0]
    for i, facility in ((1, False), (2, True)):
        p = book.payment(code, LOCALITY, DOS, facility=facility)
        assert cells[i] == (f"${p.amount}" if p.amount is not None else p.reason)


def test_ptp_links_lead_to_pages_that_exist(paid_client, book):
    doc = open_page(paid_client, "cpt", "29881")
    links = [a.attrs["href"] for a in sec(doc, "ptp-h").iter("a")]
    assert links
    for href in links[:5] + links[-3:]:
        assert href.endswith(f"?date={DOS.isoformat()}")
        assert paid_client.get(href).status_code == 200, href


def test_hcpcs_family_pages_leave_out_the_icd_sections(paid_client):
    doc = open_page(paid_client, "hcpcs", "G0008")
    headings = {h.text for h in doc.iter("h2")}
    assert not headings & {"Instructional notes", "Index entries", "ICD-9-CM crosswalk (GEMs)"}
    assert {"History", "NCCI procedure-to-procedure edits"} <= headings


@pytest.mark.parametrize("locality, status", [("nowhere", 400), ("99999-99", 400), ("0" * 40, 400)])
def test_a_bad_locality_is_a_clear_400_and_costs_no_view(client, locality, status):
    r = client.get(url("cpt", "29881", locality=locality))
    assert r.status_code == status
    assert "locality" in dom(r).find("main").text.lower()
    full = dom(client.get(url("hcpcs", "G0008")))  # the guest's one view is still there
    assert has_section(full, "ptp-h")


def test_a_locality_on_an_icd_page_is_ignored(paid_client):
    assert paid_client.get(url("icd10cm", "E11.9", locality="nowhere")).status_code == 200


# --- CPT without licensed data ---------------------------------------------------------------------

def test_cpt_by_number_without_a_license(paid_client, book):
    assert book.cpt_descriptors("29881", DOS) == {}
    found = book.get("cpt", "29881", DOS)
    assert found.title == "" and found.status == "active" and book.exists("cpt", "29881", DOS)
    assert book.cms_listed("29881", DOS)
    doc = open_page(paid_client, "cpt", "29881")
    assert doc.find("h1").text == "29881"  # no descriptor
    assert words(CPT_NOTICE) in doc.find("p", id="cpt-notice").text
    cpt = sec(doc, "cpt-h")
    assert words(CPT_NOTICE) in cpt.text and "listed in" in cpt.text
    assert "known by its number" in doc.find("div", class_="plain-language").text
    assert has_section(doc, "ptp-h") and has_section(doc, "rvu-h")


def test_cpt_numbers_the_cms_files_do_not_list_have_no_page(client, book):
    code = next(c for c in ("99999", "0000T", "9999F") if not book.cms_listed(c, DOS))
    assert book.find("cpt", code, DOS) is None
    r = client.get(url("cpt", code))
    assert r.status_code == 404
    assert book.find("cpt", "29881", date(2020, 1, 1)) is None  # no CMS file held lists it then


# --- modifiers and places of service ---------------------------------------------------------------

def test_level2_modifier_page(paid_client, book):
    rec = code_record(book, "modifier", "LT", DOS)
    doc = open_page(paid_client, "modifier", "LT")
    assert words(rec["title"]) in doc.find("h1").text
    fields = dl(sec(doc, "modifier-h"))
    g = rec["modifier"]["guidance"]
    assert fields["Level"] == "HCPCS Level II" and fields["NCCI PTP-associated"].startswith("yes")
    assert fields["Category"] == ", ".join(g["categories"])
    assert fields["Correct use"] == words(g["correct_use"]) and fields["Incorrect use"] == words(g["incorrect_use"])
    record = dl(sec(doc, "hcpcs-h"))
    assert record["Short description"] == words(rec["hcpcs"]["short_description"])
    badges = [s.text for s in doc.find("p", class_="status").iter("span") if "badge" in s.attrs.get("class", "")]
    assert badges == ["valid"]
    assert not has_section(doc, "ptp-h")  # edits are for procedure codes


def test_cpt_modifier_by_number(paid_client, book):
    rec = code_record(book, "modifier", "59", DOS)
    assert rec["title"] == "" and rec["modifier"]["level"] == "CPT" and rec["modifier"]["cpt_descriptor"] is None
    doc = open_page(paid_client, "modifier", "59")
    assert doc.find("h1").text == "59"
    fields = dl(sec(doc, "modifier-h"))
    assert fields["Level"] == "CPT" and fields["Named in"] == rec["modifier"]["named_in"]
    assert fields["NCCI PTP-associated"].startswith("yes")
    assert words(CPT_NOTICE) in doc.find("p", id="cpt-notice").text
    assert paid_client.get(url("modifier", "5Q")).status_code == 404  # neither Level II nor a CPT number


def test_pos_page(paid_client, book):
    rec = code_record(book, "pos", "11", DOS)
    doc = open_page(paid_client, "pos", "11")
    fields = dl(sec(doc, "pos-h"))
    assert fields["Name"] == words(rec["title"])
    assert fields["Setting"].startswith(rec["pos"]["setting"])
    assert fields["Description"] == words(rec["pos"]["description"])
    found = book.get("pos", "11", DOS)
    assert fields["Effective"].startswith(f"from {d(found.valid_from)}")
    assert ("still in effect" in fields["Effective"]) == (found.valid_to is None)
    assert rec["pos"]["setting"].lower() in doc.find("div", class_="plain-language").text


# --- the paywall ------------------------------------------------------------------------------------

def test_edits_are_gated_like_notes(client, book):
    quota = settings.MEDCODE_QUOTAS["guest"]
    codes = [("hcpcs", "G0008"), ("hcpcs", "J1100"), ("cpt", "29881"), ("hcpcs", "J3490")]
    for system, code in codes[:quota]:
        doc = open_page(client, system, code)
        assert all(has_section(doc, i) for i in GATED_IDS)
    for system, code in codes[quota:quota + 2]:
        doc = open_page(client, system, code)
        assert not any(has_section(doc, i) for i in GATED_IDS)
        locked = doc.find("section", class_="locked")
        assert locked.find("h2").text == LOCKED_SECTIONS[system]
        main = doc.find("main")
        assert not list(main.iter("select")) and "Modifier indicator" not in main.text
        # the public part stays: the description, and the HCPCS record or the CPT notice
        assert has_section(doc, "hcpcs-h" if system == "hcpcs" else "cpt-h")
    # a locality choice does not unlock anything
    doc = open_page(client, *codes[quota], locality=LOCALITY)
    assert not has_section(doc, "payment-h")


# --- CPT from a licensee's files (SYNTHETIC) --------------------------------------------------------

SYNTH_29881 = "Synthetic knee arthroscopy descriptor written for medcode tests, not AMA text"


@pytest.fixture(scope="module")
def licensed_book_path(tmp_path_factory) -> Path:
    """A small book: a synthetic CM tabular, the synthetic CPT files plus an invented 29881 line, and an
    official-layout MUE table, so a licensed page shows the descriptor beside public facts."""
    from ncci_official import _write_mue

    folder = tmp_path_factory.mktemp("licensed")
    cpt = folder / "cpt"
    shutil.copytree(FIXTURES, cpt)
    with open(cpt / "LONGULT.txt", "a") as fh:
        fh.write(f"29881\t{SYNTH_29881}\n")
    (folder / "cm.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<ICD10CM.tabular><version>2026</version>\n'
        '<chapter><name>1</name><desc>Synthetic chapter</desc>\n<section id="A00-A09"><desc>Synthetic block</desc>'
        '<diag><name>A00</name><desc>Synthetic code</desc></diag></section>\n</chapter></ICD10CM.tabular>\n')
    mue = _write_mue(folder, "practitioner", "04-01-2026", [["29881", "1", "2 Date of Service Edit: Policy",
                                                             "CMS Policy"]])
    srcs = [SourceFile(kind="icd10cm_tabular", path=folder / "cm.xml", origin="imported"),
            SourceFile(kind="ncci_mue", path=mue)]
    srcs += [SourceFile(kind="cpt", path=cpt / n) for n in ("LONGULT.txt", "MEDU.txt", "SHORTU.txt", "MODUL.txt",
                                                           "ConsumerDescriptor.txt", "ClinicianDescriptor.txt")]
    build(folder / "codebook.sqlite", srcs, progress=False)
    return folder / "codebook.sqlite"


LICENSED_DOS = date(2099, 6, 1)  # the synthetic files' CPT year


def test_licensed_cpt_pages_show_the_descriptors(client, settings, licensed_book_path):
    settings.MEDCODE_CODEBOOK = str(licensed_book_path)
    lb = open_book(licensed_book_path)
    rec = code_record(lb, "cpt", "29881", LICENSED_DOS)
    assert rec["title"] == SYNTH_29881 and rec["cpt"]["licensed"] and rec["cpt"]["notice"] is None
    doc = open_page(client, "cpt", "29881", LICENSED_DOS)
    assert words(SYNTH_29881) in doc.find("h1").text
    assert not list(doc.iter("p", id="cpt-notice")) and CPT_NOTICE not in doc.find("main").text
    assert dl(sec(doc, "cpt-h"))["Long descriptor"] == SYNTH_29881
    m = lb.mue("29881", "practitioner", LICENSED_DOS)
    assert m is not None and rows(sec(doc, "mue-h").find("table"))[0][1] == str(m.value)
    # a fixture code with every descriptor kind
    rec = code_record(lb, "cpt", "99901", LICENSED_DOS)
    doc = open_page(client, "cpt", "99901", LICENSED_DOS)  # the guest's 2nd code: locked, the descriptors stay
    fields = dl(sec(doc, "cpt-h"))
    desc = rec["cpt"]["descriptors"]
    assert fields["Long descriptor"] == desc["long"] and fields["Short descriptor"] == desc["short"]
    assert fields["Medium descriptor"] == desc["medium"] and fields["Consumer friendly"] == desc["consumer"]
    for c in desc["clinician"]:
        assert c["text"] in fields["Clinician descriptors"]
    # CPT modifiers are read from MODUL when licensed
    mod = code_record(lb, "modifier", "9Y", LICENSED_DOS)
    doc = open_page(client, "modifier", "9Y", LICENSED_DOS)
    assert dl(sec(doc, "modifier-h"))["CPT descriptor"] == mod["modifier"]["cpt_descriptor"] == mod["title"]


def test_search_indexes_licensed_cpt_and_hcpcs(book, licensed_book_path):
    from medcode.search.engine import search

    found = search(book, "flu vaccine administration", limit=5)["results"]
    assert found[0]["system"] == "hcpcs" and found[0]["code"] == "G0008"
    hcpcs = search(book, "dexamethasone sodium phosphate injection", system="hcpcs", limit=5)["results"]
    assert "J1100" in [h["code"] for h in hcpcs]
    assert search(book, "synthetic knee arthroscopy", system="cpt")["results"] == []  # no CPT text unlicensed
    lb = open_book(licensed_book_path)
    hits = search(lb, "synthetic knee arthroscopy", limit=5, date=LICENSED_DOS)["results"]
    assert hits and (hits[0]["system"], hits[0]["code"]) == ("cpt", "29881")
    assert hits[0]["title"] == lb.get("cpt", "29881", LICENSED_DOS).title
