"""Rate limits (docs/api.md#rate-limits): fixed windows per token, headers on every authenticated response, and one
shared budget across processes when the counters live in Redis."""

from __future__ import annotations

import multiprocessing
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings

from tests.redis import TEST_REDIS_URL
from tokens import ratelimit

pytestmark = pytest.mark.django_db

REDIS_LOCATION = TEST_REDIS_URL
# The counters' own Redis client (tokens.ratelimit), and the cache beside it as deployed.
REDIS = {
    "RATE_LIMIT_REDIS_URL": REDIS_LOCATION,
    "CACHES": {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_LOCATION}},
}
LIMITS = {"RATE_LIMIT_PER_SECOND": 100_000, "RATE_LIMIT_PER_MINUTE": 100, "MEDIA_BASE_URL": "/m/"}

NOW = 1_800_000_010.25  # 10.25 s into a minute


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The rate limiter's clock, frozen at ``NOW``; tests move it by assigning ``clock[0]``."""
    now = [NOW]
    monkeypatch.setattr(ratelimit, "time", type("Clock", (), {"time": staticmethod(lambda: now[0])}))
    return now


def test_every_authenticated_response_carries_the_minute_window(call, clock) -> None:
    first = call("GET", "/v1/cases")
    second = call("GET", "/v1/cases")
    assert first["X-RateLimit-Limit"] == "1000"
    assert first["X-RateLimit-Remaining"] == "999"
    assert second["X-RateLimit-Remaining"] == "998"
    assert first["X-RateLimit-Reset"] == "1800000060"
    refused = call("GET", "/v1/cases/nope")  # a 404 still costs budget and still says so
    assert refused.status_code == 404
    assert refused["X-RateLimit-Remaining"] == "997"


def test_unauthenticated_responses_carry_no_rate_limit_headers(call) -> None:
    assert "X-RateLimit-Limit" not in call("GET", "/v1/cases", auth=None)


@override_settings(SERVEROPS={**LIMITS, "RATE_LIMIT_PER_SECOND": 2, "RATE_LIMIT_PER_MINUTE": 1000})
def test_the_per_second_window_refuses_with_a_one_second_retry(call, clock) -> None:
    statuses = [call("GET", "/v1/cases").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = call("GET", "/v1/cases")
    assert refused.status_code == 429, refused.content
    assert refused["Retry-After"] == "1"  # the second ends 0.75 s after NOW
    clock[0] += 1  # the next second
    assert call("GET", "/v1/cases").status_code == 200


def test_budgets_are_per_token(call, project, clock) -> None:
    from tests.factories import TokenFactory

    other = TokenFactory(project=project)
    with override_settings(SERVEROPS={**LIMITS, "RATE_LIMIT_PER_MINUTE": 2}):
        call("GET", "/v1/cases")
        call("GET", "/v1/cases")
        assert call("GET", "/v1/cases").status_code == 429
        assert call("GET", "/v1/cases", auth=f"Bearer {other.plaintext}").status_code == 200


def _fire(token_id: str, attempts: int, barrier, results) -> None:
    """One worker process: charge the shared budget as fast as it can."""
    from django.db import connections

    connections.close_all()
    accepted: Counter[int] = Counter()
    barrier.wait()
    for _ in range(attempts):
        try:
            state = ratelimit.Charge(token_id).settle(token_id)
        except ratelimit.RateLimited:
            continue
        accepted[int(state.per_minute.resets_at)] += 1
    results.put(dict(accepted))


def test_two_processes_share_one_budget_in_redis() -> None:
    """Against the real Redis: the accepted count per window never exceeds the limit."""
    with override_settings(**REDIS, SERVEROPS=LIMITS):
        caches["default"].clear()
        token_id = f"tok_test_{uuid.uuid4().hex}"
        context = multiprocessing.get_context("fork")
        barrier, results = context.Barrier(2), context.Queue()
        workers = [context.Process(target=_fire, args=(token_id, 150, barrier, results)) for _ in range(2)]
        for worker in workers:
            worker.start()
        per_window: Counter[int] = Counter()
        for _ in workers:
            per_window.update(results.get(timeout=60))
        for worker in workers:
            worker.join(timeout=10)
            assert worker.exitcode == 0
        caches["default"].clear()
    assert per_window, "no request was accepted at all"
    assert max(per_window.values()) <= LIMITS["RATE_LIMIT_PER_MINUTE"], per_window
    if len(per_window) == 1:  # all 300 attempts fell in one minute: exactly the budget got through
        assert sum(per_window.values()) == LIMITS["RATE_LIMIT_PER_MINUTE"]


def test_every_authenticated_response_carries_both_windows_as_ietf_fields(call, clock) -> None:
    r = call("GET", "/v1/cases")
    assert r.status_code == 200, r.content
    assert r["RateLimit-Policy"] == '"per-second";q=60;w=1, "per-minute";q=1000;w=60'
    assert r["RateLimit"] == '"per-second";r=59;t=1, "per-minute";r=999;t=50'
    assert (r["X-RateLimit-Limit"], r["X-RateLimit-Remaining"], r["X-RateLimit-Reset"]) == ("1000", "999", "1800000060")


@override_settings(SERVEROPS={**LIMITS, "RATE_LIMIT_PER_SECOND": 2, "RATE_LIMIT_PER_MINUTE": 1000})
def test_a_refusal_by_the_second_window_describes_the_second_window(call, clock) -> None:
    assert [call("GET", "/v1/cases").status_code for _ in range(2)] == [200, 200]
    refused = call("GET", "/v1/cases")
    assert refused.status_code == 429, refused.content
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused["Retry-After"] == "1"
    assert (refused["X-RateLimit-Limit"], refused["X-RateLimit-Remaining"]) == ("2", "0")
    assert refused["X-RateLimit-Reset"] == "1800000011"
    assert refused["RateLimit"] == '"per-second";r=0;t=1, "per-minute";r=997;t=50'
    clock[0] += 1  # the next second: accepted again, and the headers describe the minute once more
    again = call("GET", "/v1/cases")
    assert again.status_code == 200, again.content
    assert (again["X-RateLimit-Limit"], again["X-RateLimit-Remaining"]) == ("1000", "996")


@override_settings(SERVEROPS={**LIMITS, "RATE_LIMIT_PER_SECOND": 2, "RATE_LIMIT_PER_MINUTE": 3})
def test_when_both_windows_refuse_the_headers_describe_the_one_that_ends_last(call, clock) -> None:
    call("GET", "/v1/cases")
    call("GET", "/v1/cases")
    clock[0] += 1
    call("GET", "/v1/cases")
    call("GET", "/v1/cases")
    refused = call("GET", "/v1/cases")  # third in this second, fifth in this minute
    assert refused.status_code == 429, refused.content
    assert refused["Retry-After"] == "49"
    assert (refused["X-RateLimit-Limit"], refused["X-RateLimit-Remaining"]) == ("3", "0")
    assert refused["X-RateLimit-Reset"] == "1800000060"
    assert refused["RateLimit"] == '"per-second";r=0;t=1, "per-minute";r=0;t=49'


class _SentCommands:
    """Counts what redis-py writes to the server: one call per round trip."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import redis.connection

        self.count = 0
        send = redis.connection.AbstractConnection.send_packed_command

        def counted(connection: Any, command: Any, check_health: bool = True) -> None:
            self.count += 1
            send(connection, command, check_health)

        monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/v1/cases", id="list"),
        pytest.param("GET", "/v1/cases/{id}", id="get"),
        pytest.param("PATCH", "/v1/cases/{id}", id="patch"),
        pytest.param("GET", "/v1/cases/c_01HZZZZZZZZZZZZZZZZZZZZZZZ", id="not-found"),
    ],
)
def test_a_request_costs_one_redis_round_trip_for_both_windows(call, case, clock, monkeypatch, method, path) -> None:
    with override_settings(**REDIS):
        call("GET", "/v1/cases")  # the script is loaded and the connection open before counting
        sent = _SentCommands(monkeypatch)
        body = {"json_body": {"title": "counted"}} if method == "PATCH" else {}
        r = call(method, path.format(id=case.pk), **body)
        assert sent.count == 1
        # Both windows counted by that one command: the warm-up's second request of each.
        assert r["RateLimit"] == '"per-second";r=58;t=1, "per-minute";r=998;t=50', r.content


@pytest.fixture
def redis_counters() -> Iterator[Any]:
    """The rate-limit counters in the real Redis (emptied before and after), and a client to look at them."""
    import redis

    with override_settings(**REDIS):
        caches["default"].clear()
        yield redis.Redis.from_url(REDIS_LOCATION)
        caches["default"].clear()


def test_the_charge_goes_out_before_the_tokens_statement_and_is_read_after_it(
    call, used_token, redis_counters, monkeypatch
) -> None:
    """The two round trips overlap: Redis counts while the database looks the token up."""
    import redis.connection
    from django.db import connection

    call("GET", "/v1/cases")  # the script is loaded and the connection open before watching
    events: list[str] = []
    connection_class = redis.connection.AbstractConnection
    send, read = connection_class.send_packed_command, connection_class.read_response

    def sent(conn: Any, command: Any, check_health: bool = True) -> None:
        events.append("redis: sent")
        send(conn, command, check_health)

    def received(conn: Any, *args: Any, **kwargs: Any) -> Any:
        events.append("redis: read")
        return read(conn, *args, **kwargs)

    def executed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        events.append("sql: token" if '"tokens_scopedtoken"' in sql else "sql: other")
        return execute(sql, params, many, context)

    monkeypatch.setattr(connection_class, "send_packed_command", sent)
    monkeypatch.setattr(connection_class, "read_response", received)
    with connection.execute_wrapper(executed):
        r = call("GET", "/v1/cases")
    assert r.status_code == 200, r.content
    assert events == ["redis: sent", "sql: token", "redis: read", "sql: other"]
    assert r["X-RateLimit-Remaining"] == "998"


@pytest.mark.parametrize("revoked", [pytest.param(False, id="made-up"), pytest.param(True, id="revoked")])
def test_a_credential_that_names_no_usable_token_leaves_no_counters(
    call, token, redis_counters, clock, revoked
) -> None:
    from tests.factories import TokenFactory
    from tokens import crypto
    from tokens.services import token_revoke

    if revoked:
        dead = TokenFactory(project=token.project)
        token_revoke(token=dead)
        credential = dead.plaintext
    else:
        credential = crypto.generate("live")  # well formed, checksum and all: only the database can refuse it
    refused = call("GET", "/v1/cases", auth=f"Bearer {credential}")
    assert refused.status_code == 401, refused.content
    assert "X-RateLimit-Limit" not in refused
    # This credential's counters, by name: the test reads only what it wrote.
    assert redis_counters.keys(f"ratelimit:{crypto.digest(credential)}:*") == []
    # The connection went back to the pool clean: the next caller's counts are its own.
    assert call("GET", "/v1/cases")["X-RateLimit-Remaining"] == "999"
    assert call("GET", "/v1/cases")["X-RateLimit-Remaining"] == "998"


def test_counting_goes_on_when_redis_has_lost_the_script(call, used_token, redis_counters) -> None:
    assert call("GET", "/v1/cases")["X-RateLimit-Remaining"] == "999"
    redis_counters.script_flush()  # as after a restart of Redis
    r = call("GET", "/v1/cases")
    assert r.status_code == 200, r.content
    assert r["X-RateLimit-Remaining"] == "998"


@pytest.mark.parametrize("cache_name", ["in-process", "redis"])
def test_an_abandoned_charge_counts_unless_forgotten(request, cache_name) -> None:
    """Whichever cache holds the counters: a request that failed before its token was known
    still costs budget, and a credential that named no usable token leaves no counters."""
    if cache_name == "redis":
        request.getfixturevalue("redis_counters")

    def per_minute() -> int:
        return ratelimit.Charge("digest").settle("token").per_minute.count

    assert per_minute() == 1
    ratelimit.Charge("digest").abandon(forget=False)
    assert per_minute() == 3
    ratelimit.Charge("digest").abandon(forget=True)
    assert per_minute() == 1
