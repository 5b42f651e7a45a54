"""Writes to cases and attachments: the one place their rules run, for the API, admin and commands."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any

import filetype
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.files import File
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.http import parse_etags

from serverops.logging import request_id_var
from tokens.models import Mode, Project, ScopedToken

from .models import ActorType, Attachment, Case, CaseEvent, Status, Visibility
from .validators import normalise_title

EDITABLE_FIELDS = ("title", "description", "status")


@dataclass(frozen=True)
class Actor:
    """Who makes a change, as the case history records it."""

    type: ActorType
    id: str
    name: str

    @classmethod
    def for_token(cls, token: ScopedToken) -> Actor:
        return cls(ActorType.TOKEN, token.pk, token.name)

    @classmethod
    def for_staff(cls, user: AbstractBaseUser | AnonymousUser) -> Actor:
        return cls(ActorType.STAFF, str(user.pk), user.get_username())

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(ActorType.SYSTEM, name, name)


def _event(case: Case, actor: Actor, changes: dict[str, dict[str, Any]]) -> CaseEvent:
    request_id = request_id_var.get()
    return CaseEvent(
        case=case,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name,
        request_id="" if request_id == "-" else request_id,
        changes=changes,
    )


class PreconditionFailed(Exception):
    """``If-Match`` named no current representation of the case; nothing was written."""


def etag_matches(if_match: str, current: str) -> bool:
    """RFC 9110 ``If-Match``: strong comparison, ``*`` matches any existing representation."""
    tags = parse_etags(if_match)
    return tags == ["*"] or current in tags


@transaction.atomic
def case_create(
    *,
    project: Project,
    mode: Mode | str,
    title: str,
    description: str = "",
    status: str = Status.OPEN,
    actor: Actor,
) -> Case:
    """Create a case and its first history event, which holds every field's first value."""
    case = Case(project=project, mode=mode, title=normalise_title(title), description=description, status=status)
    # Field rules only: the project is given by the caller, and uniqueness is the database's job.
    case.clean_fields(exclude=["project"])
    case.save(force_insert=True)
    _event(case, actor, {field: {"from": None, "to": getattr(case, field)} for field in EDITABLE_FIELDS}).save(
        force_insert=True
    )
    # A new case has no attachments; saying so spares the response a query.
    case._prefetched_objects_cache = {"attachments": Attachment.objects.none()}  # type: ignore[attr-defined]
    return case


@transaction.atomic
def case_update(
    *,
    cases: QuerySet[Case],
    case_id: str,
    changes: Mapping[str, Any],
    actor: Actor,
    if_match: str | None = None,
) -> Case:
    """Apply ``changes`` to the case ``case_id`` among ``cases`` under a row lock.

    Only the fields that really change are written, with ``updated_at`` and one history
    event naming each changed field's old and new value; a change that changes nothing
    writes nothing. Two writers of different fields never lose each
    other's change. Raises ``Case.DoesNotExist`` when the case is not in ``cases`` and
    ``PreconditionFailed`` when ``if_match`` is stale.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    case = cases.select_for_update(of=("self",)).prefetch_related("attachments").get(pk=case_id)
    if if_match is not None and not etag_matches(if_match, case.etag):
        raise PreconditionFailed()
    if "title" in changes:
        changes = {**changes, "title": normalise_title(changes["title"])}
    changed = [field for field, value in changes.items() if getattr(case, field) != value]
    if not changed:
        return case
    history = {field: {"from": getattr(case, field), "to": changes[field]} for field in changed}
    for field in changed:
        setattr(case, field, changes[field])
    case.clean_fields(exclude=[f.name for f in Case._meta.fields if f.name not in changed])
    case.save(update_fields=[*changed, "updated_at"])
    _event(case, actor, history).save(force_insert=True)
    return case


ARCHIVER = Actor.system("archive_cases")


@transaction.atomic
def case_archive_closed(*, closed_for: timedelta, dry_run: bool = False, actor: Actor = ARCHIVER) -> int:
    """Archive the closed cases not updated for ``closed_for``; returns how many (would be) archived.

    One UPDATE for all of them, and one history event each, in the same transaction.
    """
    cutoff = timezone.now() - closed_for
    stale = Case.objects.filter(status=Status.CLOSED, updated_at__lt=cutoff)
    if dry_run:
        return stale.count()
    ids = list(stale.select_for_update().values_list("id", flat=True))
    if not ids:
        return 0
    archived = Case.objects.filter(pk__in=ids).update(status=Status.ARCHIVED, updated_at=timezone.now())
    change = {"status": {"from": Status.CLOSED.value, "to": Status.ARCHIVED.value}}
    CaseEvent.objects.bulk_create(_event(Case(pk=case_id), actor, change) for case_id in ids)
    return archived


def _detect_content_type(head: bytes) -> str:
    """The media type the bytes announce by their signature; plain text or opaque bytes otherwise."""
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut off by the end of the sample is still text.
        if exc.start < len(head) - 3 or exc.reason != "unexpected end of data":
            return "application/octet-stream"
    return "text/plain" if b"\x00" not in head else "application/octet-stream"


@transaction.atomic
def attachment_create(
    *,
    case: Case,
    content: IO[bytes],
    original_name: str,
    tags: Sequence[str] = (),
    folder: str = "",
    visibility: str = Visibility.PRIVATE,
) -> Attachment:
    """Store a file for ``case``. Size, SHA-256 and type are read from the bytes, never trusted."""
    original_name = os.path.basename(original_name.replace("\\", "/")) or "file"
    attachment = Attachment(
        case=case, original_name=original_name, tags=list(tags), folder=folder, visibility=visibility
    )
    digest = hashlib.sha256()
    size = 0
    head = b""
    content.seek(0)
    for chunk in iter(lambda: content.read(64 * 1024), b""):
        if len(head) < 262:
            head += chunk[: 262 - len(head)]
        digest.update(chunk)
        size += len(chunk)
    content.seek(0)
    attachment.size = size
    attachment.sha256 = digest.hexdigest()
    attachment.content_type = _detect_content_type(head)
    attachment.key = f"{case.project_id}/{attachment.id}/{original_name}"
    attachment.file.save(attachment.key, File(content), save=False)
    # The storage may rename to avoid a clash; the key must name what was stored.
    attachment.key = str(attachment.file.name)
    attachment.save(force_insert=True)
    return attachment
