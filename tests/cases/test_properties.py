"""Property-based tests (issue 5): whatever JSON a client sends, the answer is a valid Case or a
400, never a 500, and a refused request changes nothing."""

from __future__ import annotations

import json
import re

import pytest
from django.core.cache import cache
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases.models import Case

pytestmark = pytest.mark.django_db

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
DESCRIPTION_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
UNLIMITED = {"RATE_LIMIT_PER_SECOND": 10**9, "RATE_LIMIT_PER_MINUTE": 10**9, "MEDIA_BASE_URL": "/m/"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)
texts = st.text(max_size=250) | st.text(alphabet=st.characters(codec="utf-8"), min_size=195, max_size=205)
field_values = {
    "title": texts | json_values,
    "description": st.text(max_size=300) | json_values,
    "status": st.sampled_from(["open", "closed", "archived", "OPEN", "", "deleted"]) | json_values,
    "priority": st.sampled_from(["low", "normal", "high", "urgent", "Urgent", ""]) | json_values,
    "labels": st.lists(st.text(max_size=45), max_size=12) | json_values,
    "assignee": st.sampled_from([None, "mem_01JD3Z8W6V4M2Q9T7K5X1B0N3R", "mem_x"]) | json_values,
}
keys = st.sampled_from(
    [
        "title",
        "description",
        "status",
        "priority",
        "labels",
        "assignee",
        "id",
        "attachments",
        "subjects",
        "created_at",
        "extra",
        "",
    ]
)


@st.composite
def case_bodies(draw: st.DrawFn) -> dict[str, object]:
    chosen = draw(st.sets(keys, max_size=4))
    return {key: draw(field_values.get(key, json_values)) for key in chosen}


def _valid_case(body: dict[str, object]) -> None:
    assert set(body) == {
        "id",
        "title",
        "description",
        "status",
        "attachments",
        "subjects",
        "assignee",
        "priority",
        "labels",
        "created_at",
        "updated_at",
    }
    assert body["priority"] in {"low", "normal", "high", "urgent"}
    labels = body["labels"]
    assert isinstance(labels, list) and len(labels) <= 10
    assert all(isinstance(label, str) and 1 <= len(label) <= 40 and not CONTROL.search(label) for label in labels)
    assert len({label.casefold() for label in labels}) == len(labels)
    assert body["assignee"] is None
    title, description = body["title"], body["description"]
    assert isinstance(title, str) and 1 <= len(title) <= 200 and title == title.strip(" ")
    assert not CONTROL.search(title)
    assert isinstance(description, str) and len(description) <= 10_000
    assert not DESCRIPTION_CONTROL.search(description)
    assert body["status"] in {"open", "closed", "archived"}


def _send(call, method: str, path: str, body: object):
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return call(method, path, body=raw)


@override_settings(SERVEROPS=UNLIMITED)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=case_bodies())
def test_create_yields_a_valid_case_or_a_400(call, body) -> None:
    cache.clear()
    before = Case.objects.count()
    r = _send(call, "POST", "/v1/cases", body)
    assert r.status_code in (201, 400), r.content
    if r.status_code == 201:
        _valid_case(r.json())
        assert Case.objects.count() == before + 1
    else:
        assert r.json()["error"]["code"] == "bad_request"
        assert Case.objects.count() == before


@override_settings(SERVEROPS=UNLIMITED)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=case_bodies())
def test_update_yields_a_valid_case_or_a_400(call, case, body) -> None:
    cache.clear()
    before = Case.objects.filter(pk=case.pk).values().get()
    r = _send(call, "PATCH", f"/v1/cases/{case.id}", body)
    assert r.status_code in (200, 400), r.content
    if r.status_code == 200:
        _valid_case(r.json())
        stored = Case.objects.filter(pk=case.pk).values().get()
        for field in ("title", "description", "status"):
            assert stored[field] == r.json()[field]
    else:
        assert Case.objects.filter(pk=case.pk).values().get() == before
