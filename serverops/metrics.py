"""Prometheus metrics (docs/operations.md#metrics): what the service counts, and ``/metrics``.

The numbers live in ``prometheus_client``'s objects below. Under gunicorn each worker is a process
of its own: with ``PROMETHEUS_MULTIPROC_DIR`` set (before Python starts; the library reads it at
import) every process writes its values to files there and a scrape of any worker adds them all
up; ``gunicorn.conf.py`` drops the files of workers that died. Without it a scrape shows the one
process it reached, which is right for ``runserver`` and tests.

Nothing is recorded while ``METRICS_TOKEN`` is empty: the request path then costs what it did.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable, Iterable, Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import REGISTRY, GaugeMetricFamily, Metric

__all__ = ["Metric", "gauge", "register_scrape_collector"]
from prometheus_client.registry import Collector

from .exceptions import error_response

logger = logging.getLogger("serverops.metrics")

REQUESTS = Counter(
    "serverops_requests", "Requests answered, by route, method and status.", ["route", "method", "status"]
)
# Buckets around the service's own figures: a GET takes about 1 ms, a list page a few, an upload more.
LATENCY = Histogram(
    "serverops_request_duration_seconds",
    "Time from the request reaching Django to its answer, by route and method.",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RATE_LIMIT_REFUSALS = Counter("serverops_rate_limit_refusals", "Requests refused 429 by a token's rate limit.")
RATE_LIMIT_UNCOUNTED = Counter(
    "serverops_rate_limit_uncounted",
    "Requests let through uncounted because the rate limit's Redis did not answer (fail open).",
)
UPLOADS = Counter("serverops_uploads", "Files stored through POST /v1/media and /v1/media/base64.")
UPLOAD_BYTES = Counter("serverops_upload_bytes", "Bytes of the files stored through the upload endpoints.")
WEBHOOK_ATTEMPTS = Counter(
    "serverops_webhook_attempts", "Webhook delivery attempts by outcome (delivered, retrying, failed).", ["outcome"]
)
ENGINE_FAILURES = Counter(
    "serverops_engine_unavailable", "Requests answered 503 because an engine did not answer.", ["engine"]
)

UPLOAD_ROUTES = frozenset({"media-list", "media-base64"})

# Gauges read from the engines at scrape time (the webhook backlog), added by the apps that own
# the data (``register_scrape_collector`` in their ``AppConfig.ready``).
_scrape_collectors: list[Callable[[], Iterable[Metric]]] = []


def enabled() -> bool:
    return bool(settings.METRICS_TOKEN)


def register_scrape_collector(collect: Callable[[], Iterable[Metric]]) -> None:
    """Add ``collect`` to every scrape: it returns metric families read when ``/metrics`` is asked."""
    if collect not in _scrape_collectors:
        _scrape_collectors.append(collect)


def gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def observe_request(request: HttpRequest, response: HttpResponse, seconds: float) -> None:
    """Count one answered request (a ``RequestLogMiddleware`` step)."""
    match = request.resolver_match
    route = match.view_name if match is not None else "unmatched"
    method = str(request.method)
    status = response.status_code
    REQUESTS.labels(route, method, str(status)).inc()
    LATENCY.labels(route, method).observe(seconds)
    if status == 429:
        RATE_LIMIT_REFUSALS.inc()
    elif status == 201 and method == "POST" and route in UPLOAD_ROUTES:
        UPLOADS.inc()
        data = getattr(response, "data", None)
        if isinstance(data, dict) and isinstance(data.get("size"), int):
            UPLOAD_BYTES.inc(data["size"])


class _ScrapeTime(Collector):
    def collect(self) -> Iterator[Metric]:
        for collect in _scrape_collectors:
            try:
                yield from collect()
            except Exception as error:
                # A scrape still reports the counters when an engine behind a gauge is down.
                logger.warning("a scrape-time gauge was left out: %s: %s", type(error).__name__, error)


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = CollectorRegistry()
        registry.register(_Default())
    registry.register(_ScrapeTime())
    return registry


class _Default(Collector):
    """This process's own metrics, for a service that is not in multiprocess mode."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


@csrf_exempt
def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET /metrics``: Prometheus text for ``Authorization: Bearer <METRICS_TOKEN>``; 404 while the
    setting is empty (the route does not exist), 401 in the envelope for a missing or wrong token."""
    expected = settings.METRICS_TOKEN
    if not expected:
        return error_response(404, "no such endpoint")
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(offered.strip().encode(), expected.encode()):
        response = error_response(401, "missing or invalid metrics token")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if request.method not in ("GET", "HEAD"):
        response = error_response(405, f"method {request.method} is not allowed on this path")
        response["Allow"] = "GET, HEAD"
        return response
    scraped = HttpResponse(generate_latest(_registry()), content_type="text/plain; version=0.0.4; charset=utf-8")
    scraped["Cache-Control"] = "no-store"
    return scraped
