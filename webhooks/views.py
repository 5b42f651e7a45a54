"""``GET /v1/events`` (docs/api.md#event-feed): the project's and mode's events, oldest first, for
servers that cannot receive webhooks and poll instead.

A poll that finds nothing new must cost next to nothing: thousands of servers ask every few
seconds. With ``If-None-Match`` naming the newest event, the answer is a 304 after one indexed
statement (the newest event's id, and whether ``after`` names an event, together), on top of
the token's own statement.
"""

from __future__ import annotations

from typing import Any

from django.core import signing
from django.db.models import Exists, QuerySet
from django.http import HttpResponse
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from cases.services import etag_matches_weakly
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
_CURSOR_SALT = "serverops.events.feed"
# The feed's order, and the newest event first (the ETag), spelled as the (project, mode, seq)
# index, with the project bounded by a range (``feed``) rather than an equality. With ``project_id
# = $1`` PostgreSQL's generic plan for a prepared statement knows the project is fixed, orders by
# ``seq`` alone and may walk the primary key through every other project's events: 20-30 s for a
# small project beside one big one of 10,000,000 events (bench/events.py). A range keeps the
# project in the order, which only the feed index gives.
FEED_ORDER = ("project_id", "mode", "seq")
NEWEST_FIRST = ("-project_id", "-mode", "-seq")


def feed(project_id: str, mode: str) -> QuerySet[Event]:
    """The events of one project and mode, for walking in ``FEED_ORDER`` or ``NEWEST_FIRST``."""
    return Event.objects.filter(project_id__gte=project_id, project_id__lte=project_id, mode=mode)


def etag(public_id: str | None) -> str:
    """The feed's validator: the newest event's id, quoted."""
    return f'"{public_id}"' if public_id is not None else NO_EVENT_ETAG


def encode_cursor(seq: int) -> str:
    return signing.Signer(salt=_CURSOR_SALT).sign_object([seq])


def decode_cursor(cursor: str) -> int:
    """The position a ``next_cursor`` holds; ``ValueError`` for anything this feed did not issue."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise ValueError("cursor too long")
    try:
        position = signing.Signer(salt=_CURSOR_SALT).unsign_object(cursor)
    except (signing.BadSignature, ValueError, UnicodeError):
        raise ValueError("not a cursor this feed issued") from None
    match position:
        case [int() as seq] if seq >= 0:
            return seq
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

    def _cursor(self) -> int | None:
        cursor = self.request.query_params.get("cursor")
        if cursor is None:
            return None
        try:
            return decode_cursor(cursor)
        except ValueError:
            raise ValidationError({"cursor": ["invalid cursor; pass next_cursor from the previous page"]}) from None

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response | HttpResponse:
        types, limit, after, cursor = self._types(), self._limit(), self._after(), self._cursor()
        if after is not None and cursor is not None:
            raise ValidationError({"after": ["send after or cursor, not both"]})
        token = self.token
        events = Event.objects.filter(project_id=token.project_id, mode=token.mode)
        walked = feed(token.project_id, token.mode)
        matching = walked.filter(type__in=types) if types else walked
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match is not None:
            # The newest event, and whether ``after`` is one of ours: one statement on the feed index.
            newest = matching.order_by(*NEWEST_FIRST)
            if after is None:
                current = etag(newest.values_list("public_id", flat=True).first())
                if etag_matches_weakly(if_none_match, current):
                    return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": current})
            else:
                known = Exists(events.filter(public_id=after))
                row = newest.annotate(after_known=known).values_list("public_id", "after_known").first()
                # No row: nothing of these types yet, so ``after`` is checked below, the usual way.
                if row is not None and row[1] and etag_matches_weakly(if_none_match, etag(row[0])):
                    return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag(row[0])})
        start: int | None = cursor
        if after is not None:
            start = events.filter(public_id=after).values_list("seq", flat=True).first()
            if start is None:
                raise ValidationError({"after": ["no event with this id in this project and mode (or it was pruned)"]})
        page_query = matching.order_by(*FEED_ORDER)
        if start is not None:
            page_query = page_query.filter(seq__gt=start)
        rows = list(page_query.values_list("seq", "public_id", "payload")[: limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
        if rows and not has_more:
            newest_id: str | None = rows[-1][1]  # the page ran to the end: its last event is the newest
        else:
            newest_id = matching.order_by(*NEWEST_FIRST).values_list("public_id", flat=True).first()
        body = (
            '{"events":['
            + ",".join(payload for _, _, payload in rows)
            + '],"next_cursor":'
            + (f'"{encode_cursor(rows[-1][0])}"' if has_more else "null")
            + ',"has_more":'
            + ("true" if has_more else "false")
            + "}"
        )
        # The payloads are the webhook bodies as stored (JSON already): joined, not parsed and re-encoded.
        return HttpResponse(body, content_type="application/json", headers={"ETag": etag(newest_id)})
