"""Writes to webhook endpoints and their outbox: the one place their rules run."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import timedelta
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from cases.models import Case, CaseEvent
from cases.queries import load_evidence, load_subjects
from cases.serializers import case_representation, ordered_changes
from media.storage import FileLinks
from serverops import metrics, sql
from serverops.conf import serverops_setting
from serverops.fields import rfc3339
from tokens.models import Mode, Project

from .delivery import AddressRefused, check_url, new_secret, send
from .models import EventType, MessageStatus, WebhookAttempt, WebhookEndpoint, WebhookMessage

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
# The task engine logs every task that returns as SUCCESSFUL, delivered or not: this line says which.
logger = logging.getLogger("webhooks")


def clean_url(url: str) -> str:
    """The endpoint URL, or ``ValidationError`` when webhooks may not be sent there (``check_url``)."""
    url = url.strip()
    if len(url) > WebhookEndpoint._meta.get_field("url").max_length:  # type: ignore[operator]
        raise ValidationError("the URL is longer than 2000 characters")
    try:
        check_url(url)
    except AddressRefused as exc:
        raise ValidationError(f"URL refused: {exc}") from None
    return url


def clean_events(events: Sequence[str]) -> list[str]:
    """The event types, in their canonical order; all of them when none are named."""
    unknown = sorted(set(events) - set(EventType.values))
    if unknown:
        raise ValidationError(f"unknown event type(s): {', '.join(unknown)}; known: {', '.join(EventType.values)}")
    return [event for event in EventType.values if event in events or not events]


@transaction.atomic
def endpoint_create(
    *, project: Project, mode: Mode | str, url: str, events: Sequence[str] = (), created_by: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it with its signing secret, the only time the secret is returned.

    Raises ``ValidationError`` for a URL that is refused (``clean_url``) or an unknown event type.
    """
    if mode not in Mode.values:
        raise ValidationError(f"mode must be one of {', '.join(Mode.values)}")
    secret = new_secret()
    endpoint = WebhookEndpoint(
        project=project,
        mode=mode,
        url=clean_url(url),
        events=clean_events(events),
        secret=secret,
        created_by=created_by,
    )
    endpoint.full_clean(exclude=["project", "secret"])
    endpoint.save(force_insert=True)
    return endpoint, secret


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint with its outbox: messages not yet delivered are dropped."""
    endpoint.delete()


def _event_type(event: CaseEvent) -> EventType:
    # A case's first event sets every field from nothing; no later change sets a title from nothing.
    title = event.changes.get("title")
    return EventType.CASE_CREATED if title is not None and title["from"] is None else EventType.CASE_UPDATED


def _body(event: CaseEvent, event_type: EventType, case: Case) -> str:
    """The event body (docs/api.md#webhooks): the event, and the Case exactly as the API
    returns it after this change."""
    return json.dumps(
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
        },
        cls=DjangoJSONEncoder,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _enqueue(message_id: str, run_after: Any = None) -> None:
    from .tasks import deliver_message

    task = deliver_message if run_after is None else deliver_message.using(run_after=run_after)
    task.enqueue(message_id)


def _endpoints_of(keys: set[tuple[str, str]]) -> list[WebhookEndpoint]:
    """The endpoints of each ``(project id, mode)`` in ``keys``, in one statement.

    Every write of a case asks, so the statement is written as SQL (``serverops.sql``): the
    ORM's building of it cost 0.83 ms of Python per write, the statement itself 0.18 ms.
    """
    where = " OR ".join(["(t.project_id = %s AND t.mode = %s)"] * len(keys))
    return sql.select(WebhookEndpoint, where, [value for key in sorted(keys) for value in key], using=connection.alias)


def messages_create_for_events(*, events: Sequence[CaseEvent], current: bool = True, **_: Any) -> list[WebhookMessage]:
    """Outbox rows for ``events`` (the ``case_events_recorded`` receiver), in the change's transaction.

    One query when the project and mode have no endpoint, which is the common case; the
    messages are queued for delivery once the transaction commits. ``current=False``
    means the events' cases are stale (a bulk UPDATE): the ones with endpoints are re-read.
    """
    if not events:
        return []
    endpoints: defaultdict[tuple[str, str], list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in _endpoints_of({(event.case.project_id, event.case.mode) for event in events}):
        endpoints[(endpoint.project_id, endpoint.mode)].append(endpoint)
    if not endpoints:
        return []
    heard = [event for event in events if (event.case.project_id, event.case.mode) in endpoints]
    cases = {event.case_id: event.case for event in heard}
    if not current:
        cases = Case.objects.in_bulk(list(cases))
        load_evidence(cases.values())
        load_subjects(cases.values())
    now = timezone.now()
    messages = []
    for event in heard:
        case = cases[event.case_id]
        event_type = _event_type(event)
        body: str | None = None
        for endpoint in endpoints[(case.project_id, case.mode)]:
            if event_type in endpoint.events:
                body = body or _body(event, event_type, case)
                messages.append(
                    WebhookMessage(
                        endpoint=endpoint, event=event, event_type=event_type, payload=body, next_attempt_at=now
                    )
                )
    WebhookMessage.objects.bulk_create(messages)
    for message in messages:
        transaction.on_commit(partial(_enqueue, message.id))
    return messages


def _lease() -> timedelta:
    # Never shorter than an attempt can take, or a second worker could send the message meanwhile.
    seconds = max(serverops_setting("WEBHOOK_LEASE_SECONDS"), serverops_setting("WEBHOOK_TIMEOUT_SECONDS") + 5)
    return timedelta(seconds=seconds)


def _claimable(now: Any) -> Q:
    return Q(status=MessageStatus.PENDING, next_attempt_at__lte=now, attempts__lt=MAX_ATTEMPTS) & (
        Q(locked_until__isnull=True) | Q(locked_until__lte=now)
    )


def message_deliver(*, message_id: str, worker: str) -> str:
    """Make one delivery attempt of a due message; returns what became of it.

    The claim is one conditional UPDATE (pending, due, lease free → leased to ``worker``),
    atomic on PostgreSQL and SQLite alike, so among any number of workers exactly one
    sends the message; the others get ``"skipped"``. The HTTP request runs outside any
    transaction. A 2xx is delivered; anything else waits its ``BACKOFF`` step and is
    queued again, until the last attempt fails it.
    """
    now = timezone.now()
    claimed = WebhookMessage.objects.filter(_claimable(now), pk=message_id).update(
        locked_until=now + _lease(), locked_by=worker, attempts=F("attempts") + 1
    )
    if not claimed:
        return "skipped"
    message = WebhookMessage.objects.select_related("endpoint").get(pk=message_id)
    attempt = WebhookAttempt.objects.create(message=message, number=message.attempts, worker=worker, started_at=now)
    outcome = send(
        url=message.endpoint.url,
        secret=message.endpoint.secret,
        message_id=message.event_id,
        body=message.payload.encode(),
    )
    finished = timezone.now()
    result = {
        "last_attempt_at": now,
        "locked_until": None,
        "last_status_code": outcome.status_code,
        "last_response": outcome.response,
        "last_error": outcome.error,
        "last_duration_ms": outcome.duration_ms,
    }
    if outcome.ok:
        result.update(status=MessageStatus.DELIVERED, delivered_at=finished, next_attempt_at=None)
    elif message.attempts >= MAX_ATTEMPTS:
        result.update(status=MessageStatus.FAILED, next_attempt_at=None)
    else:
        result.update(next_attempt_at=finished + BACKOFF[message.attempts - 1])
    if metrics.enabled():
        metrics.WEBHOOK_ATTEMPTS.labels(str(result.get("status", "retrying"))).inc()
    log = logger.info if outcome.ok else logger.warning
    log(
        "webhook attempt %s message=%s endpoint=%s attempt=%d status=%s duration_ms=%d error=%r next_attempt_at=%s",
        "delivered" if outcome.ok else "failed",
        message_id,
        message.endpoint_id,
        message.attempts,
        outcome.status_code,
        outcome.duration_ms,
        outcome.error,
        result.get("next_attempt_at"),
    )
    with transaction.atomic():
        WebhookAttempt.objects.filter(pk=attempt.pk).update(
            finished_at=finished,
            status_code=outcome.status_code,
            response=outcome.response,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
        )
        # Only while the lease is still this attempt's: an endpoint deleted meanwhile is gone.
        ours = WebhookMessage.objects.filter(pk=message_id, locked_by=worker, attempts=message.attempts)
        if ours.update(**result) and result.get("next_attempt_at"):
            transaction.on_commit(partial(_enqueue, message_id, result["next_attempt_at"]))
    return str(result.get("status", "retrying"))


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
