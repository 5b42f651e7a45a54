"""Tenancy and mode (docs/api.md#projects-and-modes): outside the token's project and mode, a case does not exist."""

from __future__ import annotations

import pytest

from cases.models import Case
from tests.factories import CaseFactory, ProjectFactory, TokenFactory
from tokens.models import Mode

pytestmark = pytest.mark.django_db

NOT_FOUND = {"error": {"code": "not_found", "message": "case not found"}}


@pytest.fixture
def other_project_case() -> Case:
    return CaseFactory(project=ProjectFactory(), title="Other community's case")


@pytest.fixture
def test_mode_case(project) -> Case:
    return CaseFactory(project=project, mode=Mode.TEST, title="Test-mode case")


def _snapshot(case: Case) -> tuple[str, str, str, object]:
    case.refresh_from_db()
    return case.title, case.description, case.status, case.updated_at


@pytest.mark.parametrize("which", ["other_project_case", "test_mode_case"])
@pytest.mark.parametrize(
    ("method", "body"),
    [("GET", None), ("PATCH", {"title": "hijacked"}), ("PATCH", {"status": "archived"})],
)
def test_case_outside_the_tokens_view_is_404_and_unchanged(call, request, which, method, body) -> None:
    hidden: Case = request.getfixturevalue(which)
    before = _snapshot(hidden)
    r = call(method, f"/v1/cases/{hidden.id}", json_body=body)
    assert r.status_code == 404, r.content
    assert r.json() == NOT_FOUND
    assert _snapshot(hidden) == before


def test_missing_case_gets_the_same_404_as_a_hidden_one(call, other_project_case) -> None:
    hidden = call("GET", f"/v1/cases/{other_project_case.id}")
    missing = call("GET", "/v1/cases/c_01JD3Z8W6V4M2Q9T7K5X1B0N3R")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json() == NOT_FOUND


def test_list_shows_only_the_tokens_project_and_mode(call, case, other_project_case, test_mode_case) -> None:
    r = call("GET", "/v1/cases")
    assert r.status_code == 200, r.content
    assert [c["id"] for c in r.json()["cases"]] == [case.id]


def test_test_token_sees_only_test_cases_and_creates_test_cases(call, project, case, test_mode_case) -> None:
    test_token = TokenFactory(project=project, mode=Mode.TEST)
    assert test_token.plaintext.startswith("so_test_")
    auth = f"Bearer {test_token.plaintext}"
    listed = call("GET", "/v1/cases", auth=auth).json()["cases"]
    assert [c["id"] for c in listed] == [test_mode_case.id]
    assert call("GET", f"/v1/cases/{case.id}", auth=auth).status_code == 404

    created = call("POST", "/v1/cases", json_body={"title": "from a test server"}, auth=auth)
    assert created.status_code == 201, created.content
    assert Case.objects.get(pk=created.json()["id"]).mode == Mode.TEST
    assert call("GET", f"/v1/cases/{created.json()['id']}").status_code == 404  # the live token cannot see it
