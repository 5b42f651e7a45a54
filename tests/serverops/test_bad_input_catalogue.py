"""The bad-input catalogue (issue 5): headers, path, query string and body, each answered with a
4xx envelope and leaving the database exactly as it was."""

from __future__ import annotations

from typing import Any

import pytest

from cases.models import Case, CaseEvent, IdempotentRequest
from tokens.models import ScopedToken

pytestmark = pytest.mark.django_db

CASE = "{case}"
J = "application/json"

# (method, path, body, content type, extra headers, expected status)
CATALOGUE: list[Any] = [
    # headers
    pytest.param("GET", "/v1/cases", None, J, {"Authorization": None}, 401, id="hdr-no-authorization"),
    pytest.param("GET", "/v1/cases", None, J, {"Authorization": "Token abc"}, 401, id="hdr-other-scheme"),
    pytest.param("GET", "/v1/cases", None, J, {"Authorization": "Bearer "}, 401, id="hdr-empty-token"),
    pytest.param(
        "GET", "/v1/cases", None, J, {"Authorization": "Bearer so_live_" + "A" * 28}, 401, id="hdr-bad-checksum"
    ),
    pytest.param("GET", "/v1/cases", None, J, {"Authorization": "Bearer " + "x" * 10_000}, 401, id="hdr-huge-token"),
    pytest.param("GET", "/v1/cases", None, J, {"Authorization": "Bearer so_live_\x00"}, 401, id="hdr-nul-token"),
    pytest.param("GET", "/v1/cases", None, J, {"Accept": "text/html"}, 406, id="hdr-accept-html"),
    pytest.param("GET", "/v1/cases", None, J, {"Accept": "image/*"}, 406, id="hdr-accept-image"),
    pytest.param("PATCH", CASE, {"title": "x"}, J, {"If-Match": '"0"'}, 412, id="hdr-stale-if-match"),
    pytest.param("PATCH", CASE, {"title": "x"}, J, {"If-Match": "not-a-tag"}, 412, id="hdr-malformed-if-match"),
    pytest.param("POST", "/v1/cases", {"title": "x"}, J, {"Idempotency-Key": ""}, 400, id="hdr-empty-idempotency-key"),
    pytest.param("POST", "/v1/cases", {"title": "x"}, J, {"Idempotency-Key": "k" * 256}, 400, id="hdr-long-idem-key"),
    pytest.param("POST", "/v1/cases", {"title": "x"}, J, {"Idempotency-Key": "a\tb"}, 400, id="hdr-control-idem-key"),
    pytest.param("POST", "/v1/cases", {"title": "x"}, "text/plain", {}, 415, id="hdr-text-plain"),
    pytest.param("PATCH", CASE, {"title": "x"}, "application/x-www-form-urlencoded", {}, 415, id="hdr-form"),
    pytest.param("POST", "/v1/cases", {"title": "x"}, "application/xml", {}, 415, id="hdr-xml"),
    # path
    pytest.param("GET", "/v1/cases/c_%00", None, J, {}, 404, id="path-nul"),
    pytest.param("PATCH", "/v1/cases/c_%00", {"title": "x"}, J, {}, 404, id="path-nul-patch"),
    pytest.param("GET", "/v1/cases/" + "c" * 10_000, None, J, {}, 404, id="path-10000-chars"),
    pytest.param("GET", "/v1/cases/%ff%fe", None, J, {}, 404, id="path-bad-utf8"),
    pytest.param("GET", "/v1/cases/' OR 1=1 --", None, J, {}, 404, id="path-sql"),
    pytest.param("GET", "/v1/cases/../../etc/passwd", None, J, {}, 404, id="path-traversal"),
    pytest.param("GET", "/v1/unknown", None, J, {}, 404, id="path-unknown"),
    pytest.param("DELETE", CASE, None, J, {}, 405, id="path-delete"),
    pytest.param("PUT", CASE, {"title": "x"}, J, {}, 405, id="path-put"),
    pytest.param("POST", CASE + "/events", {}, J, {}, 405, id="path-post-events"),
    # query string
    pytest.param("GET", "/v1/cases?limit=0", None, J, {}, 400, id="qs-limit-zero"),
    pytest.param("GET", "/v1/cases?limit=1000", None, J, {}, 400, id="qs-limit-huge"),
    pytest.param("GET", "/v1/cases?limit=%00", None, J, {}, 400, id="qs-limit-nul"),
    pytest.param("GET", "/v1/cases?limit=٣", None, J, {}, 400, id="qs-limit-arabic-digit"),
    pytest.param("GET", "/v1/cases?status=%00", None, J, {}, 400, id="qs-status-nul"),
    pytest.param("GET", "/v1/cases?status=" + "o" * 5000, None, J, {}, 400, id="qs-status-long"),
    pytest.param("GET", "/v1/cases?cursor=%00", None, J, {}, 400, id="qs-cursor-nul"),
    pytest.param("GET", "/v1/cases?cursor=" + "Zm9v" * 100, None, J, {}, 400, id="qs-cursor-garbage"),
    pytest.param("GET", "/v1/cases?cursor=MjAyNnxjXzE", None, J, {}, 400, id="qs-cursor-bad-date"),
    # body
    pytest.param("POST", "/v1/cases", b"{", J, {}, 400, id="body-truncated"),
    pytest.param("POST", "/v1/cases", b"\xff\xfe\x00", J, {}, 400, id="body-not-utf8"),
    pytest.param("POST", "/v1/cases", b"[]", J, {}, 400, id="body-array"),
    pytest.param("POST", "/v1/cases", b"[" * 200_000, J, {}, 400, id="body-deep-nesting"),
    pytest.param("POST", "/v1/cases", b'{"title": Infinity}', J, {}, 400, id="body-infinity"),
    pytest.param("POST", "/v1/cases", {"title": "a\u0000b"}, J, {}, 400, id="body-nul-title"),
    pytest.param("POST", "/v1/cases", {"title": "\ud83d"}, J, {}, 400, id="body-lone-surrogate"),
    pytest.param("POST", "/v1/cases", {"title": "x" * 201}, J, {}, 400, id="body-long-title"),
    pytest.param("POST", "/v1/cases", {"title": "t", "description": "d" * 10_001}, J, {}, 400, id="body-long-desc"),
    pytest.param("POST", "/v1/cases", {"title": "t", "status": "deleted"}, J, {}, 400, id="body-bad-status"),
    pytest.param("POST", "/v1/cases", {"title": "t", "id": "c_x"}, J, {}, 400, id="body-read-only-id"),
    pytest.param("POST", "/v1/cases", {"title": "t", "project": "p_x"}, J, {}, 400, id="body-unknown-project"),
    pytest.param("POST", "/v1/cases", {"title": 1e308}, J, {}, 400, id="body-title-float"),
    pytest.param("POST", "/v1/cases", b'{"title": "a", "title": 5}', J, {}, 400, id="body-duplicate-key-last-wins"),
    pytest.param("POST", "/v1/cases", b'{"' + b"k" * 1_100_000 + b'": 1}', J, {}, 413, id="body-over-1mib"),
    pytest.param("PATCH", CASE, {}, J, {}, 400, id="body-empty-patch"),
    pytest.param("PATCH", CASE, {"status": None}, J, {}, 400, id="body-null-status"),
    pytest.param("PATCH", CASE, {"attachments": []}, J, {}, 400, id="body-patch-attachments"),
    pytest.param("PATCH", CASE, {"title": "ok", "mode": "test"}, J, {}, 400, id="body-patch-mode"),
    pytest.param("PATCH", CASE, b"null", J, {}, 400, id="body-null"),
]


def _database(case: Case) -> tuple[Any, ...]:
    return (
        list(Case.objects.order_by("pk").values()),
        list(CaseEvent.objects.order_by("pk").values()),
        list(IdempotentRequest.objects.order_by("pk").values()),
        list(ScopedToken.objects.order_by("pk").values_list("pk", "revoked_at", "expires_at", "scopes")),
    )


@pytest.mark.parametrize(("method", "path", "body", "content_type", "headers", "status"), CATALOGUE)
def test_bad_input_gets_a_4xx_envelope_and_changes_nothing(
    call, used_token, case, method, path, body, content_type, headers, status
) -> None:
    path = path.replace(CASE, f"/v1/cases/{case.id}")
    auth = headers.pop("Authorization", ...)
    before = _database(case)
    kwargs: dict[str, Any] = {"auth": auth, "headers": headers, "content_type": content_type}
    if isinstance(body, bytes):
        kwargs["body"] = body
    elif body is not None:
        kwargs["json_body"] = body
    r = call(method, path, **kwargs)
    assert r.status_code == status, r.content[:500]
    error = r.json()["error"]
    assert error["code"] and error["message"]
    assert _database(case) == before


def test_the_catalogue_has_at_least_40_inputs() -> None:
    assert len(CATALOGUE) >= 40
