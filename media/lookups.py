"""``tags__has_item="x"``: a JSON array holds a string, on SQLite and PostgreSQL alike.

Django's ``__contains`` on a JSONField is PostgreSQL-only (SQLite has no ``@>``); the tag
filter of ``GET /v1/media`` must work on both, so each database gets its own SQL here,
in one place, and callers see an ordinary lookup.
"""

from __future__ import annotations

from typing import Any

from django.db.models import JSONField, Lookup
from django.db.models.sql.compiler import SQLCompiler

Sql = tuple[str, Any]


@JSONField.register_lookup
class HasItem(Lookup):
    lookup_name = "has_item"
    prepare_rhs = False

    def as_postgresql(self, compiler: SQLCompiler, connection: Any) -> Sql:
        # jsonb containment, which a GIN index on the column serves (media/migrations/0001).
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} @> jsonb_build_array({rhs}::text)", [*lhs_params, *rhs_params]

    def as_sqlite(self, compiler: SQLCompiler, connection: Any) -> Sql:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        # lhs is a column reference and rhs a placeholder, both from the compiler: no value is interpolated.
        sql = f"EXISTS (SELECT 1 FROM json_each({lhs}) WHERE json_each.type = 'text' AND json_each.value = {rhs})"  # noqa: S608
        return sql, [*lhs_params, *rhs_params]

    def as_sql(self, compiler: SQLCompiler, connection: Any) -> Sql:
        raise NotImplementedError(f"has_item is not implemented for {connection.vendor}")
