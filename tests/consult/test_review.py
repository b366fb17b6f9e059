"""Expert review: unsure answers (and plans or sites that ask for it) wait for a reviewer; only then is mail sent."""

from __future__ import annotations

import pytest
from consultkit import drain, question

from medcode.assistant import ask
from medcode.consult.models import Draft, Inbound, Outbound

pytestmark = pytest.mark.django_db(transaction=True)

UNSURE = "hello"


def _text(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def _pending():
    return Draft.objects.get(decision="pending")


def test_an_answer_the_assistant_is_unsure_of_waits_for_review_then_goes_edited(gateway, relay, coder, staff,
                                                                                client, book):
    assert ask(book, UNSURE).confident is False  # what makes this a review case
    gateway.send(question(UNSURE, sender=coder.email, subject="Help", msgid="<r1@client.test>"))
    drain()
    assert relay.messages == []  # nothing is sent before a reviewer approves
    draft = _pending()
    assert draft.review_reason == "the assistant is not confident" and draft.markdown
    assert Inbound.objects.get().status == "in_review"

    client.force_login(staff)
    queue = client.get("/consults/review/")
    assert queue.status_code == 200 and f"/consults/review/{draft.pk}/" in queue.content.decode()
    page = client.get(f"/consults/review/{draft.pk}/")
    assert page.status_code == 200 and "hello" in page.content.decode()

    edited = "For a well visit use **Z00.00**; K21.99 is not what you want."
    response = client.post(f"/consults/review/{draft.pk}/", {"action": "approve", "markdown": edited})
    assert response.status_code == 302
    drain()
    reply = relay.one(coder.email)
    text = _text(reply)
    assert reply["In-Reply-To"] == "<r1@client.test>"
    assert "For a well visit use **Z00.00**" in text
    assert "K21.99 [not a valid code]" in text  # a reviewer's codes are checked like the assistant's
    assert "reviewed by a coding specialist" in text
    assert "Z00.00 (icd10cm)" in text and "K21.99 (icd10cm): NOT valid" in text

    draft.refresh_from_db()
    assert (draft.decision, draft.reviewer, draft.reviewer_email, draft.edited) == \
        ("approved", staff, staff.email, True)
    assert draft.reviewed_at is not None and draft.final_markdown.startswith("For a well visit")
    assert Inbound.objects.get().status == "answered"

    again = client.post(f"/consults/review/{draft.pk}/", {"action": "approve", "markdown": "twice"})
    assert again.status_code == 409  # already reviewed: not sent twice
    drain()
    assert len(relay.to(coder.email)) == 1 and Outbound.objects.count() == 1


def test_an_edited_answer_s_html_part_is_sanitised_like_every_page(gateway, relay, coder, staff, client):
    """The mail's HTML went through markdown-it alone (a third renderer): a remote image (a tracking pixel) and
    a page-level <h1> reached the coder. It now goes through medcode.markup like job ads and chat answers."""
    from consultkit import SITE

    gateway.send(question(UNSURE, sender=coder.email))
    drain()
    client.force_login(staff)
    edited = ("# Answer\n\nUse **Z00.00** ([its page](/codes/icd10cm/Z00.00)). ![pixel](https://t.example/p.gif) "
              "<img src=x onerror=alert(1)> [bad](javascript:alert(2))")
    response = client.post(f"/consults/review/{_pending().pk}/", {"action": "approve", "markdown": edited})
    assert response.status_code == 302
    drain()
    html = relay.one(coder.email).get_body(preferencelist=("html",)).get_content()
    assert "<h3>Answer</h3>" in html and "<h1>Answer" not in html
    assert f'<a href="{SITE.rstrip("/")}/codes/icd10cm/Z00.00">its page</a>' in html
    assert "<img" not in html and "t.example" not in html and "pixel" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and 'href="javascript' not in html


def test_review_by_plan_and_by_site_setting(settings, gateway, relay, coder, staff, client):
    settings.MEDCODE_CONSULT_REVIEW_PLANS = ["paid"]
    coder.plan = "paid"
    coder.save()
    gateway.send(question("Is E11.9 billable?", sender=coder.email))  # confident, but the plan wants review
    drain()
    assert relay.messages == [] and _pending().review_reason == "review for the paid plan"
    client.force_login(staff)
    client.post(f"/consults/review/{_pending().pk}/", {"action": "approve", "markdown": _pending().markdown})
    drain()
    assert "E11.9 is billable" in _text(relay.one(coder.email))
    assert Draft.objects.get().edited is False  # approved as written

    settings.MEDCODE_CONSULT_REVIEW_PLANS = []
    settings.MEDCODE_CONSULT_REVIEW_ALL = True
    gateway.send(question("Is I10 billable?", sender=coder.email))
    drain()
    assert _pending().review_reason == "review of every answer (site setting)"
    assert len(relay.messages) == 1


def test_a_discarded_draft_sends_nothing_and_does_not_count(gateway, relay, coder, staff, client):
    gateway.send(question(UNSURE, sender=coder.email))
    drain()
    draft = _pending()
    assert Inbound.objects.get().counted
    client.force_login(staff)
    response = client.post(f"/consults/review/{draft.pk}/", {"action": "discard",
                                                             "note": "spam; patient John Smith"})
    assert response.status_code == 302
    drain()
    assert relay.messages == []
    draft.refresh_from_db()
    assert draft.decision == "discarded" and draft.reviewer == staff and "John" not in draft.review_note
    inbound = Inbound.objects.get()
    assert inbound.status == "discarded" and not inbound.counted


def test_review_pages_are_for_staff_only(gateway, relay, coder, client):
    gateway.send(question(UNSURE, sender=coder.email))
    drain()
    pk = _pending().pk
    anonymous = client.get("/consults/review/")
    assert anonymous.status_code == 302 and "/account/login/" in anonymous["Location"]
    client.force_login(coder)
    for url in ("/consults/review/", f"/consults/review/{pk}/", "/consults/deliveries/"):
        assert client.get(url).status_code == 403
    assert client.post(f"/consults/review/{pk}/", {"action": "approve", "markdown": "x"}).status_code == 403
    assert _pending().pk == pk and relay.messages == []


@pytest.mark.parametrize("data, status", [
    ({"action": "approve", "markdown": "   "}, 400),
    ({"action": "approve", "markdown": "x" * 20_001}, 400),
    ({"action": "publish", "markdown": "fine"}, 400),
    ({}, 400),
])
def test_bad_review_submissions_are_400_and_send_nothing(data, status, gateway, relay, coder, staff, client):
    gateway.send(question(UNSURE, sender=coder.email))
    drain()
    client.force_login(staff)
    response = client.post(f"/consults/review/{_pending().pk}/", data)
    assert response.status_code == status
    assert _pending().decision == "pending" and relay.messages == []


def test_unknown_draft_is_404(staff, client, consult_settings):
    client.force_login(staff)
    assert client.get("/consults/review/999999/").status_code == 404
    assert client.put("/consults/review/999999/").status_code == 404
