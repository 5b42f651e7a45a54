"""Case history (issue 5): every change, by whoever makes it, recorded with the change itself."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from cases.models import Case, CaseEvent
from cases.services import Actor, case_update
from tests.factories import CaseFactory, ProjectFactory, TokenFactory

pytestmark = pytest.mark.django_db


def _events(call, case_id: str, query: str = "") -> dict:
    r = call("GET", f"/v1/cases/{case_id}/events{query}")
    assert r.status_code == 200, r.content
    return r.json()


def test_api_create_and_patch_are_recorded_with_the_token_and_request_id(call, token) -> None:
    created = call("POST", "/v1/cases", json_body={"title": "Aimbot"}, headers={"X-Request-Id": "create-1"})
    case_id = created.json()["id"]
    call(
        "PATCH",
        f"/v1/cases/{case_id}",
        json_body={"status": "closed", "title": "Aimbot"},
        headers={"X-Request-Id": "patch-1"},
    )

    body = _events(call, case_id)
    assert body["has_more"] is False and body["next_cursor"] is None
    first, second = body["events"]
    actor = {"type": "token", "id": token.id, "name": token.name}
    assert first["actor"] == actor and second["actor"] == actor
    assert first["request_id"] == "create-1" and second["request_id"] == "patch-1"
    assert first["changes"] == {
        "title": {"from": None, "to": "Aimbot"},
        "description": {"from": None, "to": ""},
        "status": {"from": None, "to": "open"},
        "attachments": {"from": None, "to": []},
        "subjects": {"from": None, "to": []},
        "assignee": {"from": None, "to": None},
        "priority": {"from": None, "to": "normal"},
        "labels": {"from": None, "to": []},
    }
    assert second["changes"] == {"status": {"from": "open", "to": "closed"}}  # the unchanged title is not listed
    assert first["id"].startswith("ev_") and first["created_at"] <= second["created_at"]


def test_a_noop_patch_records_nothing(call, case) -> None:
    before = CaseEvent.objects.filter(case=case).count()
    assert call("PATCH", f"/v1/cases/{case.id}", json_body={"title": case.title}).status_code == 200
    assert CaseEvent.objects.filter(case=case).count() == before


def test_a_refused_patch_records_nothing(call, case) -> None:
    before = CaseEvent.objects.filter(case=case).count()
    call("PATCH", f"/v1/cases/{case.id}", json_body={"status": "closed"}, headers={"If-Match": '"stale"'})
    call("PATCH", f"/v1/cases/{case.id}", json_body={"title": ""})
    assert CaseEvent.objects.filter(case=case).count() == before


def test_the_event_shares_the_changes_transaction(case) -> None:
    @transaction.atomic
    def change_then_fail() -> None:
        case_update(case_id=case.id, changes={"status": "closed"}, actor=Actor.system("t"))
        raise RuntimeError("the caller's transaction fails after the change")

    with pytest.raises(RuntimeError):
        change_then_fail()
    case.refresh_from_db()
    assert case.status == "open"
    assert CaseEvent.objects.filter(case=case).count() == 1  # only the create event


def test_archive_cases_records_a_system_event_per_case(project) -> None:
    old = [CaseFactory(project=project, status="closed") for _ in range(3)]
    Case.objects.filter(pk__in=[c.pk for c in old]).update(updated_at=timezone.now() - timedelta(days=40))
    call_command("archive_cases", "--closed-for", "30d", stdout=StringIO(), stderr=StringIO())
    for case in old:
        last = CaseEvent.objects.filter(case=case).last()
        assert last is not None
        assert (last.actor_type, last.actor_id) == ("system", "archive_cases")
        assert last.changes == {"status": {"from": "closed", "to": "archived"}}


def test_events_are_paged_oldest_first(call, case) -> None:
    for n in range(9):
        call("PATCH", f"/v1/cases/{case.id}", json_body={"description": f"revision {n}"})
    seen = []
    cursor = ""
    while True:
        body = _events(call, case.id, f"?limit=4{cursor}")
        seen += body["events"]
        if not body["has_more"]:
            break
        cursor = f"&cursor={body['next_cursor']}"
    assert len(seen) == 10  # the create and nine changes
    assert [e["changes"].get("description", {}).get("to") for e in seen[1:]] == [f"revision {n}" for n in range(9)]
    assert len({e["id"] for e in seen}) == 10


@pytest.mark.parametrize("query", ["?limit=0", "?limit=101", "?cursor=nope"])
def test_bad_event_paging_parameters_are_400(call, case, query) -> None:
    r = call("GET", f"/v1/cases/{case.id}/events{query}")
    assert r.status_code == 400, r.content


def test_events_of_a_case_outside_the_tokens_view_are_404(call, project) -> None:
    hidden = CaseFactory(project=ProjectFactory())
    for case_id in (hidden.id, "c_01JD3Z8W6V4M2Q9T7K5X1B0N3R", "nope"):
        r = call("GET", f"/v1/cases/{case_id}/events")
        assert r.status_code == 404, r.content
        assert r.json()["error"]["message"] == "case not found"


def test_events_need_cases_read(call, case, project) -> None:
    writer = TokenFactory(project=project, scopes=["cases:write"])
    r = call("GET", f"/v1/cases/{case.id}/events", auth=f"Bearer {writer.plaintext}")
    assert r.status_code == 403, r.content
    assert r["X-Accepted-Scopes"] == "cases:read"
