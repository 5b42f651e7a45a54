"""Scope checks (docs/api.md#tokens-and-scopes): each operation needs exactly its scope; refusals name what would do."""

from __future__ import annotations

import pytest

from cases.models import Case
from tests.factories import TokenFactory

pytestmark = pytest.mark.django_db

FORBIDDEN = {"error": {"code": "forbidden", "message": "token does not have the required scope"}}


@pytest.mark.parametrize(
    ("scopes", "method", "path", "needed"),
    [
        pytest.param(["cases:write"], "GET", "/v1/cases", "cases:read", id="write-does-not-grant-list"),
        pytest.param(["cases:write"], "GET", "/v1/cases/{id}", "cases:read", id="write-does-not-grant-read"),
        pytest.param(["cases:read"], "POST", "/v1/cases", "cases:write", id="read-does-not-grant-create"),
        pytest.param(["cases:read"], "PATCH", "/v1/cases/{id}", "cases:write", id="read-does-not-grant-patch"),
        pytest.param(["media:read", "logs:write"], "GET", "/v1/cases", "cases:read", id="unrelated-scopes"),
    ],
)
def test_token_without_the_scope_gets_403_naming_it(call, case, project, scopes, method, path, needed) -> None:
    limited = TokenFactory(project=project, scopes=scopes)
    r = call(method, path.format(id=case.id), json_body={"title": "x"}, auth=f"Bearer {limited.plaintext}")
    assert r.status_code == 403, r.content
    assert r.json() == FORBIDDEN
    assert r["X-Accepted-Scopes"] == needed
    assert Case.objects.count() == 1
    case.refresh_from_db()
    assert case.title != "x"


def test_scope_is_checked_before_the_case_is_looked_up(call, project, django_assert_num_queries) -> None:
    reader = TokenFactory(project=project, scopes=["cases:read"])
    assert call("GET", "/v1/cases", auth=f"Bearer {reader.plaintext}").status_code == 200  # records last use
    with django_assert_num_queries(1):  # the token lookup, nothing else
        r = call(
            "PATCH",
            "/v1/cases/c_01JD3Z8W6V4M2Q9T7K5X1B0N3R",
            json_body={"title": "x"},
            auth=f"Bearer {reader.plaintext}",
        )
    assert r.status_code == 403, r.content
    assert r["X-Accepted-Scopes"] == "cases:write"


def test_an_action_without_a_declared_scope_is_refused(rf, token) -> None:
    """Fail closed: a viewset action missing from ``required_scopes`` is refused for every token."""
    from rest_framework.exceptions import PermissionDenied
    from rest_framework.request import Request

    from tokens.permissions import HasScope

    class View:
        action = "destroy"
        required_scopes = {"list": "cases:read"}

    request = Request(rf.get("/"))
    request._authenticator, request._user, request._auth = None, None, token
    with pytest.raises(PermissionDenied):
        HasScope().has_permission(request, View())
