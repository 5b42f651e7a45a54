"""``/healthz`` and ``/readyz`` (docs/operations.md#health-checks): whether to restart the process,
and whether to send it traffic.

``/healthz`` answers from the process alone, so a load balancer never restarts every host
because PostgreSQL is down. ``/readyz`` asks the three engines at once — the database, the
cache and the file storage — each in a thread of its own with ``READYZ_TIMEOUT_SECONDS`` to
answer, so a host whose engine hangs leaves the rotation within that time, not a TCP timeout.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from . import engines
from .exceptions import error_response

logger = logging.getLogger("serverops.health")


def _check_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        # The check's own thread: its connection would otherwise stay open until the thread is gone.
        connection.close()


def _check_cache() -> None:
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, 1, timeout=5)
    if cache.get(key) != 1:
        raise RuntimeError("the cache did not keep a value it was just given")
    cache.delete(key)


def _check_storage() -> None:
    if isinstance(default_storage, FileSystemStorage):
        location = default_storage.location
        if not (os.path.isdir(location) and os.access(location, os.W_OK | os.X_OK)):
            raise RuntimeError(f"MEDIA_ROOT {location} is not a writable directory")
        return
    # One HEAD of a key that never exists: the store answers 404 when it is up (S3: HeadObject).
    default_storage.exists(".readyz")


CHECKS: dict[str, Callable[[], None]] = {
    engines.DATABASE: _check_database,
    engines.CACHE: _check_cache,
    engines.STORAGE: _check_storage,
}


def failed_checks(timeout: float) -> dict[str, str]:
    """Each engine that did not answer within ``timeout`` seconds, with why."""
    pool = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="readyz")
    futures = {name: pool.submit(check) for name, check in CHECKS.items()}
    wait(futures.values(), timeout=timeout)
    # A hung check's thread is left to finish on its own; the answer does not wait for it.
    pool.shutdown(wait=False)
    failed: dict[str, str] = {}
    for name, future in futures.items():
        if not future.done():
            failed[name] = f"no answer within {timeout:g} s"
        elif (error := future.exception()) is not None:
            failed[name] = f"{type(error).__name__}: {error}"
    return failed


@csrf_exempt
def healthz(request: HttpRequest) -> HttpResponse:
    """200 while the process serves requests; nothing else is asked."""
    return JsonResponse({"status": "ok"})


@csrf_exempt
def readyz(request: HttpRequest) -> HttpResponse:
    """200 when every engine answered in time, else 503 in the envelope naming those that did not."""
    failed = failed_checks(settings.READYZ_TIMEOUT_SECONDS)
    if not failed:
        return JsonResponse({"status": "ready", "checks": dict.fromkeys(CHECKS, "ok")})
    for name, reason in failed.items():
        logger.warning("not ready: %s: %s", name, reason)
    response = error_response(503, f"not ready: {', '.join(failed)} did not answer")
    response["Retry-After"] = "5"
    response["Cache-Control"] = "no-store"
    # Logged above, one WARNING per engine; Django's request logger would add an ERROR per probe.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response
