"""Rate limits (§7): fixed windows per token, headers on every authenticated response, and one
shared budget across processes when the counters live in Redis."""

from __future__ import annotations

import multiprocessing
import uuid
from collections import Counter

import pytest
from django.core.cache import caches
from django.test import override_settings

from tokens import ratelimit

pytestmark = pytest.mark.django_db

REDIS_LOCATION = "redis://127.0.0.1:6379/15"
LIMITS = {"RATE_LIMIT_PER_SECOND": 100_000, "RATE_LIMIT_PER_MINUTE": 100, "MEDIA_BASE_URL": "/m/"}


def test_every_authenticated_response_carries_the_minute_window(call) -> None:
    first = call("GET", "/v1/cases")
    second = call("GET", "/v1/cases")
    assert first["X-RateLimit-Limit"] == "1000"
    assert int(first["X-RateLimit-Remaining"]) == 999
    assert int(second["X-RateLimit-Remaining"]) == 998
    assert int(first["X-RateLimit-Reset"]) % 60 == 0
    refused = call("GET", "/v1/cases/nope")  # a 404 still costs budget and still says so
    assert refused.status_code == 404
    assert refused["X-RateLimit-Remaining"] == "997"


def test_unauthenticated_responses_carry_no_rate_limit_headers(call) -> None:
    assert "X-RateLimit-Limit" not in call("GET", "/v1/cases", auth=None)


@override_settings(SERVEROPS={**LIMITS, "RATE_LIMIT_PER_SECOND": 2, "RATE_LIMIT_PER_MINUTE": 1000})
def test_the_per_second_window_refuses_with_a_one_second_retry(call) -> None:
    statuses = [call("GET", "/v1/cases").status_code for _ in range(4)]
    assert statuses.count(429) >= 1
    refused = call("GET", "/v1/cases")
    if refused.status_code == 429:  # unless a new second began in between
        assert refused["Retry-After"] == "1"


def test_budgets_are_per_token(call, project) -> None:
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
            state = ratelimit.charge(token_id)
        except ratelimit.RateLimited:
            continue
        accepted[int(state.per_minute.resets_at)] += 1
    results.put(dict(accepted))


def test_two_processes_share_one_budget_in_redis() -> None:
    """Against the real Redis: the accepted count per window never exceeds the limit."""
    redis_cache = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_LOCATION}}
    with override_settings(CACHES=redis_cache, SERVEROPS=LIMITS):
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
