from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.demo import demo_seed
from cases.models import Case, Status
from tests.factories import CaseFactory, OrganisationFactory, ProjectFactory, TokenFactory
from tokens.models import Mode, Organisation, Project

pytestmark = pytest.mark.django_db

PROJECTS = reverse("admin:tokens_project_changelist")


def test_project_list_shows_case_and_token_counts(admin_client: Client) -> None:
    busy = ProjectFactory(name="Busy")
    for _ in range(3):
        CaseFactory(project=busy)
    for _ in range(2):
        TokenFactory(project=busy)
    quiet = ProjectFactory(name="Quiet")

    r = admin_client.get(PROJECTS)

    counts = {p.pk: (p.case_count, p.token_count) for p in r.context["cl"].result_list}
    assert counts == {busy.pk: (3, 2), quiet.pk: (0, 0)}
    headers = [h["text"] for h in r.context["result_headers"]][1:]
    assert headers == ["name", "id", "organisation", "cases", "tokens", "created at"]


def test_project_list_query_count_does_not_grow_with_the_rows(admin_client: Client) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(PROJECTS).status_code == 200
        return len(captured)

    CaseFactory(project=ProjectFactory())
    few = queries()
    for _ in range(20):
        project = ProjectFactory()
        CaseFactory(project=project)
        TokenFactory(project=project)
    assert queries() == few


def test_project_is_added_and_edited(admin_client: Client) -> None:
    organisation = OrganisationFactory()

    added = admin_client.post(reverse("admin:tokens_project_add"), {"organisation": organisation.pk, "name": " Rust "})
    project = Project.objects.get()
    edited = admin_client.post(
        reverse("admin:tokens_project_change", args=[project.pk]), {"organisation": organisation.pk, "name": "Oxide"}
    )
    duplicate = admin_client.post(
        reverse("admin:tokens_project_add"), {"organisation": organisation.pk, "name": "Oxide"}
    )

    assert added.status_code == 302
    assert edited.status_code == 302
    assert project.pk.startswith("p_")
    assert Project.objects.get().name == "Oxide"
    assert duplicate.status_code == 200
    assert Project.objects.count() == 1


def test_organisation_list_and_page_show_their_projects(admin_client: Client) -> None:
    organisation = OrganisationFactory(name="Lakeside RP")
    ProjectFactory(organisation=organisation, name="Main server")
    ProjectFactory(organisation=organisation, name="Event server")

    listing = admin_client.get(reverse("admin:tokens_organisation_changelist"))
    page = admin_client.get(reverse("admin:tokens_organisation_change", args=[organisation.pk]))

    assert [o.project_count for o in listing.context["cl"].result_list] == [2]
    assert "Main server" in page.content.decode()
    assert "Event server" in page.content.decode()
    rename = admin_client.post(
        reverse("admin:tokens_organisation_change", args=[organisation.pk]),
        {
            "name": "Lakeside Roleplay",
            "projects-TOTAL_FORMS": "0",
            "projects-INITIAL_FORMS": "0",
        },
    )
    assert rename.status_code == 302, rename.content
    assert Organisation.objects.get().name == "Lakeside Roleplay"


def test_seed_demo_fills_the_admin_like_a_real_queue(admin_client: Client) -> None:
    demo_seed()

    r = admin_client.get(reverse("admin:cases_case_changelist"), {"status": "all"})

    assert r.context["cl"].result_count == Case.objects.count() >= 60
    # The queue has work of every priority, some of it labelled.
    assert set(Case.objects.values_list("priority", flat=True)) == {"low", "normal", "high", "urgent"}
    assert Case.objects.exclude(labels=[]).exists()
    assert set(Case.objects.values_list("status", flat=True)) == set(Status.values)
    assert set(Case.objects.values_list("mode", flat=True)) == set(Mode.values)
    assert Case.objects.values("project").distinct().count() == 2
    assert Case.objects.filter(attachments__file__content_type="image/png").exists()
    assert len(set(Case.objects.values_list("title", flat=True))) >= 30
