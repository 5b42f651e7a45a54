"""How file_create hands bytes to the file-system storage."""

from __future__ import annotations

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
