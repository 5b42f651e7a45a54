"""What a write spends on webhooks: its events and the endpoints of their projects and modes, in one
statement on PostgreSQL (two on SQLite), plus the deliveries' INSERT when an endpoint listens."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.factories import ProjectFactory
from tokens.models import Mode
from webhooks.models import Event, WebhookEndpoint, WebhookMessage
from webhooks.services import _endpoints_of, endpoint_create, events_record

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_networks(settings) -> None:
    settings.SERVEROPS = {**settings.SERVEROPS, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True}


def _fields(endpoint: WebhookEndpoint) -> dict[str, object]:
    return {field.attname: getattr(endpoint, field.attname) for field in endpoint._meta.concrete_fields}


def test_the_endpoints_of_each_project_and_mode_asked_for_and_no_others(django_assert_num_queries) -> None:
    one, two, other = ProjectFactory(), ProjectFactory(), ProjectFactory()
    wanted = [
        endpoint_create(project=one, mode=Mode.LIVE, url="http://127.0.0.1:9/a", events=["case.updated"])[0],
        endpoint_create(project=one, mode=Mode.LIVE, url="http://127.0.0.1:9/b")[0],
        endpoint_create(project=two, mode=Mode.TEST, url="http://127.0.0.1:9/c")[0],
    ]
    endpoint_create(project=one, mode=Mode.TEST, url="http://127.0.0.1:9/other-mode")
    endpoint_create(project=other, mode=Mode.LIVE, url="http://127.0.0.1:9/other-project")
    with django_assert_num_queries(1):
        found = _endpoints_of({(one.pk, Mode.LIVE), (two.pk, Mode.TEST)})
    by_id = {endpoint.pk: endpoint for endpoint in found}
    assert set(by_id) == {endpoint.pk for endpoint in wanted}
    # Every column as the ORM reads it: the JSON list of events, the datetimes, the secret.
    for endpoint in WebhookEndpoint.objects.filter(pk__in=by_id):
        assert _fields(by_id[endpoint.pk]) == _fields(endpoint)


def test_no_endpoints_is_an_empty_list(django_assert_num_queries) -> None:
    project = ProjectFactory()
    with django_assert_num_queries(1):
        assert _endpoints_of({(project.pk, Mode.LIVE)}) == []


def _event(project, mode: str, event_type: str) -> Event:  # type: ignore[no-untyped-def]
    return Event(project_id=project.pk, mode=mode, type=event_type, payload='{"test": true}')


def test_events_are_written_with_their_endpoints_found_in_one_statement_on_postgresql(
    django_assert_num_queries,
) -> None:  # type: ignore[no-untyped-def]
    """The events get their ``seq`` as ``bulk_create`` gives it, and each is delivered to exactly
    the endpoints of its project and mode that subscribed to its type, read as the ORM reads them."""
    one, two = ProjectFactory(), ProjectFactory()
    updates_only = endpoint_create(project=one, mode=Mode.LIVE, url="http://127.0.0.1:9/a", events=["case.updated"])[0]
    files = endpoint_create(project=two, mode=Mode.TEST, url="http://127.0.0.1:9/b", events=["file.created"])[0]
    endpoint_create(project=one, mode=Mode.TEST, url="http://127.0.0.1:9/other-mode")
    events = [
        _event(one, Mode.LIVE, "case.updated"),
        _event(one, Mode.LIVE, "case.created"),
        _event(two, Mode.TEST, "file.created"),
    ]
    # The events and the endpoints, then the deliveries' INSERT (SQLite: the events apart).
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 3):
        messages = events_record(events)

    stored = {event.public_id: event.seq for event in Event.objects.all()}
    assert {event.public_id: event.seq for event in events} == stored
    assert all(not event._state.adding for event in events)
    assert sorted(stored.values()) == [event.seq for event in events], "in the order given"
    assert {(m.endpoint_id, m.event.public_id) for m in messages} == {
        (updates_only.pk, events[0].public_id),
        (files.pk, events[2].public_id),
    }
    assert {(m.endpoint_id, m.event_id) for m in WebhookMessage.objects.all()} == {
        (m.endpoint_id, m.event_id) for m in messages
    }
    for message in messages:
        assert _fields(message.endpoint) == _fields(WebhookEndpoint.objects.get(pk=message.endpoint_id))


def test_events_without_endpoints_are_one_statement_on_postgresql(django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    project = ProjectFactory()
    event = _event(project, Mode.LIVE, "case.created")
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):
        assert events_record([event]) == []
    assert Event.objects.get().seq == event.seq
