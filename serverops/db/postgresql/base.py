"""Django's PostgreSQL backend, with a connection health check that costs no round trip and
timestamps parsed by psycopg's C code.

With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before the first query of every
request on a persistent connection, so that a connection the server closed while it sat
idle (a restart, ``pg_terminate_backend``, ``idle_session_timeout``, a proxy's idle timeout)
is replaced instead of failing the request that finds it. That is one more round trip to
PostgreSQL for every request.

Between requests the server writes to an idle connection only to end it (a FATAL error,
then the end of the stream), or rarely to report a setting or a notice. So the socket is
polled without waiting: nothing to read means the connection is as healthy as ``SELECT 1``
would find it, without asking. Anything to read, or a connection psycopg already knows is
closed or broken, falls back to Django's own check, which reads it and replaces the
connection when it is dead. A peer that vanished without a word (no FIN) fools both checks
alike: ``SELECT 1`` would wait for the same TCP timeout as the request's first query.
"""

from __future__ import annotations

import select
from datetime import datetime, tzinfo
from functools import cache
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base, features, operations
from django.db.backends.postgresql.psycopg_any import get_adapters_template
from psycopg import adapt, adapters
from psycopg.pq import Format

# psycopg's own timestamptz loader: with psycopg[binary], its C implementation.
_PARSER: type[adapt.Loader] = adapters.get_loader(adapters.types["timestamptz"].oid, Format.TEXT)  # type: ignore[assignment]


class TimestamptzLoader(adapt.Loader):
    """Django's timestamptz loader (``psycopg_any.BaseTzLoader``: parse, then set ``timezone``)
    with psycopg's C parser behind it.

    Django's loader subclasses psycopg's pure-Python one, which costs ~10 µs per value on
    the benchmark machine: a page of 50 cases and their files carries over 300 timestamps,
    3 ms per request (bench/PROFILE.md, section 8). This one costs ~1 µs and returns the same
    datetimes. ``timezone`` is what Django's ``create_cursor`` compares with the
    connection's, as it does for its own loader.
    """

    timezone: tzinfo | None = None

    def __init__(self, oid: int, context: Any = None) -> None:
        super().__init__(oid, context)
        self._parse = _PARSER(oid, context).load
        connection = self.connection
        if connection is not None and connection.info.timezone == self.timezone:
            # psycopg's parser already gives the connection's zone, which is Django's
            # (``ensure_timezone`` set it): then its load is the whole loader, called without a
            # Python frame in between, as with no loader of Django's at all.
            self.load = self._parse  # type: ignore[method-assign]

    def load(self, data: Any) -> datetime:
        parsed: datetime = self._parse(data)
        return parsed.replace(tzinfo=self.timezone)


@cache
def adapters_template(use_tz: bool, timezone: tzinfo | None) -> adapt.AdaptersMap:
    """Django's adapters for a connection (``get_adapters_template``), with ``TimestamptzLoader``."""
    context = adapt.AdaptersMap(get_adapters_template(use_tz, timezone))
    loader = type("TimestamptzLoader", (TimestamptzLoader,), {"timezone": timezone})
    context.register_loader("timestamptz", loader)
    return context


# Bound by the server (``server_side_binding``, serverops.settings.base), a statement takes at
# most 65,535 parameters: the extended query protocol counts them in 16 bits.
MAX_BOUND_PARAMETERS = 65_535


class DatabaseFeatures(features.DatabaseFeatures):
    max_query_params = MAX_BOUND_PARAMETERS


class DatabaseOperations(operations.DatabaseOperations):
    def bulk_batch_size(self, fields: Any, objs: Any) -> int:
        """Batches that stay under ``MAX_BOUND_PARAMETERS``, as SQLite's backend makes them.

        Django's PostgreSQL backend puts any number of objects in one statement. Bound by the
        server, deleting cases with more than 65,535 history events between them failed (the
        deletion collects the events' dependents with ``event_id IN (…)``), and so would a
        ``bulk_create`` or ``bulk_update`` that large.
        """
        size: int = super().bulk_batch_size(fields, objs)
        return max(1, min(size, MAX_BOUND_PARAMETERS // max(1, len(fields))))


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
    ops_class = DatabaseOperations
    # Django's own attributes (set in connect()), which django-stubs does not declare.
    health_check_enabled: bool
    health_check_done: bool

    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        params["context"] = adapters_template(settings.USE_TZ, self.timezone)
        return params

    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and self._idle_and_quiet()
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _idle_and_quiet(self) -> bool:
        """True when psycopg holds the connection for sound and the server sent nothing since."""
        if not hasattr(select, "poll") or self.connection.closed or self.connection.broken:
            return False
        poller = select.poll()
        poller.register(self.connection.fileno(), select.POLLIN)
        return not poller.poll(0)
