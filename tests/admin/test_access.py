from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from cases.demo import screenshot_png
from cases.models import Attachment, Case, Status
from tests.admin.conftest import untouched_form_data
from tests.factories import CaseFactory, OrganisationFactory, ProjectFactory, TokenFactory, attach_file

pytestmark = pytest.mark.django_db


def test_case_moderators_group_may_work_cases_and_files_only() -> None:
    group = Group.objects.get(name="Case moderators")

    granted = sorted(f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all())

    assert granted == [
        "cases.add_attachment",
        "cases.add_case",
        "cases.change_attachment",
        "cases.change_case",
        "cases.view_attachment",
        "cases.view_case",
        "media.change_file",
        "media.view_file",
    ]


def test_user_who_is_not_staff_is_sent_to_the_login_page(client: Client, django_user_model: type[User]) -> None:
    user = django_user_model.objects.create_user("player", password="pw")
    user.groups.add(Group.objects.get(name="Case moderators"))
    client.force_login(user)

    r = client.get(reverse("admin:cases_case_changelist"))

    assert r.status_code == 302
    assert r["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(lambda: reverse("admin:tokens_scopedtoken_changelist"), id="token-list"),
        pytest.param(lambda: reverse("admin:tokens_scopedtoken_add"), id="token-add"),
        pytest.param(lambda: reverse("admin:tokens_scopedtoken_change", args=[TokenFactory().pk]), id="token-page"),
        pytest.param(lambda: reverse("admin:tokens_project_changelist"), id="project-list"),
        pytest.param(lambda: reverse("admin:tokens_project_change", args=[ProjectFactory().pk]), id="project-page"),
        pytest.param(lambda: reverse("admin:tokens_organisation_changelist"), id="organisation-list"),
        pytest.param(
            lambda: reverse("admin:tokens_organisation_change", args=[OrganisationFactory().pk]),
            id="organisation-page",
        ),
    ],
)
def test_moderator_is_refused_token_pages(moderator_client: Client, page: object) -> None:
    url = page()  # type: ignore[operator]

    assert moderator_client.get(url).status_code == 403
    assert moderator_client.post(url, {}).status_code == 403


def test_moderator_does_not_see_tokens_on_the_index(moderator_client: Client) -> None:
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


def test_staff_without_file_permission_cannot_open_files(client: Client, django_user_model: type[User]) -> None:
    case = CaseFactory()
    attachment = attach_file(case=case, content=SimpleUploadedFile("a.png", screenshot_png(1)), original_name="a.png")
    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(*Group.objects.get(name="Case moderators").permissions.filter(codename="view_case"))
    client.force_login(user)

    assert client.get(reverse("admin:cases_case_change", args=[case.pk])).status_code == 200
    r = client.get(reverse("admin:cases_case_attachment", args=[case.pk, attachment.file_id]))

    assert r.status_code == 403
