"""Helpers for the email-consult tests: the gateway client, the in-process worker, test mail."""

from __future__ import annotations

import smtplib
import time
from email.message import EmailMessage
from email.utils import make_msgid

from mailsink import Sink, free_port, running_sink  # noqa: F401

CONSULT = "consult@medcode.test"
SITE = "https://medcode.test"


def sink_on(port: int):
    """An aiosmtpd sink on a given port (the relay coming back where it was)."""
    return running_sink(port)


class Gateway:
    def __init__(self, port: int):
        self.port = port

    def send(self, msg: EmailMessage, *, mail_from: str | None = None, to: list[str] | None = None) -> dict:
        """Send through the gateway with smtplib; returns smtplib's refused-recipients dict."""
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as smtp:
            return smtp.send_message(msg, from_addr=mail_from, to_addrs=to)

    def raw(self, data: bytes, mail_from: str, to: list[str]) -> dict:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as smtp:
            return smtp.sendmail(mail_from, to, data)


def drain() -> None:
    """Run every queued task that is due with the real db_worker, then return (batch mode)."""
    from django.core.management import call_command

    call_command("db_worker", batch=True, interval=0.05, startup_delay=False, reload=False, verbosity=0)


def question(text: str, *, sender: str, subject: str = "Coding question", msgid: str | None = None,
             in_reply_to: str | None = None, references: list[str] | None = None, to: str = CONSULT) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = msgid or make_msgid(domain="client.test")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    msg.set_content(text)
    return msg


def wait_for(predicate, timeout: float = 20.0, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(step)
