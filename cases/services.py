"""Writes to cases and their evidence: the one place their rules run, for the API, admin and commands."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.http import parse_etags

from media.models import File, Visibility
from media.services import file_create
from serverops.exceptions import InvalidValue
from serverops.ids import id_regex
from serverops.logging import request_id_var
from tokens.models import Mode, Project, ScopedToken

from . import chain, queries
from .assignees import clean_assignee_id, working_member
from .labels import clean_labels
from .models import ActorType, Attachment, Case, CaseEvent, Note, Priority, Status
from .signals import case_events_recorded, case_note_added
from .subjects import SubjectSpec, link_subjects, set_subjects, wanted_history, write_subjects
from .validators import normalise_title

EDITABLE_FIELDS = ("title", "description", "status", "attachments", "subjects", "assignee", "priority", "labels")
# The fields that are columns of the case's own row (``assignee`` is its member's id).
SCALAR_FIELDS = ("title", "description", "status", "assignee", "priority", "labels")
_ATTNAME = {"assignee": "assignee_id"}
ATTACHMENTS_MAX = 20
_MICROSECOND = timedelta(microseconds=1)
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


def _chain(case: Case, event: CaseEvent) -> None:
    """The one way an event joins its case's history, whatever its kind.

    The event is stamped after the case's last event (``updated_at``, which every event moves
    forwards, even past a clock that stepped back) and linked to the case's hash chain
    (``cases.chain.link``); the case's ``updated_at`` and ``history_head`` become the event's.
    The caller read the case under its row lock, or writes it with the compare-and-set of
    ``queries.case_save_with_event``, and writes both rows in one transaction. A case not yet
    saved gets its timestamps when it is (after its first event's).
    """
    if case.updated_at is None:
        event.created_at = timezone.now()
    else:
        event.created_at = case.updated_at = max(timezone.now(), case.updated_at + _MICROSECOND)
    chain.link(case, event)


def _record(events: list[CaseEvent], *, current: bool = True) -> None:
    """Write ``events`` (already chained by ``_chain``) and announce them (``_announce``) in
    the caller's transaction."""
    if len(events) == 1:
        events[0].save(force_insert=True)
    else:
        CaseEvent.objects.bulk_create(events)
    _announce(events, current=current)


def _announce(events: list[CaseEvent], *, current: bool = True) -> None:
    """Send ``case_events_recorded`` for ``events``, just written in the caller's transaction.

    Every write of CaseEvents ends here (``_record``, or ``case_update`` through
    ``queries.case_save_with_event``), so every listener hears of every change.
    """
    case_events_recorded.send(sender=CaseEvent, events=events, current=current)


class PreconditionFailed(Exception):
    """``If-Match`` named no current representation of the case; nothing was written."""


def etag_matches(if_match: str, current: str) -> bool:
    """RFC 9110 ``If-Match``: strong comparison, ``*`` matches any existing representation."""
    tags = parse_etags(if_match)
    return tags == ["*"] or current in tags


def _attachments_invalid(message: str) -> InvalidValue:
    return InvalidValue("attachments", message)


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
    queries.load_evidence([case])


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
    subjects: Sequence[SubjectSpec] = (),
    assignee: str | None = None,
    priority: str = Priority.NORMAL,
    labels: Sequence[str] = (),
    actor: Actor,
) -> Case:
    """Create a case, with ``attachments`` (file ids of its project and mode) as its evidence,
    ``subjects`` (``cases.subjects.clean_subjects``) linked to their players, ``assignee`` (a
    member id, ``cases.assignees.working_member``) working it, and its first history event,
    which holds every field's first value."""
    file_ids = clean_attachment_ids(list(attachments))
    case = Case(
        project=project,
        mode=mode,
        title=normalise_title(title),
        description=description,
        status=status,
        priority=priority,
        labels=clean_labels(list(labels)),
    )
    # Field rules only: the project is given by the caller, the assignee checked below, and
    # uniqueness is the database's job.
    case.clean_fields(exclude=["project", "assignee"])
    assignee_id = clean_assignee_id(assignee)
    if assignee_id is None:
        case.assignee_name = None
    else:
        case.assignee_id, case.assignee_name = working_member(assignee_id, project_id=project.pk)
    # Players are linked first: the first event names them, and is chained before the case's
    # INSERT, which so writes the chain's head.
    wanted = link_subjects(case, subjects, actor) if subjects else []
    first: dict[str, dict[str, Any]] = {
        field: {"from": None, "to": getattr(case, field)} for field in ("title", "description", "status")
    }
    first["attachments"] = {"from": None, "to": file_ids}
    first["subjects"] = {"from": None, "to": wanted_history(wanted)}
    first["assignee"] = {"from": None, "to": case.assignee_id}
    first["priority"] = {"from": None, "to": case.priority}
    first["labels"] = {"from": None, "to": case.labels}
    event = _event(case, actor, first)
    _chain(case, event)
    case.save(force_insert=True)
    if file_ids:
        _set_attachments(case, file_ids, actor)
    else:
        # A new case without evidence: saying so spares the response a query.
        case.evidence = []
    if wanted:
        write_subjects(case, wanted)
        queries.load_subjects([case])
    else:
        case.subject_list = []
    _record([event])
    return case


@transaction.atomic
def case_update(
    *,
    case_id: str,
    changes: Mapping[str, Any],
    actor: Actor,
    project_id: str | None = None,
    mode: Mode | str | None = None,
    if_match: str | None = None,
) -> Case:
    """Apply ``changes`` to the case ``case_id``.

    ``project_id`` and ``mode`` (both or neither) narrow the case to a token's own. Only the
    fields that really change are written, with ``updated_at`` and one history event naming
    each changed field's old and new value; a change that changes nothing writes nothing.
    Two writers of different fields never lose each other's change. ``attachments`` is the
    whole new list of file ids (replace semantics; files of the case's own project and mode
    only). Raises ``Case.DoesNotExist`` when there is no such case (for that project and
    mode), ``PreconditionFailed`` when ``if_match`` is stale, and a 400 naming
    ``attachments`` for a list outside its rules or a file that is not visible.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    if "attachments" in changes:
        changes = {**changes, "attachments": clean_attachment_ids(changes["attachments"])}
    if "title" in changes:
        changes = {**changes, "title": normalise_title(changes["title"])}
    if "labels" in changes:
        changes = {**changes, "labels": clean_labels(changes["labels"])}
    if "assignee" in changes:
        changes = {**changes, "assignee": clean_assignee_id(changes["assignee"])}
    subjects: Sequence[SubjectSpec] | None = changes.get("subjects")
    # Optimistic first: read, then write only if nobody wrote the case meanwhile. The rare
    # loser of a race reads again under the case's row lock, and then cannot lose. Subjects
    # are linked to players (a write) before they can be compared: under the lock at once.
    for lock in (False, True) if subjects is None else (True,):
        case = queries.case_with_evidence(case_id, project_id=project_id, mode=mode, lock=lock)
        if if_match is not None and not etag_matches(if_match, case.etag):
            raise PreconditionFailed()
        current = {field: getattr(case, _ATTNAME.get(field, field)) for field in SCALAR_FIELDS}
        current["attachments"] = [link.file_id for link in case.evidence]
        changed = [field for field, value in changes.items() if field != "subjects" and current[field] != value]
        history = {field: {"from": current[field], "to": changes[field]} for field in changed}
        assignee_name = case.assignee_name
        if "assignee" in changed and changes["assignee"] is not None:
            # Checked against the case's organisation as read (a case never moves).
            _, assignee_name = working_member(changes["assignee"], project_id=case.project_id)
        if subjects is not None:
            subject_change = set_subjects(case, subjects, actor)
            # The players' identifiers and names may have changed even when the list did not.
            queries.load_subjects([case])
            if subject_change is not None:
                changed.append("subjects")
                history["subjects"] = {"from": subject_change[0], "to": subject_change[1]}
        if not changed:
            return case
        scalars = [field for field in changed if field in SCALAR_FIELDS]
        for field in scalars:
            setattr(case, _ATTNAME.get(field, field), changes[field])
        if "assignee" in scalars:
            case.assignee_name = assignee_name
        # The assignee was checked above, without the query of a foreign key's validation.
        case.clean_fields(exclude=[f.name for f in Case._meta.fields if f.name not in scalars or f.name == "assignee"])
        # updated_at moves with every write, the evidence's included (it is part of the
        # representation): with the chain's head, it is what the compare-and-set compares.
        read_at, read_head = case.updated_at, case.history_head
        event = _event(case, actor, history)
        _chain(case, event)
        columns = [_ATTNAME.get(field, field) for field in scalars]
        written = queries.case_save_with_event(
            case, [*columns, "updated_at", "history_head"], event, if_updated_at=read_at, if_head=read_head
        )
        if written:
            break
    else:
        raise RuntimeError(f"case {case_id} changed under its row lock")
    if "attachments" in changed:
        _set_attachments(case, changes["attachments"], actor)
    _announce([event])
    return case


@transaction.atomic
def case_event_record(
    *,
    case_id: str,
    actor: Actor,
    changes: dict[str, Any],
    project_id: str | None = None,
    mode: Mode | str | None = None,
) -> CaseEvent:
    """Record ``changes`` in the history of the case ``case_id`` as one event, for a change
    made outside the case's own fields (a note, a subject…), in the caller's transaction.

    The case is locked, the event chained to its history (``_chain``), and the case's
    ``updated_at`` moved to the event's time. ``project_id`` and ``mode`` (both or neither)
    narrow the case to a token's own. Raises ``Case.DoesNotExist`` when there is no such case.
    """
    cases = Case.objects.select_for_update().only("id", "project_id", "mode", "updated_at", "history_head")
    if project_id is not None:
        cases = cases.filter(project_id=project_id, mode=mode)
    case = cases.get(pk=case_id)
    event = _event(case, actor, changes)
    _chain(case, event)
    Case.objects.filter(pk=case.pk).update(updated_at=case.updated_at, history_head=case.history_head)
    _record([event], current=False)
    return event


@transaction.atomic
def note_create(
    *,
    case_id: str,
    body: str,
    actor: Actor,
    project_id: str | None = None,
    mode: Mode | str | None = None,
) -> Note:
    """Append a note to the case ``case_id`` (docs/api.md#notes), with the case event that names
    it, chained to the case's history in the same transaction; the note takes the event's actor
    and time. ``project_id`` and ``mode`` (both or neither) narrow the case to a token's own.
    Raises ``Case.DoesNotExist`` when there is no such case, and a 400 naming ``body`` for a
    body outside its rules (nothing written)."""
    note = Note(case_id=case_id, body=body, author_type=actor.type, author_id=actor.id, author_name=actor.name)
    try:
        note.clean_fields(exclude=["case", "created_at"])
    except DjangoValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InvalidValue(field, messages[0]) from None
    event = case_event_record(
        case_id=case_id,
        actor=actor,
        changes={"note": {"from": None, "to": note.pk}},
        project_id=project_id,
        mode=mode,
    )
    note.created_at = event.created_at
    note.save(force_insert=True)
    case_note_added.send(sender=Note, case=queries.case_with_evidence(case_id), note=note, event=event)
    return note


class AlreadyClaimed(Exception):
    """The case is held by a member already (``holder``: their id); nothing was written."""

    def __init__(self, holder: str) -> None:
        super().__init__(f"case already assigned to {holder}")
        self.holder = holder


@transaction.atomic
def case_claim(*, case_id: str, member_id: str, actor: Actor) -> None:
    """Assign the case ``case_id`` to the member ``member_id`` only if nobody holds it: the
    admin's claim (docs/operations.md, "The queue").

    The assignment is one conditional UPDATE (``WHERE assignee IS NULL``) under the case's row
    lock, with its history event chained in the same transaction, so of two members claiming at
    once exactly one wins; the other gets ``AlreadyClaimed`` naming the holder, and the case is
    never taken over. The member must be allowed to work the case (``working_member``); raises
    ``Case.DoesNotExist`` when there is no such case.
    """
    case = (
        Case.objects.select_for_update()
        .only("id", "project_id", "mode", "updated_at", "history_head", "assignee_id")
        .get(pk=case_id)
    )
    if case.assignee_id is not None:
        raise AlreadyClaimed(case.assignee_id)
    working_member(member_id, project_id=case.project_id)
    read_head = case.history_head
    event = _event(case, actor, {"assignee": {"from": None, "to": member_id}})
    _chain(case, event)
    claimed = Case.objects.filter(pk=case_id, assignee__isnull=True, history_head=read_head).update(
        assignee_id=member_id, updated_at=case.updated_at, history_head=case.history_head
    )
    if not claimed:
        holder = Case.objects.filter(pk=case_id).values_list("assignee_id", flat=True).get()
        raise AlreadyClaimed(holder or "another change")
    _record([event], current=False)


ARCHIVER = Actor.system("archive_cases")


@transaction.atomic
def case_archive_closed(*, closed_for: timedelta, dry_run: bool = False, actor: Actor = ARCHIVER) -> int:
    """Archive the closed cases not updated for ``closed_for``; returns how many (would be) archived.

    One UPDATE for all of them (per batch of the database's parameter limit), and one history
    event each, chained to its case's, in the same transaction.
    """
    cutoff = timezone.now() - closed_for
    stale = Case.objects.filter(status=Status.CLOSED, updated_at__lt=cutoff)
    if dry_run:
        return stale.count()
    cases = list(stale.select_for_update().only("id", "project_id", "mode", "updated_at", "history_head"))
    if not cases:
        return 0
    change = {"status": {"from": Status.CLOSED.value, "to": Status.ARCHIVED.value}}
    events = []
    for case in cases:
        case.status = Status.ARCHIVED
        events.append(_event(case, actor, change))
        _chain(case, events[-1])
    # Each case its own head and time: one UPDATE of CASE expressions per batch.
    archived = Case.objects.bulk_update(cases, ["status", "updated_at", "history_head"])
    _record(events, current=False)
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
    locked = queries.case_with_evidence(case.pk, lock=True)
    file_ids = [link.file_id for link in locked.evidence]
    updated = case_update(case_id=case.pk, changes={"attachments": [*file_ids, file.pk]}, actor=actor)
    return next(link for link in updated.evidence if link.file_id == file.pk)
