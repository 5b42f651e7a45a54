"""The feed never skips an event whose transaction commits after a later one's (PostgreSQL).

``seq`` is taken at INSERT and transactions commit in any order; SQLite serialises its writers,
so only PostgreSQL can commit a lower ``seq`` after a higher one was served. Real threads, each
with its own connection, make the commits happen out of order.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test import Client

from cases.services import Actor, case_create
from tests.factories import ProjectFactory, TokenFactory
from tokens.models import Mode, Project

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

WRITER = Actor.system("test")
# Events become servable once every transaction of this database that started writing before
# them has ended: a busy machine may lag a moment.
SETTLE_SECONDS = 10.0


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; .ci/run runs this file with DATABASE_URL set")


class HeldWriter:
    """A case created in a thread's own transaction, held open after its INSERTs until ``commit()``."""

    def __init__(self, project: Project, title: str) -> None:
        self.inserted, self.go, self.errors = threading.Event(), threading.Event(), list[BaseException]()
        self.thread = threading.Thread(target=self._run, args=(project, title))
        self.thread.start()
        assert self.inserted.wait(timeout=30), self.errors

    def _run(self, project: Project, title: str) -> None:
        try:
            with transaction.atomic():
                case_create(project=project, mode=Mode.LIVE, title=title, actor=WRITER)
                self.inserted.set()
                assert self.go.wait(timeout=30)
        except BaseException as error:
            self.errors.append(error)
            self.inserted.set()
        finally:
            connections.close_all()

    def commit(self) -> None:
        self.go.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive() and not self.errors, self.errors


def _poller(project: Project) -> Any:
    client = Client()
    auth = {"Authorization": f"Bearer {TokenFactory(project=project).plaintext}"}

    def poll(query: str) -> dict[str, Any]:
        r = client.get(f"/v1/events{query}", headers=auth)
        assert r.status_code == 200, r.content
        return r.json()  # type: ignore[no-any-return]

    return poll


def _titles(page: dict[str, Any]) -> list[str]:
    return [event["data"]["case"]["title"] for event in page["events"]]


def _first_event(poll: Any) -> str:
    """The id of the feed's first event, once it is served."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while not (events := poll("")["events"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert events, "the committed event was never served"
    return str(events[0]["id"])


def _zero_then_one_held_behind_two(project: Project, poll: Any) -> tuple[str, HeldWriter]:
    """ "zero" committed and served (its id is returned); then "one" inserted and held open, and
    "two" committed after it: "two" has the later ``seq`` and the earlier commit."""
    case_create(project=project, mode=Mode.LIVE, title="zero", actor=WRITER)
    zero = _first_event(poll)
    held = HeldWriter(project, "one")  # T1: its event's seq is taken, its transaction open
    case_create(project=project, mode=Mode.LIVE, title="two", actor=WRITER)  # T2: a later seq, committed
    return zero, held


@pytest.fixture
def busy(settings) -> None:
    settings.SERVEROPS = {**settings.SERVEROPS, "RATE_LIMIT_PER_SECOND": 10_000, "RATE_LIMIT_PER_MINUTE": 10_000}


@pytest.mark.usefixtures("busy")
def test_a_poller_walking_by_after_sees_an_event_committed_after_a_later_one() -> None:
    project = ProjectFactory()
    poll = _poller(project)
    position, held = _zero_then_one_held_behind_two(project, poll)
    seen: list[str] = []
    page = poll(f"?after={position}")  # a poll between the two commits
    seen += _titles(page)
    if page["events"]:
        position = page["events"][-1]["id"]
    held.commit()  # T1 commits its earlier seq

    deadline = time.monotonic() + SETTLE_SECONDS
    while sorted(seen) != ["one", "two"] and time.monotonic() < deadline:
        page = poll(f"?after={position}")
        seen += _titles(page)
        if page["events"]:
            position = page["events"][-1]["id"]
        time.sleep(0.05)
    assert sorted(seen) == ["one", "two"], seen


@pytest.mark.usefixtures("busy")
def test_a_poller_walking_by_cursor_sees_an_event_committed_after_a_later_one() -> None:
    project = ProjectFactory()
    poll = _poller(project)
    held = HeldWriter(project, "one")
    case_create(project=project, mode=Mode.LIVE, title="two", actor=WRITER)
    case_create(project=project, mode=Mode.LIVE, title="three", actor=WRITER)
    page = poll("?limit=1")  # a page of one with a cursor past it, between the commits
    seen = _titles(page)
    cursor = page["next_cursor"]
    held.commit()

    deadline = time.monotonic() + SETTLE_SECONDS
    query = f"?limit=1&cursor={cursor}" if cursor else "?limit=1"
    while len(seen) < 3 and time.monotonic() < deadline:
        page = poll(query)
        seen += _titles(page)
        if page["next_cursor"]:
            query = f"?limit=1&cursor={page['next_cursor']}"
        elif page["events"]:
            query = f"?limit=1&after={page['events'][-1]['id']}"
        time.sleep(0.05)
    assert sorted(seen) == ["one", "three", "two"], seen


@pytest.mark.usefixtures("busy")
def test_an_event_committed_while_an_earlier_writer_is_open_waits_and_so_does_the_etag() -> None:
    project = ProjectFactory()
    zero, held = _zero_then_one_held_behind_two(project, _poller(project))
    try:
        r = Client().get("/v1/events", headers={"Authorization": f"Bearer {TokenFactory(project=project).plaintext}"})
        # "two" is committed, but "one" may still commit before it in the feed's order.
        assert _titles(r.json()) == ["zero"]
        assert r["ETag"] == f'"{zero}"'
    finally:
        held.commit()


@pytest.mark.usefixtures("busy")
def test_a_writer_open_in_another_database_holds_nothing_back(poll_database: Any) -> None:
    """xids are the server's: a transaction of another database is older than the event, yet
    cannot write to this database's events, so the feed does not wait for it."""
    with poll_database.transaction():
        poll_database.execute("SELECT pg_current_xact_id()")  # an xid, older than the event's
        project = ProjectFactory()
        case_create(project=project, mode=Mode.LIVE, title="served", actor=WRITER)
        assert _titles(_poller(project)("")) == ["served"]


@pytest.fixture
def poll_database() -> Any:
    """A connection to another database of the same server (its `postgres` database)."""
    import psycopg

    settings = connection.settings_dict
    with psycopg.connect(
        dbname="postgres",
        host=settings["HOST"],
        port=settings["PORT"] or None,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        autocommit=True,
    ) as other:
        yield other
