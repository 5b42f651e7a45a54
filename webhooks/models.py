"""Events of a project and mode, the endpoints that hear them, and the deliveries to those endpoints.

An ``Event`` row is the one record of what happened: ``GET /v1/events`` reads it and every
delivery (``WebhookMessage``) refers to it, so the feed and the webhooks can never disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from django.db import models
from django.db.models import Q
from django.utils import timezone

from serverops.ids import new_event_id, new_message_id, new_webhook_id
from tokens.models import Mode, Project

if TYPE_CHECKING:
    from django.db.models.fields.related_descriptors import RelatedManager


class EventType(models.TextChoices):
    CASE_CREATED = "case.created", "case.created"
    CASE_UPDATED = "case.updated", "case.updated"
    CASE_NOTE_ADDED = "case.note_added", "case.note_added"
    FILE_CREATED = "file.created", "file.created"
    FILE_BLOCKED = "file.blocked", "file.blocked"
    FILE_DELETED = "file.deleted", "file.deleted"
    PLAYER_MERGED = "player.merged", "player.merged"


# What an endpoint hears when it names no types (docs/api.md#event-types).
DEFAULT_EVENT_TYPES = (EventType.CASE_CREATED, EventType.CASE_UPDATED, EventType.CASE_NOTE_ADDED)
# Sent by ``send_test_webhook`` only: never recorded, never in the feed, never subscribed to.
TEST_EVENT_TYPE = "webhook.test"


class Format(models.TextChoices):
    STANDARD = "standard", "Standard Webhooks"
    DISCORD = "discord", "Discord"


class Event(models.Model):
    """One thing that happened in a project and mode, written in the transaction of the change.

    ``payload`` is the webhook body (docs/api.md#webhooks) exactly as the feed serves it and
    endpoints receive it. ``seq`` orders the feed (keyset by ``seq``); ``public_id`` (``ev_…``)
    is what clients see: a case event's is its CaseEvent's id, so ``webhook-id`` stays the id
    the case's history shows. Rows older than ``EVENT_RETENTION_DAYS`` are pruned
    (``manage.py prune_events``) with their deliveries.
    """

    seq = models.BigAutoField(primary_key=True)
    public_id = models.CharField(max_length=29, unique=True, default=new_event_id, editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="+")
    mode = models.CharField(max_length=4, choices=Mode.choices)
    type = models.CharField(max_length=20, choices=EventType.choices)
    payload = models.TextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["seq"]
        constraints = [
            models.CheckConstraint(condition=Q(mode__in=Mode.values), name="event_mode_valid"),
            models.CheckConstraint(condition=Q(type__in=EventType.values), name="event_type_valid"),
        ]
        indexes = [
            # The feed's page and its 304 check: one project and mode, in order.
            models.Index(fields=["project", "mode", "seq"], name="event_feed"),
            # prune_events: the oldest first.
            models.Index(fields=["created_at"], name="event_age"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"


class WebhookEndpoint(models.Model):
    """Where a project's changes of one mode are sent, signed with ``secret``.

    The secret signs every message, so it is kept as is (a digest could not sign); it is
    shown once, when the endpoint is created, and never displayed or logged afterwards.
    """

    id = models.CharField(primary_key=True, max_length=29, default=new_webhook_id, editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="+")
    mode = models.CharField(max_length=4, choices=Mode.choices)
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)
    format = models.CharField(max_length=8, choices=Format.choices, default=Format.STANDARD)
    # Discord's rate limit (429, or X-RateLimit-Remaining: 0): nothing is sent here before this moment.
    paused_until = models.DateTimeField(null=True, blank=True, editable=False)
    secret = models.CharField(max_length=100, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True)

    messages: RelatedManager[WebhookMessage]

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(mode__in=Mode.values), name="webhook_mode_valid"),
            models.CheckConstraint(condition=Q(format__in=Format.values), name="webhook_format_valid"),
        ]
        # The one query every recorded change costs: this project's endpoints of this mode.
        indexes = [models.Index(fields=["project", "mode"], name="webhook_project_mode")]

    def __str__(self) -> str:
        return f"{self.id} {self.shown_url}"

    @property
    def shown_url(self) -> str:
        """``url`` as lists and logs show it: credentials stored before they were refused are masked."""
        parts = urlsplit(self.url)
        if "@" not in parts.netloc:
            return self.url
        return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


class MessageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookMessage(models.Model):
    """One event for one endpoint: the outbox row, written in the transaction of the change.

    The body is the event's ``payload`` (or, for a Discord endpoint, its embed made from it),
    the same on every attempt. A worker claims the message by
    setting ``locked_until`` (a lease longer than an attempt can take), so no two workers
    send it at once; a worker that dies leaves a lease that simply runs out.
    """

    id = models.CharField(primary_key=True, max_length=30, default=new_message_id, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="messages")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="messages")
    status = models.CharField(max_length=9, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    locked_by = models.CharField(max_length=64, blank=True, editable=False)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response = models.TextField(blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    attempt_log: RelatedManager[WebhookAttempt]

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_message_once_per_endpoint"),
            models.CheckConstraint(condition=Q(status__in=MessageStatus.values), name="webhook_message_status_valid"),
        ]
        indexes = [
            # The sweep: pending messages by due time.
            models.Index(fields=["status", "next_attempt_at"], name="webhook_message_due"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_message_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id}"


class WebhookAttempt(models.Model):
    """One try at sending a message: who sent it, when, how long it took and what came back.

    ``finished_at`` stays empty when the worker died during the attempt.
    """

    message = models.ForeignKey(WebhookMessage, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    worker = models.CharField(max_length=64)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        indexes = [models.Index(fields=["message", "started_at"], name="webhook_attempt_order")]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.message_id}"
