"""PATCH /v1/cases/{id} (docs/api.md#cases): every rule, and what the database holds afterwards."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Case
from tests.cases.test_create import BAD_BODIES

pytestmark = pytest.mark.django_db


def _age(case: Case, seconds: int = 60) -> Case:
    """Push the case's updated_at into the past so a write is visible as a change of it."""
    Case.objects.filter(pk=case.pk).update(updated_at=timezone.now() - timedelta(seconds=seconds))
    case.refresh_from_db()
    return case


def _state(case: Case) -> dict:
    return Case.objects.filter(pk=case.pk).values("title", "description", "status", "updated_at").get()


@pytest.mark.parametrize(
    "changes",
    [
        {"title": "Renamed"},
        {"description": "More detail"},
        {"status": "closed"},
        {"title": "All", "description": "three", "status": "archived"},
    ],
)
def test_patch_writes_the_sent_fields_and_bumps_updated_at(call, case, changes) -> None:
    before = _state(_age(case))
    r = call("PATCH", f"/v1/cases/{case.id}", json_body=changes)
    assert r.status_code == 200, r.content
    after = _state(case)
    assert after["updated_at"] > before["updated_at"]
    for field in ("title", "description", "status"):
        assert after[field] == changes.get(field, before[field])
        assert r.json()[field] == after[field]


def test_patch_only_writes_the_sent_fields(call, case, used_token, django_assert_num_queries) -> None:
    # tests/cases/test_query_counts.py pins the statements; this test reads the UPDATE's SET.
    with django_assert_num_queries(9, exact=False) as captured:
        r = call("PATCH", f"/v1/cases/{case.id}", json_body={"status": "closed"})
    assert r.status_code == 200, r.content
    [update] = [q["sql"] for q in captured.captured_queries if 'UPDATE "cases_case"' in q["sql"]]
    assert '"status"' in update
    assert '"updated_at"' in update
    assert '"title"' not in update.split("WHERE")[0]
    assert '"description"' not in update.split("WHERE")[0]


def test_noop_patch_returns_200_and_writes_nothing(call, case, used_token, django_assert_num_queries) -> None:
    before = _state(_age(case))
    # token, the case with its evidence and subjects + savepoint pair; no UPDATE
    with django_assert_num_queries(4) as captured:
        r = call("PATCH", f"/v1/cases/{case.id}", json_body={"title": case.title, "status": case.status})
    assert r.status_code == 200, r.content
    assert not [q for q in captured.captured_queries if q["sql"].startswith("UPDATE")]
    assert _state(case) == before


def test_title_is_compared_after_trimming(call, case) -> None:
    before = _state(_age(case))
    r = call("PATCH", f"/v1/cases/{case.id}", json_body={"title": f"  {case.title}  "})
    assert r.status_code == 200, r.content
    assert _state(case) == before


def test_empty_patch_is_refused_naming_what_may_be_sent(call, case) -> None:
    before = _state(case)
    r = call("PATCH", f"/v1/cases/{case.id}", json_body={})
    assert r.status_code == 400, r.content
    error = r.json()["error"]
    assert error["code"] == "bad_request"
    assert error["message"].startswith("missing required field")
    assert all(name in error["message"] for name in ("title", "description", "status"))
    assert _state(case) == before


@pytest.mark.parametrize(("body", "param"), [p for p in BAD_BODIES if p.id != "title-missing"])
def test_patch_refuses_bad_input_naming_the_field(call, case, body, param) -> None:
    before = _state(case)
    r = call("PATCH", f"/v1/cases/{case.id}", json_body=body)
    assert r.status_code == 400, r.content
    error = r.json()["error"]
    assert (error["code"], error["param"]) == ("bad_request", param)
    assert _state(case) == before


def test_a_bad_field_refuses_the_whole_patch(call, case) -> None:
    before = _state(case)
    r = call("PATCH", f"/v1/cases/{case.id}", json_body={"title": "fine", "status": "nope"})
    assert r.status_code == 400, r.content
    assert _state(case) == before


def test_every_case_response_carries_a_strong_etag_that_follows_changes(call, case) -> None:
    first = call("GET", f"/v1/cases/{case.id}")
    etag = first["ETag"]
    assert etag.startswith('"')
    assert not etag.startswith("W/")
    assert call("GET", f"/v1/cases/{case.id}")["ETag"] == etag
    assert call("PATCH", f"/v1/cases/{case.id}", json_body={"title": case.title})["ETag"] == etag
    changed = call("PATCH", f"/v1/cases/{case.id}", json_body={"title": "changed"})
    assert changed["ETag"] != etag
    assert call("GET", f"/v1/cases/{case.id}")["ETag"] == changed["ETag"]


@pytest.mark.parametrize("header", ["{current}", "*", '"other", {current}', '{current}, W/"x"'])
def test_if_match_with_a_current_tag_is_applied(call, case, header) -> None:
    current = call("GET", f"/v1/cases/{case.id}")["ETag"]
    r = call(
        "PATCH",
        f"/v1/cases/{case.id}",
        json_body={"status": "closed"},
        headers={"If-Match": header.format(current=current)},
    )
    assert r.status_code == 200, r.content
    case.refresh_from_db()
    assert case.status == "closed"


@pytest.mark.parametrize("header", ['"stale"', "W/{current}", "garbage", '""', "{current}x"])
def test_if_match_without_a_current_strong_tag_is_412(call, case, header) -> None:
    current = call("GET", f"/v1/cases/{case.id}")["ETag"]
    before = _state(case)
    r = call(
        "PATCH",
        f"/v1/cases/{case.id}",
        json_body={"status": "closed"},
        headers={"If-Match": header.format(current=current)},
    )
    assert r.status_code == 412, r.content
    assert r.json()["error"]["code"] == "precondition_failed"
    assert _state(case) == before


def test_if_match_after_someone_elses_change_is_412(call, case) -> None:
    seen = call("GET", f"/v1/cases/{case.id}")["ETag"]
    assert call("PATCH", f"/v1/cases/{case.id}", json_body={"description": "other writer"}).status_code == 200
    r = call("PATCH", f"/v1/cases/{case.id}", json_body={"status": "closed"}, headers={"If-Match": seen})
    assert r.status_code == 412, r.content
    case.refresh_from_db()
    assert (case.status, case.description) == ("open", "other writer")


@pytest.mark.parametrize("path", ["/v1/cases/{id}", "/v1/cases/{id}/"])
def test_trailing_slash_form_is_served_without_redirect(call, case, path) -> None:
    r = call("PATCH", path.format(id=case.id), json_body={"status": "closed"})
    assert r.status_code == 200, r.content
    case.refresh_from_db()
    assert case.status == "closed"
