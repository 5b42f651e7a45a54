"""Conditional GET on a case (RFC 9110 §13.1.2): a bot that polls with the ETag it holds gets a
304 with no body while the case is unchanged."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def _etag(call, case) -> str:
    r = call("GET", f"/v1/cases/{case.id}")
    assert r.status_code == 200, r.content
    return str(r["ETag"])


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("{etag}", id="current"),
        pytest.param("W/{etag}", id="weak-form-of-current"),
        pytest.param('"stale", {etag}', id="list-with-current"),
        pytest.param('W/"stale" ,  W/{etag}', id="weak-list-with-current"),
        pytest.param("*", id="star"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_current_etag_in_if_none_match_is_304_without_a_body(call, case, method, header) -> None:
    etag = _etag(call, case)
    r = call(method, f"/v1/cases/{case.id}", headers={"If-None-Match": header.format(etag=etag)})
    assert r.status_code == 304, r.content
    assert r.content == b""
    assert r["ETag"] == etag
    assert r["X-Request-Id"]
    assert int(r["X-RateLimit-Remaining"]) >= 0
    assert r["X-RateLimit-Limit"] and r["X-RateLimit-Reset"]


@pytest.mark.parametrize(
    "header",
    [
        pytest.param('"stale"', id="stale"),
        pytest.param('W/"stale", "older"', id="stale-list"),
        pytest.param("not-a-tag", id="malformed"),
        pytest.param("", id="empty"),
        pytest.param("{etag_unquoted}", id="unquoted-current"),
    ],
)
def test_other_if_none_match_gets_the_case(call, case, header) -> None:
    etag = _etag(call, case)
    r = call("GET", f"/v1/cases/{case.id}", headers={"If-None-Match": header.format(etag_unquoted=etag.strip('"'))})
    assert r.status_code == 200, r.content
    assert r.json()["id"] == case.id
    assert r["ETag"] == etag


def test_after_a_change_the_old_etag_gets_the_new_case(call, case) -> None:
    old = _etag(call, case)
    assert call("PATCH", f"/v1/cases/{case.id}", json_body={"status": "closed"}).status_code == 200
    r = call("GET", f"/v1/cases/{case.id}", headers={"If-None-Match": old})
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "closed"
    assert r["ETag"] != old
    assert call("GET", f"/v1/cases/{case.id}", headers={"If-None-Match": r["ETag"]}).status_code == 304


def test_if_none_match_does_not_bypass_scope_or_tenancy(call, case, project) -> None:
    from tests.factories import CaseFactory, TokenFactory

    etag = _etag(call, case)
    writer = TokenFactory(project=project, scopes=["cases:write"])
    r = call("GET", f"/v1/cases/{case.id}", auth=f"Bearer {writer.plaintext}", headers={"If-None-Match": "*"})
    assert r.status_code == 403, r.content
    other = CaseFactory()
    r = call("GET", f"/v1/cases/{other.id}", headers={"If-None-Match": etag})
    assert r.status_code == 404, r.content
    r = call("GET", f"/v1/cases/{other.id}", headers={"If-None-Match": "*"})
    assert r.status_code == 404, r.content
