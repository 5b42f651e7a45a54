"""cases 0008: a case's history is read through ``case_event_order``, in order, without a sort;
the events table keeps no index of the case column alone (and the migration puts it back)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from cases.models import ActorType, Case, CaseEvent
from cases.views import EventPagination
from tests.factories import CaseFactory
from tests.migrations import at_migration

BEFORE = [("cases", "0008_roles_replace_the_case_moderators_group")]
EVENTS = 300


def _indexes_of_the_case_column_alone() -> list[str]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, CaseEvent._meta.db_table)
    return sorted(
        name
        for name, about in found.items()
        if about["index"] and not about["unique"] and about["columns"] == ["case_id"]
    )


@pytest.mark.django_db(transaction=True)
def test_the_migration_drops_the_case_columns_index_and_puts_it_back() -> None:
    assert _indexes_of_the_case_column_alone() == []
    with at_migration(BEFORE):
        expected = ["cases_caseevent_case_id_6c6031ac"]
        if connection.vendor == "postgresql":
            expected.append("cases_caseevent_case_id_6c6031ac_like")
        assert _indexes_of_the_case_column_alone() == expected
    assert _indexes_of_the_case_column_alone() == []


@pytest.mark.django_db
def test_a_page_of_a_long_history_is_read_in_index_order_without_a_sort() -> None:
    busy: Case = CaseFactory()
    others = CaseFactory.create_batch(20, project=busy.project)
    start = timezone.now()
    CaseEvent.objects.bulk_create(
        CaseEvent(
            case=case,
            created_at=start + timedelta(seconds=n),
            actor_type=ActorType.SYSTEM,
            actor_id="test",
            actor_name="test",
            changes={"status": {"from": "open", "to": "closed"}},
            prev_hash=f"{n + 1000:064x}",  # after the first event the factory writes
            hash=f"{n + 1001:064x}",
        )
        for case in [busy, *others]
        for n in range(EVENTS if case is busy else 3)
    )
    middle = CaseEvent.objects.filter(case=busy).order_by("created_at", "id")[EVENTS // 2]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {CaseEvent._meta.db_table}")
            # A table this small is cheapest to scan whole; the question is which index a large one uses.
            cursor.execute("SET LOCAL enable_seqscan = off")
        else:
            cursor.execute("ANALYZE")
    pagination = EventPagination()
    for position in (None, (middle.created_at, middle.pk)):
        page = pagination.after(CaseEvent.objects.filter(case_id=busy.pk), position)[:51]
        plan = page.explain()
        assert "case_event_order" in plan, plan
        assert "Sort" not in plan, plan  # PostgreSQL
        assert "TEMP B-TREE" not in plan, plan  # SQLite
        assert len(page) == 51
