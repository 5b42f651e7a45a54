"""Django-level error handlers: the error envelope (docs/api.md#errors) for what fails under /v1/ before or outside DRF.

Under ``/media/`` (user bytes, served as hostile content) a short plain-text answer, never a page.
Everything else (the admin) keeps Django's own pages.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import csrf, defaults
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularYAMLAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from .exception_handler import request_refusal
from .exceptions import INTERNAL_MESSAGE, error_response, is_api_path
from .renderers import JSONRenderer


def _is_api(request: HttpRequest) -> bool:
    return is_api_path(request.path)


def _is_media(request: HttpRequest) -> bool:
    return request.path.startswith("/media/")


def _plain(status: int, message: str) -> HttpResponse:
    response = HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# A Host not in ALLOWED_HOSTS, outside /v1/ (admin pages, file links): short plain text, never
# a page that could render; the operator's fix is in docs/api.md ("Files and evidence").
DISALLOWED_HOST_MESSAGE = (
    "bad request: the Host header names a host this service does not serve (its operator lists them in ALLOWED_HOSTS)"
)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not _is_api(request) and isinstance(exception, DisallowedHost):
        return _plain(400, DISALLOWED_HOST_MESSAGE)
    if _is_media(request):
        return _plain(400, "bad request")
    if not _is_api(request):
        return defaults.bad_request(request, exception)
    refusal = request_refusal(exception)
    if refusal is None:
        return error_response(400, "bad request")
    return error_response(refusal.status_code, str(refusal.detail))


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_media(request):
        return _plain(403, "forbidden")
    if not _is_api(request):
        return defaults.permission_denied(request, exception)
    return error_response(403, "forbidden")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if _is_media(request):
        return _plain(403, "forbidden")
    if not _is_api(request):
        return csrf.csrf_failure(request, reason)
    return error_response(403, "forbidden")


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_media(request):
        return _plain(404, "not found")
    if not _is_api(request):
        return defaults.page_not_found(request, exception)
    return error_response(404, "no such endpoint")


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_media(request):
        return _plain(500, "internal error")
    if not _is_api(request):
        return defaults.server_error(request)
    return error_response(500, INTERNAL_MESSAGE)


@csrf_exempt
def index(request: HttpRequest) -> HttpResponse:
    """``/``: where things are, for whoever opens the service's address (GET or HEAD)."""
    if request.method not in ("GET", "HEAD"):
        response = error_response(405, f"method {request.method} is not allowed on this path")
        response["Allow"] = "GET, HEAD"
        return response
    return JsonResponse(
        {
            "service": "ServerOps Cases API",
            "api": "/v1/",
            "docs": "/docs",
            "openapi": "/v1/openapi.json",
            "admin": "/admin/",
        },
        json_dumps_params={"separators": (",", ":")},
    )


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
