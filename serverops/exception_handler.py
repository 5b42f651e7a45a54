"""The one exception handler: every failure of an API view leaves in the error envelope (docs/api.md#errors).

It lets DRF do what it does well (status, ``WWW-Authenticate``, ``Retry-After``, rolling
back the atomic block) and reshapes the result into ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import (
    DisallowedHost,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from . import metrics
from .engines import failed_engine
from .exceptions import (
    INTERNAL_MESSAGE,
    UNAUTHORIZED_MESSAGE,
    DomainError,
    EngineUnavailable,
    NotFound,
    PayloadTooLarge,
    error_body,
    voice,
)
from .negotiation import JSON, json_parameters_problem

logger = logging.getLogger("serverops.errors")


def _first_error(detail: Any, path: str | None = None) -> tuple[str | None, str]:
    """The first message of a (possibly nested) ValidationError detail, with its field path."""
    if isinstance(detail, Mapping):
        key, value = next(iter(detail.items()))
        field = None if key in ("non_field_errors", "detail") else str(key)
        return _first_error(value, field if path is None or field is None else f"{path}.{field}")
    if isinstance(detail, list) and detail:
        return _first_error(detail[0], path)
    return path, str(detail)


def _accepted_types(view: Any) -> str:
    """What the view's parsers read (``application/json`` for most of the API)."""
    parsers = view.get_parsers() if view is not None and hasattr(view, "get_parsers") else []
    return " or ".join(dict.fromkeys(parser.media_type for parser in parsers)) or "application/json"


def _message(exc: exceptions.APIException, request_method: str | None, view: Any = None) -> tuple[str | None, str]:
    if isinstance(exc, exceptions.ValidationError):
        param, message = _first_error(exc.detail)
        message = voice(message)
        if param is not None and not message.startswith(f"{param}: "):
            message = f"{param}: {message}"
        return param, message
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return None, UNAUTHORIZED_MESSAGE
    if isinstance(exc, exceptions.MethodNotAllowed):
        return None, f"method {request_method} is not allowed on this path"
    if isinstance(exc, exceptions.NotAcceptable):
        return None, "this API only responds with application/json"
    if isinstance(exc, exceptions.UnsupportedMediaType):
        sent = getattr(getattr(view, "request", None), "content_type", "") or ""
        if JSON in _accepted_types(view) and (problem := json_parameters_problem(sent)) is not None:
            return None, problem
        return None, f"request body must be sent as {_accepted_types(view)}"
    if isinstance(exc, exceptions.ParseError) and str(exc.detail).startswith("Multipart form parse error"):
        # DRF's MultiPartParser puts Django's internal wording after this prefix.
        return None, "request body is not valid multipart/form-data"
    return None, voice(str(exc.detail))


def request_refusal(exc: Exception) -> exceptions.APIException | None:
    """The 4xx for a request Django could not read: a parsing limit it enforces, a body that
    ended early, a malformed multipart body. ``None`` for anything else."""
    if isinstance(exc, RequestDataTooBig):
        # Django's DATA_UPLOAD_MAX_MEMORY_SIZE, checked when DRF reads the body.
        return PayloadTooLarge()
    if isinstance(exc, TooManyFieldsSent):
        return exceptions.ParseError("too many fields in the query string or form")
    if isinstance(exc, TooManyFilesSent):
        return exceptions.ParseError("too many files in the form")
    if isinstance(exc, UnreadablePostError):
        return exceptions.ParseError("request body ended before its Content-Length")
    if isinstance(exc, MultiPartParserError):
        return exceptions.ParseError("request body is not valid multipart/form-data")
    if isinstance(exc, DisallowedHost):
        return exceptions.ParseError("the Host header names a host this service does not serve")
    if isinstance(exc, SuspiciousOperation):
        return exceptions.ParseError("bad request")
    return None


def api_exception(error: DomainError) -> exceptions.APIException:
    """A service's refusal as the API answers it: a 400 naming ``param`` for a refused value,
    else ``error.status`` with ``error.code``."""
    if error.param is not None:
        return exceptions.ValidationError({error.param: [error.message]})
    refusal = exceptions.APIException(error.message, error.code)
    refusal.status_code = error.status
    refusal.default_code = error.code
    return refusal


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every error, expected or not, leaves in the envelope."""
    if isinstance(exc, DomainError):
        exc = api_exception(exc)
    elif isinstance(exc, Http404):
        exc = NotFound()
    elif (refusal := request_refusal(exc)) is not None:
        logger.warning("refused %s: %s", type(exc).__name__, refusal.detail)
        exc = refusal
    elif (engine := failed_engine(exc)) is not None:
        # One line naming the engine, no traceback: the operator's fix is the engine, not the code.
        logger.error("%s unavailable: %s: %s", engine, type(exc).__name__, exc)
        if metrics.enabled():
            metrics.ENGINE_FAILURES.labels(engine).inc()
        exc = EngineUnavailable(engine)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, EngineUnavailable):
        # Logged above in one line; Django's request logger would add a second for the 503.
        response._has_been_logged = True  # type: ignore[attr-defined]
    request = context.get("request")
    if response is None or not isinstance(exc, exceptions.APIException):
        set_rollback()
        logger.exception("unhandled error in %s %s", getattr(request, "method", "?"), getattr(request, "path", "?"))
        response = Response(error_body(500, INTERNAL_MESSAGE), status=500)
        # Logged above with the request id; Django's request logger would repeat it without.
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response
    param, message = _message(exc, getattr(request, "method", None), context.get("view"))
    response.data = error_body(response.status_code, message, param, code=str(exc.default_code))
    for name, value in getattr(exc, "headers", {}).items():
        response[name] = value
    return response
