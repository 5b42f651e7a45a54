"""Scope checks: each viewset action declares the one scope it needs; anything undeclared is refused."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from serverops.exceptions import MissingScope

from .models import ScopedToken


class HasScope(BasePermission):
    """Grants an action when the token holds the scope in the view's ``required_scopes[action]``.

    Fails closed, as Sentry's ``ScopedPermission`` does: an action with no declared
    scope is refused for every token, so a new action cannot ship unguarded. Runs before
    any object lookup, so a token without the scope learns nothing about which ids exist.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ScopedToken):
            raise NotAuthenticated()
        required_scopes: dict[str, str] = getattr(view, "required_scopes", {})
        scope = required_scopes.get(getattr(view, "action", None) or "")
        if scope is None:
            raise PermissionDenied("no token scope grants this operation")
        if scope not in token.scopes:
            raise MissingScope(scope=scope)
        return True
