"""Shapes of the Case and File objects (docs/api.md#cases) and the validation of what clients send."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from rest_framework import serializers
from rest_framework.settings import api_settings

from media.serializers import FileRow, file_representation
from media.storage import FileLinks
from serverops.exceptions import InvalidValue
from serverops.fields import JSONObjectSerializer, StrictCharField, StrictChoiceField, TimestampField, rfc3339

from .assignees import clean_assignee_id
from .labels import clean_labels
from .models import (
    DESCRIPTION_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Case,
    CaseEvent,
    Note,
    Priority,
    Status,
    SubjectView,
)
from .services import clean_attachment_ids
from .subjects import SubjectSpec, clean_subjects
from .validators import normalise_title, validate_description_characters, validate_title_characters

# The order of a Case's keys in docs/api.md#cases, which a CaseEvent's changes follow.
CASE_FIELD_ORDER = ("title", "description", "status", "attachments", "subjects", "assignee", "priority", "labels")


@runtime_checkable
class CaseRow(Protocol):
    """What ``case_representation`` reads: a Case, or a record of its row with ``files``
    (``cases.queries.case_page``'s). A field the representation needs is added here first,
    and so must be one that both have."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def files(self) -> Sequence[FileRow]: ...
    @property
    def subject_list(self) -> Sequence[SubjectView]: ...
    @property
    def assignee_id(self) -> str | None: ...
    @property
    def assignee_name(self) -> str | None: ...
    @property
    def priority(self) -> str: ...
    @property
    def labels(self) -> Sequence[str]: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


def case_representation(case: CaseRow, *, links: FileLinks) -> dict[str, Any]:
    """The Case object of docs/api.md#cases, exactly the fields ``CaseSerializer`` declares.

    ``attachments`` are the listed files in the case's order, their URLs made by ``links``
    (one ``FileLinks`` per response, on the request's host).
    """
    return {
        "id": case.id,
        "title": case.title,
        "description": case.description,
        "status": case.status,
        "attachments": [file_representation(file, links=links) for file in case.files],
        "subjects": [
            {"player": subject.player, "role": subject.role, "name": subject.name, "identifiers": subject.identifiers}
            for subject in case.subject_list
        ],
        "assignee": None if case.assignee_id is None else {"id": case.assignee_id, "name": case.assignee_name},
        "priority": case.priority,
        "labels": list(case.labels),
        "created_at": rfc3339(case.created_at),
        "updated_at": rfc3339(case.updated_at),
    }


class AttachmentIdsField(serializers.Field):  # type: ignore[type-arg]
    """``attachments`` as sent: a list of at most 20 distinct file ids (``cases.services.clean_attachment_ids``)."""

    default_error_messages = {"null": "must be a list of file ids, not null"}

    def to_internal_value(self, data: Any) -> list[str]:
        try:
            return clean_attachment_ids(data)
        except InvalidValue as exc:
            # The service names the field itself; here DRF adds the name.
            raise serializers.ValidationError(exc.message) from None

    def to_representation(self, value: Any) -> Any:
        return value


class SubjectsField(serializers.Field):  # type: ignore[type-arg]
    """``subjects`` as sent (``cases.subjects.clean_subjects``)."""

    default_error_messages = {"null": "must be a list of subjects, not null"}

    def to_internal_value(self, data: Any) -> list[SubjectSpec]:
        try:
            return clean_subjects(data)
        except InvalidValue as exc:
            raise serializers.ValidationError(exc.message) from None

    def to_representation(self, value: Any) -> Any:
        return value


class AssigneeField(serializers.Field):  # type: ignore[type-arg]
    """``assignee`` as sent: a member id or null (``cases.assignees.clean_assignee_id``); whether
    the member may work the case is decided with the case."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{**kwargs, "allow_null": True})

    def to_internal_value(self, data: Any) -> str | None:
        try:
            return clean_assignee_id(data)
        except InvalidValue as exc:
            raise serializers.ValidationError(exc.message) from None

    def to_representation(self, value: Any) -> Any:
        return value


class LabelsField(serializers.Field):  # type: ignore[type-arg]
    """``labels`` as sent (``cases.labels.clean_labels``)."""

    default_error_messages = {"null": "must be a list of strings, not null"}

    def to_internal_value(self, data: Any) -> list[str]:
        try:
            return clean_labels(data)
        except InvalidValue as exc:
            raise serializers.ValidationError(exc.message) from None

    def to_representation(self, value: Any) -> Any:
        return value


class CaseSerializer(JSONObjectSerializer[Case]):
    """Validates a create (all rules) or a PATCH (``partial=True``) and shapes a Case.

    Nothing is silently ignored: a key that is unknown or read-only is a 400 naming it,
    and so is a value of the wrong JSON type; ``{}`` is not a PATCH. Every field is
    declared, so a plain Serializer: a ModelSerializer would introspect the model for
    each request only to find nothing left to generate.
    """

    id = serializers.CharField(read_only=True)
    title = StrictCharField(
        max_length=TITLE_MAX_LENGTH,
        normalise=normalise_title,
        validators=[validate_title_characters],
    )
    description = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=DESCRIPTION_MAX_LENGTH,
        validators=[validate_description_characters],
    )
    status = StrictChoiceField(choices=Status.values, required=False)
    attachments = AttachmentIdsField(required=False)
    subjects = SubjectsField(required=False)
    assignee = AssigneeField(required=False)
    priority = StrictChoiceField(choices=Priority.values, required=False)
    labels = LabelsField(required=False)
    created_at = TimestampField(read_only=True)
    updated_at = TimestampField(read_only=True)

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # Copies of the declared fields, where DRF deep-copies them: its deep copy runs each
        # field's __init__ again (validators, choices, messages), 60% of validating a PATCH
        # (bench/PROFILE.md, section 11). bind() then sets each copy's own name and parent.
        # Shared by the copies, and only read: their validators, choices and error messages.
        # None of these fields has a child field, which would stay bound to the declared one.
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}

    def to_representation(self, instance: Case) -> dict[str, Any]:
        # Reads never build the field objects, which only validation needs (bench/PROFILE.md).
        return case_representation(instance, links=FileLinks(self.context.get("request")))

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        writable = [name for name, field in self.fields.items() if not field.read_only]
        for key in data:
            if key not in self.fields:
                raise serializers.ValidationError({key: [f"unknown field; send only {', '.join(writable)}"]})
            if key not in writable:
                raise serializers.ValidationError({key: ["read-only field"]})
        if self.partial and not data:
            raise serializers.ValidationError(
                {
                    api_settings.NON_FIELD_ERRORS_KEY: [
                        f"missing required field: send one or more of {', '.join(writable)}"
                    ]
                }
            )
        validated: dict[str, Any] = super().to_internal_value(data)
        return validated


def ordered_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` in one order on every database: the Case's field order, then any other key
    by name, and ``from`` before ``to`` in each change. PostgreSQL's jsonb keeps keys in its
    own order (shortest first), SQLite in the order written; clients see neither."""
    order = {name: index for index, name in enumerate(CASE_FIELD_ORDER)}
    return {
        name: _from_to(changes[name]) for name in sorted(changes, key=lambda name: (order.get(name, len(order)), name))
    }


def _from_to(change: Any) -> Any:
    if isinstance(change, Mapping) and set(change) == {"from", "to"}:
        return {"from": change["from"], "to": change["to"]}
    return change


class CaseEventSerializer(serializers.ModelSerializer[CaseEvent]):
    """A CaseEvent (docs/api.md#case-history): who changed which fields of a case, when, in which request."""

    created_at = TimestampField(read_only=True)
    actor = serializers.SerializerMethodField()
    request_id = serializers.SerializerMethodField()
    changes = serializers.SerializerMethodField()

    class Meta:
        model = CaseEvent
        fields = ["id", "created_at", "actor", "request_id", "changes", "prev_hash", "hash"]
        read_only_fields = fields

    def get_actor(self, event: CaseEvent) -> dict[str, str]:
        return {"type": event.actor_type, "id": event.actor_id, "name": event.actor_name}

    def get_changes(self, event: CaseEvent) -> dict[str, Any]:
        return ordered_changes(event.changes)

    def get_request_id(self, event: CaseEvent) -> str | None:
        return event.request_id or None


def note_representation(note: Note) -> dict[str, Any]:
    """A Note (docs/api.md#notes); its author is shown as an event's actor."""
    return {
        "id": note.id,
        "body": note.body,
        "author": {"type": note.author_type, "id": note.author_id, "name": note.author_name},
        "created_at": rfc3339(note.created_at),
    }


class NoteSerializer(JSONObjectSerializer[Note]):
    """Validates a new note (``{"body"}``, nothing else) and shapes a Note."""

    id = serializers.CharField(read_only=True)
    body = StrictCharField(max_length=NOTE_MAX_LENGTH, validators=[validate_description_characters])
    author = serializers.SerializerMethodField()
    created_at = TimestampField(read_only=True)

    def get_author(self, note: Note) -> dict[str, str]:
        return {"type": note.author_type, "id": note.author_id, "name": note.author_name}

    def to_representation(self, instance: Note) -> dict[str, Any]:
        return note_representation(instance)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        for key in data:
            if key not in self.fields:
                raise serializers.ValidationError({key: ["unknown field; send only body"]})
            if self.fields[key].read_only:
                raise serializers.ValidationError({key: ["read-only field"]})
        validated: dict[str, Any] = super().to_internal_value(data)
        return validated
