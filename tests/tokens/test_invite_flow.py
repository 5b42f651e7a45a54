"""The invite end to end (docs/api.md#members): POST /v1/members → the email's link → a password
set on Django's own page → the new member logs into the admin and sees only their organisation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from tests.factories import CaseFactory, ProjectFactory, TokenFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-and-new-password-42"


def test_an_invited_moderator_sets_a_password_logs_in_and_sees_only_their_organisation(client: Client) -> None:
    project = ProjectFactory(organisation__name="Night City RP")
    token = TokenFactory(project=project, scopes=["members:write"], expires_at=timezone.now() + timedelta(days=1))
    mine = CaseFactory(project=project, title="Our own report")
    theirs = CaseFactory(title="Another community's report")

    r = client.post(
        "/v1/members",
        {"email": "newmod@example.com", "role": "moderator"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token.plaintext}"},
    )
    assert r.status_code == 201, r.content

    [email] = mail.outbox
    assert email.to == ["newmod@example.com"]
    [link] = re.findall(r"https?://[^/\s]+(/admin/reset/[^\s]+/)", email.body)
    browser = Client()
    # Django's confirm view keeps the token in the session and moves to a URL without it.
    form_page = browser.get(link, follow=True)
    assert form_page.status_code == 200
    assert "new_password1" in form_page.content.decode()
    done = browser.post(
        form_page.redirect_chain[-1][0], {"new_password1": PASSWORD, "new_password2": PASSWORD}, follow=True
    )
    assert done.status_code == 200
    assert done.redirect_chain[-1][0] == "/admin/reset/done/"
    # The link is spent.
    assert "new_password1" not in browser.get(link, follow=True).content.decode()

    login_page = browser.get("/admin/login/")
    assert login_page.status_code == 200
    landed = browser.post(
        "/admin/login/?next=/admin/", {"username": "newmod@example.com", "password": PASSWORD}, follow=True
    )
    assert landed.status_code == 200 and landed.context["user"].username == "newmod@example.com"
    listed = browser.get("/admin/cases/case/")
    assert [case.pk for case in listed.context["cl"].result_list] == [mine.pk]
    assert theirs.title not in listed.content.decode()
    assert browser.get(f"/admin/cases/case/{theirs.pk}/change/").status_code == 404
    assert browser.get("/admin/tokens/member/").status_code == 403
