"""Moderation cases, the files listed as their evidence, and their history."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.validators import MaxLengthValidator, MinLengthValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual
from django.utils import timezone
from django.utils.functional import cached_property

from media.models import File
from players.models import NAME_MAX_LENGTH, Player
from serverops.ids import new_case_id, new_event_id, new_note_id
from serverops.models import FastLoadingModel
from tokens.models import Member, Mode, Project

from .chain import GENESIS
from .validators import validate_description_characters, validate_title_characters

if TYPE_CHECKING:
    from django.db.models.fields.related_descriptors import RelatedManager

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 10_000
NOTE_MAX_LENGTH = 5_000


class Status(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"
    ARCHIVED = "archived", "Archived"


class Priority(models.TextChoices):
    """How soon a case needs working; the admin's queue puts the most urgent first (``RANK``)."""

    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


# The queue's order: urgent first.
PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}


class Case(FastLoadingModel):
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
    # Who works the case: a moderator (or above) of the case's organisation (cases.assignees).
    # A member who leaves the organisation lets go of their cases.
    assignee = models.ForeignKey(Member, on_delete=models.SET_NULL, null=True, blank=True, related_name="cases")
    priority = models.CharField(max_length=6, choices=Priority.choices, default=Priority.NORMAL)
    # At most 10 distinct (case-insensitively) labels of 1–40 characters (cases.labels).
    labels = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The hash of the case's last history event (``cases.chain``): read with the row, moved in
    # the statement that writes the change, so appending to the chain costs no statement.
    history_head = models.CharField(max_length=64, default=GENESIS, editable=False)

    attachments: RelatedManager[Attachment]
    events: RelatedManager[CaseEvent]
    subjects: RelatedManager[CaseSubject]
    notes: RelatedManager[Note]

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=Status.values), name="case_status_valid"),
            models.CheckConstraint(condition=Q(priority__in=Priority.values), name="case_priority_valid"),
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
            # The admin's "assigned to me" and the API's ?assignee=.
            models.Index(fields=["assignee", "status"], name="case_assignee_status"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.title}"

    @cached_property
    def evidence(self) -> list[Attachment]:
        """The case's attachments, each with its file, in the case's order.

        ``cases.queries`` fills it with the case itself, or for a whole page of cases in one
        query; read without it, it costs one query on first use.
        """
        return list(self.attachments.select_related("file"))

    @cached_property
    def files(self) -> list[File]:
        """The files of ``evidence``, in the case's order: all a representation of the case needs.

        ``cases.queries.case_page``'s records of a page's cases carry the same attribute, of
        records of the files.
        """
        return [link.file for link in self.evidence]

    @cached_property
    def subject_list(self) -> list[SubjectView]:
        """The case's subjects in the case's order, each with its player's identifiers.

        ``cases.queries.load_subjects`` fills it for a case or a page of cases in one
        statement; read without it, it costs that statement on first use.
        """
        from .queries import load_subjects

        load_subjects([self])
        return self.subject_list

    @cached_property
    def assignee_name(self) -> str | None:
        """The name of the member the case is assigned to, or None (docs/api.md#working-a-case).

        ``cases.queries`` reads it with the case (or a page of cases) in the same statement;
        read without it, it costs one query on first use.
        """
        from .assignees import names_of

        if self.assignee_id is None:
            return None
        return names_of([self.assignee_id]).get(self.assignee_id)

    @property
    def etag(self) -> str:
        """A strong validator of the Case representation: it changes whenever any key of it does.

        A change to the case or to the list of its files moves the case's ``updated_at``, and a
        change to a listed file moves that file's; uses the files already read with the case,
        so it costs no query where the response needs them anyway.
        """
        # The assignee's name is part of the representation too.
        parts = [self.id, self.updated_at.isoformat(), repr(self.assignee_name)]
        parts += [f"{file.id}@{file.updated_at.isoformat()}" for file in self.files]
        # A subject shows its player's identifiers, which move the player's updated_at.
        parts += [subject.tag for subject in self.subject_list]
        return '"' + hashlib.sha256("|".join(parts).encode()).hexdigest()[:32] + '"'


def attachment_upload_to(instance: Any, filename: str) -> str:
    """Named by migration 0001, from when an Attachment held its own bytes (they now live in ``media.File``)."""
    return str(instance.key)


class ActorType(models.TextChoices):
    TOKEN = "token", "API token"
    STAFF = "staff", "Staff user"
    SYSTEM = "system", "System"


class Attachment(FastLoadingModel):
    """A file listed as evidence in a case: the link between a Case and a ``media.File``.

    ``position`` keeps the order the client last listed the case's files in; who attached
    it is recorded as the case history records actors. A file may be evidence in several
    cases, once per case, and cannot be deleted while any case lists it (PROTECT).
    """

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    file = models.ForeignKey(File, on_delete=models.PROTECT, related_name="attachments")
    position = models.PositiveSmallIntegerField()
    attached_at = models.DateTimeField(default=timezone.now)
    attached_by_type = models.CharField(max_length=6, choices=ActorType.choices)
    attached_by_id = models.CharField(max_length=150)
    attached_by_name = models.CharField(max_length=200)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "file"], name="attachment_file_once_per_case"),
            models.CheckConstraint(condition=Q(attached_by_type__in=ActorType.values), name="attachment_actor_valid"),
        ]
        indexes = [models.Index(fields=["case", "position"], name="attachment_case_order")]

    def __str__(self) -> str:
        return f"{self.file_id} in {self.case_id}"


class Role(models.TextChoices):
    REPORTED = "reported", "Reported"
    REPORTER = "reporter", "Reporter"
    WITNESS = "witness", "Witness"


class CaseSubject(models.Model):
    """A player a case is about, in a role, under the name sent with it on this case.

    A player is a case's subject at most once; ``position`` keeps the order the client last
    listed the subjects in. A merge re-points the merged player's rows to the survivor.
    """

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="subjects")
    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="case_subjects")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.REPORTED)
    # "" when no name was sent (shown as null): a name is 1–64 characters.
    name = models.CharField(max_length=NAME_MAX_LENGTH, blank=True, default="")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "player"], name="subject_player_once_per_case"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="subject_role_valid"),
        ]
        indexes = [
            models.Index(fields=["case", "position"], name="subject_case_order"),
            # A player's cases (?player=, ?identifier=, its page in the admin).
            models.Index(fields=["player", "case"], name="subject_player_cases"),
        ]

    def __str__(self) -> str:
        return f"{self.player_id} ({self.role}) in {self.case_id}"


@dataclass(frozen=True, slots=True)
class SubjectView:
    """A subject as a Case shows it (docs/api.md, "Players"): read-only, from one statement."""

    player: str
    role: str
    name: str | None
    identifiers: list[str]
    player_updated_at: datetime

    @property
    def tag(self) -> str:
        return f"{self.player}/{self.role}/{self.name!r}@{self.player_updated_at.isoformat()}"


class IdempotentRequest(models.Model):
    """The first response to a ``POST /v1/cases`` sent with an ``Idempotency-Key``
    (docs/api.md#retries-with-idempotency-key).

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


class CaseEvent(FastLoadingModel):
    """One change to a case, written in the same transaction as the change itself.

    ``changes`` maps each changed field to ``{"from": old, "to": new}``; a case's first
    event has every field, from ``None``. Events are never edited or deleted: each one's
    ``hash`` covers its content and ``prev_hash``, the hash of the case's event before it
    (``cases.chain``), and no two events of a case follow the same one (the chain cannot fork).
    """

    id = models.CharField(primary_key=True, max_length=29, default=new_event_id, editable=False)
    # No index of its own: case_event_order (and event_chain_no_fork) lead with the case. With one,
    # PostgreSQL read a case's history through it and sorted every event of the case for each
    # page, and the largest table kept two more indexes up to date (bench/PROFILE.md, section 15).
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events", db_index=False)
    # Stamped by cases.services._chain before it is hashed, so never again on save.
    created_at = models.DateTimeField(default=timezone.now)
    actor_type = models.CharField(max_length=6, choices=ActorType.choices)
    actor_id = models.CharField(max_length=150)
    actor_name = models.CharField(max_length=200)
    request_id = models.CharField(max_length=128, blank=True)
    changes = models.JSONField()
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at", "id"], name="case_event_order")]
        constraints = [
            models.CheckConstraint(condition=Q(actor_type__in=ActorType.values), name="event_actor_valid"),
            models.UniqueConstraint(fields=["case", "prev_hash"], name="event_chain_no_fork"),
        ]

    def __str__(self) -> str:
        return f"{self.id} on {self.case_id}"


class Note(FastLoadingModel):
    """A line of the team's internal record on a case (docs/api.md#notes): append-only.

    Written with the case event that names it (``{"note": {"from": null, "to": "nt_…"}}``), in
    one transaction, under the case's row lock; its author is that event's actor and its time
    the event's.
    """

    id = models.CharField(primary_key=True, max_length=29, default=new_note_id, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notes")
    body = models.TextField(
        validators=[MinLengthValidator(1), MaxLengthValidator(NOTE_MAX_LENGTH), validate_description_characters]
    )
    author_type = models.CharField(max_length=6, choices=ActorType.choices)
    author_id = models.CharField(max_length=150)
    author_name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at", "id"], name="note_case_order")]
        constraints = [
            models.CheckConstraint(condition=Q(author_type__in=ActorType.values), name="note_author_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.id} on {self.case_id}"
