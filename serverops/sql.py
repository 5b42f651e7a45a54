"""Building blocks for the few statements the service writes as SQL instead of through the ORM.

On the hot paths, the ORM's building and compiling of a query cost more Python time than
the round trip itself (bench/PROFILE.md, section 8). Where that pays, a statement is written
once from the models' own ``_meta``, identifiers only (every value stays a parameter), and
its rows become model instances the way the ORM makes them: each column through the
backend's and the field's converters, then ``Model.from_db``; or, for rows only read, records
of those same values, as ``values_list(named=True)`` gives them. Both supported databases
quote identifiers the SQL standard's way.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from functools import cache
from operator import itemgetter
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

M = TypeVar("M", bound=Model)


def quote(name: str) -> str:
    """An identifier, quoted for PostgreSQL and SQLite alike."""
    return '"' + name.replace('"', '""') + '"'


def table(model: type[Model]) -> str:
    return quote(model._meta.db_table)


def column(model: type[Model], name: str) -> str:
    """The quoted column of ``model``'s field ``name``."""
    field = model._meta.get_field(name)
    name_in_db = getattr(field, "column", None)
    assert isinstance(name_in_db, str), f"{name} is not a column of {model.__name__}"
    return quote(name_in_db)


def select(model: type[M], where: str, params: Sequence[Any], *, using: str = "default") -> list[M]:
    """Every row of ``model``'s table matching ``where`` (SQL on the table aliased ``t``, values as
    ``%s`` parameters), as instances with every field loaded, in one statement."""
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT {columns(model, 't')} FROM {table(model)} t WHERE {where}", params)  # noqa: S608
        rows = cursor.fetchall()
    reader = Rows.of(using, model)
    return [reader.instances(row)[0] for row in rows]


def columns(model: type[Model], alias: str) -> str:
    """Every concrete column of ``model``, in field order, qualified by ``alias``."""
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields if field.column)


@cache
def record_type(model: type[Model]) -> type[Any]:
    """The record of one row of ``model``'s table: a named tuple of every column by attribute
    name (a file field's stored name, a foreign key's id), as ``values_list(named=True)`` gives
    them, with ``pk``.

    A page of 50 cases lists up to 200 rows, and a record is a tenth of a model instance's cost
    (0.3 µs against 2.6 µs per File on the benchmark machine). Like an instance, a record takes
    attributes of its own (``cases.queries.case_page`` sets each case's ``files``).
    """
    fields = model._meta.concrete_fields
    row = namedtuple(f"{model.__name__}Record", [field.attname for field in fields])  # type: ignore[misc]
    attributes = {"pk": property(itemgetter(fields.index(model._meta.pk))), "__module__": model.__module__}
    return type(row.__name__, (row,), attributes)


class Rows:
    """Model instances, or records, from the slices of a row that selected ``columns()`` of each
    model in turn.

    ``Rows.of(using, *models)`` keeps one per connection and models: what converts each
    column is worked out once, not per statement.
    """

    _made: WeakKeyDictionary[BaseDatabaseWrapper, dict[tuple[type[Model], ...], Rows]] = WeakKeyDictionary()

    @classmethod
    def of(cls, using: str, *models: type[Model]) -> Rows:
        connection = connections[using]
        per_connection = cls._made.setdefault(connection, {})
        rows = per_connection.get(models)
        if rows is None:
            rows = per_connection[models] = cls(connection, *models)
        return rows

    def __init__(self, connection: BaseDatabaseWrapper, *models: type[Model]) -> None:
        self.connection = connection
        self.parts = []
        start = 0
        for model in models:
            fields = model._meta.concrete_fields
            # As the ORM's compiler asks for them: the backend's converters, then the field's.
            converters = []
            for index, field in enumerate(fields):
                col = field.cached_col
                functions = [*connection.ops.get_db_converters(col), *col.get_db_converters(connection)]
                if functions:
                    converters.append((index, functions, col))
            names = [field.attname for field in fields]
            pk = start + fields.index(model._meta.pk)
            self.parts.append((model, names, start, start + len(fields), pk, converters, record_type(model)))
            start += len(fields)

    def instances(self, row: Sequence[Any]) -> list[Any]:
        """One instance per model, or ``None`` for a model whose primary key is NULL (an outer join's empty side)."""
        alias = self.connection.alias
        made: list[Any] = []
        for model, names, start, end, pk, converters, _ in self.parts:
            if row[pk] is None:
                made.append(None)
            else:
                made.append(model.from_db(alias, names, self._values(row[start:end], converters)))
        return made

    def records(self, row: Sequence[Any]) -> list[Any]:
        """One ``record_type`` record per model, or ``None`` for a model whose primary key is NULL."""
        made: list[Any] = []
        for _, _, start, end, pk, converters, record in self.parts:
            if row[pk] is None:
                made.append(None)
            else:
                made.append(record._make(self._values(row[start:end], converters)))
        return made

    def _values(self, values: Sequence[Any], converters: list[Any]) -> Sequence[Any]:
        """One model's slice of a row, each column as the ORM converts it."""
        if not converters:
            return values
        connection = self.connection
        values = list(values)
        for index, functions, col in converters:
            for convert in functions:
                values[index] = convert(values[index], col, connection)
        return values
