"""Serializer fields that hold JSON input to its declared type instead of coercing it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from rest_framework import serializers
from rest_framework.settings import api_settings

# What orjson writes for a UTC datetime with a fraction, quotes included.
_QUOTED_WITH_MICROSECONDS = len(b'"2026-11-27T17:41:32.123456Z"')


def rfc3339(value: datetime) -> str:
    """``2026-11-27T17:41:32.123Z``: UTC, millisecond precision, ``Z``.

    A page of cases writes hundreds of these, so the text is orjson's, cut to milliseconds:
    0.7 µs a timestamp on the benchmark machine, against 1.8 µs for ``isoformat``, most of
    which went to the offset that was then cut off (bench/PROFILE.md, section 12). orjson
    writes ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` for a UTC value, and leaves the fraction out when
    it is zero, which is the one other shape it can have, left to ``isoformat``.
    """
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    quoted = orjson.dumps(value, option=orjson.OPT_UTC_Z)
    if len(quoted) == _QUOTED_WITH_MICROSECONDS:
        return quoted[1:24].decode() + "Z"
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"


class TimestampField(serializers.DateTimeField):
    def to_representation(self, value: datetime) -> str:
        return rfc3339(value)


class StrictCharField(serializers.CharField):
    """A string, and only a string: ``123`` or ``true`` is refused, not turned into ``"123"``."""

    default_error_messages = {
        "invalid": "must be a string",
        "null": "must be a string, not null",
        "blank": "must not be empty",
        "max_length": "must be at most {max_length} characters",
        "min_length": "must be at least {min_length} characters",
    }

    def __init__(self, *, normalise: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        self.normalise = normalise
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        value: str = self.normalise(data) if self.normalise else data
        if value == "" and not self.allow_blank:
            self.fail("blank")
        return value


class StrictChoiceField(serializers.ChoiceField):
    default_error_messages = {
        "invalid_choice": "must be one of {choices}",
        "null": "must be one of {choices}, not null",
    }

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or data not in self.choices:
            self.fail("invalid_choice", choices=", ".join(map(str, self.choices)))
        return data

    def run_validation(self, data: Any = serializers.empty) -> Any:
        if data is None:
            self.fail("null", choices=", ".join(map(str, self.choices)))
        return super().run_validation(data)


_Instance = TypeVar("_Instance")


class JSONObjectSerializer(serializers.Serializer[_Instance]):
    """A request body's serializer: a body that is not a JSON object is a 400 saying so."""

    def run_validation(self, data: Any = serializers.empty) -> Any:
        # Before DRF's own empty-value handling, which would call a JSON null "this field".
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY: ["request body must be a JSON object"]}
            )
        return super().run_validation(data)
