"""Bad input on the code, browse and guideline pages: the right status and a clear message,
never a 500 (and never a charge against the meter)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from medcode.accounts import metering
from pagedom import dom, section

pytestmark = pytest.mark.django_db

CM, PCS = "icd10cm", "icd10pcs"


def test_unknown_pcs_code_offers_the_nearest(client, book):
    near = book.nearest(PCS, "0RRJ0JY")
    assert book.find(PCS, "0RRJ0JY") is None and near
    r = client.get(reverse("code", args=[PCS, "0RRJ0JY"]))
    assert r.status_code == 404
    assert section(dom(r), "Did you mean").links() == [reverse("code", args=[PCS, c.code]) for c in near]


def test_did_you_mean_keeps_the_date_of_service(client, book):
    r = client.get(reverse("code", args=[CM, "K21.99"]), {"date": "2026-05-01"})
    assert r.status_code == 404
    links = section(dom(r), "Did you mean").links()
    assert links and all(h.endswith("?date=2026-05-01") for h in links)


@pytest.mark.parametrize("path", [
    "/codes/icd10cm/E11%2F9", "/codes/icd10cm/E11.9.9.9.9", "/codes/icd10cm/%E2%98%83",
    "/codes/icd10pcs/0RRJ0JZZ", "/codes/icd10pcs/I", "/codes/icd10cm/--",
    "/codes/icd9cm/250.00", "/codes/hcpcs/ZZ999",
])
def test_malformed_or_absent_codes_are_a_404(client, path):
    r = client.get(path, follow=True)
    assert r.status_code == 404
    assert dom(r).find("h1").text


def test_an_oversized_query_string_is_a_400(client):
    r = client.get(reverse("code", args=[CM, "E11.9"]) + "?" + "&".join(f"x{i}=y" for i in range(300)))
    assert r.status_code == 400
    assert "too long" in dom(r).find("main").text


def test_too_many_query_fields_is_not_a_500(client):
    r = client.get(reverse("code", args=[CM, "E11.9"]) + "?" + "&".join("a=" for _ in range(1200)))
    assert r.status_code == 400


def test_a_date_far_outside_the_releases_still_renders(client, book):
    for when in ("1990-01-01", "9999-12-31"):
        r = client.get(reverse("code", args=[CM, "E11.9"]), {"date": when})
        assert r.status_code == 200


@pytest.mark.parametrize("cookie", ["", "a:b:c", "%%%", "medcode" * 600, "x" * 20 + ":" + "y" * 30])
def test_a_tampered_meter_cookie_is_never_a_500(client, cookie):
    client.cookies[metering.GUEST_COOKIE] = cookie
    r = client.get(reverse("code", args=[CM, "E11.9"]))
    assert r.status_code == 200
    assert r.cookies[metering.GUEST_COOKIE].value not in ("", cookie)


def test_a_post_without_csrf_token_is_refused_not_a_500(db):
    c = Client(enforce_csrf_checks=True)
    r = c.post(reverse("code", args=[CM, "E11.9"]), {"x": "y"})
    assert r.status_code == 403


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_code_pages_answer_only_get_and_head(client, method):
    r = getattr(client, method)(reverse("code", args=[CM, "E11.9"]))
    assert r.status_code == 405
    assert client.head(reverse("code", args=[CM, "E11.9"])).status_code == 200


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(code=st.text(min_size=1, max_size=80), when=st.one_of(st.none(), st.text(max_size=30)),
       system=st.sampled_from([CM, PCS, "ICD10CM", "pcs", "bogus"]))
def test_any_code_or_date_is_never_a_500(client, code, when, system):
    from urllib.parse import quote

    path = f"/codes/{system}/" + quote(code, safe="")
    r = client.get(path, {"date": when} if when is not None else {}, follow=True)
    assert r.status_code in (200, 400, 404), (path, when, r.status_code)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ref=st.text(min_size=1, max_size=80))
def test_any_guideline_ref_is_never_a_500(client, ref):
    from urllib.parse import quote

    r = client.get("/guidelines/" + quote(ref, safe=""), follow=True)
    assert r.status_code in (200, 400, 404)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(node=st.text(min_size=1, max_size=80))
def test_any_browse_node_is_never_a_500(client, node):
    from urllib.parse import quote

    r = client.get("/browse/icd10cm/" + quote(node, safe=""), follow=True)
    assert r.status_code in (200, 400, 404)
