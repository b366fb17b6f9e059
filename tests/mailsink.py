"""An aiosmtpd sink on loopback: the tests' real SMTP peer for the mail the site sends."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from contextlib import contextmanager


class Sink:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.lock = threading.Lock()
        self.port = 0

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"

    def clear(self):
        with self.lock:
            self.messages.clear()

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self.lock:
            return [m for rcpt, m in self.messages if address in rcpt]

    def one(self, address: str) -> email.message.EmailMessage:
        got = self.to(address)
        assert len(got) == 1, f"expected one message to {address}, got {[m['Subject'] for m in got]}"
        return got[0]

    def wait_for(self, address: str, timeout: float = 10.0) -> email.message.EmailMessage:
        """The first message to `address`. The site sends mail after its response has gone out,
        so a browser is usually on the next page before the message arrives."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.to(address)
            if got:
                return got[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no mail to {address} within {timeout:.0f}s")
            time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def send_mail_to(sink: Sink, settings, site_url: str = "http://testserver") -> Sink:
    """Point Django's SMTP backend (pytest-django's `settings`) at the sink, emptied."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.SITE_URL = site_url
    sink.clear()
    return sink


@contextmanager
def running_sink(port: int | None = None):
    """A started sink (its port in .port; a free one unless given), stopped on exit."""
    from aiosmtpd.controller import Controller

    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port() if port is None else port)
    controller.start()
    sink.port = controller.port
    try:
        yield sink
    finally:
        controller.stop()
