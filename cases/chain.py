"""A case's history as a hash chain (docs/api.md, "Evidence with a chain of custody").

Each event's ``hash`` is the SHA-256 of the RFC 8785 (JCS) canonical JSON of ``{"prev_hash",
"id", "case", "created_at", "actor", "request_id", "changes"}``, each value as the event's
JSON in the API shows it; ``prev_hash`` is the hash of the case's previous event, 64 zeros
for its first. The case row keeps the hash of its last event (``Case.history_head``), so an
event missing at the end is caught too. Recomputation is the check (as in RFC 6962): nothing
stored is trusted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import rfc8785

from serverops.fields import rfc3339

GENESIS = "0" * 64
# The columns of a CaseEvent that ``verify`` reads.
HASHED_COLUMNS = (
    "id",
    "case_id",
    "created_at",
    "actor_type",
    "actor_id",
    "actor_name",
    "request_id",
    "changes",
    "prev_hash",
    "hash",
)


class EventRow(Protocol):
    """What a hash is computed from: a ``CaseEvent`` (or a historical model's row)."""

    id: str
    case_id: str
    created_at: Any
    actor_type: str
    actor_id: str
    actor_name: str
    request_id: str
    changes: Any
    prev_hash: str


def document(event: EventRow) -> dict[str, Any]:
    """The hashed object of ``event``: its API JSON (without ``hash``) and its case's id."""
    return {
        "prev_hash": event.prev_hash,
        "id": event.id,
        "case": event.case_id,
        "created_at": rfc3339(event.created_at),
        "actor": {"type": event.actor_type, "id": event.actor_id, "name": event.actor_name},
        "request_id": event.request_id or None,
        "changes": event.changes,
    }


def hash_of(hashed: Mapping[str, Any]) -> str:
    """SHA-256 (64 lowercase hex) of ``hashed``'s RFC 8785 canonical JSON."""
    return hashlib.sha256(rfc8785.dumps(dict(hashed))).hexdigest()


def event_hash(event: EventRow) -> str:
    return hash_of(document(event))


class Linkable(Protocol):
    history_head: str


def link(case: Linkable, event: Any) -> None:
    """Append ``event`` to ``case``'s chain: its ``prev_hash`` is the case's head, its ``hash``
    computed, and the head moved to it.

    The caller holds what it read the head with (the case's row lock, or the compare-and-set
    of ``cases.queries.case_save_with_event``) until the head and the event are written in one
    transaction. ``event`` carries its id and ``created_at`` (every value that is hashed).
    """
    event.prev_hash = case.history_head
    event.hash = event_hash(event)
    case.history_head = event.hash


@dataclass(frozen=True)
class Break:
    """Where a chain stops verifying: the event (``None`` when all events verify but the
    case's head names another), its position (1-based), and why."""

    case_id: str
    event_id: str | None
    position: int
    reason: str

    def __str__(self) -> str:
        where = f"event {self.event_id} (#{self.position})" if self.event_id else f"after event #{self.position}"
        return f"case {self.case_id}: chain broken at {where}: {self.reason}"


def verify(case_id: str, head: str, events: Iterable[EventRow]) -> tuple[int, Break | None]:
    """Recompute the chain of ``events`` (a case's, oldest first, read as they come) and check
    it ends at ``head``. Returns how many events were read and the first break, if any."""
    expected = GENESIS
    count = 0
    for event in events:
        count += 1
        if event.prev_hash != expected:
            return count, Break(case_id, event.id, count, "prev_hash does not follow the event before it")
        stored: str = event.hash  # type: ignore[attr-defined]
        if event_hash(event) != stored:
            return count, Break(case_id, event.id, count, "hash does not match the event's content")
        expected = stored
    if head != expected:
        return count, Break(case_id, None, count, "the case's head is not its last event's hash (events missing)")
    return count, None


def by_case(cases: Iterable[tuple[str, str]], events: Iterable[Any]) -> Generator[tuple[str, str, Iterator[Any]]]:
    """Join ``cases`` (``(id, head)``) with ``events`` (theirs only, in the same order of case
    ids, each case's in chain order) as ``(case id, head, its events)``, reading both as they
    come: the memory of one event, whatever the number of cases and events."""
    stream = iter(events)
    pending = next(stream, None)

    def of(case_id: str) -> Iterator[Any]:
        nonlocal pending
        while pending is not None and pending.case_id == case_id:
            yield pending
            pending = next(stream, None)

    for case_id, head in cases:
        own = of(case_id)
        yield case_id, head, own
        for _ in own:  # what the caller left unread
            pass
