"""The API's hottest statements, written as SQL: a case with its evidence, a page of cases with
their files, the evidence of several cases, a change.

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

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

from media.models import File
from players.models import Player, PlayerIdentifier
from serverops.pagination import Position, keyset_params, keyset_sql
from serverops.sql import Rows, column, columns, table

from .assignees import name_join, name_sql
from .models import Attachment, Case, CaseEvent, CaseSubject, SubjectView

if TYPE_CHECKING:
    from .serializers import CaseRow


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


def _width(*models: type[Model]) -> int:
    return sum(len(model._meta.concrete_fields) for model in models)


def _nulls(*models: type[Model], connection: BaseDatabaseWrapper | None = None) -> str:
    """A NULL for every column of ``models``: the other kinds' columns on a row of a ``UNION ALL``;
    with ``connection``, each cast to its column's type."""
    if connection is None:
        return ", ".join(["NULL"] * _width(*models))
    return ", ".join(
        f"CAST(NULL AS {field.cast_db_type(connection)})" for model in models for field in model._meta.concrete_fields
    )


_SUBJECT_MODELS = (CaseSubject, Player, PlayerIdentifier)


def _subject_columns() -> str:
    """A subject's columns, its player's and one of the player's identifiers' (NULLs for a player without any)."""
    return f"{columns(CaseSubject, 's')}, {columns(Player, 'pl')}, {columns(PlayerIdentifier, 'i')}"


def _player_joins() -> str:
    """A subject's player and each of the player's identifiers, joined to a subject aliased ``s``."""
    return (
        f"INNER JOIN {table(Player)} pl ON pl.{column(Player, 'id')} = s.{column(CaseSubject, 'player')} "
        f"LEFT OUTER JOIN {table(PlayerIdentifier)} i "
        f"ON i.{column(PlayerIdentifier, 'player')} = pl.{column(Player, 'id')}"
    )


def _subjects_from() -> str:
    """The subjects with their players and each player's identifiers (aliases ``s``, ``pl``, ``i``)."""
    return f"{table(CaseSubject)} s {_player_joins()}"


def _subject_views(rows: Iterable[Sequence[Any]]) -> list[SubjectView]:
    """One case's subjects from its rows of ``(subject, player, identifier)`` records, in the
    rows' order, each with its player's identifiers sorted as strings."""
    found: dict[int, tuple[Any, Any, list[str]]] = {}
    for subject, player, identifier in rows:
        entry = found.setdefault(subject.id, (subject, player, []))
        if identifier is not None:
            entry[2].append(identifier.identifier)
    return [
        SubjectView(
            player=subject.player_id,
            role=subject.role,
            name=subject.name or None,
            identifiers=sorted(identifiers),
            player_updated_at=player.updated_at,
        )
        for subject, player, identifiers in found.values()
    ]


@cache
def _case_sql(*, narrowed: bool) -> str:
    """``case_with_evidence``'s statement: the case with each of its files (a join) and its
    assignee's name, then its subjects (``UNION ALL``), each row NULL where the other kind has
    columns, ordered by kind and then each kind's own order (the last three columns)."""
    where = "c.id = %s" + (" AND c.project_id = %s AND c.mode = %s" if narrowed else "")
    width = _width(Case, Attachment, File, *_SUBJECT_MODELS) + 1
    return (
        f"SELECT {columns(Case, 'c')}, {columns(Attachment, 'a')}, {columns(File, 'f')}, {name_sql('u')}, "
        f"{_nulls(*_SUBJECT_MODELS)}, 0, a.{column(Attachment, 'position')}, a.{column(Attachment, 'id')} "
        f"FROM {table(Case)} c "
        f"LEFT OUTER JOIN {table(Attachment)} a ON a.case_id = c.id "
        f"LEFT OUTER JOIN {table(File)} f ON f.id = a.file_id "
        f"{name_join('c.' + column(Case, 'assignee'), 'm', 'u')} "
        f"WHERE {where} "
        "UNION ALL "
        f"SELECT {_nulls(Case, Attachment, File)}, NULL, {_subject_columns()}, "
        f"1, s.{column(CaseSubject, 'position')}, s.{column(CaseSubject, 'id')} "
        f"FROM {_subjects_from()} WHERE s.{column(CaseSubject, 'case')} = %s "
        f"ORDER BY {width + 1}, {width + 2}, {width + 3}"
    )


def case_with_evidence(
    case_id: str, *, project_id: str | None = None, mode: str | None = None, lock: bool = False, using: str = "default"
) -> Case:
    """The case ``case_id`` with ``Case.evidence`` (its attachments, each with its file, in the
    case's order), ``Case.subject_list`` and ``Case.assignee_name``, read in one statement.

    ``project_id`` and ``mode`` narrow it to a token's cases (both or neither). ``lock`` first
    takes the case's row lock, in a statement of its own, so that the read sees what the last
    writer committed and nobody writes the case until the transaction ends (a lock taken by
    the joined read itself would leave its attachments as they were before the wait). On
    SQLite the write transaction already holds the database. Raises ``Case.DoesNotExist``
    when there is no such case.

    The subjects come in the same statement (a ``UNION ALL``), not in a second one: a GET is
    two round trips (the token, the case) and a PATCH one fewer (bench/PROFILE.md, section 14).
    """
    narrowed = project_id is not None
    params = [case_id, project_id, mode, case_id] if narrowed else [case_id, case_id]
    connection = connections[using]
    with connection.cursor() as cursor:
        if lock and connection.features.has_select_for_update:
            cursor.execute(f"SELECT 1 FROM {table(Case)} WHERE {column(Case, 'id')} = %s FOR UPDATE", [case_id])
        cursor.execute(_case_sql(narrowed=narrowed), params)
        rows = cursor.fetchall()
    reader, subject_reader = Rows.of(using, Case, Attachment, File), Rows.of(using, *_SUBJECT_MODELS)
    case_pk, width = Case._meta.concrete_fields.index(Case._meta.pk), _width(Case, Attachment, File)
    case: Case | None = None
    evidence: list[Attachment] = []
    subjects: list[list[Any]] = []
    for row in rows:
        if row[case_pk] is None:
            subjects.append(subject_reader.records(row[width + 1 :]))
            continue
        made, link, file = reader.instances(row)
        if case is None:
            case = made
            case.assignee_name = row[width]  # after the columns ``reader`` reads
        if link is not None:  # a case without evidence: its one row has no attachment
            _link_to(link, case, file)
            evidence.append(link)
    if case is None:
        # The subjects of a case outside the token's project and mode may have come: not its own.
        raise Case.DoesNotExist(f"no case {case_id}")
    _set_evidence(case, evidence)
    case.subject_list = _subject_views(subjects)
    return case


@cache
def _page_sql(
    using: str,
    *,
    status: bool,
    after: bool,
    limit: int,
    subjects: tuple[str, ...] = (),
    priority: bool = False,
    assignee: str | None = None,
    label: bool = False,
) -> str:
    """``case_page``'s statement: the page (a ``WITH``), its files and its subjects, one row
    each (``UNION ALL``), each row NULL where the other kinds have columns, sorted so that every
    case's row (with its assignee's name) comes before its files' rows, then its subjects'. A
    case's description is not repeated on each of its files' rows, as a join would repeat it.
    ``assignee`` is ``"member"`` (a parameter) or ``"none"``."""
    connection = connections[using]
    vendor = connection.vendor
    created_at, pk = f"t.{column(Case, 'created_at')}", f"t.{column(Case, 'id')}"
    where = [f"t.{column(Case, 'project')} = %s", f"t.{column(Case, 'mode')} = %s"]
    if status:
        where.append(f"t.{column(Case, 'status')} = %s")
    if priority:
        where.append(f"t.{column(Case, 'priority')} = %s")
    if assignee == "none":
        where.append(f"t.{column(Case, 'assignee')} IS NULL")
    elif assignee is not None:
        where.append(f"t.{column(Case, 'assignee')} = %s")
    if label:
        labels = f"t.{column(Case, 'labels')}"
        if vendor == "postgresql":
            where.append(f"{labels} @> %s::jsonb")
        else:
            where.append(f"EXISTS (SELECT 1 FROM json_each({labels}) WHERE json_each.value = %s)")
    for subject in subjects:
        if subject == "identifier":
            # Every player seen with the identifier: one for a strong one, any number for a weak one.
            players = (
                f"SELECT i.{column(PlayerIdentifier, 'player')} FROM {table(PlayerIdentifier)} i "
                f"WHERE i.{column(PlayerIdentifier, 'project')} = %s AND i.{column(PlayerIdentifier, 'mode')} = %s "
                f"AND i.{column(PlayerIdentifier, 'identifier')} = %s"
            )
        else:
            # The player, or the one it was merged into.
            players = (
                f"SELECT COALESCE(pl.{column(Player, 'merged_into')}, pl.{column(Player, 'id')}) "
                f"FROM {table(Player)} pl WHERE pl.{column(Player, 'project')} = %s "
                f"AND pl.{column(Player, 'mode')} = %s AND pl.{column(Player, 'id')} = %s"
            )
        where.append(
            f"t.{column(Case, 'id')} IN (SELECT s.{column(CaseSubject, 'case')} FROM {table(CaseSubject)} s "
            f"WHERE s.{column(CaseSubject, 'player')} IN ({players}))"
        )
    if after:
        where.append(keyset_sql(created_at, pk))
    # The limit is written into the statement: as a parameter, PostgreSQL's generic plan
    # guessed 100 rows and so cost more than a plan for the actual limit, and the prepared
    # statement was planned anew on every run (85 µs of its CPU per page).
    page = (
        f"SELECT {columns(Case, 't')} FROM {table(Case)} t WHERE {' AND '.join(where)} "
        f"ORDER BY {created_at} DESC, {pk} DESC LIMIT {int(limit)}"
    )
    case_at, case_id = f"p.{column(Case, 'created_at')}", f"p.{column(Case, 'id')}"
    links = f"{table(Attachment)} a ON a.{column(Attachment, 'case')} = {case_id}"
    if vendor == "postgresql":
        # Each case's links through the index on (case, position), whatever the table's size:
        # OFFSET 0 keeps PostgreSQL from merging the subquery into a join that it may run as a
        # hash of every link (as it did for the benchmark's 1,446 links: 200 µs more of its CPU).
        links = (
            f"LATERAL (SELECT * FROM {table(Attachment)} a "
            f"WHERE a.{column(Attachment, 'case')} = {case_id} OFFSET 0) a ON TRUE"
        )
    subject_join = f"{table(CaseSubject)} s ON s.{column(CaseSubject, 'case')} = {case_id} {_player_joins()}"
    if vendor == "postgresql":
        # As the links: each case's subjects through the index on (case, position).
        subject_join = (
            f"LATERAL (SELECT * FROM {table(CaseSubject)} s WHERE s.{column(CaseSubject, 'case')} = {case_id} "
            f"OFFSET 0) s ON TRUE {_player_joins()}"
        )
    # Every column of a case, of a file, the assignee's name (on a case's row), then a subject's.
    names = ", ".join(f"c{n}" for n in range(_width(Case, File, *_SUBJECT_MODELS) + 1))
    # Sorted by keys the outer SELECT leaves out: 130 values fewer to send and read.
    return (
        f"WITH p AS ({page}), u({names}, sort_at, sort_id, sort_kind, sort_position, sort_link) AS ("
        # The subjects' NULLs typed: PostgreSQL would take two untyped NULLs for text.
        f"SELECT {columns(Case, 'p')}, {_nulls(File)}, {name_sql('au')}, "
        f"{_nulls(*_SUBJECT_MODELS, connection=connection)}, {case_at}, {case_id}, 0, 0, 0 FROM p "
        f"{name_join('p.' + column(Case, 'assignee'), 'am', 'au')} "
        "UNION ALL "
        f"SELECT {_nulls(Case)}, {columns(File, 'f')}, NULL, {_nulls(*_SUBJECT_MODELS)}, {case_at}, {case_id}, 1, "
        f"a.{column(Attachment, 'position')}, a.{column(Attachment, 'id')} FROM p INNER JOIN {links} "
        f"INNER JOIN {table(File)} f ON f.{column(File, 'id')} = a.{column(Attachment, 'file')} "
        "UNION ALL "
        f"SELECT {_nulls(Case, File)}, NULL, {_subject_columns()}, {case_at}, {case_id}, 2, "
        f"s.{column(CaseSubject, 'position')}, s.{column(CaseSubject, 'id')} FROM p INNER JOIN {subject_join}) "
        f"SELECT {names} FROM u ORDER BY sort_at DESC, sort_id DESC, sort_kind, sort_position, sort_link"
    )


def case_page(
    *,
    project_id: str,
    mode: str,
    limit: int,
    after: Position | None = None,
    status: str | None = None,
    identifier: str | None = None,
    player: str | None = None,
    priority: str | None = None,
    assignee: str | None = None,
    label: str | None = None,
    using: str = "default",
) -> list[CaseRow]:
    """Up to ``limit`` of a project's cases of one ``mode`` (of one ``status``, when given; with
    a subject holding the canonical ``identifier``, or the player ``player``, when given; of one
    ``priority``, with the ``assignee`` (a member id, or ``"none"`` for no one) or the ``label``
    (exactly as stored), when given), newest first by ``(created_at, id)``, after the position
    ``after`` (a case's ``created_at`` and id) or from the newest, in one statement: the page
    ``KeysetPagination`` reads through the ORM, with what its representations need and not the
    links themselves.

    Each case is a record of its row (``serverops.sql.record_type``: its columns by attribute
    name, and ``pk``) with ``files``, records of the files it lists as evidence, in its order:
    ``CaseRow``s, which ``case_representation`` reads as it reads a Case. The page is only read, and 51
    cases and their files as model instances cost 350 µs more per page (bench/PROFILE.md,
    section 11). Through the ORM, building and compiling the page's queryset cost 420 µs of
    the 1,220 µs a page of 51 took on the benchmark machine, and its files a second statement
    (sections 9 and 10).
    """
    connection = connections[using]
    params: list[Any] = [project_id, mode]
    if status is not None:
        params.append(status)
    if priority is not None:
        params.append(priority)
    if assignee is not None and assignee != "none":
        params.append(assignee)
    if label is not None:
        params.append(json.dumps([label]) if connection.vendor == "postgresql" else label)
    subjects: tuple[str, ...] = ()
    if identifier is not None:
        subjects += ("identifier",)
        params += [project_id, mode, identifier]
    if player is not None:
        subjects += ("player",)
        params += [project_id, mode, player]
    if after is not None:
        params += keyset_params(Case, after, connection)
    sql = _page_sql(
        using,
        status=status is not None,
        after=after is not None,
        limit=limit,
        subjects=subjects,
        priority=priority is not None,
        assignee=None if assignee is None else "none" if assignee == "none" else "member",
        label=label is not None,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    reader, subject_reader = Rows.of(using, Case, File), Rows.of(using, *_SUBJECT_MODELS)
    width = _width(Case, File)
    cases: list[Any] = []
    subject_rows: list[list[Any]] = []
    for row in rows:
        case, file = reader.records(row[:width])
        if case is not None:
            if cases:
                cases[-1].subject_list = _subject_views(subject_rows)
            case.files, subject_rows = [], []
            case.assignee_name = row[width]
            cases.append(case)
        elif file is not None:
            cases[-1].files.append(file)
        else:
            subject_rows.append(subject_reader.records(row[width + 1 :]))
    if cases:
        cases[-1].subject_list = _subject_views(subject_rows)
    return cases


def load_evidence(cases: Iterable[Case], *, using: str = "default") -> None:
    """Set ``Case.evidence`` (and ``Case.files``) on each of ``cases``, for all of them in one
    statement (none for no cases)."""
    by_id = {case.pk: case for case in cases}
    evidence: dict[str, list[Attachment]] = {pk: [] for pk in by_id}
    if by_id:
        connection = connections[using]
        ids = list(by_id)
        params: list[Any]
        if connection.vendor == "postgresql":
            # One array parameter: one statement text whatever the page size. With 50 separate
            # parameters PostgreSQL planned the statement anew on every run (1.5 ms of its CPU,
            # the estimate of 50 values against the column's statistics) instead of reusing
            # the prepared plan.
            where, params = "a.case_id = ANY(%s)", [ids]
        else:
            where, params = f"a.case_id IN ({', '.join(['%s'] * len(ids))})", ids
        sql = (
            f"SELECT {columns(Attachment, 'a')}, {columns(File, 'f')} "
            f"FROM {table(Attachment)} a INNER JOIN {table(File)} f ON f.id = a.file_id "
            f"WHERE {where} ORDER BY a.position, a.id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        reader = Rows.of(using, Attachment, File)
        for row in rows:
            link, file = reader.instances(row)
            case = by_id[link.case_id]
            _link_to(link, case, file)
            evidence[case.pk].append(link)
    for pk, case in by_id.items():
        _set_evidence(case, evidence[pk])


@cache
def _subjects_sql(count: int) -> str:
    # One parameter per case, not PostgreSQL's ``= ANY(%s)``: a prepared statement's generic plan
    # guesses an array of 10, costlier than the plan for the one case of a GET or PATCH, so
    # PostgreSQL planned this statement anew on every request (bench/PROFILE.md, section 15).
    where = f"s.case_id IN ({', '.join(['%s'] * count)})"
    return f"SELECT {_subject_columns()} FROM {_subjects_from()} WHERE {where} ORDER BY s.case_id, s.position, s.id"


def load_subjects(cases: Iterable[Any], *, using: str = "default") -> None:
    """Set ``subject_list`` on each of ``cases`` (Cases, or ``case_page``'s records): its
    subjects in the case's order, each with its player's identifiers sorted as strings, for
    all of them in one statement (none for no cases)."""
    by_id = {case.pk: case for case in cases}
    found: dict[str, list[list[Any]]] = {pk: [] for pk in by_id}
    if by_id:
        ids = list(by_id)
        with connections[using].cursor() as cursor:
            cursor.execute(_subjects_sql(len(ids)), ids)
            rows = cursor.fetchall()
        reader = Rows.of(using, *_SUBJECT_MODELS)
        for row in rows:
            made = reader.records(row)
            found[made[0].case_id].append(made)
    for pk, case in by_id.items():
        case.subject_list = _subject_views(found[pk])


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.get_field(name)
    assert isinstance(field, Field), f"{name} is not a column of {model.__name__}"
    return field


def _prepared(instance: Model, fields: Iterable[str], using: str) -> list[Any]:
    connection = connections[using]
    return [_field(type(instance), name).get_db_prep_save(getattr(instance, name), connection) for name in fields]


def case_save_with_event(
    case: Case,
    fields: Sequence[str],
    event: CaseEvent,
    *,
    if_updated_at: datetime,
    if_head: str,
    using: str = "default",
) -> bool:
    """Write ``fields`` of ``case`` (whose values the caller has set, ``updated_at`` and
    ``history_head`` among them) and INSERT ``event``, its history event chained to the head
    ``if_head``, in the caller's transaction, if the case's stored ``updated_at`` and
    ``history_head`` are still ``if_updated_at`` and ``if_head``; returns whether they were
    (compare-and-set).

    Every write of a case moves its ``updated_at``, and every event its head, so a False means
    another writer changed the case or its history after the caller read it, and nothing was
    written: the chain cannot fork. The UPDATE holds the row
    lock until the transaction ends. One statement on PostgreSQL (the UPDATE in a
    data-modifying ``WITH``, the INSERT reading its result, so the event is written only with
    the change); two on SQLite, whose ``WITH`` cannot modify data. ``event`` must carry its
    id and ``created_at``.
    """
    connection = connections[using]
    assignments = ", ".join(f"{column(Case, name)} = %s" for name in fields)
    where = f"{column(Case, 'id')} = %s AND {column(Case, 'updated_at')} = %s AND {column(Case, 'history_head')} = %s"
    update = f"UPDATE {table(Case)} SET {assignments} WHERE {where}"
    update_params = [
        *_prepared(case, fields, using),
        case.pk,
        _field(Case, "updated_at").get_db_prep_save(if_updated_at, connection),
        if_head,
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
