"""``serverops.fields.rfc3339``: every timestamp of the API, in one shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from serverops.fields import rfc3339

ZONES = st.sampled_from(
    [
        UTC,
        timezone(timedelta(0)),
        timezone(timedelta(hours=5, minutes=30)),
        ZoneInfo("UTC"),
        ZoneInfo("America/Sao_Paulo"),
    ]
)


def test_the_shape() -> None:
    assert rfc3339(datetime(2026, 11, 27, 17, 41, 32, 123456, tzinfo=UTC)) == "2026-11-27T17:41:32.123Z"
    assert rfc3339(datetime(2026, 11, 27, 17, 41, tzinfo=UTC)) == "2026-11-27T17:41:00.000Z"
    ist = timezone(timedelta(hours=5, minutes=30))
    assert rfc3339(datetime(2026, 11, 27, 23, 11, 32, 999999, tzinfo=ist)) == "2026-11-27T17:41:32.999Z"


@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=ZONES))
def test_any_zone_gives_what_astimezone_and_isoformat_give(value: datetime) -> None:
    written = rfc3339(value)
    assert written.endswith("Z")
    assert written == value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
