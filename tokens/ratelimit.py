"""Per-token rate limits of docs/api.md#rate-limits: fixed one-second and one-minute windows in Django's cache.

Every request charges both windows, refused ones included, and is accepted only while
both counts stay within their limits, so the accepted count can never exceed a limit
however many processes race. On Redis the two counters are advanced by one Lua script:
one round trip, atomic across every worker and host sharing the cache, sent before the
token's statement and read after it (``Charge``). Any other cache (the in-process default)
uses Django's ``add``/``incr``.

A token's counters are keyed by its digest, the one thing known about it before its row
is read.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import NoScriptError
from rest_framework import status
from rest_framework.exceptions import APIException

from serverops.conf import serverops_setting

# Each key is one window's counter; ARGV holds each key's lifetime in seconds. A counter's
# first INCR gives it that lifetime, so a window's counter outlives the window and no longer.
CHARGE_SCRIPT = """
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call("INCR", key)
  if counts[i] == 1 then
    redis.call("EXPIRE", key, ARGV[i])
  end
end
return counts
"""
_scripts: WeakKeyDictionary[Any, Any] = WeakKeyDictionary()
# The two windows of docs/api.md#rate-limits, in the order of the settings' budgets: (name in
# the RateLimit fields, seconds).
WINDOWS = (("per-second", 1), ("per-minute", 60))


@dataclass(frozen=True)
class Window:
    name: str
    seconds: int
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
    now: float

    @property
    def windows(self) -> tuple[Window, Window]:
        return self.per_second, self.per_minute

    @property
    def binding(self) -> Window:
        """The window the ``X-RateLimit-*`` headers describe: the minute, unless another
        window refused the request; then the exhausted window that ends last, the one
        ``Retry-After`` waits for."""
        exhausted = [w for w in self.windows if w.exhausted]
        return max(exhausted, key=lambda w: w.resets_at) if exhausted else self.per_minute

    def headers(self) -> dict[str, str]:
        """The headers every authenticated response carries.

        ``X-RateLimit-*`` as docs/api.md#rate-limits defines them, and the IETF ``RateLimit-Policy`` and
        ``RateLimit`` fields (draft-ietf-httpapi-ratelimit-headers) for both windows:
        each policy's quota ``q`` and window ``w``, and its remaining quota ``r`` and
        seconds ``t`` until it resets.
        """
        binding = self.binding
        return {
            "X-RateLimit-Limit": str(binding.limit),
            "X-RateLimit-Remaining": str(binding.remaining),
            "X-RateLimit-Reset": str(int(binding.resets_at)),
            "RateLimit-Policy": ", ".join(f'"{w.name}";q={w.limit};w={w.seconds}' for w in self.windows),
            "RateLimit": ", ".join(
                f'"{w.name}";r={w.remaining};t={math.ceil(w.resets_at - self.now)}' for w in self.windows
            ),
        }


class RateLimited(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "rate_limited"

    def __init__(self, state: RateLimitState) -> None:
        retry_after = max(1, math.ceil(state.binding.resets_at - state.now))
        super().__init__(f"rate limit exceeded; retry in {retry_after} seconds")
        self.headers = {"Retry-After": str(retry_after), **state.headers()}


def _redis_script(backend: RedisCache) -> Any:
    """The charge script registered on the Redis client Django built from ``CACHES``, so its
    connection pool and options are the cache's own (``_cache`` is that client; Django
    offers no public handle on it). One per client."""
    client = backend._cache
    script = _scripts.get(client)
    if script is None:
        script = _scripts[client] = client.get_client(write=True).register_script(CHARGE_SCRIPT)
    return script


class _SentScript:
    """The charge script's ``EVALSHA``, written to a connection of the client's pool now and its
    reply read by ``counts``, which returns the connection to the pool.

    redis-py has no call that sends a command and returns before its reply; its connections
    do (``send_command``, ``read_response``), and disconnect themselves when either fails, so
    a connection always goes back to the pool ready for the next command.
    """

    def __init__(self, script: Any, keys: list[str], args: list[int]) -> None:
        self.script, self.keys, self.args = script, keys, args
        self.pool = script.registered_client.connection_pool
        self.connection = self.pool.get_connection()
        try:
            self.connection.send_command("EVALSHA", script.sha, len(keys), *keys, *args)
        except BaseException:
            self.pool.release(self.connection)
            raise

    def counts(self) -> list[int]:
        try:
            try:
                counts = self.connection.read_response()
            finally:
                self.pool.release(self.connection)
        except NoScriptError:
            # The server lost its scripts (a restart, SCRIPT FLUSH), so nothing was counted:
            # redis-py's own call loads the script again and runs it.
            counts = self.script(keys=self.keys, args=self.args)
        return [int(count) for count in counts]


def _count(backend: BaseCache, key: str, lifetime: int) -> int:
    try:
        return backend.incr(key)
    except ValueError:
        # The window's first request, or a counter the cache already evicted.
        if backend.add(key, 1, timeout=lifetime):
            return 1
        return backend.incr(key)


def budgets(token_id: str) -> tuple[int, int]:
    """The token's (per-second, per-minute) limits: the configured defaults, unless
    ``SERVEROPS["RATE_LIMIT_TOKEN_BUDGETS"]`` names this token (the benchmark raises its own
    token's budget this way and no other's)."""
    # .get: the entry is optional, and absent from every deployed configuration.
    special: dict[str, tuple[int, int]] = settings.SERVEROPS.get("RATE_LIMIT_TOKEN_BUDGETS", {})
    if token_id in special:
        return special[token_id]
    return serverops_setting("RATE_LIMIT_PER_SECOND"), serverops_setting("RATE_LIMIT_PER_MINUTE")


class Charge:
    """One request's charge of both windows of the credential it offers, counted by the
    credential's digest: begun before the token is looked up, and settled once it is known.

    On Redis the script goes out when the charge is made and ``settle`` reads its reply, so
    what the request does in between (the token's statement) overlaps Redis's round trip
    instead of following it. Any other cache counts in ``settle``.
    """

    def __init__(self, digest: str) -> None:
        self.now = time.time()
        self.starts = [int(self.now // seconds) * seconds for _, seconds in WINDOWS]
        self.keys = [
            f"ratelimit:{digest}:{seconds}:{start}" for (_, seconds), start in zip(WINDOWS, self.starts, strict=True)
        ]
        # A counter lives one second longer than its window, so it cannot expire while in use.
        self.lifetimes = [seconds + 1 for _, seconds in WINDOWS]
        self.backend = caches[DEFAULT_CACHE_ALIAS]
        self.sent: _SentScript | None = None
        if isinstance(self.backend, RedisCache):
            keys = [self.backend.make_key(key) for key in self.keys]
            self.sent = _SentScript(_redis_script(self.backend), keys, self.lifetimes)

    def settle(self, token_id: str) -> RateLimitState:
        """The charge of the token ``token_id``, the credential's; raises ``RateLimited`` when
        it is over either of the token's budgets."""
        counts = self._counts()
        windows = zip(WINDOWS, budgets(token_id), counts, self.starts, strict=True)
        per_second, per_minute = (
            Window(name, seconds, limit, count, start + seconds) for (name, seconds), limit, count, start in windows
        )
        state = RateLimitState(per_second=per_second, per_minute=per_minute, now=self.now)
        if per_second.exhausted or per_minute.exhausted:
            raise RateLimited(state)
        return state

    def abandon(self, *, forget: bool) -> None:
        """End a charge that will not be settled: the request failed before its token was known.
        It still counts, unless ``forget``: for a credential that named no usable token, whose
        counters are deleted, so that made-up credentials leave nothing in the cache (on Redis
        a second round trip, on that path only)."""
        if not forget:
            self._counts()
            return
        if self.sent is not None:
            self._counts()  # its reply read, so that the connection goes back to the pool clean
        self.backend.delete_many(self.keys)

    def _counts(self) -> list[int]:
        if self.sent is not None:
            sent, self.sent = self.sent, None
            return sent.counts()
        return [_count(self.backend, key, lifetime) for key, lifetime in zip(self.keys, self.lifetimes, strict=True)]
