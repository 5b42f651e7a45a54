from typing import Any

from django.conf import settings


def serverops_setting(name: str) -> Any:
    """A value of ``settings.SERVEROPS``, read at call time so ``override_settings`` applies."""
    return settings.SERVEROPS[name]
