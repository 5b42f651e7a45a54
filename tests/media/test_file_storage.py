"""How file_create hands bytes to the file-system storage."""

from __future__ import annotations

import io
import os

import pytest
from django.core.files.uploadedfile import TemporaryUploadedFile

from cases.demo import screenshot_png
from media.services import file_create
from tokens.models import Mode, Project

pytestmark = pytest.mark.django_db


def test_upload_handlers_temporary_file_is_moved_into_place_not_copied(project: Project) -> None:
    png = screenshot_png(5)
    upload = TemporaryUploadedFile("shot.png", "image/png", len(png), None)
    upload.write(png)
    upload.seek(0)
    temporary = upload.temporary_file_path()

    file = file_create(project=project, mode=Mode.LIVE, content=upload, original_name="shot.png")

    assert not os.path.exists(temporary)
    with file.blob.storage.open(file.key, "rb") as stored:
        assert stored.read() == png
    assert oct(os.stat(file.blob.path).st_mode & 0o777) == oct(0o644)
    upload.close()  # the temporary file is gone already: closing must not fail


def test_a_failed_insert_takes_the_stored_bytes_back(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bytes are stored before the row; a row that cannot be written leaves no object behind."""
    from pathlib import Path

    from django.conf import settings
    from django.db import DatabaseError

    from media.models import File

    def refuse(self: File, *args: object, **kwargs: object) -> None:
        assert self.blob.storage.exists(self.key), "the bytes are stored before the row"
        raise DatabaseError("insert refused")

    root = Path(settings.MEDIA_ROOT)
    before = {path for path in root.rglob("*") if path.is_file()}
    monkeypatch.setattr(File, "save", refuse)
    with pytest.raises(DatabaseError):
        file_create(project=project, mode=Mode.LIVE, content=io.BytesIO(screenshot_png(5)), original_name="shot.png")
    assert {path for path in root.rglob("*") if path.is_file()} == before
    assert not File.objects.filter(project=project).exists()


def test_a_stored_file_is_one_insert_without_a_transaction(project: Project, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    """One statement, which commits by itself: no SAVEPOINT (here) or BEGIN/COMMIT (in production) around it."""
    with django_assert_num_queries(1) as captured:
        file_create(project=project, mode=Mode.LIVE, content=io.BytesIO(screenshot_png(5)), original_name="shot.png")
    assert captured.captured_queries[0]["sql"].startswith('INSERT INTO "media_file"')
