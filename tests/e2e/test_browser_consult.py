"""Email consult pages in a real browser: a coder reads their threads; a reviewer edits and approves a
draft from the queue (and only then is the reply mailed); axe-core finds no serious violation."""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
CONSULT = "consult@medcode.test"


def _mail(sender: str, text: str, subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, CONSULT, subject
    msg.set_content(text)
    return msg.as_bytes()


def _log_in(page, live_server, email: str, password: str) -> None:
    page.goto(live_server.url + "/account/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


@pytest.fixture
def consult_site(settings, mailbox):
    settings.MEDCODE_CONSULT_ADDRESS = [CONSULT]
    settings.MEDCODE_CONSULT_REVIEW_UNCONFIDENT = True
    settings.MEDCODE_CONSULT_REVIEW_ALL = False
    settings.MEDCODE_CONSULT_REVIEW_PLANS = []
    return mailbox


def test_my_consults_and_the_review_queue(page, live_server, consult_site, axe_check, django_user_model):
    from medcode.consult import actions

    coder = django_user_model.objects.create_user("coder@client.test", "a long password 1", email_verified=True)
    django_user_model.objects.create_user("reviewer@medcode.test", "a long password 2", email_verified=True,
                                          is_staff=True)
    answered = actions.intake(_mail(coder.email, "Is E11.9 billable? Patient John Smith.", "Diabetes"),
                              mail_from=coder.email, rcpts=[CONSULT])
    unsure = actions.intake(_mail(coder.email, "hello", "Help"), mail_from=coder.email, rcpts=[CONSULT])
    assert actions.process(answered.inbound_id) == "answered"
    assert actions.process(unsure.inbound_id) == "in_review"
    assert len(consult_site.to(coder.email)) == 1

    _log_in(page, live_server, coder.email, "a long password 1")
    page.get_by_role("link", name="My consults").click()
    expect(page.get_by_role("heading", name="My consults")).to_be_visible()
    expect(page.get_by_role("link", name="Diabetes")).to_be_visible()
    expect(page.get_by_text("waiting for review")).to_be_visible()
    axe_check(page, "My consults")
    page.get_by_role("link", name="Diabetes").click()
    expect(page.locator("blockquote", has_text="Patient [name].")).to_be_visible()
    expect(page.get_by_text("John")).to_have_count(0)
    axe_check(page, "a consult thread")
    expect(page.get_by_role("link", name="Review queue")).to_have_count(0)  # not staff

    page.get_by_role("button", name="Log out").click()
    _log_in(page, live_server, "reviewer@medcode.test", "a long password 2")
    page.get_by_role("link", name="Review queue").click()
    expect(page.get_by_role("heading", name="Consult review queue")).to_be_visible()
    axe_check(page, "the review queue")
    page.get_by_role("link", name=re.compile(r"^Review draft")).first.click()
    axe_check(page, "a draft under review")
    page.get_by_label("Answer").fill("For a preventive visit use **Z00.00**.")
    page.get_by_role("button", name="Approve and send").click()
    expect(page.get_by_role("status")).to_contain_text("Approved: the answer")

    from django.core.management import call_command

    call_command("db_worker", batch=True, interval=0.05, startup_delay=False, reload=False, verbosity=0)
    replies = consult_site.to(coder.email)
    assert len(replies) == 2
    assert "For a preventive visit use **Z00.00**" in replies[-1].get_body(("plain",)).get_content()

    page.get_by_role("link", name="Delivery log").click()
    expect(page.get_by_role("heading", name="Consult delivery log")).to_be_visible()
    axe_check(page, "the delivery log")
