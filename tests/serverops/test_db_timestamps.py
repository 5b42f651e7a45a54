"""Timestamps read from PostgreSQL through psycopg's C parser are the ones Django's own loader returns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import get_adapters_template

from serverops.db.postgresql.base import TimestamptzLoader, adapters_template
from tokens.models import Organisation

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

MOMENTS = [
    datetime(2026, 11, 30, 9, 48, 43, 123456, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Berlin")),  # the hour clocks skip
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-11))) - timedelta(days=1),
]


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL backend; .ci/run runs this file with DATABASE_URL set")


def _read(sql: str, params: list[object]) -> list[datetime]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def test_the_connection_parses_timestamps_with_the_fast_loader() -> None:
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(connection.connection.adapters.types["timestamptz"].oid, 0)
    assert issubclass(loader, TimestamptzLoader)
    assert loader.timezone == connection.timezone


@pytest.mark.parametrize("moment", MOMENTS, ids=lambda m: m.isoformat())
def test_a_timestamp_reads_back_as_the_same_instant_in_utc(moment: datetime) -> None:
    (read,) = _read("SELECT %s::timestamptz", [moment])
    assert read == moment
    assert read.utcoffset() == timedelta(0)


def test_the_values_are_djangos_own_loaders() -> None:
    text = [m.isoformat() for m in MOMENTS]
    ours = _read("SELECT unnest(%s::timestamptz[])", [text])
    django_context = get_adapters_template(True, connection.timezone)
    with connection.cursor() as cursor:
        cursor.cursor.adapters.register_loader("timestamptz", django_context.get_loader(1184, 0))
        cursor.execute("SELECT unnest(%s::timestamptz[])", [text])
        djangos = [row[0] for row in cursor.fetchall()]
    assert ours == djangos
    assert [(d.tzinfo, d.isoformat()) for d in ours] == [(d.tzinfo, d.isoformat()) for d in djangos]


def test_a_model_reads_its_timestamp_aware_in_utc() -> None:
    organisation = Organisation.objects.create(name="timestamps")
    read = Organisation.objects.get(pk=organisation.pk).created_at
    assert read == organisation.created_at
    assert read.tzinfo == connection.timezone


def test_without_time_zones_the_loader_gives_naive_datetimes() -> None:
    with connection.cursor() as cursor:
        cursor.cursor.adapters.register_loader("timestamptz", adapters_template(False, None).get_loader(1184, 0))
        cursor.execute("SELECT %s::timestamptz", [MOMENTS[0]])
        (read,) = cursor.fetchone()
    assert read.tzinfo is None
    assert read == MOMENTS[0].replace(tzinfo=None)


def _loader_of(cursor: object) -> TimestamptzLoader:
    raw = cursor.cursor  # type: ignore[attr-defined]
    loader: TimestamptzLoader = raw.adapters.get_loader(1184, 0)(1184, raw)
    return loader


def test_in_djangos_zone_the_loader_is_psycopgs_own_parser() -> None:
    # Nothing of Python's between psycopg and the value: the bound load of psycopg's C loader.
    with connection.cursor() as cursor:
        load = _loader_of(cursor).load
    assert type(getattr(load, "__self__", None)).__module__.startswith("psycopg")


def test_in_another_session_zone_the_values_are_still_djangos() -> None:
    # Django's loader then labels the parsed time with its own zone; so does this one. (The
    # SET is undone with the test's transaction.) Year 1 in that zone would be 1 BC.
    text = [m.isoformat() for m in MOMENTS[:3]]
    django_context = get_adapters_template(True, connection.timezone)
    with connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'America/Sao_Paulo'")
        assert _loader_of(cursor).load.__func__ is TimestamptzLoader.load  # type: ignore[attr-defined]
        cursor.execute("SELECT unnest(%s::timestamptz[])", [text])
        ours = [row[0] for row in cursor.fetchall()]
        cursor.cursor.adapters.register_loader("timestamptz", django_context.get_loader(1184, 0))
        cursor.execute("SELECT unnest(%s::timestamptz[])", [text])
        djangos = [row[0] for row in cursor.fetchall()]
    assert [(d.tzinfo, d.isoformat()) for d in ours] == [(d.tzinfo, d.isoformat()) for d in djangos]
