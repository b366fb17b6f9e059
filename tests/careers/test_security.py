"""Security: what posters type is inert wherever it is shown (pages, feed, JSON-LD, mail), and every
state-changing form needs its CSRF token."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from django.test import Client
from django.urls import reverse

import jobfiles
from jobkit import JOB_DATA, assert_inert, client_for, form_data, scan, upload
from medcode.careers import actions
from medcode.careers.models import Application, Employer, Job, SavedSearch
from medcode.careers.query import JobQuery

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert('t')</script>"
HANDLER = '"><img src=x onerror=alert(1)><svg onload=alert(2)>'
HOSTILE_TITLE = f"Coder {SCRIPT}{HANDLER}</title></script>"
HOSTILE_COMPANY = f"Evil {SCRIPT} Co{HANDLER}"
HOSTILE_DESCRIPTION = (f"Intro {SCRIPT}\n\n<img src=x onerror=alert(3)>\n\n[click me](javascript:alert(4)) "
                       f"<a href=\"javascript:alert(5)\" onclick=\"alert(6)\">x</a>\n\n"
                       f"<iframe src=\"https://evil.example\"></iframe> <div style=\"background:url(javascript:alert(7))\">"
                       f"</div>\n\n[data](data:text/html;base64,PHNjcmlwdD5hbGVydCg4KTwvc2NyaXB0Pg==)")


@pytest.fixture
def hostile(make_user, staff, seeker):
    """A job whose title, company and description try script and event-handler injection; one application."""
    user = make_user("evil@evil.example")
    actions.save_employer(user, company_name=HOSTILE_COMPANY, website="https://evil.example")
    job = actions.create_job(user, {**JOB_DATA, "title": HOSTILE_TITLE,
                                    "description": HOSTILE_DESCRIPTION})
    actions.publish(job, user)
    job.refresh_from_db()
    return user, job


def test_the_form_stores_what_was_typed(hostile):
    user, job = hostile
    assert Job.objects.get(pk=job.pk).title == " ".join(HOSTILE_TITLE.split())
    assert Employer.objects.get(user=user).company_name == " ".join(HOSTILE_COMPANY.split())


def test_hostile_job_is_inert_on_every_page(hostile, staff, seeker, mailbox):
    user, job = hostile
    owner, admin = client_for(user), client_for(staff)
    pages = {
        "moderation queue": admin.get(reverse("jobs:moderation")),
        "preview": owner.get(reverse("jobs:preview", args=[job.pk])),
        "dashboard": owner.get(reverse("jobs:dashboard")),
        "edit form": owner.get(reverse("jobs:edit", args=[job.pk])),
    }
    actions.approve(job, staff)
    pages["list"] = Client().get(reverse("jobs:list"))
    pages["search"] = Client().get(reverse("jobs:list"), {"q": "Coder"})
    pages["job page"] = Client().get(reverse("jobs:detail", args=[job.pk]))
    client_for(seeker).post(reverse("jobs:apply", args=[job.pk]),
                            {"cover_note": f"note {SCRIPT}{HANDLER}", "resume": upload("r.pdf", jobfiles.pdf())})
    app = Application.objects.get()
    pages["application (employer)"] = owner.get(reverse("jobs:application", args=[app.pk]))
    pages["application (seeker)"] = client_for(seeker).get(reverse("jobs:application", args=[app.pk]))
    pages["my applications"] = client_for(seeker).get(reverse("jobs:my_applications"))
    pages["applicants"] = owner.get(reverse("jobs:applicants", args=[job.pk]))
    for name, r in pages.items():
        assert r.status_code == 200, name
        html = r.content.decode()
        assert_inert(html)
        # the text is still there, as text
        assert "&lt;script&gt;" in html, name


def test_the_description_keeps_only_safe_markup(hostile):
    _, job = hostile
    html = job.description_html
    assert_inert(html)
    tags = scan(html).tags
    assert {t for t, _ in tags} <= {"p", "a"}, tags  # no iframe, div, img, script: only what Markdown made
    assert all(set(a) <= {"href", "rel"} for _, a in tags), tags  # no style, no handlers
    assert [a["href"] for t, a in tags if t == "a"] == []  # the javascript: and data: links are not links


def test_json_ld_cannot_break_out_of_its_script(hostile, staff):
    _, job = hostile
    actions.approve(job, staff)
    html = Client().get(reverse("jobs:detail", args=[job.pk])).content.decode()
    page = scan(html)
    ld = [text for attrs, text in page.scripts if attrs.get("type") == "application/ld+json"]
    assert len(ld) == 1
    data = json.loads(ld[0])
    assert data["title"] == job.title and data["hiringOrganization"]["name"] == job.employer.company_name
    # no inline script but the JSON-LD block; every other script is one of the site's static files
    others = [a for a, _ in page.scripts if a.get("type") != "application/ld+json"]
    assert others and all((a.get("src") or "").startswith("/static/") for a in others), others


def test_title_in_the_page_title_is_escaped(hostile, staff):
    _, job = hostile
    actions.approve(job, staff)
    html = Client().get(reverse("jobs:detail", args=[job.pk])).content.decode()
    head_title = html.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "<" not in head_title and "&lt;/title&gt;" in head_title


def test_feed_carries_the_text_escaped(hostile, staff):
    _, job = hostile
    actions.approve(job, staff)
    r = Client().get(reverse("jobs:feed_rss"))
    item = ET.fromstring(r.content).find("./channel/item")  # well-formed XML despite the title
    assert item.findtext("title").startswith("Coder <script>")  # text, escaped in the XML
    assert b"<script>" not in r.content


def test_mail_subjects_cannot_be_split(make_user, staff, mailbox):
    user = make_user("x@x.example")
    actions.save_employer(user, company_name="X")
    job = actions.create_job(user, {**JOB_DATA, "title": "A\r\nBcc: victim@example.com"})
    assert "\n" not in job.title and "\r" not in job.title
    actions.publish(job, user)
    actions.approve(job, staff)
    mail = mailbox.one("x@x.example")
    assert mail["Bcc"] is None and "victim" not in str(mail["To"])


# --- CSRF -----------------------------------------------------------------------------------------

def test_csrf_is_enforced_on_every_form(employer_user, post_job, seeker, staff, make_user):
    job = post_job(employer_user)
    draft = actions.create_job(employer_user, JOB_DATA)
    pending_owner = make_user("new@new.example")
    actions.save_employer(pending_owner, company_name="New Co")
    pending = actions.publish(actions.create_job(pending_owner, JOB_DATA), pending_owner)
    app = actions.apply(job, seeker, cover_note="hi", upload=upload("r.pdf", jobfiles.pdf()), name="r.pdf")
    alert = actions.save_search(seeker, JobQuery())

    def strict(user):
        return client_for(user, enforce_csrf_checks=True)

    cases = [
        (strict(employer_user), reverse("jobs:employer_profile"), {"company_name": "Hijacked"}),
        (strict(employer_user), reverse("jobs:new"), form_data(title="Forged")),
        (strict(employer_user), reverse("jobs:edit", args=[job.pk]), form_data(title="Forged")),
        (strict(employer_user), reverse("jobs:publish", args=[draft.pk]), {}),
        (strict(employer_user), reverse("jobs:close", args=[job.pk]), {}),
        (strict(employer_user), reverse("jobs:renew", args=[job.pk]), {}),
        (strict(employer_user), reverse("jobs:application_status", args=[app.pk]), {"status": "offer"}),
        (strict(employer_user), reverse("jobs:application_message", args=[app.pk]), {"body": "forged"}),
        (strict(staff), reverse("jobs:approve", args=[pending.pk]), {}),
        (strict(staff), reverse("jobs:reject", args=[pending.pk]), {"reason": "forged"}),
        (strict(seeker), reverse("jobs:alert_save"), {"credential": "CPC"}),
        (strict(seeker), reverse("jobs:alert_delete", args=[alert.pk]), {}),
    ]
    for c, url, data in cases:
        r = c.post(url, data)
        assert r.status_code == 403, url
        assert b"CSRF" in r.content, url
    other = post_job(employer_user, title="Other")
    r = strict(seeker).post(reverse("jobs:apply", args=[other.pk]),
                            {"cover_note": "forged", "resume": upload("r.pdf", jobfiles.pdf())})
    assert r.status_code == 403

    # nothing changed
    job.refresh_from_db()
    draft.refresh_from_db()
    pending.refresh_from_db()
    app.refresh_from_db()
    assert job.title == "Remote Outpatient Coder" and job.status == "published"
    assert draft.status == "draft" and pending.status == "pending" and app.status == "new"
    assert Employer.objects.get(user=employer_user).company_name == "Acme Health (synthetic)"
    assert Application.objects.count() == 1 and SavedSearch.objects.count() == 1
    assert not Job.objects.filter(title="Forged").exists()


def test_with_the_token_the_same_post_works(employer_user, post_job):
    job = post_job(employer_user)
    c = client_for(employer_user, enforce_csrf_checks=True)
    c.get(reverse("jobs:dashboard"))  # sets the CSRF cookie
    token = c.cookies["csrftoken"].value
    r = c.post(reverse("jobs:close", args=[job.pk]), {"csrfmiddlewaretoken": token})
    assert r.status_code == 302
    job.refresh_from_db()
    assert job.status == "closed"
