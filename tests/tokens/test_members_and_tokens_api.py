"""The Members and Tokens APIs (docs/api.md#members, docs/api.md#tokens-api), with every way a
token might try to reach beyond what it holds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.utils import timezone

from tests.factories import MemberFactory, ProjectFactory, StaffFactory, TokenFactory
from tokens.crypto import digest
from tokens.models import Member, Mode, Project, Role, ScopedToken

pytestmark = pytest.mark.django_db

ALL = ["members:read", "members:write", "tokens:write", "cases:read"]


@pytest.fixture
def manager(project: Project) -> ScopedToken:
    """A live token of ``project`` that manages members and tokens and reads cases, ending in 30 days."""
    return TokenFactory(project=project, scopes=ALL, expires_at=timezone.now() + timedelta(days=30))


@pytest.fixture
def api(call: Any, manager: ScopedToken) -> Any:
    def _api(method: str, path: str, body: Any = None, token: ScopedToken | None = None) -> Any:
        auth = f"Bearer {(token or manager).plaintext}"  # type: ignore[attr-defined]
        return call(method, path, json_body=body, auth=auth)

    return _api


def state() -> tuple[Any, ...]:
    return (
        list(Member.objects.order_by("pk").values_list("pk", "role", "organisation_id", "user_id")),
        list(User.objects.order_by("pk").values_list("pk", "email", "is_staff", "password")),
        list(ScopedToken.objects.order_by("pk").values_list("pk", "revoked_at", "scopes", "expires_at")),
    )


def refused(r: Any, status: int, param: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.content
    error: dict[str, Any] = r.json()["error"]
    if param is not None:
        assert error.get("param") == param, error
    return error


# Members


def test_invite_of_a_new_email_makes_a_staff_account_without_a_password_and_emails_the_link(api, project) -> None:
    r = api("POST", "/v1/members", {"email": "New.Mod@Example.com", "role": "moderator"})

    assert r.status_code == 201, r.content
    member = r.json()
    assert set(member) == {"id", "email", "name", "role", "created_at"}
    assert member["id"].startswith("mem_") and member["role"] == "moderator"
    assert r["Location"] == f"/v1/members/{member['id']}"
    user = User.objects.get(email__iexact="new.mod@example.com")
    assert user.is_staff and not user.is_superuser and not user.has_usable_password()
    stored = Member.objects.get(pk=member["id"])
    assert (stored.organisation_id, stored.user_id) == (project.organisation_id, user.pk)
    [email] = mail.outbox
    assert email.to == [user.email]
    assert "/admin/reset/" in email.body


def test_invite_of_an_existing_account_sends_nothing(api, project) -> None:
    user = StaffFactory(email="known@example.com")

    r = api("POST", "/v1/members", {"email": "KNOWN@example.com", "role": "viewer"})

    assert r.status_code == 201, r.content
    assert Member.objects.get(pk=r.json()["id"]).user == user
    assert mail.outbox == []


def test_an_email_already_a_member_is_a_409(api, project) -> None:
    MemberFactory(organisation=project.organisation, user=StaffFactory(email="twice@example.com"))
    before = state()

    error = refused(api("POST", "/v1/members", {"email": "twice@example.com", "role": "viewer"}), 409)

    assert error["code"] == "conflict"
    assert state() == before


def test_members_lists_only_the_token_organisation(api, project) -> None:
    mine = MemberFactory(organisation=project.organisation, role=Role.ADMIN)
    MemberFactory(role=Role.OWNER)  # another organisation's

    r = api("GET", "/v1/members")

    assert r.status_code == 200, r.content
    assert [m["id"] for m in r.json()["members"]] == [mine.pk]


def test_role_change_and_removal(api, project) -> None:
    member = MemberFactory(organisation=project.organisation, role=Role.VIEWER)

    r = api("PATCH", f"/v1/members/{member.pk}", {"role": "admin"})
    assert r.status_code == 200, r.content
    assert r.json()["role"] == "admin"
    assert api("DELETE", f"/v1/members/{member.pk}").status_code == 204
    assert not Member.objects.filter(pk=member.pk).exists()
    assert User.objects.filter(pk=member.user_id).exists()


# Tokens


def test_token_created_with_held_scopes_is_shown_once_and_works(api, manager) -> None:
    r = api("POST", "/v1/tokens", {"name": " Discord bot ", "scopes": ["cases:read"], "expires_in": "7d"})

    assert r.status_code == 201, r.content
    shown = r.json()
    assert set(shown) == {
        "id",
        "name",
        "scopes",
        "mode",
        "hint",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "token",
    }
    new = ScopedToken.objects.get(pk=shown["id"])
    assert (new.name, new.scopes, new.mode, new.project_id) == (
        "Discord bot",
        ["cases:read"],
        "live",
        manager.project_id,
    )
    assert new.digest == digest(shown["token"]) and new.created_by == manager.pk
    listed = api("GET", "/v1/tokens").json()["tokens"]
    assert shown["id"] in [t["id"] for t in listed]
    assert all("token" not in t for t in listed)
    assert api("GET", "/v1/cases", token=_with_plaintext(new, shown["token"])).status_code == 200


def _with_plaintext(token: ScopedToken, plaintext: str) -> ScopedToken:
    token.plaintext = plaintext  # type: ignore[attr-defined]
    return token


def test_tokens_lists_only_its_project_and_mode(api, manager, project) -> None:
    TokenFactory(project=project, mode=Mode.TEST)
    TokenFactory()  # another project's

    ids = [t["id"] for t in api("GET", "/v1/tokens").json()["tokens"]]

    assert set(ids) == set(ScopedToken.objects.filter(project=project, mode=Mode.LIVE).values_list("pk", flat=True))


def test_revoking_a_token_of_the_project(api, project) -> None:
    victim = TokenFactory(project=project)

    assert api("DELETE", f"/v1/tokens/{victim.pk}").status_code == 204
    assert ScopedToken.objects.get(pk=victim.pk).revoked_at is not None
    assert api("DELETE", f"/v1/tokens/{victim.pk}").status_code == 204


# Escalation attempts: each refused with the error naming what is wrong, nothing written.


def _owner_of(project: Project) -> Member:
    return MemberFactory(organisation=project.organisation, role=Role.OWNER)  # type: ignore[no-any-return]


ESCALATIONS = [
    pytest.param("POST", "/v1/tokens", {"name": "x", "scopes": ["media:write"]}, 403, None, id="mint-scope-it-lacks"),
    pytest.param(
        "POST", "/v1/tokens", {"name": "x", "scopes": ["cases:read", "billing:read"]}, 403, None, id="one-lacking"
    ),
    pytest.param("POST", "/v1/tokens", {"name": "x", "scopes": ["admin:all"]}, 400, "scopes", id="unknown-scope"),
    pytest.param("POST", "/v1/tokens", {"name": "x", "scopes": ["cases:read"]}, 400, "expires_in", id="no-expiry"),
    pytest.param(
        "POST",
        "/v1/tokens",
        {"name": "x", "scopes": ["cases:read"], "expires_in": "31d"},
        400,
        "expires_in",
        id="outlives-itself",
    ),
    pytest.param(
        "POST",
        "/v1/tokens",
        {"name": "x", "scopes": ["cases:read"], "expires_in": "soon"},
        400,
        "expires_in",
        id="expiry-not-a-duration",
    ),
    pytest.param("POST", "/v1/tokens", {"name": "x", "scopes": [], "expires_in": "1d"}, 400, "scopes", id="no-scope"),
    pytest.param(
        "POST",
        "/v1/tokens",
        {"name": "x", "scopes": ["cases:read", "cases:read"], "expires_in": "1d"},
        400,
        "scopes",
        id="repeated-scope",
    ),
    pytest.param(
        "POST",
        "/v1/tokens",
        {"name": "x", "scopes": ["cases:read"], "expires_in": "1d", "mode": "test"},
        400,
        "mode",
        id="other-mode",
    ),
    pytest.param(
        "POST",
        "/v1/tokens",
        {"name": "x", "scopes": ["cases:read"], "expires_in": "1d", "project": "p_x"},
        400,
        "project",
        id="other-project",
    ),
    pytest.param("POST", "/v1/tokens", {"name": "", "scopes": ["cases:read"]}, 400, "name", id="empty-name"),
    pytest.param("POST", "/v1/tokens", {}, 400, None, id="empty-body"),
    pytest.param("DELETE", "/v1/tokens/{other_token}", None, 404, None, id="revoke-other-project"),
    pytest.param("DELETE", "/v1/tokens/{test_token}", None, 404, None, id="revoke-other-mode"),
    pytest.param("DELETE", "/v1/tokens/tok_%00", None, 404, None, id="revoke-nul-id"),
    pytest.param("POST", "/v1/members", {"email": "boss@example.com", "role": "owner"}, 403, None, id="make-owner"),
    pytest.param("POST", "/v1/members", {"email": "x@example.com", "role": "god"}, 400, "role", id="unknown-role"),
    pytest.param("POST", "/v1/members", {"email": "x@example.com", "role": "Admin"}, 400, "role", id="role-case"),
    pytest.param("POST", "/v1/members", {"email": "not-an-email", "role": "viewer"}, 400, "email", id="bad-email"),
    pytest.param(
        "POST", "/v1/members", {"email": "a" * 250 + "@x.io", "role": "viewer"}, 400, "email", id="email-too-long"
    ),
    pytest.param("POST", "/v1/members", {"email": 7, "role": "viewer"}, 400, "email", id="email-number"),
    pytest.param(
        "POST",
        "/v1/members",
        {"email": "x@example.com", "role": "viewer", "is_superuser": True},
        400,
        "is_superuser",
        id="unknown-key",
    ),
    pytest.param("POST", "/v1/members", {"email": "x@example.com"}, 400, "role", id="no-role"),
    pytest.param("PATCH", "/v1/members/{member}", {"role": "owner"}, 403, None, id="promote-to-owner"),
    pytest.param("PATCH", "/v1/members/{member}", {"role": None}, 400, "role", id="role-null"),
    pytest.param("PATCH", "/v1/members/{member}", {"role": "viewer", "email": "y@x.io"}, 400, "email", id="email-ro"),
    pytest.param("PATCH", "/v1/members/{owner}", {"role": "viewer"}, 403, None, id="demote-an-owner"),
    pytest.param("DELETE", "/v1/members/{owner}", None, 403, None, id="remove-an-owner"),
    pytest.param("PATCH", "/v1/members/{last_owner}", {"role": "admin"}, 409, None, id="demote-the-last-owner"),
    pytest.param("DELETE", "/v1/members/{last_owner}", None, 409, None, id="remove-the-last-owner"),
    pytest.param("PATCH", "/v1/members/{other_member}", {"role": "viewer"}, 404, None, id="other-org-member"),
    pytest.param("DELETE", "/v1/members/{other_member}", None, 404, None, id="remove-other-org-member"),
    pytest.param("DELETE", "/v1/members/mem_nope", None, 404, None, id="malformed-member-id"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "param"), ESCALATIONS)
def test_escalation_is_refused_and_changes_nothing(api, project, method, path, body, status, param) -> None:
    member = MemberFactory(organisation=project.organisation, role=Role.MODERATOR)
    other_token = TokenFactory(scopes=ALL)
    test_token = TokenFactory(project=project, mode=Mode.TEST, scopes=ALL)
    other_member = MemberFactory(role=Role.VIEWER)
    if "{last_owner}" in path:
        owner = _owner_of(project)
    else:
        owner, _ = _owner_of(project), _owner_of(project)
    path = path.format(
        member=member.pk,
        owner=owner.pk,
        last_owner=owner.pk,
        other_token=other_token.pk,
        test_token=test_token.pk,
        other_member=other_member.pk,
    )
    before = state()

    error = refused(api(method, path, body), status, param)

    assert error["code"] == {400: "bad_request", 403: "forbidden", 404: "not_found", 409: "conflict"}[status]
    assert state() == before
    assert mail.outbox == []


def test_a_lacking_scope_is_named(api) -> None:
    r = api("POST", "/v1/tokens", {"name": "x", "scopes": ["cases:read", "media:write"], "expires_in": "1d"})

    assert refused(r, 403)["message"] == "this token cannot grant media:write: it does not hold it"
    assert r["X-Accepted-Scopes"] == "media:write"


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/v1/members", "members:read"),
        ("POST", "/v1/members", "members:write"),
        ("PATCH", "/v1/members/mem_01JD3Z8W6V4M2Q9T7K5X1B0N3R", "members:write"),
        ("DELETE", "/v1/members/mem_01JD3Z8W6V4M2Q9T7K5X1B0N3R", "members:write"),
        ("GET", "/v1/tokens", "tokens:write"),
        ("POST", "/v1/tokens", "tokens:write"),
        ("DELETE", "/v1/tokens/tok_01JD3Z8W6V4M2Q9T7K5X1B0N3R", "tokens:write"),
    ],
)
def test_each_operation_needs_its_scope(api, project, method, path, scope) -> None:
    without = TokenFactory(project=project, scopes=[s for s in ALL if s != scope])
    before = state()

    r = api(method, path, {"email": "x@example.com", "role": "viewer"} if method != "GET" else None, token=without)

    assert refused(r, 403)["code"] == "forbidden"
    assert r["X-Accepted-Scopes"] == scope
    assert state() == before


def test_a_token_without_expiry_mints_any_expiry(api, project) -> None:
    forever = TokenFactory(project=project, scopes=["tokens:write", "cases:read"])

    r = api("POST", "/v1/tokens", {"name": "forever too", "scopes": ["cases:read"]}, token=forever)

    assert r.status_code == 201, r.content
    assert r.json()["expires_at"] is None


def test_other_organisations_members_are_untouched_by_a_project_of_another(api) -> None:
    elsewhere = ProjectFactory()
    MemberFactory(organisation=elsewhere.organisation, role=Role.OWNER)

    assert api("GET", "/v1/members").json()["members"] == []
