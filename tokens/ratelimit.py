"""Per-token rate limits of §7: fixed one-second and one-minute windows in Django's cache.

Each window is one counter, created with ``add`` (set-if-absent) and advanced with
``incr``; both are atomic on Redis, so every worker and host sharing the cache shares
one budget. Every request charges both windows, refused ones included, and is accepted
only while both counts stay within their limits, so the accepted count can never
exceed a limit however many processes race.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from rest_framework import status
from rest_framework.exceptions import APIException

from serverops.conf import serverops_setting


@dataclass(frozen=True)
class Window:
    limit: int
    count: int
    resets_at: float

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    @property
    def exhausted(self) -> bool:
        return self.count > self.limit


@dataclass(frozen=True)
class RateLimitState:
    per_second: Window
    per_minute: Window

    def headers(self) -> dict[str, str]:
        """The headers every authenticated response carries; they describe the minute window."""
        return {
            "X-RateLimit-Limit": str(self.per_minute.limit),
            "X-RateLimit-Remaining": str(self.per_minute.remaining),
            "X-RateLimit-Reset": str(int(self.per_minute.resets_at)),
        }


class RateLimited(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "rate_limited"

    def __init__(self, state: RateLimitState, now: float) -> None:
        exhausted = [w for w in (state.per_second, state.per_minute) if w.exhausted]
        retry_after = max(1, math.ceil(max(w.resets_at for w in exhausted) - now))
        super().__init__(f"rate limit exceeded; retry in {retry_after} seconds")
        self.headers = {"Retry-After": str(retry_after), **state.headers()}


def _count(key: str, seconds: int) -> int:
    try:
        return cache.incr(key)
    except ValueError:
        # The window's first request, or a counter the cache already evicted.
        if cache.add(key, 1, timeout=seconds + 1):
            return 1
        return cache.incr(key)


def _charge(token_id: str, limit: int, seconds: int, now: float) -> Window:
    start = int(now // seconds) * seconds
    count = _count(f"ratelimit:{token_id}:{seconds}:{start}", seconds)
    return Window(limit=limit, count=count, resets_at=start + seconds)


def budgets(token_id: str) -> tuple[int, int]:
    """The token's (per-second, per-minute) limits: the configured defaults, unless
    ``SERVEROPS["RATE_LIMIT_TOKEN_BUDGETS"]`` names this token (the benchmark raises its own
    token's budget this way and no other's)."""
    # .get: the entry is optional, and absent from every deployed configuration.
    special: dict[str, tuple[int, int]] = settings.SERVEROPS.get("RATE_LIMIT_TOKEN_BUDGETS", {})
    if token_id in special:
        return special[token_id]
    return serverops_setting("RATE_LIMIT_PER_SECOND"), serverops_setting("RATE_LIMIT_PER_MINUTE")


def charge(token_id: str) -> RateLimitState:
    """Count one request against the token's budgets; raises ``RateLimited`` when over either."""
    now = time.time()
    per_second, per_minute = budgets(token_id)
    state = RateLimitState(
        per_second=_charge(token_id, per_second, 1, now),
        per_minute=_charge(token_id, per_minute, 60, now),
    )
    if state.per_second.exhausted or state.per_minute.exhausted:
        raise RateLimited(state, now)
    return state
