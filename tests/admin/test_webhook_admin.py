"""Webhook admin: the secret shown once, the delivery log, resending."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import CaseFactory, ProjectFactory
from tokens.models import Mode, Project
from webhooks.models import MessageStatus, WebhookAttempt, WebhookEndpoint, WebhookMessage
from webhooks.services import endpoint_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_networks_allowed")]

ADD = reverse("admin:webhooks_webhookendpoint_add")
SECRET_RE = re.compile(r"whsec_[A-Za-z0-9+/]{32}")


def add_form(project: Project, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "project": project.pk,
        "mode": "live",
        "url": "http://127.0.0.1:9/in",
        "events": ["case.created", "case.updated"],
        "form_key": secrets.token_urlsafe(18),
    }
    data.update(overrides)
    return data


def test_created_endpoint_shows_its_secret_once(admin_client: Client) -> None:
    project = ProjectFactory()
    form = add_form(project, mode="test", events=["case.updated"])
    r = admin_client.post(ADD, form)

    assert r.status_code == 200, r.content
    assert r.templates[0].name == "admin/webhooks/webhookendpoint/shown_once.html"
    [secret] = SECRET_RE.findall(r.content.decode())
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret == secret
    assert (endpoint.project, endpoint.mode, endpoint.events) == (project, "test", ["case.updated"])
    assert endpoint.created_by == "admin"
    assert "no-store" in r["Cache-Control"]

    # Reloading re-sends the form: refused, no second endpoint, no secret.
    again = admin_client.post(ADD, form)
    assert again.status_code == 200
    assert "already used" in again.content.decode()
    assert not SECRET_RE.findall(again.content.decode())
    assert WebhookEndpoint.objects.count() == 1

    page = admin_client.get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])).content.decode()
    assert secret not in page
    listing = admin_client.get(reverse("admin:webhooks_webhookendpoint_changelist")).content.decode()
    assert endpoint.pk in listing
    assert secret not in listing


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"url": "ftp://127.0.0.1/"}, "url", id="bad-scheme"),
        pytest.param({"url": "http://nowhere.invalid/"}, "url", id="unresolvable"),
        pytest.param({"events": ["case.deleted"]}, "events", id="unknown-event"),
        pytest.param({"mode": "prod"}, "mode", id="bad-mode"),
    ],
)
def test_a_refused_endpoint_is_a_form_error_and_nothing_is_created(admin_client: Client, overrides, field) -> None:
    r = admin_client.post(ADD, add_form(ProjectFactory(), **overrides))
    assert r.status_code == 200
    assert field in r.context["adminform"].form.errors
    assert not WebhookEndpoint.objects.exists()


def test_private_address_is_a_form_error_when_not_allowed(admin_client: Client, settings) -> None:
    settings.SERVEROPS = {**settings.SERVEROPS, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": False}
    r = admin_client.post(ADD, add_form(ProjectFactory(), url="http://10.0.0.5/hook"))
    assert "private" in str(r.context["adminform"].form.errors["url"])
    assert not WebhookEndpoint.objects.exists()


def test_endpoint_page_shows_the_delivery_log(admin_client: Client, project) -> None:
    endpoint, _ = endpoint_create(project=project, mode=Mode.LIVE, url="http://127.0.0.1:9/in")
    case = CaseFactory(project=project)
    message = WebhookMessage.objects.get()
    WebhookMessage.objects.filter(pk=message.pk).update(attempts=2, last_status_code=502, last_duration_ms=37)

    body = admin_client.get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])).content.decode()
    assert message.event.public_id in body
    assert "502" in body
    assert "37 ms" in body
    assert case.events.get().id == message.event.public_id

    everything = admin_client.get(
        reverse("admin:webhooks_webhookmessage_changelist") + f"?endpoint__id__exact={endpoint.pk}"
    )
    assert everything.status_code == 200
    assert message.event.public_id in everything.content.decode()


def test_message_page_lists_attempts_and_resend_queues_it_again(admin_client: Client, project) -> None:
    endpoint_create(project=project, mode=Mode.LIVE, url="http://127.0.0.1:9/in")
    CaseFactory(project=project)
    message = WebhookMessage.objects.get()
    WebhookMessage.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED, attempts=8, next_attempt_at=None)
    WebhookAttempt.objects.create(
        message=message, number=8, worker="host:1", started_at=message.created_at, status_code=500, duration_ms=12
    )
    page = admin_client.get(reverse("admin:webhooks_webhookmessage_change", args=[message.pk])).content.decode()
    assert "host:1" in page

    r = admin_client.post(
        reverse("admin:webhooks_webhookmessage_changelist"),
        {"action": "resend_messages", "_selected_action": [message.pk]},
    )
    assert r.status_code == 302, r.content
    message.refresh_from_db()
    assert message.status == MessageStatus.PENDING
    assert message.attempts == 0
    assert message.next_attempt_at is not None


def test_deleting_an_endpoint_in_the_admin_drops_its_messages(admin_client: Client, project) -> None:
    endpoint, _ = endpoint_create(project=project, mode=Mode.LIVE, url="http://127.0.0.1:9/in")
    CaseFactory(project=project)
    r = admin_client.post(reverse("admin:webhooks_webhookendpoint_delete", args=[endpoint.pk]), {"post": "yes"})
    assert r.status_code == 302, r.content
    assert not WebhookEndpoint.objects.exists()
    assert not WebhookMessage.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://user:pass@127.0.0.1:9/in", id="user-and-password"),
        pytest.param("http://token@127.0.0.1:9/in", id="user-only"),
        pytest.param("https://:secret@127.0.0.1/in", id="password-only"),
        pytest.param("http://@127.0.0.1:9/in", id="empty-userinfo"),
    ],
)
def test_a_url_with_credentials_is_a_form_error(admin_client: Client, url: str) -> None:
    r = admin_client.post(ADD, add_form(ProjectFactory(), url=url))

    assert r.status_code == 200, r.content
    assert "must not hold credentials" in r.content.decode()
    assert not SECRET_RE.findall(r.content.decode())
    assert not WebhookEndpoint.objects.exists()
