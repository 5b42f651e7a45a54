"""``StringListField`` reads every stored value as ``JSONField`` reads it: orjson's reading of a
list of strings, ``JSONField``'s own of anything else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.db.models import JSONField
from hypothesis import given
from hypothesis import strategies as st

from media.models import File
from tests.factories import FileFactory

TAGS = File._meta.get_field("tags")

# Texts where orjson and the standard library part ways, and texts that are no list of strings.
ODD_TEXTS = [
    "[18446744073709551616]",  # beyond 64 bits: a float to orjson
    '["a", 123456789012345678901234567890]',
    "[NaN]",  # the standard library's extension of JSON
    '["\\ud800"]',  # a lone surrogate, refused by orjson
    '{"a": "b"}',
    '"a"',
    "[1.5, null, true]",
    '[["nested"]]',
    "not JSON",  # JSONField gives such a text back as it is
]


def _both_readings(text: str) -> tuple[Any, Any]:
    read = TAGS.from_db_value(text, TAGS.cached_col, connection)
    expected = JSONField.from_db_value(TAGS, text, TAGS.cached_col, connection)
    return read, expected


@given(st.lists(st.text()))
def test_a_list_of_strings_reads_as_jsonfield_reads_it(tags: list[str]) -> None:
    for text in (json.dumps(tags), json.dumps(tags, ensure_ascii=False)):
        read, expected = _both_readings(text)
        assert read == expected == tags
        assert type(read) is list


@pytest.mark.parametrize("text", ODD_TEXTS)
def test_any_other_value_reads_as_jsonfield_reads_it(text: str) -> None:
    read, expected = _both_readings(text)
    assert repr(read) == repr(expected)  # a float is not its integer, nor NaN equal to itself


def test_null_reads_as_none() -> None:
    assert _both_readings(None) == (None, None)  # type: ignore[arg-type]


@pytest.mark.django_db
@pytest.mark.parametrize("tags", [[], ["kill-feed", "é", "\u2028", 'say "hi"'], [1, {"a": [2.5]}]])
def test_stored_tags_read_back_as_written(tags: list[Any]) -> None:
    file = FileFactory()
    File.objects.filter(pk=file.pk).update(tags=tags)  # past the services' rules, as raw SQL could
    assert File.objects.get(pk=file.pk).tags == tags
    assert File.objects.values_list("tags", flat=True).get(pk=file.pk) == tags
