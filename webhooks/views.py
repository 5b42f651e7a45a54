"""``GET /v1/events`` (docs/api.md#event-feed): the project's and mode's events, oldest first, for
servers that cannot receive webhooks and poll instead.

A poll that finds nothing new must cost next to nothing: thousands of servers ask every few
seconds. With ``If-None-Match`` naming the newest event, the answer is a 304 after one indexed
statement (the newest event's id, and whether ``after`` names an event, together), on top of
the token's own statement.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.core import signing
from django.db import connection
from django.http import HttpResponse, HttpResponseNotModified
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from cases.services import etag_matches_weakly
from serverops import sql
from serverops.ids import id_regex
from serverops.pagination import MAX_CURSOR_LENGTH
from serverops.parsers import whole_number
from tokens.models import ScopedToken
from tokens.viewsets import ApiViewSet

from .models import Event, EventType
from .schema import feed_schema

EVENT_ID = id_regex("ev")
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
# The ETag of a feed with no event yet (of the asked types): it names no event, so it never
# matches one.
NO_EVENT_ETAG = '"none"'
INVALID_CURSOR = "invalid cursor; pass next_cursor from the previous page"
_CURSOR_SALT = "serverops.events.feed"


# The events the feed may serve (PostgreSQL): those of transactions older than the oldest one
# still running in the statement's snapshot, not counting those of backends connected to another
# database, which cannot write this table (xids are the server's, and a long transaction in
# another database would otherwise hold every feed back); none running: the snapshot's xmax. A
# transaction that pg_stat_get_activity does not show in another database (it ended meanwhile, or
# is a prepared one) counts: the bound can only be too low, which delays an event, never skips it.
# A transaction's own events are its to see: the bound is past its own xid, once it has one.
# The bound is never below the snapshot's xmin, which is cheap: each is an InitPlan, evaluated
# only when first needed, so the activity is read only for a committed event at or past xmin
# (rare: a writer of the feed's project or another database's is running), not on every poll.
SERVED = (
    "(e.xid < (SELECT pg_snapshot_xmin(pg_current_snapshot()))"
    " OR e.xid < (SELECT GREATEST(COALESCE((SELECT min(r.x) FROM pg_snapshot_xip(pg_current_snapshot()) AS r (x)"
    " WHERE r.x::xid NOT IN (SELECT a.backend_xid FROM pg_stat_get_activity(NULL) AS a"
    " WHERE a.backend_xid IS NOT NULL AND a.datid <> (SELECT d.oid FROM pg_database d"
    " WHERE d.datname = current_database()))), pg_snapshot_xmax(pg_current_snapshot())),"
    " (pg_current_xact_id_if_assigned()::text::numeric + 1)::text::xid8)))"
)


class Statements:
    """The feed's statements, written as SQL for one database (``serverops.sql`` says why SQL).

    Every statement walks the ``event_feed`` index of one project and mode, the project bounded
    by a range rather than an equality: with ``project_id = $1`` PostgreSQL's generic plan for a
    prepared statement knows the project is fixed, orders by ``seq`` alone and may walk the
    primary key through every other project's events (20-30 s for a small project beside one
    big one of 10,000,000 events, bench/events.py). A range keeps the project in the order,
    which only the feed index gives.

    A position in the feed is ``(xid, seq)``. On PostgreSQL ``seq`` is not commit order (it is
    taken at INSERT, and transactions commit in any order), so the feed serves only the events
    whose writing transaction (``xid``, webhooks migration 0005) is older than the snapshot's
    oldest running writer (``SERVED``): every such writer has ended, and every transaction
    that may still write an event has an ``xid`` at or above it. In ``(xid, seq)`` order, then,
    no event committed after a poll can sort before one it served, and a poller walking by
    ``after`` or ``cursor`` misses none (docs/api.md#event-feed). A transaction sees its own
    events too (the bound is past its own ``xid``), as tests that write and read in one
    transaction need. On SQLite, whose writers take turns, ``seq`` is commit order and ``xid``
    is 0.
    """

    def __init__(self, vendor: str, types: int) -> None:
        postgresql = vendor == "postgresql"
        table = sql.table(Event)
        of_types = f" AND e.type IN ({', '.join(['%s'] * types)})" if types else ""
        where = f"e.project_id >= %s AND e.project_id <= %s AND e.mode = %s{of_types}"
        if postgresql:
            served = f" AND {SERVED}"
            xid, order, newest = "e.xid::text", "e.xid, e.seq", "e.xid DESC, e.seq DESC"
            past = "(e.xid, e.seq) > (%s::xid8, %s)"
        else:
            served, xid, order, newest, past = "", "'0'", "e.seq", "e.seq DESC", "e.seq > %s"
        where += served
        self.postgresql = postgresql
        # The newest served event: the ETag.
        self.newest = (
            f"SELECT e.public_id FROM {table} e WHERE {where}"  # noqa: S608
            f" ORDER BY e.project_id DESC, e.mode DESC, {newest} LIMIT 1"
        )
        # The newest, and whether ``after`` is an event of the project and mode: the 304's one statement.
        self.newest_and_known = (
            f"SELECT e.public_id, EXISTS (SELECT 1 FROM {table} a"  # noqa: S608
            " WHERE a.public_id = %s AND a.project_id = %s AND a.mode = %s)"
            f" FROM {table} e WHERE {where} ORDER BY e.project_id DESC, e.mode DESC, {newest} LIMIT 1"
        )
        # The position of the event ``after`` names.
        self.position_of = (
            f"SELECT {xid}, e.seq FROM {table} e WHERE e.public_id = %s AND e.project_id = %s AND e.mode = %s"  # noqa: S608
        )
        # The position of a cursor that holds only its ``seq`` (issued before the feed knew ``xid``).
        self.position_of_seq = f"SELECT {xid}, e.seq FROM {table} e WHERE e.seq = %s"  # noqa: S608
        select = f"SELECT e.seq, e.public_id, e.payload, {xid} FROM {table} e WHERE {where}"  # noqa: S608
        tail = f" ORDER BY e.project_id, e.mode, {order} LIMIT %s"
        self.first_page = select + tail
        self.page_after = select + f" AND {past}" + tail

    def past(self, position: Position) -> list[Any]:
        """The parameters of ``page_after``'s position."""
        xid, seq = position
        return [str(xid), seq] if self.postgresql else [seq]

    @classmethod
    @cache
    def of(cls, vendor: str, types: int) -> Statements:
        return cls(vendor, types)


def _scope(project_id: str, mode: str, types: list[str]) -> list[Any]:
    return [project_id, project_id, mode, *types]


def _rows(statement: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows


def not_modified(current: str) -> HttpResponse:
    """The bodiless 304: a plain response, with nothing for DRF to render (the view's headers,
    the rate limit's included, are added to it as to any other)."""
    return HttpResponseNotModified(headers={"ETag": current})


def etag(public_id: str | None) -> str:
    """The feed's validator: the newest event's id, quoted."""
    return f'"{public_id}"' if public_id is not None else NO_EVENT_ETAG


Position = tuple[int, int]  # (xid, seq): the writer's transaction (0 on SQLite), then seq


def encode_cursor(position: Position) -> str:
    xid, seq = position
    return signing.Signer(salt=_CURSOR_SALT).sign_object([seq, xid])


def decode_cursor(cursor: str) -> tuple[int, int | None]:
    """The ``(seq, xid)`` a ``next_cursor`` holds (``xid`` None in one issued before the feed
    knew it); ``ValueError`` for anything this feed did not issue."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise ValueError("cursor too long")
    try:
        position = signing.Signer(salt=_CURSOR_SALT).unsign_object(cursor)
    except (signing.BadSignature, ValueError, UnicodeError):
        raise ValueError("not a cursor this feed issued") from None
    match position:
        case [int() as seq, int() as xid] if seq >= 0 and xid >= 0:
            return seq, xid
        case [int() as seq] if seq >= 0:
            return seq, None
        case _:
            raise ValueError("unexpected cursor content")


@feed_schema
class EventFeedViewSet(ApiViewSet):
    http_method_names = ["get", "head"]
    required_scopes = {"list": "cases:read"}
    query_parameters = {"list": ("after", "cursor", "types", "limit")}

    @property
    def token(self) -> ScopedToken:
        token = self.request.auth
        assert isinstance(token, ScopedToken)
        return token

    def _types(self) -> list[str]:
        raw = self.request.query_params.getlist("types")
        types = [name.strip() for value in raw for name in value.split(",")]
        unknown = sorted({name for name in types if name not in EventType.values})
        if unknown:
            shown = ", ".join(repr(name) for name in unknown)
            raise ValidationError({"types": [f"unknown event type(s) {shown}; known: {', '.join(EventType.values)}"]})
        return sorted(set(types))

    def _limit(self) -> int:
        raw = self.request.query_params.get("limit")
        if raw is None:
            return DEFAULT_LIMIT
        limit = whole_number(raw, max_digits=len(str(MAX_LIMIT)))
        if limit is None or not 1 <= limit <= MAX_LIMIT:
            raise ValidationError({"limit": [f"must be a whole number from 1 to {MAX_LIMIT}"]})
        return limit

    def _after(self) -> str | None:
        """The ``after`` event id as sent, checked for form (its existence is checked with the query)."""
        values = self.request.query_params.getlist("after")
        if not values:
            return None
        if len(values) > 1:
            raise ValidationError({"after": ["send one event id"]})
        if not EVENT_ID.fullmatch(values[0]):
            raise ValidationError({"after": ["not an event id (ev_…)"]})
        return values[0]

    def _cursor(self) -> tuple[int, int | None] | None:
        cursor = self.request.query_params.get("cursor")
        if cursor is None:
            return None
        try:
            return decode_cursor(cursor)
        except ValueError:
            raise ValidationError({"cursor": [INVALID_CURSOR]}) from None

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response | HttpResponse:
        types, limit, after, cursor = self._types(), self._limit(), self._after(), self._cursor()
        if after is not None and cursor is not None:
            raise ValidationError({"after": ["send after or cursor, not both"]})
        token = self.token
        statements = Statements.of(connection.vendor, len(types))
        scope = _scope(token.project_id, token.mode, types)
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match is not None:
            # The newest event, and whether ``after`` is one of ours: one statement on the feed index.
            if after is None:
                found = _rows(statements.newest, scope)
                current = etag(found[0][0] if found else None)
                if etag_matches_weakly(if_none_match, current):
                    return not_modified(current)
            else:
                found = _rows(statements.newest_and_known, [after, token.project_id, token.mode, *scope])
                # No row: nothing of these types yet, so ``after`` is checked below, the usual way.
                if found and found[0][1] and etag_matches_weakly(if_none_match, etag(found[0][0])):
                    return not_modified(etag(found[0][0]))
        start: Position | None = None
        if after is not None:
            known = _rows(statements.position_of, [after, token.project_id, token.mode])
            if not known:
                raise ValidationError({"after": ["no event with this id in this project and mode (or it was pruned)"]})
            start = (int(known[0][0]), known[0][1])
        elif cursor is not None:
            seq, xid = cursor
            if xid is None or not statements.postgresql:
                # A cursor of seq alone (issued before the feed knew xid): its event's position.
                held = _rows(statements.position_of_seq, [seq]) if statements.postgresql else [("0", seq)]
                if not held:
                    raise ValidationError({"cursor": [INVALID_CURSOR]})
                xid = int(held[0][0])
            start = (xid, seq)
        if start is None:
            rows = _rows(statements.first_page, [*scope, limit + 1])
        else:
            rows = _rows(statements.page_after, [*scope, *statements.past(start), limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
        if rows and not has_more:
            newest_id: str | None = rows[-1][1]  # the page ran to the end: its last event is the newest
        else:
            found = _rows(statements.newest, scope)
            newest_id = found[0][0] if found else None
        last = rows[-1] if rows else None
        body = (
            '{"events":['
            + ",".join(payload for _, _, payload, _ in rows)
            + '],"next_cursor":'
            + (f'"{encode_cursor((int(last[3]), last[0]))}"' if has_more and last is not None else "null")
            + ',"has_more":'
            + ("true" if has_more else "false")
            + "}"
        )
        # The payloads are the webhook bodies as stored (JSON already): joined, not parsed and re-encoded.
        return HttpResponse(body, content_type="application/json", headers={"ETag": etag(newest_id)})
