"""A case's history is a hash chain (docs/api.md, "Evidence with a chain of custody"): every way
of writing an event links it, ``verify_history`` recomputes it, and tampering with the rows
(edit, delete, insert, reorder) is named."""

from __future__ import annotations

import io
import itertools
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.test import Client

from cases import chain
from cases.models import Case, CaseEvent, Status
from cases.services import Actor, case_archive_closed, case_event_record, case_update
from tests.factories import CaseFactory, ProjectFactory, attach_file

pytestmark = pytest.mark.django_db


def verify(*args: str) -> str:
    out = io.StringIO()
    call_command("verify_history", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def broken(*args: str) -> str:
    with pytest.raises(CommandError) as caught:
        verify(*args)
    return str(caught.value)


def events_of(case: Any) -> list[CaseEvent]:
    return list(CaseEvent.objects.filter(case_id=case.pk).order_by("created_at", "id"))


def _case_with_history(project: Any = None, changes: int = 3) -> Case:
    case = CaseFactory(**({"project": project} if project else {}))
    for n in range(changes):
        case_update(case_id=case.pk, changes={"title": f"title {n}"}, actor=Actor.system("tests"))
    return Case.objects.get(pk=case.pk)


def test_events_api_shows_the_chain_and_each_hash_is_recomputed_from_that_json(call, project) -> None:
    case = CaseFactory(project=project, title="first")
    call("PATCH", f"/v1/cases/{case.pk}", json_body={"title": "Ünïcode \u2028 ☃", "status": "closed"})
    call("PATCH", f"/v1/cases/{case.pk}", json_body={"description": "a\nb", "attachments": []})
    r = call("GET", f"/v1/cases/{case.pk}/events")
    assert r.status_code == 200, r.content
    events = r.json()["events"]
    assert len(events) == 3
    previous = chain.GENESIS
    for event in events:
        assert event["prev_hash"] == previous
        # Exactly the API's JSON, the case's id added and the hash left out: what a client recomputes.
        hashed = {key: value for key, value in event.items() if key != "hash"} | {"case": case.pk}
        assert chain.hash_of(hashed) == event["hash"]
        previous = event["hash"]
    assert Case.objects.get(pk=case.pk).history_head == previous


def _api_create_and_patch(call: Any, project: Any) -> None:
    r = call("POST", "/v1/cases", json_body={"title": "from the API"})
    assert r.status_code == 201, r.content
    r = call("PATCH", f"/v1/cases/{r.json()['id']}", json_body={"status": "closed"})
    assert r.status_code == 200, r.content


def _upload(call: Any, project: Any) -> None:
    case = CaseFactory(project=project)
    attach_file(case=case)
    attach_file(case=case, original_name="second.png")


def _admin_bulk_action(call: Any, project: Any) -> None:
    from django.contrib.auth.models import User

    cases = [CaseFactory(project=project) for _ in range(3)]
    admin = Client()
    admin.force_login(User.objects.create_superuser("boss", password="pw"))
    r = admin.post("/admin/cases/case/", {"action": "close_cases", "_selected_action": [c.pk for c in cases]})
    assert r.status_code == 302, r.content


def _archive(call: Any, project: Any) -> None:
    cases = [_case_with_history(project, changes=1) for _ in range(3)]
    for case in cases:
        case_update(case_id=case.pk, changes={"status": Status.CLOSED}, actor=Actor.system("tests"))
    Case.objects.filter(pk__in=[c.pk for c in cases]).update(updated_at=Case.objects.get(pk=cases[0].pk).updated_at)
    assert case_archive_closed(closed_for=timedelta(0)) == 3


def _other_kind_of_event(call: Any, project: Any) -> None:
    case = _case_with_history(project, changes=1)
    case_event_record(case_id=case.pk, actor=Actor.system("tests"), changes={"note": {"from": None, "to": "n_1"}})
    case_update(case_id=case.pk, changes={"title": "after the note"}, actor=Actor.system("tests"))


def _seed_demo(call: Any, project: Any) -> None:
    call_command("seed_demo", stdout=io.StringIO(), stderr=io.StringIO())


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(_api_create_and_patch, id="api"),
        pytest.param(_upload, id="attachment-upload"),
        pytest.param(_admin_bulk_action, id="admin-bulk-action"),
        pytest.param(_archive, id="archive-cases"),
        pytest.param(_other_kind_of_event, id="case-event-record"),
        pytest.param(_seed_demo, id="seed-demo"),
    ],
)
def test_every_way_of_writing_history_keeps_every_chain_whole(call, project, write) -> None:
    write(call, project)
    events = CaseEvent.objects.count()
    assert events > Case.objects.count()  # more than the first events: the write path appended
    assert verify() == f"verified {Case.objects.count()} cases, {events} events"
    for case in Case.objects.all():
        own = events_of(case)
        assert own[0].prev_hash == chain.GENESIS
        assert [e.prev_hash for e in own[1:]] == [e.hash for e in own[:-1]]
        assert case.history_head == own[-1].hash
        # Each event stamped after the one before it: the chain's order is the history's.
        assert all(a.created_at < b.created_at for a, b in itertools.pairwise(own))


def test_verify_history_narrows_to_a_project_or_a_case(project) -> None:
    mine = [_case_with_history(project, changes=2) for _ in range(2)]
    _case_with_history(ProjectFactory(), changes=5)
    assert verify("--project", project.pk) == "verified 2 cases, 6 events"
    assert verify("--case", mine[0].pk) == "verified 1 cases, 3 events"
    assert verify() == "verified 3 cases, 12 events"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--project", "p_nope"], "no project with id 'p_nope'", id="unknown-project"),
        pytest.param(["--case", "c_nope"], "no case with id 'c_nope'", id="unknown-case"),
        pytest.param(["--case", "c_\x00" * 3], "no case with id", id="nul-case"),
    ],
)
def test_verify_history_refuses_what_it_cannot_find(project, args, message) -> None:
    assert message in broken(*args)


def _sql(statement: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _edit(events: list[CaseEvent]) -> tuple[CaseEvent, str]:
    # A changed title where the history said otherwise, hash left as it was.
    target = events[2]
    changes = '{"title": {"from": "title 0", "to": "something else"}}'
    _sql("UPDATE cases_caseevent SET changes = %s WHERE id = %s", [changes, target.pk])
    return target, "hash does not match"


def _edit_actor(events: list[CaseEvent]) -> tuple[CaseEvent, str]:
    _sql("UPDATE cases_caseevent SET actor_name = %s WHERE id = %s", ["someone else", events[1].pk])
    return events[1], "hash does not match"


def _edit_and_rehash(events: list[CaseEvent]) -> tuple[CaseEvent, str]:
    # A careful forger recomputes the edited event's hash: the next event no longer follows it.
    target = events[1]
    target.actor_name = "someone else"
    _sql(
        "UPDATE cases_caseevent SET actor_name = %s, hash = %s WHERE id = %s",
        [target.actor_name, chain.event_hash(target), target.pk],
    )
    return events[2], "prev_hash does not follow"


def _delete_middle(events: list[CaseEvent]) -> tuple[CaseEvent, str]:
    _sql("DELETE FROM cases_caseevent WHERE id = %s", [events[1].pk])
    return events[2], "prev_hash does not follow"


def _delete_first(events: list[CaseEvent]) -> tuple[CaseEvent, str]:
    _sql("DELETE FROM cases_caseevent WHERE id = %s", [events[0].pk])
    return events[1], "prev_hash does not follow"


def _delete_last(events: list[CaseEvent]) -> tuple[None, str]:
    _sql("DELETE FROM cases_caseevent WHERE id = %s", [events[-1].pk])
    return None, "head is not its last event's hash"


def _insert(events: list[CaseEvent]) -> tuple[CaseEvent, str]:
    # A forged event between two real ones, well hashed and following the one before it.
    forged = CaseEvent(
        case_id=events[0].case_id,
        created_at=events[1].created_at - timedelta(microseconds=1),
        actor_type="staff",
        actor_id="1",
        actor_name="forger",
        request_id="",
        changes={"status": {"from": "open", "to": "closed"}},
        prev_hash=events[0].hash,
    )
    forged.prev_hash = "e" * 64  # the real next event already follows events[0]: a fork is refused
    forged.hash = chain.event_hash(forged)
    forged.save(force_insert=True)
    return forged, "prev_hash does not follow"


def _insert_at_the_end(events: list[CaseEvent]) -> tuple[None, str]:
    forged = CaseEvent(
        case_id=events[0].case_id,
        created_at=events[-1].created_at + timedelta(seconds=1),
        actor_type="staff",
        actor_id="1",
        actor_name="forger",
        request_id="",
        changes={"status": {"from": "open", "to": "closed"}},
        prev_hash=events[-1].hash,
    )
    forged.hash = chain.event_hash(forged)
    forged.save(force_insert=True)
    return None, "head is not its last event's hash"


def _reorder(events: list[CaseEvent]) -> tuple[CaseEvent, str]:
    # Two events' times swapped: read in the new order, the later one comes first.
    first, second = events[1], events[2]
    _sql("UPDATE cases_caseevent SET created_at = %s WHERE id = %s", [second.created_at, first.pk])
    _sql("UPDATE cases_caseevent SET created_at = %s WHERE id = %s", [first.created_at, second.pk])
    return second, "prev_hash does not follow"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(_edit, id="edit-changes"),
        pytest.param(_edit_actor, id="edit-actor"),
        pytest.param(_edit_and_rehash, id="edit-and-rehash"),
        pytest.param(_delete_middle, id="delete-middle"),
        pytest.param(_delete_first, id="delete-first"),
        pytest.param(_delete_last, id="delete-last"),
        pytest.param(_insert, id="insert"),
        pytest.param(_insert_at_the_end, id="insert-at-the-end"),
        pytest.param(_reorder, id="reorder"),
    ],
)
def test_verify_history_names_the_first_broken_case_and_event(project, tamper) -> None:
    before = _case_with_history(project)
    case = _case_with_history(project)
    after = _case_with_history(project)
    assert verify() == "verified 3 cases, 12 events"
    event, reason = tamper(events_of(case))
    message = broken()
    assert message.startswith(f"case {case.pk}: chain broken at "), message
    assert reason in message, message
    if event is not None:
        assert f"event {event.pk} (#" in message, message
    # The untouched cases still verify on their own.
    assert verify("--case", before.pk) == "verified 1 cases, 4 events"
    assert verify("--case", after.pk) == "verified 1 cases, 4 events"


def test_verify_history_exits_1_with_one_line(project) -> None:
    case = _case_with_history(project)
    _sql("DELETE FROM cases_caseevent WHERE id = %s", [events_of(case)[1].pk])
    with pytest.raises(CommandError) as caught:
        verify()
    assert caught.value.returncode == 1
    assert "\n" not in str(caught.value)


def test_the_database_refuses_a_fork(project) -> None:
    case = _case_with_history(project, changes=1)
    first = events_of(case)[0]
    fork = CaseEvent(
        case_id=case.pk,
        created_at=first.created_at,
        actor_type="system",
        actor_id="x",
        actor_name="x",
        changes={},
        prev_hash=first.hash,
    )
    fork.hash = chain.event_hash(fork)
    with pytest.raises(IntegrityError), transaction.atomic():
        fork.save(force_insert=True)
