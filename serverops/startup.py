"""Start-up checks for servers: refuse to start, in one line, when the settings cannot load."""

from __future__ import annotations

import gc
import sys
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
