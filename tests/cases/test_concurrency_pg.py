"""Two writers, one case: compare-and-set writes of the changed fields keep both changes (PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cases.models import Case
from tests.factories import CaseFactory, TokenFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

ROUNDS = 50


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; .ci/run runs this file with DATABASE_URL set")


def test_concurrent_patches_of_different_fields_lose_nothing(settings) -> None:
    settings.SERVEROPS = {**settings.SERVEROPS, "RATE_LIMIT_PER_SECOND": 10_000, "RATE_LIMIT_PER_MINUTE": 10_000}
    case = CaseFactory()
    auth = {"Authorization": f"Bearer {TokenFactory(project=case.project).plaintext}"}
    start = threading.Barrier(2)
    failures: list[str] = []

    def writer(field: str) -> None:
        client = Client()
        start.wait()
        try:
            for n in range(ROUNDS):
                r = client.patch(
                    f"/v1/cases/{case.id}", {field: f"{field} {n}"}, content_type="application/json", headers=auth
                )
                if r.status_code != 200:
                    failures.append(f"{field} {n}: {r.status_code} {r.content!r}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(field,)) for field in ("title", "description")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    case = Case.objects.get(pk=case.pk)
    assert case.title == f"title {ROUNDS - 1}"
    assert case.description == f"description {ROUNDS - 1}"


def test_patch_writes_only_the_case_it_read(client) -> None:
    case = CaseFactory()
    token = TokenFactory(project=case.project)
    with CaptureQueriesContext(connection) as captured:
        r = client.patch(
            f"/v1/cases/{case.id}",
            {"status": "closed"},
            content_type="application/json",
            headers={"Authorization": f"Bearer {token.plaintext}"},
        )
    assert r.status_code == 200, r.content
    (write,) = [q["sql"] for q in captured.captured_queries if 'UPDATE "cases_case"' in q["sql"]]
    # Compare-and-set on updated_at: the row lock comes with the write (cases.queries).
    assert 'WHERE "id" = ' in write and ' AND "updated_at" = ' in write, write


def test_requests_racing_with_one_idempotency_key_create_one_case(settings) -> None:
    token = TokenFactory()
    auth = {"Authorization": f"Bearer {token.plaintext}", "Idempotency-Key": "race-1"}
    start = threading.Barrier(4)
    statuses: list[tuple[int, str | None, str]] = []

    def poster() -> None:
        start.wait()
        try:
            r = Client().post("/v1/cases", {"title": "raced"}, content_type="application/json", headers=auth)
            statuses.append((r.status_code, r.headers.get("Idempotent-Replayed"), r.json().get("id", "")))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=poster) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert Case.objects.filter(project=token.project).count() == 1
    assert sorted((code, replayed or "") for code, replayed, _ in statuses) == [
        (201, ""),
        (201, "true"),
        (201, "true"),
        (201, "true"),
    ]
    assert len({s[2] for s in statuses}) == 1
