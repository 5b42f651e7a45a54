"""Files (the contract's media): the stored objects of a project and mode, independent of cases.

A case lists files as evidence through ``cases.Attachment``; a file may be evidence in
several cases, and one that any case lists cannot be deleted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q

from serverops.ids import new_file_id
from serverops.models import FastLoadingModel, StringListField
from tokens.models import Mode, Project

if TYPE_CHECKING:
    from django.db.models.fields.related_descriptors import RelatedManager

    from cases.models import Attachment

ORIGINAL_NAME_MAX_LENGTH = 255
FOLDER_MAX_LENGTH = 200
KEY_MAX_LENGTH = 500


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


def file_upload_to(instance: File, filename: str) -> str:
    """The storage name is the key, which ``media.services`` builds under the project's prefix."""
    return instance.key


class File(FastLoadingModel):
    """A stored file. Size, SHA-256 and type are read from the bytes when it is stored, never typed in.

    ``key`` is ``<project id>/<file id>/<original name>`` and names the object in storage
    (``blob``); a file belongs to one project and one mode and never moves.
    """

    id = models.CharField(primary_key=True, max_length=28, default=new_file_id, editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="files")
    mode = models.CharField(max_length=4, choices=Mode.choices)
    blob = models.FileField(upload_to=file_upload_to, max_length=KEY_MAX_LENGTH)
    key = models.CharField(max_length=KEY_MAX_LENGTH, editable=False)
    size = models.BigIntegerField(editable=False)
    content_type = models.CharField(max_length=100, editable=False)
    sha256 = models.CharField(max_length=64, editable=False)
    original_name = models.CharField(max_length=ORIGINAL_NAME_MAX_LENGTH, editable=False)
    tags = StringListField(default=list, blank=True)
    folder = models.CharField(max_length=FOLDER_MAX_LENGTH, blank=True, default="")
    abuse_status = models.CharField(max_length=8, choices=AbuseStatus.choices, default=AbuseStatus.CLEAN)
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.PRIVATE)
    storage_class = models.CharField(max_length=10, choices=StorageClass.choices, default=StorageClass.STANDARD)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The last staff review (the admin's marks and saves), beside abuse_status, whose "clean" is
    # also every upload's default: a file nobody has looked at has no reviewer.
    reviewed_at = models.DateTimeField(null=True, blank=True, editable=False)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )

    attachments: RelatedManager[Attachment]

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(mode__in=Mode.values), name="media_file_mode_valid"),
            models.CheckConstraint(condition=Q(abuse_status__in=AbuseStatus.values), name="media_file_abuse_valid"),
            models.CheckConstraint(condition=Q(visibility__in=Visibility.values), name="media_file_visibility_valid"),
            models.CheckConstraint(
                condition=Q(storage_class__in=StorageClass.values), name="media_file_storage_class_valid"
            ),
            models.CheckConstraint(condition=Q(size__gte=0), name="media_file_size_valid"),
        ]
        indexes = [
            # GET /v1/media: keyset order within what one token sees, with and without the folder filter.
            # The tag filter has a GIN index on PostgreSQL (migration 0001).
            models.Index(fields=["project", "mode", "-created_at", "-id"], name="media_file_keyset"),
            models.Index(fields=["project", "mode", "folder", "-created_at", "-id"], name="media_file_folder_keyset"),
        ]

    def __str__(self) -> str:
        return self.original_name
