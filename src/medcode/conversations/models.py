"""A conversation is a list of exchanges (question, answer) owned by one subject: an account
(``user:<id>``), a guest's cookie (``guest:<id>``) or an anonymous API caller's hashed address
(``addr:<hmac>``). Its id is an opaque UUID; anyone else asking for it gets a 404."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.CharField(max_length=80)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="conversations")  # set for accounts, so deleting one deletes these
    title = models.CharField(max_length=200)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["owner", "-updated"])]

    def __str__(self) -> str:
        return self.title


class Exchange(models.Model):
    """One question and the answer served, with what a follow-up needs (the engine's context)."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="exchanges")
    question = models.TextField()
    answer = models.TextField()  # markdown
    citations = models.JSONField(default=list)
    codes = models.JSONField(default=list)
    context = models.JSONField(default=dict)
    intent = models.CharField(max_length=40, blank=True)
    model = models.CharField(max_length=100, blank=True)  # the language model that worded it; "" = none
    date_of_service = models.DateField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return self.question[:80]
