"""What every API viewset shares: the token's rate limit charged in the right place, and its
headers on every response."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import MethodNotAllowed, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from serverops.exceptions import Unauthorized

from .authentication import bearer_digest
from .models import ScopedToken
from .ratelimit import Charge, RateLimitState

# Added by client libraries, not by people; accepted everywhere and ignored: every answer is JSON
# (docs/api.md, "Query parameters").
IGNORED_QUERY_PARAMETERS = frozenset({"format"})


class ApiViewSet(GenericViewSet):  # type: ignore[type-arg]
    """Charges the token's rate limit with authentication, before the scope check.

    A refused request still costs budget and still tells the caller where it stands
    (docs/api.md#rate-limits), so the charge cannot wait for DRF's throttle step, which runs after the
    permission check.

    ``query_parameters`` names, per action, the query parameters it reads; any other one
    (``format`` aside) is a 400 naming it, after authentication and the scope check.
    """

    query_parameters: dict[str, tuple[str, ...]] = {}

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # A method this path does not serve is a 405 for everyone, before any token or
        # scope check; DRF would otherwise only notice after the permission check.
        method = str(request.method)
        if method.lower() not in self.http_method_names or not hasattr(self, method.lower()):
            raise MethodNotAllowed(method)
        super().initial(request, *args, **kwargs)
        self._refuse_unknown_query_parameters(request)

    def _refuse_unknown_query_parameters(self, request: Request) -> None:
        """Nothing a client sends is silently ignored: a misspelt filter would list everything."""
        known = self.query_parameters.get(str(self.action), ())
        for name in request.query_params:
            if name not in known and name not in IGNORED_QUERY_PARAMETERS:
                takes = f"this endpoint takes {', '.join(known)}" if known else "this endpoint takes none"
                raise ValidationError({name: [f"unknown query parameter; {takes}"]})

    def perform_authentication(self, request: Request) -> None:
        digest = bearer_digest(request)
        if digest is None:
            # No well-formed token offered: nothing to charge, and authentication reads nothing.
            super().perform_authentication(request)
            return
        # Counted by the credential's digest, the charge goes out before the token's statement
        # and is read after it: one wait for both round trips.
        charge = Charge(digest)
        try:
            super().perform_authentication(request)
        except BaseException as error:
            charge.abandon(forget=isinstance(error, Unauthorized))
            raise
        if isinstance(request.auth, ScopedToken):
            request.rate_limit = charge.settle(request.auth.pk)  # type: ignore[attr-defined]
        else:  # another authenticator's caller, in a view configured with one
            charge.abandon(forget=True)

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        state: RateLimitState | None = getattr(request, "rate_limit", None)
        if state is not None:
            for name, value in state.headers().items():
                response[name] = value
        return response
