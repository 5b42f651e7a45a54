"""POST /v1/cases (docs/api.md#cases): what is accepted, what is refused, and the shape of the Case returned."""

from __future__ import annotations

import re

import pytest

from cases.models import Case

pytestmark = pytest.mark.django_db

RFC3339_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def test_create_returns_201_case_with_location_and_etag(call, project) -> None:
    r = call("POST", "/v1/cases", json_body={"title": "  Aimbot on EU-1  ", "description": "line 1\nline 2\tend"})
    assert r.status_code == 201, r.content
    body = r.json()
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
    assert re.fullmatch(r"c_[0-9A-HJKMNP-TV-Z]{26}", body["id"])
    assert body["title"] == "Aimbot on EU-1"
    assert body["description"] == "line 1\nline 2\tend"
    assert body["status"] == "open"
    assert body["attachments"] == []
    assert RFC3339_MS.fullmatch(body["created_at"])
    assert RFC3339_MS.fullmatch(body["updated_at"])
    assert r["Location"] == f"/v1/cases/{body['id']}"
    assert re.fullmatch(r'"[0-9a-f]{32}"', r["ETag"])

    stored = Case.objects.get(pk=body["id"])
    assert (stored.project, stored.mode, stored.title) == (project, "live", "Aimbot on EU-1")
    fetched = call("GET", r["Location"])
    assert fetched.json() == body
    assert fetched["ETag"] == r["ETag"]


@pytest.mark.parametrize("status", ["open", "closed", "archived"])
def test_create_accepts_each_status(call, status) -> None:
    r = call("POST", "/v1/cases", json_body={"title": "t", "status": status})
    assert r.status_code == 201, r.content
    assert r.json()["status"] == status


@pytest.mark.parametrize(
    "title",
    [
        pytest.param("x", id="one-character"),
        pytest.param("x" * 200, id="two-hundred"),
        pytest.param(" " * 50 + "x" * 200 + " " * 50, id="two-hundred-after-trimming"),
        pytest.param("Spieler „Ümlaut“ nutzt 🚀 Cheats", id="unicode"),
    ],
)
def test_create_accepts_titles_within_the_rules(call, title) -> None:
    r = call("POST", "/v1/cases", json_body={"title": title})
    assert r.status_code == 201, r.content
    assert r.json()["title"] == title.strip(" ")


BAD_BODIES = [
    pytest.param({}, "title", id="title-missing"),
    pytest.param({"title": ""}, "title", id="title-empty"),
    pytest.param({"title": "   "}, "title", id="title-only-spaces"),
    pytest.param({"title": "x" * 201}, "title", id="title-201"),
    pytest.param({"title": None}, "title", id="title-null"),
    pytest.param({"title": 42}, "title", id="title-number"),
    pytest.param({"title": True}, "title", id="title-bool"),
    pytest.param({"title": ["a"]}, "title", id="title-list"),
    pytest.param({"title": {"a": 1}}, "title", id="title-object"),
    pytest.param({"title": "a\tb"}, "title", id="title-tab"),
    pytest.param({"title": "a\nb"}, "title", id="title-newline"),
    pytest.param({"title": "a\x00b"}, "title", id="title-nul"),
    pytest.param({"title": "a\x7fb"}, "title", id="title-del"),
    pytest.param({"title": "a\x85b"}, "title", id="title-c1-control"),
    pytest.param({"title": "\ud800"}, "title", id="title-lone-surrogate"),
    pytest.param({"title": "t", "description": "x" * 10_001}, "description", id="description-10001"),
    pytest.param({"title": "t", "description": "a\x00b"}, "description", id="description-nul"),
    pytest.param({"title": "t", "description": "a\x1bb"}, "description", id="description-escape"),
    pytest.param({"title": "t", "description": None}, "description", id="description-null"),
    pytest.param({"title": "t", "description": 1}, "description", id="description-number"),
    pytest.param({"title": "t", "status": "deleted"}, "status", id="status-unknown"),
    pytest.param({"title": "t", "status": "OPEN"}, "status", id="status-uppercase"),
    pytest.param({"title": "t", "status": None}, "status", id="status-null"),
    pytest.param({"title": "t", "status": 1}, "status", id="status-number"),
    pytest.param({"title": "t", "status": ["open"]}, "status", id="status-list"),
    pytest.param({"title": "t", "id": "c_01JD3Z8W6V4M2Q9T7K5X1B0N3R"}, "id", id="read-only-id"),
    pytest.param({"title": "t", "attachments": None}, "attachments", id="attachments-null"),
    pytest.param({"title": "t", "attachments": "f_01JD3Z8W6V4M2Q9T7K5X1B0N3R"}, "attachments", id="attachments-string"),
    pytest.param({"title": "t", "created_at": "2026-01-01T00:00:00Z"}, "created_at", id="read-only-created"),
    pytest.param({"title": "t", "updated_at": "2026-01-01T00:00:00Z"}, "updated_at", id="read-only-updated"),
    pytest.param({"title": "t", "severity": "high"}, "severity", id="unknown-key"),
    pytest.param({"title": "t", "Title": "t"}, "Title", id="unknown-key-by-case"),
]


@pytest.mark.parametrize(("body", "param"), BAD_BODIES)
def test_create_refuses_bad_input_naming_the_field(call, body, param) -> None:
    r = call("POST", "/v1/cases", json_body=body)
    assert r.status_code == 400, r.content
    error = r.json()["error"]
    assert error["code"] == "bad_request"
    assert error["param"] == param
    assert param in error["message"]
    assert not Case.objects.exists()


def test_description_allows_tab_newline_and_carriage_return(call) -> None:
    r = call("POST", "/v1/cases", json_body={"title": "t", "description": "a\tb\nc\r\nd" + "x" * 9_992})
    assert r.status_code == 201, r.content
    assert len(r.json()["description"]) == 10_000


def test_empty_body_is_refused_for_a_missing_title(call) -> None:
    r = call("POST", "/v1/cases", body=b"")
    assert r.status_code == 400, r.content
    assert r.json()["error"]["param"] == "title"
