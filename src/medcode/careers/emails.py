"""Job board mail, rendered from careers/email/*.txt.

`send` queues through accounts.emails.deliver, so mail from a view wrapped in
mail_after_response goes out after the response. The daily digest is sent at once by the task
(`send_now`), which needs to know whether the SMTP server took it before recording it as sent.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from medcode.accounts import emails as account_emails

site_url = account_emails.site_url


def one_line(text: str, limit: int = 150) -> str:
    """For a Subject header: no line breaks (Django refuses them), not too long."""
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build(kind: str, to: str, subject: str, *, reply_to: str | None = None, headers: dict | None = None,
          **context) -> EmailMessage:
    body = render_to_string(f"careers/email/{kind}.txt", {"site_url": settings.SITE_URL.rstrip("/"), **context})
    return EmailMessage(one_line(subject), body, settings.DEFAULT_FROM_EMAIL, [to],
                        reply_to=[reply_to] if reply_to else None, headers=headers or {})


def send(kind: str, to: str, subject: str, **kwargs) -> None:
    account_emails.deliver(build(kind, to, subject, **kwargs))


def send_now(message: EmailMessage) -> bool:
    try:
        message.send()
    except Exception:  # noqa: BLE001  the task tries again next time; it logs and goes on
        import logging

        logging.getLogger(__name__).exception("could not send %r", message.subject)
        return False
    return True
