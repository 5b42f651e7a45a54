"""``cases.services.case_with_evidence``: a case and its files in one query, and its lock on the case alone."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection, transaction

from cases.models import Case
from cases.services import Actor, case_update, case_with_evidence
from tests.factories import CaseFactory, FileFactory

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("tests")


def _case_with_files(project, count: int) -> Case:
    case = CaseFactory(project=project)
    files = [FileFactory(project=project, tags=[f"tag {n}", "evidence"]) for n in range(count)]
    # Listed in an order that is neither creation nor id order.
    order = [file.pk for file in files[1:] + files[:1]]
    case_update(cases=Case.objects.all(), case_id=case.pk, changes={"attachments": order}, actor=SYSTEM)
    return case


def _shape(case: Case) -> list[tuple[object, ...]]:
    return [
        (
            link.pk,
            link.file_id,
            link.position,
            link.attached_by_name,
            link.file.key,
            link.file.tags,
            link.file.blob.name,
        )
        for link in case.evidence
    ]


@pytest.mark.parametrize(
    "count", [pytest.param(0, id="no-files"), pytest.param(1, id="one"), pytest.param(3, id="three")]
)
def test_the_evidence_is_what_a_separate_query_reads_in_the_cases_order(project, count, django_assert_num_queries):
    case = _case_with_files(project, count)
    with django_assert_num_queries(1):
        joined = case_with_evidence(Case.objects.filter(project=project), case.pk)
    separate = Case.objects.get(pk=case.pk)
    assert _shape(joined) == _shape(separate)
    assert len(joined.evidence) == count
    assert (joined.title, joined.updated_at, joined.etag) == (separate.title, separate.updated_at, separate.etag)
    assert not any(name.startswith("evidence_") for name in vars(joined))


def test_a_case_outside_the_queryset_does_not_exist(project) -> None:
    case = _case_with_files(project, 2)
    with pytest.raises(Case.DoesNotExist):
        case_with_evidence(Case.objects.exclude(project=project), case.pk)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_lock_holds_the_case_row_and_not_its_files(project) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; .ci/run runs this file with DATABASE_URL set")
    case = _case_with_files(project, 2)
    params = {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"}
    with transaction.atomic():
        locked = case_with_evidence(Case.objects.select_for_update(of=("self",)), case.pk)
        assert len(locked.evidence) == 2
        with psycopg.connect(**params, autocommit=True) as other:
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("SELECT 1 FROM cases_case WHERE id = %s FOR UPDATE NOWAIT", [case.pk])
            other.execute("SELECT 1 FROM cases_attachment WHERE case_id = %s FOR UPDATE NOWAIT", [case.pk])
            other.execute("SELECT 1 FROM media_file WHERE project_id = %s FOR UPDATE NOWAIT", [project.pk])
