"""Keyset pagination, newest first by ``(created_at, id)``, with an opaque cursor (docs/api.md#paging).

A page is found by its position, not an offset: page 10,000 costs what page 1 costs,
and rows inserted while a client pages can neither repeat nor hide a row.

A cursor is signed (``django.core.signing``, with a salt per list), so the only cursors
the service ever parses are ones it issued for that very list: a forged or edited one
(an impossible timestamp, another list's cursor) is a 400 before anything reaches the
database. Rotating ``SECRET_KEY`` (without ``SECRET_KEY_FALLBACKS``) invalidates cursors
in flight; clients start again from the first page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core import signing
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, Model, QuerySet
from django.db.models.expressions import RawSQL
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

from .ids import id_regex
from .parsers import whole_number
from .sql import column, table

MAX_CURSOR_LENGTH = 300
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

#: A row's place in a list: its ``created_at`` and its id.
Position = tuple[datetime, str]


def _signer(salt: str) -> signing.Signer:
    return signing.Signer(salt=f"serverops.pagination.{salt}")


def encode_cursor(created_at: datetime, pk: str, *, salt: str) -> str:
    """An opaque, signed position: the row's ``created_at`` in UTC microseconds and its id."""
    return _signer(salt).sign_object([(created_at - _EPOCH) // _MICROSECOND, pk])


def decode_cursor(cursor: str, id_prefix: str, *, salt: str) -> Position:
    """The position a cursor names; ``ValueError`` for anything this list did not issue."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise ValueError("cursor too long")
    try:
        position = _signer(salt).unsign_object(cursor)
    except (signing.BadSignature, ValueError, UnicodeError):
        raise ValueError("not a cursor this list issued") from None
    # Signed by this service, so well formed; checked anyway, as a second line of defence.
    match position:
        case [int() as micros, str() as pk] if id_regex(id_prefix).fullmatch(pk):
            pass
        case _:
            raise ValueError("unexpected cursor content")
    try:
        created_at = _EPOCH + micros * _MICROSECOND
    except OverflowError:
        raise ValueError("impossible timestamp") from None
    return created_at, pk


def keyset_sql(created_at: str, pk: str, *, ascending: bool = False) -> str:
    """The condition that starts a page just after a position, on the SQL expressions
    ``created_at`` and ``pk``; its two parameters are ``keyset_params``.

    One row comparison, which both databases walk the ``(created_at, id)`` index with.
    Spelled out instead (a bound on created_at, then ties settled by id), PostgreSQL's generic
    plan estimated more rows than a plan for the actual position and so was never chosen:
    every page after the first was planned anew, 0.4 ms of its CPU (bench/PROFILE.md).
    """
    return f"({created_at}, {pk}) {'>' if ascending else '<'} (%s, %s)"


def keyset_params(model: type[Model], position: Position, connection: BaseDatabaseWrapper) -> list[Any]:
    """``keyset_sql``'s parameters for ``position`` in a list of ``model``, as ``connection`` takes them."""
    created_at, pk = position
    return [model._meta.get_field("created_at").get_db_prep_value(created_at, connection), pk]  # type: ignore[union-attr]


class KeysetPagination(BasePagination):
    """Newest first. Subclasses name the list's key in the page and the id prefix of its rows."""

    results_key = "results"
    id_prefix = ""
    # Also the cursor's signing salt: a cursor of one list is refused by every other.
    ascending = False
    default_limit = 50
    max_limit = 100

    def _limit(self, request: Request) -> int:
        raw = request.query_params.get("limit")
        if raw is None:
            return self.default_limit
        limit = whole_number(raw, max_digits=len(str(self.max_limit)))
        if limit is None or not 1 <= limit <= self.max_limit:
            raise ValidationError({"limit": [f"must be a whole number from 1 to {self.max_limit}"]})
        return limit

    def paginate_queryset(
        self, queryset: QuerySet[Any] | Sequence[Any], request: Request, view: Any = None
    ) -> list[Any]:
        assert isinstance(queryset, QuerySet), "keyset pagination needs a queryset"
        return self.paginate(request, lambda limit, after: list(self.after(queryset, after)[:limit]))

    def paginate(self, request: Request, fetch: Callable[[int, Position | None], list[Any]]) -> list[Any]:
        """The page the request asks for, read by ``fetch(limit, after)``.

        ``fetch`` returns up to ``limit`` rows in the list's order (``after()``'s), starting
        after the position ``after`` (the ``(created_at, id)`` of the previous page's last row),
        or at the start when it is None. ``paginate_queryset`` is ``fetch`` for a queryset; a
        list read as SQL (``cases.queries.case_page``) passes its own.
        """
        limit = self._limit(request)
        rows = fetch(limit + 1, self._position(request))
        self.has_more = len(rows) > limit
        self.page = rows[:limit]
        return self.page

    def after(self, queryset: QuerySet[Any], position: Position | None) -> QuerySet[Any]:
        """``queryset`` in the list's order, from just after ``position`` (all of it for None)."""
        direction = "" if self.ascending else "-"
        queryset = queryset.order_by(f"{direction}created_at", f"{direction}id")
        if position is None:
            return queryset
        model = queryset.model
        where = keyset_sql(
            f"{table(model)}.{column(model, 'created_at')}",
            f"{table(model)}.{column(model, 'id')}",
            ascending=self.ascending,
        )
        params = keyset_params(model, position, connections[queryset.db])
        # Identifiers from the model's _meta; the position's values are parameters.
        return queryset.filter(RawSQL(where, params, output_field=BooleanField()))  # noqa: S611

    def _position(self, request: Request) -> Position | None:
        cursor = request.query_params.get("cursor")
        if cursor is None:
            return None
        try:
            return decode_cursor(cursor, self.id_prefix, salt=self.results_key)
        except ValueError:
            raise ValidationError({"cursor": ["invalid cursor; pass next_cursor from the previous page"]}) from None

    def next_cursor(self) -> str | None:
        if not self.has_more:
            return None
        last: Model = self.page[-1]
        return encode_cursor(last.created_at, last.pk, salt=self.results_key)  # type: ignore[attr-defined]

    def get_paginated_response(self, data: Any) -> Response:
        return Response({self.results_key: data, "next_cursor": self.next_cursor(), "has_more": self.has_more})
