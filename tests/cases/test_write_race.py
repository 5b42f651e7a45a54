"""A PATCH that loses a race to another writer reads the case again and keeps both changes (both databases).

The other writer is made to land between the PATCH's read and its write, deterministically:
``cases.queries.case_with_evidence`` is wrapped so that its first read is followed by a change.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from cases import queries
from cases.models import Case, CaseEvent, Status
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def raced(monkeypatch: pytest.MonkeyPatch):
    """After the PATCH's first read, another writer sets the case's status to closed."""
    reads: list[bool] = []
    read = queries.case_with_evidence

    def read_then_race(case_id: str, **kwargs):
        case = read(case_id, **kwargs)
        reads.append(kwargs.get("lock", False))
        if len(reads) == 1:
            Case.objects.filter(pk=case_id).update(
                status=Status.CLOSED, updated_at=case.updated_at + timedelta(milliseconds=1)
            )
        return case

    monkeypatch.setattr(queries, "case_with_evidence", read_then_race)
    return reads


def test_the_loser_of_a_race_reads_again_under_the_lock_and_keeps_both_changes(call, project, raced) -> None:
    case = CaseFactory(project=project, title="before", status=Status.OPEN)
    r = call("PATCH", f"/v1/cases/{case.id}", json_body={"title": "after"})
    assert r.status_code == 200, r.content
    assert raced == [False, True]  # optimistic read, then the locked one
    assert (r.json()["title"], r.json()["status"]) == ("after", "closed")
    stored = Case.objects.get(pk=case.pk)
    assert (stored.title, stored.status) == ("after", Status.CLOSED)
    event = CaseEvent.objects.filter(case=case).order_by("created_at", "id").last()
    assert event is not None
    assert event.changes == {"title": {"from": "before", "to": "after"}}
    assert stored.updated_at == event.created_at


def test_a_stale_if_match_after_the_race_is_refused(call, project, raced) -> None:
    case = CaseFactory(project=project, title="before")
    etag = Case.objects.get(pk=case.pk).etag  # current when the PATCH reads, stale by the time it writes
    r = call("PATCH", f"/v1/cases/{case.id}", json_body={"title": "after"}, headers={"If-Match": etag})
    assert r.status_code == 412, r.content
    assert raced == [False, True]
    assert Case.objects.get(pk=case.pk).title == "before"
