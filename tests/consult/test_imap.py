"""IMAP polling against a real IMAP server on loopback (pymap, in-memory backend): the same intake as SMTP."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from consultkit import CONSULT, drain, free_port, question

from medcode.consult import imap
from medcode.consult.models import Inbound
from medcode.consult.tasks import poll_imap

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "imap secret 1"


@pytest.fixture
def imap_server(consult_settings):
    pymap = Path(sys.executable).with_name("pymap")
    if not pymap.exists() and not shutil.which("pymap"):
        pytest.skip("pymap (the test IMAP server) is not installed: pip install -e '.[test]'")
    port = free_port()
    proc = subprocess.Popen([str(pymap if pymap.exists() else shutil.which("pymap")), "--host", "127.0.0.1",
                             "--port", str(port), "--no-tls", "dict", "--demo-user", CONSULT,
                             "--demo-password", PASSWORD], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"pymap did not start: {proc.stderr.read().decode()[-500:]}")
            time.sleep(0.1)
    consult_settings.MEDCODE_CONSULT_IMAP_HOST = "127.0.0.1"
    consult_settings.MEDCODE_CONSULT_IMAP_PORT = port
    consult_settings.MEDCODE_CONSULT_IMAP_SECURITY = "none"
    consult_settings.MEDCODE_CONSULT_IMAP_USER = CONSULT
    consult_settings.MEDCODE_CONSULT_IMAP_PASSWORD = PASSWORD
    consult_settings.MEDCODE_CONSULT_IMAP_FOLDER = "INBOX"
    consult_settings.MEDCODE_CONSULT_IMAP_DELETE = False
    try:
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _deliver(*messages: EmailMessage) -> None:
    """What the hosted mailbox's own mail server does: put mail in the INBOX."""
    with imap.mailbox().login(CONSULT, PASSWORD) as mb:
        for m in messages:
            mb.append(m.as_bytes(), "INBOX", flag_set=[])


def _unseen() -> list[str]:
    from imap_tools import AND

    with imap.mailbox().login(CONSULT, PASSWORD) as mb:
        return mb.uids(AND(seen=False))


def _text(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def test_polled_mail_is_answered_like_smtp_mail(settings, imap_server, relay, coder):
    html = EmailMessage()
    html["From"], html["To"], html["Subject"], html["Message-ID"] = coder.email, CONSULT, "html", "<h1@client.test>"
    html.set_content("<p>Is <b>I10</b> billable?</p>", subtype="html")
    plain = question("Is E11.9 billable? Patient John Smith, MRN 12345678.", sender=coder.email, msgid="<p1@client.test>")
    big = question("Is J45.909 billable?", sender=coder.email, msgid="<big@client.test>")
    big.add_attachment(b"\0" * 200_000, maintype="application", subtype="octet-stream", filename="big.bin")
    settings.MEDCODE_CONSULT_MAX_BYTES = 150_000
    _deliver(plain, html, plain, big)  # the same message twice, and one too large

    assert poll_imap.call() == {"stored": 2, "repeated": 1, "too_large": 1}
    assert _unseen() == []  # everything fetched is marked seen
    assert poll_imap.call() == {"stored": 0, "repeated": 0, "too_large": 0}
    drain()
    replies = {m["In-Reply-To"]: _text(m) for m in relay.to(coder.email)}
    assert set(replies) == {"<p1@client.test>", "<h1@client.test>"}
    assert "E11.9 is billable" in replies["<p1@client.test>"] and "I10 is billable" in replies["<h1@client.test>"]
    stored = Inbound.objects.get(message_id="<p1@client.test>")
    assert stored.via == "imap" and "John" not in stored.body and "12345678" not in stored.body
    assert Inbound.objects.count() == 2


def test_imap_and_smtp_deliveries_of_one_message_are_answered_once(imap_server, gateway, relay, coder):
    msg = question("Is E11.9 billable?", sender=coder.email, msgid="<both@client.test>")
    gateway.send(msg)
    _deliver(msg)
    assert imap.poll() == {"stored": 0, "repeated": 1, "too_large": 0}
    drain()
    assert len(relay.to(coder.email)) == 1


def test_hourly_sender_limit_applies_to_polled_mail(settings, imap_server, relay, coder):
    settings.MEDCODE_CONSULT_MAX_PER_SENDER_PER_HOUR = 1
    _deliver(question("Is I10 billable?", sender=coder.email), question("Is E11.9 billable?", sender=coder.email))
    assert imap.poll() == {"stored": 1, "repeated": 0, "too_large": 0, "limited": 1}
    assert _unseen() == [] and Inbound.objects.count() == 1


def test_delete_after_fetch(settings, imap_server, relay, coder):
    settings.MEDCODE_CONSULT_IMAP_DELETE = True
    _deliver(question("Is I10 billable?", sender=coder.email))
    assert imap.poll()["stored"] == 1
    with imap.mailbox().login(CONSULT, PASSWORD) as mb:
        assert mb.uids() == []


def test_bad_imap_settings_fail_clearly(settings, imap_server):
    from imap_tools.errors import MailboxLoginError

    settings.MEDCODE_CONSULT_IMAP_PASSWORD = "wrong"
    with pytest.raises(MailboxLoginError):
        imap.poll()
    settings.MEDCODE_CONSULT_IMAP_SECURITY = "tls-please"
    with pytest.raises(ValueError, match="MEDCODE_CONSULT_IMAP_SECURITY"):
        imap.poll()
    settings.MEDCODE_CONSULT_IMAP_HOST = ""
    assert imap.poll() == {"skipped": "MEDCODE_CONSULT_IMAP_HOST is not set"}


def test_nothing_listening_is_an_error_not_a_hang(settings, consult_settings):
    settings.MEDCODE_CONSULT_IMAP_HOST, settings.MEDCODE_CONSULT_IMAP_PORT = "127.0.0.1", free_port()
    settings.MEDCODE_CONSULT_IMAP_SECURITY = "none"
    with pytest.raises(OSError):
        imap.poll()
