"""Request-scoped plumbing that every response needs, API or admin."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django.db import connection
from django.http import HttpRequest, HttpResponse
from ulid import ULID

from .logging import request_id_var

logger = logging.getLogger("serverops.request")
CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


class RequestIdMiddleware:
    """Echo a client's well-formed ``X-Request-Id`` or make one; logs carry the same id (docs/api.md#basics)."""

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


class RequestLogMiddleware:
    """One structured line per request: id, token id (never the secret), method, path, status,
    duration and query count. Inside ``RequestIdMiddleware``, so the line carries the request id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        counter = _QueryCounter()
        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            response = self.get_response(request)
        token = getattr(request, "auth", None)
        logger.info(
            "request method=%s path=%s status=%s duration_ms=%.1f queries=%d token=%s",
            request.method,
            quote(request.path, safe="/"),
            response.status_code,
            (time.perf_counter() - started) * 1000,
            counter.count,
            getattr(token, "pk", "-"),
        )
        return response


class _QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)
