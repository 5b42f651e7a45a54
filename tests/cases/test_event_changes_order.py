"""A CaseEvent's ``changes`` read the same on SQLite and PostgreSQL (jsonb keeps its own key order)."""

from __future__ import annotations

import json

import pytest

from cases.models import CaseEvent
from cases.serializers import ordered_changes

pytestmark = pytest.mark.django_db


def test_changes_follow_the_case_field_order_whatever_order_they_were_sent_in(call, case) -> None:
    # Sent in the reverse of the Case's order, with keys jsonb would sort by length.
    body = b'{"status": "closed", "description": "longer text here", "title": "Renamed"}'
    assert call("PATCH", f"/v1/cases/{case.id}", body=body).status_code == 200
    r = call("GET", f"/v1/cases/{case.id}/events")
    assert r.status_code == 200, r.content
    # The raw bytes, so the order is the one on the wire.
    events = json.loads(r.content)["events"]
    create, update = events
    assert list(create["changes"]) == [
        "title",
        "description",
        "status",
        "attachments",
        "subjects",
        "assignee",
        "priority",
        "labels",
    ]
    assert list(update["changes"]) == ["title", "description", "status"]
    for change in [*create["changes"].values(), *update["changes"].values()]:
        assert list(change) == ["from", "to"]
    assert update["changes"]["status"] == {"from": "open", "to": "closed"}


def test_stored_changes_are_reordered_on_the_way_out(case) -> None:
    event = CaseEvent.objects.get(case=case)
    event.changes = {
        "zeta": {"to": 1, "from": 0},
        "status": {"to": "b", "from": "a"},
        "title": {"to": "t", "from": None},
    }
    assert list(ordered_changes(event.changes)) == ["title", "status", "zeta"]
    assert list(ordered_changes(event.changes)["status"]) == ["from", "to"]
