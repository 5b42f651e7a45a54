"""Request-scoped plumbing that every response needs, API or admin."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from ulid import ULID

from .logging import request_id_var

CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


class RequestIdMiddleware:
    """Echo a client's well-formed ``X-Request-Id`` or make one; logs carry the same id (§1)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.headers.get("X-Request-Id", "")
        request_id = offered if CLIENT_REQUEST_ID.fullmatch(offered) else f"req_{ULID()}"
        request.request_id = request_id  # type: ignore[attr-defined]
        reset = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(reset)
        response["X-Request-Id"] = request_id
        return response
