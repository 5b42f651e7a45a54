"""System checks of the files' configuration (``manage.py check --deploy``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.http.request import split_domain_port, validate_host

from serverops.conf import serverops_setting


@checks.register(checks.Tags.security, deploy=True)
def media_host_is_allowed(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``MEDIA_BASE_URL`` on a host ``ALLOWED_HOSTS`` does not name: every file link the service
    makes would be refused with a 400 when opened (Django's ``DisallowedHost``)."""
    from .models import File  # the storage is configured once the models load
    from .storage import FileSystemMediaStorage

    base: str = serverops_setting("MEDIA_BASE_URL") or ""
    if not base or not isinstance(File._meta.get_field("blob").storage, FileSystemMediaStorage):
        return []  # links on each request's own host, or served by an object store
    host, _port = split_domain_port(urlsplit(base).netloc.rpartition("@")[2])
    if not host or validate_host(host, settings.ALLOWED_HOSTS):
        return []
    return [
        checks.Warning(
            f"MEDIA_BASE_URL is on {host}, which ALLOWED_HOSTS does not list: every file link would be "
            "refused with a 400 when opened.",
            hint=f"Add {host} to ALLOWED_HOSTS (the service serves the files under /media/ on that host).",
            id="media.W001",
        )
    ]
