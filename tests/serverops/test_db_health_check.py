"""The PostgreSQL health check without a round trip (serverops.db.postgresql)."""

from __future__ import annotations

import inspect
import time

import psycopg
import pytest
from django.db import close_old_connections, connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.base import DatabaseWrapper as DjangoPostgreSQLWrapper

from tokens.models import Organisation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL backend; .ci/run runs this file with DATABASE_URL set")


# Django's own state the override reads and writes (serverops/db/postgresql/base.py, UPGRADING.md).
HEALTH_CHECK_STATE = {"health_check_enabled", "health_check_done"}


@pytest.fixture
def request_start(monkeypatch) -> None:
    """The connection as a new request finds it, brought there by Django's own calls: opened with
    health checks on, then reset by ``close_old_connections`` (the ``request_started`` receiver)."""
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", True)
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", None)
    connection.close()
    connection.ensure_connection()
    close_old_connections()
    assert connection.health_check_enabled
    assert not connection.health_check_done


def test_django_still_keeps_the_health_check_state_the_override_reads() -> None:
    """Fails when Django renames or stops using the attributes ``DatabaseWrapper`` relies on."""
    fresh = DjangoPostgreSQLWrapper(connection.settings_dict)
    assert vars(fresh).keys() >= HEALTH_CHECK_STATE
    for method in (BaseDatabaseWrapper.connect, BaseDatabaseWrapper.close_if_health_check_failed):
        assert set(inspect.unwrap(method).__code__.co_names) >= HEALTH_CHECK_STATE, method
    assert "health_check_done" in BaseDatabaseWrapper.close_if_unusable_or_obsolete.__code__.co_names


def test_the_settings_choose_the_backend() -> None:
    assert connection.settings_dict["ENGINE"] == "serverops.db.postgresql"


def test_a_sound_idle_connection_is_kept_without_asking_the_server(request_start, monkeypatch) -> None:
    asked: list[str] = []
    monkeypatch.setattr(connection, "is_usable", lambda: asked.append("SELECT 1") or True)
    kept = connection.connection
    connection.close_if_health_check_failed()
    assert asked == []
    assert connection.connection is kept
    assert connection.health_check_done


def test_a_connection_the_server_ended_is_replaced_before_a_query_uses_it(request_start) -> None:
    backend_pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [backend_pid])
    deadline = time.monotonic() + 5
    while not connection.connection.broken and time.monotonic() < deadline:
        if not connection._idle_and_quiet():  # the server's goodbye has arrived
            break
        time.sleep(0.01)
    connection.close_if_health_check_failed()
    assert connection.connection is None  # closed: the next query opens a fresh one
    assert Organisation.objects.create(name="after the restart").pk
    assert connection.connection.info.backend_pid != backend_pid
