"""Django-level error handlers: the error envelope (docs/api.md#errors) for what fails under /v1/ before or outside DRF.

Everything else (the admin) keeps Django's own pages.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views import csrf, defaults
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularYAMLAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from .errors import INTERNAL_MESSAGE, error_response, is_api_path
from .exceptions import request_refusal
from .renderers import JSONRenderer


def _is_api(request: HttpRequest) -> bool:
    return is_api_path(request.path)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not _is_api(request):
        return defaults.bad_request(request, exception)
    refusal = request_refusal(exception)
    if refusal is None:
        return error_response(400, "bad request")
    return error_response(refusal.status_code, str(refusal.detail))


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not _is_api(request):
        return defaults.permission_denied(request, exception)
    return error_response(403, "forbidden")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if not _is_api(request):
        return csrf.csrf_failure(request, reason)
    return error_response(403, "forbidden")


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not _is_api(request):
        return defaults.page_not_found(request, exception)
    return error_response(404, "no such endpoint")


def server_error(request: HttpRequest) -> HttpResponse:
    if not _is_api(request):
        return defaults.server_error(request)
    return error_response(500, INTERNAL_MESSAGE)


def _as_json_error(response: Response) -> Response:
    """An error of a document view leaves as JSON, like every other answer under /v1/,
    whichever format the document itself is served in."""
    if response.status_code >= 400:
        response.accepted_renderer = JSONRenderer()
        response.accepted_media_type = "application/json"
        response["Content-Type"] = "application/json"
    return response


class OpenApiJsonView(SpectacularJSONAPIView):
    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        return _as_json_error(super().finalize_response(request, response, *args, **kwargs))


class OpenApiYamlView(SpectacularYAMLAPIView):
    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        return _as_json_error(super().finalize_response(request, response, *args, **kwargs))
