"""The faults a newcomer hit from a fresh clone (issue 21), each pinned: unknown query parameters,
a blocked file's link, a JSON body in another charset, message slips, a Host this service does
not serve, and the service's root."""

from __future__ import annotations

import base64

import pytest
from django.conf import settings
from django.core import checks
from django.test import Client, override_settings

from cases.models import Case, IdempotentRequest
from media.models import File
from media.storage import file_url
from tests.factories import CaseFactory, FileFactory, TokenFactory
from tokens import ratelimit
from tokens.models import Project, ScopedToken

pytestmark = pytest.mark.django_db

FILES_BASE = "https://files.example-files.net/media/"
ALL_SCOPES = ["cases:read", "cases:write", "media:read", "media:write"]


def serverops(**changes: object) -> dict[str, object]:
    return {**settings.SERVEROPS, **changes}


@pytest.fixture
def token(project: Project) -> ScopedToken:
    return TokenFactory(project=project, scopes=ALL_SCOPES)


# Unknown query parameters: a misspelt filter must not list everything.


@pytest.mark.parametrize(
    ("path", "name", "takes"),
    [
        pytest.param(
            "/v1/cases?state=open",
            "state",
            "status, priority, assignee, label, identifier, player, limit, cursor",
            id="cases-state",
        ),
        pytest.param(
            "/v1/cases?status=open&Limit=5",
            "Limit",
            "status, priority, assignee, label, identifier, player, limit, cursor",
            id="cases-case-differs",
        ),
        pytest.param("/v1/media?tags=aimbot", "tags", "folder, tag, limit, cursor", id="media-tags"),
        pytest.param("/v1/cases/{case}/events?page=2", "page", "limit, cursor", id="events-page"),
        pytest.param("/v1/cases/{case}?expand=attachments", "expand", "none", id="case-expand"),
        pytest.param("/v1/media/{file}?download=1", "download", "none", id="file-download"),
    ],
)
def test_an_unknown_query_parameter_is_a_400_naming_it(call, project, path, name, takes) -> None:
    case, file = CaseFactory(project=project), FileFactory(project=project)
    r = call("GET", path.format(case=case.id, file=file.id))
    assert r.status_code == 400, r.content
    error = r.json()["error"]
    assert error["param"] == name, error
    assert error["message"] == f"{name}: unknown query parameter; this endpoint takes {takes}", error


def test_an_unknown_query_parameter_on_a_write_changes_nothing(call, project) -> None:
    case, file = CaseFactory(project=project), FileFactory(project=project)
    before = list(Case.objects.values()), list(File.objects.values())

    created = call("POST", "/v1/cases?dry_run=1", json_body={"title": "x"}, headers={"Idempotency-Key": "k1"})
    patched = call("PATCH", f"/v1/cases/{case.id}?notify=0", json_body={"status": "closed"})
    deleted = call("DELETE", f"/v1/media/{file.id}?force=1")

    assert [r.status_code for r in (created, patched, deleted)] == [400, 400, 400], created.content
    assert [r.json()["error"]["param"] for r in (created, patched, deleted)] == ["dry_run", "notify", "force"]
    assert (list(Case.objects.values()), list(File.objects.values())) == before
    assert not IdempotentRequest.objects.exists()


def test_known_query_parameters_filter_and_format_is_accepted(call, project) -> None:
    open_case = CaseFactory(project=project)
    CaseFactory(project=project, status="closed")
    tagged = FileFactory(project=project, tags=["aimbot"])
    FileFactory(project=project)

    cases = call("GET", "/v1/cases?status=open&limit=5&format=json")
    files = call("GET", "/v1/media?tag=aimbot&format=json")

    assert cases.status_code == 200, cases.content
    assert [c["id"] for c in cases.json()["cases"]] == [open_case.id]
    assert files.status_code == 200, files.content
    assert [f["id"] for f in files.json()["files"]] == [tagged.id]


def test_without_a_token_an_unknown_query_parameter_is_still_a_401(call) -> None:
    assert call("GET", "/v1/cases?state=open", auth=None).status_code == 401


# A blocked file's url: no dead link.


def test_a_blocked_files_url_is_null_while_it_is_blocked(call, project) -> None:
    file = FileFactory(project=project, visibility="public")
    case = CaseFactory(project=project)
    assert call("PATCH", f"/v1/cases/{case.id}", json_body={"attachments": [file.id]}).status_code == 200

    File.objects.filter(pk=file.pk).update(abuse_status="blocked")
    blocked = [
        call("GET", f"/v1/media/{file.id}").json(),
        call("GET", "/v1/media").json()["files"][0],
        call("GET", f"/v1/cases/{case.id}").json()["attachments"][0],
        call("GET", "/v1/cases").json()["cases"][0]["attachments"][0],
    ]
    File.objects.filter(pk=file.pk).update(abuse_status="clean")
    unblocked = call("GET", f"/v1/media/{file.id}").json()

    assert [f["url"] for f in blocked] == [None] * 4
    assert all(f["abuse_status"] == "blocked" for f in blocked)
    assert unblocked["url"].startswith("http://testserver/media/"), unblocked


# A JSON body declared in another charset: say that the charset is the problem.


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        pytest.param(
            "application/json; charset=latin-1",
            "request body must be UTF-8: send application/json or application/json; charset=utf-8, not charset=latin-1",
            id="latin-1",
        ),
        pytest.param(
            "application/json; charset=utf-16",
            "request body must be UTF-8: send application/json or application/json; charset=utf-8, not charset=utf-16",
            id="utf-16",
        ),
        pytest.param(
            "application/json; q=1",
            "request body must be sent as application/json with no parameter but charset=utf-8 (got q)",
            id="other-parameter",
        ),
        pytest.param("text/plain", "request body must be sent as application/json", id="not-json"),
    ],
)
def test_a_json_body_in_another_charset_is_a_415_naming_the_charset(call, content_type, message) -> None:
    r = call("POST", "/v1/cases", json_body={"title": "x"}, content_type=content_type)
    assert r.status_code == 415, r.content
    assert r.json()["error"] == {"code": "unsupported_type", "message": message}
    assert not Case.objects.exists()


def test_utf8_spelt_another_way_is_accepted(call) -> None:
    r = call("POST", "/v1/cases", json_body={"title": "x"}, content_type="application/json; charset=UTF8")
    assert r.status_code == 201, r.content


# Message slips.


def test_the_idempotency_conflict_names_the_header_as_it_is_spelt(call) -> None:
    assert call("POST", "/v1/cases", json_body={"title": "a"}, headers={"Idempotency-Key": "k"}).status_code == 201
    r = call("POST", "/v1/cases", json_body={"title": "b"}, headers={"Idempotency-Key": "k"})
    assert r.status_code == 409, r.content
    assert r.json()["error"]["message"] == "Idempotency-Key was already used with a different request body"


@override_settings(SERVEROPS=serverops(RATE_LIMIT_PER_SECOND=1, RATE_LIMIT_PER_MINUTE=1000))
def test_a_one_second_retry_is_one_second(call, monkeypatch) -> None:
    monkeypatch.setattr(ratelimit, "time", type("Clock", (), {"time": staticmethod(lambda: 1_800_000_010.25)}))
    assert call("GET", "/v1/cases").status_code == 200
    r = call("GET", "/v1/cases")
    assert r.status_code == 429, r.content
    assert r["Retry-After"] == "1"
    assert r.json()["error"]["message"] == "rate limit exceeded; retry in 1 second"


@override_settings(SERVEROPS=serverops(RATE_LIMIT_PER_SECOND=100, RATE_LIMIT_PER_MINUTE=1))
def test_a_longer_retry_counts_seconds(call, monkeypatch) -> None:
    monkeypatch.setattr(ratelimit, "time", type("Clock", (), {"time": staticmethod(lambda: 1_800_000_010.25)}))
    assert call("GET", "/v1/cases").status_code == 200
    r = call("GET", "/v1/cases")
    assert r.status_code == 429, r.content
    assert r.json()["error"]["message"] == "rate limit exceeded; retry in 50 seconds"


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>'


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        pytest.param(SVG, "image/svg+xml", id="svg"),
        pytest.param(b'<?xml version="1.0"?>\n' + SVG, "image/svg+xml", id="svg-with-prolog"),
        pytest.param(
            b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x.dtd">\n' + SVG, "image/svg+xml", id="svg-doctype"
        ),
        pytest.param(b"<!doctype html><html><body>" + SVG + b"</body></html>", "text/html", id="html-with-svg"),
        pytest.param(b"<script>alert(1)</script>", "text/html", id="script"),
    ],
)
def test_a_refused_markup_upload_names_its_type(call, content, shown) -> None:
    r = call("POST", "/v1/media/base64", json_body={"filename": "logo.txt", "data": _b64(content)})
    assert r.status_code == 415, r.content
    assert r.json()["error"]["message"].startswith(f"file type {shown} is not allowed;"), r.json()
    assert not File.objects.exists()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# A Host this service does not serve.


@pytest.mark.parametrize("path", ["/media/p_x/f_y/shot.png", "/admin/", "/"])
def test_a_disallowed_host_outside_the_api_is_a_short_plain_400(client: Client, path) -> None:
    r = client.get(path, headers={"Host": "files.example-files.net"})
    assert r.status_code == 400, r.content
    assert r["Content-Type"] == "text/plain; charset=utf-8"
    assert r["X-Content-Type-Options"] == "nosniff"
    assert r.content.decode() == (
        "bad request: the Host header names a host this service does not serve "
        "(its operator lists them in ALLOWED_HOSTS)\n"
    )


def test_a_disallowed_host_under_the_api_is_the_envelope(call) -> None:
    r = call("GET", "/v1/cases", headers={"Host": "files.example-files.net"})
    assert r.status_code == 400, r.content
    assert r.json() == {
        "error": {"code": "bad_request", "message": "the Host header names a host this service does not serve"}
    }


def test_a_file_link_on_the_files_host_opens_once_that_host_is_allowed(client: Client, project) -> None:
    with override_settings(SERVEROPS=serverops(MEDIA_BASE_URL="https://files.example-files.net/media/")):
        file = FileFactory(project=project, visibility="public")
        url = file_url(file, request=None)
    path = url.removeprefix("https://files.example-files.net")
    refused = client.get(path, headers={"Host": "files.example-files.net"}, secure=True)
    with override_settings(ALLOWED_HOSTS=["testserver", "files.example-files.net"]):
        opened = client.get(path, headers={"Host": "files.example-files.net"}, secure=True)
    assert refused.status_code == 400
    assert opened.status_code == 200, opened.content


@pytest.mark.parametrize(
    ("base", "allowed", "warns"),
    [
        pytest.param("https://files.example-files.net/media/", ["cases.example.com"], True, id="not-listed"),
        pytest.param("https://files.example-files.net:8443/media/", ["cases.example.com"], True, id="with-port"),
        pytest.param(
            "https://files.example-files.net/media/",
            ["cases.example.com", "files.example-files.net"],
            False,
            id="listed",
        ),
        pytest.param("https://files.example-files.net/media/", [".example-files.net"], False, id="subdomain-pattern"),
        pytest.param("https://files.example-files.net/media/", ["*"], False, id="wildcard"),
        pytest.param("", ["cases.example.com"], False, id="unset"),
        pytest.param("/files/", ["cases.example.com"], False, id="path-only"),
    ],
)
def test_check_deploy_warns_when_the_files_host_is_not_allowed(base, allowed, warns) -> None:
    with override_settings(SERVEROPS=serverops(MEDIA_BASE_URL=base), ALLOWED_HOSTS=allowed):
        found = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
    media = [message for message in found if message.id == "media.W001"]
    assert [m.level for m in media] == ([checks.WARNING] if warns else []), media
    if warns:
        assert "files.example-files.net" in media[0].msg and "ALLOWED_HOSTS" in media[0].hint


# The service's root.


def test_the_root_is_a_small_json_pointing_to_the_docs_and_the_admin(client: Client) -> None:
    r = client.get("/")
    assert r.status_code == 200, r.content
    assert r["Content-Type"] == "application/json"
    body = r.json()
    assert body["docs"] == "/docs" and body["admin"] == "/admin/", body
    assert client.get(body["docs"]).status_code == 200
    assert client.get(body["openapi"]).status_code == 200
    assert client.get(body["admin"]).status_code == 302  # to the login page
    assert client.head("/").status_code == 200


def test_the_root_refuses_other_methods_in_the_envelope(client: Client) -> None:
    r = client.post("/", data=b"{}", content_type="application/json")
    assert r.status_code == 405, r.content
    assert r["Allow"] == "GET, HEAD"
    assert r.json()["error"]["code"] == "method_not_allowed"


# Demo data: nothing is dated after the change that made it.


def test_demo_history_is_in_order_attachments_included() -> None:
    from cases.demo import demo_seed
    from cases.models import Attachment, CaseEvent

    demo_seed()

    checked = 0
    for case in Case.objects.all():
        events = list(CaseEvent.objects.filter(case=case).order_by("created_at", "id"))
        times = [event.created_at for event in events]
        assert times == sorted(times) and times[0] == case.created_at, case
        assert all(case.created_at <= when <= case.updated_at for when in times), case
        for link in Attachment.objects.filter(case=case).select_related("file"):
            assert case.created_at <= link.attached_at <= case.updated_at, (case, link)
            assert link.file.created_at <= link.attached_at, (case, link)
            attached_by = [e.created_at for e in events if link.file_id in _attached_to(e)]
            assert link.attached_at == attached_by[0], (case, link)
            checked += 1
    assert checked > 20


def _attached_to(event: object) -> list[str]:
    return event.changes.get("attachments", {}).get("to") or []  # type: ignore[attr-defined]
