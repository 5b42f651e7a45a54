"""Operator commands (docs/api.md#operator-commands): the result alone on stdout, people's text on stderr,
non-zero and no change on failure."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from cases.models import Attachment, Case
from tests.factories import CaseFactory, TokenFactory
from tokens import crypto
from tokens.models import Organisation, Project, ScopedToken
from tokens.services import token_revoke

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def fails(*args: str, match: str) -> None:
    with pytest.raises(CommandError, match=match):
        run(*args)


def test_create_project_prints_the_project_id_and_creates_the_organisation() -> None:
    out, err = run("create_project", "EU Roleplay", "--org", "Nordic Gaming")
    project = Project.objects.get()
    assert out == f"{project.id}\n"
    assert re.fullmatch(r"p_[0-9A-HJKMNP-TV-Z]{26}", project.id)
    assert project.organisation.name == "Nordic Gaming"
    assert "EU Roleplay" in err

    out2, _ = run("create_project", "US Survival", "--org", "Nordic Gaming")
    assert Organisation.objects.count() == 1
    assert out2.strip() == Project.objects.get(name="US Survival").id


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("create_project", "   ", "--org", "Org"), "project name"),
        (("create_project", "P", "--org", " "), "organisation"),
    ],
)
def test_create_project_refuses_empty_names(args, match) -> None:
    fails(*args, match=match)
    assert not Project.objects.exists()
    assert not Organisation.objects.exists()


def test_create_project_refuses_a_duplicate(project) -> None:
    fails("create_project", project.name, "--org", project.organisation.name, match="already has a project")
    assert Project.objects.count() == 1


def test_create_token_prints_the_token_once_and_stores_only_its_digest(project) -> None:
    out, err = run(
        "create_token",
        "--project",
        project.id,
        "--name",
        "EU-1",
        "--scope",
        "cases:read",
        "--scope",
        "cases:write",
        "--scope",
        "cases:read",
    )
    plaintext = out.strip()
    assert out == plaintext + "\n"
    assert crypto.parse(plaintext) == "live"
    token = ScopedToken.objects.get()
    assert token.digest == crypto.digest(plaintext)
    assert token.scopes == ["cases:read", "cases:write"]
    assert plaintext not in err
    assert token.hint in err
    assert "cannot be shown again" in err


def test_create_token_test_mode_with_expiry(project) -> None:
    out, _ = run(
        "create_token",
        "--project",
        project.id,
        "--name",
        "staging",
        "--scope",
        "logs:read",
        "--test",
        "--expires-in",
        "90d",
    )
    assert out.startswith("so_test_")
    token = ScopedToken.objects.get()
    assert token.mode == "test"
    assert abs(token.expires_at - (timezone.now() + timedelta(days=90))) < timedelta(seconds=10)


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        pytest.param(["--scope", "cases:delete"], "unknown scope cases:delete", id="unknown-scope"),
        pytest.param(["--scope", "cases:read", "--expires-in", "90"], "--expires-in", id="expiry-without-unit"),
        pytest.param(["--scope", "cases:read", "--expires-in", "3w"], "--expires-in", id="expiry-bad-unit"),
        pytest.param(["--scope", "cases:read", "--expires-in", "0s"], "future", id="expiry-zero"),
        pytest.param(["--scope", "cases:read", "--expires-in", "999999999d"], "--expires-in", id="expiry-overflow"),
    ],
)
def test_create_token_failures_change_nothing(project, extra, match) -> None:
    fails("create_token", "--project", project.id, "--name", "x", *extra, match=match)
    assert not ScopedToken.objects.exists()


def test_create_token_for_an_unknown_project_fails(db) -> None:
    fails("create_token", "--project", "p_nope", "--name", "x", "--scope", "cases:read", match="no project")
    assert not ScopedToken.objects.exists()


def test_list_tokens_shows_a_table_without_secrets(project) -> None:
    active = TokenFactory(project=project, name="EU-1 server")
    revoked = TokenFactory(project=project, name="old bot", mode="test")
    token_revoke(token=revoked)
    expired = TokenFactory(project=project, name="expired", expires_at=timezone.now() + timedelta(seconds=1))
    ScopedToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    other = TokenFactory(name="elsewhere")

    out, err = run("list_tokens", "--project", project.id)
    lines = out.splitlines()
    assert lines[0].split() == ["id", "name", "project", "mode", "scopes", "hint", "last", "used", "expires", "state"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {active.id, revoked.id, expired.id}
    assert rows[active.id].endswith("active")
    assert rows[revoked.id].endswith("revoked")
    assert rows[expired.id].endswith("expired")
    assert "cases:read,cases:write" in rows[active.id]
    assert active.hint in rows[active.id]
    for token in (active, revoked, expired, other):
        assert token.plaintext not in out
        assert token.digest not in out
    assert "3 token(s)" in err

    everything, _ = run("list_tokens")
    assert other.id in everything


def test_list_tokens_for_an_unknown_project_fails(db) -> None:
    fails("list_tokens", "--project", "p_nope", match="no project")


def test_revoke_token_prints_its_id_and_is_final(token) -> None:
    out, _err = run("revoke_token", token.id)
    assert out == f"{token.id}\n"
    token.refresh_from_db()
    revoked_at = token.revoked_at
    assert revoked_at is not None
    fails("revoke_token", token.id, match="already revoked")
    token.refresh_from_db()
    assert token.revoked_at == revoked_at


def test_revoke_unknown_token_fails(db) -> None:
    fails("revoke_token", "tok_nope", match="no token")


def test_seed_demo_is_idempotent_and_prints_a_fresh_working_token(client) -> None:
    out1, _err1 = run("seed_demo")
    counts = (Organisation.objects.count(), Project.objects.count(), Case.objects.count(), Attachment.objects.count())
    assert counts[2] >= 36
    assert counts[3] > 0
    out2, _ = run("seed_demo")
    assert (
        Organisation.objects.count(),
        Project.objects.count(),
        Case.objects.count(),
        Attachment.objects.count(),
    ) == counts
    first, second = out1.strip(), out2.strip()
    assert first != second
    assert crypto.parse(first) == "live"
    assert {c.status for c in Case.objects.all()} == {"open", "closed", "archived"}
    assert {c.mode for c in Case.objects.all()} == {"live", "test"}
    r = client.get("/v1/cases", headers={"Authorization": f"Bearer {second}"})
    assert r.status_code == 200
    assert r.json()["cases"]


def test_seed_demo_revokes_earlier_demo_tokens_and_issues_one_that_expires(client) -> None:
    first = run("seed_demo")[0].strip()
    second = run("seed_demo")[0].strip()
    demo_tokens = ScopedToken.objects.filter(created_by="manage.py seed_demo")
    assert [t.state() for t in demo_tokens.order_by("created_at")] == ["revoked", "active"]
    newest = demo_tokens.get(revoked_at__isnull=True)
    assert newest.expires_at is not None
    assert timedelta(days=6) < newest.expires_at - timezone.now() <= timedelta(days=7)
    refused = client.get("/v1/cases", headers={"Authorization": f"Bearer {first}"})
    assert refused.status_code == 401, refused.content
    assert client.get("/v1/cases", headers={"Authorization": f"Bearer {second}"}).status_code == 200


def test_archive_cases_archives_only_long_closed_cases(project) -> None:
    old_closed, recent_closed, old_open = (CaseFactory(project=project, status=s) for s in ("closed", "closed", "open"))
    Case.objects.filter(pk__in=[old_closed.pk, old_open.pk]).update(updated_at=timezone.now() - timedelta(days=31))

    out, err = run("archive_cases", "--closed-for", "30d", "--dry-run")
    assert out == "1\n"
    assert "would archive" in err
    assert Case.objects.get(pk=old_closed.pk).status == "closed"

    out, _ = run("archive_cases", "--closed-for", "30d")
    assert out == "1\n"
    statuses = dict(Case.objects.values_list("id", "status"))
    assert statuses == {old_closed.id: "archived", recent_closed.id: "closed", old_open.id: "open"}
    assert Case.objects.get(pk=old_closed.pk).updated_at > timezone.now() - timedelta(minutes=1)


@pytest.mark.parametrize("value", ["30", "thirty days", "-5d", "30y"])
def test_archive_cases_refuses_a_bad_duration(project, value) -> None:
    CaseFactory(project=project, status="closed")
    fails("archive_cases", "--closed-for", value, match="--closed-for")
    assert Case.objects.get().status == "closed"


def test_seed_demo_fills_the_file_library_through_the_services(client) -> None:
    from media.models import File

    run("seed_demo")
    files_before = File.objects.count()
    run("seed_demo")

    assert File.objects.count() == files_before  # idempotent
    types = set(File.objects.values_list("content_type", flat=True))
    assert {"image/png", "text/plain", "application/json"} <= types
    # Evidence one clip backs in two reports, and uploads no case lists yet.
    assert File.objects.filter(original_name="atm-glitch.png", attachments__isnull=False).count() >= 2
    assert File.objects.filter(folder="inbox", attachments__isnull=True).exists()
    r = client.get("/v1/media?folder=inbox", headers={"Authorization": f"Bearer {run('seed_demo')[0].strip()}"})
    assert r.status_code == 200, r.content
    assert {f["original_name"] for f in r.json()["files"]} == {"inbox-1.png", "inbox-2.png", "inbox-3.png"}


def test_seed_demo_staff_login_is_a_fresh_random_password_each_run(client, django_user_model) -> None:
    assert len(run("seed_demo")[0].split()) == 1  # without the flag: the token alone, no staff user
    assert not django_user_model.objects.filter(username="demo-staff").exists()

    first = run("seed_demo", "--staff-login")[0].split()
    second = run("seed_demo", "--staff-login")[0].split()

    assert [len(first), first[1], second[1]] == [7, "demo-staff", "demo-staff"]
    assert (first[3], first[5]) == ("demo-owner", "demo-moderator")
    assert first[2] != second[2] and len(second[2]) >= 16
    user = django_user_model.objects.get(username="demo-staff")
    assert user.is_staff and user.is_superuser
    assert user.password != second[2] and user.check_password(second[2]) and not user.check_password(first[2])
    assert client.login(username="demo-staff", password=second[2])
    assert client.get("/admin/").status_code == 200


def test_seed_demo_members_log_in_with_their_roles_and_see_only_the_demo_community(client) -> None:
    from tests.factories import CaseFactory
    from tokens.models import Member

    elsewhere = CaseFactory(title="Another community's case")
    words = run("seed_demo", "--staff-login")[0].split()
    logins = dict(zip(words[1::2], words[2::2], strict=True))

    roles = {
        m.user.username: (m.role, m.organisation.name) for m in Member.objects.select_related("user", "organisation")
    }
    assert roles == {"demo-owner": ("owner", "Demo Community"), "demo-moderator": ("moderator", "Demo Community")}
    assert client.login(username="demo-moderator", password=logins["demo-moderator"])
    listed = client.get("/admin/cases/case/").context["cl"].result_list
    assert listed and elsewhere.pk not in {case.pk for case in listed}
    assert client.get("/admin/tokens/scopedtoken/").status_code == 403
    assert client.login(username="demo-owner", password=logins["demo-owner"])
    assert client.get("/admin/tokens/member/").status_code == 200


def test_add_member_bootstraps_an_owner_and_prints_the_member_id() -> None:
    from django.contrib.auth.models import User

    from tests.factories import OrganisationFactory
    from tokens.models import Member

    organisation = OrganisationFactory(name="Night City RP")

    out, err = run("add_member", "--org", "Night City RP", "--email", "Boss@Example.com", "--role", "owner")

    member = Member.objects.get()
    assert out.strip() == member.pk and member.pk.startswith("mem_")
    assert (member.organisation, member.role) == (organisation, "owner")
    user = User.objects.get(pk=member.user_id)
    assert user.is_staff and not user.has_usable_password()
    assert "changepassword" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--org", "Nowhere", "--email", "a@example.com", "--role", "viewer"], "no organisation", id="org"),
        pytest.param(["--org", "Here", "--email", "not-an-email", "--role", "viewer"], "email", id="email"),
        pytest.param(["--org", "Here", "--email", "twice@example.com", "--role", "viewer"], "already", id="twice"),
    ],
)
def test_add_member_refuses_and_changes_nothing(args: list[str], message: str) -> None:
    from django.core.management import CommandError

    from tests.factories import MemberFactory, OrganisationFactory, StaffFactory
    from tokens.models import Member

    MemberFactory(organisation=OrganisationFactory(name="Here"), user=StaffFactory(email="twice@example.com"))
    before = list(Member.objects.values_list("pk", "role"))

    with pytest.raises(CommandError, match=message):
        run("add_member", *args)

    assert list(Member.objects.values_list("pk", "role")) == before
