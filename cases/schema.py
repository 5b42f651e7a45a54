"""The Cases API in the OpenAPI document: its objects and operations (docs/api.md#cases), exactly.

The component schemas are written out rather than introspected from the serializers, because
the contract says more than a serializer can express (patterns, ``additionalProperties: false``,
``minProperties``). They are built from the same constants the models and validators use, and
the schemathesis run in ``tests/openapi`` holds the service to them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiRequest,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)

from media.schema import FILE
from players.identifiers import MAX_LENGTH as IDENTIFIER_MAX_LENGTH
from players.identifiers import TYPES as IDENTIFIER_TYPES
from players.models import NAME_MAX_LENGTH, NAMES_KEPT
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
from .labels import LABEL_MAX_LENGTH, LABELS_MAX
from .models import DESCRIPTION_MAX_LENGTH, NOTE_MAX_LENGTH, TITLE_MAX_LENGTH, ActorType, Priority, Role, Status
from .subjects import IDENTIFIERS_MAX, SUBJECTS_MAX
from .validators import TITLE_SPACES

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


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
PRIORITY: Schema = {"type": "string", "enum": list(Priority.values)}
NOTE_PATTERN = rf"^[^{_DESCRIPTION_CONTROLS}]+$"
LABEL: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": LABEL_MAX_LENGTH,
    "pattern": rf"^[^{_TITLE_CONTROLS}]{{1,{LABEL_MAX_LENGTH}}}$",
}
ASSIGNEE = component(
    "Assignee",
    {
        "type": "object",
        "description": 'The member working the case (docs/api.md, "Working a case").',
        "additionalProperties": False,
        "required": ["id", "name"],
        "properties": {
            "id": id_schema("mem"),
            "name": {"type": "string", "description": "The member's full name, else user name, else email."},
        },
    },
)

# An identifier's form depends on its type (docs/api.md, "Players"), more than a pattern can say
# readably: the format names it, and the service refuses any other string with a 400.
IDENTIFIER: Schema = {
    "type": "string",
    "format": "identifier",
    "minLength": 3,
    "maxLength": IDENTIFIER_MAX_LENGTH,
    "description": f"`type:value`, the type one of {', '.join(f'`{t}`' for t in IDENTIFIER_TYPES)}.",
    "example": "steam:76561197960287930",
}
STORED_IDENTIFIER: Schema = {
    "type": "string",
    "description": "Canonical: one spelling per account; an IP address only as `ip:~` and 16 hex digits.",
    "example": "steam:76561197960287930",
}
ROLE: Schema = {"type": "string", "enum": list(Role.values)}
_NAME_PATTERN = rf"^[^{_TITLE_CONTROLS}]{{1,{NAME_MAX_LENGTH}}}$"
SUBJECT = component(
    "Subject",
    {
        "type": "object",
        "description": "A player the case is about.",
        "additionalProperties": False,
        "required": ["player", "role", "name", "identifiers"],
        "properties": {
            "player": id_schema("pl"),
            "role": ROLE,
            "name": {
                "type": "string",
                "nullable": True,
                "maxLength": NAME_MAX_LENGTH,
                "pattern": _NAME_PATTERN,
                "description": "The name sent with the subject on this case.",
            },
            "identifiers": {
                "type": "array",
                "items": STORED_IDENTIFIER,
                "description": "The player's identifiers, sorted.",
            },
        },
    },
)
_SUBJECT_COMMON: dict[str, Schema] = {
    "role": {**ROLE, "default": Role.REPORTED.value},
    "name": {
        "type": "string",
        "nullable": True,
        "minLength": 1,
        "maxLength": NAME_MAX_LENGTH,
        "pattern": _NAME_PATTERN,
        "description": f"1–{NAME_MAX_LENGTH} characters, no control characters.",
    },
}
SUBJECT_BY_IDENTIFIERS = component(
    "SubjectByIdentifiers",
    {
        "type": "object",
        "description": "A subject known by its identifiers, at least one strong (not `ip` or `hwid`); they are "
        "linked to one player (merging players that held them).",
        "additionalProperties": False,
        "required": ["identifiers"],
        "properties": {
            "identifiers": {
                "type": "array",
                "minItems": 1,
                "maxItems": IDENTIFIERS_MAX,
                "items": {**IDENTIFIER, "format": "strong-identifier"},
            },
            **_SUBJECT_COMMON,
        },
    },
)
SUBJECT_BY_PLAYER = component(
    "SubjectByPlayer",
    {
        "type": "object",
        "description": "A subject named by the id of a player of the token's project and mode.",
        "additionalProperties": False,
        "required": ["player"],
        # The format names what the id must be: a player of the token's own project and mode (so no
        # example: no one id is one for every token).
        "properties": {
            "player": {**{k: v for k, v in id_schema("pl").items() if k != "example"}, "format": "player-id"},
            **_SUBJECT_COMMON,
        },
    },
)
_SUBJECTS_INPUT: Schema = {
    "type": "array",
    "maxItems": SUBJECTS_MAX,
    "uniqueItems": True,
    "items": {"oneOf": [SUBJECT_BY_IDENTIFIERS, SUBJECT_BY_PLAYER]},
    "description": (
        f"Who the case is about, at most {SUBJECTS_MAX}; a player at most once. It replaces the whole list; "
        "`[]` empties it."
    ),
}

CASE = component(
    "Case",
    {
        "type": "object",
        "description": "A moderation case.",
        "additionalProperties": False,
        "required": [
            "id",
            "title",
            "description",
            "status",
            "attachments",
            "subjects",
            "assignee",
            "priority",
            "labels",
            "created_at",
            "updated_at",
        ],
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
            "subjects": {"type": "array", "items": SUBJECT, "description": "Who the case is about."},
            "assignee": {**ASSIGNEE, "nullable": True},
            "priority": PRIORITY,
            "labels": {"type": "array", "items": LABEL, "maxItems": LABELS_MAX},
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
    "subjects": _SUBJECTS_INPUT,
    "assignee": {
        # The format names what the id must be: a moderator (or above) of the case's organisation.
        **{k: v for k, v in id_schema("mem").items() if k != "example"},
        "format": "member-id",
        "nullable": True,
        "description": "The member who works the case: a moderator, admin or owner of the case's organisation; "
        "`null` for no one.",
    },
    "priority": PRIORITY,
    "labels": {
        "type": "array",
        "maxItems": LABELS_MAX,
        # JSON Schema compares exactly; the service also refuses repeats that differ only in case.
        "uniqueItems": True,
        "items": LABEL,
        "description": f"At most {LABELS_MAX} labels of 1–{LABEL_MAX_LENGTH} characters, none repeated (compared "
        "case-insensitively). It replaces the whole list; `[]` empties it.",
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
            "subjects": {**_WRITABLE["subjects"], "default": []},
            "assignee": {**_WRITABLE["assignee"], "default": None},
            "priority": {**PRIORITY, "default": Priority.NORMAL.value},
            "labels": {**_WRITABLE["labels"], "default": []},
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


_AUTHOR: Schema = {
    "type": "object",
    "description": "Who wrote the note, as an event's actor.",
    "additionalProperties": False,
    "required": ["type", "id", "name"],
    "properties": {
        "type": {"type": "string", "enum": list(ActorType.values)},
        "id": {"type": "string"},
        "name": {"type": "string"},
    },
}
NOTE = component(
    "Note",
    {
        "type": "object",
        "description": "A note on a case: the team's internal record, append-only.",
        "additionalProperties": False,
        "required": ["id", "body", "author", "created_at"],
        "properties": {
            "id": id_schema("nt"),
            "body": {"type": "string", "minLength": 1, "maxLength": NOTE_MAX_LENGTH, "pattern": NOTE_PATTERN},
            "author": _AUTHOR,
            "created_at": TIMESTAMP,
        },
    },
)
NOTE_CREATE = component(
    "NoteCreate",
    {
        "type": "object",
        "description": "A new note. Any other key, `null` or a value of the wrong type is a 400 naming it.",
        "additionalProperties": False,
        "required": ["body"],
        "properties": {
            "body": {
                "type": "string",
                "minLength": 1,
                "maxLength": NOTE_MAX_LENGTH,
                "pattern": NOTE_PATTERN,
                "description": f"1–{NOTE_MAX_LENGTH:,} characters; tab, newline and carriage return are the only "
                "control characters allowed.",
            }
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
    note_list = page_component("NoteList", "One page of a case's notes, oldest first.", "notes", NOTE)
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
                OpenApiParameter("priority", type=PRIORITY, description="Only cases of this priority."),
                OpenApiParameter(
                    "assignee",
                    type={"type": "string", "pattern": f"^(mem_{ULID_PATTERN}|none)$"},
                    description="Only cases assigned to this member; `none`: only cases assigned to no one.",
                ),
                OpenApiParameter("label", type=LABEL, description="Only cases with this label, exactly as stored."),
                OpenApiParameter(
                    "identifier",
                    type=IDENTIFIER,
                    description="Only cases with a subject holding this identifier (for `ip` or `hwid`: any "
                    "player seen with it).",
                ),
                OpenApiParameter(
                    "player",
                    type=id_schema("pl"),
                    description="Only cases with this player as a subject (a merged player's id: its survivor's "
                    "cases); a player the token cannot see gives an empty page.",
                ),
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
        notes=operation(
            scopes["notes"],
            tag="cases",
            operation_id="listCaseNotes",
            summary="List a case's notes",
            description="The team's notes on the case, oldest first, paged like the list of cases.",
            parameters=[CASE_ID, *page_parameters(KeysetPagination, "case-note-cursor")],
            success={200: OpenApiResponse(response=note_list, description="A page of notes.")},
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
                (200, "application/zip"): OpenApiResponse(
                    response={"type": "string", "format": "binary"}, description="The bundle."
                )
            },
            errors=[401, 403, 404, 429, 500, 503],
        ),
    )(viewset)


PLAYER = component(
    "Player",
    {
        "type": "object",
        "description": "A player: one person, known by any of their identifiers.",
        "additionalProperties": False,
        "required": ["id", "identifiers", "names", "cases", "erased", "created_at", "updated_at"],
        "properties": {
            "id": id_schema("pl"),
            "identifiers": {"type": "array", "items": STORED_IDENTIFIER, "description": "Sorted."},
            "names": {
                "type": "array",
                "maxItems": NAMES_KEPT,
                "items": {"type": "string"},
                "description": f"Names seen, the last {NAMES_KEPT}, most recently seen first.",
            },
            "cases": {
                "type": "object",
                "description": "How many cases report the player (role `reported`), by status.",
                "additionalProperties": False,
                "required": list(Status.values),
                "properties": {status: {"type": "integer", "minimum": 0} for status in Status.values},
            },
            "erased": {"type": "boolean"},
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
    },
)
PLAYER_LOOKUP = component(
    "PlayerLookup",
    {
        "type": "object",
        "description": "Every player holding any of the identifiers, most recently updated first.",
        "additionalProperties": False,
        "required": ["players"],
        "properties": {"players": {"type": "array", "items": PLAYER, "maxItems": 100}},
    },
)
PLAYER_ID = OpenApiParameter(
    "id",
    type=id_schema("pl"),
    location=OpenApiParameter.PATH,
    description="The player's id; a merged player's id answers with the player it was merged into. Any other "
    "string, or a player outside the token's project and mode, is a 404.",
)


def player_schema(viewset: type[T]) -> type[T]:
    """Decorates ``PlayerViewSet`` with its operations."""
    scopes: dict[str, str] = viewset.required_scopes  # type: ignore[attr-defined]
    players: type[KeysetPagination] = viewset.pagination_class  # type: ignore[attr-defined]
    page = page_component("PlayerList", "One page of players, most recently updated first.", "players", PLAYER)
    return extend_schema_view(
        list=operation(
            scopes["list"],
            tag="players",
            operation_id="listPlayers",
            summary="Find players by identifier, or list them",
            description=(
                "With `identifier` (1–16 of them): every player holding any (a strong identifier leads to at most "
                "one, a weak one to every player seen with it, at most 100), in one indexed statement: the call "
                "a game server makes when a player joins, not paged (`limit` or `cursor` beside it is a 400). "
                "Without: the token's players, one page at a time."
            ),
            parameters=[
                OpenApiParameter(
                    "identifier",
                    type={"type": "array", "items": IDENTIFIER, "minItems": 1, "maxItems": 16},
                    explode=True,
                    style="form",
                    description="Repeat for each identifier: `?identifier=steam:…&identifier=license:…`.",
                ),
                *page_parameters(players, "player-cursor"),
            ],
            success={
                200: OpenApiResponse(
                    response={"oneOf": [PLAYER_LOOKUP, page]},
                    description="The players found (with `identifier`), or a page of players.",
                )
            },
            errors=[400, 401, 403, 406, 429, 500],
        ),
        retrieve=operation(
            scopes["retrieve"],
            tag="players",
            operation_id="getPlayer",
            summary="Get a player",
            description="One player, with its identifiers, names and counts of reported cases.",
            parameters=[PLAYER_ID],
            success={200: OpenApiResponse(response=PLAYER, description="The player.")},
            errors=[401, 403, 404, 406, 429, 500],
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


def add_note_operation(scope: str | Sequence[str]) -> Callable[[F], F]:
    """``POST /v1/cases/{id}/notes``: the notes action's second method, which drf-spectacular reads
    from the method itself (``extend_schema_view`` knows actions, not their mapped methods)."""
    decorator: Callable[[F], F] = operation(
        scope if isinstance(scope, str) else tuple(scope),
        tag="cases",
        operation_id="createCaseNote",
        summary="Add a note to a case",
        description=(
            "Appends a note (append-only: no edit, no delete), recorded in the case's history in the same "
            'transaction as `{"note": {"from": null, "to": "nt_…"}}`.'
        ),
        parameters=[CASE_ID],
        request=OpenApiRequest(
            NOTE_CREATE, examples=[OpenApiExample("note", value={"body": "Demo reviewed: aimbot confirmed."})]
        ),
        success={201: OpenApiResponse(response=NOTE, description="The new note.")},
        errors=[400, 401, 403, 404, 406, 413, 415, 429, 500],
    )
    return decorator
