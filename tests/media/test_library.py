"""GET /v1/media, GET and DELETE /v1/media/{id} (docs/api.md#files-and-evidence): paged like
cases, isolated like cases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from media.models import File
from tests.factories import CaseFactory, FileFactory, ProjectFactory, TokenFactory
from tests.media.conftest import MEDIA_SCOPES
from tokens.models import Mode

pytestmark = pytest.mark.django_db


def _aged(files: list[File]) -> list[File]:
    """Distinct creation times, oldest first, so the order under test is unambiguous."""
    now = timezone.now()
    for n, file in enumerate(files):
        File.objects.filter(pk=file.pk).update(created_at=now - timedelta(minutes=len(files) - n))
    return files


def test_list_is_newest_first_and_paged_with_a_cursor(call, project) -> None:
    files = _aged([FileFactory(project=project) for _ in range(5)])

    first = call("GET", "/v1/media?limit=3").json()
    second = call("GET", f"/v1/media?limit=3&cursor={first['next_cursor']}").json()

    assert [f["id"] for f in first["files"] + second["files"]] == [f.id for f in reversed(files)]
    assert first["has_more"] is True and second["has_more"] is False and second["next_cursor"] is None
    assert set(first) == {"files", "next_cursor", "has_more"}


def test_list_filters_by_folder_and_tag(call, project) -> None:
    reports = FileFactory(project=project, folder="reports", tags=["aimbot", "clip"])
    FileFactory(project=project, folder="reports", tags=["chat"])
    FileFactory(project=project, folder="", tags=["aimbot"])

    def ids(query: str) -> set[str]:
        r = call("GET", f"/v1/media?{query}")
        assert r.status_code == 200, r.content
        return {f["id"] for f in r.json()["files"]}

    assert len(ids("folder=reports")) == 2
    assert ids("folder=reports&tag=aimbot") == {reports.id}
    assert ids("tag=aimbot&tag=clip") == {reports.id}
    assert len(ids("tag=aimbot")) == 2
    assert len(ids("folder=")) == 1
    assert ids("tag=nothing") == set()
    # A tag is matched whole, never as a substring or a JSON fragment.
    assert ids("tag=aim") == set()
    assert ids("tag=%22aimbot%22") == set()


@pytest.mark.parametrize(
    ("query", "param"),
    [
        pytest.param("limit=0", "limit", id="limit-zero"),
        pytest.param("limit=101", "limit", id="limit-over"),
        pytest.param("cursor=garbage", "cursor", id="cursor"),
        pytest.param("folder=" + "f" * 201, "folder", id="folder-too-long"),
        pytest.param("tag=", "tag", id="tag-empty"),
        pytest.param("tag=%00", "tag", id="tag-nul"),
    ],
)
def test_list_refuses_bad_parameters_naming_them(call, query, param) -> None:
    r = call("GET", f"/v1/media?{query}")

    assert r.status_code == 400, r.content
    assert r.json()["error"]["param"] == param


def test_get_one_returns_the_file_with_a_fresh_url(call, project) -> None:
    file = FileFactory(project=project)

    r = call("GET", f"/v1/media/{file.id}")

    assert r.status_code == 200, r.content
    assert (r.json()["id"], r.json()["sha256"]) == (file.id, file.sha256)
    assert r.json()["url"].startswith(f"http://testserver/media/{file.key}")


def test_delete_removes_the_row_and_then_the_bytes(call, project, django_capture_on_commit_callbacks) -> None:
    file = FileFactory(project=project)
    assert default_storage.exists(file.key)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        r = call("DELETE", f"/v1/media/{file.id}")

    assert r.status_code == 204, r.content
    assert r.content == b""
    assert not File.objects.filter(pk=file.pk).exists()
    assert len(callbacks) == 1
    assert not default_storage.exists(file.key)


def test_delete_of_a_file_a_case_lists_is_409_naming_the_case(call, project) -> None:
    file = FileFactory(project=project)
    case = CaseFactory(project=project, attachments=[file.id])

    r = call("DELETE", f"/v1/media/{file.id}")

    assert r.status_code == 409, r.content
    assert r.json()["error"]["code"] == "conflict"
    assert case.id in r.json()["error"]["message"]
    assert File.objects.filter(pk=file.pk).exists()
    assert default_storage.exists(file.key)


def test_a_file_detached_from_its_case_can_be_deleted(call, project) -> None:
    file = FileFactory(project=project)
    case = CaseFactory(project=project, attachments=[file.id])
    assert call("PATCH", f"/v1/cases/{case.id}", json_body={"attachments": []}).status_code == 200

    assert call("DELETE", f"/v1/media/{file.id}").status_code == 204


# Tenancy and mode (docs/api.md#projects-and-modes): another project's or mode's file is exactly as
# unknown as one that never existed.

UNKNOWN = "f_01JD3Z8W6V4M2Q9T7K5X1B0N3R"


def _outsiders(project):
    return {
        "other-project": FileFactory(project=ProjectFactory()),
        "other-mode": FileFactory(project=project, mode=Mode.TEST),
    }


@pytest.mark.parametrize("who", ["other-project", "other-mode", "unknown", "malformed", "nul"])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_file_outside_the_token_is_404_like_an_unknown_one(call, project, who, method) -> None:
    outsiders = _outsiders(project)
    file_id = {"unknown": UNKNOWN, "malformed": "f_nope", "nul": "f_%00"}.get(who) or outsiders[who].id

    r = call(method, f"/v1/media/{file_id}")

    assert r.status_code == 404, r.content
    assert r.json() == {"error": {"code": "not_found", "message": "file not found"}}
    assert File.objects.count() == 2


def test_list_shows_only_the_tokens_project_and_mode(call, project) -> None:
    mine = FileFactory(project=project)
    _outsiders(project)

    assert [f["id"] for f in call("GET", "/v1/media").json()["files"]] == [mine.id]


def test_a_test_token_sees_only_test_files(client, project) -> None:
    FileFactory(project=project)
    test_file = FileFactory(project=project, mode=Mode.TEST)
    token = TokenFactory(project=project, mode=Mode.TEST, scopes=MEDIA_SCOPES)

    r = client.get("/v1/media", headers={"Authorization": f"Bearer {token.plaintext}"})

    assert [f["id"] for f in r.json()["files"]] == [test_file.id]


# Scopes (docs/api.md#tokens-and-scopes)


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/v1/media", "media:read"),
        ("GET", f"/v1/media/{UNKNOWN}", "media:read"),
        ("POST", "/v1/media", "media:write"),
        ("POST", "/v1/media/base64", "media:write"),
        ("DELETE", f"/v1/media/{UNKNOWN}", "media:write"),
    ],
)
def test_each_operation_needs_its_scope(client, project, method, path, scope) -> None:
    others = [s for s in MEDIA_SCOPES if s != scope]
    token = TokenFactory(project=project, scopes=others)

    r = client.generic(method, path, headers={"Authorization": f"Bearer {token.plaintext}"})

    assert r.status_code == 403, r.content
    assert r["X-Accepted-Scopes"] == scope


def test_without_a_token_every_operation_is_401(client) -> None:
    for method, path in [("GET", "/v1/media"), ("POST", "/v1/media"), ("DELETE", f"/v1/media/{UNKNOWN}")]:
        r = client.generic(method, path)
        assert r.status_code == 401, r.content
        assert r["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/media", "GET, POST, HEAD"),
        ("PATCH", f"/v1/media/{UNKNOWN}", "GET, DELETE, HEAD"),
        ("GET", "/v1/media/base64", "POST"),
    ],
)
def test_other_methods_are_405_with_allow(call, method, path, allowed) -> None:
    r = call(method, path)

    assert r.status_code == 405, r.content
    assert {m.strip() for m in r["Allow"].split(",")} >= {m.strip() for m in allowed.split(",")}


# Query counts: never one query per file.


@pytest.mark.parametrize("page_size", [1, 20, 100])
def test_list_is_two_queries_whatever_the_page_size(call, project, used_token, page_size, django_assert_num_queries):
    for _ in range(page_size + 1):
        FileFactory(project=project)
    with django_assert_num_queries(2):  # token, the page of files
        r = call("GET", f"/v1/media?limit={page_size}")
    assert len(r.json()["files"]) == page_size


def test_get_one_is_two_queries(call, project, used_token, django_assert_num_queries) -> None:
    file = FileFactory(project=project)
    with django_assert_num_queries(2):  # token, the file
        assert call("GET", f"/v1/media/{file.id}").status_code == 200


def test_upload_is_the_file_and_its_event_after_the_token(client, token, used_token, django_assert_num_queries) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.media.samples import PNG

    part = SimpleUploadedFile("shot.png", PNG, content_type="image/png")
    # The token, then the file's INSERT and its file.created event in one short transaction
    # (here a savepoint and its release, inside the test's transaction), and the project's
    # webhook endpoints (none, so no delivery row): with the event's INSERT on PostgreSQL.
    from django.db import connection

    with django_assert_num_queries(5 if connection.vendor == "postgresql" else 6):
        r = client.post("/v1/media", {"file": part}, headers={"Authorization": f"Bearer {token.plaintext}"})
    assert r.status_code == 201, r.content
