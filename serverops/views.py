"""Django-level error handlers: the §6 envelope for what fails under /v1/ before or outside DRF.

Everything else (the admin) keeps Django's own pages.
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.views import csrf, defaults

from .errors import INTERNAL_MESSAGE, error_response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/v1/")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not _is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return error_response(413, "request body is larger than 1 MiB")
    return error_response(400, "bad request")


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
