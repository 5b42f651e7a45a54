"""What every API viewset shares: the token's rate limit charged in the right place, and its
headers on every response."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import MethodNotAllowed
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from .models import ScopedToken
from .ratelimit import RateLimitState, charge


class ApiViewSet(GenericViewSet):  # type: ignore[type-arg]
    """Charges the token's rate limit right after authentication, before the scope check.

    A refused request still costs budget and still tells the caller where it stands
    (§7), so the charge cannot wait for DRF's throttle step, which runs after the
    permission check.
    """

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # A method this path does not serve is a 405 for everyone, before any token or
        # scope check; DRF would otherwise only notice after the permission check.
        method = str(request.method)
        if method.lower() not in self.http_method_names or not hasattr(self, method.lower()):
            raise MethodNotAllowed(method)
        super().initial(request, *args, **kwargs)

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)
        if isinstance(request.auth, ScopedToken):
            request.rate_limit = charge(request.auth.pk)  # type: ignore[attr-defined]

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        state: RateLimitState | None = getattr(request, "rate_limit", None)
        if state is not None:
            for name, value in state.headers().items():
                response[name] = value
        return response
