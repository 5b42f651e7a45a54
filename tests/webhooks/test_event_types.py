"""Every event type (docs/api.md#event-types), delivered to a real receiver that verifies it as a
Standard Webhooks receiver does, and each written in its change's own transaction."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.db import transaction
from standardwebhooks import Webhook

from media.models import AbuseStatus, File, Visibility
from media.services import file_create, file_delete, file_update
from tests.factories import ProjectFactory, TokenFactory
from tests.media.samples import image
from tokens.models import Mode
from webhooks.models import Event, WebhookMessage
from webhooks.services import endpoint_create

from .conftest import deliver

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("private_networks_allowed")]

STEAM = "steam:76561197960287930"
DISCORD = "discord:80351110224678912"


def received(secret: str, receiver: Any) -> list[dict[str, Any]]:
    """Each body the receiver got, after its signature checks out; ``webhook-id`` is the event's id."""
    bodies = []
    for request in receiver.requests:
        body = Webhook(secret).verify(request.body, request.headers)
        assert request.headers["webhook-id"] == body["id"]
        bodies.append(body)
    return bodies


def _png(project: Any, *, mode: str = Mode.LIVE, visibility: str = Visibility.PRIVATE) -> File:
    return file_create(
        project=project, mode=mode, content=io.BytesIO(image("PNG")), original_name="shot.png", visibility=visibility
    )


def _feed(client: Any, project: Any) -> list[dict[str, Any]]:
    token = TokenFactory(project=project, scopes=["cases:read"])
    r = client.get("/v1/events", headers={"Authorization": f"Bearer {token.plaintext}"})
    assert r.status_code == 200, r.content
    return r.json()["events"]  # type: ignore[no-any-return]


def test_file_created_blocked_and_deleted_arrive_with_the_file(project, receiver, client) -> None:
    _, secret = endpoint_create(
        project=project,
        mode=Mode.LIVE,
        url=receiver.url(),
        events=["file.created", "file.blocked", "file.deleted"],
    )
    file = _png(project)
    file_update(file_id=file.pk, changes={"abuse_status": AbuseStatus.FLAGGED})  # not an event
    file_update(file_id=file.pk, changes={"abuse_status": AbuseStatus.BLOCKED})
    file_update(file_id=file.pk, changes={"abuse_status": AbuseStatus.CLEAN})
    file_delete(files=File.objects.all(), file_id=file.pk)
    assert deliver() == 3

    created, blocked, deleted = received(secret, receiver)
    assert [created["type"], blocked["type"], deleted["type"]] == ["file.created", "file.blocked", "file.deleted"]
    assert created["data"]["file"]["id"] == file.pk
    assert created["data"]["file"]["original_name"] == "shot.png"
    assert created["data"]["file"]["abuse_status"] == "clean"
    assert blocked["data"]["file"]["abuse_status"] == "blocked"
    assert blocked["data"]["file"]["url"] is None
    assert deleted["data"]["file"]["url"] is None
    assert {created["mode"], blocked["mode"], deleted["mode"]} == {"live"}
    # The feed serves the very same bodies.
    assert _feed(client, project) == [created, blocked, deleted]


def test_player_merged_arrives_with_the_survivor_and_the_merged_ids(call, project, receiver) -> None:
    _, secret = endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url(), events=["player.merged"])
    old = call("POST", "/v1/cases", json_body={"title": "a", "subjects": [{"identifiers": [STEAM], "name": "old"}]})
    young = call(
        "POST", "/v1/cases", json_body={"title": "b", "subjects": [{"identifiers": [DISCORD], "name": "young"}]}
    )
    old_id, young_id = (r.json()["subjects"][0]["player"] for r in (old, young))
    call("POST", "/v1/cases", json_body={"title": "c", "subjects": [{"identifiers": [DISCORD, STEAM]}]})
    assert deliver() == 1

    (body,) = received(secret, receiver)
    assert body["type"] == "player.merged"
    assert body["data"]["merged"] == [young_id]
    assert body["data"]["player"]["id"] == old_id
    assert body["data"]["player"]["names"] == ["old", "young"]
    assert body["data"]["player"]["identifiers"] == sorted([STEAM, DISCORD])
    # The survivor as the players API shows it right after the merge.
    assert body["data"]["player"] == call("GET", f"/v1/players/{old_id}").json() | {
        "updated_at": body["data"]["player"]["updated_at"],
        "cases": body["data"]["player"]["cases"],
    }


def test_a_note_arrives_once_as_case_note_added_with_the_case_and_the_note(call, project, receiver) -> None:
    """POST /v1/cases/{id}/notes: one case.note_added event (not also a case.updated), with the
    note as the API returned it and the id of the history event that records it."""
    _, secret = endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    case_id = call("POST", "/v1/cases", json_body={"title": "Griefing"}).json()["id"]
    note = call("POST", f"/v1/cases/{case_id}/notes", json_body={"body": "Checked the logs: confirmed."}).json()
    assert deliver() == 2

    created, noted = received(secret, receiver)
    assert created["type"] == "case.created"
    assert noted["type"] == "case.note_added"
    assert noted["data"]["note"] == note
    assert noted["data"]["case"] == call("GET", f"/v1/cases/{case_id}").json()
    history = call("GET", f"/v1/cases/{case_id}/events").json()["events"]
    assert noted["id"] == history[-1]["id"] and history[-1]["changes"] == {"note": {"from": None, "to": note["id"]}}


def test_an_endpoint_hears_only_its_types_and_the_default_is_the_case_types(call, project, receiver) -> None:
    default, _ = endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url("/default"))
    files, _ = endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url("/files"), events=["file.created"])
    assert default.events == ["case.created", "case.updated", "case.note_added"]
    call("POST", "/v1/cases", json_body={"title": "t"})
    _png(project)
    assert deliver() == 2
    assert sorted(request.path for request in receiver.requests) == ["/default", "/files"]
    assert default.messages.get().event.type == "case.created"
    assert files.messages.get().event.type == "file.created"


def test_an_event_is_written_with_its_change_or_not_at_all(project) -> None:
    endpoint_create(project=project, mode=Mode.LIVE, url="http://127.0.0.1:9/hooks", events=["file.created"])

    class Abandon(Exception):
        pass

    def upload_then_fail() -> None:
        with transaction.atomic():
            _png(project)
            assert Event.objects.count() == 1 and WebhookMessage.objects.count() == 1
            raise Abandon

    with pytest.raises(Abandon):
        upload_then_fail()
    assert not File.objects.exists()
    assert not Event.objects.exists()
    assert not WebhookMessage.objects.exists()


def test_events_of_other_projects_and_modes_stay_there(project, receiver) -> None:
    endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url(), events=["file.created"])
    _png(ProjectFactory())
    _png(project, mode=Mode.TEST)
    assert deliver() == 0
    assert Event.objects.count() == 2
    assert set(Event.objects.values_list("mode", flat=True)) == {"live", "test"}
