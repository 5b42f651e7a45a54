"""cases 0005: every attachment stored before files became their own objects survives as a File
(same id, key, bytes and facts) listed in its case, in the case's old order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from cases.models import Attachment, Case
from media.models import File
from tests.migrations import at_migration, migrate

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("cases", "0004_case_event")]


@pytest.fixture
def old_apps() -> Iterator[Any]:
    """The database as it was before 0005; migrated back to the latest state afterwards."""
    with at_migration(BEFORE) as apps:
        yield apps


def _old_case(apps: Any, project: Any, mode: str, title: str) -> Any:
    return apps.get_model("cases", "Case").objects.create(project=project, mode=mode, title=title)


def _old_attachment(apps: Any, case: Any, file_id: str, name: str, created_at: Any, **facts: Any) -> Any:
    key = f"{case.project_id}/{file_id}/{name}"
    default_storage.save(key, ContentFile(b"bytes of " + name.encode()))
    attachment = apps.get_model("cases", "Attachment").objects.create(
        id=file_id,
        case=case,
        file=key,
        key=key,
        size=len(b"bytes of " + name.encode()),
        content_type="image/png",
        sha256="ab" * 32,
        original_name=name,
        tags=["evidence"],
        folder="reports",
        **facts,
    )
    apps.get_model("cases", "Attachment").objects.filter(pk=file_id).update(created_at=created_at)
    return attachment


def test_existing_attachments_become_files_listed_in_their_cases(old_apps: Any) -> None:
    organisation = old_apps.get_model("tokens", "Organisation").objects.create(name="Org")
    project = old_apps.get_model("tokens", "Project").objects.create(organisation=organisation, name="Server")
    live = _old_case(old_apps, project, "live", "Aimbot")
    test = _old_case(old_apps, project, "test", "Speed hack")
    now = timezone.now()
    # Inserted out of order: the old order was by created_at, then id.
    _old_attachment(old_apps, live, "f_01JD3Z8W6V4M2Q9T7K5X1B0N3B", "second.png", now - timedelta(hours=1))
    _old_attachment(
        old_apps,
        live,
        "f_01JD3Z8W6V4M2Q9T7K5X1B0N3A",
        "first.png",
        now - timedelta(hours=2),
        abuse_status="flagged",
        visibility="public",
    )
    _old_attachment(old_apps, test, "f_01JD3Z8W6V4M2Q9T7K5X1B0N3C", "clip.png", now - timedelta(hours=3))

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    files = {file.pk: file for file in File.objects.all()}
    assert set(files) == {
        "f_01JD3Z8W6V4M2Q9T7K5X1B0N3A",
        "f_01JD3Z8W6V4M2Q9T7K5X1B0N3B",
        "f_01JD3Z8W6V4M2Q9T7K5X1B0N3C",
    }
    first = files["f_01JD3Z8W6V4M2Q9T7K5X1B0N3A"]
    assert (first.project_id, first.mode, first.original_name) == (project.pk, "live", "first.png")
    assert first.key == f"{project.pk}/{first.pk}/first.png" == first.blob.name
    assert (first.abuse_status, first.visibility, first.tags, first.folder) == (
        "flagged",
        "public",
        ["evidence"],
        "reports",
    )
    assert abs(first.created_at - (now - timedelta(hours=2))) < timedelta(seconds=1)
    with first.blob.open("rb") as stored:
        assert stored.read() == b"bytes of first.png"
    assert files["f_01JD3Z8W6V4M2Q9T7K5X1B0N3C"].mode == "test"

    listed = list(Attachment.objects.filter(case_id=live.pk).values_list("file_id", "position", "attached_by_type"))
    assert listed == [("f_01JD3Z8W6V4M2Q9T7K5X1B0N3A", 0, "system"), ("f_01JD3Z8W6V4M2Q9T7K5X1B0N3B", 1, "system")]
    assert Case.objects.get(pk=test.pk).attachments.get().file_id == "f_01JD3Z8W6V4M2Q9T7K5X1B0N3C"


def test_migrating_back_gives_each_case_its_attachments_again(old_apps: Any) -> None:
    organisation = old_apps.get_model("tokens", "Organisation").objects.create(name="Org")
    project = old_apps.get_model("tokens", "Project").objects.create(organisation=organisation, name="Server")
    case = _old_case(old_apps, project, "live", "Aimbot")
    _old_attachment(old_apps, case, "f_01JD3Z8W6V4M2Q9T7K5X1B0N3A", "shot.png", timezone.now())
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    migrate(latest)
    other = Case.objects.create(project_id=project.pk, mode="live", title="Same evidence")
    Attachment.objects.create(
        case=other, file_id="f_01JD3Z8W6V4M2Q9T7K5X1B0N3A", position=0, attached_by_type="system", attached_by_id="t"
    )

    apps = migrate(BEFORE)

    rows = apps.get_model("cases", "Attachment").objects.order_by("case_id")
    assert sorted((row.case_id, row.key) for row in rows) == sorted(
        [(case.pk, f"{project.pk}/f_01JD3Z8W6V4M2Q9T7K5X1B0N3A/shot.png")] * 1
        + [(other.pk, f"{project.pk}/f_01JD3Z8W6V4M2Q9T7K5X1B0N3A/shot.png")]
    )
    assert "f_01JD3Z8W6V4M2Q9T7K5X1B0N3A" in {row.pk for row in rows}
