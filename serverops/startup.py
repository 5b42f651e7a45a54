"""Start-up checks for servers: refuse to start, in one line, when the settings cannot load."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import Any


def check_settings(server: Any) -> None:
    """Load the settings once before any worker starts; on ``ImproperlyConfigured`` (production
    without ``SECRET_KEY`` or ``ALLOWED_HOSTS``, say) print the reason and exit 1, instead of
    every worker failing to boot with a traceback. A gunicorn ``on_starting`` hook."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.INSTALLED_APPS  # noqa: B018 (the access loads the settings module)
    except ImproperlyConfigured as exc:
        sys.exit(f"serverops: {exc}")


def freeze_loaded_objects(worker: Any) -> None:
    """Keep what a worker has loaded (Django, the apps and every module they import) out of the
    garbage collector's full passes. A gunicorn ``post_worker_init`` hook: it runs once the
    worker has loaded the application, before its first request.

    Those objects live as long as the worker, yet each full collection walked all of them
    again: with about 150,000 of them, a full pass took about 70 ms, in the middle of whichever
    request triggered it (the list's p99 in bench/PROFILE.md, section 9). Frozen, a full pass
    walks only what requests made. Garbage already there is collected first, not kept forever.
    """
    gc.collect()
    gc.freeze()


def start(server: Any) -> None:
    """gunicorn's ``on_starting`` hook: the settings check, then the metrics files of processes
    that are gone (``PROMETHEUS_MULTIPROC_DIR`` outlives a restart; their counts would be added in
    forever, and a reused process id would start from a dead one's values)."""
    check_settings(server)
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)
    for path in Path(directory).glob("*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)


def worker_exited(server: Any, worker: Any) -> None:
    """gunicorn's ``child_exit`` hook: a dead worker's live gauges leave the metrics; its counters
    stay in (a counter never goes down)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
