"""The Cases API in the OpenAPI document: its objects (§4) and operations (§5), exactly.

The component schemas are written out rather than introspected from the serializers, because
the contract says more than a serializer can express (patterns, ``additionalProperties: false``,
``minProperties``). They are built from the same constants the models and validators use, and
the schemathesis run in ``tests/openapi`` holds the service to them.
"""

from __future__ import annotations

from typing import TypeVar

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiRequest,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)

from media.schema import FILE
from serverops.ids import ULID_PATTERN
from serverops.pagination import KeysetPagination
from serverops.schema import (
    TIMESTAMP,
    Schema,
    component,
    error_responses,
    header,
    id_schema,
    operation,
    page_component,
    page_parameters,
)

from .idempotency import HEADER as IDEMPOTENCY_KEY
from .models import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH, ActorType, Status
from .validators import TITLE_SPACES

T = TypeVar("T")


# The control characters cases.validators refuses: all of Unicode's Cc in a title, all but
# tab, newline and carriage return in a description.
_TITLE_CONTROLS = r"\x00-\x1f\x7f-\x9f"
_DESCRIPTION_CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# The spaces normalise_title trims (every script's, zero-width ones included), as \uXXXX
# escapes, which ECMA-262 and Python regular expressions read alike.
_TITLE_SPACES = "".join(f"\\u{ord(char):04x}" for char in TITLE_SPACES)
_TITLE_EDGE = rf"[^{_TITLE_CONTROLS}{_TITLE_SPACES}]"
_TITLE_INNER = rf"[^{_TITLE_CONTROLS}]"
STORED_TITLE = rf"^{_TITLE_EDGE}(?:{_TITLE_INNER}{{0,{TITLE_MAX_LENGTH - 2}}}{_TITLE_EDGE})?$"
# A title as sent: surrounding spaces are trimmed before the length rule applies, so a JSON
# Schema maxLength on the raw string would refuse titles the service accepts; the pattern
# states the rule exactly instead. A title of nothing but spaces is blank, so refused.
SENT_TITLE = (
    rf"^[{_TITLE_SPACES}]*{_TITLE_EDGE}(?:{_TITLE_INNER}{{0,{TITLE_MAX_LENGTH - 2}}}{_TITLE_EDGE})?[{_TITLE_SPACES}]*$"
)
DESCRIPTION_PATTERN = rf"^[^{_DESCRIPTION_CONTROLS}]*$"
STATUS: Schema = {"type": "string", "enum": list(Status.values)}

CASE = component(
    "Case",
    {
        "type": "object",
        "description": "A moderation case.",
        "additionalProperties": False,
        "required": ["id", "title", "description", "status", "attachments", "created_at", "updated_at"],
        "properties": {
            "id": id_schema("c"),
            "title": {"type": "string", "minLength": 1, "maxLength": TITLE_MAX_LENGTH, "pattern": STORED_TITLE},
            "description": {"type": "string", "maxLength": DESCRIPTION_MAX_LENGTH, "pattern": DESCRIPTION_PATTERN},
            "status": STATUS,
            "attachments": {
                "type": "array",
                "items": FILE,
                "description": "The files listed as evidence, in the order the client last listed them.",
            },
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
    },
)

_WRITABLE: dict[str, Schema] = {
    "title": {
        "type": "string",
        "minLength": 1,
        "pattern": SENT_TITLE,
        "description": (
            f"1–{TITLE_MAX_LENGTH} characters once surrounding spaces are trimmed (they are not stored); "
            "no control characters at all (tab, newline and DEL included)."
        ),
    },
    "description": {
        "type": "string",
        "maxLength": DESCRIPTION_MAX_LENGTH,
        "pattern": DESCRIPTION_PATTERN,
        "description": f"0–{DESCRIPTION_MAX_LENGTH:,} characters; tab, newline and carriage return are the only "
        "control characters allowed.",
    },
    "status": STATUS,
    "attachments": {
        "type": "array",
        "maxItems": 20,
        "uniqueItems": True,
        # The format names what the id must be: a file of the token's own project and mode (so no
        # example: no one id is one for every token).
        "items": {**{k: v for k, v in id_schema("f").items() if k != "example"}, "format": "file-id"},
        "description": (
            "The case's files, in this order: ids of files of the token's own project and mode "
            "(`POST /v1/media`), at most 20, no repeats. It replaces the whole list; `[]` detaches every file."
        ),
    },
}

CASE_CREATE = component(
    "CaseCreate",
    {
        "type": "object",
        "description": "A new case. Any other key, `null` or a value of the wrong type is a 400 naming it.",
        "additionalProperties": False,
        "required": ["title"],
        "properties": {
            **_WRITABLE,
            "description": {**_WRITABLE["description"], "default": ""},
            "status": {**STATUS, "default": Status.OPEN.value},
            "attachments": {**_WRITABLE["attachments"], "default": []},
        },
    },
)

CASE_UPDATE = component(
    "CaseUpdate",
    {
        "type": "object",
        "description": (
            "Any non-empty subset of the writable fields; only those are written. `{}`, any other key, "
            "`null` or a value of the wrong type is a 400."
        ),
        "additionalProperties": False,
        "minProperties": 1,
        "properties": _WRITABLE,
    },
)


CASE_EVENT = component(
    "CaseEvent",
    {
        "type": "object",
        "description": "One change to a case.",
        "additionalProperties": False,
        "required": ["id", "created_at", "actor", "request_id", "changes", "prev_hash", "hash"],
        "properties": {
            "id": id_schema("ev"),
            "created_at": TIMESTAMP,
            "actor": {
                "type": "object",
                "description": "Who made the change: an API token, a staff user in the admin, or the system.",
                "additionalProperties": False,
                "required": ["type", "id", "name"],
                "properties": {
                    "type": {"type": "string", "enum": list(ActorType.values)},
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                },
            },
            "request_id": {
                "type": "string",
                "nullable": True,
                "description": "The `X-Request-Id` of the request that made the change; null outside a request.",
            },
            "changes": {
                "type": "object",
                "description": "Each changed field, from its old value to its new one; the first event has every "
                "field, from null.",
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["from", "to"],
                    "properties": {"from": {"nullable": True}, "to": {"nullable": True}},
                },
            },
            "prev_hash": {
                "type": "string",
                "pattern": "^[0-9a-f]{64}$",
                "description": "The `hash` of the case's event before this one; 64 zeros for its first.",
            },
            "hash": {
                "type": "string",
                "pattern": "^[0-9a-f]{64}$",
                "description": "SHA-256 of the RFC 8785 canonical JSON of this object without `hash`, with `case` "
                "(the case's id) added: the case's history is a chain a client can recompute "
                '(docs/api.md, "Evidence with a chain of custody").',
            },
        },
    },
)


CASE_ID = OpenApiParameter(
    "id",
    type=id_schema("c"),
    location=OpenApiParameter.PATH,
    description="The case's id. Any other string, or a case outside the token's project and mode, is a 404.",
)
ETAG = {"type": "string", "pattern": '^"[0-9a-f]{32}"$'}
IF_MATCH = OpenApiParameter(
    "If-Match",
    type={"type": "string"},
    location=OpenApiParameter.HEADER,
    description="An `ETag` of the case (or `*`); when it is not current, nothing is written and the answer is 412.",
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    type={"type": "string"},
    location=OpenApiParameter.HEADER,
    description=(
        'One or more `ETag`s the client holds (or `*`), compared weakly (`W/"…"` matches `"…"`). '
        "When one is current the answer is 304 with no body: poll without fetching what you already have."
    ),
)
IDEMPOTENCY = OpenApiParameter(
    IDEMPOTENCY_KEY,
    type={"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7e]{1,255}$"},
    location=OpenApiParameter.HEADER,
    description=(
        "1–255 printable ASCII characters. The same key and body from the same token within 24 hours "
        "creates nothing and replays the first response, with `Idempotent-Replayed: true`; the same key "
        "with another body is a 409."
    ),
)


def _case_headers(status: int, *, created: bool = False) -> list[OpenApiParameter]:
    """``ETag`` on a response carrying a Case; ``Location`` and the replay marker when it was created."""
    headers = header("ETag", ETAG, "A strong validator of this Case; send it in `If-Match` to update it.", [status])
    if created:
        headers += header(
            "Location", {"type": "string", "pattern": f"^/v1/cases/c_{ULID_PATTERN}$"}, "The new case.", [status]
        )
        headers += header(
            "Idempotent-Replayed",
            {"type": "string", "enum": ["true"]},
            f"Present when this response replays the first one sent for the `{IDEMPOTENCY_KEY}`.",
            [status],
            always=False,
        )
    return headers


def case_schema(viewset: type[T]) -> type[T]:
    """Decorates ``CaseViewSet`` with its operations; each scope is read from its ``required_scopes``."""
    scopes: dict[str, str] = viewset.required_scopes  # type: ignore[attr-defined]
    cases: type[KeysetPagination] = viewset.pagination_class  # type: ignore[attr-defined]
    case_list = page_component("CaseList", "One page of cases, newest first.", cases.results_key, CASE)
    event_list = page_component("CaseEventList", "One page of a case's history, oldest first.", "events", CASE_EVENT)
    return extend_schema_view(
        list=operation(
            scopes["list"],
            tag="cases",
            operation_id="listCases",
            summary="List cases",
            description="The token's cases, newest first, one page at a time (keyset pagination).",
            parameters=[
                *page_parameters(cases, "case-cursor"),
                OpenApiParameter("status", type=STATUS, description="Only cases with this status."),
            ],
            success={200: OpenApiResponse(response=case_list, description="A page of cases.")},
            errors=[400, 401, 403, 406, 429, 500],
        ),
        create=operation(
            scopes["create"],
            tag="cases",
            operation_id="createCase",
            summary="Create a case",
            description='`title` is required; `description` defaults to `""` and `status` to `open`.',
            parameters=[IDEMPOTENCY],
            request=OpenApiRequest(
                CASE_CREATE,
                examples=[OpenApiExample("case", value={"title": "Griefing at spawn", "description": "In-game."})],
            ),
            success={201: OpenApiResponse(response=CASE, description="The new case; `Location` names it.")},
            errors=[400, 401, 403, 406, 409, 413, 415, 429, 500],
            headers=_case_headers(201, created=True),
        ),
        retrieve=operation(
            scopes["retrieve"],
            tag="cases",
            operation_id="getCase",
            summary="Get a case",
            description="One case with its attachments. Send `If-None-Match` to poll cheaply.",
            parameters=[CASE_ID, IF_NONE_MATCH],
            success={
                200: OpenApiResponse(response=CASE, description="The case."),
                304: OpenApiResponse(description="Not modified: an `If-None-Match` tag is current. No body."),
            },
            errors=[401, 403, 404, 406, 429, 500],
            headers=[*_case_headers(200), *_case_headers(304)],
        ),
        partial_update=operation(
            scopes["partial_update"],
            tag="cases",
            operation_id="updateCase",
            summary="Update a case",
            description=(
                "Writes only the fields sent, under a row lock. A PATCH that changes nothing answers 200 "
                "and leaves `updated_at` as it was."
            ),
            parameters=[CASE_ID, IF_MATCH],
            request=OpenApiRequest(CASE_UPDATE, examples=[OpenApiExample("close", value={"status": "closed"})]),
            success={200: OpenApiResponse(response=CASE, description="The case as it is now.")},
            errors=[400, 401, 403, 404, 406, 412, 413, 415, 429, 500],
            headers=_case_headers(200),
        ),
        events=operation(
            scopes["events"],
            tag="cases",
            operation_id="listCaseEvents",
            summary="List a case's history",
            description="Every change to the case, oldest first, paged like the list of cases.",
            parameters=[CASE_ID, *page_parameters(KeysetPagination, "case-event-cursor")],
            success={200: OpenApiResponse(response=event_list, description="A page of events.")},
            errors=[400, 401, 403, 404, 406, 429, 500],
        ),
        export=operation(
            scopes["export"],
            tag="cases",
            operation_id="exportCase",
            summary="Export a case, signed",
            description=(
                "The case as a ZIP bundle, streamed: `case.json`, `events.json` (the hash-chained history), "
                "`notes.json`, every attachment under `files/<file id>/<original name>`, `manifest.json` (each "
                "member's SHA-256 and size, the case and its history's head) and `manifest.sig`, the base64 "
                "Ed25519 signature of `manifest.json`, checked with the key of `GET /v1/export-key` "
                '(docs/api.md, "Evidence with a chain of custody"). A failure once the download has started '
                "breaks it off: a bundle that arrives whole is true."
            ),
            parameters=[CASE_ID],
            success={
                200: OpenApiResponse(
                    response={"type": "string", "format": "binary"}, description="The bundle (application/zip)."
                )
            },
            errors=[401, 403, 404, 429, 500, 503],
        ),
    )(viewset)


EXPORT_KEY = component(
    "ExportKey",
    {
        "type": "object",
        "description": "The public key that verifies this installation's case exports.",
        "additionalProperties": False,
        "required": ["kid", "public_key"],
        "properties": {
            "kid": {"type": "string", "pattern": "^ed25519:[0-9a-f]{16}$"},
            "public_key": {"type": "string", "description": "Ed25519 public key, PEM (SubjectPublicKeyInfo)."},
        },
    },
)


# ``ExportKeyView.get``: no token, so no scope and no rate limit.
export_key_operation = extend_schema(
    operation_id="getExportKey",
    summary="The key that verifies case exports",
    description="Needs no token: anyone holding a bundle can check it.",
    tags=["cases"],
    auth=[],
    responses={
        200: OpenApiResponse(response=EXPORT_KEY, description="The key."),
        **error_responses([503]),
    },
    parameters=header(
        "X-Request-Id",
        {"type": "string"},
        "The client's `X-Request-Id` when it is 1–128 characters of `[A-Za-z0-9._-]`, otherwise one the service made.",
        [200, 503],
    ),
)
