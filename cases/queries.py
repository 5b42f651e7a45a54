"""The API's hottest statements, written as SQL: a case with its evidence, a page of cases and
the page's evidence, a change.

Built by the ORM, the joined read of a case and its files cost 4 ms of Python per request on
the benchmark machine (23 annotations resolved and compiled each time), the same SQL run
directly 0.35 ms; the list's page, its evidence through ``prefetch_related`` and the change's
UPDATE and history INSERT paid the same tax (bench/PROFILE.md, sections 8 and 9). The statements are
written once per database from the models' own ``_meta`` (tables, columns, and each field's
conversion of values to and from the database), so a new column reaches them without an edit
here, and ``tests/cases/test_queries.py`` pins what they return and write on SQLite and
PostgreSQL against what the ORM returns and writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from django.db import connections
from django.db.models import Field, Model

from media.models import File
from serverops.pagination import Position
from serverops.sql import Rows, column, columns, select, table

from .models import Attachment, Case, CaseEvent


def _link_to(link: Attachment, case: Case, file: File) -> None:
    # As select_related fills its caches: the descriptors' checks are for values set by hand.
    _CASE.set_cached_value(link, case)
    _FILE.set_cached_value(link, file)


def _set_evidence(case: Case, links: list[Attachment]) -> None:
    """``Case.evidence``, and ``Case.files`` with it: a case read again never keeps its old files."""
    case.evidence = links
    case.files = [link.file for link in links]


_CASE = Attachment._meta.get_field("case")
_FILE = Attachment._meta.get_field("file")


@cache
def _case_sql(*, narrowed: bool) -> str:
    where = "c.id = %s" + (" AND c.project_id = %s AND c.mode = %s" if narrowed else "")
    return (
        f"SELECT {columns(Case, 'c')}, {columns(Attachment, 'a')}, {columns(File, 'f')} "
        f"FROM {table(Case)} c "
        f"LEFT OUTER JOIN {table(Attachment)} a ON a.case_id = c.id "
        f"LEFT OUTER JOIN {table(File)} f ON f.id = a.file_id "
        f"WHERE {where} ORDER BY a.position, a.id"
    )


def case_with_evidence(
    case_id: str, *, project_id: str | None = None, mode: str | None = None, lock: bool = False, using: str = "default"
) -> Case:
    """The case ``case_id`` with ``Case.evidence`` (its attachments, each with its file, in the
    case's order), read in one statement.

    ``project_id`` and ``mode`` narrow it to a token's cases (both or neither). ``lock`` first
    takes the case's row lock, in a statement of its own, so that the read sees what the last
    writer committed and nobody writes the case until the transaction ends (a lock taken by
    the joined read itself would leave its attachments as they were before the wait). On
    SQLite the write transaction already holds the database. Raises ``Case.DoesNotExist``
    when there is no such case.
    """
    narrowed = project_id is not None
    params = [case_id, project_id, mode] if narrowed else [case_id]
    connection = connections[using]
    with connection.cursor() as cursor:
        if lock and connection.features.has_select_for_update:
            cursor.execute(f"SELECT 1 FROM {table(Case)} WHERE {column(Case, 'id')} = %s FOR UPDATE", [case_id])
        cursor.execute(_case_sql(narrowed=narrowed), params)
        rows = cursor.fetchall()
    if not rows:
        raise Case.DoesNotExist(f"no case {case_id}")
    reader = Rows.of(using, Case, Attachment, File)
    case: Case = reader.instances(rows[0])[0]
    evidence: list[Attachment] = []
    for row in rows:
        _, link, file = reader.instances(row)
        if link is None:  # a case without evidence: its one row has no attachment
            break
        _link_to(link, case, file)
        evidence.append(link)
    _set_evidence(case, evidence)
    return case


def case_page(
    *,
    project_id: str,
    mode: str,
    limit: int,
    after: Position | None = None,
    status: str | None = None,
    using: str = "default",
) -> list[Case]:
    """Up to ``limit`` of a project's cases of one ``mode`` (of one ``status``, when given),
    newest first by ``(created_at, id)``, after the position ``after`` (a case's ``created_at``
    and id) or from the newest: what ``KeysetPagination`` reads through the ORM for the list,
    in one statement.

    Through the ORM, building and compiling that queryset cost 420 µs of the 1,220 µs a page
    of 51 took on the benchmark machine; as SQL the page takes 516 µs (bench/PROFILE.md, section 9).
    """
    connection = connections[using]
    created_at = f"t.{column(Case, 'created_at')}"
    where = [f"t.{column(Case, 'project')} = %s", f"t.{column(Case, 'mode')} = %s"]
    params: list[Any] = [project_id, mode]
    if status is not None:
        where.append(f"t.{column(Case, 'status')} = %s")
        params.append(status)
    if after is not None:
        at = _field(Case, "created_at").get_db_prep_value(after[0], connection)
        # As the paginator's filter: the plain bound walks the index, the OR settles ties by id.
        where.append(
            f"{created_at} <= %s AND ({created_at} < %s OR ({created_at} = %s AND t.{column(Case, 'id')} < %s))"
        )
        params += [at, at, at, after[1]]
    # The limit is written into the statement: as a parameter, PostgreSQL's generic plan
    # guessed 100 rows and so cost more than a plan for the actual limit, and the prepared
    # statement was planned anew on every run (85 µs of its CPU per page).
    order = f"ORDER BY {created_at} DESC, t.{column(Case, 'id')} DESC LIMIT {int(limit)}"
    return select(Case, f"{' AND '.join(where)} {order}", params, using=using)


def load_evidence(cases: Iterable[Case], *, using: str = "default") -> None:
    """Set ``Case.evidence`` (and ``Case.files``) on each of ``cases``, for all of them in one
    statement (none for no cases)."""
    by_id = {case.pk: case for case in cases}
    evidence: dict[str, list[Attachment]] = {pk: [] for pk in by_id}
    if by_id:
        where, params = _of_cases(list(by_id), using)
        sql = (
            f"SELECT {columns(Attachment, 'a')}, {columns(File, 'f')} "
            f"FROM {table(Attachment)} a INNER JOIN {table(File)} f ON f.id = a.file_id "
            f"WHERE {where} ORDER BY a.position, a.id"
        )
        reader = Rows.of(using, Attachment, File)
        for row in _fetch(sql, params, using):
            link, file = reader.instances(row)
            case = by_id[link.case_id]
            _link_to(link, case, file)
            evidence[case.pk].append(link)
    for pk, case in by_id.items():
        _set_evidence(case, evidence[pk])


def load_files(cases: Iterable[Case], *, using: str = "default") -> None:
    """Set ``Case.files`` on each of ``cases``, for all of them in one statement (none for no
    cases): what their representations need, without the links ``load_evidence`` also reads.

    For a page of 50 cases with 79 files, the links' 8 columns and instances were a fifth of
    the statement's cost on the benchmark machine (bench/PROFILE.md, section 10).
    """
    cases = list(cases)
    files: dict[str, list[File]] = {case.pk: [] for case in cases}
    if files:
        where, params = _of_cases(list(files), using)
        # The case's id last: the row's first columns are the file's, as Rows reads them.
        sql = (
            f"SELECT {columns(File, 'f')}, a.{column(Attachment, 'case')} "
            f"FROM {table(Attachment)} a INNER JOIN {table(File)} f ON f.id = a.file_id "
            f"WHERE {where} ORDER BY a.position, a.id"
        )
        reader = Rows.of(using, File)
        for row in _fetch(sql, params, using):
            files[row[-1]].append(reader.instances(row)[0])
    for case in cases:
        case.files = files[case.pk]


def _of_cases(ids: list[str], using: str) -> tuple[str, list[Any]]:
    """The condition ``a.case_id`` is one of ``ids`` (at least one), and its parameters."""
    if connections[using].vendor == "postgresql":
        # One array parameter: one statement text whatever the page size. With 50 separate
        # parameters PostgreSQL planned the statement anew on every run (1.5 ms of its CPU,
        # the estimate of 50 values against the column's statistics) instead of reusing
        # the prepared plan.
        return f"a.{column(Attachment, 'case')} = ANY(%s)", [ids]
    return f"a.{column(Attachment, 'case')} IN ({', '.join(['%s'] * len(ids))})", ids


def _fetch(sql: str, params: Sequence[Any], using: str) -> list[tuple[Any, ...]]:
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    return rows


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.get_field(name)
    assert isinstance(field, Field), f"{name} is not a column of {model.__name__}"
    return field


def _prepared(instance: Model, fields: Iterable[str], using: str) -> list[Any]:
    connection = connections[using]
    return [_field(type(instance), name).get_db_prep_save(getattr(instance, name), connection) for name in fields]


def case_save_with_event(
    case: Case, fields: Sequence[str], event: CaseEvent, *, if_updated_at: datetime, using: str = "default"
) -> bool:
    """Write ``fields`` of ``case`` (whose values the caller has set, ``updated_at`` among them)
    and INSERT ``event``, its history event, in the caller's transaction, if the case's stored
    ``updated_at`` is still ``if_updated_at``; returns whether it was (compare-and-set).

    Every write of a case moves its ``updated_at``, so a False means another writer changed
    the case after the caller read it, and nothing was written. The UPDATE holds the row
    lock until the transaction ends. One statement on PostgreSQL (the UPDATE in a
    data-modifying ``WITH``, the INSERT reading its result, so the event is written only with
    the change); two on SQLite, whose ``WITH`` cannot modify data. ``event`` must carry its
    id and ``created_at``.
    """
    connection = connections[using]
    assignments = ", ".join(f"{column(Case, name)} = %s" for name in fields)
    where = f"{column(Case, 'id')} = %s AND {column(Case, 'updated_at')} = %s"
    update = f"UPDATE {table(Case)} SET {assignments} WHERE {where}"
    update_params = [
        *_prepared(case, fields, using),
        case.pk,
        _field(Case, "updated_at").get_db_prep_save(if_updated_at, connection),
    ]
    event_fields = list(CaseEvent._meta.concrete_fields)
    event_columns = ", ".join(column(CaseEvent, field.attname) for field in event_fields)
    event_params = _prepared(event, [field.attname for field in event_fields], using)
    values = ", ".join(["%s"] * len(event_fields))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH changed AS ({update} RETURNING 1) "
                f"INSERT INTO {table(CaseEvent)} ({event_columns}) SELECT {values} FROM changed",
                [*update_params, *event_params],
            )
            return bool(cursor.rowcount == 1)
        cursor.execute(update, update_params)
        if cursor.rowcount != 1:
            return False
        cursor.execute(f"INSERT INTO {table(CaseEvent)} ({event_columns}) VALUES ({values})", event_params)
        return True
