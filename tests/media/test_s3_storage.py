"""S3MediaStorage against moto's standalone S3 server (a real HTTP server on 127.0.0.1, not a mocked client)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from django.conf import settings
from django.core.files.base import ContentFile
from django.test import override_settings

from media.storage import S3MediaStorage, file_apply_access, file_url, staff_file_url
from tests.factories import FileFactory
from tests.media.s3server import S3Server, moto_server

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with moto_server() as server:
        yield server


@pytest.fixture
def bucket(s3_server: S3Server, request: pytest.FixtureRequest) -> str:
    name = "evidence-" + request.node.name.lower().replace("_", "-")[:40]
    s3_server.client().create_bucket(Bucket=name)  # type: ignore[attr-defined]
    return name


@pytest.fixture
def s3(s3_server: S3Server, bucket: str) -> S3MediaStorage:
    return S3MediaStorage(**s3_server.storage_options(bucket))


def save(storage: S3MediaStorage, name: str, data: bytes, content_type: str) -> str:
    content = ContentFile(data)
    content.content_type = content_type  # type: ignore[attr-defined]  # as read from the bytes
    return storage.save(name, content)


def stored(storage: S3MediaStorage, name: str, **fields: str) -> Any:
    return SimpleNamespace(
        blob=SimpleNamespace(name=name, storage=storage),
        visibility=fields.get("visibility", "private"),
        abuse_status=fields.get("abuse_status", "clean"),
    )


def test_private_object_opens_only_through_its_presigned_url(s3: S3MediaStorage, s3_server: S3Server) -> None:
    name = save(s3, "p_1/f_1/screenshot.png", PNG, "image/png")

    url = file_url(stored(s3, name), request=None)

    assert url.startswith(s3_server.endpoint_url + "/")
    assert requests.get(url, timeout=5).content == PNG
    unsigned = s3.media_url(name, expires_in=None)
    assert requests.get(unsigned, timeout=5).status_code == 403


def test_object_keeps_the_type_read_from_the_bytes_not_the_name(s3: S3MediaStorage, s3_server: S3Server) -> None:
    name = save(s3, "p_1/f_2/invoice.html", b"plain log line\n", "text/plain")

    head = s3_server.client().head_object(Bucket=s3.bucket_name, Key=name)  # type: ignore[attr-defined]

    assert head["ContentType"] == "text/plain"
    assert head["ContentDisposition"] == 'attachment; filename="invoice.html"'
    response = requests.get(file_url(stored(s3, name), request=None), timeout=5)
    assert response.headers["Content-Type"] == "text/plain"
    assert response.headers["Content-Disposition"].startswith("attachment")


def test_public_file_gets_a_stable_url_that_stops_opening_once_blocked(s3: S3MediaStorage) -> None:
    name = save(s3, "p_1/f_3/clip.png", PNG, "image/png")
    public = stored(s3, name, visibility="public")

    file_apply_access(public)
    url = file_url(public, request=None)

    assert url == file_url(public, request=None)
    assert "Signature" not in url
    assert requests.get(url, timeout=5).content == PNG

    blocked = stored(s3, name, visibility="public", abuse_status="blocked")
    file_apply_access(blocked)

    assert requests.get(file_url(blocked, request=None), timeout=5).status_code == 403
    assert requests.get(url, timeout=5).status_code == 403
    assert requests.get(staff_file_url(blocked, request=None), timeout=5).content == PNG


def test_blocked_private_file_url_is_refused(s3: S3MediaStorage) -> None:
    name = save(s3, "p_1/f_4/shot.png", PNG, "image/png")

    url = file_url(stored(s3, name, abuse_status="blocked"), request=None)

    assert requests.get(url, timeout=5).status_code == 403


def test_delete_removes_the_object(s3: S3MediaStorage, s3_server: S3Server) -> None:
    name = save(s3, "p_1/f_5/shot.png", PNG, "image/png")

    s3.delete(name)

    listed = s3_server.client().list_objects_v2(Bucket=s3.bucket_name)  # type: ignore[attr-defined]
    assert listed.get("KeyCount", 0) == 0


@pytest.mark.django_db
def test_file_create_stores_the_type_read_from_the_bytes(s3_server: S3Server, bucket: str) -> None:
    backend = {"BACKEND": "media.storage.S3MediaStorage", "OPTIONS": s3_server.storage_options(bucket)}
    with override_settings(STORAGES={**settings.STORAGES, "default": backend}):
        private = FileFactory(content=b"12:00:01 speed 31.4 m/s\n", original_name="invoice.html")
        public = FileFactory(original_name="shot.png", visibility="public")
        private_url = file_url(private, request=None)
        public_url = file_url(public, request=None)

    head = s3_server.client().head_object(Bucket=bucket, Key=private.key)  # type: ignore[attr-defined]
    assert head["ContentType"] == "text/plain"
    assert head["ContentDisposition"] == 'attachment; filename="invoice.html"'
    assert requests.get(private_url, timeout=5).content == b"12:00:01 speed 31.4 m/s\n"
    assert requests.get(private_url.split("?")[0], timeout=5).status_code == 403
    assert requests.get(public_url, timeout=5).headers["Content-Type"] == "image/png"
