"""``check --deploy``: the key that hides players' IP addresses must be the installation's own."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

DEVELOPMENT_KEY = "serverops-insecure-local-development-only"
MIN_LENGTH = 32


@checks.register(checks.Tags.security, deploy=True)
def check_identifier_hash_key(**_: Any) -> list[checks.CheckMessage]:
    key = str(getattr(settings, "IDENTIFIER_HASH_KEY", ""))
    if key == DEVELOPMENT_KEY or len(key) < MIN_LENGTH:
        return [
            checks.Warning(
                f"IDENTIFIER_HASH_KEY is the development key or shorter than {MIN_LENGTH} characters: "
                "players' IP addresses are kept as an HMAC under it, which a known key lets anyone reverse "
                "by trying every address.",
                hint="Set IDENTIFIER_HASH_KEY to a long random value of this installation, and never change it.",
                id="players.W001",
            )
        ]
    return []
