"""Django's PostgreSQL backend, with a connection health check that costs no round trip.

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

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    # Django's own attributes (set in connect()), which django-stubs does not declare.
    health_check_enabled: bool
    health_check_done: bool

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
