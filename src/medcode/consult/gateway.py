"""`medcode smtpd`: the inbound SMTP gateway (aiosmtpd).

Refuses at RCPT (550) every address that is not a consult address or a live secret address,
at MAIL (451, try later) senders over the hourly limits, over the size limit (552, aiosmtpd's
data_size_limit, also for a too-large SIZE= at MAIL), and at the end of DATA (550) mail whose
Authentication-Results fail when the site requires them. Accepted mail is parsed, redacted and
stored (actions.intake) before the 250 goes out, so an accepted mail is never lost; a storage
failure answers 451 and the sending server tries again. The ORM is sync: each hook runs it in a
worker thread and closes that thread's connections afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connections

from . import actions, addresses

log = logging.getLogger("medcode.consult.gateway")
MAX_RECIPIENTS = 20


class _NoMailText(logging.Filter):
    """aiosmtpd logs each DATA line at DEBUG and each RCPT at INFO: never the mail's text, never a +token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("DATA readline"):
            return False
        try:
            message = record.getMessage()
        except Exception:
            return True
        masked = addresses.mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def quiet_mail_log() -> None:
    logger = logging.getLogger("mail.log")
    if not any(isinstance(f, _NoMailText) for f in logger.filters):
        logger.addFilter(_NoMailText())


class Handler:
    def __init__(self, workers: int = 4):
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="consult-smtpd")

    async def _db(self, fn, *args, **kwargs):
        def run():
            try:
                return fn(*args, **kwargs)
            finally:
                connections.close_all()

        return await asyncio.get_running_loop().run_in_executor(self.executor, run)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        try:
            refusal = await self._db(actions.sender_refusal, address)
        except Exception:
            log.exception("sender check failed")
            return "451 4.3.0 Temporary failure, please try again later"
        if refusal:
            log.info("MAIL refused: %s", refusal)
            return f"451 4.7.1 {refusal.capitalize()}: please try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        try:
            match = await self._db(actions.recipient, address)
        except Exception:
            log.exception("recipient check failed")
            return "451 4.3.0 Temporary failure, please try again later"
        if match is None:
            return "550 5.1.1 Recipient address rejected: not a consult address here"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            result = await self._db(actions.intake, raw, mail_from=envelope.mail_from or "",
                                    rcpts=list(envelope.rcpt_tos), via="smtp")
        except Exception as exc:  # nothing stored: the sending server keeps the mail and retries
            log.error("could not store an accepted mail (%s); answered 451", type(exc).__name__)
            return "451 4.3.0 Temporary failure, please try again later"
        if result.refused:
            return f"550 5.7.1 Message refused: {result.refused}"
        return "250 2.0.0 Message accepted"


def controller(host: str, port: int):
    from aiosmtpd.controller import Controller

    quiet_mail_log()
    return Controller(Handler(), hostname=host, port=port, data_size_limit=settings.MEDCODE_CONSULT_MAX_BYTES,
                      enable_SMTPUTF8=True, server_hostname=addresses.split(actions.configured()[0])[1] or None,
                      ident="medcode consult gateway")


def serve(host: str, port: int, stop: threading.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or `stop` is set)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    ctl = controller(host, port)
    ctl.start()
    log.warning("consult gateway listening on %s:%s for %s", host, ctl.port, ", ".join(actions.configured()))
    try:
        stop.wait()
    finally:
        ctl.stop()
