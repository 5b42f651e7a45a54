"""Moderation cases and the files attached to them."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING
from urllib.parse import quote

from django.core.validators import MaxLengthValidator, MinLengthValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual

from serverops.conf import serverops_setting
from serverops.ids import new_case_id, new_event_id, new_file_id
from tokens.models import Mode, Project

from .validators import validate_description_characters, validate_title_characters

if TYPE_CHECKING:
    from django.db.models.fields.related_descriptors import RelatedManager

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 10_000


class Status(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"
    ARCHIVED = "archived", "Archived"


class Case(models.Model):
    """A moderation case. It belongs to one project and one mode and never moves."""

    id = models.CharField(primary_key=True, max_length=28, default=new_case_id, editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="cases")
    mode = models.CharField(max_length=4, choices=Mode.choices)
    title = models.CharField(
        max_length=TITLE_MAX_LENGTH,
        validators=[MinLengthValidator(1), validate_title_characters],
    )
    description = models.TextField(
        blank=True,
        default="",
        validators=[MaxLengthValidator(DESCRIPTION_MAX_LENGTH), validate_description_characters],
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    attachments: RelatedManager[Attachment]
    events: RelatedManager[CaseEvent]

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=Status.values), name="case_status_valid"),
            models.CheckConstraint(condition=Q(mode__in=Mode.values), name="case_mode_valid"),
            models.CheckConstraint(
                condition=GreaterThanOrEqual(Length("title"), 1) & LessThanOrEqual(Length("title"), TITLE_MAX_LENGTH),
                name="case_title_length",
            ),
        ]
        indexes = [
            # The list's keyset order within what one token sees, with and without a status filter.
            models.Index(fields=["project", "mode", "-created_at", "-id"], name="case_keyset"),
            models.Index(fields=["project", "mode", "status", "-created_at", "-id"], name="case_status_keyset"),
            # archive_cases: closed cases by last change.
            models.Index(fields=["status", "updated_at"], name="case_status_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.title}"

    @property
    def etag(self) -> str:
        """A strong validator of the Case representation: it changes whenever any key of it does.

        Every write to a case or its attachments moves their ``updated_at``; uses the
        prefetched attachments, so it costs no query where the response needs them anyway.
        """
        parts = [self.id, self.updated_at.isoformat()]
        parts += [f"{a.id}@{a.updated_at.isoformat()}" for a in self.attachments.all()]
        return '"' + hashlib.sha256("|".join(parts).encode()).hexdigest()[:32] + '"'


class AbuseStatus(models.TextChoices):
    CLEAN = "clean", "Clean"
    PENDING = "pending", "Pending"
    FLAGGED = "flagged", "Flagged"
    BLOCKED = "blocked", "Blocked"


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public"
    PRIVATE = "private", "Private"


class StorageClass(models.TextChoices):
    STANDARD = "standard", "Standard"
    INFREQUENT = "infrequent", "Infrequent"
    ARCHIVE = "archive", "Archive"


def attachment_upload_to(instance: Attachment, filename: str) -> str:
    return instance.key


class Attachment(models.Model):
    """A file attached to a case (the contract's File). Content facts are computed, never typed in."""

    id = models.CharField(primary_key=True, max_length=28, default=new_file_id, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_upload_to, max_length=500)
    key = models.CharField(max_length=500, editable=False)
    size = models.BigIntegerField(editable=False)
    content_type = models.CharField(max_length=200, editable=False)
    sha256 = models.CharField(max_length=64, editable=False)
    original_name = models.CharField(max_length=255, editable=False)
    tags = models.JSONField(default=list, blank=True)
    folder = models.CharField(max_length=200, blank=True, default="")
    abuse_status = models.CharField(max_length=8, choices=AbuseStatus.choices, default=AbuseStatus.CLEAN)
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.PRIVATE)
    storage_class = models.CharField(max_length=10, choices=StorageClass.choices, default=StorageClass.STANDARD)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(abuse_status__in=AbuseStatus.values), name="file_abuse_status_valid"),
            models.CheckConstraint(condition=Q(visibility__in=Visibility.values), name="file_visibility_valid"),
            models.CheckConstraint(condition=Q(storage_class__in=StorageClass.values), name="file_storage_class_valid"),
        ]
        indexes = [models.Index(fields=["case", "created_at", "id"], name="file_case_order")]

    def __str__(self) -> str:
        return self.original_name

    @property
    def url(self) -> str:
        base: str = serverops_setting("MEDIA_BASE_URL")
        return base.rstrip("/") + "/" + quote(self.key)


class IdempotentRequest(models.Model):
    """The first response to a ``POST /v1/cases`` sent with an ``Idempotency-Key`` (§5).

    Keyed by token and key: a retry with the same body within the retention period replays
    ``status``/``body``/``headers``; a different body is a conflict. Recorded in the same
    transaction as the case, so a key either has its case and response or nothing at all.
    """

    token = models.ForeignKey("tokens.ScopedToken", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    body = models.JSONField()
    headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "key"], name="idempotency_key_unique_per_token")]

    def __str__(self) -> str:
        return f"{self.key} ({self.token_id})"


class ActorType(models.TextChoices):
    TOKEN = "token", "API token"
    STAFF = "staff", "Staff user"
    SYSTEM = "system", "System"


class CaseEvent(models.Model):
    """One change to a case, written in the same transaction as the change itself.

    ``changes`` maps each changed field to ``{"from": old, "to": new}``; a case's first
    event has every field, from ``None``. Events are never edited or deleted.
    """

    id = models.CharField(primary_key=True, max_length=29, default=new_event_id, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True)
    actor_type = models.CharField(max_length=6, choices=ActorType.choices)
    actor_id = models.CharField(max_length=150)
    actor_name = models.CharField(max_length=200)
    request_id = models.CharField(max_length=128, blank=True)
    changes = models.JSONField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at", "id"], name="case_event_order")]
        constraints = [models.CheckConstraint(condition=Q(actor_type__in=ActorType.values), name="event_actor_valid")]

    def __str__(self) -> str:
        return f"{self.id} on {self.case_id}"
