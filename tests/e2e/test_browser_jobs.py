"""The job board as its users meet it, in headless Chromium against the live server.

A new employer registers (the verification link comes over SMTP), creates a profile with a logo,
posts a remote CPC job with a pay range, previews and publishes it; staff approve it from the
moderation page; a seeker filters /jobs by credential and remote, finds it (and not the decoys),
applies with a PDF; the employer sees the applicant and sets a status; the seeker sees the new
status. axe-core checks the job board's pages on the way. All data is synthetic.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

import jobfiles

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "plum-Harbour-47-lantern"
TITLE = "Remote CPC Pro-Fee Coder (synthetic)"


@pytest.fixture
def private_root(settings, tmp_path):
    settings.MEDCODE_PRIVATE_ROOT = tmp_path / "private"
    return settings.MEDCODE_PRIVATE_ROOT


@pytest.fixture
def people(db):
    from medcode.accounts.models import User
    from medcode.careers import actions

    staff = User.objects.create_user("moderator@medcode.example", PASSWORD, email_verified=True, is_staff=True)
    seeker = User.objects.create_user("jane.coder@example.com", PASSWORD, email_verified=True)
    # decoys from an employer staff trusted already: one is remote but asks for CCS, one is CPC but on-site
    other = User.objects.create_user("talent@northwind.example", PASSWORD, email_verified=True)
    actions.save_employer(other, company_name="Northwind Clinics (synthetic)")
    base = {"workplace": "remote", "city": "", "state": "", "country": "US", "employment_type": "full_time",
            "credentials": ["CCS"], "specialties": [], "coding_settings": ["inpatient"], "experience_years": 1,
            "salary_min": Decimal("60000"), "salary_max": None, "salary_currency": "USD", "salary_period": "year",
            "description": "A synthetic decoy job for the browser test.", "apply_mode": "onsite", "apply_url": ""}
    for title, extra in [("Remote CCS Inpatient Coder", {}),
                         ("On-site CPC Coder in Austin", {"workplace": "onsite", "city": "Austin", "state": "TX",
                                                          "credentials": ["CPC"]})]:
        job = actions.create_job(other, {**base, **extra, "title": title})
        actions.publish(job, other)
        if job.status == "pending":
            actions.approve(job, staff)
    return {"staff": staff, "seeker": seeker}


def new_page(browser, address: str):
    context = browser.new_context(extra_http_headers={"X-Forwarded-For": address})
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    return pg


def log_in(page, live_server, email: str) -> None:
    page.goto(live_server.url + reverse("login"))
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_post_approve_find_apply_and_follow_the_status(browser, page, live_server, mailbox, mail_link, people,
                                                       private_root, visitor_address, axe_check):
    employer_email = f"owner.{visitor_address.replace('.', '-')}@acme.example"

    # --- a new employer registers and verifies the address from the mail ---
    page.goto(live_server.url + "/")
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Medical coding jobs")
    page.goto(live_server.url + reverse("register"))
    page.get_by_label("Email address").fill(employer_email)
    page.get_by_label(re.compile(r"^Password:?$")).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.goto(mail_link(mailbox.wait_for(employer_email), "/account/verify/"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("verified")
    if page.get_by_role("button", name="Log out").count() == 0:
        log_in(page, live_server, employer_email)

    # --- profile with a logo, then the posting form ---
    page.goto(live_server.url + reverse("jobs:list"))
    page.get_by_role("link", name="post a job").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Employer profile")
    page.get_by_label("Company name").fill("Acme Health (synthetic)")
    page.get_by_label("Company website").fill("https://acme.example")
    page.get_by_label("Logo").set_input_files({"name": "logo.png", "mimeType": "image/png",
                                               "buffer": jobfiles.png(800, 400)})
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Your jobs at Acme Health (synthetic)")

    page.get_by_role("link", name="Post a job").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Post a job")
    axe_check(page, "the posting form")
    page.get_by_label("Job title").fill(TITLE)
    page.get_by_role("radio", name="Remote").check()
    page.get_by_label("Employment type").select_option("full_time")
    page.get_by_role("checkbox", name=re.compile(r"^CPC \(")).check()
    page.get_by_role("checkbox", name="Professional fee").check()
    page.get_by_role("checkbox", name="Cardiology").check()
    page.get_by_label("Years of coding experience").fill("2")
    page.get_by_label("Pay from").fill("28")
    page.get_by_label("Pay up to").fill("34")
    page.get_by_label("Pay period").select_option("hour")
    page.get_by_label("Description").fill("## What you will do\n\nCode **cardiology** office visits and "
                                          "procedures. Synthetic posting for the browser test.")
    page.get_by_role("button", name="Preview").click()

    expect(page.get_by_role("region", name="Preview")).to_contain_text("Draft")
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.locator(".job-description strong")).to_have_text("cardiology")
    expect(page.get_by_text("28–34 USD per hour")).to_be_visible()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("cell", name="Awaiting review")).to_be_visible()

    # not listed until staff approve it
    page.goto(live_server.url + reverse("jobs:list"))
    expect(page.get_by_role("link", name=TITLE)).to_have_count(0)

    # --- staff approve it from the moderation page ---
    staff_page = new_page(browser, visitor_address)
    log_in(staff_page, live_server, people["staff"].email)
    staff_page.goto(live_server.url + reverse("jobs:moderation"))
    card = staff_page.get_by_role("article", name=TITLE)
    expect(card).to_contain_text("Acme Health (synthetic)")
    axe_check(staff_page, "the moderation queue")
    card.get_by_role("button", name=f"Approve {TITLE}", exact=True).click()
    expect(staff_page.get_by_text(f"Approved: {TITLE}")).to_be_visible()
    expect(staff_page.get_by_text("Nothing is waiting.")).to_be_visible()
    staff_page.context.close()

    # --- a seeker filters by credential and remote, finds it and applies with a PDF ---
    seeker = new_page(browser, visitor_address)
    log_in(seeker, live_server, people["seeker"].email)
    seeker.goto(live_server.url + reverse("jobs:list"))
    expect(seeker.get_by_role("heading", level=2, name=re.compile(r"^3 jobs"))).to_be_visible()
    filters = seeker.get_by_role("form", name="Job search")
    filters.get_by_role("group", name="Credential").get_by_role("checkbox", name="CPC", exact=True).check()
    filters.get_by_role("group", name="Workplace").get_by_role("checkbox", name="Remote", exact=True).check()
    filters.get_by_role("button", name="Search jobs").click()
    expect(seeker).to_have_url(re.compile(r"workplace=remote.*credential=CPC|credential=CPC.*workplace=remote"))
    expect(seeker.get_by_role("heading", level=2, name=re.compile(r"^1 job for"))).to_be_visible()
    expect(seeker.get_by_role("link", name="Remote CCS Inpatient Coder")).to_have_count(0)
    expect(seeker.get_by_role("link", name="On-site CPC Coder in Austin")).to_have_count(0)
    axe_check(seeker, "the filtered job list")
    seeker.get_by_role("link", name=TITLE).click()

    expect(seeker.get_by_role("heading", level=1)).to_have_text(TITLE)
    ld = json.loads(seeker.locator('script[type="application/ld+json"]').text_content())
    assert ld["@type"] == "JobPosting" and ld["title"] == TITLE and ld["jobLocationType"] == "TELECOMMUTE"
    assert ld["baseSalary"]["value"]["unitText"] == "HOUR"
    logo = seeker.get_by_role("img", name="Acme Health (synthetic) logo")
    expect(logo).to_be_visible()
    assert logo.evaluate("img => img.naturalWidth") == 256
    axe_check(seeker, "the job page")

    seeker.get_by_label("Cover note").fill("CPC since 2021, five years of cardiology pro-fee coding. Synthetic.")
    seeker.get_by_label("Résumé").set_input_files({"name": "jane-coder.pdf", "mimeType": "application/pdf",
                                                   "buffer": jobfiles.pdf()})
    seeker.get_by_role("button", name="Send application").click()
    expect(seeker.get_by_role("heading", level=1)).to_have_text("Your applications")
    row = seeker.get_by_role("row").filter(has_text=TITLE)
    expect(row).to_contain_text("New")

    # --- the employer sees the applicant and sets a status ---
    page.goto(live_server.url + reverse("jobs:dashboard"))
    page.get_by_role("link", name=f"1 applicant for {TITLE}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Applicants for “{TITLE}”")
    page.get_by_role("link", name=people["seeker"].email).click()
    expect(page.get_by_text("five years of cardiology pro-fee coding")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile(r"^Download jane-coder\.pdf")).click()
    assert download.value.suggested_filename.endswith(".pdf")
    assert open(download.value.path(), "rb").read() == jobfiles.pdf()
    axe_check(page, "the application page")
    page.get_by_label("Status").select_option("interview")
    page.get_by_role("button", name="Set status").click()
    expect(page.get_by_text("Status set to Interview.")).to_be_visible()
    assert any("New application" in str(m["Subject"]) for m in mailbox.to(employer_email))

    # --- the applicant sees the new status ---
    seeker.reload()
    expect(seeker.get_by_role("row").filter(has_text=TITLE)).to_contain_text("Interview")
    seeker.get_by_role("link", name=TITLE).click()
    expect(seeker.locator("#application-status")).to_have_text("Interview")
    seeker.context.close()
