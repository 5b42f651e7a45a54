"""The File API on S3-compatible storage, end to end against moto's standalone server on 127.0.0.1.

Upload through the API, find the object in the bucket with boto3, fetch the returned ``url`` over
HTTP and compare the bytes, delete through the API and see the object gone. The server is a real
S3-protocol HTTP server in a subprocess (``tests/media/s3server.py``), not a mocked client.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from cases.demo import screenshot_png
from media.models import File
from tests.factories import TokenFactory
from tests.media.s3server import S3Server, moto_server
from tokens.models import Project

pytestmark = pytest.mark.django_db

BUCKET = "serverops-evidence"


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with moto_server() as server:
        server.client().create_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
        yield server


@pytest.fixture
def s3(s3_server: S3Server) -> Iterator[Any]:
    """The service on S3 (settings alone), and a boto3 client to look into the bucket."""
    s3 = {"BACKEND": "media.storage.S3MediaStorage", "OPTIONS": s3_server.storage_options(BUCKET)}
    storages = {**settings.STORAGES, "default": s3}
    with override_settings(STORAGES=storages):
        yield s3_server.client()


@pytest.fixture
def media_token(project: Project) -> Any:
    return TokenFactory(project=project, scopes=["media:read", "media:write", "cases:read", "cases:write"])


def auth(token: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.plaintext}"}


def objects(client: Any) -> list[str]:
    return [item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_upload_open_and_delete_through_the_api(
    client: Any, s3: Any, media_token: Any, django_capture_on_commit_callbacks: Any
) -> None:
    png = screenshot_png(7)

    r = client.post(
        "/v1/media",
        {"file": SimpleUploadedFile("aimbot.png", png, content_type="image/png"), "folder": "reports"},
        headers=auth(media_token),
    )

    assert r.status_code == 201, r.content
    file = r.json()
    assert file["key"] in objects(s3)
    stored = s3.get_object(Bucket=BUCKET, Key=file["key"])
    assert stored["Body"].read() == png
    assert stored["ContentType"] == "image/png"

    url = urlsplit(file["url"])
    assert f"{url.scheme}://{url.netloc}" == s3.meta.endpoint_url
    assert parse_qs(url.query)["X-Amz-Expires"] == ["3600"]
    opened = requests.get(file["url"], timeout=5)
    assert opened.status_code == 200
    assert opened.content == png
    assert requests.get(file["url"].split("?")[0], timeout=5).status_code == 403

    with django_capture_on_commit_callbacks(execute=True):
        r = client.delete(f"/v1/media/{file['id']}", headers=auth(media_token))

    assert r.status_code == 204, r.content
    assert file["key"] not in objects(s3)
    assert not File.objects.filter(pk=file["id"]).exists()


def test_every_response_carries_a_fresh_presigned_url(client: Any, s3: Any, media_token: Any) -> None:
    data = base64.b64encode(b"12:00:01 speed 31.4 m/s\n").decode()
    r = client.post(
        "/v1/media/base64",
        {"filename": "anticheat.log", "data": data},
        content_type="application/json",
        headers=auth(media_token),
    )
    assert r.status_code == 201, r.content
    first = r.json()

    again = client.get(f"/v1/media/{first['id']}", headers=auth(media_token)).json()

    for url in (first["url"], again["url"]):
        opened = requests.get(url, timeout=5)
        assert opened.content == b"12:00:01 speed 31.4 m/s\n"
        assert opened.headers["Content-Type"] == "text/plain"
        assert opened.headers["Content-Disposition"] == 'attachment; filename="anticheat.log"'


def test_public_file_has_a_stable_url_the_store_serves_until_it_is_blocked(
    client: Any, s3: Any, media_token: Any, django_capture_on_commit_callbacks: Any
) -> None:
    png = screenshot_png(3)
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            "/v1/media",
            {"file": SimpleUploadedFile("wallhack.png", png, content_type="image/png"), "visibility": "public"},
            headers=auth(media_token),
        )
    assert r.status_code == 201, r.content
    file = r.json()
    assert "Signature" not in file["url"]
    assert client.get(f"/v1/media/{file['id']}", headers=auth(media_token)).json()["url"] == file["url"]
    assert requests.get(file["url"], timeout=5).content == png

    from media.services import file_update

    with django_capture_on_commit_callbacks(execute=True):
        file_update(file_id=file["id"], changes={"abuse_status": "blocked"})

    assert requests.get(file["url"], timeout=5).status_code == 403
    blocked = client.get(f"/v1/media/{file['id']}", headers=auth(media_token)).json()
    assert blocked["url"] is None  # no link while blocked; the old one is refused by the store itself


def test_refused_upload_stores_nothing(client: Any, s3: Any, media_token: Any) -> None:
    before = objects(s3)

    r = client.post(
        "/v1/media",
        {"file": SimpleUploadedFile("x.png", b"<html><script>alert(1)</script></html>", content_type="image/png")},
        headers=auth(media_token),
    )

    assert r.status_code == 415, r.content
    assert objects(s3) == before
    assert not File.objects.exists()
