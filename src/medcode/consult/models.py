"""Consult threads, the mail in and out of them, review drafts and delivery attempts.

Nothing here holds PHI: inbound text and subjects are stored redacted (medcode.consult.phi),
the raw message is never stored, and attachments are recorded by type and size only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ConsultAddress(models.Model):
    """A user's secret address, consult+<token>@domain: mail to it is theirs whatever its From says."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consult_address")
    token = models.CharField(max_length=40, unique=True)
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user} (+{self.token[:4]}…)"


class Consult(models.Model):
    """One thread: the first question and every follow-up that refers to it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consults")
    subject = models.CharField(max_length=500, blank=True)  # redacted
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated", "-id"]
        indexes = [models.Index(fields=["user", "updated"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject[:60]}"


class Inbound(models.Model):
    """One accepted mail: its redacted question and metadata, and what became of it."""

    class Status(models.TextChoices):
        RECEIVED = "received", "received"
        PROCESSING = "processing", "processing"
        ANSWERED = "answered", "answered"
        IN_REVIEW = "in_review", "waiting for review"
        DISCARDED = "discarded", "closed by a reviewer"
        NO_QUESTION = "no_question", "no question found"
        OVER_QUOTA = "over_quota", "over quota"
        UNVERIFIED = "unverified", "sender not a verified account"
        REJECTED = "rejected", "rejected"
        IGNORED = "ignored", "ignored (automatic mail)"

    consult = models.ForeignKey(Consult, null=True, blank=True, on_delete=models.CASCADE, related_name="inbound")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="consult_mail")
    via = models.CharField(max_length=8, default="smtp")  # smtp | imap
    message_id = models.CharField(max_length=255)
    sender = models.CharField(max_length=320, blank=True)  # the From address, lower case
    envelope_from = models.CharField(max_length=320, blank=True)
    recipient = models.CharField(max_length=320, blank=True)  # the configured address (never the +token)
    secret_address = models.BooleanField(default=False)  # came to the user's consult+token address
    subject = models.CharField(max_length=500, blank=True)  # redacted
    body = models.TextField(blank=True)  # the redacted new text of the mail: the question
    source = models.CharField(max_length=8, default="none")  # plain | html | none
    phi_kinds = models.JSONField(default=list, blank=True)  # kinds redacted, never the values
    attachments = models.JSONField(default=list, blank=True)  # [{"type", "size"}]
    defects = models.JSONField(default=list, blank=True)
    size = models.PositiveIntegerField(default=0)
    in_reply_to = models.CharField(max_length=255, blank=True)
    references = models.TextField(blank=True)  # space-separated ids, oldest first
    automatic = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    detail = models.CharField(max_length=200, blank=True)
    counted = models.BooleanField(default=False)  # used one of the month's consults
    received_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [models.UniqueConstraint(fields=["sender", "message_id"], name="consult_inbound_once")]
        indexes = [models.Index(fields=["received_at"]), models.Index(fields=["status", "received_at"]),
                   models.Index(fields=["user", "received_at"]),
                   models.Index(fields=["envelope_from", "received_at"]), models.Index(fields=["message_id"])]

    def __str__(self) -> str:
        return f"inbound #{self.pk} {self.status}"


class Draft(models.Model):
    """The assistant's answer to one inbound question, and its review when one was needed."""

    class Decision(models.TextChoices):
        PENDING = "pending", "waiting for review"
        AUTO = "auto", "sent without review"
        APPROVED = "approved", "approved"
        DISCARDED = "discarded", "discarded"

    inbound = models.OneToOneField(Inbound, on_delete=models.CASCADE, related_name="draft")
    markdown = models.TextField(blank=True)  # as the assistant wrote it
    citations = models.JSONField(default=list, blank=True)
    codes = models.JSONField(default=list, blank=True)
    intent = models.CharField(max_length=40, blank=True)
    confident = models.BooleanField(default=False)
    context = models.JSONField(default=dict, blank=True)  # Answer.context: what a follow-up needs
    review_reason = models.CharField(max_length=60, blank=True)
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING)
    final_markdown = models.TextField(blank=True)  # what was sent
    edited = models.BooleanField(default=False)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    reviewer_email = models.CharField(max_length=320, blank=True)  # kept if the reviewer's account goes
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["decision", "created"])]

    def __str__(self) -> str:
        return f"draft #{self.pk} ({self.decision})"


class Outbound(models.Model):
    """The one reply to one inbound mail (answer or notice), and its delivery state."""

    class Kind(models.TextChoices):
        ANSWER = "answer", "answer"
        UNVERIFIED = "unverified", "not a verified account"
        OVER_QUOTA = "over_quota", "over quota"
        NO_QUESTION = "no_question", "no question found"
        SECRET_ONLY = "secret_only", "use your secret address"

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        SENDING = "sending", "sending"
        SENT = "sent", "sent"
        FAILED = "failed", "failed"

    inbound = models.OneToOneField(Inbound, on_delete=models.CASCADE, related_name="reply")
    consult = models.ForeignKey(Consult, null=True, blank=True, on_delete=models.CASCADE, related_name="replies")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    to_address = models.CharField(max_length=320)
    from_address = models.CharField(max_length=320)
    subject = models.CharField(max_length=600)
    message_id = models.CharField(max_length=255, unique=True)
    in_reply_to = models.CharField(max_length=255, blank=True)
    references = models.TextField(blank=True)
    text_body = models.TextField()
    html_body = models.TextField(blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"reply #{self.pk} {self.kind} {self.status}"


class DeliveryAttempt(models.Model):
    """One try at handing a reply to the relay: the delivery log staff read."""

    outbound = models.ForeignKey(Outbound, on_delete=models.CASCADE, related_name="delivery_attempts")
    number = models.PositiveIntegerField()
    at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField(default=False)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"attempt {self.number} of reply #{self.outbound_id}: {'ok' if self.ok else 'failed'}"
