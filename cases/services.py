"""Writes to cases and their evidence: the one place their rules run, for the API, admin and commands."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import F, Prefetch, QuerySet, prefetch_related_objects
from django.utils import timezone
from django.utils.http import parse_etags
from rest_framework.exceptions import ValidationError

from media.models import File, Visibility
from media.services import file_create
from serverops.ids import id_regex
from serverops.logging import request_id_var
from tokens.models import Mode, Project, ScopedToken

from .models import ActorType, Attachment, Case, CaseEvent, Status
from .signals import case_events_recorded
from .validators import normalise_title

EDITABLE_FIELDS = ("title", "description", "status", "attachments")
SCALAR_FIELDS = ("title", "description", "status")
ATTACHMENTS_MAX = 20
FILE_ID = id_regex("f")


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


def _record(events: list[CaseEvent], *, current: bool = True) -> None:
    """Write ``events`` and announce them (``case_events_recorded``) in the caller's transaction.

    The one place CaseEvents are written, so every listener hears of every change.
    """
    if len(events) == 1:
        events[0].save(force_insert=True)
    else:
        CaseEvent.objects.bulk_create(events)
    case_events_recorded.send(sender=CaseEvent, events=events, current=current)


class PreconditionFailed(Exception):
    """``If-Match`` named no current representation of the case; nothing was written."""


def etag_matches(if_match: str, current: str) -> bool:
    """RFC 9110 ``If-Match``: strong comparison, ``*`` matches any existing representation."""
    tags = parse_etags(if_match)
    return tags == ["*"] or current in tags


def attachments_prefetch() -> Prefetch[Any]:
    """A case's attachments with their files, in the case's order, as ``Case.evidence``.

    One query for a whole page of cases, kept as a plain list per case: a prefetch into the
    related manager would build a queryset per case only to hold that list (bench/PROFILE.md).
    """
    return Prefetch("attachments", queryset=Attachment.objects.select_related("file"), to_attr="evidence")


# Every column of a case's attachments and their files, joined onto the case's own row.
_LINK_FIELDS = [f for f in Attachment._meta.concrete_fields if f.name != "case"]
_FILE_FIELDS = list(File._meta.concrete_fields)
_LINK_COLUMNS = {f"evidence_link_{f.attname}": F(f"attachments__{f.name}") for f in _LINK_FIELDS}
_FILE_COLUMNS = {f"evidence_file_{f.attname}": F(f"attachments__file__{f.name}") for f in _FILE_FIELDS}


def case_with_evidence(cases: QuerySet[Case], case_id: str) -> Case:
    """The case ``case_id`` among ``cases`` with ``Case.evidence`` read by the same query.

    One round trip instead of two (the case, then its attachments and files): the query
    joins the attachments and their files onto the case, one row per attachment in the
    case's order, or one row with no attachment. The joins are outer ones on the case's
    side, so ``cases.select_for_update(of=("self",))`` locks the case's row and nothing else.
    Raises ``Case.DoesNotExist`` when ``cases`` has no such case.
    """
    rows = list(
        cases.filter(pk=case_id)
        .prefetch_related(None)
        .annotate(**_LINK_COLUMNS, **_FILE_COLUMNS)
        .order_by("attachments__position", "attachments__id")
    )
    if not rows:
        raise Case.DoesNotExist(f"no case {case_id}")
    case, evidence = rows[0], []
    for row in rows:
        if row.evidence_link_id is None:  # type: ignore[attr-defined]
            break
        link = Attachment.from_db(
            cases.db, [f.attname for f in _LINK_FIELDS], [getattr(row, name) for name in _LINK_COLUMNS]
        )
        link.case = case
        link.file = File.from_db(
            cases.db, [f.attname for f in _FILE_FIELDS], [getattr(row, name) for name in _FILE_COLUMNS]
        )
        evidence.append(link)
    for name in (*_LINK_COLUMNS, *_FILE_COLUMNS):
        del case.__dict__[name]
    case.evidence = evidence
    return case


def _attachments_invalid(message: str) -> ValidationError:
    return ValidationError({"attachments": [message]})


def clean_attachment_ids(value: Any) -> list[str]:
    """``attachments`` as sent: a list of at most 20 distinct file ids (400 naming ``attachments`` otherwise).

    Whether each file exists and may be seen is decided under the case's lock (``_set_attachments``).
    """
    if not isinstance(value, list):
        raise _attachments_invalid("must be a list of file ids")
    if len(value) > ATTACHMENTS_MAX:
        raise _attachments_invalid(f"at most {ATTACHMENTS_MAX} files")
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, str):
            raise _attachments_invalid("must be a list of file ids (strings)")
        if not FILE_ID.fullmatch(item):
            raise _attachments_invalid(f"file {item[:40]!r} not found" if item else "file '' not found")
        if item in seen:
            raise _attachments_invalid(f"file {item} is listed twice")
        seen.add(item)
    return list(value)


def _set_attachments(case: Case, file_ids: list[str], actor: Actor) -> None:
    """Make ``file_ids`` the case's evidence, in that order; the caller holds the case's row lock.

    Links that stay keep when and by whom they were attached. New files must belong to the
    case's project and mode; they are locked so a concurrent delete either sees the new link
    (409) or has removed the file first (then it is "not found" here).
    """
    current = {link.file_id: link for link in case.evidence}
    added = [file_id for file_id in file_ids if file_id not in current]
    if added:
        visible = set(
            File.objects.select_for_update()
            .filter(project_id=case.project_id, mode=case.mode, pk__in=added)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        missing = next((file_id for file_id in added if file_id not in visible), None)
        if missing is not None:
            raise _attachments_invalid(f"file {missing} not found")
    removed = [file_id for file_id in current if file_id not in file_ids]
    if removed:
        Attachment.objects.filter(case=case, file_id__in=removed).delete()
    moved = []
    for position, file_id in enumerate(file_ids):
        link = current.get(file_id)
        if link is not None and link.position != position:
            link.position = position
            moved.append(link)
    if moved:
        Attachment.objects.bulk_update(moved, ["position"])
    Attachment.objects.bulk_create(
        Attachment(
            case=case,
            file_id=file_id,
            position=file_ids.index(file_id),
            attached_by_type=actor.type,
            attached_by_id=actor.id,
            attached_by_name=actor.name,
        )
        for file_id in added
    )
    # The response shows the new list: fetch it once, files included.
    case.__dict__.pop("evidence", None)
    prefetch_related_objects([case], attachments_prefetch())


def etag_matches_weakly(if_none_match: str, current: str) -> bool:
    """RFC 9110 ``If-None-Match``: weak comparison (``W/"x"`` matches ``"x"``), ``*`` matches
    any existing representation; a malformed header matches nothing."""
    tags = parse_etags(if_none_match)
    if tags == ["*"]:
        return True
    return current.removeprefix("W/") in {tag.removeprefix("W/") for tag in tags}


@transaction.atomic
def case_create(
    *,
    project: Project,
    mode: Mode | str,
    title: str,
    description: str = "",
    status: str = Status.OPEN,
    attachments: Sequence[str] = (),
    actor: Actor,
) -> Case:
    """Create a case, with ``attachments`` (file ids of its project and mode) as its evidence,
    and its first history event, which holds every field's first value."""
    file_ids = clean_attachment_ids(list(attachments))
    case = Case(project=project, mode=mode, title=normalise_title(title), description=description, status=status)
    # Field rules only: the project is given by the caller, and uniqueness is the database's job.
    case.clean_fields(exclude=["project"])
    case.save(force_insert=True)
    if file_ids:
        _set_attachments(case, file_ids, actor)
    else:
        # A new case without evidence: saying so spares the response a query.
        case.evidence = []
    first = {field: {"from": None, "to": getattr(case, field)} for field in SCALAR_FIELDS}
    _record([_event(case, actor, {**first, "attachments": {"from": None, "to": file_ids}})])
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
    writes nothing. Two writers of different fields never lose each other's change.
    ``attachments`` is the whole new list of file ids (replace semantics; files of the
    case's own project and mode only). Raises ``Case.DoesNotExist`` when the case is not in
    ``cases``, ``PreconditionFailed`` when ``if_match`` is stale, and a 400 naming
    ``attachments`` for a list outside its rules or a file that is not visible.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    if "attachments" in changes:
        changes = {**changes, "attachments": clean_attachment_ids(changes["attachments"])}
    case = case_with_evidence(cases.select_for_update(of=("self",)), case_id)
    if if_match is not None and not etag_matches(if_match, case.etag):
        raise PreconditionFailed()
    if "title" in changes:
        changes = {**changes, "title": normalise_title(changes["title"])}
    current = {field: getattr(case, field) for field in SCALAR_FIELDS}
    current["attachments"] = [link.file_id for link in case.evidence]
    changed = [field for field, value in changes.items() if current[field] != value]
    if not changed:
        return case
    history = {field: {"from": current[field], "to": changes[field]} for field in changed}
    scalars = [field for field in changed if field in SCALAR_FIELDS]
    for field in scalars:
        setattr(case, field, changes[field])
    case.clean_fields(exclude=[f.name for f in Case._meta.fields if f.name not in scalars])
    if "attachments" in changed:
        _set_attachments(case, changes["attachments"], actor)
    # updated_at moves even when only the evidence changed: it is part of the representation.
    case.save(update_fields=[*scalars, "updated_at"])
    _record([_event(case, actor, history)])
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
    rows = list(stale.select_for_update().values_list("id", "project_id", "mode"))
    if not rows:
        return 0
    archived = Case.objects.filter(pk__in=[row[0] for row in rows]).update(
        status=Status.ARCHIVED, updated_at=timezone.now()
    )
    change = {"status": {"from": Status.CLOSED.value, "to": Status.ARCHIVED.value}}
    _record(
        [
            _event(Case(pk=case_id, project_id=project_id, mode=mode), actor, change)
            for case_id, project_id, mode in rows
        ],
        current=False,
    )
    return archived


@transaction.atomic
def attachment_create(
    *,
    case: Case,
    content: IO[bytes],
    original_name: str,
    actor: Actor,
    tags: Sequence[str] = (),
    folder: str = "",
    visibility: str = Visibility.PRIVATE,
) -> Attachment:
    """Store a new file in the case's project and mode (``media.services.file_create``) and
    append it to the case's evidence through ``case_update``, which records the change."""
    file = file_create(
        project=case.project,
        mode=case.mode,
        content=content,
        original_name=original_name,
        tags=tags,
        folder=folder,
        visibility=visibility,
    )
    # The list to extend is read under the lock, so two uploads at once both stay attached.
    locked = Case.objects.select_for_update(of=("self",)).prefetch_related("attachments").get(pk=case.pk)
    file_ids = [link.file_id for link in locked.attachments.all()]
    updated = case_update(
        cases=Case.objects.all(), case_id=case.pk, changes={"attachments": [*file_ids, file.pk]}, actor=actor
    )
    return next(link for link in updated.evidence if link.file_id == file.pk)
