"""cases 0006: every existing event is chained, oldest first, and each case's head set; back, the
events are as they were; forward again, the same hashes."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from cases import chain
from cases.models import Case, CaseEvent
from tests.migrations import at_migration, migrate

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("cases", "0006_casesubject")]
AFTER = [("cases", "0007_history_chain")]


@pytest.fixture
def old_apps() -> Iterator[Any]:
    """The database as it was before 0007; migrated to the latest state afterwards."""
    with at_migration(BEFORE) as apps:
        yield apps


def _history(apps: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Each case's events as the old schema stores them, in the history's order."""
    rows = apps.get_model("cases", "CaseEvent").objects.order_by("case_id", "created_at", "id")
    history: dict[str, list[tuple[Any, ...]]] = {}
    for e in rows:
        history.setdefault(e.case_id, []).append(
            (e.id, e.created_at, e.actor_type, e.actor_id, e.actor_name, e.request_id, e.changes)
        )
    return history


def _old_data(apps: Any) -> list[Any]:
    organisation = apps.get_model("tokens", "Organisation").objects.create(name="Org")
    project = apps.get_model("tokens", "Project").objects.create(organisation=organisation, name="Server")
    Case = apps.get_model("cases", "Case")
    Event = apps.get_model("cases", "CaseEvent")
    cases = [Case.objects.create(project=project, mode="live", title=f"case {n}") for n in range(3)]
    now = timezone.now()
    # Inserted out of order, one case with none: the chain follows created_at, then id.
    for n, case in enumerate(cases[:2]):
        for age in (1, 3, 2):
            event = Event.objects.create(
                case=case,
                actor_type="token",
                actor_id="tok_1",
                actor_name="bot ☃",
                request_id="" if age == 2 else f"req-{age}",
                changes={"title": {"from": f"é {age}", "to": f"\u2028 {n}"}, "attachments": {"from": [], "to": []}},
            )
            Event.objects.filter(pk=event.pk).update(created_at=now - timedelta(hours=age))
    return cases


def _verify() -> str:
    out = io.StringIO()
    call_command("verify_history", stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def _head(case_id: str) -> str:
    # The columns of 0007's state only: later migrations add others to the model.
    head: str = Case.objects.values_list("history_head", flat=True).get(pk=case_id)
    return head


def test_existing_events_are_chained_oldest_first(old_apps: Any) -> None:
    cases = _old_data(old_apps)
    before = _history(old_apps)

    migrate(AFTER)

    assert _verify() == "verified 3 cases, 6 events"
    for case in cases[:2]:
        events = list(CaseEvent.objects.filter(case_id=case.pk).order_by("created_at", "id"))
        assert [e.pk for e in events] == [row[0] for row in before[case.pk]]
        assert events[0].prev_hash == chain.GENESIS
        # The migration's own copy of the computation agrees with the application's.
        assert [e.hash for e in events] == [chain.event_hash(e) for e in events]
        assert _head(case.pk) == events[-1].hash
    assert _head(cases[2].pk) == chain.GENESIS


def test_migrating_back_keeps_every_event_and_forward_again_gives_the_same_chain(old_apps: Any) -> None:
    _old_data(old_apps)
    before = _history(old_apps)
    migrate(AFTER)
    hashes = dict(CaseEvent.objects.values_list("id", "hash"))

    apps = migrate(BEFORE)

    assert _history(apps) == before
    columns = [c.name for c in connection.introspection.get_table_description(connection.cursor(), "cases_caseevent")]
    assert "hash" not in columns and "prev_hash" not in columns

    migrate(AFTER)
    assert dict(CaseEvent.objects.values_list("id", "hash")) == hashes
