"""Refusals and failures through the real gateway: every one answered the right way, nothing answered twice."""

from __future__ import annotations

import logging
import smtplib
import time
from contextlib import contextmanager
from email.message import EmailMessage

import pytest
from consultkit import CONSULT, Gateway, drain, free_port, question, sink_on, wait_for
from django.apps import apps

from medcode.consult import actions
from medcode.consult.models import ConsultAddress, DeliveryAttempt, Draft, Inbound, Outbound

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def gateway_with(settings, **overrides):
    """A gateway started after the settings it reads at start (size limit) are changed."""
    from medcode.consult.gateway import controller

    for k, v in overrides.items():
        setattr(settings, k, v)
    ctl = controller("127.0.0.1", free_port())
    ctl.start()
    try:
        yield Gateway(ctl.port)
    finally:
        ctl.stop()
        ctl.handler.executor.shutdown(wait=True)


def _text(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


# --- refused at the SMTP level ---------------------------------------------------------------------

def test_unknown_recipient_is_refused_at_rcpt_with_550(gateway, relay, coder):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
        gateway.send(question("Is I10 billable?", sender=coder.email, to="someone@medcode.test"))
    assert exc.value.recipients["someone@medcode.test"][0] == 550
    # one of ours and one not: ours is accepted, the other refused, the mail stored once
    refused = gateway.send(question("Is I10 billable?", sender=coder.email),
                           to=[CONSULT, "root@medcode.test", "consult@elsewhere.test"])
    assert {k: v[0] for k, v in refused.items()} == {"root@medcode.test": 550, "consult@elsewhere.test": 550}
    assert Inbound.objects.count() == 1


def test_unknown_or_replaced_secret_address_is_refused_with_550(gateway, relay, coder):
    old = actions.secret_address_for(coder)
    actions.new_secret_address(coder)
    for rcpt in (old, "consult+zzzzzzzzzz@medcode.test"):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
            gateway.send(question("Is I10 billable?", sender=coder.email, to=rcpt))
        assert exc.value.recipients[rcpt][0] == 550
    assert Inbound.objects.count() == 0


def test_over_the_size_limit_is_refused_with_552(settings, relay, coder):
    big = question("Is I10 billable?", sender=coder.email)
    big.add_attachment(b"\0" * 300_000, maintype="application", subtype="octet-stream", filename="big.bin")
    data = big.as_bytes(policy=big.policy.clone(linesep="\r\n"))
    with gateway_with(settings, MEDCODE_CONSULT_MAX_BYTES=200_000) as gw:
        # a client that announces SIZE= is refused at MAIL
        with pytest.raises(smtplib.SMTPSenderRefused) as exc:
            gw.send(big)
        assert exc.value.smtp_code == 552
        # one that does not is refused after DATA
        with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
            smtp.ehlo()
            assert smtp.mail(coder.email)[0] == 250
            assert smtp.rcpt(CONSULT)[0] == 250
            assert smtp.data(data)[0] == 552
        # just under the limit is fine
        small = question("Is I10 billable?", sender=coder.email)
        small.add_attachment(b"\0" * 100_000, maintype="application", subtype="octet-stream", filename="ok.bin")
        assert gw.send(small) == {}
    assert Inbound.objects.count() == 1


def test_per_sender_and_per_hour_limits_answer_451(settings, relay, coder):
    with gateway_with(settings, MEDCODE_CONSULT_MAX_PER_SENDER_PER_HOUR=2, MEDCODE_CONSULT_MAX_PER_HOUR=3) as gw:
        for _ in range(2):
            gw.send(question("Is I10 billable?", sender=coder.email))
        with pytest.raises(smtplib.SMTPSenderRefused) as exc:
            gw.send(question("Is I10 billable?", sender=coder.email))
        assert exc.value.smtp_code == 451  # try later: the sending server keeps the mail
        gw.send(question("Is I10 billable?", sender="other@client.test"))
        with pytest.raises(smtplib.SMTPSenderRefused) as exc:  # the hour's total is reached
            gw.send(question("Is I10 billable?", sender="third@client.test"))
        assert exc.value.smtp_code == 451
    assert Inbound.objects.count() == 3


def test_forged_sender_with_failing_authentication_results_is_refused(settings, relay, coder):
    forged = question("Is I10 billable?", sender=coder.email)
    forged["Authentication-Results"] = "mx.medcode.test; spf=fail smtp.mailfrom=client.test; dkim=none"
    honest = question("Is I10 billable?", sender=coder.email)
    honest["Authentication-Results"] = "mx.medcode.test; spf=pass smtp.mailfrom=client.test; dkim=pass"
    # the sender adds a passing header of its own under a failing one written by our server
    sneaky = question("Is I10 billable?", sender=coder.email)
    sneaky["Authentication-Results"] = "mx.medcode.test; dkim=fail header.d=client.test"
    sneaky["Authentication-Results"] = "mx.medcode.test; spf=pass; dkim=pass"
    with gateway_with(settings, MEDCODE_CONSULT_REQUIRE_AUTH_RESULTS=True,
                      MEDCODE_CONSULT_AUTHSERV_ID="mx.medcode.test") as gw:
        for msg in (forged, sneaky):
            with pytest.raises(smtplib.SMTPDataError) as exc:
                gw.send(msg)
            assert exc.value.smtp_code == 550 and b"Authentication-Results" in exc.value.smtp_error
        assert gw.send(honest) == {}
    drain()
    rejected = Inbound.objects.filter(status="rejected")
    assert rejected.count() == 2 and all("fail" in m.detail for m in rejected)
    assert relay.one(coder.email)["In-Reply-To"] == honest["Message-ID"]  # only the honest one answered


def test_failing_authentication_results_are_ignored_when_the_site_does_not_ask(gateway, relay, coder):
    msg = question("Is I10 billable?", sender=coder.email)
    msg["Authentication-Results"] = "mx.medcode.test; spf=fail"
    gateway.send(msg)
    drain()
    assert relay.one(coder.email)


# --- accepted, then refused politely (or silently) -----------------------------------------------

def test_unverified_sender_gets_one_short_reply_with_a_registration_link(gateway, relay, db):
    from medcode.accounts.models import User

    User.objects.create_user("pending@client.test", "a long password 3")  # not verified
    for sender in ("stranger@client.test", "pending@client.test"):
        gateway.send(question("Is E11.9 billable?", sender=sender, subject="Question"))
        gateway.send(question("Is I10 billable?", sender=sender, subject="Again"))
    drain()
    stranger, pending = relay.one("stranger@client.test"), relay.one("pending@client.test")  # one each
    assert "https://medcode.test/account/register/" in _text(stranger)
    assert "verify your address" in _text(pending) and "register" not in _text(pending).lower().split("verify")[0]
    for mail in (stranger, pending):
        assert "E11.9" not in _text(mail) and "billable" not in _text(mail)  # no answer
        assert mail["Subject"] == "Re: Question" and mail["Auto-Submitted"] == "auto-replied"
    assert Draft.objects.count() == 0
    assert Inbound.objects.filter(status="unverified").count() == 4
    assert Outbound.objects.count() == 2


def test_notices_to_unknown_senders_are_capped_site_wide(settings, gateway, relay):
    settings.MEDCODE_CONSULT_NOTICES_PER_HOUR = 3
    for i in range(6):
        gateway.send(question("Is I10 billable?", sender=f"spoofed{i}@victim.test"))
    drain()
    assert len(relay.messages) == 3  # not a backscatter cannon
    assert Inbound.objects.filter(status="unverified").count() == 6


def test_automatic_mail_and_bounces_are_never_answered(gateway, relay, coder):
    auto = question("I am out of the office.", sender=coder.email)
    auto["Auto-Submitted"] = "auto-replied"
    gateway.send(auto)
    gateway.send(question("Delivery failed", sender="notices@client.test"), mail_from="")
    gateway.send(question("Delivery failed", sender="MAILER-DAEMON@client.test"), mail_from="x@client.test")
    drain()
    assert relay.messages == []
    assert sorted(Inbound.objects.values_list("detail", flat=True)) == \
        ["Auto-Submitted: auto-replied", "bounce (empty envelope sender)", "bounce (mailer-daemon)"]
    assert set(Inbound.objects.values_list("status", flat=True)) == {"ignored"} and not Outbound.objects.exists()


def test_over_quota_gets_a_polite_reply_and_no_answer(settings, gateway, relay, coder):
    settings.MEDCODE_CONSULT_QUOTAS = {"free": 1, "paid": 100}
    gateway.send(question("Is E11.9 billable?", sender=coder.email, subject="First"))
    gateway.send(question("Is I10 billable?", sender=coder.email, subject="Second"))
    gateway.send(question("Is J45.909 billable?", sender=coder.email, subject="Third"))
    drain()
    first, second = sorted(relay.to(coder.email), key=lambda m: m["Subject"])
    assert "E11.9 is billable" in _text(first)
    assert second["Subject"] == "Re: Second"
    assert "this month's are used" in _text(second) and "I10 is" not in _text(second)
    assert list(Inbound.objects.order_by("received_at").values_list("status", flat=True)) == \
        ["answered", "over_quota", "over_quota"]
    assert Draft.objects.count() == 1 and actions.used_this_month(coder) == 1
    coder.plan = "paid"
    coder.save()
    gateway.send(question("Is I10 billable?", sender=coder.email, subject="Paid now"))
    drain()
    assert Inbound.objects.latest("received_at").status == "answered"


def test_secret_address_answers_the_account_whatever_the_from(gateway, relay, coder):
    secret = actions.secret_address_for(coder)
    gateway.send(question("Is I10 billable?", sender="jane.home@elsewhere.test", to=secret))
    drain()
    reply = relay.one(coder.email)  # to the account's address, not to the From
    assert relay.to("jane.home@elsewhere.test") == []
    token = ConsultAddress.objects.get(user=coder).token
    assert f"consult+{token}@medcode.test" in reply["From"]  # replies keep the secret address
    inbound = Inbound.objects.get()
    assert inbound.secret_address and inbound.recipient == CONSULT and token not in inbound.recipient


def test_plain_address_refused_when_the_site_requires_secret_addresses(settings, gateway, relay, coder):
    settings.MEDCODE_CONSULT_REQUIRE_SECRET_ADDRESS = True
    gateway.send(question("Is I10 billable?", sender=coder.email))
    gateway.send(question("Is I10 billable?", sender=coder.email, to=actions.secret_address_for(coder)))
    drain()
    notice, answer = sorted(relay.to(coder.email), key=lambda m: "personal consult address" in _text(m),
                            reverse=True)
    assert "personal consult address" in _text(notice) and "I10 is" not in _text(notice)
    assert "I10 is billable" in _text(answer)


# --- odd mail that is still answered ---------------------------------------------------------------

def test_malformed_mime_is_answered(gateway, relay, coder):
    raw = (f"From: {coder.email}\r\nTo: {CONSULT}\r\nSubject: broken\r\nMessage-ID: <broken@client.test>\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\n--zzz\r\nContent-Type: text/plain\r\n\r\n"
           "Is I10 billable?\r\n--zzz\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           "!!!not base64!!!\r\n").encode()
    gateway.raw(raw, coder.email, [CONSULT])
    drain()
    text = _text(relay.one(coder.email))
    assert "I10 is billable" in text and "1 attachment" in text
    assert "multipart boundary guessed" in Inbound.objects.get().defects


def test_mail_with_only_an_attachment_gets_a_no_question_reply(gateway, relay, coder):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = coder.email, CONSULT, "Re: see attached"
    msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="q.pdf")
    gateway.send(msg)
    drain()
    text = _text(relay.one(coder.email))
    assert "could not find a question" in text and "do not open attachments" in text
    assert Inbound.objects.get().status == "no_question" and not Inbound.objects.get().counted


def test_a_10_mb_attachment_is_accepted_not_read_and_the_reply_says_so(gateway, relay, coder):
    msg = question("Is E11.9 billable? The chart is attached.", sender=coder.email)
    payload = b"Patient John Smith " * (10 * 1024 * 1024 // 19)
    msg.add_attachment(payload, maintype="application", subtype="pdf", filename="john_smith_chart.pdf")
    assert gateway.send(msg) == {}
    drain()
    text = _text(relay.one(coder.email))
    assert "E11.9 is billable" in text
    assert "1 attachment (application/pdf, 10.0" in text and "do not open attachments" in text
    inbound = Inbound.objects.get()
    assert inbound.attachments == [{"type": "application/pdf", "size": len(payload)}]
    assert inbound.size > 13_000_000  # base64 on the wire
    assert "John" not in inbound.body and "john_smith" not in str(inbound.__dict__)


def test_html_only_mail_is_answered(gateway, relay, coder):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = coder.email, CONSULT, "html"
    msg.set_content("<html><body><p>Is <b>E11.9</b> billable?</p><blockquote>old thread</blockquote></body></html>",
                    subtype="html")
    gateway.send(msg)
    drain()
    assert "E11.9 is billable" in _text(relay.one(coder.email))
    inbound = Inbound.objects.get()
    assert (inbound.body, inbound.source) == ("Is E11.9 billable?", "html")


@pytest.mark.parametrize("charset", ["iso-8859-1", "windows-1252", "utf-16"])
def test_non_utf8_mail_is_answered(charset, gateway, relay, coder):
    text = "Grüße: is E11.9 billable – für 2026?" if charset != "iso-8859-1" else "Grüße: is E11.9 billable für 2026?"
    body = text.encode(charset)
    cte = "base64" if charset == "utf-16" else "8bit"
    if cte == "base64":
        body = __import__("base64").encodebytes(body)
    raw = (f"From: {coder.email}\r\nTo: {CONSULT}\r\nSubject: =?{charset}?q?Gr=FC=DFe?=\r\n" if charset != "utf-16"
           else f"From: {coder.email}\r\nTo: {CONSULT}\r\nSubject: Gruesse\r\n").encode() + \
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n"\
        .encode() + body + b"\r\n"
    gateway.raw(raw, coder.email, [CONSULT])
    drain()
    assert "E11.9 is billable" in _text(relay.one(coder.email))
    assert Inbound.objects.get().body == text


def test_duplicate_message_id_is_one_consult_and_one_reply(gateway, relay, coder):
    msg = question("Is E11.9 billable?", sender=coder.email, msgid="<dup@client.test>")
    assert gateway.send(msg) == {}
    assert gateway.send(msg) == {}  # accepted (250) so the sender stops retrying, but not stored again
    drain()
    assert gateway.send(msg) == {}  # again after the reply went out
    drain()
    assert len(relay.to(coder.email)) == 1
    assert Inbound.objects.count() == 1 and Outbound.objects.count() == 1
    assert actions.process(Inbound.objects.get().pk) == "not claimed"  # processing twice does nothing


# --- the relay down for a while ---------------------------------------------------------------------

def test_relay_down_for_a_while_the_reply_goes_once_it_is_back(settings, gateway, coder, staff, client):
    port = free_port()  # nothing listens here yet
    settings.EMAIL_PORT = port
    settings.MEDCODE_CONSULT_RETRY_BASE = 0.4
    gateway.send(question("Is E11.9 billable?", sender=coder.email, msgid="<down@client.test>"))
    drain()  # processed; the first send fails
    out = Outbound.objects.get()
    assert (out.status, out.attempts) == ("pending", 1) and "Connection" in out.last_error
    drain()  # the retry is not due yet: nothing happens
    assert Outbound.objects.get().attempts == 1

    client.force_login(staff)  # failures are visible to staff
    page = client.get("/consults/deliveries/?status=pending").content.decode()
    assert "Connection" in page and f"{out.pk}" in page

    time.sleep(0.5)
    drain()  # second try, still down
    out.refresh_from_db()
    assert (out.status, out.attempts) == ("pending", 2)
    assert out.next_attempt_at.timestamp() - time.time() > 0.4  # backoff doubled
    with sink_on(port) as relay:  # the relay is back
        wait_for(lambda: Outbound.objects.get().next_attempt_at.timestamp() < time.time(), timeout=5)
        drain()
        assert actions.sweep() == {"processed": 0, "sent": 0, "send_failed": 0}
        drain()
        reply = relay.one(coder.email)
    assert reply["In-Reply-To"] == "<down@client.test>"
    out.refresh_from_db()
    assert (out.status, out.attempts) == ("sent", 3)
    assert list(DeliveryAttempt.objects.filter(outbound=out).order_by("number").values_list("ok", flat=True)) == \
        [False, False, True]
    assert actions.deliver(out.pk) == "not claimed"


def test_permanent_refusal_fails_at_once_and_staff_can_retry(settings, gateway, coder, staff, client):
    from aiosmtpd.controller import Controller

    class Refusing:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            return "550 5.1.1 mailbox unavailable"

    ctl = Controller(Refusing(), hostname="127.0.0.1", port=free_port())
    ctl.start()
    try:
        settings.EMAIL_PORT = ctl.port
        gateway.send(question("Is E11.9 billable?", sender=coder.email))
        drain()
    finally:
        ctl.stop()
    out = Outbound.objects.get()
    assert (out.status, out.attempts) == ("failed", 1) and "550" in out.last_error
    client.force_login(staff)
    assert "mailbox unavailable" in client.get("/consults/deliveries/?status=failed").content.decode()
    with sink_on(free_port()) as relay:
        settings.EMAIL_PORT = relay.port
        response = client.post(f"/consults/deliveries/{out.pk}/retry/")
        assert response.status_code == 302
        drain()
        assert relay.one(coder.email)
    assert Outbound.objects.get().status == "sent"
    assert client.post(f"/consults/deliveries/{out.pk}/retry/").status_code == 302  # not failed: refused politely
    assert Outbound.objects.get().status == "sent"


# --- PHI -----------------------------------------------------------------------------------------

PHI_QUESTION = ("Patient John Smith, DOB 03/14/1962, MRN 00451234, phone (555) 123-4567, lives at 12 Oak Street. "
                "Is E11.9 billable?")
PHI_VALUES = ["John", "Smith", "03/14/1962", "00451234", "123-4567", "Oak Street"]


def _all_stored_text() -> str:
    """Every row of every model of the consult app and the task queue, as text."""
    chunks = []
    for label in ("consult", "django_tasks_database"):
        for model in apps.get_app_config(label).get_models():
            for row in model.objects.values():
                chunks.append(repr(row))
    return "\n".join(chunks)


def test_phi_is_redacted_before_it_is_stored_or_logged(gateway, relay, coder, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="mail.log")  # aiosmtpd logs every DATA line at DEBUG
    msg = question(PHI_QUESTION, sender=coder.email, subject="Pt John Smith DOB 03/14/1962")
    gateway.send(msg)
    drain()
    reply = _text(relay.one(coder.email))
    assert "E11.9 is billable" in reply
    assert "names, dates of birth, phone numbers, record numbers (MRN) and street addresses" not in reply
    assert "We removed what looked like" in reply and "Please do not send protected health information" in reply

    inbound = Inbound.objects.get()
    assert inbound.body.startswith("Patient [name], DOB [date of birth], MRN [MRN], phone [phone], lives at [address]")
    assert inbound.subject == "Pt [name] DOB [date of birth]"
    assert set(inbound.phi_kinds) == {"name", "dob", "mrn", "phone", "address"}
    stored = _all_stored_text()
    logged = caplog.text
    assert "consult mail stored as inbound" in logged  # the logs were captured
    for value in PHI_VALUES:
        assert value not in stored, value
        assert value not in logged, value
