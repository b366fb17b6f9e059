"""End to end on loopback: smtplib -> the gateway -> the database worker -> the assistant -> the relay sink."""

from __future__ import annotations

import pytest
from consultkit import CONSULT, SITE, drain, question

from medcode.assistant import Turn, ask
from medcode.consult.models import Consult, DeliveryAttempt, Draft, Inbound, Outbound

pytestmark = pytest.mark.django_db(transaction=True)


def _text(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def _html(msg) -> str:
    return msg.get_body(preferencelist=("html",)).get_content()


def test_question_answered_in_the_same_thread_with_the_assistants_answer(gateway, relay, coder, book):
    q = question("Is E11.9 billable?", sender=f"Jane Coder <{coder.email}>", subject="Billable?",
                 msgid="<q1@client.test>", references=["<older@client.test>"])
    assert gateway.send(q) == {}
    inbound = Inbound.objects.get()
    assert inbound.status == "received" and inbound.sender == coder.email and inbound.body == "Is E11.9 billable?"
    drain()

    reply = relay.one(coder.email)
    assert reply["Subject"] == "Re: Billable?"
    assert reply["In-Reply-To"] == "<q1@client.test>"
    assert reply["References"].split() == ["<older@client.test>", "<q1@client.test>"]
    assert reply["Auto-Submitted"] == "auto-replied"
    assert CONSULT in reply["From"]
    out = Outbound.objects.get()
    assert reply["Message-ID"] == out.message_id and out.status == "sent" and out.attempts == 1

    expected = ask(book, "Is E11.9 billable?")
    text, html = _text(reply), _html(reply)
    first_line = expected.markdown.splitlines()[0]
    assert first_line in text  # the assistant's own words
    assert expected.citations, "the assistant cites its source"
    for c in expected.citations:
        assert f"{SITE}{c.url}" in text and f'href="{SITE}{c.url}"' in html
    for code in expected.codes:
        assert code.code in text and ("valid" if code.valid else "NOT valid") in text
    assert "not legal or billing advice" in text and "protected health information" in text
    assert "<strong>Yes" in html or "<strong>No" in html  # the markdown rendered, not pasted
    assert "](/codes" not in text  # no site-relative links left in a mail

    inbound.refresh_from_db()
    assert inbound.status == "answered" and inbound.counted and inbound.consult.user == coder
    draft = Draft.objects.get()
    assert draft.decision == "auto" and draft.confident and draft.context["codes"]
    assert DeliveryAttempt.objects.filter(outbound=out, ok=True).count() == 1


def test_follow_up_in_the_thread_uses_the_context(gateway, relay, coder, book):
    gateway.send(question("Is E11.9 billable?", sender=coder.email, subject="Diabetes", msgid="<t1@client.test>"))
    drain()
    first = relay.one(coder.email)
    relay.clear()

    follow = question("What are its parent code and its neighbours?", sender=coder.email, subject=first["Subject"],
                      msgid="<t2@client.test>", in_reply_to=first["Message-ID"],
                      references=["<t1@client.test>", first["Message-ID"]])
    gateway.send(follow)
    drain()
    second = relay.one(coder.email)
    assert second["In-Reply-To"] == "<t2@client.test>"
    assert second["Subject"] == "Re: Diabetes"  # not "Re: Re: Diabetes"
    assert Consult.objects.count() == 1
    consult = Consult.objects.get()
    assert [m.message_id for m in consult.inbound.order_by("received_at")] == ["<t1@client.test>", "<t2@client.test>"]

    # what the assistant says with the thread as history, and without it
    first_context = Draft.objects.get(inbound__message_id="<t1@client.test>").context
    with_history = ask(book, "What are its parent code and its neighbours?",
                       history=[Turn("Is E11.9 billable?", first_context)])
    alone = ask(book, "What are its parent code and its neighbours?")
    assert with_history.markdown != alone.markdown  # the context matters for this question
    assert with_history.markdown.splitlines()[0] in _text(second)
    assert "E11" in with_history.markdown


def test_a_new_subject_without_references_starts_a_new_thread(gateway, relay, coder):
    gateway.send(question("Is E11.9 billable?", sender=coder.email, subject="One"))
    gateway.send(question("Is I10 billable?", sender=coder.email, subject="Two"))
    drain()
    assert Consult.objects.filter(user=coder).count() == 2
    assert len(relay.to(coder.email)) == 2


def test_question_in_the_subject_only(gateway, relay, coder):
    msg = question("", sender=coder.email, subject="Is E11 billable?")
    gateway.send(msg)
    drain()
    reply = relay.one(coder.email)
    assert "E11 is not billable" in _text(reply)
