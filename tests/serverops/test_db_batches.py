"""Statements bound by PostgreSQL's server take at most 65,535 parameters; Django's batches stay under that."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from cases.models import ActorType, Case, CaseEvent
from serverops.db.postgresql.base import MAX_BOUND_PARAMETERS
from tests.factories import CaseFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL backend; .ci/run runs this file with DATABASE_URL set")


def test_a_case_with_more_history_than_one_statement_can_bind_is_deleted(project) -> None:
    case = CaseFactory(project=project)
    now = timezone.now()
    events = [
        CaseEvent(
            case=case,
            created_at=now,
            actor_type=ActorType.SYSTEM,
            actor_id="t",
            actor_name="t",
            changes={},
            prev_hash=f"{n + 1:064x}",  # no two follow the same event (event_chain_no_fork)
        )
        for n in range(MAX_BOUND_PARAMETERS + 10)
    ]
    # 10 columns per event: one INSERT of them all would bind over 500,000 parameters.
    CaseEvent.objects.bulk_create(events)
    assert CaseEvent.objects.filter(case=case).count() == len(events) + 1  # and the case's first event

    # The deletion collects the events, then their webhook messages by event id, in batches.
    Case.objects.filter(pk=case.pk).delete()

    assert not CaseEvent.objects.filter(case_id=case.pk).exists()


def test_batches_stay_under_the_limit() -> None:
    ops = connection.ops
    assert ops.bulk_batch_size(["id"], range(100)) == 100
    assert ops.bulk_batch_size(["id"], range(200_000)) == MAX_BOUND_PARAMETERS
    assert ops.bulk_batch_size(["a", "b", "c"], range(200_000)) == MAX_BOUND_PARAMETERS // 3
