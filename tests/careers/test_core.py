"""The job board's pure parts: search parameters, pay arithmetic, file and image checks, Markdown,
JSON-LD. No database."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest

import jobfiles
from medcode.careers import files, images, jsonld, markup, vocab
from medcode.careers.query import JobQuery, QueryError, from_filters, parse

# --- search parameters --------------------------------------------------------------------------


def test_parse_reads_every_filter_and_normalises_case_and_commas():
    q = parse({"q": ["  remote   coder "], "workplace": ["Remote"], "credential": ["cpc,ccs-p", "CPC"],
               "setting": ["PROFEE"], "specialty": ["cardiology"], "employment_type": ["full_time"],
               "min_salary": ["50,000"], "currency": ["usd"], "location": [" Austin,  TX "],
               "posted_within": ["7"], "sort": ["salary"], "page": ["2"]})
    assert q == JobQuery(q="remote coder", workplace=("remote",), credential=("CPC", "CCS-P"), setting=("profee",),
                         specialty=("cardiology",), employment_type=("full_time",), min_salary=50000,
                         currency="USD", location="Austin, TX", posted_within=7, sort="salary", page=2)


def test_empty_parameters_are_the_default_search():
    assert parse({}) == JobQuery()
    assert parse({"q": [""], "credential": [""], "page": [""]}) == JobQuery()
    assert JobQuery().is_empty() and JobQuery().describe() == "all jobs"


@pytest.mark.parametrize("params, field", [
    ({"credential": ["CPX"]}, "credential"),
    ({"credential": ["CCS-Q"]}, "credential"),
    ({"workplace": ["moon"]}, "workplace"),
    ({"setting": ["<script>"]}, "setting"),
    ({"min_salary": ["-5"]}, "min_salary"),
    ({"min_salary": ["lots"]}, "min_salary"),
    ({"min_salary": ["1e9"]}, "min_salary"),
    ({"min_salary": ["999999999999"]}, "min_salary"),
    ({"currency": ["XYZ"]}, "currency"),
    ({"posted_within": ["0"]}, "posted_within"),
    ({"posted_within": ["366"]}, "posted_within"),
    ({"sort": ["random"]}, "sort"),
    ({"page": ["0"]}, "page"),
    ({"page": ["two"]}, "page"),
    ({"page": ["1", "2"]}, "page"),
    ({"q": ["x" * 201]}, "q"),
    ({"location": ["y" * 101]}, "location"),
    ({"q": ["a\x00b"]}, "q"),
])
def test_bad_parameters_are_named(params, field):
    with pytest.raises(QueryError) as caught:
        parse(params)
    assert field in caught.value.errors
    assert field in str(caught.value)


def test_filters_round_trip_through_a_saved_search():
    q = parse({"credential": ["CPC"], "workplace": ["remote"], "min_salary": ["40000"], "q": ["cardiology"],
               "sort": ["salary"], "page": ["3"]})
    stored = json.loads(json.dumps(q.filters()))  # as the JSONField keeps it
    assert "sort" not in stored and "page" not in stored
    back = from_filters(stored)
    assert back == JobQuery(q="cardiology", workplace=("remote",), credential=("CPC",), min_salary=40000)
    assert "CPC" in back.describe() and "remote" in back.describe() and "40,000 USD" in back.describe()


def test_params_give_the_query_back():
    q = parse({"credential": ["CPC", "CRC"], "min_salary": ["1000"], "sort": ["salary"], "page": ["2"]})
    raw: dict[str, list[str]] = {}
    for k, v in q.params():
        raw.setdefault(k, []).append(v)
    assert parse(raw) == q
    assert ("page", "1") not in q.params(page=1)


# --- pay ----------------------------------------------------------------------------------------

def test_pay_is_compared_per_year():
    assert vocab.annual(Decimal("30"), "hour") == 62400
    assert vocab.annual(Decimal("4000"), "month") == 48000
    assert vocab.annual(55000, "year") == 55000
    assert vocab.annual(None, "hour") is None
    assert vocab.annual(Decimal("28.50"), "hour") == 59280


def test_packed_lists_keep_items_apart():
    packed = vocab.pack(["CCS-P", "CPC", "CPC", ""])
    assert packed == "|CCS-P|CPC|"
    assert "|CCS|" not in packed  # CCS is not CCS-P
    assert vocab.unpack(packed) == ["CCS-P", "CPC"]
    assert vocab.pack([]) == "" and vocab.unpack("") == []


# --- résumés ------------------------------------------------------------------------------------

def _kind(data: bytes) -> str:
    return files.resume_kind(io.BytesIO(data), len(data))


def test_a_pdf_and_a_docx_are_recognised_by_content():
    assert _kind(jobfiles.pdf()) == "pdf"
    assert _kind(jobfiles.docx()) == "docx"


@pytest.mark.parametrize("data, message", [
    (jobfiles.executable_as_pdf(), "neither"),
    (b"\x7fELF\x02\x01\x01" + b"\0" * 500, "neither"),
    (b"<html><script>alert(1)</script></html>", "neither"),
    (b"{\\rtf1 synthetic}", "neither"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "neither"),  # an old .doc (OLE)
    (jobfiles.pdf()[:-7], "end-of-file"),                             # truncated PDF
    (jobfiles.docx(document=False), "neither"),                       # a ZIP that is not a Word document
    (jobfiles.docx(extra={"word/vbaProject.bin": b"macro"}), "macros"),
    (b"PK\x03\x04" + b"garbage" * 50, "damaged"),
    (b"", "empty"),
])
def test_anything_else_is_refused_with_a_reason(data, message):
    with pytest.raises(files.FileRefused, match=message):
        _kind(data)


def test_a_zip_bomb_docx_is_refused():
    bomb = jobfiles.zip_bomb_docx(megabytes=64)
    assert len(bomb) < 200_000  # a small upload...
    with pytest.raises(files.FileRefused, match="ZIP bomb"):
        _kind(bomb)  # ...that would inflate to 64 MB


def test_a_zip_bomb_with_lying_headers_is_refused_while_inflating():
    with pytest.raises(files.FileRefused):
        _kind(jobfiles.lying_zip_bomb_docx())


def test_a_dense_member_is_refused_by_its_ratio(monkeypatch):
    monkeypatch.setattr(files, "MAX_DOCX_UNCOMPRESSED", 10**9)  # only the ratio can catch it now
    with pytest.raises(files.FileRefused, match="ZIP bomb"):
        _kind(jobfiles.zip_bomb_docx(megabytes=4))


def test_size_limit_is_five_megabytes():
    big = jobfiles.pdf(pad=files.MAX_RESUME)
    with pytest.raises(files.FileRefused, match="at most 5 MB"):
        _kind(big)
    assert _kind(jobfiles.pdf(pad=files.MAX_RESUME - 2000)) == "pdf"


def test_the_file_position_is_rewound():
    f = io.BytesIO(jobfiles.pdf())
    files.resume_kind(f, len(f.getvalue()))
    assert f.tell() == 0


# --- logos --------------------------------------------------------------------------------------

def test_a_logo_is_resized_and_reencoded_as_png():
    from PIL import Image

    out = images.process_logo(jobfiles.png(1200, 600) + b"<?php trailing payload ?>")
    img = Image.open(io.BytesIO(out))
    assert img.format == "PNG" and img.size == (256, 128)
    assert b"php" not in out
    assert Image.open(io.BytesIO(images.process_logo(jobfiles.jpeg()))).size == (256, 256)


@pytest.mark.parametrize("data, message", [
    (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "not an image"),
    (b"GIF89a" + b"\0" * 10, "damaged|not an image"),
    (jobfiles.png()[:60], "damaged|not an image"),
    (jobfiles.pdf(), "not an image"),
    (b"", "empty"),
    (b"x" * (images.MAX_LOGO_BYTES + 1), "at most 2 MB"),
])
def test_what_is_not_a_usable_image_is_refused(data, message):
    with pytest.raises(images.ImageRefused, match=message):
        images.process_logo(data)


def test_a_huge_canvas_is_refused_before_decoding():
    huge = jobfiles.png(5000, 100)  # tiny file, too many pixels on a side
    with pytest.raises(images.ImageRefused, match="at most 4000"):
        images.process_logo(huge)


def test_a_bmp_is_refused_as_a_format():
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="BMP")
    with pytest.raises(images.ImageRefused, match="PNG, JPEG, GIF or WebP"):
        images.process_logo(out.getvalue())


# --- Markdown -----------------------------------------------------------------------------------

def test_markdown_renders_and_hostile_markup_is_text():
    html = markup.render("# Duties\n\n**Code** E/M visits.\n\n- one\n- two\n\n"
                         "<script>alert(1)</script> <img src=x onerror=alert(2)> "
                         "[click](javascript:alert(3)) [ok](https://example.com) ![pixel](https://t.example/p.gif)")
    assert "<h3>Duties</h3>" in html and "<strong>Code</strong>" in html and "<li>one</li>" in html
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert 'href="javascript' not in html
    assert '<a href="https://example.com" rel="nofollow noopener noreferrer ugc">ok</a>' in html
    assert "pixel" in html and "t.example" not in html


def test_sanitize_strips_what_markdown_cannot_produce():
    dirty = '<p onclick="x()">a</p><iframe src="https://e"></iframe><a href="javascript:x">b</a><style>p{}</style>'
    clean = markup.sanitize(dirty)
    assert "onclick" not in clean and "iframe" not in clean and "javascript" not in clean and "style" not in clean


# --- JSON-LD ------------------------------------------------------------------------------------

def _job(**over):
    base = {"id": 7, "title": "Coder </script><script>alert(1)</script>", "description_html": "<p>x &amp; y</p>",
            "posted": datetime(2026, 3, 1, 9, tzinfo=timezone.utc),
            "expires": datetime(2026, 4, 30, 9, tzinfo=timezone.utc), "employment_type": "full_time",
            "company": "Acme <b>", "company_url": "https://acme.example", "logo_url": None, "workplace": "remote",
            "city": "", "state": "", "country": "US", "salary_min": Decimal("25.50"),
            "salary_max": Decimal("30"), "currency": "USD", "period": "hour", "url": "http://t/jobs/7/",
            "experience_years": 3, "credentials": ["CPC", "CCS-P"], "direct_apply": True}
    return {**base, **over}


def test_job_posting_has_the_schema_org_fields():
    data = jsonld.posting(_job())
    assert data["@type"] == "JobPosting" and data["@context"] == "https://schema.org/"
    assert data["datePosted"] == "2026-03-01" and data["validThrough"].startswith("2026-04-30T09:00")
    assert data["employmentType"] == "FULL_TIME"
    assert data["hiringOrganization"] == {"@type": "Organization", "name": "Acme <b>", "sameAs": "https://acme.example"}
    assert data["jobLocationType"] == "TELECOMMUTE" and "jobLocation" not in data
    assert data["baseSalary"] == {"@type": "MonetaryAmount", "currency": "USD",
                                  "value": {"@type": "QuantitativeValue", "minValue": 25.5, "maxValue": 30,
                                            "unitText": "HOUR"}}
    assert data["experienceRequirements"]["monthsOfExperience"] == 36
    onsite = jsonld.posting(_job(workplace="onsite", city="Austin", state="TX", salary_min=None, salary_max=None))
    assert onsite["jobLocation"]["address"] == {"@type": "PostalAddress", "addressLocality": "Austin",
                                                "addressRegion": "TX", "addressCountry": "US"}
    assert "jobLocationType" not in onsite and "baseSalary" not in onsite


def test_embedded_json_cannot_close_its_script_element():
    text = jsonld.script(jsonld.posting(_job()))
    inner = text[len('<script type="application/ld+json">'):-len("</script>")]
    assert "<" not in inner and ">" not in inner and "&" not in inner
    assert text.count("</script>") == 1
    assert json.loads(inner)["title"] == "Coder </script><script>alert(1)</script>"  # the same data
