"""Bearer authentication with scoped tokens (docs/api.md#tokens-and-scopes), following DRF's authentication contract.

``authenticate`` returns ``None`` when no credentials are offered (DRF then reports 401
through ``authenticate_header``) and raises for every bad credential. A token that is
malformed or fails its checksum is refused before any query; a well-formed one costs
one indexed lookup by digest.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from serverops.exceptions import Unauthorized

from . import crypto
from .models import ScopedToken

LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenUser:
    """The caller behind a token, as ``request.user``; it is never a Django user."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    def __init__(self, token: ScopedToken) -> None:
        self.token = token
        self.pk = token.pk

    def __str__(self) -> str:
        return f"token {self.token.pk}"


def bearer_credential(request: Request) -> str | None:
    """The credential of the request's ``Authorization: Bearer …`` header, as sent; ``None``
    without one."""
    header: str | None = request.META.get("HTTP_AUTHORIZATION")
    if header is None:
        return None
    scheme, _, credential = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        # Another scheme is not ours to judge, but no other authenticator is configured,
        # so the permission check will answer 401 for it like for a missing header.
        return None
    return credential.strip()


def bearer_digest(request: Request) -> str | None:
    """The digest of the token in the request's Bearer header when it is well formed (its
    checksum holds); ``None`` without one. Worked out once per request and kept on it: the
    rate limit counts by it before authentication looks the token up by it."""
    if hasattr(request, "_bearer_digest"):
        known: str | None = request._bearer_digest
        return known
    credential = bearer_credential(request)
    digest = None
    if credential is not None and crypto.parse(credential) is not None:
        digest = crypto.digest(credential)
    request._bearer_digest = digest  # type: ignore[attr-defined]
    return digest


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[TokenUser, ScopedToken] | None:
        if bearer_credential(request) is None:
            return None
        digest = bearer_digest(request)
        if digest is None:  # malformed, or its checksum fails
            raise Unauthorized()
        try:
            # The token's own row only: every request needs its project's id, none its project row.
            token = ScopedToken.objects.get_by_digest(digest)
        except ScopedToken.DoesNotExist:
            raise Unauthorized() from None
        now = timezone.now()
        if not token.is_usable(now):
            raise Unauthorized()
        self._touch(token, now)
        return TokenUser(token), token

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"

    @staticmethod
    def _touch(token: ScopedToken, now: datetime) -> None:
        """Record use at most once a minute per token, so reads stay free of writes."""
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            ScopedToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
