"""Account mail: rendered from templates, sent through Django's mail backend (SMTP by default).

Inside a view wrapped in `mail_after_response`, mail is queued and sent once the response has
gone out (from the response's close(), which every WSGI server and Django's test client call).
So a form that mails only when an account exists (register, password reset, change of email)
answers just as fast, with the same page, when it does not: the SMTP exchange is not on the
response path. Outside such a view (shell, CLI, tests calling actions) mail is sent at once.
"""

from __future__ import annotations

import functools
import logging
import threading

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from . import throttle

log = logging.getLogger(__name__)
_local = threading.local()

SUBJECTS = {
    "verify": "Confirm your email address for medcode",
    "register_existing": "Someone tried to register with your email address",
    "change_email": "Confirm your new email address for medcode",
    "change_email_taken": "Someone tried to move a medcode account to this address",
    "email_changed": "Your medcode email address was changed",
    "password_changed": "Your medcode password was changed",
    "password_reset": "Reset your medcode password",
    "account_deleted": "Your medcode account was deleted",
}


def site_url(path: str) -> str:
    """Absolute link for a mail: from SITE_URL, never from the request's Host header."""
    return settings.SITE_URL.rstrip("/") + path


def link_lifetime() -> str:
    """MEDCODE_EMAIL_LINK_MAX_AGE in words, for the mails that carry such a link."""
    seconds = settings.MEDCODE_EMAIL_LINK_MAX_AGE
    if seconds >= 86400 and seconds % 86400 == 0:
        n, unit = seconds // 86400, "day"
    elif seconds >= 3600:
        n, unit = round(seconds / 3600), "hour"
    else:
        n, unit = max(1, round(seconds / 60)), "minute"
    return f"{n} {unit}{'s' if n != 1 else ''}"


def build(kind: str, to: str, **context) -> EmailMessage:
    base = {"site_url": settings.SITE_URL.rstrip("/"), "link_lifetime": link_lifetime()}
    body = render_to_string(f"accounts/email/{kind}.txt", {**base, **context})
    return EmailMessage(SUBJECTS[kind], body, settings.DEFAULT_FROM_EMAIL, [to])


def send(kind: str, to: str, **context) -> bool:
    """Queue or send one account mail; False if the recipient's hourly cap dropped it."""
    if not throttle.mail_allowed(to):
        log.warning("account mail %r to one recipient dropped: hourly cap reached", kind)
        return False
    deliver(build(kind, to, **context))
    return True


def deliver(message: EmailMessage) -> None:
    outbox = getattr(_local, "outbox", None)
    if outbox is not None:
        outbox.append(message)
    else:
        _send_now([message])


def _send_now(messages: list[EmailMessage]) -> None:
    for m in messages:
        try:
            m.send()
        except Exception:  # the page already told the user to check their mail; they can ask again
            log.exception("could not send account mail %r", m.subject)


def mail_after_response(view):
    """Send the mail a view queues after its response is delivered; drop it if the view fails."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        previous = getattr(_local, "outbox", None)
        _local.outbox = []
        try:
            response = view(request, *args, **kwargs)
            queued = _local.outbox
        finally:
            _local.outbox = previous
        if queued:
            closers = getattr(response, "_resource_closers", None)
            if closers is None:  # not a Django response we can hook: send now rather than lose it
                _send_now(queued)
            else:
                closers.append(lambda: _send_now(queued))
        return response

    return wrapper
