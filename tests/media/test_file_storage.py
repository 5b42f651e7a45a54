"""How file_create hands bytes to the file-system storage."""

from __future__ import annotations

import io
import os

import pytest
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.db import connection

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


def test_a_stored_file_is_its_row_and_its_event_in_one_transaction_after_the_bytes(
    project: Project, django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
    """The bytes first (no statement), then the row and its file.created event together (here a
    savepoint inside the test's transaction), then the project's endpoints (none: no delivery)."""
    # The event with the endpoints' lookup in one statement on PostgreSQL, two on SQLite.
    events = 1 if connection.vendor == "postgresql" else 2
    with django_assert_num_queries(3 + events) as captured:
        file_create(project=project, mode=Mode.LIVE, content=io.BytesIO(screenshot_png(5)), original_name="shot.png")
    sql = [query["sql"] for query in captured.captured_queries]
    assert sql[0].startswith("SAVEPOINT") and sql[-1].startswith("RELEASE SAVEPOINT"), sql
    assert sql[1].startswith('INSERT INTO "media_file"'), sql
    assert any('INSERT INTO "webhooks_event"' in statement for statement in sql[2:-1]), sql
