"""POST /v1/media and POST /v1/media/base64 (docs/api.md#files-and-evidence): what is stored is what the bytes say."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from media.models import File
from tests.media.conftest import stored_objects
from tests.media.samples import ALLOWED, PNG
from tests.media.test_hostile_uploads import BOUNDARY, HTML, hidden_part, multipart

pytestmark = pytest.mark.django_db


def upload(client: Client, token, *, name: str = "shot.png", content: bytes = PNG, content_type: str = "", **fields):
    part = SimpleUploadedFile(name, content, content_type=content_type or "application/octet-stream")
    return client.post("/v1/media", {"file": part, **fields}, headers={"Authorization": f"Bearer {token.plaintext}"})


# A body up to FILE_UPLOAD_MAX_MEMORY_SIZE keeps its file in memory, a larger one in a temporary file.
BOTH_WAYS = pytest.mark.parametrize("memory_limit", [2_621_440, 0], ids=["held-in-memory", "temporary-file"])


@BOTH_WAYS
@pytest.mark.parametrize("expected_type", sorted(ALLOWED))
def test_multipart_upload_stores_every_allowed_type(
    client, token, project, settings, memory_limit, expected_type
) -> None:
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = memory_limit
    name, content = ALLOWED[expected_type]

    r = upload(client, token, name=name, content=content)

    assert r.status_code == 201, r.content
    body = r.json()
    stored = File.objects.get(pk=body["id"])
    assert (stored.project_id, stored.mode) == (project.pk, token.mode)
    assert body["content_type"] == stored.content_type == expected_type
    assert body["size"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["key"] == f"{project.pk}/{body['id']}/{name}" == stored.blob.name
    assert r["Location"] == f"/v1/media/{body['id']}"
    with stored.blob.open("rb") as saved:
        assert saved.read() == content


def test_upload_returns_exactly_the_file_keys_with_its_options(client, token) -> None:
    r = upload(client, token, folder="reports/eu-1", tags=["aimbot", "clip", "aimbot"], visibility="public")

    assert r.status_code == 201, r.content
    body = r.json()
    assert set(body) == {
        "id",
        "url",
        "key",
        "size",
        "content_type",
        "sha256",
        "original_name",
        "tags",
        "folder",
        "abuse_status",
        "visibility",
        "storage_class",
        "created_at",
        "updated_at",
    }
    assert (body["folder"], body["tags"], body["visibility"]) == ("reports/eu-1", ["aimbot", "clip"], "public")
    assert (body["abuse_status"], body["storage_class"], body["original_name"]) == ("clean", "standard", "shot.png")
    assert body["url"].startswith("http://testserver/media/")


def test_upload_is_private_by_default_with_a_signed_url(client, token) -> None:
    r = upload(client, token)

    assert r.status_code == 201, r.content
    assert r.json()["visibility"] == "private"
    assert "signature=" in r.json()["url"]


def test_a_matching_declared_type_is_accepted(client, token) -> None:
    r = upload(client, token, content_type="image/png")

    assert r.status_code == 201, r.content


def test_json_sent_as_text_plain_is_stored_as_json(client, token) -> None:
    name, content = ALLOWED["application/json"]

    r = upload(client, token, name=name, content=content, content_type="text/plain")

    assert r.status_code == 201, r.content
    assert r.json()["content_type"] == "application/json"


def test_text_that_opens_like_json_but_is_not_json_is_plain_text(client, token) -> None:
    r = upload(client, token, name="odd.log", content=b"{not json} but a log line\n")

    assert r.status_code == 201, r.content
    assert r.json()["content_type"] == "text/plain"


def test_a_unicode_name_is_kept(client, token, project) -> None:
    r = upload(client, token, name="Ölçü — скриншот 1.png")

    assert r.status_code == 201, r.content
    assert r.json()["original_name"] == "Ölçü — скриншот 1.png"
    assert r.json()["key"] == f"{project.pk}/{r.json()['id']}/Ölçü — скриншот 1.png"


def test_the_same_bytes_twice_are_two_files(client, token) -> None:
    first = upload(client, token).json()
    second = upload(client, token).json()

    assert first["id"] != second["id"] and first["sha256"] == second["sha256"]
    assert File.objects.count() == 2


def test_trailing_slash_form_is_served_without_redirect(client, token) -> None:
    part = SimpleUploadedFile("shot.png", PNG, content_type="image/png")
    r = client.post("/v1/media/", {"file": part}, headers={"Authorization": f"Bearer {token.plaintext}"})

    assert r.status_code == 201, r.content


# Base64


def test_base64_upload_stores_the_decoded_bytes(call, project) -> None:
    name, content = ALLOWED["image/jpeg"]

    r = call(
        "POST",
        "/v1/media/base64",
        json_body={"filename": name, "data": base64.b64encode(content).decode(), "tags": ["evidence"]},
    )

    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["content_type"], body["size"], body["tags"]) == ("image/jpeg", len(content), ["evidence"])
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert r["Location"] == f"/v1/media/{body['id']}"
    with File.objects.get(pk=body["id"]).blob.open("rb") as saved:
        assert saved.read() == content


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda b: {"file": base64.b64encode(b).decode()}, id="file-as-another-name"),
        pytest.param(lambda b: {"data": base64.encodebytes(b).decode()}, id="line-wrapped"),
        pytest.param(lambda b: {"data": base64.b64encode(b).decode().rstrip("=")}, id="unpadded"),
        pytest.param(lambda b: {"data": "data:image/png;base64," + base64.b64encode(b).decode()}, id="data-url"),
        pytest.param(lambda b: {"data": base64.b64encode(b).decode(), "content_type": "image/png"}, id="declared-type"),
    ],
)
def test_base64_forms_clients_send(call, encode) -> None:
    r = call("POST", "/v1/media/base64", json_body={"filename": "shot.png", **encode(PNG)})

    assert r.status_code == 201, r.content
    assert r.json()["sha256"] == hashlib.sha256(PNG).hexdigest()


def test_base64_body_may_exceed_the_api_wide_one_mebibyte(call) -> None:
    content = b"log line with some padding to make it long enough\n" * 60_000  # ~3 MB

    r = call("POST", "/v1/media/base64", json_body={"filename": "big.log", "data": base64.b64encode(content).decode()})

    assert r.status_code == 201, r.content
    assert r.json()["size"] == len(content)


def test_stored_objects_are_what_the_api_lists(client, token) -> None:
    before = stored_objects()
    body = upload(client, token).json()

    assert stored_objects() - before == {body["key"]}


def _chat_log(markup_at: int) -> bytes:
    """A JSON chat log quoting ``<script>`` in a message that starts ``markup_at`` bytes in."""
    filler = "x" * max(markup_at - len('[{"msg": "'), 0)
    return json.dumps([{"msg": filler + "<script>alert('gg')</script>"}, {"msg": "<svg onload=x>"}]).encode()


# Issue 27, fault 4: bytes that parse as JSON are JSON, whatever strings they hold and wherever.
@pytest.mark.parametrize(
    "markup_at",
    [
        pytest.param(0, id="in-the-first-bytes"),
        pytest.param(4_000, id="inside-the-first-8-kib"),
        pytest.param(8_190, id="across-the-8-kib-mark"),
        pytest.param(20_000, id="after-8-kib"),
        pytest.param(64 * 1024 - 3, id="across-a-64-kib-chunk"),
    ],
)
@pytest.mark.parametrize("form", ["multipart", "base64"])
def test_json_quoting_markup_is_json_wherever_the_markup_is(client, token, call, form, markup_at) -> None:
    content = _chat_log(markup_at)
    if form == "multipart":
        r = upload(client, token, name="chat.json", content=content, content_type="application/json")
    else:
        r = call(
            "POST",
            "/v1/media/base64",
            json_body={
                "filename": "chat.json",
                "data": base64.b64encode(content).decode(),
                "content_type": "application/json",
            },
        )

    assert r.status_code == 201, r.content
    assert r.json()["content_type"] == "application/json"
    with File.objects.get(pk=r.json()["id"]).blob.open("rb") as saved:
        assert saved.read() == content


# Issue 27, fault 5: the preamble and the epilogue are not read (RFC 2046 §5.1.1).
@pytest.mark.parametrize(
    ("preamble", "epilogue"),
    [
        pytest.param(hidden_part("file", "x.html", HTML), b"", id="html-part-in-the-preamble"),
        pytest.param(b"", b"\r\n" + hidden_part("file", "x.html", HTML), id="html-part-in-the-epilogue"),
        pytest.param(hidden_part("folder", None, b"a"), hidden_part("folder", None, b"b"), id="folders-outside"),
        pytest.param(b"This is a multi-part message in MIME format.\r\n", b"\r\nthat was all\r\n", id="mime-text"),
        pytest.param(hidden_part("visibility", None, b"nope") * 3000, b"", id="large-preamble"),
    ],
)
def test_a_png_beside_parts_outside_the_body_is_stored_alone(call, preamble, epilogue) -> None:
    body = preamble + multipart([("file", "shot.png", "image/png", PNG), ("folder", None, None, b"evidence")])
    r = call("POST", "/v1/media", body=body + epilogue, content_type=f"multipart/form-data; boundary={BOUNDARY}")

    assert r.status_code == 201, r.content
    stored = File.objects.get()
    assert (stored.pk, stored.content_type, stored.folder, stored.visibility) == (
        r.json()["id"],
        "image/png",
        "evidence",
        "private",
    )
    with stored.blob.open("rb") as saved:
        assert saved.read() == PNG


@BOTH_WAYS
def test_only_a_body_over_the_memory_limit_goes_through_a_temporary_file(
    client, token, settings, monkeypatch, memory_limit
) -> None:
    import media.uploads

    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = memory_limit
    made = []

    class Recorded(media.uploads.TemporaryUploadedFile):  # type: ignore[misc,name-defined]
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, **kwargs)
            made.append(self.temporary_file_path())

    monkeypatch.setattr(media.uploads, "TemporaryUploadedFile", Recorded)

    r = upload(client, token)

    assert r.status_code == 201, r.content
    assert len(made) == (0 if memory_limit else 1)
    with File.objects.get().blob.open("rb") as saved:
        assert saved.read() == PNG
