"""GET /v1/events (docs/api.md#event-feed): the project's and mode's events, oldest first, as webhook
bodies; keyset paging, types, the ETag and its 304, tenancy and mode, and retention."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core import signing
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from cases.services import Actor, case_create
from tests.factories import CaseFactory, ProjectFactory, TokenFactory
from tokens.models import Mode
from webhooks.models import Event, WebhookMessage
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db


def _cases(call, titles: list[str]) -> list[str]:
    ids = []
    for title in titles:
        r = call("POST", "/v1/cases", json_body={"title": title})
        assert r.status_code == 201, r.content
        ids.append(r.json()["id"])
    return ids


def _feed(call, query: str = "", if_none_match: str | None = None):
    return call("GET", f"/v1/events{query}", headers={"If-None-Match": if_none_match} if if_none_match else {})


def test_the_feed_is_the_events_oldest_first_each_exactly_its_webhook_body(call, project) -> None:
    case_id, _ = _cases(call, ["first", "second"])
    patched = call("PATCH", f"/v1/cases/{case_id}", json_body={"status": "closed"})
    r = _feed(call)
    assert r.status_code == 200, r.content
    page = r.json()
    assert [e["type"] for e in page["events"]] == ["case.created", "case.created", "case.updated"]
    assert [e["data"]["case"]["title"] for e in page["events"]] == ["first", "second", "first"]
    assert page["events"][2]["data"]["case"] == patched.json()
    assert page["events"][2]["data"]["changes"] == {"status": {"from": "open", "to": "closed"}}
    assert (page["next_cursor"], page["has_more"]) == (None, False)
    # One record: each event is the row webhooks deliver, body for body, and its id is the history's.
    stored = list(Event.objects.order_by("seq"))
    assert page["events"] == [json.loads(event.payload) for event in stored]
    history = call("GET", f"/v1/cases/{case_id}/events").json()["events"]
    assert [page["events"][0]["id"], page["events"][2]["id"]] == [event["id"] for event in history]
    assert r["ETag"] == f'"{stored[-1].public_id}"'


def test_pages_follow_by_cursor_and_after_without_repeating_or_skipping(call) -> None:
    _cases(call, [f"case {n}" for n in range(7)])
    seen: list[str] = []
    query = "?limit=3"
    while True:
        page = _feed(call, query).json()
        seen += [event["data"]["case"]["title"] for event in page["events"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        query = f"?limit=3&cursor={page['next_cursor']}"
    assert seen == [f"case {n}" for n in range(7)]

    ids = [event["id"] for event in _feed(call).json()["events"]]
    after = _feed(call, f"?after={ids[3]}&limit=2").json()
    assert [event["id"] for event in after["events"]] == ids[4:6]
    assert after["has_more"] is True
    last = _feed(call, f"?after={ids[-1]}").json()
    assert last == {"events": [], "next_cursor": None, "has_more": False}


def test_types_narrow_the_feed_and_its_etag(call) -> None:
    (case_id,) = _cases(call, ["one"])
    call("PATCH", f"/v1/cases/{case_id}", json_body={"title": "two"})
    _cases(call, ["three"])
    updated = _feed(call, "?types=case.updated")
    assert [e["data"]["case"]["title"] for e in updated.json()["events"]] == ["two"]
    both = _feed(call, "?types=case.updated,case.created&types=file.created").json()["events"]
    assert len(both) == 3
    # The ETag names the newest event of the types asked for: here the update, not the newer creation.
    assert updated["ETag"] == f'"{updated.json()["events"][0]["id"]}"'
    assert updated["ETag"] != _feed(call)["ETag"]


def test_if_none_match_with_the_current_etag_is_304_in_one_statement(
    call, used_token, django_assert_num_queries
) -> None:
    _cases(call, ["a", "b"])
    first = _feed(call)
    last_id = first.json()["events"][-1]["id"]
    etag = first["ETag"]
    # token; the newest event of the project and mode
    with django_assert_num_queries(2) as captured:
        r = _feed(call, "", if_none_match=etag)
    assert r.status_code == 304
    assert r.content == b""
    assert r["ETag"] == etag
    assert "webhooks_event" in captured.captured_queries[-1]["sql"]
    # The poll as a server makes it: after its last event, with its last ETag; still one statement.
    with django_assert_num_queries(2):
        r = _feed(call, f"?after={last_id}", if_none_match=f"W/{etag}")
    assert r.status_code == 304

    _cases(call, ["c"])
    fresh = _feed(call, f"?after={last_id}", if_none_match=etag)
    assert fresh.status_code == 200
    assert [e["data"]["case"]["title"] for e in fresh.json()["events"]] == ["c"]
    assert fresh["ETag"] != etag


def test_an_empty_feed_has_an_etag_that_names_no_event_and_polls_as_304(call) -> None:
    r = _feed(call)
    assert r.json() == {"events": [], "next_cursor": None, "has_more": False}
    assert _feed(call, if_none_match=r["ETag"]).status_code == 304
    _cases(call, ["now there is one"])
    assert _feed(call, if_none_match=r["ETag"]).status_code == 200


def test_if_none_match_never_hides_that_after_names_no_event(call) -> None:
    _cases(call, ["a"])
    etag = _feed(call)["ETag"]
    r = _feed(call, "?after=ev_01JD3Z8W6V4M2Q9T7K5X1B0N3R", if_none_match=etag)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "after"


def test_another_projects_and_the_other_modes_events_are_never_in_the_feed(call, client, project) -> None:
    other = ProjectFactory()
    theirs = case_create(project=other, mode=Mode.LIVE, actor=Actor.system("test"), title="theirs")
    test_mode = case_create(project=project, mode=Mode.TEST, actor=Actor.system("test"), title="test mode")
    _cases(call, ["mine"])
    assert [e["data"]["case"]["title"] for e in _feed(call).json()["events"]] == ["mine"]
    for foreign in (theirs, test_mode):
        event_id = foreign.events.get().id
        r = _feed(call, f"?after={event_id}")
        assert r.status_code == 400, r.content
        assert r.json()["error"]["param"] == "after"
    test_token = TokenFactory(project=project, mode=Mode.TEST)
    r = client.get("/v1/events", headers={"Authorization": f"Bearer {test_token.plaintext}"})
    assert [e["data"]["case"]["title"] for e in r.json()["events"]] == ["test mode"]
    assert all(e["mode"] == "test" for e in r.json()["events"])


def test_the_feed_needs_cases_read(client, project) -> None:
    token = TokenFactory(project=project, scopes=["media:read"])
    r = client.get("/v1/events", headers={"Authorization": f"Bearer {token.plaintext}"})
    assert r.status_code == 403
    assert r["X-Accepted-Scopes"] == "cases:read"


@pytest.mark.usefixtures("private_networks_allowed")
def test_prune_events_deletes_events_past_the_retention_with_their_deliveries(call, project, settings) -> None:
    endpoint_create(project=project, mode=Mode.LIVE, url="http://127.0.0.1:9/hooks")
    old_id, _ = _cases(call, ["old", "kept"])
    old = Event.objects.get(public_id=CaseFactory._meta.model.objects.get(pk=old_id).events.get().id)
    Event.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    assert WebhookMessage.objects.count() == 2

    out = StringIO()
    call_command("prune_events", stdout=out, stderr=StringIO())
    assert out.getvalue() == "1\n"
    assert [e["data"]["case"]["title"] for e in _feed(call).json()["events"]] == ["kept"]
    assert WebhookMessage.objects.count() == 1
    r = _feed(call, f"?after={old.public_id}")
    assert r.status_code == 400 and r.json()["error"]["param"] == "after"

    settings.SERVEROPS = {**settings.SERVEROPS, "EVENT_RETENTION_DAYS": 1}
    Event.objects.update(created_at=timezone.now() - timedelta(days=2))
    call_command("prune_events", stdout=out, stderr=StringIO())
    assert not Event.objects.exists()


def test_after_and_cursor_together_are_refused(call) -> None:
    _cases(call, ["a", "b", "c"])
    page = _feed(call, "?limit=1").json()
    r = _feed(call, f"?after={page['events'][0]['id']}&cursor={page['next_cursor']}")
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "after"


def test_a_cursor_issued_before_the_feed_knew_the_writers_transaction_still_walks_on(call) -> None:
    """A cursor of seq alone (issued before webhooks migration 0005) goes on after its event."""
    _cases(call, ["a", "b", "c"])
    first = Event.objects.order_by("seq").first()
    assert first is not None
    legacy = signing.Signer(salt="serverops.events.feed").sign_object([first.seq])
    page = _feed(call, f"?cursor={legacy}").json()
    assert [event["data"]["case"]["title"] for event in page["events"]] == ["b", "c"]
    gone = signing.Signer(salt="serverops.events.feed").sign_object([first.seq + 1_000_000])
    r = _feed(call, f"?cursor={gone}")
    if connection.vendor == "postgresql":  # its event is gone: no position to go on from
        assert r.status_code == 400
        assert r.json()["error"]["param"] == "cursor"
    else:  # seq is the whole position
        assert r.json()["events"] == []
