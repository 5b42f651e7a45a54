"""webhooks 0002–0004: the per-endpoint outbox becomes one Event row per event, which every
message of it refers to; bodies, types, ids and delivery state survive, forward and back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from cases.models import Case, CaseEvent
from tests.factories import ProjectFactory
from tests.migrations import at_migration, migrate
from webhooks.models import Event, WebhookMessage

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("webhooks", "0001_initial")]


@pytest.fixture
def old_apps() -> Iterator[Any]:
    with at_migration(BEFORE) as apps:
        yield apps


def _case_event(project: Any, mode: str, title: str) -> CaseEvent:
    # The current models, written directly: no service runs, so nothing reaches the (old) outbox.
    case = Case.objects.create(project=project, mode=mode, title=title)
    return CaseEvent.objects.create(
        case=case, actor_type="system", actor_id="t", actor_name="t", changes={}, prev_hash="0" * 64, hash="1" * 64
    )


def _body(event: CaseEvent, kind: str) -> str:
    return json.dumps({"id": event.id, "type": kind, "data": {"case": {"id": event.case_id}}})


def test_each_event_becomes_one_row_its_messages_refer_to(old_apps: Any) -> None:
    project = ProjectFactory()
    Endpoint = old_apps.get_model("webhooks", "WebhookEndpoint")
    Message = old_apps.get_model("webhooks", "WebhookMessage")
    one = Endpoint.objects.create(project_id=project.pk, mode="live", url="https://a.example/", secret="s", events=[])
    two = Endpoint.objects.create(project_id=project.pk, mode="live", url="https://b.example/", secret="s", events=[])
    test = Endpoint.objects.create(project_id=project.pk, mode="test", url="https://c.example/", secret="s", events=[])
    created, updated = _case_event(project, "live", "a"), _case_event(project, "live", "a")
    in_test = _case_event(project, "test", "b")
    rows = [
        (one, created, "case.created", "delivered"),
        (two, created, "case.created", "failed"),
        (one, updated, "case.updated", "pending"),
        (test, in_test, "case.created", "pending"),
    ]
    for endpoint, event, kind, status in rows:
        Message.objects.create(
            endpoint=endpoint, event_id=event.id, event_type=kind, payload=_body(event, kind), status=status
        )
    Message.objects.filter(event_id=created.id).update(created_at=timezone.now() - timedelta(days=2))

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    events = {event.public_id: event for event in Event.objects.all()}
    assert set(events) == {created.id, updated.id, in_test.id}
    first = events[created.id]
    assert (first.project_id, first.mode, first.type) == (project.pk, "live", "case.created")
    assert first.payload == _body(created, "case.created")
    assert first.created_at < timezone.now() - timedelta(days=1)
    assert events[in_test.id].mode == "test"
    assert sorted(WebhookMessage.objects.filter(event=first).values_list("endpoint_id", "status")) == sorted(
        [(one.pk, "delivered"), (two.pk, "failed")]
    )
    assert WebhookMessage.objects.get(event=events[updated.id]).status == "pending"
    # The feed orders the migrated events as their messages were made.
    assert Event.objects.order_by("seq").values_list("public_id", flat=True).first() == created.id


def test_migrating_back_gives_each_message_its_body_again(old_apps: Any) -> None:
    project = ProjectFactory()
    Endpoint = old_apps.get_model("webhooks", "WebhookEndpoint")
    Message = old_apps.get_model("webhooks", "WebhookMessage")
    endpoint = Endpoint.objects.create(project_id=project.pk, mode="live", url="https://a.example/", secret="s")
    event = _case_event(project, "live", "a")
    Message.objects.create(endpoint=endpoint, event_id=event.id, event_type="case.created", payload=_body(event, "x"))
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    file_event = Event.objects.create(project_id=project.pk, mode="live", type="file.created", payload="{}")
    WebhookMessage.objects.create(endpoint_id=endpoint.pk, event=file_event)

    apps = migrate(BEFORE)

    (message,) = apps.get_model("webhooks", "WebhookMessage").objects.all()
    assert (message.event_id, message.event_type, message.payload) == (event.id, "case.created", _body(event, "x"))
