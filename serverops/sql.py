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
from typing import Any

from django.db import connections
from django.db.models import Model


def quote(name: str) -> str:
    """An identifier, quoted for PostgreSQL and SQLite alike."""
    return '"' + name.replace('"', '""') + '"'


def table(model: type[Model]) -> str:
    return quote(model._meta.db_table)


def columns(model: type[Model], alias: str) -> str:
    """Every concrete column of ``model``, in field order, qualified by ``alias``."""
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields if field.column)


class Rows:
    """Model instances from the slices of a row that selected ``columns()`` of each model in turn."""

    def __init__(self, using: str, *models: type[Model]) -> None:
        connection = connections[using]
        self.using = using
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
            self.parts.append((model, names, start, start + len(fields), converters))
            start += len(fields)

    def instances(self, row: Sequence[Any]) -> list[Any]:
        """One instance per model, or ``None`` for a model whose primary key is NULL (an outer join's empty side)."""
        connection = connections[self.using]
        made: list[Any] = []
        for model, names, start, end, converters in self.parts:
            values = list(row[start:end])
            if values[model._meta.concrete_fields.index(model._meta.pk)] is None:
                made.append(None)
                continue
            for index, functions, col in converters:
                for convert in functions:
                    values[index] = convert(values[index], col, connection)
            made.append(model.from_db(self.using, names, values))
        return made
