"""What every operation of the OpenAPI document shares: the bearer scheme, the error
envelope (docs/api.md#errors) and the response headers of docs/api.md#basics,
docs/api.md#tokens-and-scopes, docs/api.md#cases and docs/api.md#rate-limits.

drf-spectacular introspects the views; this module states what introspection cannot see.
Each piece is built from the code that produces it at run time (the error codes from
``serverops.exceptions``, the request-id rule from the middleware), so the two cannot drift.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

from .exceptions import CODES, INTERNAL_MESSAGE, UNAUTHORIZED_MESSAGE, all_codes, error_body
from .ids import ULID_PATTERN
from .middleware import CLIENT_REQUEST_ID
from .pagination import KeysetPagination

Schema = dict[str, Any]

_COMPONENTS: dict[str, Schema] = {}


def component(name: str, schema: Schema) -> Schema:
    """Registers ``schema`` as ``#/components/schemas/<name>`` and returns a reference to it."""
    if _COMPONENTS.setdefault(name, schema) is not schema:
        raise ValueError(f"two schemas named {name}")
    return {"$ref": f"#/components/schemas/{name}"}


ERROR_SCHEMA: Schema = {
    "type": "object",
    "description": "The body of every non-2xx response under /v1/. Clients branch on `code`; `message` may change.",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "enum": all_codes()},
                "message": {"type": "string", "description": "For people; it may change between releases."},
                "param": {
                    "type": "string",
                    "description": "On a 400: the body field or query parameter at fault.",
                },
            },
        }
    },
}


ERROR = component("Error", ERROR_SCHEMA)


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]  # drf-spectacular is untyped
    """``tokens.authentication.BearerTokenAuthentication`` as the ``bearerAuth`` scheme
    (docs/api.md#tokens-and-scopes)."""

    target_class = "tokens.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: openapi.AutoSchema) -> Schema:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "`Authorization: Bearer <token>`. A token is `so_live_` or `so_test_` and 28 characters "
                "of `[A-Za-z0-9]`; it reads and writes only its own project's data of its own mode."
            ),
        }


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, for operations that state their bodies in full.

    A list action's response is not wrapped in an array (a page here is an object,
    ``{"cases": [...], "next_cursor", "has_more"}``), and every request body is required.
    """

    def _is_list_view(self, serializer: Any = None) -> bool:
        return False

    def _get_request_body(self, direction: str = "request") -> Schema | None:
        body: Schema | None = super()._get_request_body(direction)  # type: ignore[no-untyped-call]
        if body is not None:
            # drf-spectacular cannot tell from a raw schema; here a create or update without a body is a 400.
            body["required"] = True
        return body


def canonical_paths(endpoints: list[tuple[str, str, str, Any]]) -> list[tuple[str, str, str, Any]]:
    """drf-spectacular preprocessing hook: each path under its canonical name, without the
    trailing slash the router also accepts (docs/api.md#basics)."""
    return [(path.rstrip("/") or "/", regex, method, view) for path, regex, method, view in endpoints]


def add_shared_components(result: Schema, generator: Any, request: Any, public: bool) -> Schema:
    """drf-spectacular postprocessing hook: adds the registered components.

    They go into the generator's registry, as its own components do, so that the enum hook
    after this one names their enums and the document lists every component in one order.
    """
    for name, schema in _COMPONENTS.items():
        generator.registry.register_on_missing(
            # A copy: the enum hook rewrites schemas in place, and the document is built per request.
            ResolvedComponent(  # type: ignore[no-untyped-call]
                name=name, type=ResolvedComponent.SCHEMA, schema=copy.deepcopy(schema), object=name
            )
        )
    result["components"] = generator.registry.build(spectacular_settings.APPEND_COMPONENTS)
    return result


# What each status means for every operation that can return it; the message is a realistic
# example of what the service sends (the code follows from the status).
_ERRORS: dict[int, tuple[str, str]] = {
    400: ("A malformed body or query parameter; `param` names it.", "title: must be at most 200 characters"),
    401: ("The token is missing, malformed, unknown, revoked or expired.", UNAUTHORIZED_MESSAGE),
    403: ("The token lacks the scope this operation needs.", "token does not have the required scope"),
    404: ("No such case in the token's project and mode.", "case not found"),
    406: ("`Accept` excludes application/json.", "this API only responds with application/json"),
    409: (
        "The `Idempotency-Key` was already used with a different body; nothing was created.",
        "Idempotency-Key was already used with a different request body",
    ),
    412: (
        "`If-Match` names a representation that is no longer current; nothing was written.",
        "the resource has changed since the given ETag; fetch it again",
    ),
    413: ("The request body is larger than 1 MiB.", "request body is larger than 1 MiB"),
    415: (
        "The body was not sent as `Content-Type: application/json`.",
        "request body must be sent as application/json",
    ),
    429: (
        "Over the token's rate limit; retry after `Retry-After` seconds.",
        "rate limit exceeded; retry in 12 seconds",
    ),
    500: ("An unexpected error, logged with the request id.", INTERNAL_MESSAGE),
    503: (
        "Case exports are not configured on this installation (no signing key).",
        "case exports are not configured: set EXPORT_SIGNING_KEY (manage.py create_export_key)",
    ),
}
_PARAMS = {400: "title"}


def error_responses(
    statuses: Iterable[int], *, overrides: dict[int, tuple[str, str, str]] | None = None
) -> dict[int, OpenApiResponse]:
    """The Error envelope, with a description and an example, for each of ``statuses``.

    ``overrides`` gives an operation's own ``(description, message, code)`` for a status.
    """
    responses = {}
    for status in statuses:
        description, message = _ERRORS[status]
        code = CODES[status]
        if overrides and status in overrides:
            description, message, code = overrides[status]
        example = OpenApiExample(code, value=error_body(status, message, _PARAMS.get(status), code=code))
        responses[status] = OpenApiResponse(response=ERROR, description=description, examples=[example])
    return responses


def header(
    name: str, schema: Schema, description: str, statuses: Iterable[int], *, always: bool = True
) -> list[OpenApiParameter]:
    """A response header on ``statuses`` (none when there are none); ``always`` when every such response has it."""
    statuses = sorted(statuses)
    if not statuses:
        # An empty list would make drf-spectacular take the header for a request parameter.
        return []
    return [
        OpenApiParameter(
            name,
            type=schema,
            location=OpenApiParameter.HEADER,
            required=always,
            description=description,
            response=statuses,
        )
    ]


# Statuses answered before the token is read (DRF negotiates content first) or for want of a
# usable token, and crashes that may happen anywhere: none can promise the rate-limit state.
UNCHARGED = frozenset({401, 406, 500})
_COUNT = {"type": "string", "pattern": "^[0-9]+$"}
_WINDOW = "the current minute (on a 429, the exhausted window that ends last)"


def response_headers(
    statuses: Iterable[int],
    *,
    scope: str | tuple[str, ...],
    other_refusals: bool = False,
    named_scopes: Iterable[str] = (),
) -> list[OpenApiParameter]:
    """The response headers every operation that needs ``scope`` sends on ``statuses``;
    ``other_refusals`` when the operation also answers 403 for a reason other than a missing
    scope (an owner's membership), whose answer has no ``X-Accepted-Scopes``; ``named_scopes``,
    when given, the scopes a 403 may name besides (a token asked to mint a scope it lacks,
    docs/api.md#tokens-api).

    ``X-Request-Id`` is on every response (docs/api.md#basics), the rate-limit headers on every response
    to a request whose token was charged (docs/api.md#rate-limits), the others on the refusals that explain
    themselves with a header (docs/api.md#tokens-and-scopes, docs/api.md#rate-limits).
    """
    statuses = sorted(statuses)
    charged = [s for s in statuses if s not in UNCHARGED]
    return [
        *header(
            "X-Request-Id",
            {"type": "string", "pattern": f"^{CLIENT_REQUEST_ID.pattern}$"},
            "The client's `X-Request-Id` when it is 1–128 characters of `[A-Za-z0-9._-]`, otherwise one "
            "the service made. Server logs carry the same id.",
            statuses,
        ),
        *header("X-RateLimit-Limit", _COUNT, f"Requests the token may make in {_WINDOW}.", charged),
        *header("X-RateLimit-Remaining", _COUNT, f"Requests the token has left in {_WINDOW}.", charged),
        *header("X-RateLimit-Reset", _COUNT, f"When {_WINDOW} ends, in Unix seconds.", charged),
        *header(
            "RateLimit-Policy",
            {"type": "string", "example": '"per-second";q=60;w=1, "per-minute";q=1000;w=60'},
            "Both windows as quota policies (IETF draft-ietf-httpapi-ratelimit-headers): "
            "each one's quota `q` and window `w` in seconds.",
            charged,
        ),
        *header(
            "RateLimit",
            {"type": "string", "example": '"per-second";r=59;t=1, "per-minute";r=999;t=50'},
            "Where the token stands in both windows (IETF draft-ietf-httpapi-ratelimit-headers): "
            "each one's remaining quota `r` and the seconds `t` until it resets.",
            charged,
        ),
        *header(
            "Retry-After",
            _COUNT,
            "Whole seconds until the exhausted rate-limit window ends.",
            [s for s in statuses if s == 429],
        ),
        *header(
            "WWW-Authenticate",
            {"type": "string", "enum": ["Bearer"]},
            "The authentication scheme to use.",
            [s for s in statuses if s == 401],
        ),
        *header(
            "X-Accepted-Scopes",
            {
                "type": "string",
                "enum": sorted(named_scopes) if named_scopes else [*([scope] if isinstance(scope, str) else scope)],
            },
            "The scope that would grant this operation (the first one the token lacks)"
            + ("; absent on a 403 for another reason." if other_refusals else "."),
            [s for s in statuses if s == 403],
            always=not other_refusals,
        ),
    ]


# Building blocks of each app's operations (cases/schema.py, media/schema.py).


def id_schema(prefix: str) -> Schema:
    """A public id: the prefix, an underscore and a ULID."""
    return {
        "type": "string",
        "pattern": f"^{prefix}_{ULID_PATTERN}$",
        "example": f"{prefix}_01JD3Z8W6V4M2Q9T7K5X1B0N3R",
    }


TIMESTAMP: Schema = {
    "type": "string",
    "format": "date-time",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$",
    "description": "RFC 3339, UTC, milliseconds, `Z`.",
    "example": "2026-11-27T17:41:32.123Z",
}


def page_component(name: str, description: str, results_key: str, item: Schema) -> Schema:
    """One page of a keyset-paged list (``serverops.pagination``) as a component."""
    return component(
        name,
        {
            "type": "object",
            "description": description,
            "additionalProperties": False,
            "required": [results_key, "next_cursor", "has_more"],
            "properties": {
                results_key: {"type": "array", "items": item},
                "next_cursor": {
                    "type": "string",
                    "nullable": True,
                    "description": "Pass as `cursor` for the next page; null exactly when `has_more` is false.",
                },
                "has_more": {"type": "boolean"},
            },
        },
    )


def page_parameters(pagination: type[KeysetPagination], cursor_format: str) -> list[OpenApiParameter]:
    """``limit`` and ``cursor``. The cursor's format names what kind of position it holds; to a
    client it is opaque (any value the service did not issue is a 400)."""
    return [
        OpenApiParameter(
            "limit",
            type={
                "type": "integer",
                "minimum": 1,
                "maximum": pagination.max_limit,
                "default": pagination.default_limit,
            },
            description="Items per page.",
        ),
        OpenApiParameter(
            "cursor",
            type={"type": "string", "format": cursor_format},
            description="The `next_cursor` of the previous page; anything else is a 400.",
        ),
    ]


def operation(
    scope: str | tuple[str, ...],
    *,
    tag: str,
    operation_id: str,
    summary: str,
    description: str,
    success: dict[int, OpenApiResponse] | dict[tuple[int, str], OpenApiResponse],
    errors: list[int],
    parameters: list[OpenApiParameter] | None = None,
    request: Any = None,
    headers: list[OpenApiParameter] | None = None,
    error_overrides: dict[int, tuple[str, str, str]] | None = None,
    named_scopes: Iterable[str] = (),
) -> Any:
    """One operation: its scope (in the description and as ``x-required-scope``; several scopes,
    all needed, are a tuple there and space-separated there), every status it can answer, the
    envelope for each error, and the headers of each response. A success keyed ``(status, media
    type)`` is a body that is not JSON (a ZIP)."""
    scopes = (scope,) if isinstance(scope, str) else scope
    statuses = [code if isinstance(code, int) else code[0] for code in success]
    needs = " and ".join(f"`{s}`" for s in scopes) + (" scope" if len(scopes) == 1 else " scopes")
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        description=f"{description}\n\nNeeds a token with the {needs}.",
        tags=[tag],
        # Parameters are stated in full; introspecting filters would build a queryset without a token.
        filters=False,
        extensions={"x-required-scope": " ".join(scopes)},
        parameters=[
            *(parameters or []),
            *response_headers(
                [*statuses, *errors],
                scope=scopes,
                other_refusals=403 in (error_overrides or {}),
                named_scopes=named_scopes,
            ),
            *(headers or []),
        ],
        request=request,
        responses={**success, **error_responses(errors, overrides=error_overrides)},
    )
