"""The Members and Tokens APIs in the OpenAPI document (docs/api.md#members, docs/api.md#tokens-api)."""

from __future__ import annotations

from typing import TypeVar

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiRequest, OpenApiResponse, extend_schema_view

from serverops.schema import TIMESTAMP, Schema, component, id_schema, operation

from .models import Mode, Role
from .scopes import SCOPES
from .services import EMAIL_MAX_LENGTH

T = TypeVar("T")

ROLE: Schema = {"type": "string", "enum": list(Role.values)}
SCOPE: Schema = {"type": "string", "enum": list(SCOPES)}
NULLABLE_TIMESTAMP: Schema = {**TIMESTAMP, "nullable": True}

MEMBER = component(
    "Member",
    {
        "type": "object",
        "description": "A staff user's place in the token's organisation.",
        "additionalProperties": False,
        "required": ["id", "email", "name", "role", "created_at"],
        "properties": {
            "id": id_schema("mem"),
            "email": {"type": "string"},
            "name": {"type": "string"},
            "role": ROLE,
            "created_at": TIMESTAMP,
        },
    },
)
MEMBER_LIST = component(
    "MemberList",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["members"],
        "properties": {"members": {"type": "array", "items": MEMBER}},
    },
)
MEMBER_CREATE = component(
    "MemberCreate",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["email", "role"],
        "properties": {
            "email": {"type": "string", "format": "email", "maxLength": EMAIL_MAX_LENGTH},
            "role": {**ROLE, "description": "Not `owner`: a token cannot make an owner (403)."},
        },
    },
)
MEMBER_UPDATE = component(
    "MemberUpdate",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["role"],
        "properties": {"role": ROLE},
    },
)
TOKEN_PROPERTIES: Schema = {
    "id": id_schema("tok"),
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "scopes": {"type": "array", "items": SCOPE, "minItems": 1, "uniqueItems": True},
    "mode": {"type": "string", "enum": list(Mode.values)},
    "hint": {"type": "string", "description": "The token's first and last characters, e.g. `so_live_Ab3…x9Qz`."},
    "created_at": TIMESTAMP,
    "expires_at": NULLABLE_TIMESTAMP,
    "last_used_at": NULLABLE_TIMESTAMP,
    "revoked_at": NULLABLE_TIMESTAMP,
}
TOKEN_FIELDS = list(TOKEN_PROPERTIES)
TOKEN = component(
    "Token",
    {"type": "object", "additionalProperties": False, "required": TOKEN_FIELDS, "properties": TOKEN_PROPERTIES},
)
NEW_TOKEN = component(
    "NewToken",
    {
        "type": "object",
        "description": "The new token, with its plaintext: shown this once, never again.",
        "additionalProperties": False,
        "required": [*TOKEN_FIELDS, "token"],
        "properties": {
            **TOKEN_PROPERTIES,
            "token": {"type": "string", "pattern": "^so_(live|test)_[0-9A-Za-z]{28}$"},
        },
    },
)
TOKEN_LIST = component(
    "TokenList",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["tokens"],
        "properties": {"tokens": {"type": "array", "items": TOKEN}},
    },
)
TOKEN_CREATE = component(
    "TokenCreate",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "scopes"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "scopes": {
                "type": "array",
                "items": SCOPE,
                "minItems": 1,
                "uniqueItems": True,
                "description": "Only scopes the calling token holds (403 naming the first it lacks).",
            },
            "expires_in": {
                "type": "string",
                "pattern": "^[0-9]{1,9}[smhd]$",
                "description": "A lifetime such as `90d`, `12h`, `30m` or `45s`, ending no later than the caller.",
            },
        },
    },
)
MEMBER_ID = OpenApiParameter(
    "id", type=id_schema("mem"), location=OpenApiParameter.PATH, description="The member's id."
)
TOKEN_ID = OpenApiParameter("id", type=id_schema("tok"), location=OpenApiParameter.PATH, description="The token's id.")
OWNER_403 = (
    "The token lacks the scope, or the change makes or touches an owner.",
    "a token cannot make, promote, demote or remove an owner",
    "forbidden",
)
LAST_OWNER_409 = (
    "The change would leave the organisation without an owner.",
    "the organisation's last owner cannot be demoted or removed",
    "conflict",
)


def member_schema(viewset: type[T]) -> type[T]:
    scopes: dict[str, str] = viewset.required_scopes  # type: ignore[attr-defined]
    return extend_schema_view(
        list=operation(
            scopes["list"],
            tag="members",
            operation_id="listMembers",
            summary="List the organisation's members",
            description="Every member of the organisation of the token's project, oldest first.",
            success={200: OpenApiResponse(response=MEMBER_LIST, description="The members.")},
            errors=[401, 403, 406, 429, 500],
        ),
        create=operation(
            scopes["create"],
            tag="members",
            operation_id="addMember",
            summary="Invite a member",
            description=(
                "Someone without an account gets a staff account without a usable password and an email "
                "with the link that sets one."
            ),
            request=OpenApiRequest(
                MEMBER_CREATE,
                examples=[OpenApiExample("moderator", value={"email": "mod@example.com", "role": "moderator"})],
            ),
            success={201: OpenApiResponse(response=MEMBER, description="The new member.")},
            errors=[400, 401, 403, 406, 409, 413, 415, 429, 500],
            error_overrides={
                403: OWNER_403,
                409: ("The email is already a member.", "already a member of this organisation", "conflict"),
            },
        ),
        partial_update=operation(
            scopes["partial_update"],
            tag="members",
            operation_id="updateMember",
            summary="Change a member's role",
            description="Not to or from `owner` (403); the last owner keeps the role (409).",
            parameters=[MEMBER_ID],
            request=OpenApiRequest(MEMBER_UPDATE),
            success={200: OpenApiResponse(response=MEMBER, description="The member as it is now.")},
            errors=[400, 401, 403, 404, 406, 409, 413, 415, 429, 500],
            error_overrides={403: OWNER_403, 409: LAST_OWNER_409},
        ),
        destroy=operation(
            scopes["destroy"],
            tag="members",
            operation_id="removeMember",
            summary="Remove a member",
            description="The account stays, without this membership. Not an owner (403; 409 for the last one).",
            parameters=[MEMBER_ID],
            success={204: OpenApiResponse(description="Removed.")},
            errors=[401, 403, 404, 406, 409, 429, 500],
            error_overrides={403: OWNER_403, 409: LAST_OWNER_409},
        ),
    )(viewset)


def token_schema(viewset: type[T]) -> type[T]:
    scopes: dict[str, str] = viewset.required_scopes  # type: ignore[attr-defined]
    return extend_schema_view(
        list=operation(
            scopes["list"],
            tag="tokens",
            operation_id="listTokens",
            summary="List the project's tokens",
            description="The tokens of the calling token's project and mode, newest first, revoked ones included.",
            success={200: OpenApiResponse(response=TOKEN_LIST, description="The tokens.")},
            errors=[401, 403, 406, 429, 500],
        ),
        create=operation(
            scopes["create"],
            tag="tokens",
            operation_id="createToken",
            summary="Create a token",
            description=(
                "A token of the same project and mode, with scopes the calling token holds, ending no later "
                "than it does. The plaintext is in this response only."
            ),
            request=OpenApiRequest(
                TOKEN_CREATE,
                examples=[
                    OpenApiExample("bot", value={"name": "Discord bot", "scopes": ["cases:read"], "expires_in": "90d"})
                ],
            ),
            success={201: OpenApiResponse(response=NEW_TOKEN, description="The new token and its plaintext.")},
            errors=[400, 401, 403, 406, 413, 415, 429, 500],
            named_scopes=SCOPES,
        ),
        destroy=operation(
            scopes["destroy"],
            tag="tokens",
            operation_id="revokeToken",
            summary="Revoke a token",
            description="For good; revoking a revoked token changes nothing.",
            parameters=[TOKEN_ID],
            success={204: OpenApiResponse(description="Revoked.")},
            errors=[401, 403, 404, 406, 429, 500],
        ),
    )(viewset)
