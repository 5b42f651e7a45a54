"""Evidence under concurrency (PostgreSQL): the case's row lock and the file's lock keep every change."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections
from django.test import Client

from cases.models import Attachment, Case, CaseEvent
from cases.services import Actor, attachment_create
from media.models import File
from tests.factories import CaseFactory, FileFactory, TokenFactory
from tests.media.samples import PNG

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

SCOPES = ["cases:read", "cases:write", "media:read", "media:write"]
ROUNDS = 20  # a case lists at most 20 files


@pytest.fixture(autouse=True)
def _postgres_only(settings) -> None:  # type: ignore[no-untyped-def]
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; .ci/run runs this file with DATABASE_URL set")
    settings.SERVEROPS = {**settings.SERVEROPS, "RATE_LIMIT_PER_SECOND": 10_000, "RATE_LIMIT_PER_MINUTE": 10_000}


def _together(*work: Callable[[], None]) -> None:
    start = threading.Barrier(len(work))

    def run(job: Callable[[], None]) -> None:
        start.wait()
        try:
            job()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)


def test_patching_evidence_and_status_at_once_loses_neither(project) -> None:
    case = CaseFactory(project=project)
    files = [FileFactory(project=project).pk for _ in range(ROUNDS)]
    auth = {"Authorization": f"Bearer {TokenFactory(project=project, scopes=SCOPES).plaintext}"}
    failures: list[str] = []

    def patch(field: str, values: list[object]) -> Callable[[], None]:
        def job() -> None:
            client = Client()
            for value in values:
                r = client.patch(f"/v1/cases/{case.id}", {field: value}, content_type="application/json", headers=auth)
                if r.status_code != 200:
                    failures.append(f"{field}: {r.status_code} {r.content!r}")

        return job

    evidence = [files[: n + 1] for n in range(ROUNDS)]
    statuses = ["closed", "open"] * (ROUNDS // 2) + ["archived"]
    _together(patch("attachments", evidence), patch("status", statuses))

    assert not failures, failures
    case = Case.objects.get(pk=case.pk)
    assert case.status == "archived"
    assert list(case.attachments.values_list("file_id", flat=True)) == files
    # Each change is in the history once, in the order it was applied.
    changes = [e.changes for e in CaseEvent.objects.filter(case=case).order_by("created_at", "id")[1:]]
    assert [c["attachments"]["to"] for c in changes if "attachments" in c] == evidence


def test_two_admin_uploads_at_once_both_stay_attached(project) -> None:
    case = CaseFactory(project=project)

    def upload(name: str) -> Callable[[], None]:
        def job() -> None:
            for n in range(5):
                attachment_create(
                    case=Case.objects.get(pk=case.pk),
                    content=io.BytesIO(PNG),
                    original_name=f"{name}-{n}.png",
                    actor=Actor.system("tests"),
                )

        return job

    _together(upload("a"), upload("b"))

    assert Attachment.objects.filter(case=case).count() == 10


def test_deleting_a_file_while_it_is_being_attached_never_leaves_a_dangling_link(project) -> None:
    auth = {"Authorization": f"Bearer {TokenFactory(project=project, scopes=SCOPES).plaintext}"}
    outcomes: list[tuple[int, int]] = []
    for _ in range(10):
        case = CaseFactory(project=project)
        file = FileFactory(project=project)
        answers: dict[str, int] = {}

        def attach(case: Case = case, file: File = file, answers: dict[str, int] = answers) -> None:
            answers["patch"] = (
                Client()
                .patch(
                    f"/v1/cases/{case.id}", {"attachments": [file.pk]}, content_type="application/json", headers=auth
                )
                .status_code
            )

        def delete(file: File = file, answers: dict[str, int] = answers) -> None:
            answers["delete"] = Client().delete(f"/v1/media/{file.pk}", headers=auth).status_code

        _together(attach, delete)
        outcomes.append((answers["patch"], answers["delete"]))
        linked = Attachment.objects.filter(file_id=file.pk).exists()
        exists = File.objects.filter(pk=file.pk).exists()
        # Either the link won (the delete is a 409) or the delete did (the attach is a 400).
        assert (answers["patch"], answers["delete"], linked, exists) in {
            (200, 409, True, True),
            (400, 204, False, False),
        }
    assert outcomes
