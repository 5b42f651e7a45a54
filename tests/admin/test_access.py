from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from cases.demo import screenshot_png
from cases.models import Attachment, Case, Status
from tests.admin.conftest import untouched_form_data
from tests.factories import (
    CaseFactory,
    MemberFactory,
    OrganisationFactory,
    ProjectFactory,
    TokenFactory,
    attach_file,
    staff_member,
)
from tokens.models import Role

pytestmark = pytest.mark.django_db


def test_roles_replace_the_case_moderators_group() -> None:
    assert not Group.objects.filter(name="Case moderators").exists()


def test_model_permissions_grant_nothing_without_a_membership(client: Client, django_user_model: type[User]) -> None:
    case = CaseFactory()
    user = django_user_model.objects.create_user("permitted", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.all())
    client.force_login(user)

    assert client.get(reverse("admin:cases_case_changelist")).status_code == 403
    assert client.get(reverse("admin:cases_case_change", args=[case.pk])).status_code == 404
    assert reverse("admin:cases_case_changelist") not in client.get(reverse("admin:index")).content.decode()


def test_user_who_is_not_staff_is_sent_to_the_login_page(client: Client, django_user_model: type[User]) -> None:
    user = django_user_model.objects.create_user("player", password="pw")
    MemberFactory(user=user, role=Role.OWNER)
    client.force_login(user)

    r = client.get(reverse("admin:cases_case_changelist"))

    assert r.status_code == 302
    assert r["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize(
    ("page", "status"),
    [
        pytest.param(lambda: reverse("admin:tokens_scopedtoken_changelist"), 403, id="token-list"),
        pytest.param(lambda: reverse("admin:tokens_scopedtoken_add"), 403, id="token-add"),
        # Not among the tokens a moderator sees: as if it did not exist.
        pytest.param(
            lambda: reverse("admin:tokens_scopedtoken_change", args=[TokenFactory().pk]), 404, id="token-page"
        ),
        pytest.param(lambda: reverse("admin:tokens_member_changelist"), 403, id="member-list"),
        pytest.param(lambda: reverse("admin:webhooks_webhookendpoint_changelist"), 403, id="webhook-list"),
        pytest.param(lambda: reverse("admin:webhooks_webhookmessage_changelist"), 403, id="delivery-list"),
        pytest.param(lambda: reverse("admin:tokens_project_add"), 403, id="project-add"),
        pytest.param(lambda: reverse("admin:tokens_organisation_add"), 403, id="organisation-add"),
        pytest.param(lambda: reverse("admin:auth_user_changelist"), 403, id="user-list"),
    ],
)
def test_moderator_is_refused_token_webhook_and_member_pages(
    moderator_client: Client, page: object, status: int
) -> None:
    url = page()  # type: ignore[operator]

    assert moderator_client.get(url).status_code == status
    assert moderator_client.post(url, {}).status_code == status


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(lambda: reverse("admin:tokens_project_change", args=[ProjectFactory().pk]), id="project-page"),
        pytest.param(
            lambda: reverse("admin:tokens_organisation_change", args=[OrganisationFactory().pk]),
            id="organisation-page",
        ),
    ],
)
def test_moderator_reads_its_projects_and_organisations_without_changing_them(
    moderator_client: Client, page: object
) -> None:
    url = page()  # type: ignore[operator]

    r = moderator_client.get(url)

    assert r.status_code == 200
    assert not r.context["has_change_permission"]
    assert moderator_client.post(url, {"name": "Renamed"}).status_code == 403


def test_moderator_does_not_see_tokens_on_the_index(moderator_client: Client) -> None:
    OrganisationFactory()
    body = moderator_client.get(reverse("admin:index")).content.decode()

    assert reverse("admin:cases_case_changelist") in body
    assert reverse("admin:tokens_scopedtoken_changelist") not in body


def test_moderator_can_change_a_case(moderator_client: Client) -> None:
    case = CaseFactory(status=Status.OPEN)
    url = reverse("admin:cases_case_change", args=[case.pk])
    data = untouched_form_data(moderator_client.get(url))
    data.update(status=Status.CLOSED, title="Checked by a moderator")

    r = moderator_client.post(url, data)

    assert r.status_code == 302, r.content
    stored = Case.objects.get(pk=case.pk)
    assert (stored.status, stored.title) == (Status.CLOSED, "Checked by a moderator")


def test_moderator_can_upload_and_open_a_file(moderator_client: Client) -> None:
    case = CaseFactory()
    url = reverse("admin:cases_case_change", args=[case.pk])
    data = untouched_form_data(moderator_client.get(url))
    data["attachments-2-0-file"] = SimpleUploadedFile("clip.png", screenshot_png(2))

    assert moderator_client.post(url, data).status_code == 302
    attachment = Attachment.objects.get(case=case)
    r = moderator_client.get(reverse("admin:cases_case_attachment", args=[case.pk, attachment.file_id]))
    assert r.status_code == 200


def test_moderator_can_run_the_bulk_actions(moderator_client: Client) -> None:
    case = CaseFactory(status=Status.OPEN)

    moderator_client.post(
        reverse("admin:cases_case_changelist"), {"action": "archive_cases", "_selected_action": [case.pk]}
    )

    assert Case.objects.get(pk=case.pk).status == Status.ARCHIVED


def test_viewer_opens_files_and_saves_nothing(client: Client) -> None:
    case = CaseFactory(status=Status.OPEN)
    attachment = attach_file(case=case, content=SimpleUploadedFile("a.png", screenshot_png(1)), original_name="a.png")
    client.force_login(staff_member(case.project.organisation, Role.VIEWER))
    url = reverse("admin:cases_case_change", args=[case.pk])

    page = client.get(url)
    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assert client.get(reverse("admin:cases_case_attachment", args=[case.pk, attachment.file_id])).status_code == 200
    r = client.post(url, {"title": "Changed by a viewer", "status": Status.CLOSED})

    assert r.status_code == 403
    assert Case.objects.get(pk=case.pk).status == Status.OPEN
