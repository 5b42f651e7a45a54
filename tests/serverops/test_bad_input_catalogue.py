"""The bad-input catalogue (issues 5 and 10): headers, path, query string and body, each answered
with a 4xx envelope, an X-Request-Id and no runtime internals in the message, and leaving the
database exactly as it was."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from cases.models import Case, CaseEvent, IdempotentRequest, Note
from serverops.pagination import encode_cursor
from tests.serverops.wsgi import wsgi
from tokens.models import ScopedToken
from webhooks.models import Event

pytestmark = pytest.mark.django_db

CASE = "{case}"
# A real cursor of the named list, issued for this test's data.
CASES_CURSOR = "{cases_cursor}"
EVENTS_CURSOR = "{events_cursor}"
J = "application/json"
ULID = "01JD3Z8W6V4M2Q9T7K5X1B0N3R"
MANY_FIELDS = "&".join(f"f{n}=1" for n in range(1_100))
DIGITS = "9" * 5_000


def _old_cursor(text: str) -> str:
    """A cursor in the unsigned format the service once issued (base64 of "<iso time>|<id>")."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


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
    pytest.param("PATCH", CASE, {"attachments": {}}, J, {}, 400, id="body-patch-attachments-object"),
    pytest.param("PATCH", CASE, {"title": "ok", "mode": "test"}, J, {}, 400, id="body-patch-mode"),
    pytest.param("PATCH", CASE, b"null", J, {}, 400, id="body-null"),
    # issue 10, fault 2: any cursor the service did not issue for this list
    pytest.param(
        "GET",
        "/v1/cases?cursor=" + _old_cursor(f"9999-12-31T23:59:59-14:00|c_{ULID}"),
        None,
        J,
        {},
        400,
        id="qs-cursor-year-9999",
    ),
    pytest.param(
        "GET",
        "/v1/cases?cursor=" + _old_cursor(f"2026-01-01T00:00:00+23:59|c_{ULID}"),
        None,
        J,
        {},
        400,
        id="qs-cursor-offset-2359",
    ),
    pytest.param("GET", "/v1/cases?cursor=" + EVENTS_CURSOR, None, J, {}, 400, id="qs-cursor-of-the-events"),
    pytest.param("GET", CASE + "/events?cursor=" + CASES_CURSOR, None, J, {}, 400, id="qs-cursor-of-the-list"),
    pytest.param("GET", "/v1/cases?cursor=" + CASES_CURSOR + "x", None, J, {}, 400, id="qs-cursor-tampered"),
    pytest.param("GET", CASE + "/events?cursor=WzEsImV2X3giXQ:AAAA", None, J, {}, 400, id="qs-cursor-forged"),
    # fault 3: request-parsing limits, before and after authentication
    pytest.param("GET", "/v1/cases?" + MANY_FIELDS, None, J, {}, 400, id="qs-too-many-fields"),
    pytest.param("GET", CASE + "/events?" + MANY_FIELDS, None, J, {}, 400, id="qs-too-many-fields-events"),
    pytest.param("PATCH", CASE + "?" + MANY_FIELDS, {"title": "x"}, J, {}, 400, id="qs-too-many-fields-patch"),
    pytest.param("GET", "/v1/cases?" + MANY_FIELDS, None, J, {"Authorization": None}, 400, id="qs-too-many-no-token"),
    pytest.param("GET", "/v1/cases?" + "&" * 1_100, None, J, {}, 400, id="qs-too-many-empty-fields"),
    # fault 4: a Content-Type that is a pattern or another type is not JSON
    pytest.param("POST", "/v1/cases", {"title": "x"}, "*/*", {}, 415, id="hdr-ct-any"),
    pytest.param("POST", "/v1/cases", {"title": "x"}, "application/*", {}, 415, id="hdr-ct-application-any"),
    pytest.param("POST", "/v1/cases", {"title": "x"}, "*/json", {}, 415, id="hdr-ct-any-json"),
    pytest.param("PATCH", CASE, {"title": "x"}, "application/json+x", {}, 415, id="hdr-ct-json-plus"),
    pytest.param("POST", "/v1/cases", {"title": "x"}, "application/jsonx", {}, 415, id="hdr-ct-jsonx"),
    pytest.param("POST", "/v1/cases", {"title": "x"}, "application/json; charset=latin-1", {}, 415, id="hdr-ct-latin1"),
    pytest.param("POST", "/v1/cases", {"title": "x"}, "application/json; q=1", {}, 415, id="hdr-ct-param"),
    pytest.param("POST", "/v1/cases", {"title": "x"}, 'application/json; charset="', {}, 415, id="hdr-ct-broken"),
    # fault 6: odd paths under /v1/ and the document's own errors
    pytest.param("GET", "//v1/cases", None, J, {}, 404, id="path-double-slash"),
    pytest.param("GET", "///v1/cases/" + ULID, None, J, {}, 404, id="path-triple-slash"),
    pytest.param("GET", "/v1", None, J, {}, 404, id="path-v1-no-slash"),
    pytest.param("POST", "/v1/openapi.yaml", {}, J, {}, 405, id="path-post-openapi-yaml"),
    pytest.param("DELETE", "/v1/openapi.json", None, J, {}, 405, id="path-delete-openapi-json"),
    pytest.param("GET", "/v1/openapi.yaml", None, J, {"Accept": "text/html"}, 406, id="path-openapi-yaml-html"),
    # fault 7: ?format= never turns a path that exists into a 404
    pytest.param("GET", "/v1/cases/c_" + ULID + "?format=xml", None, J, {}, 404, id="qs-format-unknown-case"),
    pytest.param("GET", "/v1/cases?format=xml&limit=0", None, J, {}, 400, id="qs-format-bad-limit"),
    pytest.param("POST", "/v1/cases?format=api", {"title": ""}, J, {}, 400, id="qs-format-blank-title"),
    # issue 21: an unknown query parameter is a 400 naming it, never silently ignored
    pytest.param("GET", "/v1/cases?state=open", None, J, {}, 400, id="qs-unknown-filter"),
    pytest.param("GET", CASE + "/events?offset=10", None, J, {}, 400, id="qs-unknown-events"),
    pytest.param("POST", "/v1/cases?title=x", {"title": "x"}, J, {}, 400, id="qs-unknown-on-create"),
    pytest.param("PATCH", CASE + "?status=closed", {"title": "x"}, J, {}, 400, id="qs-filter-on-patch"),
    pytest.param("GET", "/v1/cases?%00=1", None, J, {}, 400, id="qs-nul-name"),
    pytest.param("GET", "/v1/cases?" + "x" * 5_000 + "=1", None, J, {}, 400, id="qs-long-name"),
    # fault 8: messages in the API's language
    pytest.param("POST", "/v1/cases", b'\xef\xbb\xbf{"title": "x"}', J, {}, 400, id="body-utf8-bom"),
    pytest.param("POST", "/v1/cases", b'{"title": ' + DIGITS.encode() + b"}", J, {}, 400, id="body-5000-digits"),
    pytest.param(
        "POST",
        "/v1/cases",
        b'{"title": "t", "status": -' + DIGITS.encode() + b"}",
        J,
        {},
        400,
        id="body-5000-digits-negative",
    ),
    pytest.param("PATCH", CASE, b'{"description": 1e999}', J, {}, 400, id="body-float-overflow"),
    pytest.param("POST", "/v1/cases", b"{'title': 'x'}", J, {}, 400, id="body-single-quotes"),
    pytest.param("POST", "/v1/cases", b'{"title": NaN}', J, {}, 400, id="body-nan"),
    pytest.param("POST", "/v1/cases", {"description": "no title"}, J, {}, 400, id="body-missing-title"),
    # fault 10: a title of nothing but Unicode spaces is blank
    pytest.param("POST", "/v1/cases", {"title": "\u00a0\u00a0"}, J, {}, 400, id="body-title-nbsp"),
    pytest.param("POST", "/v1/cases", {"title": "\u3000"}, J, {}, 400, id="body-title-ideographic-space"),
    pytest.param("POST", "/v1/cases", {"title": "\u2003\u2000\u200a"}, J, {}, 400, id="body-title-em-spaces"),
    pytest.param("PATCH", CASE, {"title": "\u1680\u205f\u202f"}, J, {}, 400, id="body-title-ogham-space"),
    pytest.param("PATCH", CASE, {"title": "\ufeff\u200b"}, J, {}, 400, id="body-title-zero-width"),
    pytest.param(
        "POST", "/v1/cases", {"title": "\u00a0" + "x" * 201 + "\u3000"}, J, {}, 400, id="body-title-long-after-trim"
    ),
    # fault 11: a Host this service does not serve
    pytest.param("GET", "/v1/cases", None, J, {"Host": "evil.example"}, 400, id="hdr-host-spoofed"),
    pytest.param("POST", "/v1/cases", {"title": "x"}, J, {"Host": "localhost@evil.example"}, 400, id="hdr-host-at"),
    pytest.param("PATCH", CASE, {"title": "x"}, J, {"Host": "[::1"}, 400, id="hdr-host-malformed"),
    # issue 27, fault 1: numbers of any length never reach int()
    pytest.param("GET", "/v1/cases?limit=" + DIGITS, None, J, {}, 400, id="qs-limit-5000-digits"),
    pytest.param("GET", CASE + "/events?limit=" + DIGITS, None, J, {}, 400, id="qs-events-limit-5000-digits"),
    pytest.param("GET", "/v1/cases?limit=²", None, J, {}, 400, id="qs-limit-superscript-digit"),
    pytest.param("GET", "/v1/cases?limit=" + "0" * 5_000 + "5", None, J, {}, 400, id="qs-limit-5000-zeros"),
    # issue 27, fault 2: NUL in any parameter or path part is refused before a query
    pytest.param("GET", CASE + "/events?cursor=%00", None, J, {}, 400, id="qs-events-cursor-nul"),
    pytest.param("GET", "/v1/cases/c_%00/events", None, J, {}, 404, id="path-nul-events"),
    pytest.param("GET", "/v1/cases?status=open%00", None, J, {}, 400, id="qs-status-open-nul"),
    pytest.param("POST", "/v1/cases", {"title": "t", "attachments": ["f_\u0000"]}, J, {}, 400, id="body-nul-file-id"),
    # issue 25: the event feed's parameters, each a 400 naming it
    pytest.param("GET", "/v1/events?after=ev_" + ULID, None, J, {}, 400, id="feed-after-no-such-event"),
    pytest.param("GET", "/v1/events?after=c_" + ULID, None, J, {}, 400, id="feed-after-a-case-id"),
    pytest.param("GET", "/v1/events?after=ev_%00", None, J, {}, 400, id="feed-after-nul"),
    pytest.param("GET", "/v1/events?after=" + "e" * 5_000, None, J, {}, 400, id="feed-after-5000-chars"),
    pytest.param("GET", "/v1/events?after=ev_" + ULID + "&after=ev_" + ULID, None, J, {}, 400, id="feed-after-twice"),
    pytest.param("GET", "/v1/events?types=case.deleted", None, J, {}, 400, id="feed-types-unknown"),
    pytest.param("GET", "/v1/events?types=case.created,webhook.test", None, J, {}, 400, id="feed-types-test"),
    pytest.param("GET", "/v1/events?types=case.created,%00", None, J, {}, 400, id="feed-types-nul"),
    pytest.param("GET", "/v1/events?limit=0", None, J, {}, 400, id="feed-limit-0"),
    pytest.param("GET", "/v1/events?limit=101", None, J, {}, 400, id="feed-limit-101"),
    pytest.param("GET", "/v1/events?limit=-1", None, J, {}, 400, id="feed-limit-negative"),
    pytest.param("GET", "/v1/events?limit=ten", None, J, {}, 400, id="feed-limit-word"),
    pytest.param("GET", "/v1/events?limit=" + DIGITS, None, J, {}, 400, id="feed-limit-5000-digits"),
    pytest.param("GET", "/v1/events?cursor=abc", None, J, {}, 400, id="feed-cursor-forged"),
    pytest.param("GET", "/v1/events?cursor=" + CASES_CURSOR, None, J, {}, 400, id="feed-cursor-of-cases"),
    pytest.param("GET", "/v1/events?since=1", None, J, {}, 400, id="feed-unknown-parameter"),
    pytest.param("POST", "/v1/events", {}, J, {}, 405, id="feed-post"),
    # issue 23: the workbench (docs/api.md#working-a-case, docs/api.md#notes)
    pytest.param("PATCH", CASE, {"assignee": f"mem_{ULID}"}, J, {}, 400, id="body-assignee-unknown"),
    pytest.param("PATCH", CASE, {"assignee": "mem_\u0000"}, J, {}, 400, id="body-assignee-nul"),
    pytest.param("POST", "/v1/cases", {"title": "t", "assignee": 1}, J, {}, 400, id="body-assignee-number"),
    pytest.param("PATCH", CASE, {"priority": "critical"}, J, {}, 400, id="body-priority-unknown"),
    pytest.param("PATCH", CASE, {"labels": ["Spam", "SPAM"]}, J, {}, 400, id="body-labels-repeated"),
    pytest.param("PATCH", CASE, {"labels": ["x" * 41]}, J, {}, 400, id="body-label-41-characters"),
    pytest.param("PATCH", CASE, {"labels": [str(n) for n in range(11)]}, J, {}, 400, id="body-labels-eleven"),
    pytest.param("POST", "/v1/cases", {"title": "t", "labels": ["a\nb"]}, J, {}, 400, id="body-label-newline"),
    pytest.param("GET", "/v1/cases?priority=critical", None, J, {}, 400, id="qs-priority-unknown"),
    pytest.param("GET", "/v1/cases?assignee=me", None, J, {}, 400, id="qs-assignee-not-an-id"),
    pytest.param("GET", "/v1/cases?label=", None, J, {}, 400, id="qs-label-empty"),
    pytest.param("GET", "/v1/cases?label=a%00", None, J, {}, 400, id="qs-label-nul"),
    pytest.param("POST", CASE + "/notes", {"body": ""}, J, {}, 400, id="body-note-empty"),
    pytest.param("POST", CASE + "/notes", {"body": "x" * 5_001}, J, {}, 400, id="body-note-over-5000"),
    pytest.param("POST", CASE + "/notes", {"body": "a\u0000b"}, J, {}, 400, id="body-note-nul"),
    pytest.param("POST", CASE + "/notes", {"body": "a\u007fb"}, J, {}, 400, id="body-note-del"),
    pytest.param("POST", CASE + "/notes", {"body": "x", "author": "me"}, J, {}, 400, id="body-note-read-only-key"),
    pytest.param("POST", CASE + "/notes", {"body": "x", "pinned": True}, J, {}, 400, id="body-note-unknown-key"),
    pytest.param("POST", CASE + "/notes", b"null", J, {}, 400, id="body-note-null"),
    pytest.param("POST", CASE + "/notes", {"body": "x"}, "text/plain", {}, 415, id="hdr-note-text-plain"),
    pytest.param("POST", "/v1/cases/c_%00/notes", {"body": "x"}, J, {}, 404, id="path-note-nul-case"),
    pytest.param("GET", CASE + "/notes?offset=1", None, J, {}, 400, id="qs-notes-unknown"),
    pytest.param("GET", CASE + "/notes?cursor=" + CASES_CURSOR, None, J, {}, 400, id="qs-notes-cursor-of-the-list"),
    pytest.param("DELETE", CASE + "/notes", None, J, {}, 405, id="path-delete-notes"),
]

# What the runtime says, never the API (fault 8).
INTERNALS = ("sys.", "utf-8-sig", "Traceback", "Expecting", "Exception", "Error(", "line 1 column", "int(")


def _database(case: Case) -> tuple[Any, ...]:
    return (
        list(Case.objects.order_by("pk").values()),
        list(CaseEvent.objects.order_by("pk").values()),
        list(Event.objects.order_by("pk").values()),
        list(IdempotentRequest.objects.order_by("pk").values()),
        list(Note.objects.order_by("pk").values()),
        list(ScopedToken.objects.order_by("pk").values_list("pk", "revoked_at", "expires_at", "scopes")),
    )


@pytest.mark.parametrize(("method", "path", "body", "content_type", "headers", "status"), CATALOGUE)
def test_bad_input_gets_a_4xx_envelope_and_changes_nothing(
    call, used_token, case, method, path, body, content_type, headers, status
) -> None:
    path = path.replace(CASE, f"/v1/cases/{case.id}")
    path = path.replace(CASES_CURSOR, encode_cursor(case.created_at, case.id, salt="cases"))
    event = CaseEvent.objects.get(case=case)
    path = path.replace(EVENTS_CURSOR, encode_cursor(event.created_at, event.id, salt="events"))
    auth = headers.pop("Authorization", ...)
    before = _database(case)
    kwargs: dict[str, Any] = {"auth": auth, "headers": headers, "content_type": content_type}
    if isinstance(body, bytes):
        kwargs["body"] = body
    elif body is not None:
        kwargs["json_body"] = body
    if path.startswith("//"):
        # The test client would read "//v1/…" as a network location; a server gets the path as sent.
        kwargs["PATH_INFO"] = path
    r = call(method, path, **kwargs)
    assert r.status_code == status, r.content[:500]
    assert r["Content-Type"] == "application/json", r["Content-Type"]
    assert r["X-Request-Id"]
    error = r.json()["error"]
    assert error["code"] and error["message"]
    assert not [word for word in INTERNALS if word in error["message"]], error
    # One voice: lowercase first word (names and acronyms aside), no final period.
    message = error["message"].removeprefix(f"{error.get('param')}: ")
    assert not message.endswith("."), error
    assert not (message[0].isupper() and message[1].islower()), error
    assert _database(case) == before


# Case exports (docs/api.md, "Evidence with a chain of custody"), asked with a token holding both
# of their scopes unless the row says otherwise: (path, token scopes, expected status).
OTHER_CASE = "{other_project_case}"
TEST_CASE = "{test_mode_case}"
EXPORT = ["cases:read", "media:read"]
EXPORTS: list[Any] = [
    pytest.param(CASE + "/export", ["cases:read", "cases:write"], 403, id="export-without-media-read"),
    pytest.param(CASE + "/export", ["media:read", "media:write"], 403, id="export-without-cases-read"),
    pytest.param("/v1/cases/c_%00/export", ["cases:read"], 403, id="export-scope-before-lookup"),
    pytest.param(OTHER_CASE + "/export", EXPORT, 404, id="export-other-project"),
    pytest.param(TEST_CASE + "/export", EXPORT, 404, id="export-other-mode"),
    pytest.param(f"/v1/cases/c_{ULID}/export", EXPORT, 404, id="export-no-such-case"),
    pytest.param("/v1/cases/c_%00/export", EXPORT, 404, id="export-nul-id"),
    pytest.param("/v1/cases/" + "c" * 10_000 + "/export", EXPORT, 404, id="export-10000-char-id"),
    pytest.param("/v1/cases/%ff%fe/export", EXPORT, 404, id="export-bad-utf8-id"),
    pytest.param("/v1/cases/c_../export", EXPORT, 404, id="export-dot-dot-id"),
]


@pytest.mark.parametrize(("path", "scopes", "status"), EXPORTS)
def test_bad_export_requests_get_a_4xx_envelope_and_change_nothing(call, case, path, scopes, status) -> None:
    from tests.factories import CaseFactory, TokenFactory
    from tokens.models import Mode

    token = TokenFactory(project=case.project, scopes=scopes)
    path = path.replace(CASE, f"/v1/cases/{case.id}")
    path = path.replace(OTHER_CASE, f"/v1/cases/{CaseFactory().id}")
    path = path.replace(TEST_CASE, f"/v1/cases/{CaseFactory(project=case.project, mode=Mode.TEST).id}")
    before = _database(case)
    r = call("GET", path, auth=f"Bearer {token.plaintext}")
    assert r.status_code == status, r.content[:500]
    assert r["Content-Type"] == "application/json", r["Content-Type"]
    error = r.json()["error"]
    assert error["code"] == {403: "forbidden", 404: "not_found"}[status], error
    if status == 404:
        assert error["message"] == "case not found", error
    else:
        assert r["X-Accepted-Scopes"] in {"cases:read", "media:read"}
    assert _database(case) == before


# Bodies framed the hard ways (issue 10, fault 5), through the WSGI application as a server
# hands them over: (method, path, environ additions, body, expected status).
CHUNKED = {"HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_TYPE": J}
FRAMING: list[Any] = [
    pytest.param("POST", "/v1/cases", {**CHUNKED}, b'{"title": "x"}', 411, id="chunked-undelimited"),
    pytest.param(
        "POST",
        "/v1/cases",
        {**CHUNKED, "wsgi.input_terminated": True},
        b'{"title": "x", "description": "' + b"d" * (15 * 1024 * 1024) + b'"}',
        411,
        id="chunked-over-14-mib",
    ),
    pytest.param("PATCH", CASE, {**CHUNKED}, b'{"title": "x"}', 411, id="chunked-patch-undelimited"),
    pytest.param(
        "POST",
        "/v1/cases",
        {"CONTENT_TYPE": J, "CONTENT_LENGTH": "64"},
        b'{"title": "x"}',
        400,
        id="body-shorter-than-length",
    ),
    pytest.param(
        "PATCH",
        CASE,
        {"CONTENT_TYPE": J, "CONTENT_LENGTH": "21"},
        b'{"title": "renamed"}',
        400,
        id="patch-one-byte-short",
    ),
    pytest.param("POST", "/v1/cases", {"CONTENT_TYPE": J, "CONTENT_LENGTH": "10"}, b"", 400, id="no-body-at-all"),
    # issue 27, fault 1: a Content-Length that is not a whole number is a 400, not a conversion error
    pytest.param(
        "POST",
        "/v1/cases",
        {"CONTENT_TYPE": J, "CONTENT_LENGTH": DIGITS},
        b'{"title": "x"}',
        400,
        id="length-5000-digits",
    ),
    pytest.param("PATCH", CASE, {"CONTENT_TYPE": J, "CONTENT_LENGTH": "²"}, b'{"title": "x"}', 400, id="length-super"),
    pytest.param("POST", "/v1/cases", {"CONTENT_TYPE": J, "CONTENT_LENGTH": "1e3"}, b"{}", 400, id="length-exponent"),
    pytest.param("POST", "/v1/cases", {"CONTENT_TYPE": J, "CONTENT_LENGTH": "-14"}, b"{}", 400, id="length-negative"),
    pytest.param("POST", "/v1/cases", {"CONTENT_TYPE": J, "CONTENT_LENGTH": "١٤"}, b"{}", 400, id="length-arabic"),
]


@pytest.mark.parametrize(("method", "path", "environ", "body", "status"), FRAMING)
def test_badly_framed_body_gets_a_4xx_envelope_and_changes_nothing(
    used_token, case, method, path, environ, body, status
) -> None:
    path = path.replace(CASE, f"/v1/cases/{case.id}")
    before = _database(case)
    got, headers, content = wsgi(method, path, body, token=used_token, headers=environ)
    assert got == status, content[:500]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Request-Id"]
    error = json.loads(content)["error"]
    assert error["code"] and error["message"]
    assert _database(case) == before


def test_the_catalogue_has_at_least_40_inputs() -> None:
    assert len(CATALOGUE) >= 40


# Members and tokens (docs/api.md#members, docs/api.md#tokens-api), asked with a token holding
# every scope they use and expiring in a day: (method, path, body, expected status, param).
MANAGE = ["members:read", "members:write", "tokens:write", "cases:read"]
MEMBERS_AND_TOKENS: list[Any] = [
    pytest.param("POST", "/v1/members", {"email": "x@example.com", "role": "superuser"}, 400, "role", id="m-role"),
    pytest.param("POST", "/v1/members", {"email": "x@example.com", "role": ["viewer"]}, 400, "role", id="m-role-list"),
    pytest.param("POST", "/v1/members", {"email": "x@example.com", "role": "owner"}, 403, None, id="m-owner"),
    # An email is a new member's username too (150 characters); longer was a 500 (schemathesis).
    pytest.param(
        "POST",
        "/v1/members",
        {"email": f"0@{'a' * 60}.{'b' * 60}.{'c' * 24}.io", "role": "viewer"},
        400,
        "email",
        id="m-email-151",
    ),
    pytest.param("POST", "/v1/members", {"email": "x\u0000@example.com", "role": "viewer"}, 400, "email", id="m-nul"),
    pytest.param(
        "POST", "/v1/members", {"email": "x@example.com", "role": "viewer", "id": "mem_1"}, 400, "id", id="m-id"
    ),
    pytest.param("POST", "/v1/members", [], 400, None, id="m-body-list"),
    pytest.param("PATCH", "/v1/members/mem_%00", {"role": "viewer"}, 404, None, id="m-nul-id"),
    pytest.param("PATCH", "/v1/members/" + "m" * 10_000, {"role": "viewer"}, 404, None, id="m-huge-id"),
    pytest.param("PUT", "/v1/members/mem_" + ULID, {"role": "viewer"}, 405, None, id="m-put"),
    pytest.param(
        "POST",
        "/v1/tokens",
        {"name": "x", "scopes": "cases:read", "expires_in": "1d"},
        400,
        "scopes",
        id="t-scopes-string",
    ),
    pytest.param(
        "POST",
        "/v1/tokens",
        {"name": "x", "scopes": ["cases:write"], "expires_in": "1d"},
        403,
        None,
        id="t-scope-not-held",
    ),
    pytest.param(
        "POST",
        "/v1/tokens",
        {"name": "x", "scopes": ["cases:read"], "expires_in": "2d"},
        400,
        "expires_in",
        id="t-outlives",
    ),
    pytest.param(
        "POST",
        "/v1/tokens",
        {"name": "x", "scopes": ["cases:read"], "expires_in": "-1d"},
        400,
        "expires_in",
        id="t-negative-expiry",
    ),
    pytest.param(
        "POST",
        "/v1/tokens",
        {"name": "x", "scopes": ["cases:read"], "expires_in": "000m"},
        400,
        "expires_in",
        id="t-zero-expiry",  # found by schemathesis: a token expiring as it is made was a 500
    ),
    pytest.param(
        "POST",
        "/v1/tokens",
        {"name": "x", "scopes": ["cases:read"], "expires_in": 86400},
        400,
        "expires_in",
        id="t-expiry-number",
    ),
    pytest.param(
        "POST",
        "/v1/tokens",
        {"name": "x" * 201, "scopes": ["cases:read"], "expires_in": "1d"},
        400,
        "name",
        id="t-long-name",
    ),
    pytest.param("DELETE", "/v1/tokens/tok_" + ULID, None, 404, None, id="t-unknown-id"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "param"), MEMBERS_AND_TOKENS)
def test_bad_member_and_token_requests_get_a_4xx_envelope_and_change_nothing(
    call, case, method, path, body, status, param
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import TokenFactory
    from tokens.models import Member

    manager = TokenFactory(project=case.project, scopes=MANAGE, expires_at=timezone.now() + timedelta(days=1))
    before = (_database(case), list(Member.objects.values_list("pk", "role")))
    r = call(method, path, json_body=body, auth=f"Bearer {manager.plaintext}")
    assert r.status_code == status, r.content[:500]
    assert r["Content-Type"] == "application/json", r["Content-Type"]
    error = r.json()["error"]
    assert error.get("param") == param, error
    assert not [word for word in INTERNALS if word in error["message"]], error
    assert (_database(case), list(Member.objects.values_list("pk", "role"))) == before
