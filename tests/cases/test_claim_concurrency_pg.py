"""Two moderators claim the same case at once (docs/operations.md, "The queue"): one wins, the
other is told who holds it, and the case is never taken over (PostgreSQL, real threads)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from cases import chain
from cases.models import ActorType, Case, CaseEvent
from cases.services import Actor, AlreadyClaimed, case_claim
from tests.factories import CaseFactory, MemberFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

ROUNDS = 20


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; .ci/run runs this file with DATABASE_URL set")


def test_two_moderators_claiming_at_once_one_wins_the_other_is_told() -> None:
    first = CaseFactory()
    moderators = [MemberFactory(organisation=first.project.organisation) for _ in range(2)]
    cases = [first, *(CaseFactory(project=first.project) for _ in range(ROUNDS - 1))]
    outcomes: dict[str, list[tuple[str, str]]] = {case.pk: [] for case in cases}
    errors: list[str] = []

    def claimer(member_id: str, user_id: int, start: threading.Barrier) -> None:
        actor = Actor(ActorType.STAFF, str(user_id), "moderator")
        try:
            for case in cases:
                start.wait(timeout=30)
                try:
                    case_claim(case_id=case.pk, member_id=member_id, actor=actor)
                except AlreadyClaimed as exc:
                    outcomes[case.pk].append(("told", exc.holder))
                else:
                    outcomes[case.pk].append(("won", member_id))
        except Exception as exc:  # reported by the main thread
            errors.append(repr(exc))
        finally:
            connections.close_all()

    start = threading.Barrier(2)
    threads = [threading.Thread(target=claimer, args=(m.pk, m.user_id, start)) for m in moderators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors, errors
    for case in cases:
        results = sorted(outcomes[case.pk])
        assert [kind for kind, _ in results] == ["told", "won"], results
        winner = results[1][1]
        # The one told names the winner, and the winner holds the case.
        assert results[0][1] == winner
        stored = Case.objects.get(pk=case.pk)
        assert stored.assignee_id == winner
        events = list(CaseEvent.objects.filter(case_id=case.pk).order_by("created_at", "id"))
        assert [e.changes for e in events[1:]] == [{"assignee": {"from": None, "to": winner}}]
        assert chain.verify(case.pk, stored.history_head, events)[1] is None
