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

from . import metrics
from .engines import failed_engine
from .exceptions import ENGINE_RETRY_AFTER, engine_unavailable_message, error_response, is_api_path
from .logging import request_id_var

logger = logging.getLogger("serverops.request")
CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
# Load balancers and Prometheus ask these every few seconds: their lines are DEBUG, not INFO.
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


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
    """One structured line per request: id, token id (never the secret), method, route, path,
    status, duration and query count, and the request counted in ``serverops.metrics``. Inside
    ``RequestIdMiddleware``, so the line carries the request id. With ``LOG_FORMAT=json`` the
    fields are keys of the line's JSON object (python-json-logger)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        counter = _QueryCounter()
        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            response = self.get_response(request)
        seconds = time.perf_counter() - started
        if metrics.enabled():
            metrics.observe_request(request, response, seconds)
        level = logging.DEBUG if request.path in PROBE_PATHS else logging.INFO
        if not logger.isEnabledFor(level):
            return response
        match = request.resolver_match
        fields = {
            "method": request.method,
            "path": quote(request.path, safe="/"),
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 1),
            "queries": counter.count,
            "token": getattr(getattr(request, "auth", None), "pk", "-"),
            "route": match.view_name if match is not None else "-",
        }
        logger.log(level, "request %s", " ".join(f"{name}={value}" for name, value in fields.items()), extra=fields)
        return response


class EngineFailureMiddleware:
    """A failure of an engine outside the API's views (the admin, ``/media/`` links) answered 503
    naming the engine — the envelope under ``/v1/``, one plain line elsewhere — instead of
    Django's 500 page. The API's own views get the same answer from the exception handler."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        engine = failed_engine(exception)
        if engine is None:
            return None
        logger.error("%s unavailable: %s: %s", engine, type(exception).__name__, exception)
        if metrics.enabled():
            metrics.ENGINE_FAILURES.labels(engine).inc()
        message = engine_unavailable_message(engine)
        if is_api_path(request.path):
            response: HttpResponse = error_response(503, message)
        else:
            response = HttpResponse(message + "\n", status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(ENGINE_RETRY_AFTER)
        response._has_been_logged = True  # type: ignore[attr-defined]  # the line above says it
        return response


class _QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)
