"""The API's renderer writes exactly the bytes DRF's ``JSONRenderer`` writes, or leaves the body to it."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.utils.functional import lazy
from hypothesis import given
from hypothesis import strategies as st
from rest_framework import renderers
from rest_framework.exceptions import ErrorDetail
from rest_framework.settings import api_settings

from cases.models import Status
from serverops.renderers import JSONRenderer

HOSTILE_TEXT = [
    "",
    "plain",
    'quote " backslash \\ slash /',
    "\x00\x01\x1f\x7f control",
    "\b\f\n\r\t short escapes",
    "line\u2028separator\u2029paragraph",
    "é 中文 עברית \u202e rtl",
    "emoji 🎮 \U0010ffff",
    "\ufeff bom \ufffe",
    "<script>alert(1)</script>",
]

BODIES: list[Any] = [
    {"error": {"code": "invalid_request", "message": text, "param": text}} for text in HOSTILE_TEXT
] + [
    [],
    {},
    {"cases": [], "next_cursor": None, "has_more": False},
    {"n": [0, -1, 2**63 - 1, -(2**63), True, False, None]},
    {"big": 2**64},  # beyond 64 bits: DRF's path
    {"detail": ErrorDetail("must be a string", code="invalid")},
    {"status": Status.OPEN},
    {"decimal": Decimal("1.10")},
    {"lazy": lazy(lambda: "translated", str)()},
    {"when": datetime.datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=datetime.UTC)},
    {"date": datetime.date(2026, 11, 30), "uuid": uuid.UUID(int=7)},
    {"nested": [[[{"a": [{"b": "c"}]}]]]},
]


def _deeply_nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("body", [*BODIES, _deeply_nested(300)], ids=range(len(BODIES) + 1))
def test_writes_what_drf_writes(body: Any) -> None:
    assert JSONRenderer().render(body) == renderers.JSONRenderer().render(body)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.text(),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
        max_leaves=30,
    )
)
def test_writes_what_drf_writes_for_any_json_without_floats(body: Any) -> None:
    assert JSONRenderer().render(body) == renderers.JSONRenderer().render(body)


@pytest.mark.parametrize("media_type", ["application/json; indent=4", "application/json; indent=0", None])
def test_an_indent_asked_for_is_drfs(media_type: str | None) -> None:
    body = {"cases": [{"id": "c_1", "title": "é\u2028"}], "has_more": False}

    ours = JSONRenderer().render(body, accepted_media_type=media_type)

    assert ours == renderers.JSONRenderer().render(body, accepted_media_type=media_type)


def test_nothing_renders_as_nothing() -> None:
    assert JSONRenderer().render(None) == b""


def test_a_string_that_is_not_utf8_is_refused_as_drf_refuses_it() -> None:
    body = {"title": "lone \ud800 surrogate"}

    with pytest.raises(UnicodeEncodeError):
        renderers.JSONRenderer().render(body)
    with pytest.raises(UnicodeEncodeError):
        JSONRenderer().render(body)


@pytest.mark.django_db
def test_the_api_renders_with_it(call: Any) -> None:
    assert list(api_settings.DEFAULT_RENDERER_CLASSES) == [JSONRenderer]
    created = call("POST", "/v1/cases", json_body={"title": "Griefing at spawn \u2028 é"})
    response = call("GET", "/v1/cases")

    assert type(response.accepted_renderer) is JSONRenderer
    assert response.content == renderers.JSONRenderer().render(response.data)
    assert response.json()["cases"][0]["id"] == created.json()["id"]
    assert b"\\u2028" in response.content
