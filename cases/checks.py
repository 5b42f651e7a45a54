"""System checks of the cases app (``manage.py check --deploy``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register

from .export import ExportKeyMissing, decoded_key

HINT = "Run `manage.py create_export_key` and set the EXPORT_SIGNING_KEY it prints in the environment."


@register(Tags.security, deploy=True)
def export_signing_key(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """Warns when a deployment has no export key of its own: exports then answer 503 (production)
    or are signed with a development key kept on the server's disk."""
    if not settings.EXPORT_SIGNING_KEY:
        return [Warning("EXPORT_SIGNING_KEY is not set: case exports cannot be signed", hint=HINT, id="cases.W001")]
    try:
        decoded_key(settings.EXPORT_SIGNING_KEY, "EXPORT_SIGNING_KEY")
    except ExportKeyMissing as exc:
        return [Warning(str(exc), hint=HINT, id="cases.W002")]
    return []
