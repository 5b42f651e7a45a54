"""``GET /v1/events`` in the OpenAPI document (docs/api.md#event-feed): the Event object and the operation."""

from __future__ import annotations

from typing import TypeVar

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_view

from cases.schema import CASE
from media.schema import FILE
from serverops.schema import TIMESTAMP, Schema, component, header, id_schema, operation
from tokens.models import Mode

from .models import EventType

T = TypeVar("T")

EVENT = component(
    "Event",
    {
        "type": "object",
        "description": "Something that happened in the project and mode: exactly the body a webhook endpoint "
        "receives for it. `data` depends on `type` (docs/api.md#event-types).",
        "additionalProperties": False,
        "required": ["id", "type", "created_at", "mode", "data"],
        "properties": {
            "id": id_schema("ev"),
            "type": {"type": "string", "enum": list(EventType.values)},
            "created_at": TIMESTAMP,
            "mode": {"type": "string", "enum": list(Mode.values)},
            "data": {
                "type": "object",
                "description": "`case.created`, `case.updated`: `case`, `changes`, `actor`; `case.note_added`: "
                "`case`, `note`; `file.*`: `file`; `player.merged`: `player` (the survivor) and `merged` "
                "(the ids merged into it).",
                "properties": {
                    "case": CASE,
                    "file": FILE,
                    "changes": {"type": "object"},
                    "actor": {"type": "object"},
                    "note": {"type": "object"},
                    "player": {"type": "object"},
                    "merged": {"type": "array", "items": id_schema("pl")},
                },
            },
        },
    },
)
EVENT_PAGE = component(
    "EventPage",
    {
        "type": "object",
        "description": "One page of the feed, oldest first.",
        "additionalProperties": False,
        "required": ["events", "next_cursor", "has_more"],
        "properties": {
            "events": {"type": "array", "items": EVENT},
            "next_cursor": {
                "type": "string",
                "nullable": True,
                "description": "Pass as `cursor` for the next page; null exactly when `has_more` is false.",
            },
            "has_more": {"type": "boolean"},
        },
    },
)
FEED_ETAG: Schema = {"type": "string", "pattern": '^"(ev_[0-9A-HJKMNP-TV-Z]{26}|none)"$'}


def feed_schema(viewset: type[T]) -> type[T]:
    """Decorates ``EventFeedViewSet`` with its one operation; the scope is read from its ``required_scopes``."""
    scopes: dict[str, str] = viewset.required_scopes  # type: ignore[attr-defined]
    etag_header = "The newest event (of `types`) in the project and mode; send it in `If-None-Match` to poll."
    return extend_schema_view(
        list=operation(
            scopes["list"],
            tag="events",
            operation_id="listEvents",
            summary="Poll the project's events",
            description=(
                "The token's project's and mode's events, oldest first, each exactly a webhook body: for servers "
                "that cannot receive webhooks. Without `after` or `cursor` the feed starts at the oldest event "
                "kept (events are kept `EVENT_RETENTION_DAYS`, 30 by default). Poll with `after` set to the last "
                "event you have and `If-None-Match` set to the last `ETag`: when nothing is new the answer is "
                "304, at the cost of one indexed statement."
            ),
            parameters=[
                OpenApiParameter(
                    "after",
                    type=id_schema("ev"),
                    description="Start just after this event; one that is not an event of this project and mode "
                    "(or was pruned) is a 400.",
                ),
                OpenApiParameter(
                    "cursor",
                    type={"type": "string", "format": "event-cursor"},
                    description="The `next_cursor` of the previous page; anything else is a 400. Not with `after`.",
                ),
                OpenApiParameter(
                    "types",
                    type={"type": "string"},
                    description=f"Comma-separated event types, of {', '.join(EventType.values)}; only these. "
                    "An unknown one is a 400.",
                ),
                OpenApiParameter(
                    "limit",
                    type={"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
                    description="Events per page.",
                ),
                OpenApiParameter(
                    "If-None-Match",
                    type={"type": "string"},
                    location=OpenApiParameter.HEADER,
                    description="The `ETag` of your last poll: 304 with no body while no newer event exists.",
                ),
            ],
            success={
                200: OpenApiResponse(response=EVENT_PAGE, description="A page of events."),
                304: OpenApiResponse(description="Not modified: no event newer than the one `If-None-Match` names."),
            },
            errors=[400, 401, 403, 406, 429, 500],
            headers=[*header("ETag", FEED_ETAG, etag_header, [200]), *header("ETag", FEED_ETAG, etag_header, [304])],
        )
    )(viewset)
