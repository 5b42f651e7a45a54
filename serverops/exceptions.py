"""The one exception handler: every failure of an API view leaves in the §6 envelope.

It lets DRF do what it does well (status, ``WWW-Authenticate``, ``Retry-After``, rolling
back the atomic block) and reshapes the result into ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from .errors import INTERNAL_MESSAGE, UNAUTHORIZED_MESSAGE, NotFound, PayloadTooLarge, error_body

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


def _message(exc: exceptions.APIException, request_method: str | None) -> tuple[str | None, str]:
    if isinstance(exc, exceptions.ValidationError):
        param, message = _first_error(exc.detail)
        if param is not None and not message.startswith(param):
            message = f"{param}: {message}"
        return param, message
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return None, UNAUTHORIZED_MESSAGE
    if isinstance(exc, exceptions.MethodNotAllowed):
        return None, f"method {request_method} is not allowed on this path"
    if isinstance(exc, exceptions.NotAcceptable):
        return None, "this API only responds with application/json"
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return None, "request body must be sent as application/json"
    return None, str(exc.detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every error, expected or not, leaves in the envelope."""
    if isinstance(exc, Http404):
        exc = NotFound()
    elif isinstance(exc, RequestDataTooBig):
        # Django's DATA_UPLOAD_MAX_MEMORY_SIZE, checked when DRF reads the body.
        exc = PayloadTooLarge()
    response = drf_exception_handler(exc, context)
    request = context.get("request")
    if response is None or not isinstance(exc, exceptions.APIException):
        set_rollback()
        logger.exception("unhandled error in %s %s", getattr(request, "method", "?"), getattr(request, "path", "?"))
        response = Response(error_body(500, INTERNAL_MESSAGE), status=500)
        # Logged above with the request id; Django's request logger would repeat it without.
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response
    param, message = _message(exc, getattr(request, "method", None))
    response.data = error_body(response.status_code, message, param)
    for name, value in getattr(exc, "headers", {}).items():
        response[name] = value
    return response
