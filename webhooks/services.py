"""Writes to webhook endpoints and their outbox: the one place their rules run."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from cases.models import Case, CaseEvent, Note
from cases.player_views import player_representation, player_rows
from cases.queries import load_evidence, load_subjects
from cases.serializers import case_representation, note_representation, ordered_changes
from cases.subjects import erase_from_case
from media.models import File
from media.serializers import file_representation
from media.storage import FileLinks
from players.models import Player
from serverops import metrics, sql
from serverops.conf import serverops_setting
from serverops.fields import rfc3339
from serverops.ids import new_event_id
from tokens.models import Mode, Project

from . import discord
from .delivery import PRIVATE_NETWORKS_HINT, AddressRefused, Outcome, check_url, new_secret, send
from .models import (
    DEFAULT_EVENT_TYPES,
    TEST_EVENT_TYPE,
    Event,
    EventType,
    Format,
    MessageStatus,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookMessage,
)

# Waits before the 2nd, 3rd, … 8th attempt; after the 8th the message has failed.
BACKOFF = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
# Each attempt's one line says what it was: delivered, failed or refused (the task engine's own
# line agrees: an attempt that did not deliver ends its task as FAILED, webhooks.tasks).
logger = logging.getLogger("webhooks")


DISCORD_HOSTS = ("discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com")


def clean_url(url: str) -> str:
    """The endpoint URL, or ``ValidationError`` when webhooks may not be sent there (``check_url``).

    Whitespace anywhere is refused rather than trimmed: a URL pasted with a stray space or line
    break is not the URL the operator meant, and a silently altered one is worse than an error.
    """
    if any(character.isspace() for character in url):
        raise ValidationError("the URL must not contain whitespace (spaces, tabs, line breaks)")
    if len(url) > WebhookEndpoint._meta.get_field("url").max_length:  # type: ignore[operator]
        raise ValidationError("the URL is longer than 2000 characters")
    try:
        check_url(url)
    except AddressRefused as exc:
        hint = f"; {PRIVATE_NETWORKS_HINT}" if exc.private_network else ""
        raise ValidationError(f"URL refused: {exc}{hint}") from None
    return url


def clean_events(events: Sequence[str]) -> list[str]:
    """The event types, in their canonical order; the ``case.*`` types when none are named."""
    unknown = sorted(set(events) - set(EventType.values))
    if unknown:
        raise ValidationError(f"unknown event type(s): {', '.join(unknown)}; known: {', '.join(EventType.values)}")
    wanted = set(events) if events else set(DEFAULT_EVENT_TYPES)
    return [event for event in EventType.values if event in wanted]


def is_discord_url(url: str) -> bool:
    """A Discord webhook URL (``https://discord.com/api/webhooks/…``), which gets the Discord format by itself."""
    parts = urlsplit(url)
    return (parts.hostname or "").lower() in DISCORD_HOSTS and parts.path.startswith("/api/webhooks/")


@transaction.atomic
def endpoint_create(
    *,
    project: Project,
    mode: Mode | str,
    url: str,
    events: Sequence[str] = (),
    format: Format | str | None = None,
    created_by: str = "",
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it with its signing secret, the only time the secret is returned.

    ``format`` None chooses Discord for Discord's webhook URLs and Standard Webhooks otherwise.
    Raises ``ValidationError`` for a URL that is refused (``clean_url``), an unknown event type
    or format; nothing is written then.
    """
    if mode not in Mode.values:
        raise ValidationError(f"mode must be one of {', '.join(Mode.values)}")
    if format is None:
        format = Format.DISCORD if is_discord_url(url) else Format.STANDARD
    if format not in Format.values:
        raise ValidationError(f"format must be one of {', '.join(Format.values)}")
    secret = new_secret()
    endpoint = WebhookEndpoint(
        project=project,
        mode=mode,
        url=clean_url(url),
        events=clean_events(events),
        format=format,
        secret=secret,
        created_by=created_by,
    )
    endpoint.full_clean(exclude=["project", "secret"])
    endpoint.save(force_insert=True)
    return endpoint, secret


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint with its outbox: messages not yet delivered are dropped (the events stay)."""
    endpoint.delete()


def _json(body: dict[str, Any]) -> str:
    return json.dumps(body, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def _case_event_type(event: CaseEvent) -> EventType:
    # A case's first event sets every field from nothing; no later change sets a title from nothing.
    title = event.changes.get("title")
    return EventType.CASE_CREATED if title is not None and title["from"] is None else EventType.CASE_UPDATED


def _case_body(event: CaseEvent, event_type: EventType, case: Case) -> str:
    """The event body (docs/api.md#webhooks): the event, and the Case exactly as the API
    returns it after this change."""
    return _json(
        {
            "id": event.id,
            "type": event_type.value,
            "created_at": rfc3339(event.created_at),
            "mode": case.mode,
            "data": {
                "case": case_representation(case, links=FileLinks(None)),
                # The events API's order, whatever order the client sent the fields in.
                "changes": ordered_changes(event.changes),
                "actor": {"type": event.actor_type, "id": event.actor_id, "name": event.actor_name},
            },
        }
    )


def _event(
    *,
    project_id: str,
    mode: str,
    event_type: EventType,
    data: dict[str, Any],
    public_id: str | None = None,
    created_at: datetime | None = None,
) -> Event:
    """An Event of a change that is not a case event: a fresh ``ev_`` id, stamped now, unless
    the change has its own id and time (a note's case event)."""
    event = Event(project_id=project_id, mode=mode, type=event_type, created_at=created_at or timezone.now())
    if public_id is not None:
        event.public_id = public_id
    event.payload = _json(
        {
            "id": event.public_id,
            "type": event_type.value,
            "created_at": rfc3339(event.created_at),
            "mode": mode,
            "data": data,
        }
    )
    return event


def _enqueue(message_id: str, run_after: Any = None) -> None:
    from .tasks import deliver_message

    task = deliver_message if run_after is None else deliver_message.using(run_after=run_after)
    task.enqueue(message_id)


def _endpoints_where(keys: set[tuple[str, str]]) -> tuple[str, list[str]]:
    """The condition on endpoints aliased ``t`` that matches each ``(project id, mode)`` in ``keys``, and its values."""
    where = " OR ".join(["(t.project_id = %s AND t.mode = %s)"] * len(keys))
    return where, [value for key in sorted(keys) for value in key]


def _endpoints_of(keys: set[tuple[str, str]]) -> list[WebhookEndpoint]:
    """The endpoints of each ``(project id, mode)`` in ``keys``, in one statement.

    Every write of a case asks, so the statement is written as SQL (``serverops.sql``): the
    ORM's building of it cost 0.83 ms of Python per write, the statement itself 0.18 ms.
    """
    where, params = _endpoints_where(keys)
    return sql.select(WebhookEndpoint, where, params, using=connection.alias)


def _insert_events_finding_endpoints(events: Sequence[Event], keys: set[tuple[str, str]]) -> list[WebhookEndpoint]:
    """PostgreSQL: INSERT ``events`` and read the endpoints of ``keys`` in one statement (the
    INSERT in a data-modifying ``WITH``; the endpoints joined to the one row of the new events'
    keys, so the statement answers even when no endpoint listens). Sets each event's ``seq`` as
    ``bulk_create`` does; what ``_endpoints_of`` returns, one round trip sooner."""
    alias = connection.alias
    fields = [field for field in Event._meta.concrete_fields if field is not Event._meta.pk]
    params = [field.get_db_prep_save(field.pre_save(event, True), connection) for event in events for field in fields]
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    seq, public_id = sql.column(Event, "seq"), sql.column(Event, "public_id")
    where, where_params = _endpoints_where(keys)
    columns = ", ".join(sql.column(Event, field.name) for field in fields)
    statement = (  # identifiers from the models and placeholders only
        f"WITH inserted AS (INSERT INTO {sql.table(Event)} ({columns}) "  # noqa: S608
        f"VALUES {', '.join([row] * len(events))} RETURNING {seq}, {public_id}), "
        f"made AS (SELECT array_agg({seq}) AS seqs, array_agg({public_id}) AS public_ids FROM inserted) "
        f"SELECT made.seqs, made.public_ids, {sql.columns(WebhookEndpoint, 't')} "
        f"FROM made LEFT JOIN {sql.table(WebhookEndpoint)} t ON ({where})"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [*params, *where_params])
        rows = cursor.fetchall()
    seqs = dict(zip(rows[0][1], rows[0][0], strict=True))
    for event in events:
        event.seq = seqs[event.public_id]
        event._state.adding, event._state.db = False, alias
    reader = sql.Rows.of(alias, WebhookEndpoint)
    return [endpoint for row in rows if (endpoint := reader.instances(row[2:])[0]) is not None]


def events_record(events: Sequence[Event]) -> list[WebhookMessage]:
    """Write ``events`` and a delivery of each to every endpoint of its project and mode that
    subscribed to its type, in the caller's transaction (the change's); returns the deliveries.

    When no endpoint listens, which is the common case, that is one statement on PostgreSQL
    (``_insert_events_finding_endpoints``) and two on SQLite, whose ``WITH`` cannot modify data:
    the events' insert and the endpoints' lookup. Deliveries are queued once the transaction
    commits.
    """
    if not events:
        return []
    keys = {(event.project_id, event.mode) for event in events}
    if connection.vendor == "postgresql":
        found = _insert_events_finding_endpoints(events, keys)
    else:
        Event.objects.bulk_create(events)
        found = _endpoints_of(keys)
    endpoints: defaultdict[tuple[str, str], list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in found:
        endpoints[(endpoint.project_id, endpoint.mode)].append(endpoint)
    now = timezone.now()
    messages = [
        WebhookMessage(endpoint=endpoint, event=event, next_attempt_at=now)
        for event in events
        for endpoint in endpoints.get((event.project_id, event.mode), ())
        if event.type in endpoint.events
    ]
    if messages:
        WebhookMessage.objects.bulk_create(messages)
    for message in messages:
        transaction.on_commit(partial(_enqueue, message.id))
    return messages


def events_record_for_case_events(
    *, events: Sequence[CaseEvent], current: bool = True, **_: Any
) -> list[WebhookMessage]:
    """The ``case_events_recorded`` receiver: a ``case.created`` or ``case.updated`` Event per
    CaseEvent (same id), in the change's transaction. ``current=False`` means the events' cases
    are stale (a bulk UPDATE): they are re-read first."""
    if not events:
        return []
    if all(event.changes.keys() == {"note"} for event in events):
        return []
    cases = {event.case_id: event.case for event in events}
    if not current:
        cases = Case.objects.in_bulk(list(cases))
        load_evidence(cases.values())
        load_subjects(cases.values())
    rows = []
    for event in events:
        if event.changes.keys() == {"note"}:
            continue  # announced as case.note_added (events_record_for_note), with the note
        case, event_type = cases[event.case_id], _case_event_type(event)
        rows.append(
            Event(
                public_id=event.id,
                project_id=case.project_id,
                mode=case.mode,
                type=event_type,
                payload=_case_body(event, event_type, case),
                created_at=event.created_at,
            )
        )
    return events_record(rows)


def events_record_for_note(*, case: Case, note: Note, event: CaseEvent, **_: Any) -> list[WebhookMessage]:
    """The ``case_note_added`` receiver: a ``case.note_added`` Event, ``{"case", "note"}``, with
    the id of the case event that records the note (as the history shows it)."""
    data = {"case": case_representation(case, links=FileLinks(None)), "note": note_representation(note)}
    announced = _event(
        project_id=case.project_id,
        mode=case.mode,
        event_type=EventType.CASE_NOTE_ADDED,
        data=data,
        public_id=event.id,
        created_at=event.created_at,
    )
    return events_record([announced])


FILE_EVENT_TYPES = {
    "created": EventType.FILE_CREATED,
    "blocked": EventType.FILE_BLOCKED,
    "deleted": EventType.FILE_DELETED,
}


def events_record_for_file(*, file: File, change: str, **_: Any) -> list[WebhookMessage]:
    """The ``file_changed`` receiver: a ``file.created``, ``file.blocked`` or ``file.deleted``
    Event, ``{"file"}``. A deleted file's ``url`` is null: nothing is left to open."""
    body = file_representation(file, links=FileLinks(None))
    if change == "deleted":
        body["url"] = None
    return events_record(
        [_event(project_id=file.project_id, mode=file.mode, event_type=FILE_EVENT_TYPES[change], data={"file": body})]
    )


def events_record_for_merge(*, survivor: str, merged: Sequence[str], **_: Any) -> list[WebhookMessage]:
    """The ``players_merged`` receiver: a ``player.merged`` Event, ``{"player": <survivor>, "merged": [ids]}``."""
    player = Player.objects.only("project_id", "mode").get(pk=survivor)
    (row,) = player_rows("one", [survivor, player.project_id, player.mode])
    data = {"player": player_representation(row), "merged": list(merged)}
    return events_record(
        [_event(project_id=player.project_id, mode=player.mode, event_type=EventType.PLAYER_MERGED, data=data)]
    )


def events_prune(*, older_than: timedelta, batch: int = 10_000) -> int:
    """Delete the events (with their deliveries) created before ``older_than`` ago; returns how many.

    In batches of ``batch`` oldest first, each its own transaction, so pruning a large backlog
    never holds a long lock or a huge transaction.
    """
    cutoff = timezone.now() - older_than
    pruned = 0
    while True:
        with transaction.atomic():
            seqs = list(
                Event.objects.filter(created_at__lt=cutoff).order_by("created_at").values_list("seq", flat=True)[:batch]
            )
            if not seqs:
                return pruned
            WebhookMessage.objects.filter(event_id__in=seqs).delete()
            Event.objects.filter(seq__in=seqs).delete()
        pruned += len(seqs)


def _lease() -> timedelta:
    # Never shorter than an attempt can take, or a second worker could send the message meanwhile.
    seconds = max(serverops_setting("WEBHOOK_LEASE_SECONDS"), serverops_setting("WEBHOOK_TIMEOUT_SECONDS") + 5)
    return timedelta(seconds=seconds)


def _claimable(now: Any) -> Q:
    return Q(status=MessageStatus.PENDING, next_attempt_at__lte=now, attempts__lt=MAX_ATTEMPTS) & (
        Q(locked_until__isnull=True) | Q(locked_until__lte=now)
    )


def _body_for(endpoint: WebhookEndpoint, payload: str) -> bytes:
    """What an endpoint is sent for an event: its body, or a Discord endpoint's message made from it."""
    if endpoint.format == Format.DISCORD:
        return json.dumps(discord.message(json.loads(payload)), ensure_ascii=False).encode()
    return payload.encode()


def _verdict(outcome: Outcome) -> str:
    """How an attempt went, as the log line and the task's result say it."""
    if outcome.ok:
        return "delivered"
    return "refused" if outcome.refused else "failed"


def message_deliver(*, message_id: str, worker: str) -> str:
    """Make one delivery attempt of a due message; returns what became of it.

    The claim is one conditional UPDATE (pending, due, lease free → leased to ``worker``),
    atomic on PostgreSQL and SQLite alike, so among any number of workers exactly one
    sends the message; the others get ``"skipped"``. The HTTP request runs outside any
    transaction. A 2xx is delivered; anything else waits its ``BACKOFF`` step and is
    queued again, until the last attempt fails it. A Discord endpoint's rate limit postpones
    the message (without spending an attempt) until it is over, a 429 waits at least its
    ``retry_after``, and an answer retrying cannot help (Discord's 400 for a refused embed)
    fails the message at once, its body logged.
    """
    now = timezone.now()
    claimed = WebhookMessage.objects.filter(_claimable(now), pk=message_id).update(
        locked_until=now + _lease(), locked_by=worker, attempts=F("attempts") + 1
    )
    if not claimed:
        # Said, so the task engine's SUCCESSFUL for this task is never read as a delivery.
        logger.info("webhook message %s skipped: not due, leased by another worker, or settled", message_id)
        return "skipped"
    message = WebhookMessage.objects.select_related("endpoint", "event").get(pk=message_id)
    endpoint = message.endpoint
    if endpoint.paused_until is not None and endpoint.paused_until > now:
        # Not an attempt: the endpoint asked for quiet until then (Discord's rate limit).
        WebhookMessage.objects.filter(pk=message_id, locked_by=worker, attempts=message.attempts).update(
            attempts=F("attempts") - 1, locked_until=None, next_attempt_at=endpoint.paused_until
        )
        _enqueue(message_id, endpoint.paused_until)
        return "postponed"
    attempt = WebhookAttempt.objects.create(message=message, number=message.attempts, worker=worker, started_at=now)
    outcome = send(
        url=endpoint.url,
        secret=endpoint.secret,
        message_id=message.event.public_id,
        body=_body_for(endpoint, message.event.payload),
    )
    finished = timezone.now()
    result: dict[str, Any] = {
        "last_attempt_at": now,
        "locked_until": None,
        "last_status_code": outcome.status_code,
        "last_response": outcome.response,
        "last_error": outcome.error,
        "last_duration_ms": outcome.duration_ms,
    }
    discord_endpoint = endpoint.format == Format.DISCORD
    wait = discord.rate_limit_wait(outcome.status_code, outcome.response, outcome.headers) if discord_endpoint else None
    hopeless = discord_endpoint and not discord.retrying_can_help(outcome.status_code)
    if outcome.ok:
        result.update(status=MessageStatus.DELIVERED, delivered_at=finished, next_attempt_at=None)
    elif message.attempts >= MAX_ATTEMPTS or hopeless:
        result.update(status=MessageStatus.FAILED, next_attempt_at=None)
    else:
        backoff = BACKOFF[message.attempts - 1]
        if wait is not None:
            backoff = max(backoff, timedelta(seconds=wait))
        result.update(next_attempt_at=finished + backoff)
    verdict = _verdict(outcome)
    if metrics.enabled():
        metrics.WEBHOOK_ATTEMPTS.labels(str(result.get("status", "retrying"))).inc()
    log = logger.info if outcome.ok else logger.warning
    log(
        "webhook attempt %s message=%s endpoint=%s attempt=%d status=%s duration_ms=%d error=%r next_attempt_at=%s%s",
        verdict,
        message_id,
        endpoint.pk,
        message.attempts,
        outcome.status_code,
        outcome.duration_ms,
        outcome.error,
        result.get("next_attempt_at"),
        # A refused Discord embed says why in its body; without it nobody can fix the cause.
        f" not retried, the receiver answered {outcome.response!r}" if hopeless else "",
    )
    with transaction.atomic():
        WebhookAttempt.objects.filter(pk=attempt.pk).update(
            finished_at=finished,
            status_code=outcome.status_code,
            response=outcome.response,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
        )
        if wait is not None:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(paused_until=finished + timedelta(seconds=wait))
        # Only while the lease is still this attempt's: an endpoint deleted meanwhile is gone.
        ours = WebhookMessage.objects.filter(pk=message_id, locked_by=worker, attempts=message.attempts)
        if ours.update(**result) and result.get("next_attempt_at"):
            transaction.on_commit(partial(_enqueue, message_id, result["next_attempt_at"]))
    if "status" in result:
        return str(result["status"])
    return "refused" if outcome.refused else "retrying"


def endpoint_send_test(*, endpoint: WebhookEndpoint) -> Outcome:
    """Send a ``webhook.test`` event to ``endpoint`` now, from this process, ahead of any
    backlog: signed like any other, never recorded in the feed or the outbox."""
    now, event_id = timezone.now(), new_event_id()
    body = {
        "id": event_id,
        "type": TEST_EVENT_TYPE,
        "created_at": rfc3339(now),
        "mode": endpoint.mode,
        "data": {"webhook": {"id": endpoint.pk, "url": endpoint.shown_url}},
    }
    payload = _body_for(endpoint, _json(body))
    outcome = send(url=endpoint.url, secret=endpoint.secret, message_id=event_id, body=payload)
    (logger.info if outcome.ok else logger.warning)(
        "webhook test %s endpoint=%s status=%s duration_ms=%d error=%r",
        _verdict(outcome),
        endpoint.pk,
        outcome.status_code,
        outcome.duration_ms,
        outcome.error,
    )
    return outcome


def backlog_metrics() -> Iterator[metrics.Metric]:
    """The messages still to deliver, read at scrape time (one indexed count: ``webhook_message_due``)."""
    pending = WebhookMessage.objects.filter(status=MessageStatus.PENDING).count()
    yield metrics.gauge("serverops_webhook_backlog", "Webhook messages not yet delivered nor failed.", pending)


@transaction.atomic
def message_resend(*, message: WebhookMessage) -> WebhookMessage:
    """Send a message again from now, with a fresh set of attempts (same ``webhook-id`` and body)."""
    WebhookMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), locked_until=None, delivered_at=None
    )
    transaction.on_commit(partial(_enqueue, message.pk))
    message.refresh_from_db()
    return message


@transaction.atomic
def messages_sweep(*, overdue: timedelta, limit: int = 1000) -> int:
    """Queue again the pending messages due for longer than ``overdue`` and not leased.

    The outbox row is the truth and the task queue a convenience: this recovers messages
    whose task was lost (a crash right after the commit, a worker killed mid-attempt).
    Rows another sweep is handling are skipped; a swept message is due again from now,
    so the next sweep leaves it to its fresh task for ``overdue`` longer.
    """
    now = timezone.now()
    unleased = Q(locked_until__isnull=True) | Q(locked_until__lte=now)
    # A message whose last attempts all died with their workers has used its attempts up all the same.
    WebhookMessage.objects.filter(unleased, status=MessageStatus.PENDING, attempts__gte=MAX_ATTEMPTS).update(
        status=MessageStatus.FAILED, next_attempt_at=None, locked_until=None
    )
    due = WebhookMessage.objects.filter(
        unleased, status=MessageStatus.PENDING, next_attempt_at__lte=now - overdue, attempts__lt=MAX_ATTEMPTS
    )
    ids = list(due.select_for_update(skip_locked=True).order_by("next_attempt_at").values_list("id", flat=True)[:limit])
    WebhookMessage.objects.filter(pk__in=ids).update(next_attempt_at=now)
    for message_id in ids:
        transaction.on_commit(partial(_enqueue, message_id))
    return len(ids)


def events_forget_players(*, players: Sequence[str], **_: Any) -> None:
    """Erased players (``players.signals.player_erased``) leave no name or identifier in the event
    record, which the feed serves and every delivery sends: each event naming one of them, sent or
    not, shows them as the API shows them now (a case's subjects; a merge's surviving player)."""
    erased = set(players)
    if not erased:
        return
    naming = Q()
    for player_id in erased:
        naming |= Q(payload__contains=f'"{player_id}"')
    for event in Event.objects.filter(naming).only("seq", "payload", "project_id", "mode"):
        body = json.loads(event.payload)
        data = body.get("data") or {}
        changed = erase_from_case(data.get("case"), erased)
        player = data.get("player")
        if isinstance(player, dict) and player.get("id") in erased:
            (row,) = player_rows("one", [player["id"], event.project_id, event.mode])
            data["player"] = player_representation(row)
            changed = True
        if changed:
            event.payload = _json(body)
            event.save(update_fields=["payload"])
