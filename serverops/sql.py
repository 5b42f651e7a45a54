"""Building blocks for the few statements the service writes as SQL instead of through the ORM.

On the hot paths, the ORM's building and compiling of a query cost more Python time than
the round trip itself (bench/PROFILE.md, section 8). Where that pays, a statement is written
once from the models' own ``_meta``, identifiers only (every value stays a parameter), and
its rows become model instances the way the ORM makes them: each column through the
backend's and the field's converters, then ``Model.from_db``. Both supported databases
quote identifiers the SQL standard's way.
"""

from __future__ import annotations

from collections.abc import Sequence
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


class Rows:
    """Model instances from the slices of a row that selected ``columns()`` of each model in turn.

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
            self.parts.append((model, names, start, start + len(fields), pk, converters))
            start += len(fields)

    def instances(self, row: Sequence[Any]) -> list[Any]:
        """One instance per model, or ``None`` for a model whose primary key is NULL (an outer join's empty side)."""
        connection = self.connection
        made: list[Any] = []
        for model, names, start, end, pk, converters in self.parts:
            if row[pk] is None:
                made.append(None)
                continue
            values = list(row[start:end])
            for index, functions, col in converters:
                for convert in functions:
                    values[index] = convert(values[index], col, connection)
            made.append(model.from_db(connection.alias, names, values))
        return made
