"""Per-token rate limits of docs/api.md#rate-limits: fixed one-second and one-minute windows in Django's cache.

Every request charges both windows, refused ones included, and is accepted only while
both counts stay within their limits, so the accepted count can never exceed a limit
however many processes race. With ``RATE_LIMIT_REDIS_URL`` (``REDIS_URL``) the two counters
are advanced in Redis by one Lua script, on a client of the rate limiter's own: one round trip,
atomic across every worker and host sharing that Redis, sent before the token's statement and
read after it (``Charge``). Without it they live in Django's default cache (in-process), through
``add``/``incr``.

A token's counters are keyed by its digest, the one thing known about it before its row
is read.

When that Redis does not answer (down, restarting, out of reach for ``REDIS_TIMEOUT``), the limit
fails open: the request is served uncounted, without the ``X-RateLimit-*`` headers, and counted in
``serverops_rate_limit_uncounted``. The limit shields the service from a runaway client; refusing
every request while Redis restarts would take the whole API down to prevent that
(docs/operations.md#faults).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import status
from rest_framework.exceptions import APIException

from serverops import metrics
from serverops.conf import serverops_setting

logger = logging.getLogger("serverops.ratelimit")

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
# Seconds to connect to Redis and to get the charge's reply (setting RATE_LIMIT_REDIS_TIMEOUT): a
# healthy Redis answers in well under a millisecond, and a request waits at most this long for one
# that does not before failing open.
REDIS_TIMEOUT = 0.5
REDIS_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)
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
        unit = "second" if retry_after == 1 else "seconds"
        super().__init__(f"rate limit exceeded; retry in {retry_after} {unit}")
        self.headers = {"Retry-After": str(retry_after), **state.headers()}


class _Client(threading.local):
    """This thread's Redis client for the counters, on one connection of its own, and the charge
    script registered on it. Made again for a new ``RATE_LIMIT_REDIS_URL`` (``override_settings``)
    and in a forked process, which must not share its parent's socket."""

    key: tuple[str, int, float] | None = None
    redis: Redis
    script: Any


_client = _Client()


def _redis(url: str) -> _Client:
    timeout = getattr(settings, "RATE_LIMIT_REDIS_TIMEOUT", REDIS_TIMEOUT)
    key = (url, os.getpid(), timeout)
    if _client.key != key:
        # single_connection_client: the client keeps one connection rather than a pool, so the
        # charge can write its command on it and read the reply later, from the same socket.
        _client.redis = Redis.from_url(
            url, single_connection_client=True, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        _client.script = _client.redis.register_script(CHARGE_SCRIPT)
        _client.key = key
    return _client


class _SentScript:
    """The charge script's ``EVALSHA``, written to the client's connection now and its reply read
    by ``counts``.

    redis-py has no call that sends a command and returns before its reply; its connection does,
    in two public calls (``send_command``, ``read_response``). A failure of either disconnects it
    here, so no reply is left unread for the next command; redis-py connects again on next use.
    """

    def __init__(self, client: _Client, keys: list[str], args: list[int]) -> None:
        self.script, self.keys, self.args = client.script, keys, args
        # Any: redis-py leaves the connection's methods unannotated.
        self.connection = cast(Any, client.redis.connection)
        try:
            self.connection.send_command("EVALSHA", self.script.sha, len(keys), *keys, *args)
        except BaseException:
            self.connection.disconnect()
            raise

    def counts(self) -> list[int]:
        try:
            counts = self.connection.read_response()
        except NoScriptError:
            # The server lost its scripts (a restart, SCRIPT FLUSH), so nothing was counted:
            # redis-py's own call loads the script again and runs it.
            counts = self.script(keys=self.keys, args=self.args)
        except BaseException:
            self.connection.disconnect()
            raise
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
        self.sent: _SentScript | None = None
        self.client: _Client | None = None
        self.uncounted = False
        url: str | None = settings.RATE_LIMIT_REDIS_URL
        if url:
            try:
                # Connects when made (a single-connection client), so it may find Redis away too.
                self.client = _redis(url)
                self.sent = _SentScript(self.client, self.keys, self.lifetimes)
            except REDIS_UNAVAILABLE as error:
                self._fail_open(error)

    def _fail_open(self, error: Exception) -> None:
        self.uncounted = True
        logger.warning("rate limit not counted, Redis did not answer: %s: %s", type(error).__name__, error)
        if metrics.enabled():
            metrics.RATE_LIMIT_UNCOUNTED.inc()

    def settle(self, token_id: str) -> RateLimitState | None:
        """The charge of the token ``token_id``, the credential's; raises ``RateLimited`` when
        it is over either of the token's budgets. ``None`` when Redis did not answer: the
        request goes on uncounted."""
        if self.uncounted:
            return None
        try:
            counts = self._counts()
        except REDIS_UNAVAILABLE as error:
            self._fail_open(error)
            return None
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
        if self.uncounted:
            return
        try:
            if not forget:
                self._counts()
                return
            if self.client is None:
                caches[DEFAULT_CACHE_ALIAS].delete_many(self.keys)
                return
            self._counts()  # its reply read first: the connection carries one command at a time
            self.client.redis.delete(*self.keys)
        except REDIS_UNAVAILABLE as error:
            self._fail_open(error)

    def _counts(self) -> list[int]:
        if self.sent is not None:
            sent, self.sent = self.sent, None
            return sent.counts()
        backend = caches[DEFAULT_CACHE_ALIAS]
        return [_count(backend, key, lifetime) for key, lifetime in zip(self.keys, self.lifetimes, strict=True)]
