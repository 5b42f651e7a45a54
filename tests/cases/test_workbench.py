"""Working a case through the API (docs/api.md#working-a-case): assignee, priority and labels on
create and PATCH, in the history and the list's filters; what is refused changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from cases import chain
from cases.models import Case, CaseEvent
from tests.factories import CaseFactory, MemberFactory, ProjectFactory, StaffFactory
from tokens.models import Member, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def moderator(project) -> Member:
    return MemberFactory(
        organisation=project.organisation, user=StaffFactory(first_name="Ada", last_name="Moss"), role=Role.MODERATOR
    )


def _database() -> tuple[Any, ...]:
    return (
        list(Case.objects.order_by("pk").values()),
        list(CaseEvent.objects.order_by("pk").values()),
    )


def test_new_case_defaults_to_no_assignee_normal_priority_and_no_labels(call) -> None:
    r = call("POST", "/v1/cases", json_body={"title": "Spam in chat"})

    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["assignee"], body["priority"], body["labels"]) == (None, "normal", [])
    first = CaseEvent.objects.get(case_id=body["id"]).changes
    assert first["assignee"] == {"from": None, "to": None}
    assert first["priority"] == {"from": None, "to": "normal"}
    assert first["labels"] == {"from": None, "to": []}


def test_create_with_assignee_priority_and_labels(call, moderator) -> None:
    r = call(
        "POST",
        "/v1/cases",
        json_body={"title": "Aimbot", "assignee": moderator.pk, "priority": "urgent", "labels": ["cheating", "EU"]},
    )

    assert r.status_code == 201, r.content
    body = r.json()
    assert body["assignee"] == {"id": moderator.pk, "name": "Ada Moss"}
    assert body["priority"] == "urgent"
    assert body["labels"] == ["cheating", "EU"]
    assert call("GET", f"/v1/cases/{body['id']}").json() == body


@pytest.mark.parametrize(
    ("names", "shown"),
    [
        pytest.param({"first_name": "Ada", "last_name": ""}, "Ada", id="first-name-only"),
        pytest.param({"username": "ada", "email": "ada@example.org"}, "ada", id="username"),
        pytest.param({"username": "", "email": "ada@example.org"}, "ada@example.org", id="email"),
    ],
)
def test_assignee_name_is_full_name_else_username_else_email(call, project, names, shown) -> None:
    member = MemberFactory(organisation=project.organisation, user=StaffFactory(**names))
    case = CaseFactory(project=project, assignee=member.pk)

    # The joined read (GET), the list's page and the ORM's path (the PATCH response) agree.
    assert call("GET", f"/v1/cases/{case.pk}").json()["assignee"]["name"] == shown
    assert call("GET", "/v1/cases").json()["cases"][0]["assignee"]["name"] == shown
    patched = call("PATCH", f"/v1/cases/{case.pk}", json_body={"assignee": None, "title": "x"}).json()
    assert patched["assignee"] is None
    patched = call("PATCH", f"/v1/cases/{case.pk}", json_body={"assignee": member.pk}).json()
    assert patched["assignee"] == {"id": member.pk, "name": shown}


def test_patch_records_each_change_in_the_chained_history(call, case, moderator) -> None:
    changes = {"assignee": moderator.pk, "priority": "high", "labels": ["griefing"]}

    r = call("PATCH", f"/v1/cases/{case.pk}", json_body=changes)

    assert r.status_code == 200, r.content
    event = CaseEvent.objects.filter(case=case).order_by("-created_at", "-id").first()
    assert event is not None
    assert event.changes == {
        "assignee": {"from": None, "to": moderator.pk},
        "priority": {"from": "normal", "to": "high"},
        "labels": {"from": [], "to": ["griefing"]},
    }
    events = call("GET", f"/v1/cases/{case.pk}/events").json()["events"]
    assert list(events[-1]["changes"]) == ["assignee", "priority", "labels"]
    stored = Case.objects.get(pk=case.pk)
    assert chain.verify(case.pk, stored.history_head, CaseEvent.objects.filter(case=case))[1] is None


def test_patch_that_changes_nothing_writes_nothing(call, project, moderator) -> None:
    case = CaseFactory(project=project, assignee=moderator.pk, priority="low", labels=["a"])
    before = _database()

    r = call("PATCH", f"/v1/cases/{case.pk}", json_body={"assignee": moderator.pk, "priority": "low", "labels": ["a"]})

    assert r.status_code == 200, r.content
    assert _database() == before


def test_renaming_the_assignee_changes_the_etag(call, project, moderator) -> None:
    case = CaseFactory(project=project, assignee=moderator.pk)
    etag = call("GET", f"/v1/cases/{case.pk}")["ETag"]
    moderator.user.first_name = "Adele"
    moderator.user.save()

    r = call("GET", f"/v1/cases/{case.pk}", headers={"If-None-Match": etag})

    assert r.status_code == 200, r.content
    assert r.json()["assignee"]["name"] == "Adele Moss"


# What is refused, naming the field, and writing nothing.
BAD: list[Any] = [
    pytest.param({"assignee": "{viewer}"}, "assignee", id="assignee-viewer"),
    pytest.param({"assignee": "{other_org}"}, "assignee", id="assignee-other-organisation"),
    pytest.param({"assignee": "mem_01JD3Z8W6V4M2Q9T7K5X1B0N3R"}, "assignee", id="assignee-unknown"),
    pytest.param({"assignee": "nobody"}, "assignee", id="assignee-not-an-id"),
    pytest.param({"assignee": 7}, "assignee", id="assignee-number"),
    pytest.param({"assignee": {"id": "{moderator}"}}, "assignee", id="assignee-object"),
    pytest.param({"priority": "critical"}, "priority", id="priority-unknown"),
    pytest.param({"priority": None}, "priority", id="priority-null"),
    pytest.param({"priority": "URGENT"}, "priority", id="priority-upper-case"),
    pytest.param({"labels": [f"l{n}" for n in range(11)]}, "labels", id="labels-eleven"),
    pytest.param({"labels": ["x" * 41]}, "labels", id="labels-41-characters"),
    pytest.param({"labels": [""]}, "labels", id="labels-empty-label"),
    pytest.param({"labels": ["Spam", "spam"]}, "labels", id="labels-repeated-case-insensitively"),
    pytest.param({"labels": ["straße", "STRASSE"]}, "labels", id="labels-repeated-casefolded"),
    pytest.param({"labels": ["a\tb"]}, "labels", id="labels-tab"),
    pytest.param({"labels": ["a\u0000"]}, "labels", id="labels-nul"),
    pytest.param({"labels": "spam"}, "labels", id="labels-string"),
    pytest.param({"labels": [1]}, "labels", id="labels-number"),
    pytest.param({"labels": None}, "labels", id="labels-null"),
]


def _resolve(body: dict[str, Any], members: dict[str, str]) -> dict[str, Any]:
    def fill(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
            return members[value[1:-1]]
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        return value

    return {key: fill(value) for key, value in body.items()}


@pytest.fixture
def members(project, moderator) -> dict[str, str]:
    viewer = MemberFactory(organisation=project.organisation, role=Role.VIEWER)
    other = MemberFactory(organisation=ProjectFactory().organisation, role=Role.OWNER)
    return {"moderator": moderator.pk, "viewer": viewer.pk, "other_org": other.pk}


@pytest.mark.parametrize(("body", "field"), BAD)
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_bad_work_fields_are_refused_naming_the_field(call, case, members, method, body, field) -> None:
    sent = _resolve(body, members)
    path = "/v1/cases" if method == "POST" else f"/v1/cases/{case.pk}"
    if method == "POST":
        sent = {"title": "t", **sent}
    before = _database()

    r = call(method, path, json_body=sent)

    assert r.status_code == 400, r.content
    error = r.json()["error"]
    assert error["param"] == field, error
    assert _database() == before


def test_admin_and_owner_may_be_assigned(call, case, project) -> None:
    for role in (Role.ADMIN, Role.OWNER):
        member = MemberFactory(organisation=project.organisation, role=role)
        r = call("PATCH", f"/v1/cases/{case.pk}", json_body={"assignee": member.pk})
        assert r.status_code == 200, r.content
        assert r.json()["assignee"]["id"] == member.pk


# The list's filters


def test_list_filters_by_priority_assignee_and_label(call, project, moderator) -> None:
    urgent = CaseFactory(project=project, priority="urgent", labels=["cheating"], assignee=moderator.pk)
    normal = CaseFactory(project=project, labels=["Cheating", "spam"])
    low = CaseFactory(project=project, priority="low")

    def ids(query: str) -> list[str]:
        r = call("GET", f"/v1/cases?{query}")
        assert r.status_code == 200, r.content
        return [case["id"] for case in r.json()["cases"]]

    assert ids("priority=urgent") == [urgent.pk]
    assert ids(f"assignee={moderator.pk}") == [urgent.pk]
    assert ids("assignee=none") == [low.pk, normal.pk]
    assert ids("label=cheating") == [urgent.pk]
    assert ids("label=spam") == [normal.pk]
    assert ids("label=spam&priority=urgent") == []


def test_filtered_list_pages_without_repeats_or_gaps(call, project) -> None:
    wanted = [CaseFactory(project=project, priority="high", labels=["x"]).pk for _ in range(5)]
    CaseFactory(project=project, labels=["x"])
    seen: list[str] = []
    url = "/v1/cases?priority=high&label=x&limit=2"
    while True:
        body = call("GET", url).json()
        seen += [case["id"] for case in body["cases"]]
        if not body["has_more"]:
            break
        url = f"/v1/cases?priority=high&label=x&limit=2&cursor={body['next_cursor']}"
    assert seen == wanted[::-1]


@pytest.mark.parametrize(
    ("query", "param"),
    [
        pytest.param("priority=critical", "priority", id="priority-unknown"),
        pytest.param("priority=", "priority", id="priority-empty"),
        pytest.param("priority=low&priority=high", "priority", id="priority-twice"),
        pytest.param("assignee=me", "assignee", id="assignee-not-an-id"),
        pytest.param("assignee=mem_%00", "assignee", id="assignee-nul"),
        pytest.param("label=", "label", id="label-empty"),
        pytest.param("label=" + "x" * 41, "label", id="label-41"),
        pytest.param("label=a%00", "label", id="label-nul"),
        pytest.param("label=a&label=b", "label", id="label-twice"),
    ],
)
def test_bad_list_filters_are_400_naming_the_parameter(call, query, param) -> None:
    r = call("GET", f"/v1/cases?{query}")

    assert r.status_code == 400, r.content
    assert r.json()["error"]["param"] == param


def test_list_and_get_with_assignees_stay_two_queries(call, project, used_token, django_assert_num_queries) -> None:
    for n in range(5):
        member = MemberFactory(organisation=project.organisation)
        CaseFactory(project=project, assignee=member.pk, labels=[f"l{n}"])

    # token; the page with its files, subjects and assignees' names
    with django_assert_num_queries(2):
        r = call("GET", "/v1/cases?label=l3")
    assert r.status_code == 200, r.content
    case = r.json()["cases"][0]
    assert case["assignee"]["name"].startswith("staff")
    with django_assert_num_queries(2):
        assert call("GET", f"/v1/cases/{case['id']}").json() == case


def test_a_member_who_leaves_is_unassigned_with_a_history_event(call, project, moderator) -> None:
    case = CaseFactory(project=project, assignee=moderator.pk)
    member_id = moderator.pk

    moderator.delete()

    assert call("GET", f"/v1/cases/{case.pk}").json()["assignee"] is None
    last = CaseEvent.objects.filter(case=case).order_by("-created_at", "-id").first()
    assert last is not None
    assert (last.actor_type, last.changes) == ("system", {"assignee": {"from": member_id, "to": None}})
