"""Round trips of the hot paths, pinned (issues 2 and 11): SQL statements and Redis commands per request.

Inside a test, ``transaction.atomic`` is a SAVEPOINT and its RELEASE; in production the same
block costs BEGIN and COMMIT, so the counts with transaction control are the production ones
(the connection health check costs no query: serverops.db.postgresql).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings

from tests.factories import CaseFactory, attach_file
from tests.redis import TEST_REDIS_URL
from tokens import ratelimit

pytestmark = pytest.mark.django_db

TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT")
REDIS_LOCATION = TEST_REDIS_URL


def statements(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL)]


def _with_attachments(project, count: int, files: int = 2) -> list[Any]:
    cases = []
    for i in range(count):
        case = CaseFactory(project=project)
        for n in range(files):
            attach_file(case=case, content=io.BytesIO(b"evidence %d-%d" % (i, n)), original_name="e.txt")
        cases.append(case)
    return cases


class RedisWrites:
    """What redis-py writes to the server, one count per round trip."""

    def __init__(self) -> None:
        self.count = 0


@pytest.fixture
def redis_writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisWrites]:
    """The rate-limit counters in the real Redis, and a count of the round trips to it."""
    import redis.connection

    writes = RedisWrites()
    send = redis.connection.AbstractConnection.send_packed_command

    def counted(connection: Any, command: Any, check_health: bool = True) -> None:
        writes.count += 1
        send(connection, command, check_health)

    cache = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_LOCATION}}
    with override_settings(CACHES=cache, RATE_LIMIT_REDIS_URL=REDIS_LOCATION):
        # The connection open and the charge script loaded on the server before anything is counted.
        ratelimit.Charge(f"warm-up-{uuid.uuid4().hex}").abandon(forget=True)
        monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
        yield writes


@pytest.mark.parametrize("page_size", [1, 10, 100])
def test_list_is_two_queries_whatever_the_page_size(call, project, used_token, page_size, django_assert_num_queries):
    _with_attachments(project, page_size + 1)
    # token; the page of cases with the files and the subjects of the whole page
    with django_assert_num_queries(2):
        r = call("GET", f"/v1/cases?limit={page_size}")
    assert r.status_code == 200, r.content
    assert len(r.json()["cases"]) == page_size
    assert all(len(c["attachments"]) == 2 for c in r.json()["cases"])


@pytest.mark.parametrize("files", [pytest.param(0, id="no-files"), pytest.param(3, id="three-files")])
def test_get_one_is_two_queries(call, project, used_token, files, django_assert_num_queries):
    (case,) = _with_attachments(project, 1, files=files)
    # token; the case joined with its attachments and files, and its subjects with their identifiers
    with django_assert_num_queries(2):
        r = call("GET", f"/v1/cases/{case.id}")
    assert r.status_code == 200, r.content
    assert len(r.json()["attachments"]) == files


def _patch_round_trips() -> int:
    # PostgreSQL writes the change and its history event in one statement, and the feed's event
    # with the lookup of the webhook endpoints in another; SQLite (in process, no round trips to
    # save) cannot modify data in a WITH and sends each INSERT apart.
    return 6 if connection.vendor == "postgresql" else 8


def _event_and_endpoints(sql: list[str]) -> list[str]:
    """The last statements of a write: the event's INSERT (the feed's row, issue 25) and the one
    lookup of the project's webhook endpoints (none here, so no delivery row): one statement on
    PostgreSQL, two on SQLite. Returns the statements before them."""
    if connection.vendor == "postgresql":
        assert sql[-1].startswith('WITH inserted AS (INSERT INTO "webhooks_event"'), sql[-1]
        assert 'LEFT JOIN "webhooks_webhookendpoint"' in sql[-1], sql[-1]
        return sql[:-1]
    assert sql[-2].startswith('INSERT INTO "webhooks_event"'), sql[-2]
    assert sql[-1].startswith("SELECT") and '"webhooks_webhookendpoint"' in sql[-1], sql[-1]
    return sql[:-2]


def test_patch_is_six_round_trips_with_begin_and_commit_on_postgresql(
    call, project, used_token, django_assert_num_queries
):
    (case,) = _with_attachments(project, 1)
    with django_assert_num_queries(_patch_round_trips()) as captured:
        r = call("PATCH", f"/v1/cases/{case.id}", json_body={"title": "new title", "status": "closed"})
    assert r.status_code == 200, r.content
    assert len(r.json()["attachments"]) == 2
    sql = statements(captured)
    # token; the case joined with its evidence, and its subjects (read without a lock: the write
    # compares and sets); the UPDATE with the history INSERT that must share the change's
    # transaction (issue 5); the event and the endpoints in that transaction too.
    assert sql[0].startswith("SELECT") and '"tokens_scopedtoken"' in sql[0], sql[0]
    assert sql[1].startswith("SELECT") and 'LEFT OUTER JOIN "media_file"' in sql[1], sql[1]
    assert 'FROM "cases_casesubject"' in sql[1], sql[1]
    writes = _event_and_endpoints(sql)[2:]
    if connection.vendor == "postgresql":
        assert len(writes) == 1, writes
        assert writes[0].startswith('WITH changed AS (UPDATE "cases_case"'), writes[0]
        assert 'INSERT INTO "cases_caseevent"' in writes[0], writes[0]
    else:
        assert [w.split(" ")[0:3] for w in writes] == [
            ["UPDATE", '"cases_case"', "SET"],
            ["INSERT", "INTO", '"cases_caseevent"'],
        ]


def test_create_is_four_statements_on_postgresql(call, used_token, django_assert_num_queries):
    expected = 4 if connection.vendor == "postgresql" else 5
    with django_assert_num_queries(expected + 2) as captured:  # + SAVEPOINT/RELEASE
        r = call("POST", "/v1/cases", json_body={"title": "t"})
    assert r.status_code == 201, r.content
    # token, INSERT case, INSERT its first history event, then the event and the endpoints
    sql = statements(captured)
    assert len(sql) == expected, sql
    assert len(_event_and_endpoints(sql)) == 3, sql


@pytest.mark.parametrize(
    ("method", "path", "body", "queries"),
    [
        pytest.param("GET", "/v1/cases?limit=50", None, 2, id="list"),
        pytest.param("GET", "/v1/cases/{id}", None, 2, id="get"),
        pytest.param("PATCH", "/v1/cases/{id}", {"status": "closed"}, None, id="patch"),
    ],
)
def test_one_redis_round_trip_per_request_with_the_counters_in_redis(
    call, project, used_token, redis_writes, method, path, body, queries, django_assert_num_queries
):
    (case,) = _with_attachments(project, 1)
    with django_assert_num_queries(queries or _patch_round_trips()):
        r = call(method, path.format(id=case.id), json_body=body)
    assert r.status_code == 200, r.content
    assert redis_writes.count == 1
    assert r["RateLimit"].startswith('"per-second";r=59;'), r["RateLimit"]
