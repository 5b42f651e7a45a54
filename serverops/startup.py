"""Start-up checks for servers: refuse to start, in one line, when the settings cannot load."""

from __future__ import annotations

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
