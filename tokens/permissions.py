"""Scope checks: each viewset action declares the one scope it needs; anything undeclared is refused."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from serverops.exceptions import MissingScope

from .models import ScopedToken


class HasScope(BasePermission):
    """Grants an action when the token holds the scope in the view's ``required_scopes[action]``
    (or every scope, for a tuple of them).

    Fails closed, as Sentry's ``ScopedPermission`` does: an action with no declared
    scope is refused for every token, so a new action cannot ship unguarded. Runs before
    any object lookup, so a token without the scope learns nothing about which ids exist.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ScopedToken):
            raise NotAuthenticated()
        required_scopes: dict[str, str | tuple[str, ...]] = getattr(view, "required_scopes", {})
        required = required_scopes.get(getattr(view, "action", None) or "")
        if required is None:
            raise PermissionDenied("no token scope grants this operation")
        # Several scopes: all are needed, and the refusal names the first one missing.
        for scope in (required,) if isinstance(required, str) else required:
            if scope not in token.scopes:
                raise MissingScope(scope=scope)
        return True
