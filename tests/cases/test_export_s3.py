"""A case export whose files live on S3 (moto's server, ``tests/media/s3server.py``): read from the
store in chunks, verified offline by ``verify_export``; an object gone from the bucket breaks it off."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from media.storage import S3MediaStorage, media_storage
from tests.factories import CaseFactory, TokenFactory, attach_file
from tests.media.s3server import S3Server, moto_server

pytestmark = pytest.mark.django_db

BUCKET = "serverops-exports"


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with moto_server() as server:
        server.client().create_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
        yield server


@pytest.fixture
def s3(s3_server: S3Server) -> Iterator[Any]:
    s3 = {"BACKEND": "media.storage.S3MediaStorage", "OPTIONS": s3_server.storage_options(BUCKET)}
    with override_settings(STORAGES={**settings.STORAGES, "default": s3}):
        yield s3_server.client()


def _export(call: Any, case: Any) -> Any:
    token = TokenFactory(project=case.project, scopes=["cases:read", "media:read"])
    r = call("GET", f"/v1/cases/{case.pk}/export", auth=f"Bearer {token.plaintext}")
    assert r.status_code == 200, r.content
    return r


def test_an_export_of_files_on_s3_verifies(call, s3, tmp_path) -> None:
    case = CaseFactory()
    link = attach_file(case=case, content=io.BytesIO(b"log line\n" * 400_000), original_name="server.log")
    attach_file(case=case)
    assert isinstance(media_storage(link.file), S3MediaStorage)
    assert link.file.key in [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    path = tmp_path / "bundle.zip"
    path.write_bytes(b"".join(_export(call, case).streaming_content))
    out = io.StringIO()
    call_command("verify_export", str(path), stdout=out, stderr=io.StringIO())
    assert out.getvalue().strip() == f"verified case {case.pk}: 2 files, 3 events"


def test_an_object_gone_from_the_bucket_breaks_the_export_off(call, s3) -> None:
    case = CaseFactory()
    link = attach_file(case=case)
    s3.delete_object(Bucket=BUCKET, Key=link.file.key)
    r = _export(call, case)
    with pytest.raises(Exception, match="missing from storage"):
        b"".join(r.streaming_content)
