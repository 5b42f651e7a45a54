"""Permission checks cost one query per request: a member's roles are read once, whatever the
number of rows, inlines and permission hooks a page asks (docs/operations.md#members-and-roles)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import CaseFactory, ProjectFactory, attach_file, staff_member
from tokens.models import Member, Role

pytestmark = pytest.mark.django_db

MEMBER_TABLE = Member._meta.db_table


def member_reads(client: Client, url: str) -> tuple[int, int]:
    """(status, how many statements read the membership table) of one GET."""
    with CaptureQueriesContext(connection) as queries:
        status = client.get(url).status_code
    return status, sum(1 for query in queries.captured_queries if f'FROM "{MEMBER_TABLE}"' in query["sql"])


@pytest.mark.parametrize(
    "page",
    ["admin:index", "admin:cases_case_changelist", "admin:media_file_changelist", "admin:players_player_changelist"],
)
def test_lists_read_the_roles_once_whatever_their_length(client: Client, page: str) -> None:
    project = ProjectFactory()
    client.force_login(staff_member(project.organisation, Role.MODERATOR))
    url = reverse(page)
    attach_file(case=CaseFactory(project=project))
    assert member_reads(client, url) == (200, 1)

    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(10):
        attach_file(case=CaseFactory(project=project))
    with CaptureQueriesContext(connection) as many:
        client.get(url)

    assert member_reads(client, url) == (200, 1)
    assert len(many.captured_queries) == len(few.captured_queries)


def test_a_case_page_with_inlines_reads_the_roles_once(client: Client) -> None:
    case = CaseFactory()
    for n in range(3):
        attach_file(case=case, original_name=f"shot-{n}.png")
    client.force_login(staff_member(case.project.organisation, Role.VIEWER))

    assert member_reads(client, reverse("admin:cases_case_change", args=[case.pk])) == (200, 1)
