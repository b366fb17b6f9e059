"""As a new user would: mail first (and be told to register), register on the site, confirm the address
from the mail, email "Is E11 billable?" from a mail client pointed at the gateway, and read the reply."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from consultkit import CONSULT, drain

pytestmark = pytest.mark.django_db(transaction=True)
ME = "new.coder@client.test"


def _text(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def test_register_verify_then_ask_by_mail(gateway, relay, client):
    import smtplib
    from email.message import EmailMessage

    def mail_client(body: str, subject: str) -> None:  # what a mail program does: SMTP to the configured server
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = f"New Coder <{ME}>", CONSULT, subject
        msg["Message-ID"] = f"<{subject.replace(' ', '-')}@client.test>"
        msg.set_content(body)
        with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as smtp:
            smtp.send_message(msg)

    mail_client("Is E11 billable?", "first try")
    drain()
    notice = relay.one(ME)
    register_url = re.search(r"https://medcode\.test(/account/register/)", _text(notice)).group(1)
    relay.clear()

    response = client.post(register_url, {"email": ME, "password1": "correct horse 77", "password2": "correct horse 77"})
    assert response.status_code == 302
    verify = relay.wait_for(ME)
    link = re.search(r"https?://\S+/account/verify/\S+", _text(verify)).group(0)
    assert client.get(urlparse(link).path).status_code in (200, 302)
    relay.clear()

    mail_client("Is E11 billable?", "E11")
    drain()
    reply = relay.one(ME)
    text = _text(reply)
    assert reply["Subject"] == "Re: E11" and reply["In-Reply-To"] == "<E11@client.test>"
    assert "E11 is not billable" in text and "https://medcode.test/codes/icd10cm/E11" in text
    assert "E11.9" in text or "E11.00" in text  # what to report instead

    client.login(username=ME, password="correct horse 77")
    page = client.get("/consults/").content.decode()
    assert "E11" in page and "answered" in page
