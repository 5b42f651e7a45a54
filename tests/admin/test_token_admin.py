from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from tests.admin.conftest import PLAINTEXT_RE
from tests.factories import ProjectFactory, TokenFactory
from tokens import crypto
from tokens.models import Project, ScopedToken
from tokens.scopes import SCOPES
from tokens.services import token_revoke

pytestmark = pytest.mark.django_db

ADD = reverse("admin:tokens_scopedtoken_add")
CHANGELIST = reverse("admin:tokens_scopedtoken_changelist")


def change_url(token: ScopedToken) -> str:
    return reverse("admin:tokens_scopedtoken_change", args=[token.pk])


def add_form(for_project: Project, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "project": for_project.pk,
        "name": "Discord bot",
        "mode": "live",
        "scopes": ["cases:read", "cases:write"],
        "expires_at_0": "",
        "expires_at_1": "",
        "form_key": secrets.token_urlsafe(18),  # a fresh form, as the add page would render it
    }
    data.update(overrides)
    return data


def test_add_page_offers_every_scope_as_a_checkbox_with_its_description(admin_client: Client) -> None:
    body = admin_client.get(ADD).content.decode()

    for scope, description in SCOPES.items():
        assert f'type="checkbox" name="scopes" value="{scope}"' in body
        assert escape(description) in body
    assert 'name="mode" value="test"' in body
    assert 'name="expires_at_0"' in body
    assert "_continue" not in body
    assert "_addanother" not in body


def test_created_token_is_shown_once_on_its_own_page(admin_client: Client) -> None:
    project = ProjectFactory()

    r = admin_client.post(ADD, add_form(project, mode="test", scopes=["logs:read", "cases:read"]))

    assert r.status_code == 200, r.content
    assert r.templates[0].name == "admin/tokens/scopedtoken/shown_once.html"
    body = r.content.decode()
    shown = PLAINTEXT_RE.findall(body)
    assert len(shown) == 1
    plaintext = shown[0]
    token = ScopedToken.objects.get()
    assert token.digest == crypto.digest(plaintext)
    assert plaintext.startswith("so_test_")
    assert crypto.parse(plaintext) == "test"
    assert (token.project, token.mode, token.name) == (project, "test", "Discord bot")
    assert token.scopes == ["logs:read", "cases:read"]  # canonical order, as the service stores them
    assert token.created_by == "admin"
    assert "cannot be shown again" in body
    assert 'id="copy-secret"' in body
    assert "navigator.clipboard" in body
    assert "no-store" in r["Cache-Control"]
    entry = LogEntry.objects.get(object_id=token.pk)
    assert entry.action_flag == ADDITION
    assert plaintext not in entry.change_message + entry.object_repr


def test_plaintext_is_never_shown_again(admin_client: Client) -> None:
    r = admin_client.post(ADD, add_form(ProjectFactory()))
    plaintext = PLAINTEXT_RE.findall(r.content.decode())[0]
    token = ScopedToken.objects.get()

    pages = [
        ADD,
        CHANGELIST,
        change_url(token),
        reverse("admin:tokens_scopedtoken_history", args=[token.pk]),
        reverse("admin:index"),
    ]
    for page in pages:
        again = admin_client.get(page)
        assert again.status_code == 200, page
        assert plaintext not in again.content.decode(), page
        assert not PLAINTEXT_RE.search(again.content.decode()), page
    # Nothing kept it: not the session (where messages live too), not the history, not the database row.
    for session in Session.objects.all():
        assert plaintext not in json.dumps(session.get_decoded())
    assert not LogEntry.objects.filter(change_message__contains=plaintext).exists()
    stored = ScopedToken.objects.filter(pk=token.pk).values().get()
    assert plaintext not in json.dumps(stored, default=str)


def test_expiry_is_optional_and_must_be_in_the_future(admin_client: Client) -> None:
    project = ProjectFactory()
    past = timezone.now() - timedelta(days=1)
    future = timezone.now() + timedelta(days=30)

    refused = admin_client.post(
        ADD, add_form(project, expires_at_0=past.date().isoformat(), expires_at_1=past.strftime("%H:%M:%S"))
    )
    accepted = admin_client.post(
        ADD, add_form(project, expires_at_0=future.date().isoformat(), expires_at_1=future.strftime("%H:%M:%S"))
    )

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors == {"expires_at": ["expiry must be in the future"]}
    assert accepted.status_code == 200
    assert ScopedToken.objects.get().expires_at is not None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"scopes": []}, "scopes", id="no-scope"),
        pytest.param({"scopes": ["cases:delete"]}, "scopes", id="unknown-scope"),
        pytest.param({"name": "   "}, "name", id="blank-name"),
        pytest.param({"mode": "prod"}, "mode", id="unknown-mode"),
        pytest.param({"project": "p_missing"}, "project", id="unknown-project"),
    ],
)
def test_add_form_refuses_what_the_service_refuses(admin_client: Client, overrides: dict[str, Any], field: str) -> None:
    r = admin_client.post(ADD, add_form(ProjectFactory(), **overrides))

    assert r.status_code == 200
    assert list(r.context["adminform"].form.errors) == [field]
    assert not PLAINTEXT_RE.search(r.content.decode())
    assert not ScopedToken.objects.exists()


def test_token_list_shows_what_identifies_a_token_but_never_the_digest(admin_client: Client) -> None:
    token = TokenFactory(scopes=["media:read", "cases:read"])
    TokenFactory(name="everything", scopes=["media:read", "media:write", "logs:read", "cases:read", "cases:write"])
    revoked = token_revoke(token=TokenFactory(name="old bot"))
    expired = TokenFactory(name="expiring")
    ScopedToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(hours=1))

    r = admin_client.get(CHANGELIST)

    body = r.content.decode()
    headers = [h["text"] for h in r.context["result_headers"]][1:]
    assert headers == ["name", "state", "project", "scopes", "last used / expires"]
    for text in (
        f'<code class="token-hint">{token.hint}</code>',
        f'<span class="token-project" title="{token.project}">{token.project.name}</span>',
        "<code>media:read</code> <code>cases:read</code>",
        '<span class="token-more-scopes" title="media:read media:write logs:read cases:read cases:write">'
        "+2 more</span>",
        "expired ",
    ):
        assert text in body
    # Each state its own badge (and colour): revoked and expired never look active.
    for state, count in (("active", 2), ("revoked", 1), ("expired", 1)):
        assert body.count(f'<span class="token-state token-state-{state}">{state}</span>') == count
    for shown in (token, revoked, expired):
        assert shown.digest not in body
        assert shown.digest not in admin_client.get(change_url(shown)).content.decode()
    assert [t.pk for t in admin_client.get(CHANGELIST, {"state": "revoked"}).context["cl"].result_list] == [revoked.pk]


def test_revoke_action_revokes_each_selected_token(admin_client: Client) -> None:
    tokens = [TokenFactory() for _ in range(2)]
    already = token_revoke(token=TokenFactory())
    kept = TokenFactory()

    r = admin_client.post(
        CHANGELIST,
        {"action": "revoke_tokens", "_selected_action": [t.pk for t in [*tokens, already]]},
        follow=True,
    )

    assert "Revoked 2 token(s); 1 already revoked." in [str(m) for m in r.context["messages"]]
    for token in tokens:
        assert ScopedToken.objects.get(pk=token.pk).revoked_at is not None
        assert LogEntry.objects.filter(object_id=token.pk).exists()
    assert ScopedToken.objects.get(pk=already.pk).revoked_at == already.revoked_at
    assert ScopedToken.objects.get(pk=kept.pk).revoked_at is None


def test_revoked_token_cannot_authenticate(admin_client: Client, client: Client) -> None:
    token = TokenFactory()
    admin_client.post(CHANGELIST, {"action": "revoke_tokens", "_selected_action": [token.pk]})

    r = client.get("/v1/cases", headers={"Authorization": f"Bearer {token.plaintext}"})  # type: ignore[attr-defined]

    assert r.status_code == 401, r.content


def test_active_token_can_be_renamed_and_revoked_from_its_page(admin_client: Client) -> None:
    token = TokenFactory(name="bot")

    r = admin_client.post(change_url(token), {"name": "Discord bot", "revoke": "on"})

    assert r.status_code == 302, r.content
    stored = ScopedToken.objects.get(pk=token.pk)
    assert stored.name == "Discord bot"
    assert stored.revoked_at is not None
    assert json.loads(LogEntry.objects.get(object_id=token.pk).change_message) == [
        {"changed": {"fields": ["Name", "Revoked"]}}
    ]


def test_active_token_page_changes_nothing_but_the_name(admin_client: Client) -> None:
    token = TokenFactory(scopes=["cases:read"])

    admin_client.post(
        change_url(token),
        {
            "name": "renamed",
            "scopes": ["billing:read"],
            "mode": "test",
            "digest": "0" * 64,
            "expires_at_0": "2030-01-01",
        },
    )

    stored = ScopedToken.objects.get(pk=token.pk)
    assert (stored.name, stored.scopes, stored.mode, stored.digest, stored.expires_at) == (
        "renamed",
        ["cases:read"],
        "live",
        token.digest,
        None,
    )


def test_revoked_token_page_is_read_only_and_revocation_is_final(admin_client: Client) -> None:
    token = token_revoke(token=TokenFactory(name="leaked"))

    page = admin_client.get(change_url(token))
    post = admin_client.post(change_url(token), {"name": "restored"})

    assert page.status_code == 200
    body = page.content.decode()
    for control in ('name="name"', 'name="revoke"', 'name="_save"'):
        assert control not in body
    assert "leaked" in body
    assert post.status_code == 403
    stored = ScopedToken.objects.get(pk=token.pk)
    assert (stored.name, stored.revoked_at) == ("leaked", token.revoked_at)


def test_tokens_cannot_be_deleted(admin_client: Client) -> None:
    token = TokenFactory()

    r = admin_client.post(reverse("admin:tokens_scopedtoken_delete", args=[token.pk]), {"post": "yes"})
    action = admin_client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [token.pk], "post": "yes"})

    assert r.status_code == 403
    assert action.status_code in (200, 302)
    assert ScopedToken.objects.filter(pk=token.pk).exists()


def test_resending_the_add_form_does_not_create_a_second_token(admin_client: Client) -> None:
    """Reloading the shown-once page re-posts the form: refused, and nothing is shown or created."""
    data = add_form(ProjectFactory())
    first = admin_client.post(ADD, data)
    assert first.status_code == 200
    plaintext = PLAINTEXT_RE.search(first.content.decode())
    assert plaintext is not None

    again = admin_client.post(ADD, data)
    assert again.status_code == 200
    assert "already used to create a token" in again.content.decode()
    assert PLAINTEXT_RE.search(again.content.decode()) is None
    assert ScopedToken.objects.count() == 1


def test_a_refused_add_form_can_be_fixed_and_sent_again(admin_client: Client) -> None:
    data = add_form(ProjectFactory(), scopes=[])
    assert admin_client.post(ADD, data).context["adminform"].form.errors
    fixed = admin_client.post(ADD, {**data, "scopes": ["cases:read"]})
    assert PLAINTEXT_RE.search(fixed.content.decode()) is not None
    assert ScopedToken.objects.count() == 1
