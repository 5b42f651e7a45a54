"""The admin site itself: ServerOps' name, icon and link to the API docs on every page."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_site_is_branded_and_view_site_opens_the_api_docs(admin_client: Client) -> None:
    r = admin_client.get(reverse("admin:index"))

    body = r.content.decode()
    assert "Django administration" not in body
    assert "<title>Moderation and access | ServerOps admin</title>" in body
    assert f'<a href="{reverse("docs")}">API docs</a>' in body
    assert admin_client.get(reverse("docs")).status_code == 200
    favicon = "/static/serverops/favicon.svg"
    assert f'<link rel="icon" type="image/svg+xml" href="{favicon}">' in body
    served = admin_client.get(favicon)
    assert served.status_code == 200
    assert b"<svg" in b"".join(served.streaming_content)


@pytest.mark.parametrize(
    "page", ["admin:cases_case_changelist", "admin:media_file_changelist", "admin:tokens_scopedtoken_changelist"]
)
def test_every_admin_page_has_the_one_stylesheet(admin_client: Client, page: str) -> None:
    r = admin_client.get(reverse(page))
    assert r.status_code == 200
    sheets = [line for line in r.content.decode().splitlines() if "admin.css" in line and "stylesheet" in line]
    assert len(sheets) == 1 and "serverops/admin.css" in sheets[0], sheets
