"""Optional IMAP polling (imap-tools) for sites that cannot take mail on port 25: the same intake.

Each new (unseen) message no larger than MEDCODE_CONSULT_MAX_BYTES is stored through
actions.intake, then marked seen (or deleted with MEDCODE_CONSULT_IMAP_DELETE); a repeated
Message-ID is recognised there, so a message fetched twice is answered once. A larger message,
or one from a sender over the gateway's hourly limits, is marked seen and recorded in the log only;
one that cannot be stored stays unseen for the next poll.
"""

from __future__ import annotations

import logging

from django.conf import settings

from . import actions

log = logging.getLogger("medcode.consult.imap")


def mailbox():
    from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted

    kind = settings.MEDCODE_CONSULT_IMAP_SECURITY.strip().lower()
    cls = {"ssl": MailBox, "starttls": MailBoxStartTls, "none": MailBoxUnencrypted}.get(kind)
    if cls is None:
        raise ValueError(f"MEDCODE_CONSULT_IMAP_SECURITY must be ssl, starttls or none, not {kind!r}")
    return cls(settings.MEDCODE_CONSULT_IMAP_HOST, settings.MEDCODE_CONSULT_IMAP_PORT, timeout=30)


def poll(limit: int = 100) -> dict:
    from imap_tools import AND, MailMessageFlags

    if not settings.MEDCODE_CONSULT_IMAP_HOST:
        return {"skipped": "MEDCODE_CONSULT_IMAP_HOST is not set"}
    stored = repeated = too_large = failed = limited = 0
    rcpt = actions.configured()[0]
    with mailbox().login(settings.MEDCODE_CONSULT_IMAP_USER, settings.MEDCODE_CONSULT_IMAP_PASSWORD,
                         initial_folder=settings.MEDCODE_CONSULT_IMAP_FOLDER) as mb:
        heads = list(mb.fetch(AND(seen=False), headers_only=True, mark_seen=False, limit=limit))
        for head in heads:
            if not head.uid:  # a server answer imap-tools could not pair with a UID: next poll
                continue
            if head.size_rfc822 and head.size_rfc822 > settings.MEDCODE_CONSULT_MAX_BYTES:
                log.warning("IMAP message uid %s is larger than MEDCODE_CONSULT_MAX_BYTES: skipped", head.uid)
                mb.flag(head.uid, MailMessageFlags.SEEN, True)
                too_large += 1
                continue
            for msg in mb.fetch(uid_list=[head.uid], mark_seen=False):
                recipients = [a for a in (*msg.to, *msg.cc, *msg.headers.get("delivered-to", ()))
                              if actions.addresses.match(a, actions.configured())] or [rcpt]
                refusal = actions.sender_refusal(msg.from_ or "")
                if refusal:  # the gateway's hourly limits apply here too; the mail is not kept
                    log.warning("IMAP message uid %s not taken: %s", head.uid, refusal)
                    limited += 1
                    continue
                try:
                    result = actions.intake(bytes(msg.obj), mail_from=msg.from_ or "", rcpts=recipients, via="imap")
                except Exception as exc:  # the message stays unseen for the next poll; its text is not logged
                    log.error("IMAP message uid %s could not be stored (%s)", head.uid, type(exc).__name__)
                    failed += 1
                    break
                repeated += result.duplicate
                stored += not result.duplicate
            else:
                if settings.MEDCODE_CONSULT_IMAP_DELETE:
                    mb.delete(head.uid)
                else:
                    mb.flag(head.uid, MailMessageFlags.SEEN, True)
    result = {"stored": stored, "repeated": repeated, "too_large": too_large}
    if failed:
        result["failed"] = failed
    if limited:
        result["limited"] = limited
    return result
