"""``cases.queries``: the hot statements as SQL, pinned against what the ORM reads and writes, on both databases."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from django.db import connection, transaction
from django.db.models import Model, Prefetch
from django.utils import timezone

from cases.models import Attachment, Case, CaseEvent, CaseSubject, Status, SubjectView
from cases.queries import case_page, case_save_with_event, case_with_evidence, load_evidence, load_subjects
from cases.serializers import CaseRow, case_representation
from cases.services import Actor, case_update
from media.models import AbuseStatus, File, Visibility
from media.serializers import FileRow
from media.storage import FileLinks
from players.models import PlayerIdentifier
from serverops.pagination import KeysetPagination
from serverops.sql import record_type
from tests.factories import CaseFactory, FileFactory, ProjectFactory
from tokens.models import Mode

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("tests")


def _case_with_files(project, count: int) -> Case:
    case = CaseFactory(project=project)
    files = [FileFactory(project=project, tags=[f"tag {n}", "évidence"]) for n in range(count)]
    # Listed in an order that is neither creation nor id order.
    order = [file.pk for file in files[1:] + files[:1]]
    case_update(case_id=case.pk, changes={"attachments": order}, actor=SYSTEM)
    return case


def _fields(instance: Model) -> dict[str, object]:
    """Every column's value, as the model holds it (datetimes, JSON, foreign keys by id)."""
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def _orm_evidence(case_id: str) -> list[Attachment]:
    return list(Attachment.objects.filter(case_id=case_id).select_related("file").order_by("position", "id"))


def _same_evidence(read: list[Attachment], orm: list[Attachment]) -> None:
    assert [_fields(link) for link in read] == [_fields(link) for link in orm]
    assert [_fields(link.file) for link in read] == [_fields(link.file) for link in orm]
    assert [link.file.blob.name for link in read] == [link.file.blob.name for link in orm]


@pytest.mark.parametrize(
    "count", [pytest.param(0, id="no-files"), pytest.param(1, id="one"), pytest.param(3, id="three")]
)
def test_a_case_and_its_evidence_are_what_the_orm_reads_in_one_query(project, count, django_assert_num_queries):
    case = _case_with_files(project, count)
    with django_assert_num_queries(1):
        read = case_with_evidence(case.pk, project_id=project.pk, mode=Mode.LIVE)
    orm = Case.objects.get(pk=case.pk)
    assert _fields(read) == _fields(orm)
    assert len(read.evidence) == count
    _same_evidence(read.evidence, _orm_evidence(case.pk))
    assert read.etag == orm.etag
    assert all(link.case is read for link in read.evidence)


@pytest.mark.parametrize(
    ("narrowing", "found"),
    [
        pytest.param({}, True, id="not-narrowed"),
        pytest.param({"mode": Mode.LIVE}, True, id="own-project-and-mode"),
        pytest.param({"mode": Mode.TEST}, False, id="other-mode"),
        pytest.param({"project_id": "prj_00000000000000000000000000", "mode": Mode.LIVE}, False, id="other-project"),
    ],
)
def test_the_narrowing_hides_other_projects_and_modes(project, narrowing, found) -> None:
    case = _case_with_files(project, 2)
    if "mode" in narrowing:
        narrowing.setdefault("project_id", project.pk)
    if found:
        assert case_with_evidence(case.pk, **narrowing).pk == case.pk
    else:
        with pytest.raises(Case.DoesNotExist):
            case_with_evidence(case.pk, **narrowing)


def test_an_unknown_case_does_not_exist(project) -> None:
    with pytest.raises(Case.DoesNotExist):
        case_with_evidence("c_00000000000000000000000000")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_lock_holds_the_case_row_and_not_its_files(project) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; .ci/run runs this file with DATABASE_URL set")
    case = _case_with_files(project, 2)
    params = {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"}
    with transaction.atomic():
        locked = case_with_evidence(case.pk, lock=True)
        assert len(locked.evidence) == 2
        with psycopg.connect(**params, autocommit=True) as other:
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("SELECT 1 FROM cases_case WHERE id = %s FOR UPDATE NOWAIT", [case.pk])
            other.execute("SELECT 1 FROM cases_attachment WHERE case_id = %s FOR UPDATE NOWAIT", [case.pk])
            other.execute("SELECT 1 FROM media_file WHERE project_id = %s FOR UPDATE NOWAIT", [project.pk])


def test_a_pages_evidence_is_what_prefetch_related_reads_in_one_query(project, django_assert_num_queries):
    cases = [_case_with_files(project, count) for count in (3, 0, 1, 2)]
    page = list(Case.objects.filter(pk__in=[case.pk for case in cases]).order_by("created_at"))
    with django_assert_num_queries(1):
        load_evidence(page)
    prefetched = Case.objects.prefetch_related(
        Prefetch("attachments", queryset=Attachment.objects.select_related("file"), to_attr="orm_evidence")
    ).in_bulk([case.pk for case in cases])
    for case in page:
        assert len(case.evidence) == len(prefetched[case.pk].orm_evidence)  # type: ignore[attr-defined]
        _same_evidence(case.evidence, prefetched[case.pk].orm_evidence)  # type: ignore[attr-defined]
        assert all(link.case is case for link in case.evidence)


def test_reading_the_evidence_again_replaces_the_files(project) -> None:
    case = _case_with_files(project, 2)
    read = case_with_evidence(case.pk)
    first = read.files[0]
    case_update(case_id=case.pk, changes={"attachments": [first.pk]}, actor=SYSTEM)
    load_evidence([read])
    assert [file.pk for file in read.files] == [first.pk]
    assert [link.file for link in read.evidence] == read.files


def test_no_cases_need_no_query(django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        load_evidence([])


@pytest.fixture
def listed(project) -> list[Case]:
    """Cases of ``project`` in both modes and every status, several sharing a ``created_at`` to the
    microsecond (ties the id settles), with 0 to 3 files each (one file listed by several
    cases), plus another project's."""
    other = ProjectFactory()
    made = [CaseFactory(project=p, mode=mode) for p in (project, other) for mode in Mode.values for _ in range(6)]
    made += [CaseFactory(project=project) for _ in range(5)]
    shared = FileFactory(project=project)
    for index, case in enumerate(made):
        if case.project_id != project.pk or not index % 4:
            continue
        file_ids = [FileFactory(project=project, mode=case.mode).pk for _ in range(index % 4)]
        if case.mode == Mode.LIVE and index % 3 == 0:
            file_ids.insert(0, shared.pk)
        case_update(case_id=case.pk, changes={"attachments": file_ids[::-1]}, actor=SYSTEM)
    moment = timezone.now() - timedelta(days=1)
    for index, case in enumerate(made):
        # Every third case at the same instant; the rest a second apart.
        created_at = moment if index % 3 == 0 else moment + timedelta(seconds=index)
        status = Status.values[index % len(Status.values)]
        Case.objects.filter(pk=case.pk).update(created_at=created_at, status=status)
    return list(Case.objects.filter(project=project))


@pytest.mark.parametrize("status", [None, *Status.values])
@pytest.mark.parametrize("mode", Mode.values)
def test_every_page_is_what_the_paginator_reads_through_the_orm(project, listed, mode, status) -> None:
    visible = Case.objects.filter(project=project, mode=mode)
    if status is not None:
        visible = visible.filter(status=status)
    everything = [case.pk for case in KeysetPagination().after(visible, None)]
    assert len(everything) >= 2
    positions = [None, *((case.created_at, case.pk) for case in Case.objects.filter(pk__in=everything))]

    for after in positions:
        for limit in (1, 2, 100):
            read = case_page(project_id=project.pk, mode=mode, status=status, limit=limit, after=after)
            orm = list(KeysetPagination().after(visible, after)[:limit].values())
            assert [case.pk for case in read] == [case["id"] for case in orm], (after, limit)
            # Records hold what values() reads: every column by attribute name, a file's stored name.
            assert [case._asdict() for case in read] == orm
            for case in read:
                evidence = [link.file_id for link in _orm_evidence(case.pk)]
                assert [file._asdict() for file in case.files] == [File.objects.values().get(pk=pk) for pk in evidence]
            assert all(vars(case).keys() == {"files", "subject_list", "assignee_name"} for case in read)


def test_a_page_of_records_is_represented_as_its_cases_are(project, rf) -> None:
    """The list's records give the Case object that GET /v1/cases/{id} gives of the same case,
    links included: signed for a private file, stable for a public one, none for a blocked one."""
    cases = [case_with_evidence(_case_with_files(project, count).pk) for count in (0, 1, 3)]
    public, *private = cases[2].files
    blocked = cases[1].files[0]
    File.objects.filter(pk=public.pk).update(visibility=Visibility.PUBLIC)
    File.objects.filter(pk=blocked.pk).update(abuse_status=AbuseStatus.BLOCKED)
    links = FileLinks(rf.get("/v1/cases", HTTP_HOST="testserver"))

    page = case_page(project_id=project.pk, mode=Mode.LIVE, limit=10)
    load_subjects(page)

    assert [type(case) for case in page] == [record_type(Case)] * 3
    # Records and models alike have every member of the protocols the representations read.
    assert all(isinstance(row, CaseRow) for row in [*page, *cases])
    assert all(isinstance(file, FileRow) for row in [*page, *cases] for file in row.files)
    represented = [case_representation(record, links=links) for record in page]
    assert represented == [case_representation(case_with_evidence(record.pk), links=links) for record in page]
    urls = {file["id"]: file["url"] for case in represented for file in case["attachments"]}
    assert {pk for pk, url in urls.items() if url and "signature=" in url} == {file.pk for file in private}
    assert urls.keys() == {public.pk, blocked.pk, *(file.pk for file in private)}
    assert urls[blocked.pk] is None and urls[public.pk] is not None


def test_a_page_is_one_query(project, listed, django_assert_num_queries) -> None:
    newest = KeysetPagination().after(Case.objects.filter(project=project, mode=Mode.LIVE), None).first()
    assert newest is not None
    with django_assert_num_queries(1):
        case_page(project_id=project.pk, mode=Mode.LIVE, limit=51, after=(newest.created_at, newest.pk))


@pytest.mark.postgres
def test_postgresql_plans_each_page_once_not_per_run(project) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's plan cache; .ci/run runs this file with DATABASE_URL set")
    # Enough cases that a plan for an unknown limit costs more than one for 51 rows.
    Case.objects.bulk_create(CaseFactory.build(project=project) for _ in range(2000))
    with connection.cursor() as cursor:
        # Spread over a year, as real cases are: the planner then estimates a position's rows.
        cursor.execute(
            "UPDATE cases_case SET created_at = created_at - random() * interval '365 days' WHERE project_id = %s",
            [project.pk],
        )
        cursor.execute("ANALYZE cases_case")
    middle = Case.objects.filter(project=project).order_by("-created_at", "-id")[1000]
    for _ in range(10):  # prepared after 2 runs; a generic plan is weighed after 5 custom ones
        case_page(project_id=project.pk, mode=Mode.LIVE, limit=51)
        case_page(project_id=project.pk, mode=Mode.LIVE, limit=51, after=(middle.created_at, middle.pk))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE %s",
            ['%FROM "cases_case" t WHERE%'],
        )
        plans = cursor.fetchall()
    assert len(plans) == 2  # the first page, a page after a cursor
    for generic, custom in plans:
        assert generic > 0
        assert custom <= 5


def _event(case: Case) -> CaseEvent:
    return CaseEvent(
        case=case,
        created_at=case.updated_at,
        actor_type=SYSTEM.type,
        actor_id=SYSTEM.id,
        actor_name=SYSTEM.name,
        request_id="req-1",
        changes={"title": {"from": "old", "to": "Ünïcode \u2028 title"}, "status": {"from": "open", "to": "closed"}},
    )


def test_a_change_and_its_event_are_written_as_the_orm_would(project, django_assert_num_queries) -> None:
    case = CaseFactory(project=project, title="old")
    before = Case.objects.get(pk=case.pk)
    case.title, case.status = "Ünïcode \u2028 title", Status.CLOSED
    case.updated_at = timezone.now() + timedelta(seconds=5)
    event = _event(case)
    # One statement on PostgreSQL; SQLite cannot modify data in a WITH, so the INSERT is a second.
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):
        written = case_save_with_event(
            case, ["title", "status", "updated_at"], event, if_updated_at=before.updated_at, if_head=before.history_head
        )
    assert written
    stored = Case.objects.get(pk=case.pk)
    assert (stored.title, stored.status, stored.updated_at) == (case.title, Status.CLOSED, case.updated_at)
    assert (stored.description, stored.created_at) == (before.description, before.created_at)
    assert _fields(CaseEvent.objects.get(pk=event.pk)) == _fields(event)


def test_only_the_named_fields_are_written(project) -> None:
    case = CaseFactory(project=project, title="old", description="kept")
    read_at = case.updated_at
    case.title, case.description = "new", "not written"
    case.updated_at = timezone.now()
    assert case_save_with_event(
        case, ["title", "updated_at"], _event(case), if_updated_at=read_at, if_head=case.history_head
    )
    stored = Case.objects.get(pk=case.pk)
    assert (stored.title, stored.description) == ("new", "kept")


def test_a_case_written_since_it_was_read_is_not_written_again(project) -> None:
    case = CaseFactory(project=project, title="old")
    read_at = case.updated_at
    Case.objects.filter(pk=case.pk).update(title="someone else's", updated_at=read_at + timedelta(microseconds=1))
    events = CaseEvent.objects.filter(case=case).count()
    case.title, case.updated_at = "mine", timezone.now()
    assert not case_save_with_event(
        case, ["title", "updated_at"], _event(case), if_updated_at=read_at, if_head=case.history_head
    )
    assert Case.objects.get(pk=case.pk).title == "someone else's"
    assert CaseEvent.objects.filter(case=case).count() == events


def test_a_case_whose_history_moved_since_it_was_read_is_not_written(project) -> None:
    # A writer that appended to the history without moving updated_at still wins: no fork.
    case = CaseFactory(project=project, title="old")
    read_at, read_head = case.updated_at, case.history_head
    Case.objects.filter(pk=case.pk).update(history_head="f" * 64)
    events = CaseEvent.objects.filter(case=case).count()
    case.title, case.updated_at = "mine", timezone.now()
    assert not case_save_with_event(
        case, ["title", "updated_at"], _event(case), if_updated_at=read_at, if_head=read_head
    )
    assert Case.objects.get(pk=case.pk).title == "old"
    assert CaseEvent.objects.filter(case=case).count() == events


def test_no_case_means_no_event(project) -> None:
    case = CaseFactory(project=project)
    Case.objects.filter(pk=case.pk).delete()
    events = CaseEvent.objects.count()
    case.updated_at = timezone.now()
    assert not case_save_with_event(
        case, ["updated_at"], _event(case), if_updated_at=case.updated_at, if_head=case.history_head
    )
    assert CaseEvent.objects.count() == events


def _orm_subjects(case_id: str) -> list[SubjectView]:
    """A case's subjects as the ORM reads them: its order, each player's identifiers sorted."""
    return [
        SubjectView(
            player=subject.player_id,
            role=subject.role,
            name=subject.name or None,
            identifiers=sorted(
                PlayerIdentifier.objects.filter(player=subject.player).values_list("identifier", flat=True)
            ),
            player_updated_at=subject.player.updated_at,
        )
        for subject in CaseSubject.objects.filter(case_id=case_id).select_related("player").order_by("position", "id")
    ]


def test_subjects_come_with_the_case_and_with_the_page(call, project, used_token, django_assert_num_queries) -> None:
    """The case's read and the page's statement carry the subjects (no statement of their own),
    as the ORM reads them: in the case's order, identifiers sorted, a player without any."""
    specs = [
        [],
        [{"identifiers": ["steam:76561197960287930", "discord:80351110224678912"], "name": "Gabe"}],
        [{"identifiers": ["license:" + "a" * 40], "role": "reporter"}, {"identifiers": ["roblox:261"], "name": "R"}],
    ]
    ids = []
    for subjects in specs:
        r = call("POST", "/v1/cases", json_body={"title": "t", "subjects": subjects})
        assert r.status_code == 201, r.content
        ids.append(r.json()["id"])
    # A player left without identifiers (as an erasure leaves one): its subject still shows.
    PlayerIdentifier.objects.filter(identifier="roblox:261").delete()
    _case_with_files(project, 2)
    for case_id in ids:
        with django_assert_num_queries(1):
            read = case_with_evidence(case_id, project_id=project.pk, mode=Mode.LIVE)
        assert read.subject_list == _orm_subjects(case_id)
    with django_assert_num_queries(1):
        page = case_page(project_id=project.pk, mode=Mode.LIVE, limit=10)
    assert len(page) == 4
    assert {case.pk: case.subject_list for case in page} == {case.pk: _orm_subjects(case.pk) for case in page}
    assert [len(case.files) for case in page] == [2, 0, 0, 0]
