"""GET /api/v1/codes/{system}/{code} for HCPCS Level II codes, modifiers, places of service and CPT codes
(issue 5): the edits object (NCCI PTP pairs, MUEs, add-on relations, RVUs, national payment) and the
additive `attributes` object, each checked against the book. CPT text only from SYNTHETIC files."""

from __future__ import annotations

import json
from datetime import date

import pytest

from medcode.codebook import open_book
from medcode.codebook.build import build
from medcode.codebook.record import CPT_NOTICE, PTP_MODIFIER_WORDS, PTP_SHOWN, code_record
from medcode.codebook.sources.pfs_rvu import PAYABLE_STATUS, payment_amount
from medcode.codebook.writer import SourceFile

pytestmark = pytest.mark.django_db

DOS = date(2026, 6, 1)


@pytest.fixture(autouse=True)
def isolated(settings):
    import uuid

    settings.MEDCODE_METER_BACKEND = "db"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"api-hcpcs-{uuid.uuid4().hex}"}}


def get(client, system, code, when=DOS, status=200, n=[0]):
    n[0] += 1  # another client address each call: the guest quota is per address
    r = client.get(f"/api/v1/codes/{system}/{code}" + (f"?date={when.isoformat()}" if when else ""),
                   REMOTE_ADDR=f"203.0.113.{n[0] % 250 + 1}")
    assert r.status_code == status, r.content[:300]
    return json.loads(r.content)


def iso(d):
    return d.isoformat() if d else None


@pytest.mark.parametrize("system, code", [("hcpcs", "G0008"), ("hcpcs", "J1100"), ("cpt", "29881")])
def test_edits_follow_the_book(client, book, system, code):
    doc = get(client, system, code)
    e = doc["edits"]
    assert e["date_of_service"] == DOS.isoformat()
    assert e["ptp"]["modifier_indicators"] == {str(k): v for k, v in PTP_MODIFIER_WORDS.items()}
    for setting in ("practitioner", "hospital"):
        counts = book.ptp_counts(code, setting, DOS)
        pairs = book.ptp_pairs(code, setting, DOS, limit=PTP_SHOWN)
        for col in ("column1", "column2"):
            side = e["ptp"][setting][col]
            assert side["count"] == counts[col]
            assert [(p["column1"], p["column2"], p["modifier"], p["effective"], p["deletion"], p["rationale"])
                    for p in side["pairs"]] == [(x.column1, x.column2, x.modifier, iso(x.effective), iso(x.deletion),
                                                 x.rationale) for x in pairs[col]]
    for setting in ("practitioner", "hospital", "dme"):
        m = book.mue(code, setting, DOS)
        got = e["mue"][setting]
        assert (got is None) == (m is None)
        if m:
            assert (got["units"], got["mai"], got["rationale"]) == (m.value, m.mai, m.rationale)
    assert [a["addon"] for a in e["addon"]["addons"]] == [x.addon for x in book.addons_for(code, DOS)]
    assert [a["primary"] for a in e["addon"]["primaries"]] == [x.primary for x in book.addon_primaries(code, DOS)]
    records = book.rvus(code, DOS)
    assert [(r["modifier"], r["status"], r["work"], r["total_facility"], r["global_days"]) for r in e["rvu"]] == \
        [(r.modifier, r.status, r.work, r.total_facility, r.global_days) for r in records]
    pay = e["payment"]
    assert pay["basis"] == "national" and pay["locality"] is None
    for got, r in zip(pay["amounts"], records):
        for key, pe, na in (("nonfacility", r.pe_nonfacility, r.pe_nonfacility_na),
                            ("facility", r.pe_facility, r.pe_facility_na)):
            if r.status in PAYABLE_STATUS and not na:
                assert got[key] == float(payment_amount(r.work, pe, r.mp, 1, 1, 1, r.conversion_factor))
            else:
                assert got[key] is None and got[f"{key}_reason"]


def test_hcpcs_attributes(client, book):
    doc = get(client, "hcpcs", "G0008")
    rec = code_record(book, "hcpcs", "G0008", DOS)
    h = doc["attributes"]["hcpcs"]
    for key in ("long_description", "short_description", "pricing_indicators", "coverage_code", "betos",
                "type_of_service", "action_code", "noc", "pricing_meanings", "betos_meaning", "coverage_meaning"):
        assert h[key] == rec["hcpcs"][key], key
    assert h["added"] == iso(rec["hcpcs"]["added"])
    assert doc["title"] == rec["title"] == book.get("hcpcs", "G0008", DOS).title


def test_modifier_and_pos_attributes(client, book):
    lt = get(client, "modifier", "LT")
    assert lt["edits"] == {}
    assert lt["attributes"]["modifier"]["level"] == "HCPCS Level II"
    assert lt["attributes"]["modifier"]["guidance"]["categories"] == \
        book.modifier_guidance("LT", DOS)["categories"]
    m59 = get(client, "modifier", "59")
    assert m59["title"] == "" and m59["attributes"]["modifier"]["level"] == "CPT"
    assert m59["attributes"]["modifier"]["notice"] == CPT_NOTICE
    pos = get(client, "pos", "11")
    assert pos["attributes"]["pos"] == {**book.pos_details("11", DOS)}
    assert pos["title"] == book.get("pos", "11", DOS).title


def test_cpt_without_a_license(client, book):
    doc = get(client, "cpt", "29881")
    assert doc["title"] == "" and doc["status"] == "active" and doc["billable"] is True
    cpt = doc["attributes"]["cpt"]
    assert cpt["licensed"] is False and cpt["descriptors"] == {} and cpt["notice"] == CPT_NOTICE
    assert cpt["listed_in"] == book.cms_listed("29881", DOS)
    err = get(client, "cpt", "29881", date(2020, 1, 1), status=404)["error"]
    assert err["code"] == "unknown_code"


def test_icd_codes_have_no_edits_or_attributes(client):
    doc = get(client, "icd10cm", "E11.9")
    assert doc["edits"] == {} and doc["attributes"] is None


def test_openapi_documents_the_edits(client):
    spec = client.get("/api/v1/openapi.json").json()
    schemas = spec["components"]["schemas"]
    record = schemas["CodeRecord"]["properties"]
    refs = {r["$ref"].rsplit("/", 1)[1] for r in record["edits"]["anyOf"]}
    assert refs == {"Edits", "NoEdits"}
    assert set(schemas["Edits"]["properties"]) == {"date_of_service", "ptp", "mue", "addon", "rvu", "payment"}
    assert {"column1", "column2", "releases"} <= set(schemas["PtpSetting"]["properties"])
    assert {"units", "mai", "rationale"} <= set(schemas["MueEdit"]["properties"])
    assert "attributes" in record and "attributes" not in schemas["CodeRecord"]["required"]


@pytest.fixture(scope="module")
def cm_only_book(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cm-only")
    (folder / "cm.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<ICD10CM.tabular><version>2026</version>\n'
        '<chapter><name>1</name><desc>Synthetic chapter</desc>\n<section id="A00-A09"><desc>Synthetic block</desc>'
        '<diag><name>A00</name><desc>Synthetic code</desc></diag></section>\n</chapter></ICD10CM.tabular>\n')
    build(folder / "codebook.sqlite", [SourceFile(kind="icd10cm_tabular", path=folder / "cm.xml",
                                                  origin="imported")], progress=False)
    return folder / "codebook.sqlite"


def test_a_book_without_cms_files_knows_no_cpt(client, settings, cm_only_book):
    settings.MEDCODE_CODEBOOK = str(cm_only_book)
    assert not open_book(cm_only_book).holds("cpt")
    assert get(client, "cpt", "29881", status=404)["error"]["code"] == "unknown_system"
    assert client.get("/codes/cpt/29881").status_code == 404
