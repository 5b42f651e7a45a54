"""The table of docs/api.md#errors: every non-2xx under /v1/ is the envelope, with the right status and code."""

from __future__ import annotations

import logging

import pytest
from django.test import override_settings

from cases.models import Case

pytestmark = pytest.mark.django_db


def assert_envelope(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.content
    assert r["Content-Type"] == "application/json", r["Content-Type"]
    body = r.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    assert set(body["error"]) <= {"code", "message", "param"}, body
    assert "Traceback" not in r.content.decode()
    return body["error"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b'{"title": ', "application/json", id="truncated-json"),
        pytest.param(b"{'title': 'x'}", "application/json", id="single-quotes"),
        pytest.param(b'{"title": "\xff\xfe"}', "application/json", id="not-utf8"),
        pytest.param(b'{"title": NaN}', "application/json", id="nan"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "application/json", id="deeply-nested-array"),
        pytest.param(b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "application/json", id="deeply-nested-object"),
        pytest.param(b"[1, 2]", "application/json", id="array-body"),
        pytest.param(b'"a string"', "application/json", id="string-body"),
        pytest.param(b"null", "application/json", id="null-body"),
        pytest.param(b"42", "application/json; charset=utf-8", id="number-body"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_unparseable_or_non_object_body_is_400(call, case, method, body, content_type) -> None:
    path = "/v1/cases" if method == "POST" else f"/v1/cases/{case.id}"
    before = list(Case.objects.values())
    error = assert_envelope(call(method, path, body=body, content_type=content_type), 400, "bad_request")
    assert "body" in error["message"] or "JSON" in error["message"], error
    assert list(Case.objects.values()) == before


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=-1", "limit"),
        ("limit=1.5", "limit"),
        ("limit=", "limit"),
        ("status=deleted", "status"),
        ("status=", "status"),
        ("status=OPEN", "status"),
        ("cursor=!!!", "cursor"),
        ("cursor=YWJj", "cursor"),
        ("cursor=" + "A" * 5000, "cursor"),
    ],
)
def test_bad_query_parameter_is_400_naming_it(call, query, param) -> None:
    error = assert_envelope(call("GET", f"/v1/cases?{query}"), 400, "bad_request")
    assert error["param"] == param


def test_missing_token_is_401(call) -> None:
    assert_envelope(call("GET", "/v1/cases", auth=None), 401, "unauthorized")


def test_missing_scope_is_403(call, project) -> None:
    from tests.factories import TokenFactory

    writer = TokenFactory(project=project, scopes=["cases:write"])
    assert_envelope(call("GET", "/v1/cases", auth=f"Bearer {writer.plaintext}"), 403, "forbidden")


@pytest.mark.parametrize("path", ["/v1/", "/v1/nope", "/v1/cases/c_01JD3Z8W6V4M2Q9T7K5X1B0N3R/attachments", "/v1/case"])
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_unknown_path_is_404(call, path, method) -> None:
    error = assert_envelope(call(method, path, json_body={}), 404, "not_found")
    assert error["message"] == "no such endpoint"


@pytest.mark.parametrize(
    "case_id",
    [
        pytest.param("c_01JD3Z8W6V4M2Q9T7K5X1B0N3R", id="well-formed-unknown"),
        pytest.param("c_%00", id="nul-byte"),
        pytest.param("c_" + "A" * 10_000, id="ten-thousand-characters"),
        pytest.param("%F0%9F%92%A5", id="emoji"),
        pytest.param("c_01jd3z8w6v4m2q9t7k5x1b0n3r", id="lowercase"),
        pytest.param("%ff", id="invalid-utf8-escape"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "PATCH"])
def test_unknown_or_malformed_case_id_is_404(call, method, case_id) -> None:
    error = assert_envelope(call(method, f"/v1/cases/{case_id}", json_body={"title": "x"}), 404, "not_found")
    assert error["message"] == "case not found"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/v1/cases/{id}", "GET, PATCH, HEAD"),
        ("DELETE", "/v1/cases/{id}", "GET, PATCH, HEAD"),
        ("POST", "/v1/cases/{id}", "GET, PATCH, HEAD"),
        ("PUT", "/v1/cases", "GET, POST, HEAD"),
        ("DELETE", "/v1/cases", "GET, POST, HEAD"),
        ("PATCH", "/v1/cases", "GET, POST, HEAD"),
        ("OPTIONS", "/v1/cases", "GET, POST, HEAD"),
    ],
)
@pytest.mark.parametrize("auth", ["token", "none"])
def test_unserved_method_is_405_with_allow(call, case, method, path, allow, auth) -> None:
    r = call(method, path.format(id=case.id), json_body={"title": "x"}, **({} if auth == "token" else {"auth": None}))
    assert_envelope(r, 405, "method_not_allowed")
    assert r["Allow"] == allow
    case.refresh_from_db()
    assert case.title != "x"


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "text/plain, image/png"])
def test_accept_without_json_is_406(call, accept) -> None:
    assert_envelope(call("GET", "/v1/cases", headers={"Accept": accept}), 406, "not_acceptable")


@pytest.mark.parametrize("accept", ["application/json", "*/*", "application/*", "text/html, application/json;q=0.5"])
def test_accept_with_json_is_served(call, accept) -> None:
    assert call("GET", "/v1/cases", headers={"Accept": accept}).status_code == 200


def test_stale_if_match_is_412_and_writes_nothing(call, case) -> None:
    before = (case.title, case.updated_at)
    r = call("PATCH", f"/v1/cases/{case.id}", json_body={"title": "new"}, headers={"If-Match": '"stale"'})
    assert_envelope(r, 412, "precondition_failed")
    case.refresh_from_db()
    assert (case.title, case.updated_at) == before


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_body_over_one_mebibyte_is_413(call, case, method) -> None:
    path = "/v1/cases" if method == "POST" else f"/v1/cases/{case.id}"
    body = b'{"description": "' + b"a" * (1024 * 1024) + b'"}'
    assert_envelope(call(method, path, body=body), 413, "payload_too_large")
    assert Case.objects.count() == 1


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"],
)
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_body_not_sent_as_json_is_415(call, case, method, content_type) -> None:
    path = "/v1/cases" if method == "POST" else f"/v1/cases/{case.id}"
    r = call(method, path, body=b'{"title": "x"}', content_type=content_type)
    assert_envelope(r, 415, "unsupported_type")
    assert Case.objects.count() == 1
    case.refresh_from_db()
    assert case.title != "x"


@override_settings(SERVEROPS={"RATE_LIMIT_PER_SECOND": 1000, "RATE_LIMIT_PER_MINUTE": 3, "MEDIA_BASE_URL": "/m/"})
def test_over_the_rate_limit_is_429_with_retry_after(call) -> None:
    for _ in range(3):
        assert call("GET", "/v1/cases").status_code == 200
    r = call("GET", "/v1/cases")
    assert_envelope(r, 429, "rate_limited")
    assert 1 <= int(r["Retry-After"]) <= 60
    assert r["X-RateLimit-Remaining"] == "0"


def test_crash_is_500_envelope_logged_with_the_request_id(call, monkeypatch, caplog) -> None:
    def explode(**kwargs):
        raise RuntimeError("database on fire: secret detail")

    monkeypatch.setattr("cases.services.case_create", explode)
    with caplog.at_level(logging.ERROR):
        r = call("POST", "/v1/cases", json_body={"title": "boom"}, headers={"X-Request-Id": "trace-500"})
    error = assert_envelope(r, 500, "internal")
    assert error["message"] == "an unexpected error occurred"
    assert b"secret detail" not in r.content
    assert r["X-Request-Id"] == "trace-500"
    [record] = [rec for rec in caplog.records if rec.name == "serverops.errors"]
    assert record.request_id == "trace-500"
    assert record.exc_info is not None
    assert "database on fire" in str(record.exc_info[1])
    # Logged once: Django's request logger does not repeat it (response._has_been_logged, UPGRADING.md).
    assert [rec.name for rec in caplog.records if rec.levelno >= logging.ERROR] == ["serverops.errors"]


def test_idempotency_key_reused_with_another_body_is_409(call) -> None:
    headers = {"Idempotency-Key": "same-key"}
    assert call("POST", "/v1/cases", json_body={"title": "first"}, headers=headers).status_code == 201
    assert_envelope(call("POST", "/v1/cases", json_body={"title": "second"}, headers=headers), 409, "conflict")
    assert list(Case.objects.values_list("title", flat=True)) == ["first"]


@pytest.mark.parametrize("body", [b"[]", b"null", b"1", b'"text"'])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("POST", "/v1/cases", id="case-create"),
        pytest.param("PATCH", "/v1/cases/{id}", id="case-update"),
        pytest.param("POST", "/v1/media/base64", id="base64-upload"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_400_saying_so(call, case, method, path, body) -> None:
    from tests.factories import TokenFactory

    every_scope = TokenFactory(project=case.project, scopes=["cases:read", "cases:write", "media:write"])
    before = list(Case.objects.values_list("pk", "title", "updated_at"))
    r = call(method, path.format(id=case.pk), body=body, auth=f"Bearer {every_scope.plaintext}")
    error = assert_envelope(r, 400, "bad_request")
    assert error["message"] == "request body must be a JSON object"
    assert list(Case.objects.values_list("pk", "title", "updated_at")) == before
