"""The answer for paths under /v1/ that no app serves."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from .exceptions import error_response


@csrf_exempt
def api_not_found(request: HttpRequest) -> HttpResponse:
    """Any path under /v1/ that no route serves: the envelope, whatever the method."""
    return error_response(404, "no such endpoint")
