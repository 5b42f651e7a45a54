"""The API's errors (docs/api.md#errors): stable codes, one exception class per kind of refusal.

Views and services raise these; ``serverops.exception_handler.exception_handler`` shapes them.
"""

from __future__ import annotations

import re
from typing import Any

from django.http import JsonResponse
from rest_framework import exceptions, status

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    411: "length_required",
    412: "precondition_failed",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_type",
    417: "expectation_failed",
    429: "rate_limited",
    431: "header_fields_too_large",
    500: "internal",
    501: "not_implemented",
    503: "service_unavailable",
}
# "//v1/cases" and "/v1" are API paths too: whatever a client mistypes there gets the envelope.
_API_PATH = re.compile(r"/+v1(/|$)")
# Codes that share a status with the one above: an exception names them by its default_code.
SPECIFIC_CODES = {"file_too_large": 413}
UNAUTHORIZED_MESSAGE = "missing or invalid authorization token"
INTERNAL_MESSAGE = "an unexpected error occurred"


class DomainError(Exception):
    """A refusal by a service, in the domain's terms: a stable ``code``, its ``message`` and, for
    a value it refuses, the ``param`` that value came in. Services raise these and import
    nothing of HTTP; the API's exception handler answers one with ``status`` in the envelope,
    the admin shows its message on the form."""

    status = 400
    code = "bad_request"
    default_message = "bad request"

    def __init__(self, message: str | None = None, *, param: str | None = None) -> None:
        self.message = message or self.default_message
        self.param = param
        super().__init__(self.message)


class InvalidValue(DomainError):
    """A value outside its rules; ``param`` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message, param=param)


class Unauthorized(exceptions.AuthenticationFailed):
    """Every 401 cause of docs/api.md#tokens-and-scopes gets the same answer, so callers
    learn nothing about the token."""

    default_detail = UNAUTHORIZED_MESSAGE
    default_code = "unauthorized"


class MissingScope(exceptions.PermissionDenied):
    default_detail = "token does not have the required scope"
    default_code = "forbidden"

    def __init__(self, scope: str) -> None:
        super().__init__()
        self.headers = {"X-Accepted-Scopes": scope}


class NotFound(exceptions.NotFound):
    default_detail = "not found"
    default_code = "not_found"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "the resource has changed since the given ETag; fetch it again"
    default_code = "precondition_failed"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "conflict"
    default_code = "conflict"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "the service cannot do this now"
    default_code = "service_unavailable"


# Seconds a client waits before retrying after an engine failed: a restart or failover takes a few.
ENGINE_RETRY_AFTER = 5


class EngineUnavailable(ServiceUnavailable):
    """An engine (``serverops.engines``) did not answer: 503 naming it, with ``Retry-After``."""

    def __init__(self, engine: str) -> None:
        super().__init__(engine_unavailable_message(engine))
        self.headers = {"Retry-After": str(ENGINE_RETRY_AFTER)}


def engine_unavailable_message(engine: str) -> str:
    return f"the {engine} is not answering; retry in a few seconds"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "request body is larger than 1 MiB"
    default_code = "payload_too_large"


def is_api_path(path: str) -> bool:
    return _API_PATH.match(path) is not None


def voice(message: str) -> str:
    """One voice for every message: lowercase first word, no final period.

    ``"This field is required."`` becomes ``"this field is required"``; a message that starts
    with a name or an acronym (``"ETag …"``, ``"JSON …"``, ``"Idempotency-Key …"``) keeps its capitals.
    """
    message = message.strip()
    if message.endswith(".") and not message.endswith(".."):
        message = message[:-1]
    first_word = message.split(" ", 1)[0]
    # "Idempotency-Key …" is a name too: only a word with no capital after its first is lowered.
    if len(first_word) > 1 and first_word[0].isupper() and first_word[1:] == first_word[1:].lower():
        message = message[0].lower() + message[1:]
    return message


def all_codes() -> list[str]:
    """Every ``code`` an error body can carry."""
    return sorted({*CODES.values(), *SPECIFIC_CODES})


def error_body(status_code: int, message: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    if code is None or SPECIFIC_CODES.get(code) != status_code:
        code = CODES.get(status_code, CODES[500])
    error: dict[str, Any] = {"code": code, "message": message}
    if param is not None:
        error["param"] = param
    return {"error": error}


def error_response(status_code: int, message: str) -> JsonResponse:
    """The envelope as a plain Django response, for failures that never reach DRF."""
    return JsonResponse(
        error_body(status_code, message), status=status_code, json_dumps_params={"separators": (",", ":")}
    )
