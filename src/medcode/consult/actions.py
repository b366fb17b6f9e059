"""Every state change of a consult: intake, processing, review, sending, retries, sweeping.

The gateway, the IMAP poller, the tasks and the views call these functions and nothing else.
Exactly-once rests on three things: a mail is stored once per (sender, Message-ID); a mail has
at most one reply (Outbound.inbound is one-to-one); and work is claimed with one conditional
UPDATE whose lease expires, so a killed worker's claim is picked up again and two workers never
hold the same claim at once. Logs carry ids and kinds, never the mail's text.
"""

from __future__ import annotations

import logging
import re
import secrets
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from email.utils import formataddr, make_msgid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from . import addresses, authres, mailparse, phi
from .models import ConsultAddress, Consult, DeliveryAttempt, Draft, Inbound, Outbound

log = logging.getLogger("medcode.consult")

DISPLAY_NAME = "medcode consult"
NOTICE_KINDS = (Outbound.Kind.UNVERIFIED, Outbound.Kind.OVER_QUOTA, Outbound.Kind.SECRET_ONLY)
_SUBJECT_PREFIX = re.compile(r"^\s*((re|aw|sv|fw|fwd|wg|tr)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


class ConsultError(Exception):
    """A request the caller can fix (shown to staff or users as is)."""


# --- addresses --------------------------------------------------------------------------------

def configured() -> list[str]:
    return list(settings.MEDCODE_CONSULT_ADDRESS)


def recipient(address: str) -> addresses.Match | None:
    """The consult address a RCPT is for, or None (refused with 550). A +token must be a live one."""
    m = addresses.match(address, configured())
    if m and m.token and not ConsultAddress.objects.filter(token=m.token).exists():
        return None
    return m


def secret_address_for(user) -> str:
    """The user's consult+<token>@domain address (created on first use)."""
    record = ConsultAddress.objects.filter(user=user).first()
    if record is None:
        try:
            with transaction.atomic():
                record = ConsultAddress.objects.create(user=user, token=_new_token())
        except IntegrityError:  # created by a concurrent request
            record = ConsultAddress.objects.get(user=user)
    return addresses.secret_address(configured()[0], record.token)


def new_secret_address(user) -> str:
    """A fresh token: the old secret address stops working at once (RCPT refused)."""
    ConsultAddress.objects.update_or_create(user=user, defaults={"token": _new_token(), "created": timezone.now()})
    return secret_address_for(user)


def _new_token() -> str:
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"  # lower case: some servers lower-case local parts
    return "".join(secrets.choice(alphabet) for _ in range(20))


# --- limits -----------------------------------------------------------------------------------

def sender_refusal(mail_from: str, now: datetime | None = None) -> str | None:
    """Why the gateway should not take mail from `mail_from` now (per sender, per hour), or None."""
    since = (now or timezone.now()) - timedelta(hours=1)
    if Inbound.objects.filter(received_at__gte=since).count() >= settings.MEDCODE_CONSULT_MAX_PER_HOUR:
        return "too much mail this hour"
    sender = (mail_from or "").strip().lower()
    if sender and Inbound.objects.filter(envelope_from=sender, received_at__gte=since).count() \
            >= settings.MEDCODE_CONSULT_MAX_PER_SENDER_PER_HOUR:
        return "too much mail from this sender this hour"
    return None


def month_start(now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    return now.astimezone(dt_timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def quota_for(user) -> int | None:
    quotas = settings.MEDCODE_CONSULT_QUOTAS
    return quotas.get(user.plan, quotas.get("free"))


def used_this_month(user, now: datetime | None = None) -> int:
    return Inbound.objects.filter(user=user, counted=True, received_at__gte=month_start(now)).count()


def _notice_allowed(address: str) -> bool:
    """Notices go to addresses we cannot trust: one per address per NOTICE_HOURS and a site-wide hourly cap,
    so forged senders cannot turn the gateway into a backscatter cannon."""
    now = timezone.now()
    recent = Outbound.objects.filter(kind__in=NOTICE_KINDS)
    if recent.filter(created__gte=now - timedelta(hours=1)).count() >= settings.MEDCODE_CONSULT_NOTICES_PER_HOUR:
        return False
    return not recent.filter(to_address=address,
                             created__gte=now - timedelta(hours=settings.MEDCODE_CONSULT_NOTICE_HOURS)).exists()


# --- intake (gateway and IMAP) ------------------------------------------------------------------

@dataclass(frozen=True)
class IntakeResult:
    inbound_id: int | None
    status: str
    duplicate: bool = False
    refused: str = ""  # why it is refused (Authentication-Results), for the SMTP answer


def intake(raw: bytes, *, mail_from: str, rcpts: list[str], via: str = "smtp") -> IntakeResult:
    """Parse, redact and store one accepted mail, then queue its processing. The raw mail is not kept."""
    parsed = mailparse.parse(raw)
    matches = [m for m in (addresses.match(r, configured()) for r in rcpts) if m]
    match = next((m for m in matches if m.token), matches[0] if matches else None)
    user = None
    if match and match.token:
        record = ConsultAddress.objects.filter(token=match.token).select_related("user").first()
        user = record.user if record else None
    subject, body = phi.redact(parsed.subject), phi.redact(parsed.text)
    kinds = [k for k in phi.PLACEHOLDERS if k in subject.kinds or k in body.kinds]
    status, detail = Inbound.Status.RECEIVED, ""
    if settings.MEDCODE_CONSULT_REQUIRE_AUTH_RESULTS:
        verdict = authres.verdict(parsed.auth_results, settings.MEDCODE_CONSULT_AUTHSERV_ID)
        if not verdict.ok:
            status, detail = Inbound.Status.REJECTED, f"Authentication-Results: {verdict.reason}"[:200]
    sender = (parsed.from_address or mail_from or "").strip().lower()[:320]
    automatic = parsed.automatic
    if via == "smtp" and not (mail_from or "").strip("<> "):
        automatic = automatic or "bounce (empty envelope sender)"  # RFC 5321: never reply to a null sender
    fields = dict(
        user=user, via=via, message_id=parsed.message_id[:255], sender=sender,
        envelope_from=(mail_from or "").strip().lower()[:320], recipient=match.address if match else "",
        secret_address=user is not None, subject=subject.text[:500], body=body.text, source=parsed.source,
        phi_kinds=kinds, attachments=[{"type": a.content_type[:100], "size": a.size} for a in parsed.attachments],
        defects=parsed.defects[:20], size=len(raw), in_reply_to=(parsed.in_reply_to[:1] or [""])[0][:255],
        references=" ".join(parsed.references), automatic=automatic[:100], status=status, detail=detail,
        processed_at=timezone.now() if status == Inbound.Status.REJECTED else None)
    try:
        with transaction.atomic():
            inbound = Inbound.objects.create(**fields)
    except IntegrityError:
        existing = Inbound.objects.filter(sender=sender, message_id=fields["message_id"]).first()
        log.info("consult mail repeated (Message-ID already stored as inbound %s): not processed again",
                 existing.pk if existing else "?")
        return IntakeResult(existing.pk if existing else None, existing.status if existing else "", duplicate=True)
    log.info("consult mail stored as inbound %s via %s (%s bytes, %s attachment(s), PHI redacted: %s)%s",
             inbound.pk, via, inbound.size, len(inbound.attachments), ",".join(kinds) or "none",
             f"; rejected: {detail}" if detail else "")
    if status == Inbound.Status.RECEIVED:
        from .tasks import process_mail

        transaction.on_commit(lambda: process_mail.enqueue(inbound.pk))
    return IntakeResult(inbound.pk, status, refused=detail if status == Inbound.Status.REJECTED else "")


# --- processing ---------------------------------------------------------------------------------

def process(inbound_id: int) -> str:
    """Decide, answer and reply to one stored mail; safe to call twice or after a crash."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.MEDCODE_CONSULT_PROCESS_LEASE)
    claimed = (Inbound.objects.filter(pk=inbound_id)
               .filter(Q(status=Inbound.Status.RECEIVED) | Q(status=Inbound.Status.PROCESSING, lease_until__lt=now))
               .update(status=Inbound.Status.PROCESSING, lease_until=lease))
    if not claimed:
        return "not claimed"
    inbound = Inbound.objects.select_related("user").get(pk=inbound_id)
    outbound = _decide(inbound)
    log.info("consult inbound %s: %s%s", inbound.pk, inbound.status, f" ({inbound.detail})" if inbound.detail else "")
    if outbound is not None:
        deliver(outbound.pk)
    return inbound.status


def _finish(inbound: Inbound, status: str, detail: str = "") -> None:
    inbound.status, inbound.detail = status, detail[:200]
    inbound.processed_at, inbound.lease_until = timezone.now(), None
    inbound.save(update_fields=["status", "detail", "processed_at", "lease_until", "user", "consult", "counted"])
    if inbound.consult_id:
        Consult.objects.filter(pk=inbound.consult_id).update(updated=timezone.now())


def _decide(inbound: Inbound) -> Outbound | None:
    if inbound.automatic:
        _finish(inbound, Inbound.Status.IGNORED, inbound.automatic)
        return None
    if not inbound.sender:
        _finish(inbound, Inbound.Status.IGNORED, "no sender address")
        return None
    user = inbound.user
    if user is None:
        account = get_user_model().objects.filter(email__iexact=inbound.sender).first()
        if account is None or not account.email_verified or not account.is_active:
            out = None
            if _notice_allowed(inbound.sender):
                out = _notice(inbound, Outbound.Kind.UNVERIFIED, inbound.sender,
                              {"has_account": account is not None and account.is_active})
            _finish(inbound, Inbound.Status.UNVERIFIED, "" if out else "notice not sent: one was sent recently")
            return out
        user = account
        if settings.MEDCODE_CONSULT_REQUIRE_SECRET_ADDRESS:
            out = _notice(inbound, Outbound.Kind.SECRET_ONLY, user.email, {}) if _notice_allowed(user.email) else None
            _finish(inbound, Inbound.Status.REJECTED, "sent to the plain address; this site needs the secret one")
            return out
    elif not user.is_active or not user.email_verified:
        _finish(inbound, Inbound.Status.IGNORED, "account inactive or unverified")
        return None
    inbound.user = user
    inbound.consult = _thread(inbound, user)
    question = question_of(inbound)
    if not question:
        out = _reply(inbound, Outbound.Kind.NO_QUESTION, user.email, {})
        _finish(inbound, Inbound.Status.NO_QUESTION)
        return out
    if not _reserve_quota(inbound, user):
        out = None
        if _notice_allowed(user.email):
            out = _reply(inbound, Outbound.Kind.OVER_QUOTA, user.email,
                         {"quota": quota_for(user), "plan": user.get_plan_display()})
        _finish(inbound, Inbound.Status.OVER_QUOTA, "" if out else "notice not sent: one was sent recently")
        return out
    draft = _draft(inbound, question)
    with transaction.atomic():  # one commit for the outcome: fewer round trips on PostgreSQL
        if draft.review_reason:
            _finish(inbound, Inbound.Status.IN_REVIEW, draft.review_reason)
            return None
        if draft.decision == Draft.Decision.PENDING:
            draft.decision, draft.final_markdown = Draft.Decision.AUTO, draft.markdown
            draft.save(update_fields=["decision", "final_markdown"])
        out = _answer(inbound, draft, draft.codes)
        _finish(inbound, Inbound.Status.ANSWERED)
    return out


def question_of(inbound: Inbound) -> str:
    """The body; a mail whose body is empty asks in its subject (unless it is a reply)."""
    body = inbound.body.strip()
    if body:
        return body
    subject = inbound.subject.strip()
    if subject and not _SUBJECT_PREFIX.match(subject):
        return subject
    return ""


def _thread(inbound: Inbound, user) -> Consult:
    ids = [i for i in [inbound.in_reply_to, *reversed(inbound.references.split())] if i]
    if ids:
        by_reply = (Outbound.objects.filter(message_id__in=ids, consult__user=user)
                    .order_by("-created").values_list("consult_id", flat=True).first())
        by_mail = (Inbound.objects.filter(message_id__in=ids, user=user, consult__isnull=False)
                   .exclude(pk=inbound.pk).order_by("-received_at").values_list("consult_id", flat=True).first())
        found = by_reply or by_mail
        if found:
            return Consult.objects.get(pk=found)
    if inbound.consult_id:
        return inbound.consult
    subject = _SUBJECT_PREFIX.sub("", inbound.subject).strip() or question_of(inbound)[:80]
    # linked at once: a worker killed before _finish (while the assistant drafts) must not leave an empty
    # thread in My consults and start a second one when the mail is processed again
    with transaction.atomic():
        consult = Consult.objects.create(user=user, subject=subject[:500])
        Inbound.objects.filter(pk=inbound.pk).update(consult=consult)
    return consult


def _reserve_quota(inbound: Inbound, user) -> bool:
    """Count this mail against the month's quota, if there is room (serialised per user)."""
    if inbound.counted:
        return True
    quota = quota_for(user)
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()  # SQLite: BEGIN IMMEDIATE locks
        if quota is not None and used_this_month(user) >= quota:
            return False
        Inbound.objects.filter(pk=inbound.pk).update(counted=True)
    inbound.counted = True
    return True


def history(inbound: Inbound) -> list:
    """The earlier questions of the thread and the context their answers left, oldest first."""
    from medcode.assistant import Turn

    earlier = (Inbound.objects.filter(consult=inbound.consult, draft__isnull=False)
               .filter(Q(received_at__lt=inbound.received_at) | Q(received_at=inbound.received_at, pk__lt=inbound.pk))
               .select_related("draft").order_by("-received_at", "-pk")[:10])
    return [Turn(question=question_of(m), context=m.draft.context or {}) for m in reversed(list(earlier))]


def review_reason(user, answer) -> str:
    if user.plan in settings.MEDCODE_CONSULT_REVIEW_PLANS:
        return f"review for the {user.plan} plan"
    if settings.MEDCODE_CONSULT_REVIEW_ALL:
        return "review of every answer (site setting)"
    if settings.MEDCODE_CONSULT_REVIEW_UNCONFIDENT and not answer.confident:
        return "the assistant is not confident"
    return ""


def _draft(inbound: Inbound, question: str) -> Draft:
    existing = Draft.objects.filter(inbound=inbound).first()
    if existing is not None:  # a crash after drafting: keep the draft (and its review state)
        return existing
    from medcode.assistant import MAX_QUESTION_CHARS, ask
    from medcode.web.book import book

    try:
        answer = ask(book(), question[:MAX_QUESTION_CHARS], history=history(inbound))
    except Exception as exc:  # the text may be in the message: log the type only
        log.error("consult inbound %s: the assistant failed (%s); sent to review", inbound.pk, type(exc).__name__)
        return Draft.objects.create(inbound=inbound, review_reason="the assistant failed")
    data = answer.to_dict()
    try:
        with transaction.atomic():
            return Draft.objects.create(
                inbound=inbound, markdown=data["markdown"], citations=data["citations"], codes=data["codes"],
                intent=(data.get("intent") or "")[:40], confident=bool(data.get("confident")),
                context=data.get("context") or {}, review_reason=review_reason(inbound.user, answer))
    except IntegrityError:
        return Draft.objects.get(inbound=inbound)


# --- replies ------------------------------------------------------------------------------------

def site_url(path: str = "") -> str:
    return settings.SITE_URL.rstrip("/") + path


def absolute(url: str) -> str:
    return site_url(url) if url.startswith("/") else url


def absolutize_markdown(text: str) -> str:
    """Site paths in markdown links become absolute links: a mail has no site to be relative to."""
    return re.sub(r"(\]\()(/[^)\s]*)", lambda m: m.group(1) + site_url(m.group(2)), text or "")


def markdown_html(text: str) -> str:
    """The answer's markdown as the mail's HTML, by the site's one renderer: raw HTML escaped, a short
    list of tags, http(s)/mailto links only, no remote images (the reviewer may have edited it)."""
    from medcode import markup

    return markup.render(absolutize_markdown(text), url_schemes=markup.WEB_SCHEMES)


def reply_subject(subject: str) -> str:
    subject = (subject or "").strip()
    if not subject:
        return "Re: your coding question"
    return subject if _SUBJECT_PREFIX.match(subject) and subject.lower().startswith("re") else f"Re: {subject}"


def _from_address(inbound: Inbound) -> str:
    if inbound.secret_address and inbound.user_id:
        record = ConsultAddress.objects.filter(user_id=inbound.user_id).first()
        if record:
            return addresses.secret_address(inbound.recipient or configured()[0], record.token)
    return inbound.recipient or configured()[0]


def _common_context(inbound: Inbound) -> dict:
    return {"site_url": site_url(), "question": question_of(inbound), "phi": phi.describe(inbound.phi_kinds),
            "attachments": inbound.attachments, "register_url": site_url(reverse("register")),
            "consults_url": site_url(reverse("consult:mine")), "account_url": site_url(reverse("account")),
            "inbound": inbound}


def _reply(inbound: Inbound, kind: str, to: str, context: dict) -> Outbound:
    """The one reply to `inbound` (created once; a second call returns the first)."""
    existing = Outbound.objects.filter(inbound=inbound).first()
    if existing is not None:
        return existing
    ctx = {**_common_context(inbound), **context}
    text = render_to_string(f"consult/email/{kind}.txt", ctx)
    html = render_to_string(f"consult/email/{kind}.html", ctx)
    sender = _from_address(inbound)
    own = not inbound.message_id.endswith("@no-message-id.invalid>")
    refs = (inbound.references.split() + ([inbound.message_id] if own else []))[-20:]
    try:
        with transaction.atomic():
            return Outbound.objects.create(
                inbound=inbound, consult=inbound.consult, kind=kind, to_address=to, from_address=sender,
                subject=reply_subject(inbound.subject)[:600],
                message_id=make_msgid("consult", domain=addresses.split(sender)[1] or None)[:255],
                in_reply_to=inbound.message_id if own else "", references=" ".join(refs),
                text_body=text, html_body=html)
    except IntegrityError:
        return Outbound.objects.get(inbound=inbound)


def _notice(inbound: Inbound, kind: str, to: str, context: dict) -> Outbound:
    return _reply(inbound, kind, to, context)


MAX_CODES_LISTED = 12


def code_rows(codes: list[dict], when: str | None = None) -> list[dict]:
    """The answer's codes with their validity, billability (from the book, for the answer's date) and link."""
    from medcode.web.book import book

    rows = []
    for c in codes[:MAX_CODES_LISTED]:
        row = {**c, "url": site_url(reverse("code", args=[c["system"], c["code"]])) if c.get("valid") else ""}
        if c.get("valid"):
            try:
                row["billable"] = book().is_billable(c["system"], c["code"], when)
            except Exception:  # a system the book cannot say this for: leave it out
                row["billable"] = None
        rows.append(row)
    return rows


def _answer(inbound: Inbound, draft: Draft, codes: list[dict]) -> Outbound:
    citations = [{**c, "url": absolute(c.get("url") or "")} for c in draft.citations]
    return _reply(inbound, Outbound.Kind.ANSWER, inbound.user.email, {
        "answer_text": absolutize_markdown(draft.final_markdown), "answer_html": markdown_html(draft.final_markdown),
        "citations": citations, "codes": code_rows(codes, (draft.context or {}).get("date")),
        "more_codes": max(0, len(codes) - MAX_CODES_LISTED), "reviewed": draft.decision == Draft.Decision.APPROVED,
        "draft": draft})


# --- review -------------------------------------------------------------------------------------

def approve(draft_id: int, reviewer, markdown: str) -> Outbound:
    """Send the (possibly edited) draft; the reviewer and what they changed are recorded."""
    text = (markdown or "").replace("\r\n", "\n").strip()
    if not text:
        raise ConsultError("The answer is empty: write one, or discard the draft.")
    if len(text) > 20_000:
        raise ConsultError("The answer is too long (at most 20,000 characters).")
    with transaction.atomic():
        draft = (Draft.objects.select_for_update(of=("self",)).select_related("inbound", "inbound__user")
                 .get(pk=draft_id))
        if draft.decision != Draft.Decision.PENDING:
            raise ConsultError("This draft was already reviewed.")
        edited = text != draft.markdown.strip()
        codes = draft.codes
        if edited:  # a reviewer's codes are checked against the book like the assistant's
            from medcode.assistant import guard_text
            from medcode.web.book import book

            guarded = guard_text(book(), text)
            text, codes = guarded.text, [c.to_dict() for c in guarded.codes]
        draft.decision, draft.final_markdown, draft.edited = Draft.Decision.APPROVED, text, edited
        draft.reviewer, draft.reviewer_email, draft.reviewed_at = reviewer, reviewer.email, timezone.now()
        draft.save()
        inbound = draft.inbound
        out = _answer(inbound, draft, codes)
        _finish(inbound, Inbound.Status.ANSWERED, f"approved by {reviewer.email}")
        transaction.on_commit(lambda: _enqueue_send(out.pk))
    log.info("consult draft %s approved by user %s (edited: %s)", draft.pk, reviewer.pk, edited)
    return out


def discard(draft_id: int, reviewer, note: str = "") -> None:
    """No reply is sent; the consult does not count against the sender's quota."""
    with transaction.atomic():
        draft = Draft.objects.select_for_update(of=("self",)).select_related("inbound").get(pk=draft_id)
        if draft.decision != Draft.Decision.PENDING:
            raise ConsultError("This draft was already reviewed.")
        draft.decision, draft.reviewer, draft.reviewer_email = Draft.Decision.DISCARDED, reviewer, reviewer.email
        draft.reviewed_at, draft.review_note = timezone.now(), phi.redact(note or "").text[:500]
        draft.save()
        inbound = draft.inbound
        inbound.counted = False
        _finish(inbound, Inbound.Status.DISCARDED, f"discarded by {reviewer.email}")
    log.info("consult draft %s discarded by user %s", draft.pk, reviewer.pk)


# --- sending ------------------------------------------------------------------------------------

def _enqueue_send(outbound_id: int, run_after: datetime | None = None) -> None:
    from .tasks import send_reply

    task = send_reply.using(run_after=run_after) if run_after else send_reply
    task.enqueue(outbound_id)


def deliver(outbound_id: int) -> str:
    """Hand one reply to the relay, once: claimed first, marked sent after the relay took it."""
    now = timezone.now()
    claimed = (Outbound.objects.filter(pk=outbound_id)
               .filter(Q(status=Outbound.Status.PENDING, next_attempt_at__lte=now)
                       | Q(status=Outbound.Status.SENDING, lease_until__lt=now))
               .update(status=Outbound.Status.SENDING, attempts=F("attempts") + 1,
                       lease_until=now + timedelta(seconds=settings.MEDCODE_CONSULT_SEND_LEASE)))
    if not claimed:
        return "not claimed"
    out = Outbound.objects.get(pk=outbound_id)
    try:
        _smtp_send(out)
    except Exception as exc:
        return _send_failed(out, exc)
    with transaction.atomic():
        Outbound.objects.filter(pk=out.pk).update(status=Outbound.Status.SENT, sent_at=timezone.now(),
                                                  lease_until=None)
        DeliveryAttempt.objects.create(outbound=out, number=out.attempts, ok=True)
    log.info("consult reply %s (%s) sent on attempt %s", out.pk, out.kind, out.attempts)
    return "sent"


def email_message(out: Outbound) -> EmailMultiAlternatives:
    headers = {"Message-ID": out.message_id, "Auto-Submitted": "auto-replied",
               "Reply-To": formataddr((DISPLAY_NAME, out.from_address))}
    if out.in_reply_to:
        headers["In-Reply-To"] = out.in_reply_to
    if out.references:
        headers["References"] = out.references
    msg = EmailMultiAlternatives(out.subject, out.text_body, formataddr((DISPLAY_NAME, out.from_address)),
                                 [out.to_address], headers=headers)
    if out.html_body:
        msg.attach_alternative(out.html_body, "text/html")
    return msg


def _smtp_send(out: Outbound) -> None:
    sent = get_connection(fail_silently=False).send_messages([email_message(out)])
    if not sent:
        raise smtplib.SMTPException("the mail backend sent nothing")


def _permanent(exc: Exception) -> bool:
    """A 5xx answer about this message: retrying the same mail cannot help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _ in exc.recipients.values())
    if isinstance(exc, (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)):
        return 500 <= exc.smtp_code < 600
    return False


def retry_delay(attempt: int) -> float:
    base, cap = settings.MEDCODE_CONSULT_RETRY_BASE, settings.MEDCODE_CONSULT_RETRY_MAX
    return min(cap, base * 2 ** max(0, attempt - 1))


def _send_failed(out: Outbound, exc: Exception) -> str:
    error = f"{type(exc).__name__}: {exc}"[:1000]
    now = timezone.now()
    final = _permanent(exc) or out.attempts >= settings.MEDCODE_CONSULT_SEND_MAX_ATTEMPTS
    next_at = None if final else now + timedelta(seconds=retry_delay(out.attempts))
    with transaction.atomic():
        Outbound.objects.filter(pk=out.pk).update(
            status=Outbound.Status.FAILED if final else Outbound.Status.PENDING, last_error=error, lease_until=None,
            next_attempt_at=next_at or now)
        DeliveryAttempt.objects.create(outbound=out, number=out.attempts, ok=False, error=error)
    if final:
        log.error("consult reply %s failed for good on attempt %s: %s", out.pk, out.attempts, error)
        return "failed"
    log.warning("consult reply %s: attempt %s failed (%s); next try at %s", out.pk, out.attempts, error,
                next_at.isoformat())
    try:
        _enqueue_send(out.pk, next_at)
    except Exception:  # the sweep picks it up at next_attempt_at all the same
        log.exception("consult reply %s: could not queue the retry", out.pk)
    return "retry"


def retry_now(outbound_id: int, staff_user) -> None:
    """Staff: try a failed reply again (a fresh round of attempts)."""
    changed = (Outbound.objects.filter(pk=outbound_id, status=Outbound.Status.FAILED)
               .update(status=Outbound.Status.PENDING, attempts=0, next_attempt_at=timezone.now()))
    if not changed:
        raise ConsultError("Only a failed reply can be retried.")
    log.info("consult reply %s: retry requested by user %s", outbound_id, staff_user.pk)
    transaction.on_commit(lambda: _enqueue_send(outbound_id))


# --- sweeping (periodic) ------------------------------------------------------------------------

def sweep(limit: int = 200) -> dict:
    """Finish what a killed or stopped worker left: mail never processed, replies due and not sent."""
    now = timezone.now()
    grace = now - timedelta(seconds=settings.MEDCODE_CONSULT_PROCESS_LEASE)
    stuck = list(Inbound.objects.filter(Q(status=Inbound.Status.RECEIVED, received_at__lt=grace)
                                        | Q(status=Inbound.Status.PROCESSING, lease_until__lt=now))
                 .order_by("received_at").values_list("pk", flat=True)[:limit])
    processed = [process(pk) for pk in stuck]
    due = list(Outbound.objects.filter(Q(status=Outbound.Status.PENDING, next_attempt_at__lte=now)
                                       | Q(status=Outbound.Status.SENDING, lease_until__lt=now))
               .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    sent = [deliver(pk) for pk in due]
    return {"processed": len([p for p in processed if p != "not claimed"]), "sent": sent.count("sent"),
            "send_failed": len([s for s in sent if s in ("retry", "failed")])}


# --- accounts -----------------------------------------------------------------------------------

def forget_account(sender=None, user=None, **kwargs) -> None:
    """Account deletion: its consults go with it (cascade); so does mail it sent before it had one."""
    if user is not None:
        Inbound.objects.filter(user__isnull=True, sender=user.email.lower()).delete()
